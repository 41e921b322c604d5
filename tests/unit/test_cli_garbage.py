"""The newer CLI entry points refuse bad arguments with a usage error that names the option,
and start nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from iec62379.cli.main import cli as main


@pytest.mark.parametrize("args,names", [
    (["bench", "ingest", "--streams", "0"], "--streams"),
    (["bench", "ingest", "--streams", "many"], "--streams"),
    (["bench", "ingest", "--rate", "-5"], "--rate"),
    (["bench", "ingest", "--gets", "0"], "--gets"),
    (["bench", "ingest", "--media", "/nonexistent/x.ts"], "--media"),
    (["bench", "live", "--max-rate", "abc"], "--max-rate"),
    (["bench", "live", "--receiver", "theirs"], "--receiver"),
    (["bench", "pcap", "--repeat", "0"], "--repeat"),
    (["bench", "pcap", "/nonexistent/capture.pcap"], "CAPTURE"),
    (["bench", "pcap", "--no-tr101290=yes"], "--no-tr101290"),
    (["bench", "snmp", "--repeat", "0"], "--repeat"),
    (["demo", "--port", "70000"], "--port"),
    (["demo", "--loss", "101"], "--loss"),
    (["demo", "--jitter-ms", "-1"], "--jitter-ms"),
    (["demo", "--duration", "0"], "--duration"),
    (["demo", "--file", "/nonexistent/x.ts"], "--file"),
])
def test_bad_arguments_are_usage_errors(args: list[str], names: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert names in result.output


def test_bench_pcap_of_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-capture.pcap"
    bad.write_bytes(b"this is not a pcap file at all" * 10)
    result = CliRunner().invoke(main, ["bench", "pcap", str(bad), "--repeat", "1"])
    assert result.exit_code == 1, result.output
    assert "Error" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("endpoint", ["udp:127.0.0.1:99999", "udp6:[::1]:65536"])
def test_agent_listen_port_out_of_range(endpoint: str) -> None:
    result = CliRunner().invoke(main, ["agent", "--listen", endpoint])
    assert result.exit_code == 2, result.output
    assert "--listen" in result.output and "out of range (0..65535)" in result.output
