"""Temperature status, thresholds, trend and numbering (pure functions)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from iec62379.agent.model import Temperature
from iec62379.collectors.publish.temperature import (
    Assessment,
    Thresholds,
    assess,
    assign_locn_numbers,
    build_row,
    build_rows,
    resolve_thresholds,
    trend_value,
    whole_degrees,
)
from iec62379.collectors.settings import ThresholdOverride
from iec62379.collectors.sources.thermal import SensorThresholds, TemperatureReading, scan_sysfs
from iec62379.mibs.vocabulary import TemperatureStatus, round_half_away, temperature_trend

S = TemperatureStatus
FULL = Thresholds(
    low_warning=5, high_warning=70, low_critical=0, high_critical=90, emergency_mc=105000
)
WORKSTATION = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs" / "workstation"


def reading(
    value_mc: int | None,
    thresholds: SensorThresholds | None = None,
    location: str = "cpu",
    number: int = 1,
) -> TemperatureReading:
    return TemperatureReading(
        location, value_mc, thresholds or SensorThresholds(), "hwmon", "/x", (0, location), number
    )


def test_status_enum_matches_the_digest() -> None:
    assert [(s.name, s.value) for s in TemperatureStatus] == [
        ("UNDETERMINED", 0),
        ("OTHER", 1),
        ("UNKNOWN", 2),
        ("OK", 3),
        ("WARNING", 4),
        ("CRITICAL", 5),
        ("NON_RECOVERABLE", 6),
    ]


@pytest.mark.parametrize(
    ("value_mc", "status", "breached"),
    [
        (None, S.UNKNOWN, None),
        (40000, S.OK, None),
        (70000, S.OK, None),  # equal to a threshold: not beyond
        (70001, S.WARNING, "high_warning"),
        (90000, S.WARNING, "high_warning"),
        (90500, S.CRITICAL, "high_critical"),
        (105000, S.CRITICAL, "high_critical"),
        (105001, S.NON_RECOVERABLE, "emergency"),
        (5000, S.OK, None),
        (4999, S.WARNING, "low_warning"),
        (0, S.WARNING, "low_warning"),
        (-1, S.CRITICAL, "low_critical"),
        (-40000, S.CRITICAL, "low_critical"),
    ],
)
def test_assess_every_branch(value_mc: int | None, status: S, breached: str | None) -> None:
    assert assess(value_mc, FULL) == Assessment(status, breached)


def test_no_thresholds_is_undetermined_but_no_reading_is_unknown() -> None:
    assert assess(50000, Thresholds()).status == S.UNDETERMINED
    assert assess(None, Thresholds()).status == S.UNKNOWN


def test_only_emergency_limit_still_judges() -> None:
    only = Thresholds(emergency_mc=100000)
    assert assess(50000, only).status == S.OK
    assert assess(100001, only).status == S.NON_RECOVERABLE


def test_status_follows_true_value_below_zero_while_trend_is_zero() -> None:
    sensor = SensorThresholds(low_warning_mc=-20000, low_critical_mc=-30000)
    row = build_row(reading(-25000, sensor))
    assert row.trend == 0
    assert row.status == S.WARNING
    row = build_row(reading(-35000, sensor))
    assert (row.trend, row.status) == (0, S.CRITICAL)


def test_trend_whole_degrees() -> None:
    assert trend_value(None) == 0
    assert trend_value(47400) == 47
    assert trend_value(47500) == 48
    assert trend_value(-500) == 0
    assert trend_value(-1) == 0
    assert trend_value(0) == 0
    assert whole_degrees(-1500) == -1  # halves upwards
    assert whole_degrees(84850) == 85


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, 1),
        (1.5, 2),
        (2.5, 3),  # Python's round gives 2 (halves to even)
        (47.5, 48),
        (-0.5, -1),
        (-1.5, -2),
        (-2.5, -3),
        (0.49999999999999994, 0),  # the float just below 0.5: x + 0.5 would round to 1.0
        (-0.49999999999999994, 0),
        (2.4999999999999996, 2),
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(2499, 1000), 2),
        (0.0, 0),
        (-0.0, 0),
        (7, 7),
        (-7, -7),
    ],
)
def test_round_half_away_from_zero(value: float | Fraction, expected: int) -> None:
    assert round_half_away(value) == expected


@pytest.mark.parametrize(
    ("celsius", "expected"),
    [
        (None, 0),
        (0.4, 0),
        (0.5, 1),
        (2.5, 3),
        (52.5, 53),
        (-0.5, 0),  # below 0 °C: a Gauge32 shows 0
        (-2.5, 0),
        (float("-inf"), 0),
        (float("inf"), 4294967295),
        (4294967295.7, 4294967295),
    ],
)
def test_temperature_trend(celsius: float | None, expected: int) -> None:
    assert temperature_trend(celsius) == expected


def test_agent_model_and_collector_round_the_trend_alike() -> None:
    """Temperature.trend (agent, from °C) and trend_value (collector, from m°C) agree at every
    half degree and around it, negatives included."""
    for milli in [*range(-5500, 5501, 500), *range(-3001, 3002, 1), 47500, 84850, 100500]:
        celsius = milli / 1000
        row = Temperature(5, 1, "cpu", celsius, TemperatureStatus.OK)
        assert row.trend == trend_value(milli) == temperature_trend(celsius), milli
    # The halves: up (away from zero) above 0 °C, 0 below.
    assert [trend_value(m) for m in (500, 1500, 2500, -500, -1500)] == [1, 2, 3, 0, 0]
    assert [Temperature(5, 1, "cpu", c, TemperatureStatus.OK).trend for c in (0.5, 2.5)] == [1, 3]


def test_thresholds_from_sensor_rounded() -> None:
    sensor = SensorThresholds(
        low_critical_mc=-10000,
        low_warning_mc=4600,
        high_warning_mc=84850,
        high_critical_mc=100000,
        emergency_mc=110000,
    )
    assert resolve_thresholds(sensor) == Thresholds(
        low_warning=5, high_warning=85, low_critical=-10, high_critical=100, emergency_mc=110000
    )
    assert resolve_thresholds(SensorThresholds()) == Thresholds()


def test_override_replaces_only_what_it_sets() -> None:
    sensor = SensorThresholds(high_warning_mc=80000, high_critical_mc=100000)
    merged = resolve_thresholds(sensor, ThresholdOverride(high_warning=60, low_warning=10))
    assert merged == Thresholds(low_warning=10, high_warning=60, high_critical=100)
    row = build_row(reading(65000, sensor), ThresholdOverride(high_warning=60))
    assert (row.status, row.high_warning, row.high_critical) == (S.WARNING, 60, 100)
    assert (row.low_warning, row.low_critical) == (None, None)


def test_override_validation() -> None:
    with pytest.raises(ValueError, match=r"low_warning \(30 °C\) must not be above high_warning"):
        ThresholdOverride(low_warning=30, high_warning=20)
    with pytest.raises(ValueError, match="high_critical must be an integer number of °C"):
        ThresholdOverride(high_critical=90.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be an integer"):
        ThresholdOverride(low_warning=True)
    ThresholdOverride(low_critical=-5, high_critical=90)  # gaps are fine


def test_hysteresis_holds_a_breach_until_back_past_the_band() -> None:
    th = Thresholds(high_warning=70, high_critical=90)
    warn = assess(71000, th, hysteresis=2)
    assert warn == Assessment(S.WARNING, "high_warning")
    assert assess(69000, th, warn, hysteresis=2).status == S.WARNING  # inside 68..70
    assert assess(68000, th, warn, hysteresis=2).status == S.OK  # back to T - H
    assert assess(69000, th, warn, hysteresis=0).status == S.OK  # no band
    assert assess(69000, th, None, hysteresis=2).status == S.OK  # rising: no delay
    crit = assess(91000, th, warn, hysteresis=2)  # worse: immediately
    assert crit == Assessment(S.CRITICAL, "high_critical")
    assert assess(89000, th, crit, hysteresis=2).status == S.CRITICAL
    assert assess(87000, th, crit, hysteresis=2).status == S.WARNING  # still above 70


def test_hysteresis_low_side_and_side_change() -> None:
    th = Thresholds(low_warning=5, high_warning=40)
    low = assess(4000, th)
    assert low == Assessment(S.WARNING, "low_warning")
    assert assess(6000, th, low, hysteresis=2).status == S.WARNING
    assert assess(7000, th, low, hysteresis=2).status == S.OK
    # a held low alarm does not relax the high side
    assert assess(39000, th, low, hysteresis=2).status == S.OK
    assert assess(None, th, low, hysteresis=2).status == S.UNKNOWN
    with pytest.raises(ValueError, match="hysteresis must be >= 0"):
        assess(1000, th, hysteresis=-1)


def test_hysteresis_from_ok_previous_has_no_effect() -> None:
    th = Thresholds(high_warning=70)
    assert assess(70500, th, Assessment(S.OK), hysteresis=5).status == S.WARNING


def test_rows_from_the_workstation_fixture() -> None:
    scan = scan_sysfs(WORKSTATION)
    rows = build_rows(scan.readings, {"x86_pkg_temp": ThresholdOverride(high_warning=45)})
    by = {row.location: row for row in rows}
    assert [row.locn_number for row in rows] == list(range(1, 11))
    assert by["coretemp Package id 0"].status == S.OK
    assert by["coretemp Package id 0"].trend == 47
    assert by["x86_pkg_temp"].status == S.WARNING  # 48 °C > override 45
    assert by["nvme nvme0 Composite"].high_warning == 85
    assert by["pch_cannonlake"].high_critical == 95
    plain = {row.location: row for row in build_rows(scan.readings)}
    assert plain["x86_pkg_temp"].status == S.UNDETERMINED  # trips unset, no override


def test_build_rows_with_previous_and_numbers() -> None:
    sensor = SensorThresholds(high_warning_mc=70000)
    readings = [reading(69000, sensor, "a", 1), reading(None, sensor, "b", 2)]
    previous = {"a": Assessment(S.WARNING, "high_warning")}
    rows = build_rows(readings, previous=previous, hysteresis=2, numbers={"a": 7, "b": 3})
    assert [(r.locn_number, r.location, r.status) for r in rows] == [
        (3, "b", S.UNKNOWN),
        (7, "a", S.WARNING),
    ]


def test_assign_locn_numbers_keeps_previous() -> None:
    assert assign_locn_numbers(["a", "b", "c"]) == {"a": 1, "b": 2, "c": 3}
    # "b" vanished, "d" appeared: a and c keep theirs, b's 2 stays reserved for b
    first = {"a": 1, "b": 2, "c": 3}
    assert assign_locn_numbers(["a", "c", "d"], first) == {"a": 1, "c": 3, "d": 4}
    assert assign_locn_numbers(["a", "b", "c", "d"], {**first, "d": 4})["b"] == 2
    # new ones fill the lowest gaps
    assert assign_locn_numbers(["e", "a"], {"a": 2}) == {"a": 2, "e": 1}
    assert assign_locn_numbers(["x", "y"], {"y": 1}) == {"y": 1, "x": 2}
    with pytest.raises(ValueError, match="location 'a' appears twice"):
        assign_locn_numbers(["a", "a"])


def test_scan_numbers_equal_first_assignment() -> None:
    scan = scan_sysfs(WORKSTATION)
    numbers = assign_locn_numbers(r.location for r in scan.readings)
    assert numbers == {r.location: r.number for r in scan.readings}
