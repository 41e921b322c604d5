"""The temperature block: from sensor readings to temperatureTable rows. Pure, no I/O.

Readings come from ``iec62379.collectors.sources.thermal`` (milli-degrees Celsius, with the
sensor's own limits). This module decides the thresholds, the status and the reported values.

Thresholds (columns 6-9, whole degrees Celsius)
-----------------------------------------------
Each of low_warning, high_warning, low_critical and high_critical comes from the config
override for the location when the override sets it, else from the sensor's own limit
(hwmon ``min``/``max``/``lcrit``/``crit``, thermal trips), rounded to the nearest degree
(halves upwards). A threshold may be absent (``None``); the row then carries ``None`` and the
agent decides how to show it. The emergency limit (hwmon ``temp*_emergency``, the thermal
zone's ``critical`` trip) is not a column; it only decides nonRecoverable(6).

Status (column 5, TemperatureStatus), in this order
---------------------------------------------------
1. unknown(2): there is no reading (the sensor exists but gave no value this time).
2. undetermined(0): there is a reading but no threshold at all (nothing to judge it against).
3. nonRecoverable(6): the reading is beyond the emergency limit. At hwmon's emergency limit
   the hardware protects itself, and at a thermal zone's critical trip the kernel powers the
   machine off: the unit cannot recover by itself.
4. critical(5): beyond high_critical or low_critical.
5. warning(4): beyond high_warning or low_warning.
6. ok(3): otherwise.
other(1) is never produced. "Beyond" is strict: above a high threshold, below a low one; a
reading equal to a threshold is still on the good side. The status follows the true reading,
also below 0 °C.

Hysteresis
----------
With a hysteresis of H degrees (config, default 0) a breached threshold T is only left when the
reading comes back past T - H (high side) or T + H (low side); entering a worse state is never
delayed. The previous :class:`Assessment` says which side and level were breached, so a jump
from below low_warning to near high_warning is not mistaken for a held high alarm.

Trend (column 4, TemperatureTrend, a Gauge32)
---------------------------------------------
The reading in whole degrees Celsius, rounded to the nearest degree, halves away from zero (the
digest does not say how halves round; this is the conventional rounding of a displayed value);
a reading below 0 °C is reported as 0 (a Gauge32 cannot be negative); no reading gives 0. The
agent's model rounds ``Temperature.celsius`` with the same function,
``iec62379.mibs.vocabulary.temperature_trend``, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from iec62379.collectors.settings import ThresholdOverride
from iec62379.collectors.sources.thermal import SensorThresholds, TemperatureReading
from iec62379.mibs.vocabulary import TemperatureStatus, temperature_trend

_SEVERITY = {
    TemperatureStatus.OK: 0,
    TemperatureStatus.WARNING: 1,
    TemperatureStatus.CRITICAL: 2,
    TemperatureStatus.NON_RECOVERABLE: 3,
}


@dataclass(frozen=True)
class Thresholds:
    """The thresholds that apply to one location, whole °C, plus the emergency limit in m°C."""

    low_warning: int | None = None
    high_warning: int | None = None
    low_critical: int | None = None
    high_critical: int | None = None
    emergency_mc: int | None = None

    def empty(self) -> bool:
        """True when there is nothing to judge a reading against."""
        return all(
            v is None
            for v in (
                self.low_warning,
                self.high_warning,
                self.low_critical,
                self.high_critical,
                self.emergency_mc,
            )
        )


@dataclass(frozen=True)
class Assessment:
    """A status and the threshold that caused it (``None`` for ok/unknown/undetermined).

    ``breached`` is one of ``"emergency"``, ``"high_critical"``, ``"low_critical"``,
    ``"high_warning"``, ``"low_warning"``.
    """

    status: TemperatureStatus
    breached: str | None = None


@dataclass(frozen=True)
class TemperatureRow:
    """The measured columns of one temperatureTable row (columns 2-9)."""

    locn_number: int
    location: str
    trend: int
    status: TemperatureStatus
    low_warning: int | None
    high_warning: int | None
    low_critical: int | None
    high_critical: int | None
    assessment: Assessment


def whole_degrees(milli: int) -> int:
    """Milli-degrees to the nearest whole degree, halves upwards (-500 -> 0, 1500 -> 2)."""
    return (milli + 500) // 1000


def trend_value(value_mc: int | None) -> int:
    """TemperatureTrend of a reading in milli-degrees: whole degrees (halves away from zero),
    0 for readings below 0 °C or no reading (``mibs.vocabulary.temperature_trend``, exactly)."""
    return temperature_trend(None if value_mc is None else Fraction(value_mc, 1000))


def resolve_thresholds(
    sensor: SensorThresholds, override: ThresholdOverride | None = None
) -> Thresholds:
    """The thresholds for a location: the override's where set, else the sensor's, in °C."""
    override = override or ThresholdOverride()

    def pick(configured: int | None, own_mc: int | None) -> int | None:
        if configured is not None:
            return configured
        return None if own_mc is None else whole_degrees(own_mc)

    return Thresholds(
        low_warning=pick(override.low_warning, sensor.low_warning_mc),
        high_warning=pick(override.high_warning, sensor.high_warning_mc),
        low_critical=pick(override.low_critical, sensor.low_critical_mc),
        high_critical=pick(override.high_critical, sensor.high_critical_mc),
        emergency_mc=sensor.emergency_mc,
    )


def assess(
    value_mc: int | None,
    thresholds: Thresholds,
    previous: Assessment | None = None,
    hysteresis: int = 0,
) -> Assessment:
    """The status of a reading (milli-degrees) against ``thresholds``; see the module docstring.

    ``previous`` and ``hysteresis`` (whole °C, >= 0) give the hysteresis band.
    """
    if hysteresis < 0:
        raise ValueError(f"hysteresis must be >= 0 °C, not {hysteresis}")
    if value_mc is None:
        return Assessment(TemperatureStatus.UNKNOWN)
    if thresholds.empty():
        return Assessment(TemperatureStatus.UNDETERMINED)
    band = hysteresis * 1000
    held_side, held_level = None, -1
    if previous is not None and previous.breached is not None:
        held_side = "low" if previous.breached.startswith("low") else "high"
        held_level = _SEVERITY.get(previous.status, -1)

    def beyond(limit_mc: int | None, side: str, status: TemperatureStatus) -> bool:
        if limit_mc is None:
            return False
        margin = band if side == held_side and held_level >= _SEVERITY[status] else 0
        if side == "high":
            return value_mc > limit_mc - margin
        return value_mc < limit_mc + margin

    def mc(degrees: int | None) -> int | None:
        return None if degrees is None else degrees * 1000

    checks = (
        ("emergency", thresholds.emergency_mc, "high", TemperatureStatus.NON_RECOVERABLE),
        ("high_critical", mc(thresholds.high_critical), "high", TemperatureStatus.CRITICAL),
        ("low_critical", mc(thresholds.low_critical), "low", TemperatureStatus.CRITICAL),
        ("high_warning", mc(thresholds.high_warning), "high", TemperatureStatus.WARNING),
        ("low_warning", mc(thresholds.low_warning), "low", TemperatureStatus.WARNING),
    )
    for name, limit, side, status in checks:
        if beyond(limit, side, status):
            return Assessment(status, name)
    return Assessment(TemperatureStatus.OK)


def build_row(
    reading: TemperatureReading,
    override: ThresholdOverride | None = None,
    previous: Assessment | None = None,
    hysteresis: int = 0,
    locn_number: int | None = None,
) -> TemperatureRow:
    """The temperatureTable columns for one reading.

    ``locn_number`` defaults to the reading's own number (its place in the scan's order).
    """
    thresholds = resolve_thresholds(reading.thresholds, override)
    assessment = assess(reading.value_mc, thresholds, previous, hysteresis)
    return TemperatureRow(
        locn_number=reading.number if locn_number is None else locn_number,
        location=reading.location,
        trend=trend_value(reading.value_mc),
        status=assessment.status,
        low_warning=thresholds.low_warning,
        high_warning=thresholds.high_warning,
        low_critical=thresholds.low_critical,
        high_critical=thresholds.high_critical,
        assessment=assessment,
    )


def build_rows(
    readings: Iterable[TemperatureReading],
    overrides: Mapping[str, ThresholdOverride] | None = None,
    previous: Mapping[str, Assessment] | None = None,
    hysteresis: int = 0,
    numbers: Mapping[str, int] | None = None,
) -> list[TemperatureRow]:
    """Rows for all readings, ordered by location number.

    ``overrides`` and ``previous`` are keyed by location name; ``numbers`` (from
    :func:`assign_locn_numbers`) replaces the readings' own numbers.
    """
    overrides = overrides or {}
    previous = previous or {}
    rows = [
        build_row(
            r,
            overrides.get(r.location),
            previous.get(r.location),
            hysteresis,
            None if numbers is None else numbers[r.location],
        )
        for r in readings
    ]
    return sorted(rows, key=lambda row: row.locn_number)


def assign_locn_numbers(
    locations: Iterable[str], previous: Mapping[str, int] | None = None
) -> dict[str, int]:
    """temperatureLocnNumber for each location, keeping the numbers given before.

    Locations in ``previous`` keep their number. Numbers in ``previous`` stay reserved even
    for locations that are absent now, so a sensor that comes back (a drive plugged in again)
    gets its old number; new locations get the lowest numbers (>= 1) not in ``previous``, in
    the order given (the scan's stable order). Without ``previous`` the numbers are 1..n in
    that order, the same as the scan's own numbering, so a restart gives the same numbers.
    """
    previous = dict(previous or {})
    result: dict[str, int] = {}
    pending = []
    seen: set[str] = set()
    for location in locations:
        if location in seen:
            raise ValueError(f"location {location!r} appears twice")
        seen.add(location)
        if location in previous:
            result[location] = previous[location]
        else:
            pending.append(location)
    taken = set(previous.values())
    candidate = 1
    for location in pending:
        while candidate in taken:
            candidate += 1
        result[location] = candidate
        taken.add(candidate)
    return result
