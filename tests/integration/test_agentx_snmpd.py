"""The agent as an AgentX subagent of net-snmp's real snmpd, polled by net-snmp's clients through
snmpd over v2c and v3, compared with the standalone agent on the same configuration."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.cli.bench.agentx import Master, agent_argv, snmpd_master
from test_agent_blackbox import MIB, V2, V3_MON, V3_SUP, AgentProcess, snmp

pytestmark = pytest.mark.integration

CONFIG = REPO / "examples" / "static-blocks.toml"
TREE = ".1.0.62379.7.1"
RW = ["-v2c", "-c", "private"]
TABLES = ("nMtBlockTable", "aMtBlockTable", "vMtBlockTable", "rxPointTable", "temperatureTable")


class Subagent(AgentProcess):
    """`iec62379 agent --agentx` as a process (stopped as the standalone agent's process is)."""

    def __init__(self, master: Master, state_dir: Path) -> None:
        super().__init__(state_dir, CONFIG)
        self.master = master

    def start(self) -> None:
        self.proc = subprocess.Popen(
            agent_argv(CONFIG, self.state_dir, "--agentx", self.master.address),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(200):
            line = self.proc.stdout.readline()
            self.log += line
            if not line or "serving" in line:
                break
        assert "serving" in self.log, self.log
        wait_registered(self.master.port)


def wait_registered(port: int, timeout_s: float = 15.0) -> None:
    """Bounded wait until snmpd answers for our tree (the subagent has registered)."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = snmp("snmpget", *V2, "-On", f"127.0.0.1:{port}", f"{TREE}.1.1.1.2.1",
                   check=False, timeout=10)
        if out.returncode == 0 and "INTEGER" in out.stdout:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the subagent did not register within {timeout_s} s: {out.stdout}")
        time.sleep(0.1)


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[tuple[Master, Subagent, AgentProcess]]:
    require_tool("snmpd")
    with ExitStack() as stack:
        master = stack.enter_context(snmpd_master(tmp_path / "snmpd"))
        sub = Subagent(master, tmp_path / "sub-state")
        stack.callback(sub.stop)
        sub.start()
        alone = AgentProcess(tmp_path / "alone-state", CONFIG)
        stack.callback(alone.stop)
        alone.start()
        yield master, sub, alone


def through(master: Master) -> str:
    return f"127.0.0.1:{master.port}"


def test_no_snmp_port_of_its_own_and_the_log_says_where(setup):
    _master, sub, _alone = setup
    assert re.search(r"serving 3 network, 2 audio, 1 video, 1 rx, 2 temperature rows through "
                     r"the AgentX master at unix:\S+/master", sub.log), sub.log
    out = subprocess.run(["ss", "-lunp"], capture_output=True, text=True).stdout
    assert f"pid={sub.proc.pid}," not in out
    assert sub.stop() == 0
    assert "registered 1.0.62379.7.1" in sub.log and "stopped" in sub.log


@pytest.mark.parametrize("tool,creds", [
    ("snmpwalk", V2), ("snmpbulkwalk", V2), ("snmpwalk", V3_MON), ("snmpbulkwalk", V3_SUP)])
def test_walks_match_the_standalone_agent(setup, tool, creds):
    master, _sub, alone = setup
    ours = snmp(tool, *creds, "-On", through(master), TREE).stdout
    ref = snmp(tool, *creds, "-On", alone.v4, TREE).stdout
    assert ours == ref and len(ours.splitlines()) == 3 * 8 + 2 * 7 + 11 + 6 + 2 * 7


@pytest.mark.parametrize("creds", [V2, V3_MON], ids=["v2c", "v3"])
def test_tables_and_gets_match_the_standalone_agent(setup, creds):
    master, _sub, alone = setup
    for table in TABLES:
        ours = snmp("snmptable", *creds, "-Cf", "|", "-Ci", through(master), f"{MIB}::{table}")
        assert ours.stdout == snmp("snmptable", *creds, "-Cf", "|", "-Ci", alone.v4,
                                   f"{MIB}::{table}").stdout
        assert "|" in ours.stdout
    names = [f"{MIB}::aMtAudioSignalFormat.2.2", f"{MIB}::rxPointMDI.4", f"{MIB}::nMtIfIndex.1",
             f"{MIB}::temperatureStatus.5.2", f"{MIB}::nMtIfIndex.99", f"{TREE}.9"]
    ours = snmp("snmpget", *creds, through(master), *names, check=False).stdout
    assert ours == snmp("snmpget", *creds, alone.v4, *names, check=False).stdout
    assert "No Such Instance" in ours and "No Such Object" in ours


def current(master: Master) -> str:
    return snmp("snmpwalk", *V2, "-On", through(master), f"{TREE}.1.1").stdout


@pytest.mark.parametrize("args,status", [
    ((f"{TREE}.1.1.1.2.1", "i", "5"), "notWritable"),
    ((f"{TREE}.1.1.1.3.1", "s", "yes"), "wrongType"),
    ((f"{TREE}.1.1.1.3.1", "i", "3"), "wrongValue"),
    ((f"{TREE}.1.1.1.9.1", "x", "010203"), "wrongLength"),
    ((f"{TREE}.1.1.1.9.1", "x", "00000000000000000000000000000001"), "inconsistentValue"),
    ((f"{TREE}.1.1.1.9.7", "x", "0a000001"), "inconsistentValue"),
    ((f"{TREE}.1.1.1.9.99", "x", "0a000001"), "noCreation"),
    ((f"{TREE}.1.1.1.9.1", "x", "0a000001", f"{TREE}.1.1.1.3.1", "i", "7"), "wrongValue"),
])
@pytest.mark.parametrize("creds", [RW, V3_SUP], ids=["v2c", "v3"])
def test_set_error_statuses_leave_state_unchanged(setup, args, status, creds):
    master, _sub, alone = setup
    before = current(master)
    # The standalone agent has no writing community: it is asked over v3.
    for target, who in ((through(master), creds), (alone.v4, V3_SUP)):
        proc = snmp("snmpset", "-Ir", *who, target, *args, check=False)
        assert proc.returncode != 0 and status in proc.stdout + proc.stderr, (target, proc)
    assert current(master) == before


def test_read_only_principals_cannot_write(setup):
    master, _sub, _alone = setup
    before = current(master)
    for creds in (V2, V3_MON):
        proc = snmp("snmpset", *creds, through(master), f"{TREE}.1.1.1.9.1", "x", "0a000001",
                    check=False)
        assert proc.returncode != 0 and "noAccess" in proc.stdout + proc.stderr, proc
    assert current(master) == before


def test_set_all_or_nothing_persisted_across_a_subagent_restart(setup):
    master, sub, _alone = setup
    snmp("snmpset", *V3_SUP, through(master), f"{TREE}.1.1.1.9.1", "x", "0a000001",
         f"{TREE}.1.1.1.3.6", "i", "1")
    out = snmp("snmptable", *V2, "-Cf", "|", "-Ci", through(master), f"{MIB}::rxPointTable")
    assert re.search(r"^\d+\|6\|", out.stdout, re.M), out.stdout  # txrx true made an rx row
    assert sub.stop() == 0
    assert "closed the session (reason 5" in sub.log  # reasonShutdown
    sub.start()
    out = snmp("snmpget", *V2, "-On", through(master), f"{TREE}.1.1.1.9.1", f"{TREE}.1.1.1.3.6")
    assert "Hex-STRING: 0A 00 00 01" in out.stdout and "INTEGER: true(1)" in out.stdout


def test_snmpd_restarted_the_subagent_registers_again(setup, tmp_path: Path):
    master, sub, alone = setup
    before = snmp("snmpbulkwalk", *V2, "-On", through(master), TREE).stdout
    master.proc.send_signal(signal.SIGTERM)
    master.proc.wait(10)
    port = master.port
    with snmpd_master(tmp_path / "snmpd", port=port) as again:
        t0 = time.monotonic()
        wait_registered(again.port, timeout_s=10.0)
        assert time.monotonic() - t0 < 10.0
        assert snmp("snmpbulkwalk", *V2, "-On", through(again), TREE).stdout == before
        assert sub.proc.poll() is None
    out = snmp("snmpwalk", *V2, "-On", alone.v4, TREE).stdout
    assert out == before
