"""[[notify]] delivery that is never lost, with snmptrapd as the receiver: an INFORM target down
for 30 s then back (every notification arrives, in order, no sequence gap); the agent SIGKILLed
with notifications queued (delivered after its restart); a flapping input held to the rate
limit; a target name that does not resolve never blocks the start or the other targets."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.agent.notify.outbox import Entry, Outbox, outbox_path
from procs import popen, stop
from test_notify_snmptrapd import (
    USER,
    agent_config,
    free_port,
    running_agent,
    submit,
    trapd,
)

pytestmark = pytest.mark.integration


def in_order_without_gap(seqs: list[int]) -> None:
    """Each number once or repeated right after itself (a retransmission whose
    acknowledgement was lost), rising by one."""
    first = [s for i, s in enumerate(seqs) if i == 0 or s != seqs[i - 1]]
    assert first == list(range(first[0], first[0] + len(first))), seqs


def test_inform_target_down_30_s_then_back_gets_everything_in_order(tmp_path: Path):
    port = free_port()
    notify = (f"[[notify]]\ntarget = 'udp:127.0.0.1:{port}'\nkind = 'inform'\nuser = '{USER}'\n"
              "timeout_s = 0.5\nretries = 3\nmax_interval_s = 2\n")
    with running_agent(agent_config(tmp_path, notify)) as agent:
        with trapd(tmp_path / "trapd-before", port) as t:
            submit(agent, 2)
            t.wait_for(2)
        before = t.received()
        # the receiver is down for 30 s; notifications keep coming
        down_until = time.monotonic() + 30
        for _ in range(6):
            submit(agent, 2)
            time.sleep(4)
        counters = agent.notifier.counters()[f"udp:127.0.0.1:{port}"]
        assert counters["queued"] >= 12 and counters["retried"] > 0, counters
        time.sleep(max(0.0, down_until - time.monotonic()))
        with trapd(tmp_path / "trapd-after", port) as t:  # the same engine id, restarted
            got = t.wait_for(12, timeout_s=60)
            deadline = time.monotonic() + 20
            while agent.notifier.counters()[f"udp:127.0.0.1:{port}"]["queued"] and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
        counters = agent.notifier.counters()[f"udp:127.0.0.1:{port}"]
    seqs = [r.seq for r in before + t.received()]
    assert seqs[0] == 1 and before[0].trap_oid.endswith("coldStart")
    in_order_without_gap(seqs)
    assert sorted(set(seqs)) == list(range(1, 16))  # coldStart + 14
    assert {r.kind for r in got} == {"INFORM"}
    assert counters["queued"] == 0 and counters["acknowledged"] >= 15 - 1


def queued_in(path: Path) -> list[Entry]:
    """What the outbox file holds (read as the agent reads it at start)."""
    return Outbox(path, 1000, "test").entries()


def agent_process(config: Path, log: Path) -> subprocess.Popen:
    return popen([sys.executable, "-m", "iec62379.cli.main", "agent", "--config", str(config)],
                 stdout=log.open("a"), stderr=subprocess.STDOUT)


def wait_log(log: Path, text: str, count: int = 1, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count(text) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} x{count} not in the log:\n{log.read_text()}")


def test_sigkilled_agent_delivers_its_queued_notifications_after_restart(tmp_path: Path):
    require_tool("snmpget")
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(agent_config(
        tmp_path, f"[[notify]]\ntarget = 'udp:127.0.0.1:{port}'\nkind = 'inform'\n"
                  f"user = '{USER}'\ntimeout_s = 0.2\nmax_interval_s = 1\n",
        extra="enable_authen_traps = true"))
    listen = next(line for line in config.read_text().splitlines() if line.startswith("listen"))
    agent_port = listen.split(":")[-1].rstrip("']")
    log = tmp_path / "agent.log"
    outbox = outbox_path(tmp_path / "state", f"udp:127.0.0.1:{port}")
    proc = agent_process(config, log)
    try:
        wait_log(log, "serving")
        # nobody listens on the target: coldStart and three authenticationFailures wait
        for _ in range(3):
            subprocess.run([require_tool("snmpget"), "-v2c", "-c", "wrong", "-t", "0.2", "-r",
                            "0", f"127.0.0.1:{agent_port}", "1.3.6.1.2.1.1.5.0"],
                           capture_output=True, timeout=20)
            time.sleep(1.5)  # the agent checks its authentication-failure counters each second
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if outbox.exists() and len(queued_in(outbox)) >= 4:
                break
            time.sleep(0.1)
        assert stop(proc, signal.SIGKILL) == -signal.SIGKILL
    finally:
        stop(proc, signal.SIGKILL)
    queued = queued_in(outbox)
    assert [e.seq for e in queued] == [1, 2, 3, 4]
    assert [e.notification.name for e in queued] == ["coldStart"] + ["authenticationFailure"] * 3
    with trapd(tmp_path / "trapd", port) as t:
        proc = agent_process(config, log)
        try:
            got = t.wait_for(5, timeout_s=60, cold=True)  # the four + the new coldStart
        finally:
            stop(proc)
    seqs = [r.seq for r in t.received()]
    in_order_without_gap(seqs)
    names = [r.trap_oid.split("::")[-1] for r in t.received()]
    assert names[:5] == ["coldStart"] + ["authenticationFailure"] * 3 + ["coldStart"], names
    assert sorted(set(seqs))[:5] == [1, 2, 3, 4, 5]
    assert len(got) >= 5


def test_a_flapping_input_is_held_to_the_rate_limit(tmp_path: Path):
    with trapd(tmp_path / "trapd") as t:
        notify = (f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\ncommunity = 'traps'\n"
                  "rate_per_minute = 5\n")
        with running_agent(agent_config(tmp_path, notify)) as agent:
            submit(agent, 50, alarm_id=7)  # one alarm, raised and cleared 25 times at once
            submit(agent, 2, alarm_id=8)  # another alarm is not held back by the first
            got = t.wait_for(7)
            time.sleep(1.0)  # nothing more arrives
            counters = agent.notifier.counters()[f"udp:127.0.0.1:{t.port}"]
    got = [r for r in t.received() if not r.trap_oid.endswith("coldStart")]
    assert len(got) == 7, got
    assert counters["suppressed"] == 45
    in_order_without_gap([r.seq for r in t.received()])


def test_an_unresolvable_target_does_not_block_the_agent(tmp_path: Path):
    with trapd(tmp_path / "trapd") as t:
        notify = ("[[notify]]\ntarget = 'udp:no-such-host.invalid:162'\ncommunity = 'traps'\n"
                  "timeout_s = 0.2\nmax_interval_s = 1\n"
                  f"[[notify]]\ntarget = 'udp:127.0.0.1:{t.port}'\ncommunity = 'traps'\n")
        t0 = time.monotonic()
        with running_agent(agent_config(tmp_path, notify)) as agent:
            started_s = time.monotonic() - t0
            submit(agent, 3)
            t.wait_for(3)
            counters = agent.notifier.counters()
    assert started_s < 30
    assert counters["udp:no-such-host.invalid:162"]["queued"] == 4  # coldStart + 3, kept
    assert counters["udp:no-such-host.invalid:162"]["delivered"] == 0
    outbox = outbox_path(tmp_path / "state", "udp:no-such-host.invalid:162")
    assert len(queued_in(outbox)) == 4
