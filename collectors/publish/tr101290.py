"""The TR 101 290 history of one input, kept from the measurement core's per-interval outcomes,
and the DVB measurement MIB's rows made from it. Pure: no I/O, no clock (times are arguments).

The core says, per interval and test, a `TestOutcome` (state at the end of the interval, or
FAIL if an event occurred in it; errors; the latest error's arrival time; errors per PID).
The DVB MIB's rules applied here (ETSI TS 102 032, digest sections 3 and 5):

- Counter: status tests count entries into fail, event tests every event (the core's `errors`
  either way), whatever the persistence. A manager's reset (tsTestsSummaryCounterReset) sets it
  to 0 and CounterDiscontinuity to the reset's time; the first discontinuity is the start of
  the history.
- LatestError: the arrival time of the latest error (status: entry into fail; event: event).
- Persistence: an event test is fail in the interval of an event and until
  controlEventPersistence after its latest event (`last_error_ns`), then the core's state.
- ActiveTime: whole seconds of the intervals whose state was pass or fail.
- Enable: a test whose testEnable bit is 0 is disabled (not counted, not timed); a write to
  the summary Enable is copied into the test's PID rows.
- PID rows (the tests of `PID_TESTS`): created for the PIDs with errors, kept while the input
  is configured; a PID is fail in an interval in which it had errors (event tests: and for the
  persistence after), else the summary's pass / unknown. The summary State is the highest of
  the core's (with persistence) and its PID rows' states.
- A stream that faded out (no analysis runs) is an input without packets: tsSyncLoss fail
  (one entry into fail, if it was not failing), the others unknown (`silence`).
- Which tests are which kind (status or event) the MIB does not say; `EVENT_TESTS` follows the
  digest's table (section 2.2).

Each `update` returns the entries into fail of the interval (`FailEntry`), for testFailTrap;
`TrapThrottle` applies trapControlTable's per-input rate control to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iec62379.agent.model import (
    FAIL_TRAP_ENABLE,
    PID_TESTS,
    RATE_ENABLED,
    TEST_ENABLE,
    TestPid,
    TestSummary,
    TrapControl,
)
from iec62379.collectors.core.report import AnalyzerConfig, TestOutcome
from iec62379.mibs.vocabulary import TestState, TsTest

#: The event-type tests (the others are status tests); digest section 2.2's Kind column.
EVENT_TESTS = frozenset({
    TsTest.syncByteError, TsTest.continuityCountError, TsTest.transportError, TsTest.crcError,
    TsTest.pcrDiscontinuityError, TsTest.pcrAccuracyError, TsTest.catError,
})

DEFAULT_PERSISTENCE_S = 2.0  # controlEventPersistence DEFVAL "2"


@dataclass
class _History:
    """The history of one test, or of one test on one PID."""

    state: TestState = TestState.UNKNOWN
    counter: int = 0
    discontinuity_ns: int | None = None
    latest_error_ns: int | None = None
    active_ns: int = 0
    reset_applied_ns: int = 0


@dataclass(frozen=True, slots=True)
class FailEntry:
    """A test (on a PID, for the tests with PID rows) entered fail: the trigger of testFailTrap.
    `latest_error_ns` is its LatestError (trapControlGenerationTime)."""

    test: TsTest
    pid: int | None
    latest_error_ns: int | None


@dataclass
class InputHistory:
    """The TR 101 290 history of one input; see the module docstring."""

    input: int
    origin_ns: int
    persistence_s: float = DEFAULT_PERSISTENCE_S
    tests: dict[TsTest, _History] = field(default_factory=dict)
    pids: dict[tuple[TsTest, int], _History] = field(default_factory=dict)
    enable: dict[TsTest, int] = field(default_factory=dict)
    resets: dict[TsTest, int] = field(default_factory=dict)
    max_pid_rows: int = 8192
    #: whether the core ever gave outcomes (its checks run), and the end of the latest interval
    seen_outcomes: bool = False
    last_end_ns: int | None = None

    def __post_init__(self) -> None:
        for test in TsTest:
            self.tests.setdefault(test, _History(discontinuity_ns=self.origin_ns))

    def enabled(self, test: TsTest) -> bool:
        return bool(self.enable.get(test, TEST_ENABLE) & TEST_ENABLE)

    def apply_resets(self, resets: dict[TsTest, int]) -> None:
        """Counter resets written by a manager (time of the reset per test; 0 = none)."""
        for test, reset_ns in resets.items():
            h = self.tests[test]
            if reset_ns > h.reset_applied_ns:
                h.counter = 0
                h.discontinuity_ns = max(reset_ns, h.discontinuity_ns or 0)
                h.reset_applied_ns = reset_ns
            self.resets[test] = reset_ns

    def update(self, outcomes: dict[TsTest, TestOutcome], start_ns: int,
               interval_ns: int) -> list[FailEntry]:
        """One closed interval [start_ns, start_ns + interval_ns); returns the entries into
        fail. A test without an outcome (checks off) is unknown."""
        end_ns = start_ns + interval_ns
        self.seen_outcomes = self.seen_outcomes or bool(outcomes)
        self.last_end_ns = max(end_ns, self.last_end_ns or end_ns)
        persistence_ns = int(self.persistence_s * 1e9)
        entries: list[FailEntry] = []
        for test in TsTest:
            h = self.tests[test]
            if not self.enabled(test):
                h.state = TestState.DISABLED
                continue
            o = outcomes.get(test)
            if o is None or o.state is TestState.DISABLED:
                o = TestOutcome(TestState.UNKNOWN, 0)
            before = h.state
            state = _persisted(test, o, h, end_ns, persistence_ns)
            h.counter += o.errors
            if o.errors and o.last_error_ns is not None:
                h.latest_error_ns = max(o.last_error_ns, h.latest_error_ns or 0)
            if test in PID_TESTS:
                pid_states = self._update_pids(test, o, state, end_ns, interval_ns,
                                               persistence_ns, entries)
                state = TestState(max([int(state), *pid_states]))
            h.state = state
            if state in (TestState.PASS, TestState.FAIL):
                h.active_ns += interval_ns
            if state is TestState.FAIL and before is not TestState.FAIL and test not in PID_TESTS:
                entries.append(FailEntry(test, None, h.latest_error_ns))
        return entries

    def _update_pids(self, test: TsTest, o: TestOutcome, summary: TestState, end_ns: int,
                     interval_ns: int, persistence_ns: int,
                     entries: list[FailEntry]) -> list[int]:
        for pid in o.pids:
            if (test, pid) not in self.pids and len(self.pids) < self.max_pid_rows:
                self.pids[(test, pid)] = _History(discontinuity_ns=end_ns - interval_ns)
        states = []
        for (t, pid), h in self.pids.items():
            if t is not test:
                continue
            errors = o.pids.get(pid, 0)
            before = h.state
            h.counter += errors
            if errors:
                h.latest_error_ns = o.last_error_ns if o.last_error_ns is not None else end_ns
            if errors:
                state = TestState.FAIL
            elif (test in EVENT_TESTS and h.latest_error_ns is not None
                  and end_ns - h.latest_error_ns < persistence_ns):
                state = TestState.FAIL
            elif summary is TestState.UNKNOWN:
                state = TestState.UNKNOWN
            elif test in EVENT_TESTS or summary is TestState.PASS:
                state = TestState.PASS
            else:  # a status test failing on PIDs whose errors came earlier: still in error
                state = before if before is not TestState.UNKNOWN else TestState.PASS
            h.state = state
            if state in (TestState.PASS, TestState.FAIL):
                h.active_ns += interval_ns
            if state is TestState.FAIL and before is not TestState.FAIL:
                entries.append(FailEntry(test, pid, h.latest_error_ns))
            states.append(int(state))
        return states

    def silence(self, now_ns: int) -> list[FailEntry]:
        """No analysis runs (the stream faded out): from the end of the latest interval to
        `now_ns`, the outcomes of an input without packets (tsSyncLoss fail, the others
        unknown), once the core has shown that it runs the checks."""
        if not self.seen_outcomes or self.last_end_ns is None or now_ns <= self.last_end_ns:
            return []
        silent = {t: TestOutcome(TestState.UNKNOWN, 0) for t in TsTest}
        silent[TsTest.tsSyncLoss] = TestOutcome(TestState.FAIL, 0)
        if self.tests[TsTest.tsSyncLoss].state is not TestState.FAIL:
            silent[TsTest.tsSyncLoss] = TestOutcome(TestState.FAIL, 1, self.last_end_ns)
        return self.update(silent, self.last_end_ns, now_ns - self.last_end_ns)

    def failing(self) -> frozenset[TsTest]:
        return frozenset(t for t, h in self.tests.items() if h.state is TestState.FAIL)

    def summary_rows(self) -> list[TestSummary]:
        return [
            TestSummary(
                test=test, input=self.input, state=h.state,
                enable=self.enable.get(test, TEST_ENABLE), counter=h.counter,
                discontinuity_ns=h.discontinuity_ns,
                latest_error_ns=h.latest_error_ns, active_s=h.active_ns // 1_000_000_000,
                reset_ns=self.resets.get(test, 0), reset_applied_ns=h.reset_applied_ns,
            )
            for test, h in self.tests.items()
        ]

    def pid_rows(self) -> list[TestPid]:
        return [
            TestPid(pid=pid, test=test, input=self.input, state=h.state,
                    enable=self.enable.get(test, TEST_ENABLE), counter=h.counter,
                    discontinuity_ns=h.discontinuity_ns, latest_error_ns=h.latest_error_ns,
                    active_s=h.active_ns // 1_000_000_000)
            for (test, pid), h in sorted(self.pids.items())
        ]


def _persisted(test: TsTest, o: TestOutcome, h: _History, end_ns: int,
               persistence_ns: int) -> TestState:
    """The state of an interval: the core's, and for an event test fail while its latest
    event is within the persistence."""
    if test in EVENT_TESTS and o.state is not TestState.FAIL:
        latest = o.last_error_ns if o.errors and o.last_error_ns is not None else h.latest_error_ns
        if latest is not None and end_ns - latest < persistence_ns:
            return TestState.FAIL
    return o.state


def implemented_tests() -> frozenset[TsTest]:
    """The tests the measurement core runs: those it gives an outcome for on a short feed of
    null packets (capabilityTSTable says testAvailable for these only)."""
    from iec62379.collectors.core.analyzer import StreamAnalyzer

    analyzer = StreamAnalyzer(AnalyzerConfig())
    null_packet = bytes([0x47, 0x1F, 0xFF, 0x10]) + bytes(184)
    analyzer.feed(null_packet * 7, 1_000_000_000)
    analyzer.close_until(3_000_000_000)
    return frozenset(t for r in analyzer.pop_reports() for t, o in r.tr101290.items()
                     if o.state is not TestState.DISABLED)


@dataclass
class TrapThrottle:
    """trapControlTable's rate control of one input (digest section 5): disabled sends nothing;
    enabled sends one trap and then nothing for trapControlPeriod (enabledThrottled); triggers
    suppressed meanwhile are dropped."""

    throttled_until_ns: int = 0

    def allow(self, control: TrapControl, now_ns: int) -> bool:
        if control.rate_status != RATE_ENABLED or now_ns < self.throttled_until_ns:
            return False
        self.throttled_until_ns = now_ns + control.period_ms * 1_000_000
        return True


def trap_allowed(history: InputHistory, entry: FailEntry) -> bool:
    """Whether the test's Enable asks for fail traps (the summary's, copied into its PID rows)."""
    bits = history.enable.get(entry.test, TEST_ENABLE)
    return bool(bits & TEST_ENABLE and bits & FAIL_TRAP_ENABLE)


__all__ = ["EVENT_TESTS", "FailEntry", "InputHistory", "TrapThrottle", "implemented_tests",
           "trap_allowed"]
