"""The TR 101 290 tables through the collector service, in process, with injected time: the
core's outcomes (injected into real interval reports, as the core's checks will give them) become
tsTestsSummary / PID / trapControl rows in the store; a manager's writes (Enable, limits, counter
reset, rate control) reach the history and the analyzer; testFailTrap goes to the agent's
notification hub with the DVB MIB's varbinds, once per entry into fail and per rate period."""

from __future__ import annotations

import dataclasses

from iec62379.agent import ber
from iec62379.agent.dvb import date_and_time, summary_bits
from iec62379.agent.notification import Notification
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.report import TestOutcome
from iec62379.collectors.service import CollectorService
from iec62379.collectors.settings import parse_settings
from iec62379.mibs.vocabulary import Severity, TestState, TsTest
from streamdata import T0, S, batches, datagrams

CONFIG = """
[[stream]]
url = "rtp://127.0.0.1:5004"
id = 20
dvb_input = 7
[temperature_sensors]
enabled = false
"""
DVB = (1, 3, 6, 1, 4, 1, 2696, 3, 2, 1)
SUMMARY = DVB + (5, 2, 2, 1)
PREFS = DVB + (5, 2, 100, 1, 1)
TRAPCTL = DVB + (2, 1, 1)
CC = TsTest.continuityCountError


class Injected(StreamAnalyzer):
    """The real analyzer, whose interval reports carry the outcomes a test gives it."""

    outcomes: dict[TsTest, TestOutcome] = {}

    def pop_reports(self):
        return [dataclasses.replace(r, tr101290=dict(type(self).outcomes))
                for r in super().pop_reports()]


def setup():
    store = BlockStore()
    cfg = parse_settings(CONFIG, "t.toml")
    svc = CollectorService(store, cfg.streams, cfg.sensors)
    svc.streams[0]._factory = Injected
    agent = Agent(store=store)
    sent: list[Notification] = []
    agent.notifications.subscribe(sent.append)
    svc.attach(agent.mibmap, agent.notifications.submit, lambda: agent.dvb.persistence_s)
    svc.publish(T0)
    return store, svc, agent, sent


def feed(svc: CollectorService, t0: int) -> int:
    last = 0
    for b in batches(datagrams("h264_mp2.ts", t0=t0)):
        svc.streams[0].feed_batch(b)
        last = int(b.arrival_ns.max())
    return last


def write(agent: Agent, *varbinds: tuple[tuple[int, ...], int, object]) -> None:
    agent.instrum.set(list(varbinds), lambda i, oid: True)


