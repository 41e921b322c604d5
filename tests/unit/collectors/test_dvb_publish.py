"""The DVB measurement MIB's history rules (collectors/publish/tr101290.py) on synthetic
TestOutcome sequences: status vs event tests, the event persistence, counters, resets and
discontinuity, PID rows, the summary as the highest PID state, ActiveTime, the trap gates."""

from __future__ import annotations

from iec62379.agent.dvb import (
    FAIL_TRAP_ENABLE,
    RATE_DISABLED,
    TEST_ENABLE,
    TrapControl,
    summary_bits,
)
from iec62379.collectors.core.report import TestOutcome
from iec62379.collectors.publish.tr101290 import (
    EVENT_TESTS,
    FailEntry,
    InputHistory,
    TrapThrottle,
    trap_allowed,
)
from iec62379.mibs.vocabulary import TestState, TsTest

S = 1_000_000_000
T0 = 1_700_000_000 * S
PASS, FAIL, UNKNOWN = TestState.PASS, TestState.FAIL, TestState.UNKNOWN


def all_pass(**over: TestOutcome) -> dict[TsTest, TestOutcome]:
    out = {t: TestOutcome(PASS, 0) for t in TsTest}
    out.update({TsTest[k]: v for k, v in over.items()})
    return out


def run(h: InputHistory, seq: list[dict[TsTest, TestOutcome]], start: int = T0) -> list:
    entries = []
    for i, outcomes in enumerate(seq):
        entries += h.update(outcomes, start + i * S, S)
    return entries


def summary(h: InputHistory, test: TsTest):
    return next(r for r in h.summary_rows() if r.test is test)


def test_kinds_follow_the_digest():
    assert TsTest.continuityCountError in EVENT_TESTS and TsTest.patError2 not in EVENT_TESTS
    assert len(EVENT_TESTS) == 7


def test_every_test_starts_unknown_with_the_start_as_discontinuity():
    h = InputHistory(5, T0)
    rows = h.summary_rows()
    assert [r.test for r in rows] == list(TsTest)
    assert all(r.state is UNKNOWN and r.counter == 0 and r.discontinuity_ns == T0
               and r.latest_error_ns is None and r.input == 5 for r in rows)


def test_no_outcome_is_unknown_and_not_active():
    h = InputHistory(1, T0)
    run(h, [{}, {}])  # the checks are off: an empty dict per interval
    assert all(r.state is UNKNOWN and r.active_s == 0 for r in h.summary_rows())


def test_event_test_counts_events_and_stays_fail_for_the_persistence():
    h = InputHistory(1, T0, persistence_s=2.0)
    cc = TsTest.continuityCountError
    err = T0 + S // 2
    seq = [all_pass(continuityCountError=TestOutcome(FAIL, 3, err, {0x100: 3})),
           all_pass(), all_pass(), all_pass()]
    states = []
    for i, o in enumerate(seq):
        h.update(o, T0 + i * S, S)
        states.append(summary(h, cc).state)
    # interval ends 1.0, 2.0, 3.0, 4.0 s; the event at 0.5 s persists until 2.5 s
    assert states == [FAIL, FAIL, PASS, PASS]
    row = summary(h, cc)
    assert row.counter == 3  # every event, whatever the persistence
    assert row.latest_error_ns == err
    assert row.active_s == 4


def test_a_shorter_persistence_ends_fail_earlier():
    h = InputHistory(1, T0, persistence_s=0.1)
    err = T0 + S // 2
    run(h, [all_pass(crcError=TestOutcome(FAIL, 1, err)), all_pass()])
    assert summary(h, TsTest.crcError).state is PASS


