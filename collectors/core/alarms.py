"""Alarm conditions: thresholds with hysteresis, persistence, and the transitions they make.

Pure: no clock, no I/O. The caller says what was measured over which stretch of time (an
interval report and its end, a temperature scan and its time) and gets back the transitions
that this made: an alarm **raised**, an alarm **cleared**, or an **event** (a condition that
ended within its persistence time, so that no alarm was raised). Who keeps the alarms (the
agent's AlarmBook) acts on them.

The rules, per (resource, condition), like RFC 2819's alarm group and net-snmp's `monitor`:

- A condition *starts* when its value reaches the rising threshold (``value >= raise_at``;
  for a "low" condition such as bitRateLow, ``value <= raise_at``). From then on it *holds*
  until its value passes the falling threshold back (``value <= clear_at``; low:
  ``value >= clear_at``): the hysteresis between the two keeps a value that hovers around
  one limit from flapping.
- Persistence: an alarm is raised when the condition has held for ``persistence_s``, measured
  from the start of the first interval in which it held to the end of the latest one. The
  conditions are evaluated as intervals close (1 s by default), so the persistence is counted
  in whole intervals of the report's clock: with 1 s intervals and 2 s persistence, two
  intervals in a row raise an alarm. A condition that ends sooner is an event.
- Clear: a raised alarm clears in the first interval its value passes the falling threshold.
- No value (None: e.g. DF without a media rate, a TR 101 290 test that could not be run, or
  the stream's other conditions while it has no packets) changes nothing: a condition that
  held keeps holding, one that did not still does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from iec62379.mibs.vocabulary import (
    AlarmCondition,
    AlarmLogType,
    Severity,
    TemperatureStatus,
    TestState,
)

from .report import IntervalReport

C = AlarmCondition

#: Conditions whose alarm rises when the value falls (the others rise when it rises).
LOW_CONDITIONS = frozenset({C.bitRateLow})

#: Conditions with no limits of their own: the value is 1 while they hold, 0 otherwise.
BOOLEAN_CONDITIONS = frozenset(
    {C.videoLost, C.audioLost, C.streamLost, C.temperatureWarning, C.temperatureCritical,
     C.other} | {c for c in C if c.ts_test is not None}
)

#: The conditions evaluated from a stream's interval reports (streamLost is evaluated from the
#: stream's presence, the temperature ones from the temperature rows).
STREAM_CONDITIONS = tuple(
    c for c in C if c not in (C.streamLost, C.temperatureWarning, C.temperatureCritical, C.other)
)

_UNITS = {
    C.dfHigh: ("ms", 2), C.mlrHigh: ("packets/s", 2), C.tsdfHigh: ("us", 0),
    C.rtpLoss: ("packets", 0), C.bitRateLow: ("bit/s", 0), C.bitRateHigh: ("bit/s", 0),
}


@dataclass(frozen=True, slots=True)
class Limit:
    """The rising and falling thresholds of one condition and the severity of its alarm.
    Boolean conditions (presence, temperature status, TR 101 290) use raise_at 1, clear_at 0."""

    raise_at: float
    clear_at: float
    severity: Severity

    def check(self, low: bool = False) -> None:
        """ValueError unless the falling threshold is on the clearing side of the rising one."""
        if self.severity is Severity.CLEARED:
            raise ValueError("the severity of an alarm cannot be cleared")
        if low and self.clear_at < self.raise_at:
            raise ValueError(f"clear ({self.clear_at:g}) must not be below raise "
                             f"({self.raise_at:g}) for a condition that rises when the value falls")
        if not low and self.clear_at > self.raise_at:
            raise ValueError(f"clear ({self.clear_at:g}) must not be above raise "
                             f"({self.raise_at:g})")


def _flag(severity: Severity) -> Limit:
    return Limit(1, 0, severity)


#: The limits a stream has unless its configuration says otherwise (docs/configuration.md).
DEFAULT_LIMITS: dict[AlarmCondition, Limit] = {
    C.dfHigh: Limit(150.0, 100.0, Severity.WARNING),  # ms
    C.mlrHigh: Limit(1.0, 0.0, Severity.MAJOR),  # media packets lost per second
    C.tsdfHigh: Limit(150_000, 100_000, Severity.WARNING),  # us
    C.rtpLoss: Limit(1, 0, Severity.MINOR),  # RTP packets lost in an interval
    C.videoLost: _flag(Severity.MAJOR),
    C.audioLost: _flag(Severity.MAJOR),
    C.streamLost: _flag(Severity.CRITICAL),
    **{c: _flag(Severity.MAJOR if int(c) < 2000 else Severity.MINOR)
       for c in C if c.ts_test is not None},
}
#: Temperature limits: temperatureStatus warning (or worse), critical (or worse).
DEFAULT_TEMPERATURE_LIMITS: dict[AlarmCondition, Limit] = {
    C.temperatureWarning: _flag(Severity.WARNING),
    C.temperatureCritical: _flag(Severity.CRITICAL),
}
DEFAULT_PERSISTENCE_S = 2.0


@dataclass(frozen=True, slots=True)
class AlarmLimits:
    """The conditions evaluated for one stream (or the temperature block), their limits and
    the persistence time. A condition absent from `limits` is not evaluated."""

    limits: Mapping[AlarmCondition, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    persistence_s: float = DEFAULT_PERSISTENCE_S

    def __hash__(self) -> int:  # the limits are a dict: hash their items
        return hash((tuple(sorted(self.limits.items())), self.persistence_s))

    def __post_init__(self) -> None:
        if not 0 <= self.persistence_s <= 86400:
            raise ValueError(f"persistence_s must be within 0..86400 s, got {self.persistence_s}")
        for condition, limit in self.limits.items():
            try:
                limit.check(condition in LOW_CONDITIONS)
            except ValueError as exc:
                raise ValueError(f"{condition.name}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One change an evaluation made. `value` is the condition's worst value while it held
    (raised, event) or the value that cleared it (cleared); `shown` the same as text with its
    unit. `since_ns` is when the condition started, `at_ns` the end of the interval that made
    the change."""

    kind: AlarmLogType
    block_id: int
    component: int
    condition: AlarmCondition
    severity: Severity
    value: float
    shown: str
    since_ns: int
    at_ns: int
    description: str

    @property
    def resource(self) -> tuple[int, int]:
        return (self.block_id, self.component)


