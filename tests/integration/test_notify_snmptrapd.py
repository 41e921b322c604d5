"""[[notify]] end to end, with net-snmp's snmptrapd as the receiver (started here on loopback,
logging what it receives, our MIBs loaded): a v2c trap, a v3 authPriv trap and a v3 INFORM
arrive and decode by name; coldStart first; sequence numbers 1, 2, 3 ...; the rate limit; a
target name that does not resolve does not delay the start."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.agent import ber
from iec62379.agent.config import parse_config
from iec62379.agent.runner import Agent
from iec62379.mibs import paths
from iec62379.mibs.vocabulary import Severity
from procs import popen, stop

pytestmark = pytest.mark.integration

ENGINE_ID = "80007ed905010203040506070809"
USER = "trapper"
AUTH_KEY, PRIV_KEY = "notify-auth-key", "notify-priv-key"
TRAPD_ENGINE_ID = "80007ed9050a0b0c0d0e0f"
#: A notification of our own for the tests (an OID under the documentation enterprise).
TEST_TRAP = (1, 3, 6, 1, 4, 1, 32473, 99, 0, 1)
SEQ_NAME = "IEC62379-EXT-MIB::extNotifySequence.0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One notification as snmptrapd logged it: its PDU kind and its varbinds by name."""

    kind: str
    varbinds: dict[str, str]
    security: str = ""

    @property
    def trap_oid(self) -> str:
        return self.varbinds.get("SNMPv2-MIB::snmpTrapOID.0", "")

    @property
    def seq(self) -> int:
        return int(self.varbinds[SEQ_NAME].split()[-1])


