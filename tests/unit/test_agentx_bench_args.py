"""`bench agentx --cpus`: what it accepts, the usage error it gives for anything else (before
starting any process), and that pinning is undone afterwards."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from iec62379.cli.bench.agentx import AgentXSettings, parse_cpus, pinned, run_agentx_bench
from iec62379.cli.bench.snmp import BenchError
from iec62379.cli.main import cli as main

ALLOWED = sorted(os.sched_getaffinity(0))


def test_cpu_lists_as_taskset_takes_them() -> None:
    first = ALLOWED[0]
    assert parse_cpus(str(first)) == (first,)
    assert parse_cpus(f" {first} , {first}") == (first,)
    assert parse_cpus(",".join(map(str, ALLOWED))) == tuple(ALLOWED)
    assert parse_cpus(f"{first}-{first}") == (first,)


@pytest.mark.parametrize("text", ["", "x", "0,", "-1", "1-0", "0-", "0.5", "0;1", "0-99999999",
                                  str(max(ALLOWED) + 1), "\u0660", "\u00b2"])
def test_bad_cpu_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpus(text)
    result = CliRunner().invoke(main, ["bench", "agentx", "--cpus", text])
    assert result.exit_code == 2, result.output
    assert "--cpus" in result.output and "Traceback" not in result.output


def test_settings_with_cpus_the_process_may_not_use_are_refused(tmp_path) -> None:
    conf = tmp_path / "agent.toml"
    conf.write_text("")
    for cpus in ((), (max(ALLOWED) + 1,)):
        with pytest.raises(BenchError, match="cpus"):
            run_agentx_bench(AgentXSettings(config=conf, cpus=cpus))


def test_pinning_is_undone() -> None:
    before = os.sched_getaffinity(0)
    with pinned((ALLOWED[0],)):
        assert os.sched_getaffinity(0) == {ALLOWED[0]}
    assert os.sched_getaffinity(0) == before
    with pytest.raises(RuntimeError), pinned((ALLOWED[-1],)):
        raise RuntimeError("the bench failed")
    assert os.sched_getaffinity(0) == before
    with pinned(None):
        assert os.sched_getaffinity(0) == before


@pytest.mark.parametrize("argv,message", [
    ([], "usage"),
    (["a", "b"], "usage"),
    (["a", "b", "c", "d"], "usage"),
    (["/nonexistent/agent.toml", "/nonexistent/master", "1.0.62379.7.1"], "cannot read"),
    (["CONF", "/nonexistent/master", "x.y"], "dotted OID"),
    (["CONF", "/nonexistent/master", "1"], "dotted OID"),
    (["CONF", "/nonexistent/master", "1.2.-3"], "dotted OID"),
    (["CONF", "/nonexistent/master", "1.99999999999"], "dotted OID"),
    (["CONF", "/nonexistent/master", "1.4294967296"], "32 bits"),
])
def test_the_floor_subagent_refuses_bad_arguments(argv: list[str], message: str,
                                                  tmp_path) -> None:
    from iec62379.cli.bench.agentx_floor import main as floor_main

    conf = tmp_path / "agent.toml"
    conf.write_text("")
    with pytest.raises(SystemExit) as exc:
        floor_main([str(conf) if a == "CONF" else a for a in argv])
    assert message in str(exc.value.code)


def test_the_floor_subagent_without_a_master(tmp_path) -> None:
    from iec62379.cli.bench.agentx_floor import main as floor_main

    conf = tmp_path / "agent.toml"
    conf.write_text("")
    for path in (str(tmp_path / "no-master"), "x" * 200, "bad\0path"):
        with pytest.raises(SystemExit) as exc:
            floor_main([str(conf), path, "1.0.62379.7.1"])
        assert "cannot connect" in str(exc.value.code)


def test_the_floor_subagent_stops_when_the_master_does_not_open(tmp_path) -> None:
    import socket
    import struct

    from iec62379.cli.bench.agentx_floor import serve, session_for

    conf = tmp_path / "agent.toml"
    conf.write_text("")
    refused = struct.pack(">4B4I", 1, 18, 0x10, 0, 0, 0, 1, 8) + struct.pack(">IHH", 0, 256, 0)
    for answer, message in ((refused, "did not open"), (b"", "closed the connection")):
        a, b = socket.socketpair()
        try:
            if answer:
                b.sendall(answer)
            else:
                b.shutdown(socket.SHUT_WR)
            with pytest.raises(SystemExit) as exc:
                serve(a, session_for(str(conf), (1, 0, 62379, 7, 1)))
            assert message in str(exc.value.code)
        finally:
            a.close()
            b.close()
