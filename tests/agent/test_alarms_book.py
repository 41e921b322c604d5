"""The AlarmBook: ids, the active table = raised and not cleared, the bounded log with its
dropped counter, the notifications, ids kept across restarts, garbage refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from iec62379.agent import ber
from iec62379.agent.alarms import ActiveAlarm, AlarmBook, AlarmLogEntry, date_and_time
from iec62379.agent.config import AgentConfig
from iec62379.agent.runner import Agent
from iec62379.mibs.vocabulary import AlarmCondition as C
from iec62379.mibs.vocabulary import AlarmLogType as K
from iec62379.mibs.vocabulary import Severity

EXT = (1, 3, 6, 1, 4, 1, 32473, 62380)
ALARMS = EXT + (1, 4)


@pytest.fixture(scope="module")
def shared_agent() -> Agent:
    return Agent(AgentConfig())


def book(agent: Agent, **kw) -> tuple[AlarmBook, list]:
    sent: list = []
    agent.notifications.subscribe(sent.append)
    b = AlarmBook(agent.store, agent.mibmap, agent.notifications, lambda: 4242,
                  wall_clock=lambda: 1_780_000_000.25, **kw)
    return b, sent


def served(agent: Agent, prefix: tuple[int, ...]) -> dict[tuple[int, ...], object]:
    """What the instrumentation serves under `prefix` (the book's scalars included)."""
    instrum = agent.instrum
    snap = instrum.current()
    return {o[len(prefix):]: instrum.getters[i](snap) for i, o in enumerate(instrum.oids)
            if o[:len(prefix)] == prefix}


def test_raise_and_clear_keep_the_table_equal_to_raised_not_cleared(tmp_path: Path):
    agent = Agent(AgentConfig())
    b = agent.alarms
    sent: list = []
    agent.notifications.subscribe(sent.append)
    a1 = b.raise_alarm((13, 0), C.dfHigh, Severity.WARNING, "62.50 ms", "s1: delay factor")
    a2 = b.raise_alarm(13, C.mlrHigh, Severity.MAJOR, 7.0, "s1: loss")
    a3 = b.raise_alarm((11, 2), C.audioLost, Severity.MAJOR, "yes", "s1 audio 2")
    assert (a1, a2, a3) == (1, 2, 3)
    assert sorted(agent.store.snapshot.alarms) == [(1,), (2,), (3,)]
    # the same (resource, condition) again: the active alarm, nothing new
    assert b.raise_alarm((13, 0), C.dfHigh, Severity.CRITICAL, "99 ms") == 1
    assert b.clear_alarm(a2, "0.00 packets/s") is True
    assert b.clear_alarm(((11, 2), C.audioLost)) is True
    assert b.clear_alarm(a2) is False and b.clear_alarm(999) is False
    assert sorted(agent.store.snapshot.alarms) == [(1,)]
    assert [r.alarm_id for r in b.active()] == [1]
    assert b.active_id(13, C.dfHigh) == 1 and b.active_id(13, C.mlrHigh) is None
    assert [(e.kind, e.alarm_id) for e in b.log()] == [
        (K.RAISED, 1), (K.RAISED, 2), (K.RAISED, 3), (K.CLEARED, 2), (K.CLEARED, 3)]
    assert b.log()[3].value == "0.00 packets/s"
    # served: the rows and the scalars
    cells = served(agent, ALARMS)
    assert cells[(1, 1, 2, 1)] == 13 and cells[(1, 1, 4, 1)] == int(C.dfHigh)
    assert cells[(1, 1, 5, 1)] == int(Severity.WARNING)
    assert cells[(1, 1, 8, 1)] == b"62.50 ms"
    assert not any(k[:2] == (1, 1) and k[-1] in (2, 3) for k in cells)
    assert cells[(3, 0)] == 1 and cells[(4, 0)] == 1000 and cells[(5, 0)] == 0
    assert cells[(2, 1, 2, 4)] == int(K.CLEARED) and cells[(2, 1, 3, 4)] == 2
    # the notifications: raised, raised, raised, cleared, cleared; a clear carries the same id
    names = [(n.name, n.alarm_id, n.severity) for n in sent]
    assert names == [("extAlarmRaised", 1, Severity.WARNING), ("extAlarmRaised", 2, Severity.MAJOR),
                     ("extAlarmRaised", 3, Severity.MAJOR), ("extAlarmCleared", 2, Severity.MAJOR),
                     ("extAlarmCleared", 3, Severity.MAJOR)]
    assert sent[0].trap_oid == EXT + (0, 1) and sent[3].trap_oid == EXT + (0, 2)
    vb = {oid[len(ALARMS) + 2:-1]: (oid[-1], tag, v) for oid, tag, v in sent[3].varbinds}
    assert vb[(2,)] == (2, ber.GAUGE32, 13)  # extAlarmActiveBlockId.2
    assert vb[(4,)] == (2, ber.INTEGER, int(C.mlrHigh))
    assert vb[(8,)] == (2, ber.OCTET_STRING, b"7.0")
    assert vb[(7,)][1] == ber.OCTET_STRING and len(vb[(7,)][2]) == 11


def test_events_are_logged_without_a_row_or_notification(shared_agent):
    b, sent = book(shared_agent)
    b.log_event((1000, 2), C.temperatureWarning, Severity.WARNING, "81.0 C", "cpu")
    assert b.active() == [] and sent == []
    (e,) = b.log()
    assert (e.kind, e.alarm_id, e.block_id, e.component, e.ticks) == (K.EVENT, 0, 1000, 2, 4242)


def test_the_log_is_bounded_and_counts_what_it_drops(shared_agent):
    agent = Agent(AgentConfig())
    b, _ = book(agent, log_capacity=3)
    for i in range(5):
        b.raise_alarm((20 + i, 0), C.streamLost, Severity.CRITICAL)
    assert [e.log_index for e in b.log()] == [3, 4, 5]
    assert sorted(agent.store.snapshot.alarm_log) == [(3,), (4,), (5,)]
    assert b.dropped == 2
    with pytest.raises(ValueError):
        book(shared_agent, log_capacity=0)


def test_ids_rise_across_restarts_with_a_state_dir(tmp_path: Path):
    state = tmp_path / "alarms.json"
    agent = Agent(AgentConfig())
    b, _ = book(agent, state_path=state)
    ids = [b.raise_alarm((30, i), C.other, Severity.MINOR) for i in range(3)]
    assert ids == [1, 2, 3]
    assert json.loads(state.read_text())["next_id"] > 3
    b2, _ = book(Agent(AgentConfig()), state_path=state)
    assert b2.raise_alarm((30, 0), C.other, Severity.MINOR) > 3
    # a damaged file: logged, ids start at 1 again
    state.write_text("{not json")
    b3, _ = book(Agent(AgentConfig()), state_path=state)
    assert b3.raise_alarm((30, 0), C.other, Severity.MINOR) == 1


def test_the_agent_keeps_ids_in_its_state_dir(tmp_path: Path):
    a = Agent(AgentConfig(state_dir=tmp_path))
    assert a.alarms.raise_alarm(5, C.other, Severity.MAJOR, "", "x") == 1
    assert (tmp_path / "alarms.json").exists()
    assert Agent(AgentConfig(state_dir=tmp_path)).alarms.raise_alarm(5, C.other,
                                                                     Severity.MAJOR) > 1


@pytest.mark.parametrize(("resource", "condition", "severity"), [
    ((1, 2, 3), C.other, Severity.MAJOR),
    ((-1, 0), C.other, Severity.MAJOR),
    ("13", C.other, Severity.MAJOR),
    ((2**32, 0), C.other, Severity.MAJOR),
    ((1, 0), 12345, Severity.MAJOR),
    ((1, 0), C.other, 99),
    ((1, 0), C.other, Severity.CLEARED),
])
def test_garbage_is_refused_with_a_value_error(shared_agent, resource, condition, severity):
    b, sent = book(shared_agent)
    with pytest.raises(ValueError):
        b.raise_alarm(resource, condition, severity)
    assert b.active() == [] and sent == []


def test_threads_raise_and_clear_concurrently(shared_agent):
    b, sent = book(shared_agent)

    def work(base: int) -> None:
        for i in range(50):
            aid = b.raise_alarm((base, i), C.other, Severity.MINOR)
            if i % 2:
                b.clear_alarm(aid)

    threads = [threading.Thread(target=work, args=(100 + k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    active = b.active()
    assert len(active) == 4 * 25
    assert len({r.alarm_id for r in active}) == 100
    assert {r.alarm_id for r in active} <= {k[0] for k in shared_agent.store.snapshot.alarms}
    assert len(sent) == 4 * 50 + 4 * 25


def test_rows_and_date_and_time():
    assert date_and_time(0) == bytes([7, 178, 1, 1, 0, 0, 0, 0]) + b"+\x00\x00"
    assert date_and_time(1_780_000_000.25)[7] == 2  # deci-seconds
    r = ActiveAlarm(7, 13, 0, C.dfHigh, Severity.MAJOR, 1, b"", "v", "d")
    assert r.index == (7,) and r.resource == (13, 0)
    e = AlarmLogEntry(9, K.EVENT, 0, 1, b"", 13, 0, C.dfHigh, Severity.MAJOR, "v", "d")
    assert e.index == (9,)


def test_a_batch_is_one_store_transaction_and_notifies_after_it():
    agent = Agent(AgentConfig())
    b = agent.alarms
    commits = []
    agent.store.subscribe(lambda snap: commits.append(len(snap.alarms)))
    sent = []
    agent.notifications.subscribe(lambda n: sent.append((n.name, len(commits))))
    with b.batch():
        ids = [b.raise_alarm((40 + i, 0), C.streamLost, Severity.CRITICAL) for i in range(5)]
        b.clear_alarm(ids[0])
        b.log_event(50, C.rtpLoss, Severity.MINOR)
        with b.batch():  # nested: the outer block publishes
            b.raise_alarm(60, C.dfHigh, Severity.WARNING)
        assert commits == [] and sent == []
    assert commits == [5]  # one transaction: 5 raised + 1 - 1 cleared
    assert sent == [("extAlarmRaised", 1)] * 5 + [("extAlarmCleared", 1),
                                                  ("extAlarmRaised", 1)]
    assert sorted(agent.store.snapshot.alarm_log) == [(i,) for i in range(1, 9)]


def test_the_index_follows_alarm_changes_and_reuses_what_did_not_change():
    agent = Agent(AgentConfig())
    ins = agent.instrum
    view = __import__("iec62379.agent.access", fromlist=["read_view"]).read_view(agent.mibmap)
    ins.current()
    before = (list(ins.oids), ins.oid_tlvs(), ins.readable_mask(view))
    a = agent.alarms.raise_alarm((13, 0), C.dfHigh, Severity.MAJOR, "1 ms")
    ins.current()
    added = set(ins.oids) - set(before[0])
    assert len(added) == 8 + 10  # the row's 8 columns and the log entry's 10
    assert ins.oid_tlvs() == [ber.encode_oid(o) for o in ins.oids]
    assert ins.readable_mask(view) == [view.contains(o) for o in ins.oids]
    agent.alarms.clear_alarm(a)
    ins.current()
    assert {o for o in ins.oids if o[:len(ALARMS) + 2] == ALARMS + (1, 1)} == set()
    assert ins.oid_tlvs() == [ber.encode_oid(o) for o in ins.oids]
    assert ins.readable_mask(view) == [view.contains(o) for o in ins.oids]
