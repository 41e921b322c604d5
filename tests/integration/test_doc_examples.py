"""Every shell and Python example of the README and docs runs as typed, against a live agent.

The blocks are read from the files themselves (tests/integration/doc_examples.py says how, and
which HTML comment marks a block as not run), so the docs cannot drift from what works. They
run in a network namespace of their own (`unshare -n`, root), so the documented 127.0.0.1:1161
is free whatever else runs on the machine; HOME is a temporary folder that holds only the base
MIB sources' cache (`iec62379 mib fetch-base`, as `.ci/setup` leaves it), and Debian's
/etc/snmp/snmp.conf (`mibs :`) applies as on a stock machine.

docs/architecture.md and docs/benchmarks.md are not covered (the walk-through and the benchmark
commands are not examples to run here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from doc_examples import extract
from iec62379.mibs import paths

pytestmark = pytest.mark.integration

DOCS = [REPO / "README.md"] + [
    REPO / "docs" / n for n in ("configuration.md", "embedding.md", "mib.md", "prometheus.md")
    if (REPO / "docs" / n).is_file()
]
RUNNER = Path(__file__).with_name("doc_examples.py")


def test_every_block_is_run_or_marked():
    kinds = {}
    for f in DOCS:
        for b in extract(f):
            kinds.setdefault(b.kind, 0)
            kinds[b.kind] += 1
            if b.kind == "skip":
                assert b.reason, f"{b.file}:{b.line}: a skipped block says why"
    assert kinds.get("shell", 0) >= 5 and kinds.get("python", 0) >= 2, kinds


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    require_tool("snmpget")
    unshare = require_tool("unshare")
    if os.geteuid() != 0:
        pytest.fail("the doc examples run in a network namespace of their own: run as root")
    home = tmp_path_factory.mktemp("doc-home")
    cache = paths.base_source_cache()
    assert cache.is_dir(), "run `iec62379 mib fetch-base` (.ci/setup does)"
    (home / ".cache" / "iec62379").mkdir(parents=True)
    shutil.copytree(cache, home / ".cache" / "iec62379" / "mibs")
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".state"))
    for k in ("IEC62379_CACHE", "IEC62379_MIB_DIRS", "MIBS", "MIBDIRS", "SNMPCONFPATH"):
        env.pop(k, None)
    before = _checkout_status()
    r = subprocess.run(
        [unshare, "-n", sys.executable, str(RUNNER), *map(str, DOCS)],
        env=env, capture_output=True, text=True, timeout=1500,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    out.append({"left": sorted(_checkout_status() - before)})
    return out


def _checkout_status() -> set[str]:
    """What git sees in the checkout, ignored files included (not the caches Python makes)."""
    r = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO,
                       capture_output=True, text=True, check=True)
    return {ln for ln in r.stdout.splitlines() if "__pycache__" not in ln}


def test_docs_examples_run_as_typed(results: list[dict]):
    blocks = [r for r in results if "kind" in r]
    assert {r["kind"] for r in blocks} >= {"shell", "background", "python"}
    failed = [
        f"{r['file']}:{r['line']} ({r['kind']}):\n{r['text']}---\n{r['output']}"
        for r in blocks if not r["ok"]
    ]
    assert not failed, "\n\n".join(failed)


def test_the_examples_left_nothing_in_the_checkout(results: list[dict]):
    """No state folder or exported file in the working tree (e.g. .state/ in the cwd)."""
    assert results[-1]["left"] == []
