"""`iec62379 bench agentx` smoke test: the three walks run and every figure is there.

One walk of each and no assertions on speed (the machine may be busy); docs/benchmarks.md has
the real figures.
"""

from __future__ import annotations

import json
import math
import os

import pytest
from click.testing import CliRunner
from conftest import REPO, require_tool
from iec62379.cli.main import cli

pytestmark = pytest.mark.integration


def test_bench_agentx_smoke() -> None:
    for tool in ("snmpd", "snmpbulkwalk"):
        require_tool(tool)
    cpu = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    result = CliRunner().invoke(cli, ["bench", "agentx", "--config",
                                      str(REPO / "examples" / "static-blocks.toml"),
                                      "--repeat", "1", "--cpus", str(cpu), "--floor",
                                      "--json"])
    assert os.sched_getaffinity(0) == before  # the pinning was undone
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(result.output)
    for name in ("agentx", "floor", "snmpd", "standalone"):
        fig = report[name]
        assert fig["instances"] > 0 and len(fig["walls_s"]) == 1, name
        assert math.isfinite(fig["vbps"]) and fig["vbps"] > 0, name
    assert report["agentx"]["instances"] == report["standalone"]["instances"] == 69
    assert report["floor"]["instances"] == 69 and report["ratios"]["floor_over_snmpd"] > 0
    assert report["snmpd"]["subtree"] == ".1.3.6.1.2.1.25.6.3"
    assert report["target"]["target"] == ">= 0.3" and isinstance(report["target"]["met"], bool)
    assert report["registered_s"] > 0
    # every process of the bench ran on the CPU asked for
    assert report["settings"]["cpus"] == [cpu]
    assert report["environment"]["affinity"] == {
        name: [cpu] for name in ("bench", "snmpd", "subagent", "standalone")}
    assert len(report["environment"]["loadavg"]["before"].split()) == 3
