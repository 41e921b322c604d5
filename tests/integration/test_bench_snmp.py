"""`iec62379 bench snmp` smoke test: both agents start, answer and stop; every figure is there.

Tiny counts and no assertions on speed (the machine may be busy); docs/benchmarks.md has the
real figures.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from conftest import REPO, require_tool
from iec62379.agent import ber
from iec62379.cli.bench.snmp import GetPacket, parse_response
from iec62379.cli.main import cli

pytestmark = pytest.mark.integration

FIGURES = (
    "instances",
    "start_s",
    "bulkwalk_vbps",
    "walk_vbps",
    "get_p50_ms",
    "get_p99_ms",
    "get_mean_ms",
    "gets",
    "rss_mib",
    "hwm_mib",
    "v3_bulkwalk_vbps",
    "v3_walk_vbps",
    "v3_get_p50_ms",
    "v3_get_p99_ms",
)


def test_get_packet_round_trip() -> None:
    pkt = GetPacket("public", ".1.0.62379.7.1.1.1.2.55").packet(0x01020304)
    assert pkt[:2] == b"\x30" + bytes([len(pkt) - 2])
    assert b"\x02\x04\x01\x02\x03\x04" in pkt  # the patched request-id
    req = ber.decode_message(pkt)
    assert (req.version, req.community, req.pdu_type) == (1, b"public", ber.GET)
    assert req.varbinds == [((1, 0, 62379, 7, 1, 1, 1, 2, 55), ber.NULL, None)]
    resp = ber.encode_response(1, b"public", req.request_id, 0, 0, [
        ber.varbind(ber.encode_oid(req.varbinds[0][0]), ber.encode_value(ber.INTEGER, 7))])
    assert parse_response(resp) == (0x01020304, 0, 0x02)
    with pytest.raises(ValueError, match="not a Response"):
        parse_response(pkt)


def test_bench_snmp_smoke() -> None:
    for tool in ("snmpd", "snmpwalk", "snmpbulkwalk"):
        require_tool(tool)
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "snmp",
            "--config",
            str(REPO / "examples" / "scale-100.toml"),
            "--repeat",
            "1",
            "--gets",
            "20",
            "--warmup-gets",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(result.output)
    for name in ("ours", "snmpd"):
        fig = report[name]
        for key in FIGURES:
            assert isinstance(fig[key], int | float) and math.isfinite(fig[key]) and fig[key] > 0, (
                name,
                key,
            )
        assert len(fig["bulkwalk_s"]) == len(fig["walk_s"]) == 1
    assert report["ours"]["subtree"] == ".1.0.62379.7.1"
    assert report["ours"]["instances"] > 1000  # the 100-stream unit
    assert report["ours"]["reported_start_ms"] > 0
    assert all(v > 0 for v in report["ratios"].values())
    assert {t["key"] for t in report["targets"]} == {
        "bulkwalk_ratio",
        "walk_ratio",
        "get_p50_ms",
        "start_s",
        "rss_mib",
        "v3_bulkwalk_vs_v2c",
        "v3_bulkwalk_ratio",
    }
    assert all(t["value"] > 0 and isinstance(t["met"], bool) for t in report["targets"])