def value_text(condition: AlarmCondition, value: float) -> str:
    """A condition's value with its unit, as the alarm tables show it."""
    unit = _UNITS.get(condition)
    if unit is not None:
        name, places = unit
        return f"{value:.{places}f} {name}"
    if condition in (C.temperatureWarning, C.temperatureCritical):
        return f"{value:.1f} C"
    return "yes" if value else "no"


@dataclass(slots=True)
class _Held:
    since_ns: int
    worst: float
    shown: float
    raised: bool = False


Key = tuple[int, int, AlarmCondition]


class AlarmEvaluator:
    """The state of every condition of a set of resources; see the module docstring."""

    def __init__(self, persistence_s: float = DEFAULT_PERSISTENCE_S) -> None:
        self.persistence_ns = int(round(persistence_s * 1e9))
        self._held: dict[Key, _Held] = {}

    def observe(
        self,
        block_id: int,
        component: int,
        condition: AlarmCondition,
        limit: Limit,
        value: float | None,
        start_ns: int,
        end_ns: int,
        what: str = "",
        shown: float | None = None,
    ) -> AlarmTransition | None:
        """The condition's value over [start_ns, end_ns); the transition it makes, if any.
        `what` names the resource in the description; `shown` is the value to show when it
        is not the compared one (a temperature reading for a status condition)."""
        if value is None:
            return None
        key = (block_id, component, condition)
        held = self._held.get(key)
        low = condition in LOW_CONDITIONS
        show = value if shown is None else shown
        if held is None:
            if not (value <= limit.raise_at if low else value >= limit.raise_at):
                return None
            held = self._held[key] = _Held(start_ns, value, show)
        else:
            if value <= limit.clear_at if not low else value >= limit.clear_at:
                del self._held[key]
                if held.raised:
                    return self._transition(AlarmLogType.CLEARED, key, limit, value, show,
                                            held.since_ns, end_ns, what)
                return self._transition(AlarmLogType.EVENT, key, limit, held.worst, held.shown,
                                        held.since_ns, end_ns, what)
            if value < held.worst if low else value > held.worst:
                held.worst, held.shown = value, show
        if not held.raised and end_ns - held.since_ns >= self.persistence_ns:
            held.raised = True
            return self._transition(AlarmLogType.RAISED, key, limit, held.worst, held.shown,
                                    held.since_ns, end_ns, what)
        return None

    def _transition(self, kind: AlarmLogType, key: Key, limit: Limit, value: float,
                    shown: float, since_ns: int, at_ns: int, what: str) -> AlarmTransition:
        block_id, component, condition = key
        return AlarmTransition(
            kind=kind, block_id=block_id, component=component, condition=condition,
            severity=limit.severity, value=value, shown=value_text(condition, shown),
            since_ns=since_ns, at_ns=at_ns,
            description=describe(condition, limit, what),
        )

    def holding(self, block_id: int, component: int, condition: AlarmCondition) -> bool:
        return (block_id, component, condition) in self._held

    def raised(self) -> list[Key]:
        """The keys of the alarms raised and not cleared."""
        return [k for k, h in self._held.items() if h.raised]

    def keys(self) -> list[Key]:
        """Every condition that holds (raised or not yet)."""
        return list(self._held)

    def end(self, key: Key, limit: Limit, at_ns: int, what: str = "") -> AlarmTransition | None:
        """Forget a condition (its resource is gone): a raised alarm clears, one that had not
        persisted yet is an event."""
        held = self._held.pop(key, None)
        if held is None:
            return None
        kind = AlarmLogType.CLEARED if held.raised else AlarmLogType.EVENT
        return self._transition(kind, key, limit, held.worst, held.shown, held.since_ns, at_ns,
                                what)