def test_outcomes_become_rows_and_a_trap_and_writes_reach_the_analyzer():
    store, svc, agent, sent = setup()
    c = svc.streams[0]
    snap = store.snapshot
    assert len(snap.dvb_summary) == 13 and (1040, 7) in snap.dvb_summary
    assert len(snap.dvb_capability) == 27 and (7,) in snap.dvb_preferences
    assert (7,) in snap.dvb_trap_control

    # a supervisor asks for fail traps on CC errors, a stricter PCR interval and a longer
    # event persistence (controlEventPersistence)
    write(agent, (SUMMARY + (4, 1040, 7), ber.OCTET_STRING, b"\xc0"),
          (PREFS + (6, 7), ber.OCTET_STRING, b"0.1"), (DVB + (1, 2, 0), ber.OCTET_STRING, b"3"))
    Injected.outcomes = {t: TestOutcome(TestState.PASS, 0) for t in TsTest}
    Injected.outcomes[CC] = TestOutcome(TestState.FAIL, 3, T0 + S // 2, {0x100: 3})
    last = feed(svc, T0)
    assert svc.publish(last + 2 * S)
    assert c.limits.pcr_interval_max_s == 0.1 and c.analyzer is not None
    assert c.dvb is not None and c.dvb.persistence_s == 3.0
    assert c.analyzer.config.tr101290 == c.limits
    snap = store.snapshot
    row = snap.dvb_summary[(1040, 7)]
    assert row.state is TestState.FAIL and row.counter > 0 and row.enable == 0xC0
    assert snap.dvb_pid[(0x101, 1040, 7)].state is TestState.FAIL
    assert snap.dvb_pid[(0x101, 1040, 7)].enable == 0xC0  # the summary's Enable, copied
    assert snap.dvb_trap_control[(7,)].failing == {CC}
    assert snap.dvb_preferences[(7,)].pcr_interval_max == "0.1"  # the write survived a tick

    # one trap: the PID's state instance, its LatestError, the FailureSummary, the input
    (n,) = sent
    assert n.name == "testFailTrap" and n.severity is Severity.MAJOR
    assert n.trap_oid == DVB + (2, 0, 1)
    assert [v[0] for v in n.varbinds] == [TRAPCTL + (2, 7), TRAPCTL + (3, 7), TRAPCTL + (7, 7),
                                          DVB + (2, 2, 0)]
    assert n.varbinds[0][1:] == (ber.OBJECT_IDENTIFIER, DVB + (5, 2, 3, 1, 5, 0x101, 1040, 7))
    assert n.varbinds[1][2] == date_and_time(T0 + S // 2)
    assert n.varbinds[2][2] == summary_bits({CC})
    assert n.varbinds[3][1:] == (ber.INTEGER, 7)

    # a counter reset, then the loss stops: pass once the persistence is over, no new trap
    write(agent, (SUMMARY + (7, 1040, 7), ber.INTEGER, 1))
    assert agent.instrum.getters[agent.instrum.position(SUMMARY + (5, 1040, 7))](
        store.snapshot) == 0  # reads 0 at once
    Injected.outcomes = {t: TestOutcome(TestState.PASS, 0) for t in TsTest}
    last = feed(svc, last + S)
    assert svc.publish(last + 6 * S)
    row = store.snapshot.dvb_summary[(1040, 7)]
    assert row.state is TestState.PASS and row.counter == 0 and row.reset_applied_ns > 0
    assert row.active_s > 0
    assert len(sent) == 1


def test_rate_control_disabled_sends_nothing():
    store, svc, agent, sent = setup()
    write(agent, (SUMMARY + (4, 1040, 7), ber.OCTET_STRING, b"\xc0"),
          (TRAPCTL + (5, 7), ber.INTEGER, 1))
    Injected.outcomes = {CC: TestOutcome(TestState.FAIL, 1, T0, {0x100: 1})}
    last = feed(svc, T0)
    assert svc.publish(last + 2 * S)
    assert store.snapshot.dvb_summary[(1040, 7)].state is TestState.FAIL
    assert sent == []


def test_configured_limits_are_the_preferences_and_reach_the_analyzer():
    """[stream.tr101290] gives the first tsTestsPreferencesTable row and the analyzer's limits
    (with the real analyzer); `enabled` bounds what a testEnable write can turn on; `checks =
    false` keeps the checks off whatever the tables say."""
    text = CONFIG.replace("[temperature_sensors]", "[stream.tr101290]\npat_interval_max_s = 0.25\n"
                          "enabled = [\"tsSyncLoss\", \"patError2\"]\n[temperature_sensors]")
    store = BlockStore()
    cfg = parse_settings(text, "t.toml")
    svc = CollectorService(store, cfg.streams, cfg.sensors)
    agent = Agent(store=store)
    svc.attach(agent.mibmap, agent.notifications.submit, lambda: agent.dvb.persistence_s)
    svc.publish(T0)
    (prefs,) = store.snapshot.dvb_preferences.values()
    assert float(prefs.pat_interval_max) == 0.25 and float(prefs.pmt_interval_max) == 0.5
    for b in batches(datagrams("h264_mp2.ts", loops=1), size=16):
        svc.streams[0].feed_batch(b)
    svc.publish(T0 + 3 * S)
    limits = svc.streams[0].analyzer.config.tr101290
    assert limits.pat_interval_max_s == 0.25
    assert limits.enabled == frozenset({TsTest.tsSyncLoss, TsTest.patError2})

    off = parse_settings(CONFIG.replace("[temperature_sensors]", "[stream.tr101290]\n"
                                        "checks = false\n[temperature_sensors]"), "t.toml")
    svc = CollectorService(BlockStore(), off.streams, off.sensors)
    for b in batches(datagrams("h264_mp2.ts", loops=1), size=16):
        svc.streams[0].feed_batch(b)
    svc.publish(T0 + 3 * S)
    assert svc.streams[0].analyzer.config.tr101290 is None