def test_status_test_counts_entries_into_fail_and_follows_the_core_state():
    h = InputHistory(1, T0)
    pat = TsTest.patError2
    seq = [all_pass(patError2=TestOutcome(FAIL, 1, T0 + 100)),
           all_pass(patError2=TestOutcome(FAIL, 0)),  # still in error: no new entry
           all_pass(),
           all_pass(patError2=TestOutcome(FAIL, 1, T0 + 3 * S + 7))]
    states = []
    for i, o in enumerate(seq):
        h.update(o, T0 + i * S, S)
        states.append(summary(h, pat).state)
    assert states == [FAIL, FAIL, PASS, FAIL]
    assert summary(h, pat).counter == 2
    assert summary(h, pat).latest_error_ns == T0 + 3 * S + 7


def test_active_time_counts_pass_and_fail_only():
    h = InputHistory(1, T0)
    run(h, [all_pass(), all_pass(ptsError=TestOutcome(UNKNOWN, 0)), all_pass()])
    assert summary(h, TsTest.ptsError).active_s == 2
    assert summary(h, TsTest.crcError).active_s == 3


def test_sync_loss_fail_and_the_others_unknown_without_packets():
    h = InputHistory(1, T0)
    silent = {t: TestOutcome(UNKNOWN, 0) for t in TsTest}
    silent[TsTest.tsSyncLoss] = TestOutcome(FAIL, 1, T0)
    entries = run(h, [silent])
    assert summary(h, TsTest.tsSyncLoss).state is FAIL
    assert {r.state for r in h.summary_rows() if r.test is not TsTest.tsSyncLoss} == {UNKNOWN}
    assert entries == [FailEntry(TsTest.tsSyncLoss, None, T0)]
    assert h.failing() == {TsTest.tsSyncLoss}
    assert summary_bits(h.failing())[0] == 0x80  # bit 0


def test_reset_zeroes_the_counter_and_moves_the_discontinuity():
    h = InputHistory(1, T0)
    run(h, [all_pass(crcError=TestOutcome(FAIL, 4, T0 + 1))])
    reset = T0 + 5 * S
    h.apply_resets({TsTest.crcError: reset})
    row = summary(h, TsTest.crcError)
    assert (row.counter, row.discontinuity_ns, row.reset_applied_ns) == (0, reset, reset)
    h.apply_resets({TsTest.crcError: reset})  # the same reset again: nothing more
    run(h, [all_pass(crcError=TestOutcome(FAIL, 2, T0 + 6 * S))], start=T0 + 6 * S)
    assert summary(h, TsTest.crcError).counter == 2
    h.apply_resets({TsTest.crcError: reset})
    assert summary(h, TsTest.crcError).counter == 2
    # another test is untouched
    assert summary(h, TsTest.patError2).discontinuity_ns == T0


def test_pid_rows_for_pids_in_error_and_the_summary_is_their_highest_state():
    h = InputHistory(3, T0)
    cc = TsTest.continuityCountError
    entries = run(h, [all_pass(continuityCountError=TestOutcome(FAIL, 3, T0 + 9,
                                                                {0x100: 2, 0x101: 1}))])
    rows = h.pid_rows()
    assert [(r.pid, r.test, r.input) for r in rows] == [(0x100, cc, 3), (0x101, cc, 3)]
    assert [r.index for r in rows] == [(0x101, 1040, 3), (0x102, 1040, 3)]  # PID + 1
    assert [r.counter for r in rows] == [2, 1] and {r.state for r in rows} == {FAIL}
    assert summary(h, cc).state is FAIL
    # the trap entries of PID tests name the PID (no second one for the summary)
    assert sorted(e.pid for e in entries if e.test is cc) == [0x100, 0x101]
    assert all(e.pid is not None for e in entries if e.test is cc)
    # the core says pass and the persistence is over: every row passes again
    run(h, [all_pass()] * 3, start=T0 + S)
    assert {r.state for r in h.pid_rows()} == {PASS}
    assert summary(h, cc).state is PASS
    assert len(h.pid_rows()) == 2  # rows stay while the input is configured


