"""The DVB measurement MIB's TR 101 290 tables (DVB-MGTR101290-MIB, ETSI TS 102 032): rows,
their SET rules and their declarations (the module's scalars: `dvb_scalars`).

Served tables (declared here, listed in `model.TABLES`, all `block=False`):

- tsTestsSummaryTable, index {test, input} (the input LAST, as the MIB has it);
- tsTestsPIDTable, index {PID + 1, test, input}; rows for PIDs with errors, made by the
  producer. Its read-create columns are not writable here (rows are not created by SET; a
  write answers notWritable): tsTestsSummaryEnable is copied into them;
- tsTestsPreferencesTable, index {input}: the limits, read-write (FloatingPoint text);
- trapControlTable, index {input}: rate control (read-write) and the FailureSummary;
- capabilityTSTable, index {OID}: which tests are real;
- controlRFSystemTable, index {input}: rfSystemDelivery unknown(1) (an IP input).

The rows are made by a producer (the collectors' `publish.tr101290`); written values are kept
by the store and persisted in written.json like the block tables' (the producer carries them
into the rows it makes). The counters' reset is a time: a write of true(1) to
...CounterReset records when (`reset_ns`); the row serves a zero counter until its producer
has applied that reset (`reset_applied_ns`), then the producer's counter.

Scalars (`dvb_scalars.DvbScalars`, a provider): controlNow, controlEventPersistence,
capabilityMIBRevision
and the five capability group scalars. controlEventPersistence is writable (a FloatingPoint
number of seconds, 0..86400; persisted in written.json's "scalars"); controlNow, read-write in
the MIB, is the host's clock and answers notWritable (set the clock with NTP).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, make_dataclass
from datetime import UTC, datetime
from typing import Any

from iec62379.mibs.vocabulary import TestState, TsTest

from .tables import (
    I32_MAX,
    U32_MAX,
    WRONG_LENGTH,
    WRONG_VALUE,
    ColumnSpec,
    Refused,
    Table,
    WriteRule,
)

DVB_MIB = "DVB-MGTR101290-MIB"

# Enable (BITS): testEnable(0), failTrapEnable(1), unknownTrapEnable(2), bit 0 = 0x80.
TEST_ENABLE = 0x80
FAIL_TRAP_ENABLE = 0x40
UNKNOWN_TRAP_ENABLE = 0x20
DEFAULT_ENABLE = TEST_ENABLE  # DEFVAL { testEnable }: tests run, fail traps off

#: The tests with tsTestsPIDTable rows (of those an IP probe runs).
PID_TESTS = frozenset({
    TsTest.continuityCountError, TsTest.pmtError2, TsTest.pidError, TsTest.pcrRepetitionError,
    TsTest.pcrDiscontinuityError, TsTest.pcrAccuracyError, TsTest.ptsError,
})

# RateStatus
RATE_DISABLED, RATE_ENABLED, RATE_THROTTLED = 1, 2, 3
DEFAULT_TRAP_PERIOD_MS = 1000

#: TestSummary: 89 named bits = 12 octets.
SUMMARY_OCTETS = 12


def date_and_time(ns: int | None) -> bytes:
    """SNMPv2-TC DateAndTime of a UTC time in ns since the epoch, 11 octets with the UTC offset
    (+00:00); None (never) is 1970-01-01 00:00:00.0 UTC."""
    t = datetime.fromtimestamp((ns or 0) / 1e9, UTC)
    return bytes([t.year >> 8, t.year & 0xFF, t.month, t.day, t.hour, t.minute, t.second,
                  t.microsecond // 100_000, ord("+"), 0, 0])


def summary_bits(failing: Iterable[TsTest]) -> bytes:
    """TestSummary with the bits of the `failing` tests set (bit = position in TsTest)."""
    out = bytearray(SUMMARY_OCTETS)
    order = list(TsTest)
    for test in failing:
        bit = order.index(test)
        out[bit // 8] |= 0x80 >> (bit % 8)
    return bytes(out)


# --- SET rules ------------------------------------------------------------------------------


def decode_enable(row: Any, value: Any) -> int:
    """An Enable (BITS) SET: at most one octet, no bit beyond unknownTrapEnable."""
    if not isinstance(value, bytes) or len(value) > 1:
        raise Refused(WRONG_LENGTH, "Enable is at most one octet")
    bits = value[0] if value else 0
    if bits & 0x1F:
        raise Refused(WRONG_VALUE, "Enable has bits 0-2 only")
    return bits


def decode_reset(row: Any, value: Any) -> int:
    """A ...CounterReset SET: true(1) records the time of the reset, false(2) changes nothing."""
    if value not in (1, 2):
        raise Refused(WRONG_VALUE, "TruthValue is 1 or 2")
    return time.time_ns() if value == 1 else row.reset_ns


_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def parse_floating_point(text: str) -> float:
    """A FloatingPoint value (the DVB MIB's grammar) as a float; ValueError otherwise."""
    if not _FLOAT.fullmatch(text):
        raise ValueError(f"not a FloatingPoint number: {text!r}")
    return float(text)


def normal_float(value: float) -> str:
    """A limit as it reads back: shortest text that the FloatingPoint grammar accepts."""
    return f"{value:.6g}"


def decode_limit(row: Any, value: Any) -> str:
    """A FloatingPoint limit SET: 1..63 octets of the grammar, a number > 0 (seconds)."""
    if not isinstance(value, bytes) or not 1 <= len(value) <= 63:
        raise Refused(WRONG_LENGTH, "FloatingPoint is 1..63 octets")
    try:
        number = parse_floating_point(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(WRONG_VALUE, str(exc)) from exc
    if not 0 < number <= 86400:
        raise Refused(WRONG_VALUE, "a limit is a number of seconds in (0, 86400]")
    return normal_float(number)


def decode_persistence(value: Any) -> str:
    """A controlEventPersistence SET: 1..63 octets of the grammar, 0..86400 seconds."""
    if not isinstance(value, bytes) or not 1 <= len(value) <= 63:
        raise Refused(WRONG_LENGTH, "FloatingPoint is 1..63 octets")
    try:
        number = parse_floating_point(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(WRONG_VALUE, str(exc)) from exc
    if not 0 <= number <= 86400:
        raise Refused(WRONG_VALUE, "controlEventPersistence is 0..86400 seconds")
    return normal_float(number)


def decode_rate_status(row: Any, value: Any) -> int:
    """trapControlRateStatus: a manager writes disabled(1) or enabled(2), never
    enabledThrottled(3) (the agent's own state)."""
    if value not in (RATE_DISABLED, RATE_ENABLED):
        raise Refused(WRONG_VALUE, "trapControlRateStatus takes disabled(1) or enabled(2)")
    return value


def decode_period(row: Any, value: Any) -> int:
    if not isinstance(value, int) or not 0 <= value <= 3_600_000:
        raise Refused(WRONG_VALUE, "trapControlPeriod is 0..3600000 ms")
    return value


def _same(v: Any) -> Any:
    return v


ENABLE_RULE = WriteRule("enable", decode_enable, _same, int)
RESET_RULE = WriteRule("reset_ns", decode_reset, _same, int)


def _check_input(value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= I32_MAX:
        raise ValueError(f"InputNumber must be an integer in 1..{I32_MAX}, got {value!r}")


def _check_counter(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")


# --- tsTestsSummaryTable --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestSummary:
    """A row of tsTestsSummaryTable: one test of one input. Times are ns since the epoch (UTC),
    None = never; `counter` counts since `discontinuity_ns`."""

    __test__ = False  # not a pytest class

    test: TsTest
    input: int
    state: TestState = TestState.UNKNOWN
    enable: int = DEFAULT_ENABLE
    counter: int = 0
    discontinuity_ns: int | None = None
    latest_error_ns: int | None = None
    active_s: int = 0
    reset_ns: int = 0  # the latest reset a manager wrote (0: none)
    reset_applied_ns: int = 0  # the latest reset the producer applied

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", TsTest(self.test))
        object.__setattr__(self, "state", TestState(self.state))
        _check_input(self.input)
        _check_counter("tsTestsSummaryCounter", self.counter)
        _check_counter("tsTestsSummaryActiveTime", self.active_s)
        if not 0 <= self.enable <= 0xE0 or self.enable & 0x1F:
            raise ValueError(f"tsTestsSummaryEnable has bits 0-2 only, got {self.enable:#x}")

    @property
    def index(self) -> tuple[int, ...]:
        return (int(self.test), self.input)

    @property
    def served_state(self) -> int:
        return int(TestState.DISABLED if not self.enable & TEST_ENABLE else self.state)


def _counter(row: Any) -> int:
    """The counter as served: 0 from a manager's reset until the producer has applied it."""
    return 0 if row.reset_ns > row.reset_applied_ns else row.counter & U32_MAX


def _discontinuity(row: Any) -> bytes:
    pending = row.reset_ns if row.reset_ns > row.reset_applied_ns else 0
    return date_and_time(max(row.discontinuity_ns or 0, pending) or None)


SUMMARY = Table("tsTestsSummaryTable", TestSummary, "dvb_summary", (
    ColumnSpec("tsTestsSummaryInputNumber", "input"),
    ColumnSpec("tsTestsSummaryTestNumber", get=lambda r: int(r.test)),
    ColumnSpec("tsTestsSummaryState", get=lambda r: r.served_state),
    ColumnSpec("tsTestsSummaryEnable", get=lambda r: bytes([r.enable]), write=ENABLE_RULE),
    ColumnSpec("tsTestsSummaryCounter", get=_counter),
    ColumnSpec("tsTestsSummaryCounterDiscontinuity", get=_discontinuity),
    ColumnSpec("tsTestsSummaryCounterReset", get=lambda r: 2, write=RESET_RULE),
    ColumnSpec("tsTestsSummaryLatestError", get=lambda r: date_and_time(r.latest_error_ns)),
    ColumnSpec("tsTestsSummaryActiveTime", get=lambda r: min(r.active_s, U32_MAX)),
), module=DVB_MIB, block=False)


# --- tsTestsPIDTable ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestPid:
    """A row of tsTestsPIDTable: one test on one PID of one input (`pid` is the PID itself;
    the index carries PID + 1)."""

    __test__ = False

    pid: int
    test: TsTest
    input: int
    state: TestState = TestState.UNKNOWN
    enable: int = DEFAULT_ENABLE
    counter: int = 0
    discontinuity_ns: int | None = None
    latest_error_ns: int | None = None
    active_s: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", TsTest(self.test))
        object.__setattr__(self, "state", TestState(self.state))
        if not isinstance(self.pid, int) or not 0 <= self.pid <= 0x1FFF:
            raise ValueError(f"a PID is 0..8191, got {self.pid!r}")
        if self.test not in PID_TESTS:
            raise ValueError(f"{self.test.name} has no PID rows")
        _check_input(self.input)
        _check_counter("tsTestsPIDCounter", self.counter)
        _check_counter("tsTestsPIDActiveTime", self.active_s)

    @property
    def index(self) -> tuple[int, ...]:
        return (self.pid + 1, int(self.test), self.input)

    @property
    def served_state(self) -> int:
        return int(TestState.DISABLED if not self.enable & TEST_ENABLE else self.state)


PID = Table("tsTestsPIDTable", TestPid, "dvb_pid", (
    ColumnSpec("tsTestsPIDInputNumber", "input"),
    ColumnSpec("tsTestsPIDPID", get=lambda r: r.pid + 1),
    ColumnSpec("tsTestsPIDTestNumber", get=lambda r: int(r.test)),
    ColumnSpec("tsTestsPIDRowStatus", get=lambda r: 1),  # active(1)
    ColumnSpec("tsTestsPIDState", get=lambda r: r.served_state),
    ColumnSpec("tsTestsPIDEnable", get=lambda r: bytes([r.enable])),
    ColumnSpec("tsTestsPIDCounter", get=lambda r: r.counter & U32_MAX),
    ColumnSpec("tsTestsPIDCounterDiscontinuity", get=lambda r: date_and_time(r.discontinuity_ns)),
    ColumnSpec("tsTestsPIDCounterReset", get=lambda r: 2),
    ColumnSpec("tsTestsPIDLatestError", get=lambda r: date_and_time(r.latest_error_ns)),
    ColumnSpec("tsTestsPIDActiveTime", get=lambda r: min(r.active_s, U32_MAX)),
), module=DVB_MIB, block=False)


# --- tsTestsPreferencesTable ----------------------------------------------------------------

#: (row field, column name after "tsTestsPref", DEFVAL). The first eight are the limits of the
#: tests an IP probe runs (`Tr101290Limits`); the others are served and kept as written.
PREFERENCES: tuple[tuple[str, str, str], ...] = (
    ("transition_duration", "TransitionDuration", "0.5"),
    ("pat_interval_max", "PATSectionIntervalMax", "0.5"),
    ("pmt_interval_max", "PMTSectionIntervalMax", "0.5"),
    ("referred_interval_max", "ReferredIntervalMax", "5"),
    ("pcr_interval_max", "PCRIntervalMax", "0.04"),
    ("pcr_discontinuity_max", "PCRDiscontinuityMax", "0.1"),
    ("pcr_inaccuracy_max", "PCRInaccuracyMax", "500E-9"),
    ("pts_interval_max", "PTSIntervalMax", "0.7"),
    ("nit_actual_interval_max", "NITActualIntervalMax", "10"),
    ("nit_actual_interval_min", "NITActualIntervalMin", "0.025"),
    ("nit_other_interval_max", "NITOtherIntervalMax", "10"),
    ("si_gap_min", "SIGapMin", "0.025"),
    ("nit_table_interval_max", "NITTableIntervalMax", "10"),
    ("bat_table_interval_max", "BATTableIntervalMax", "10"),
    ("sdt_actual_table_interval_max", "SDTActualTableIntervalMax", "2"),
    ("sdt_other_table_interval_max", "SDTOtherTableIntervalMax", "10"),
    ("eit_pf_actual_table_interval_max", "EITPFActualTableIntervalMax", "2"),
    ("eit_pf_other_table_interval_max", "EITPFOtherTableIntervalMax", "10"),
    ("eit_s_actual_near_table_interval_max", "EITSActualNearTableIntervalMax", "10"),
    ("eit_s_actual_far_table_interval_max", "EITSActualFarTableIntervalMax", "10"),
    ("eit_s_other_near_table_interval_max", "EITSOtherNearTableIntervalMax", "10"),
    ("eit_s_other_far_table_interval_max", "EITSOtherFarTableIntervalMax", "30"),
    ("txt_table_interval_max", "TxTTableIntervalMax", "30"),
    ("sdt_actual_interval_max", "SDTActualIntervalMax", "2"),
    ("sdt_actual_interval_min", "SDTActualIntervalMin", "0.025"),
    ("sdt_other_interval_max", "SDTOtherIntervalMax", "10"),
    ("eit_actual_interval_max", "EITActualIntervalMax", "2"),
    ("eit_actual_interval_min", "EITActualIntervalMin", "0.025"),
    ("eit_other_interval_max", "EITOtherIntervalMax", "10"),
    ("rst_interval_min", "RSTIntervalMin", "0.025"),
    ("tdt_interval_max", "TDTIntervalMax", "10"),
    ("tdt_interval_min", "TDTIntervalMin", "0.025"),
)


def _check_preferences(self: Any) -> None:
    _check_input(self.input)
    for name, col, _ in PREFERENCES:
        value = getattr(self, name)
        if not isinstance(value, str):
            raise ValueError(f"tsTestsPref{col} must be text, got {value!r}")
        parse_floating_point(value)


def _prefs_index(self: Any) -> tuple[int, ...]:
    return (self.input,)


#: A row of tsTestsPreferencesTable: the input and one text field per limit (DEFVALs
#: normalised as they read back).
TestPreferences = make_dataclass(
    "TestPreferences",
    [("input", int)] + [(name, str, field(default=normal_float(float(dv))))
                        for name, _, dv in PREFERENCES],
    frozen=True, slots=True,
    namespace={"__post_init__": _check_preferences, "index": property(_prefs_index),
               "__module__": __name__, "__test__": False,
               "__doc__": "A row of tsTestsPreferencesTable (see PREFERENCES)."},
)


def _pref_getter(name: str) -> Callable[[Any], bytes]:
    return lambda r: getattr(r, name).encode("ascii")


PREFERENCES_TABLE = Table("tsTestsPreferencesTable", TestPreferences, "dvb_preferences", (
    ColumnSpec("tsTestsPrefInputNumber", "input"),
    *(ColumnSpec(f"tsTestsPref{col}", get=_pref_getter(name),
                 write=WriteRule(name, decode_limit, _same, str))
      for name, col, _ in PREFERENCES),
), module=DVB_MIB, block=False)


def limits_seconds(prefs: Any) -> dict[str, float]:
    """The eight limits of the tests an IP probe runs, in seconds, by field name."""
    return {name: float(getattr(prefs, name)) for name, _, _ in PREFERENCES[:8]}


# --- controlRFSystemTable -------------------------------------------------------------------

# DeliverySystemType
DELIVERY_UNKNOWN = 1


@dataclass(frozen=True, slots=True)
class RfSystem:
    """A row of controlRFSystemTable: the physical delivery system an input should expect.
    Its column is in the MIB's mandatory groupControl; an input of this probe is an IP flow,
    which has none of the RF systems (cable, satellite, terrestrial): always unknown(1)."""

    input: int
    delivery: int = DELIVERY_UNKNOWN

    def __post_init__(self) -> None:
        _check_input(self.input)
        if self.delivery != DELIVERY_UNKNOWN:
            raise ValueError(f"rfSystemDelivery of an IP input is unknown(1), got "
                             f"{self.delivery!r}")

    @property
    def index(self) -> tuple[int, ...]:
        return (self.input,)


def decode_delivery(row: Any, value: Any) -> int:
    """rfSystemDelivery: an IP input has no RF delivery system to expect, so unknown(1) is
    the one value taken (a no-op); cable(2), satellite(3), terrestrial(4) and anything else
    are wrongValue."""
    if value != DELIVERY_UNKNOWN:
        raise Refused(WRONG_VALUE, "rfSystemDelivery of an IP input is unknown(1): the input "
                      "has no cable, satellite or terrestrial delivery system")
    return value


RF_SYSTEM = Table("controlRFSystemTable", RfSystem, "dvb_rf_system", (
    ColumnSpec("rfSystemInputNumber", "input"),
    ColumnSpec("rfSystemDelivery", "delivery",
               write=WriteRule("delivery", decode_delivery, _same, int)),
), module=DVB_MIB, block=False)


# --- trapControlTable -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrapControl:
    """A row of trapControlTable: the trap rate control of one input. `throttled_until_ns`
    is when enabledThrottled ends (0: not throttled); `failing` the tests in fail now."""

    input: int
    rate_status: int = RATE_ENABLED
    period_ms: int = DEFAULT_TRAP_PERIOD_MS
    throttled_until_ns: int = 0
    failing: frozenset[TsTest] = frozenset()

    def __post_init__(self) -> None:
        _check_input(self.input)
        if self.rate_status not in (RATE_DISABLED, RATE_ENABLED):
            raise ValueError(f"trapControlRateStatus is 1 or 2, got {self.rate_status!r}")
        if not 0 <= self.period_ms <= 3_600_000:
            raise ValueError(f"trapControlPeriod is 0..3600000, got {self.period_ms!r}")

    @property
    def index(self) -> tuple[int, ...]:
        return (self.input,)

    def served_rate_status(self, now_ns: int | None = None) -> int:
        now = time.time_ns() if now_ns is None else now_ns
        if self.rate_status == RATE_ENABLED and self.throttled_until_ns > now:
            return RATE_THROTTLED
        return self.rate_status


TRAP_CONTROL = Table("trapControlTable", TrapControl, "dvb_trap_control", (
    ColumnSpec("trapControlInputNumber", "input"),
    ColumnSpec("trapControlOID", get=lambda r: (0, 0)),  # accessible-for-notify: not served
    ColumnSpec("trapControlGenerationTime", get=lambda r: b""),
    ColumnSpec("trapControlMeasurementValue", get=lambda r: b""),
    ColumnSpec("trapControlRateStatus", get=lambda r: r.served_rate_status(),
               write=WriteRule("rate_status", decode_rate_status, _same, int)),
    ColumnSpec("trapControlPeriod", "period_ms",
               write=WriteRule("period_ms", decode_period, _same, int)),
    ColumnSpec("trapControlFailureSummary", get=lambda r: summary_bits(r.failing)),
), module=DVB_MIB, block=False)


# --- capabilityTSTable ----------------------------------------------------------------------

# Availability
NOT_AVAILABLE, TEST_AVAILABLE = 1, 2


@dataclass(frozen=True, slots=True)
class TsCapability:
    """A row of capabilityTSTable: the test named by `oid` (see the MIB's construction) and
    whether it is provided. The index is the OID with its length first (not IMPLIED)."""

    oid: tuple[int, ...]
    availability: int = NOT_AVAILABLE
    poll_ms: int = -1

    @property
    def index(self) -> tuple[int, ...]:
        return (len(self.oid), *self.oid)


CAPABILITY_TS = Table("capabilityTSTable", TsCapability, "dvb_capability", (
    ColumnSpec("capabilityTSOID", "oid"),
    ColumnSpec("capabilityTSAvailability", "availability"),
    ColumnSpec("capabilityTSPollInterval", "poll_ms"),
), module=DVB_MIB, block=False)


def capability_rows(state_column_oid: tuple[int, ...], poll_ms: int,
                    available: frozenset[TsTest]) -> list[TsCapability]:
    """capabilityTSTable's rows for the 27 transport stream tests (tsTestsSummaryState.{test}.0):
    testAvailable(2) for `available`, notAvailable(1) for the others. (Bits 27-37 of the
    TestSummary, the measurements and service performance, are not served.)"""
    numbers = (1010, 1020, 1031, 1040, 1051, 1060, 2010, 2020, 2031, 2032, 2040, 2050, 2060,
               3011, 3012, 3020, 3030, 3041, 3051, 3052, 3061, 3062, 3063, 3070, 3080, 3090,
               3100)
    return [
        TsCapability(oid=state_column_oid + (n, 0),
                     availability=TEST_AVAILABLE if n in available else NOT_AVAILABLE,
                     poll_ms=poll_ms if n in available else -1)
        for n in numbers
    ]


# --- extTsInputTable (IEC62379-EXT-MIB): which stream an input is ------------------------


@dataclass(frozen=True, slots=True)
class TsInput:
    """A row of IEC62379-EXT-MIB's extTsInputTable: the configured stream an InputNumber is.
    Addresses are 4 or 16 octets in network order (`source` empty: any source)."""

    input: int
    name: str
    address: bytes
    port: int
    rx_block_id: int
    source: bytes = b""

    def __post_init__(self) -> None:
        _check_input(self.input)
        if len(self.address) not in (4, 16) or len(self.source) not in (0, len(self.address)):
            raise ValueError(f"extTsInputAddress is 4 or 16 octets (the source as long, or "
                             f"empty), got {self.address!r} / {self.source!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"extTsInputPort is 0..65535, got {self.port!r}")
        if not 0 <= self.rx_block_id <= U32_MAX:
            raise ValueError(f"extTsInputRxPointBlockId is 0..{U32_MAX}, got {self.rx_block_id}")

    @property
    def index(self) -> tuple[int, ...]:
        return (self.input,)


TS_INPUT = Table("extTsInputTable", TsInput, "dvb_input", (
    ColumnSpec("extTsInputNumber", "input"),
    ColumnSpec("extTsInputName", get=lambda r: r.name.encode()[:255]),
    ColumnSpec("extTsInputAddressType", get=lambda r: 1 if len(r.address) == 4 else 2),
    ColumnSpec("extTsInputAddress", "address"),
    ColumnSpec("extTsInputSourceAddress", "source"),
    ColumnSpec("extTsInputPort", "port"),
    ColumnSpec("extTsInputRxPointBlockId", "rx_block_id"),
), module="IEC62379-EXT-MIB", block=False)


#: The DVB tables, in MIB order, and the extension module's table of their inputs.
DVB_TABLES: tuple[Table, ...] = (RF_SYSTEM, TRAP_CONTROL, CAPABILITY_TS, SUMMARY, PID,
                                 PREFERENCES_TABLE, TS_INPUT)


__all__ = [
    "CAPABILITY_TS", "DVB_MIB", "DVB_TABLES", "PID", "PID_TESTS", "PREFERENCES",
    "PREFERENCES_TABLE", "RF_SYSTEM", "RfSystem", "SUMMARY", "TRAP_CONTROL", "TestPid",
    "TestPreferences", "TestSummary", "TrapControl", "TsCapability", "TS_INPUT", "TsInput",
    "date_and_time", "limits_seconds", "normal_float", "parse_floating_point", "summary_bits",
]
