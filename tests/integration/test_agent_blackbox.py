"""The agent as a process, polled by net-snmp's own clients over v1, v2c and v3, IPv4 and IPv6."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.mibs import paths
from procs import popen

pytestmark = pytest.mark.integration

V3_SUP = ["-v3", "-l", "authPriv", "-u", "supervisor", "-a", "SHA-256", "-A", "example-auth-key",
          "-x", "AES", "-X", "example-priv-key"]
V3_MON = ["-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA", "-A", "example-monitor-auth",
          "-x", "AES", "-X", "example-monitor-priv"]
V2 = ["-v2c", "-c", "public"]
MIB = "IEC62379-7-MEASUREMENT-MIB"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snmp_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MIBDIRS"] = f"{paths.source_dir()}:{paths.base_source_cache()}"
    env["MIBS"] = f"{MIB}:IEC62379-MEDIA-FORMATS-MIB:SNMPv2-MIB:IF-MIB"
    return env


def snmp(
    tool: str, *args: str, check: bool = True, timeout: float = 20
) -> subprocess.CompletedProcess:
    exe = require_tool(tool)
    proc = subprocess.run([exe, "-t", "2", "-r", "1", *args], capture_output=True, text=True,
                          env=snmp_env(), timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


class AgentProcess:
    def __init__(
        self, state_dir: Path, config: Path = REPO / "examples" / "static-blocks.toml"
    ) -> None:
        self.port = free_port()
        self.state_dir = state_dir
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.log = ""

    @property
    def v4(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def v6(self) -> str:
        return f"udp6:[::1]:{self.port}"

    def start(self) -> None:
        self.proc = popen(
            [sys.executable, "-m", "iec62379.cli.main", "agent", "--config", str(self.config),
             "--listen", f"udp:127.0.0.1:{self.port}", "--listen", f"udp6:[::1]:{self.port}",
             "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving" in line:
                self.log = "".join(lines)
                return
        self.stop()
        pytest.fail("agent did not start:\n" + "".join(lines))

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        self.log += rest or ""
        self.proc.stdout.close()
        rc = self.proc.returncode
        self.proc = None
        return rc


@pytest.fixture()
def agent(tmp_path: Path):
    a = AgentProcess(tmp_path / "state")
    a.start()
    yield a
    a.stop()


def test_start_log_line_says_what_is_served_where(agent):
    assert re.search(r"serving 3 network, 2 audio, 1 video, 1 rx, 2 temperature rows on "
                     r"udp:127\.0\.0\.1:\d+, udp6:\[::1\]:\d+", agent.log), agent.log
    assert "example_only" in agent.log


@pytest.mark.parametrize("table,columns", [
    ("nMtBlockTable", ["nMtIfIndex", "nMtTxRxPoint", "nMtNetworkType", "nMtTransportType",
                       "nMtTxRxAddr", "nMtPortNumber", "nMtIGMPVersion", "nMtSIPServerAddr"]),
    ("aMtBlockTable", ["aMtNetworkBlockId", "aMtAudioStatus", "aMtAudioSignalFormat",
                       "aMtAudioPId", "aMtIfIndex", "aMtFECType", "aMtFECLengthDimension"]),
    ("vMtBlockTable", ["vMtAudioBlockId", "vMtNetworkBlockId", "vMtVideoStatus",
                       "vMtVideoSourceFormat", "vMtVideoCodingType", "vMtVideoBitRateType",
                       "vMtVideoBitRate", "vMtAspectRatio", "vMtFECType", "vMtFECLengthDimension",
                       "vMtTrickModeSupport"]),
    ("rxPointTable", ["rxPointNetworkBlockId", "rxPointBufferSize", "rxPointBufferOcpancyTime",
                      "rxPointBufferOcpncyPcnt", "rxPointMDI", "rxPointTSDF"]),
    ("temperatureTable", ["temperatureLocation", "temperatureTrend", "temperatureStatus",
                          "temperatureLowWarning", "temperatureHighWarning",
                          "temperatureLowCritical", "temperatureHighCritical"]),
])
@pytest.mark.parametrize("version", ["v2c-ipv4", "v3-ipv6"])
def test_snmptable_shows_named_columns(agent, table, columns, version):
    creds, target = (V2, agent.v4) if version == "v2c-ipv4" else (V3_MON, agent.v6)
    out = snmp("snmptable", *creds, "-Cf", "|", "-Ci", target, f"{MIB}::{table}").stdout
    header = next(ln for ln in out.splitlines() if "|" in ln)
    assert header.split("|") == ["index", *columns]
    rows = [ln for ln in out.splitlines() if "|" in ln][1:]
    assert rows, out


def test_values_and_rules_as_a_manager_sees_them(agent):
    out = snmp("snmptable", *V2, "-Cf", "|", agent.v4, f"{MIB}::nMtBlockTable").stdout
    assert "|asi|notApplicable|\"\"|0|0|\"\"" in out  # the asi(3) rules
    out = snmp("snmpget", *V2, "-Oqv", agent.v4, f"{MIB}::aMtAudioSignalFormat.2.2",
               f"{MIB}::aMtAudioSignalFormat.2.1", f"{MIB}::rxPointMDI.4",
               f"{MIB}::temperatureTrend.5.2", f"{MIB}::temperatureStatus.5.2").stdout.split()
    assert out == ["IEC62379-MEDIA-FORMATS-MIB::noAudio", "IEC62379-MEDIA-FORMATS-MIB::audioMpeg1",
                   "4.25:0.00", "0", "degrees", "Celsius", "warning"]


def test_getnext_bulkwalk_walk_agree_over_v1_v2c_v3(agent):
    walk = snmp("snmpwalk", *V2, "-On", agent.v4, ".1.0.62379.7.1").stdout.splitlines()
    bulk = snmp("snmpbulkwalk", *V2, "-Cr50", "-On", agent.v4, ".1.0.62379.7.1").stdout.splitlines()
    v3 = snmp("snmpbulkwalk", *V3_MON, "-On", agent.v6, ".1.0.62379.7.1").stdout.splitlines()
    v1 = snmp("snmpwalk", "-v1", "-c", "public", "-On", agent.v4,
              ".1.0.62379.7.1").stdout.splitlines()
    assert walk == bulk == v3 == v1 and len(walk) == 3 * 8 + 2 * 7 + 11 + 6 + 2 * 7
    nxt = snmp("snmpgetnext", *V2, "-On", agent.v4, ".1.0.62379.7.1.1.1.1.2.1").stdout
    assert nxt.startswith(".1.0.62379.7.1.1.1.1.2.6 = INTEGER: 1")


def test_system_group_and_iftable_resolve_ifindex(agent):
    out = snmp("snmpget", *V2, "-Oqv", agent.v4, "SNMPv2-MIB::sysName.0",
               "SNMPv2-MIB::sysLocation.0").stdout
    assert out.split("\n")[:2] == ["decoder-1", "Studio A, rack 3"]
    lo = socket.if_nametoindex("lo")
    ifindex = snmp("snmpget", *V2, "-Oqv", agent.v4, f"{MIB}::nMtIfIndex.1").stdout.strip()
    assert ifindex == str(lo)
    assert snmp("snmpget", *V2, "-Oqv", agent.v4, f"IF-MIB::ifDescr.{lo}").stdout.strip() == "lo"
    assert snmp("snmpget", *V2, "-Oqv", agent.v4, f"IF-MIB::ifName.{lo}").stdout.strip() == "lo"


def set_error(agent, creds, *args) -> str:
    # -Ir: the client must not refuse what it believes wrong; the agent is under test.
    proc = snmp("snmpset", "-Ir", *creds, agent.v4, *args, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


def current(agent) -> str:
    return snmp("snmpwalk", *V2, "-On", agent.v4, ".1.0.62379.7.1.1").stdout


@pytest.mark.parametrize("args,status", [
    ((".1.0.62379.7.1.1.1.1.2.1", "i", "5"), "notWritable"),
    ((".1.0.62379.7.1.1.1.1.3.1", "s", "yes"), "wrongType"),
    ((".1.0.62379.7.1.1.1.1.3.1", "i", "3"), "wrongValue"),
    ((".1.0.62379.7.1.1.1.1.9.1", "x", "010203"), "wrongLength"),
    ((".1.0.62379.7.1.1.1.1.9.1", "x", "00000000000000000000000000000001"), "inconsistentValue"),
    ((".1.0.62379.7.1.1.1.1.9.7", "x", "0a000001"), "inconsistentValue"),
    ((".1.0.62379.7.1.1.1.1.9.99", "x", "0a000001"), "noCreation"),
    ((".1.0.62379.7.1.1.1.1.9.1", "x", "0a000001", ".1.0.62379.7.1.1.1.1.3.1", "i", "7"),
     "wrongValue"),
])
def test_set_error_statuses_leave_state_unchanged(agent, args, status):
    before = current(agent)
    out = set_error(agent, V3_SUP, *args)
    assert status in out, out
    assert current(agent) == before


def test_supervisor_cannot_write_outside_the_measurement_tree(agent):
    assert "noAccess" in set_error(agent, V3_SUP, "SNMPv2-MIB::sysName.0", "s", "x")


def test_read_only_principals_cannot_write(agent):
    before = current(agent)
    assert "noAccess" in set_error(agent, V2, ".1.0.62379.7.1.1.1.1.9.1", "x", "0a000001")
    assert "noAccess" in set_error(agent, V3_MON, ".1.0.62379.7.1.1.1.1.9.1", "x", "0a000001")
    assert current(agent) == before


def test_set_is_kept_across_a_restart_and_txrx_true_creates_rx_row(agent):
    snmp("snmpset", *V3_SUP, agent.v4, ".1.0.62379.7.1.1.1.1.9.1", "x", "0a000001",
         ".1.0.62379.7.1.1.1.1.3.6", "i", "1")
    out = snmp("snmptable", *V2, "-Cf", "|", "-Ci", agent.v4, f"{MIB}::rxPointTable").stdout
    assert re.search(r"^\d+\|6\|", out, re.M), out
    assert agent.stop() == 0
    agent.start()
    out = snmp("snmpget", *V2, "-On", agent.v4, ".1.0.62379.7.1.1.1.1.9.1",
               ".1.0.62379.7.1.1.1.1.3.6").stdout
    assert "Hex-STRING: 0A 00 00 01" in out and "INTEGER: true(1)" in out


def test_wrong_v3_keys_are_rejected_and_counted(agent):
    def wrong_digests() -> int:
        out = snmp("snmpget", *V3_MON, "-Oqv", agent.v4, ".1.3.6.1.6.3.15.1.1.5.0").stdout
        return int(out.strip())

    before = wrong_digests()
    bad = ["-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA", "-A", "wrong-password",
           "-x", "AES", "-X", "example-monitor-priv"]
    proc = snmp("snmpget", *bad, agent.v4, "SNMPv2-MIB::sysName.0", check=False)
    assert proc.returncode != 0 and "Authentication failure" in proc.stderr, proc.stderr
    assert wrong_digests() >= before + 1
    proc = snmp("snmpget", "-v3", "-l", "authPriv", "-u", "nobody", "-a", "SHA", "-A", "whatever1",
                "-x", "AES", "-X", "whatever1", agent.v4, "SNMPv2-MIB::sysName.0", check=False)
    assert proc.returncode != 0 and "Unknown user name" in proc.stderr, proc.stderr


def test_unknown_community_gets_no_answer(agent):
    proc = snmp("snmpget", "-v2c", "-c", "private", agent.v4, "SNMPv2-MIB::sysName.0", check=False)
    assert proc.returncode != 0 and "Timeout" in proc.stderr


def test_sigterm_stops_cleanly(agent):
    assert agent.stop() == 0
    assert "stopped" in agent.log


def test_bad_config_refused_at_start(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[network]]\nid = 1\nport = 70000\n")
    proc = subprocess.run(
        [sys.executable, "-m", "iec62379.cli.main", "agent", "--config", str(bad)],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"{bad}: network[0].port: expected an integer in 0..65535, found 70000" in proc.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "iec62379.cli.main", "agent", "--listen",
                               f"udp:127.0.0.1:{port}", "--state-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"cannot listen on udp:127.0.0.1:{port}" in proc.stderr


def _default_agent(port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = popen([sys.executable, "-m", "iec62379.cli.main", "agent", "--listen",
                  f"udp:127.0.0.1:{port}"], stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or "serving" in line:
            break
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    proc.stdout.close()


def test_embedded_default_keeps_engine_id_and_boots(tmp_path: Path):
    """With no config and no --state-dir, the engine ID and boots live in $XDG_STATE_HOME."""
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path))
    seen = []
    for _ in range(2):
        port = free_port()
        proc = _default_agent(port, env)
        try:
            where = f"127.0.0.1:{port}"
            engine_id = snmp("snmpget", *V2, "-Oqvx", where, ".1.3.6.1.6.3.10.2.1.1.0").stdout
            boots = snmp("snmpget", *V2, "-Oqv", where, ".1.3.6.1.6.3.10.2.1.2.0").stdout
            seen.append((engine_id.strip(), boots.strip()))
        finally:
            _stop(proc)
    assert seen[0][0] == seen[1][0]  # the same engine ID
    assert int(seen[1][1]) == int(seen[0][1]) + 1
    assert (tmp_path / "iec62379" / "default" / "engine.json").is_file()


def test_without_v3_users_v3_is_not_served_and_counted(tmp_path: Path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path))
    port = free_port()
    proc = _default_agent(port, env)
    try:
        v3 = snmp("snmpget", *V3_MON, f"127.0.0.1:{port}", "SNMPv2-MIB::sysName.0", check=False)
        assert v3.returncode != 0
        out = snmp("snmpget", *V2, "-Oqv", f"127.0.0.1:{port}",
                   "SNMPv2-MIB::snmpInBadVersions.0").stdout
        assert int(out) >= 1
    finally:
        _stop(proc)