def test_summary_takes_a_failing_pid_over_a_passing_core_state():
    h = InputHistory(1, T0, persistence_s=5)
    run(h, [all_pass(pcrAccuracyError=TestOutcome(FAIL, 1, T0 + 1, {0x44: 1}))])
    # next interval: the core sees no event, the PID row persists in fail
    run(h, [all_pass()], start=T0 + S)
    assert h.pid_rows()[0].state is FAIL
    assert summary(h, TsTest.pcrAccuracyError).state is FAIL


def test_a_disabled_test_is_not_run_and_its_enable_goes_to_its_pid_rows():
    h = InputHistory(1, T0)
    run(h, [all_pass(continuityCountError=TestOutcome(FAIL, 1, T0, {0x20: 1}))])
    h.enable = {TsTest.continuityCountError: 0x00, TsTest.crcError: TEST_ENABLE | 0x40}
    run(h, [all_pass(continuityCountError=TestOutcome(FAIL, 5, T0 + S, {0x20: 5}))],
        start=T0 + S)
    row = summary(h, TsTest.continuityCountError)
    assert row.state is TestState.DISABLED and row.counter == 1 and row.enable == 0
    assert row.served_state == 1  # disabled(1)
    assert h.pid_rows()[0].enable == 0 and h.pid_rows()[0].served_state == 1
    assert summary(h, TsTest.crcError).enable == 0xC0


def test_trap_only_with_fail_trap_enable():
    h = InputHistory(1, T0)
    e = FailEntry(TsTest.crcError, None, T0)
    assert not trap_allowed(h, e)  # DEFVAL { testEnable }: traps off
    h.enable = {TsTest.crcError: TEST_ENABLE | FAIL_TRAP_ENABLE}
    assert trap_allowed(h, e)
    h.enable = {TsTest.crcError: FAIL_TRAP_ENABLE}  # failTrapEnable without testEnable
    assert not trap_allowed(h, e)


def test_entry_into_fail_only_once():
    h = InputHistory(1, T0)
    seq = [all_pass(patError2=TestOutcome(FAIL, 1, T0))] * 3
    entries = run(h, seq)
    assert [e.test for e in entries] == [TsTest.patError2]


def test_throttle_lets_one_trap_per_period_and_disabled_none():
    thr = TrapThrottle()
    control = TrapControl(input=1, period_ms=1000)
    assert thr.allow(control, T0)
    assert not thr.allow(control, T0 + S // 2)  # enabledThrottled: dropped
    assert control.__class__(input=1, period_ms=1000).served_rate_status(T0) == 2
    throttled = TrapControl(input=1, period_ms=1000, throttled_until_ns=thr.throttled_until_ns)
    assert throttled.served_rate_status(T0 + S // 2) == 3
    assert thr.allow(control, T0 + S)
    assert not TrapThrottle().allow(TrapControl(input=1, rate_status=RATE_DISABLED), T0)
    zero = TrapThrottle()
    assert zero.allow(TrapControl(input=1, period_ms=0), T0)
    assert zero.allow(TrapControl(input=1, period_ms=0), T0)  # period 0: no throttling


def test_silence_after_fade_out_is_sync_loss_once_the_checks_run():
    h = InputHistory(1, T0)
    assert h.silence(T0 + 5 * S) == []  # the core never gave outcomes: nothing is claimed
    assert summary(h, TsTest.tsSyncLoss).state is UNKNOWN
    run(h, [all_pass()])
    entries = h.silence(T0 + 4 * S)
    assert entries == [FailEntry(TsTest.tsSyncLoss, None, T0 + S)]
    sync = summary(h, TsTest.tsSyncLoss)
    assert (sync.state, sync.counter, sync.latest_error_ns) == (FAIL, 1, T0 + S)
    assert sync.active_s == 4  # 1 s of pass, 3 s of fail
    assert {r.state for r in h.summary_rows() if r.test is not TsTest.tsSyncLoss} == {UNKNOWN}
    assert summary(h, TsTest.crcError).active_s == 1  # unknown does not advance it
    assert h.silence(T0 + 6 * S) == []  # still in fail: no new entry
    assert summary(h, TsTest.tsSyncLoss).counter == 1