class Trapd:
    """snmptrapd on 127.0.0.1:`port`, its log in `folder`; one line per notification:
    `NOTE|<PDU type, version, security>|<name> = <value>` with the varbinds separated by the
    four characters `\\002` (snmptrapd writes the separator of %V escaped)."""

    def __init__(self, folder: Path, port: int | None = None, listen: str = "udp:127.0.0.1"
                 ) -> None:
        self.folder, self.listen = folder, listen
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log = folder / "traps.log"
        self.proc: subprocess.Popen | None = None
        (folder / "snmptrapd.conf").write_text(
            "authCommunity log traps\n"
            f"createUser -e 0x{ENGINE_ID} {USER} SHA-256 {AUTH_KEY} AES {PRIV_KEY}\n"
            f"createUser {USER} SHA-256 {AUTH_KEY} AES {PRIV_KEY}\n"
            f"authUser log {USER} priv\n"
            "format2 NOTE|%P|%V\\002%v\\n\n"
        )
        (folder / "persist").mkdir(exist_ok=True)
        (folder / "persist" / "snmptrapd.conf").write_text(
            f"oldEngineID 0x{TRAPD_ENGINE_ID}\n")

    def start(self) -> None:
        exe = require_tool("snmptrapd")
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(self.folder / "persist"),
                   MIBDIRS=f"{paths.source_dir()}:{paths.base_source_cache()}",
                   MIBS="ALL")
        self.proc = popen([exe, "-f", "-C", "-c", str(self.folder / "snmptrapd.conf"),
                           "-Lf", str(self.log), "-OS",
                           f"{self.listen}:{self.port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.log.exists() and "NET-SNMP version" in self.log.read_text(errors="replace"):
                return
            assert self.proc.poll() is None, self.log.read_text(errors="replace") \
                if self.log.exists() else "snmptrapd exited"
            time.sleep(0.05)
        raise AssertionError("snmptrapd did not start")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def received(self) -> list[Received]:
        if not self.log.exists():
            return []
        out = []
        for record in self.log.read_text(errors="replace").split("NOTE|")[1:]:
            line = record.split("\n")[0]  # snmptrapd's own messages may follow
            security, _, varbinds = line.partition("|")
            vbs = {}
            for vb in varbinds.split("\\002"):  # as snmptrapd writes it
                name, _, value = vb.partition(" = ")
                vbs[name.strip()] = value.strip()
            out.append(Received(security.split(",")[0].strip(), vbs, security))
        return out

    def wait_for(self, count: int, timeout_s: float = 30, what: str = "notifications",
                 cold: bool = False) -> list[Received]:
        """At least `count` notifications (other than coldStart, unless `cold`) within
        `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = [r for r in self.received() if cold or not r.trap_oid.endswith("coldStart")]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{what}: {count} expected, got {self.received()}")


@contextmanager
def trapd(folder: Path, port: int | None = None, listen: str = "udp:127.0.0.1"
          ) -> Iterator[Trapd]:
    t = Trapd(folder, port, listen)
    try:
        t.start()
        yield t
    finally:
        t.stop()


def agent_config(tmp_path: Path, notify: str, extra: str = "") -> str:
    return (f"[agent]\nlisten = ['udp:127.0.0.1:{free_port()}']\nengine_id = '{ENGINE_ID}'\n"
            f"state_dir = '{tmp_path / 'state'}'\n{extra}\n"
            f"[[access.user]]\nname = '{USER}'\nauth_protocol = 'sha256'\n"
            f"auth_key = '{AUTH_KEY}'\npriv_protocol = 'aes128'\npriv_key = '{PRIV_KEY}'\n"
            + notify)


@contextmanager
def running_agent(text: str) -> Iterator[Agent]:
    agent = Agent(parse_config(text, "notify-test.toml"))
    agent.start_in_thread()
    try:
        yield agent
    finally:
        agent.stop_thread()


def submit(agent: Agent, n: int, alarm_id: int | None = None) -> None:
    for i in range(n):
        agent.notify(TEST_TRAP, [((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.OCTET_STRING, f"n{i}".encode())],
                     severity=Severity.MAJOR, alarm_id=alarm_id, name="test")


@pytest.mark.parametrize("how", ["community = 'traps'", f"user = '{USER}'"],
                         ids=["v2c", "v3-authPriv"])
@pytest.mark.parametrize("kind", ["trap", "inform"])
def test_notifications_arrive_and_decode_with_our_mib(tmp_path: Path, how: str, kind: str):
    with trapd(tmp_path / "trapd") as t:
        notify = f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\nkind = '{kind}'\n{how}\n"
        with running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 3)
            got = t.wait_for(3)
    cold = [r for r in t.received() if r.trap_oid.endswith("coldStart")]
    assert len(cold) == 1 and cold[0].seq == 1
    assert [r.seq for r in got] == [2, 3, 4]
    pdu = "TRAP2" if kind == "trap" else "INFORM"
    assert {r.kind for r in t.received()} == {pdu}, t.received()
    for i, r in enumerate(got):
        assert r.trap_oid.endswith("::iec62379FormatsArc.99.0.1"), r
        assert r.varbinds["SNMPv2-MIB::sysName.0"] == f"STRING: n{i}"
        assert r.varbinds["SNMPv2-MIB::sysUpTime.0"].startswith("Timeticks: ")
        assert list(r.varbinds)[-1] == SEQ_NAME
        if "user" in how:
            assert f"SNMP v3, user {USER}" in r.security, r.security
        else:
            assert "SNMP v2c, community traps" in r.security, r.security


def test_heartbeat_supervises_the_path_and_min_severity_filters(tmp_path: Path):
    with trapd(tmp_path / "trapd") as t:
        notify = (f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\ncommunity = 'traps'\n"
                  "heartbeat_s = 1\nmin_severity = 'critical'\n")
        with running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 3)  # major: below the target's min_severity
            agent.notify(TEST_TRAP, severity=Severity.CRITICAL, name="critical")
            got = t.wait_for(3)
    names = [r.trap_oid.split("::")[-1] for r in got]
    assert names.count("iec62379FormatsArc.99.0.1") == 1  # the critical one; no major
    assert names.count("extHeartbeat") >= 2 and len(names) == names.count("extHeartbeat") + 1
    assert [r.seq for r in t.received()][:4] == [1, 2, 3, 4]


def test_snmp_enable_authen_traps_is_served_as_configured(tmp_path: Path):
    for enabled, value in ((True, 1), (False, 2)):
        text = agent_config(tmp_path, "[[access.community]]\nname = 'public'\n",
                            extra=f"enable_authen_traps = {str(enabled).lower()}")
        with running_agent(text) as agent:
            port = agent.endpoints[0].port
            out = subprocess.run(
                [require_tool("snmpget"), "-v2c", "-c", "public", "-On", "-Oqv",
                 f"127.0.0.1:{port}", "1.3.6.1.2.1.11.30.0"],
                capture_output=True, text=True, timeout=20)
        assert out.stdout.strip() == str(value), out


def test_targets_work_in_agentx_mode_without_a_master(tmp_path: Path):
    """AgentX mode: the master (absent here) would get every notification through the
    session; the [[notify]] targets still get theirs, v3 traps with the agent's own engine."""
    with trapd(tmp_path / "trapd") as t:
        notify = f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\nuser = '{USER}'\n"
        text = agent_config(tmp_path, notify,
                            extra=f"agentx = 'unix:{tmp_path / 'no-master'}'")
        with running_agent(text) as agent:
            submit(agent, 2)
            got = t.wait_for(2)
            assert len(agent.agentx.queue) >= 2  # waiting for the master, as before
    assert [r.seq for r in t.received()] == [1, 2, 3]
    assert t.received()[0].trap_oid.endswith("coldStart")
    assert all(f"SNMP v3, user {USER}" in r.security for r in got)


def test_an_inform_the_receiver_refuses_stays_queued_and_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    with trapd(tmp_path / "trapd") as t:
        notify = (f"[[access.user]]\nname = 'stranger'\nauth_key = 'unknown-there'\n"
                  f"priv_key = 'unknown-there'\n"
                  f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\nkind = 'inform'\n"
                  "user = 'stranger'\ntimeout_s = 0.2\nmax_interval_s = 0.5\n")
        with caplog.at_level("WARNING", logger="iec62379.agent.notify"), \
                running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 2)
            deadline = time.monotonic() + 20
            while "refused the INFORM" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            counters = agent.notifier.counters()[f"udp:127.0.0.1:{t.port}"]
    assert "refused the INFORM with a Report (1.3.6.1.6.3.15.1.1.3.0)" in caplog.text
    assert counters["delivered"] == 0 and counters["queued"] == 3
    assert t.received() == []


def test_delivery_counters_are_served_in_ext_notify_target_table(tmp_path: Path):
    with trapd(tmp_path / "trapd") as t:
        notify = (f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\ncommunity = 'traps'\n"
                  "rate_per_minute = 3\n"
                  "[[notify]]\ntarget = 'udp:no-such-host.invalid:162'\nkind = 'inform'\n"
                  "timeout_s = 0.2\nmax_interval_s = 1\n"
                  "[[access.community]]\nname = 'public'\n")
        with running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 5, alarm_id=1)
            t.wait_for(3)
            port = agent.endpoints[0].port
            want = [f"udp:127.0.0.1:{t.port}", "trap", "4", "4", "0", "2", "0", "0"]
            deadline = time.monotonic() + 15  # the rows follow the counters once a second
            while True:
                out = subprocess.run(
                    [require_tool("snmptable"), "-v2c", "-c", "public", "-Cf", ",", "-Cb",
                     "-M", f"+{paths.source_dir()}:{paths.base_source_cache()}",
                     "-m", "IEC62379-EXT-MIB", f"127.0.0.1:{port}", "extNotifyTargetTable"],
                    capture_output=True, text=True, timeout=20)
                lines = [ln for ln in out.stdout.splitlines() if "," in ln]
                if len(lines) > 1 and lines[1].split(",") == want \
                        or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    assert lines[0].split(",") == ["Address", "Kind", "Sent", "Delivered", "Retried",
                                   "Suppressed", "Dropped", "Queued"], out.stdout + out.stderr
    assert lines[1].split(",") == want
    assert lines[2].split(",")[:2] == ["udp:no-such-host.invalid:162", "inform"]
    assert lines[2].split(",")[-1] == "6"  # coldStart + 5, waiting (its limit: 60 a minute)