def describe(condition: AlarmCondition, limit: Limit, what: str) -> str:
    """The description of an alarm: the resource, the condition and its limit."""
    head = f"{what}: " if what else ""
    test = condition.ts_test
    if test is not None:
        return f"{head}TR 101 290 {test.name} fails"
    text = {
        C.dfHigh: "delay factor", C.mlrHigh: "media loss rate", C.tsdfHigh: "TS-DF",
        C.rtpLoss: "RTP loss", C.bitRateLow: "bit rate", C.bitRateHigh: "bit rate",
    }.get(condition)
    if text is not None:
        side = "at or below" if condition in LOW_CONDITIONS else "at or above"
        return f"{head}{text} {side} {value_text(condition, limit.raise_at)}"
    return head + {
        C.videoLost: "video lost", C.audioLost: "audio lost", C.streamLost: "stream lost",
        C.temperatureWarning: "temperature warning", C.temperatureCritical: "temperature critical",
    }.get(condition, condition.name)


class StreamAlarms:
    """The conditions of one received stream: the receiver point's measurements, its video and
    audio presence, its TR 101 290 tests, and its presence (streamLost)."""

    def __init__(self, limits: AlarmLimits, rx_block: int, video_block: int, audio_block: int,
                 name: str = "") -> None:
        self.limits = limits
        self.rx, self.video, self.audio = rx_block, video_block, audio_block
        self.name = name
        self.evaluator = AlarmEvaluator(limits.persistence_s)
        self._lost: Limit | None = limits.limits.get(C.streamLost)
        # (condition, limit) of the report conditions, in the enumeration's order
        self._report_limits = [(c, lim) for c, lim in limits.limits.items()
                               if c in STREAM_CONDITIONS]

    def evaluate(self, report: IntervalReport, end_ns: int | None = None) -> list[AlarmTransition]:
        """The transitions of one closed interval. An interval without packets changes only
        streamLost (see `presence`)."""
        if report.datagrams == 0:
            return []
        start = report.start_ns
        end = end_ns if end_ns is not None else start + int(round(report.interval_s * 1e9))
        out: list[AlarmTransition] = []
        ev = self.evaluator
        for condition, limit in self._report_limits:
            if condition is C.audioLost:
                out.extend(self._audio(report, limit, start, end))
                continue
            block = self.video if condition is C.videoLost else self.rx
            t = ev.observe(block, 0, condition, limit, _stream_value(condition, report),
                           start, end, self.name)
            if t is not None:
                out.append(t)
        return out

    def _audio(self, report: IntervalReport, limit: Limit, start: int, end: int
               ) -> list[AlarmTransition]:
        out = []
        seen = set()
        for a in report.audio:
            seen.add(a.component)
            t = self.evaluator.observe(self.audio, a.component, C.audioLost, limit,
                                       0 if a.present else 1, start, end,
                                       f"{self.name} audio {a.component}".strip())
            if t is not None:
                out.append(t)
        if report.program is not None:  # a component gone from the PMT is no longer lost
            for key in self.evaluator.keys():
                if key[0] == self.audio and key[2] is C.audioLost and key[1] not in seen:
                    t = self.evaluator.observe(self.audio, key[1], C.audioLost, limit, 0,
                                               start, end, f"{self.name} audio {key[1]}".strip())
                    if t is not None:
                        out.append(t)
        return out

    def presence(self, lost: bool, since_ns: int, now_ns: int) -> list[AlarmTransition]:
        """streamLost: `lost` says no packet arrived for the presence timeout, since `since_ns`
        (the last packet's arrival + the timeout, or the start of the wait)."""
        if self._lost is None:
            return []
        t = self.evaluator.observe(self.rx, 0, C.streamLost, self._lost, 1 if lost else 0,
                                   since_ns if lost else now_ns, now_ns, self.name)
        return [] if t is None else [t]

    def end_all(self, at_ns: int) -> list[AlarmTransition]:
        """Every condition of the stream ends (the stream is no longer measured)."""
        limits = self.limits.limits
        out = []
        for key in self.evaluator.keys():
            t = self.evaluator.end(key, limits[key[2]], at_ns, self.name)
            if t is not None:
                out.append(t)
        return out


def _stream_value(condition: AlarmCondition, r: IntervalReport) -> float | None:
    if condition is C.dfHigh:
        return r.df_ms
    if condition is C.mlrHigh:
        return r.mlr
    if condition is C.tsdfHigh:
        return r.tsdf_us
    if condition is C.rtpLoss:
        return r.rtp_lost if r.ssrc is not None else None
    if condition in (C.bitRateLow, C.bitRateHigh):
        return r.bitrate_bps
    if condition is C.videoLost:
        return 1 if r.video is not None and not r.video.present else 0
    test = condition.ts_test
    if test is not None:
        outcome = r.tr101290.get(test)
        if outcome is None or outcome.state is TestState.UNKNOWN:
            return None
        return 1 if outcome.state is TestState.FAIL else 0
    return None


@dataclass(frozen=True, slots=True)
class TemperatureReading:
    """One temperature location as the alarms see it."""

    block_id: int
    location_number: int
    location: str
    status: TemperatureStatus
    celsius: float | None = None


_STATUS_LEVEL = {
    C.temperatureWarning: TemperatureStatus.WARNING,
    C.temperatureCritical: TemperatureStatus.CRITICAL,
}
_KNOWN = (TemperatureStatus.OK, TemperatureStatus.WARNING, TemperatureStatus.CRITICAL,
          TemperatureStatus.NON_RECOVERABLE)


class TemperatureAlarms:
    """temperatureWarning / temperatureCritical per location, from each scan's status (the
    thresholds of temperatureTable decided it). The persistence is measured between scans: a
    status seen at one scan only is an event, at two scans persistence_s apart an alarm."""

    def __init__(self, limits: AlarmLimits) -> None:
        self.limits = limits
        self.evaluator = AlarmEvaluator(limits.persistence_s)
        self._last_ns: int | None = None
        self._conditions = [(c, lim) for c, lim in limits.limits.items() if c in _STATUS_LEVEL]

    def evaluate(self, readings: Iterable[TemperatureReading], now_ns: int
                 ) -> list[AlarmTransition]:
        """The transitions of one scan at `now_ns`. A location whose status is not known
        (undetermined, other, unknown) changes nothing; a location gone from the scan ends."""
        start = self._last_ns if self._last_ns is not None else now_ns
        self._last_ns = now_ns
        out: list[AlarmTransition] = []
        seen = set()
        for r in readings:
            seen.add((r.block_id, r.location_number))
            what = r.location or f"location {r.location_number}"
            for condition, limit in self._conditions:
                value = None
                if r.status in _KNOWN:
                    value = 1 if r.status >= _STATUS_LEVEL[condition] else 0
                t = self.evaluator.observe(r.block_id, r.location_number, condition, limit,
                                           value, start, now_ns, what,
                                           shown=r.celsius if r.celsius is not None else 0.0)
                if t is not None:
                    out.append(t)
        for key in self.evaluator.keys():
            if (key[0], key[1]) not in seen:
                t = self.evaluator.end(key, self.limits.limits[key[2]], now_ns)
                if t is not None:
                    out.append(t)
        return out


__all__ = [
    "BOOLEAN_CONDITIONS", "DEFAULT_LIMITS", "DEFAULT_PERSISTENCE_S", "DEFAULT_TEMPERATURE_LIMITS",
    "LOW_CONDITIONS", "STREAM_CONDITIONS", "AlarmEvaluator", "AlarmLimits", "AlarmTransition",
    "Limit", "StreamAlarms", "TemperatureAlarms", "TemperatureReading", "describe", "value_text",
]