def test_an_ipv6_target(tmp_path: Path):
    with trapd(tmp_path / "trapd", listen="udp6:[::1]") as t:
        notify = (f"[[notify]]\ntarget = 'udp6:[::1]:{t.port}'\nkind = 'inform'\n"
                  f"user = '{USER}'\n")
        with running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 1)
            (got,) = t.wait_for(1)
    assert got.kind == "INFORM" and got.seq == 2


def test_alarms_travel_to_the_targets_with_their_sequence_numbers(tmp_path: Path):
    """agent.alarms (the AlarmBook) submits extAlarmRaised / extAlarmCleared to the hub; the
    [[notify]] INFORM target gets them, decoded by name, after coldStart."""
    from iec62379.mibs.vocabulary import AlarmCondition

    with trapd(tmp_path / "trapd") as t:
        notify = (f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\nkind = 'inform'\n"
                  f"user = '{USER}'\n")
        with running_agent(agent_config(tmp_path, notify)) as agent:
            alarm = agent.alarms.raise_alarm(4, AlarmCondition.other, Severity.MAJOR,
                                             description="test")
            agent.alarms.clear_alarm(alarm)
            got = t.wait_for(2)
    assert [r.trap_oid.split("::")[-1] for r in got] == ["extAlarmRaised", "extAlarmCleared"]
    assert [r.seq for r in t.received()] == [1, 2, 3]
