"""[stream.alarms] and [temperature_sensors.alarms]: defaults, every key, and garbage refused
with file: key: expected ..., found ...."""

from __future__ import annotations

import pytest
from iec62379.agent.config import ConfigError
from iec62379.collectors.core.alarms import DEFAULT_LIMITS, DEFAULT_TEMPERATURE_LIMITS, Limit
from iec62379.collectors.settings import parse_settings
from iec62379.mibs.vocabulary import AlarmCondition as C
from iec62379.mibs.vocabulary import Severity

NO_SENSORS = "[temperature_sensors]\nenabled = false\n"
STREAM = '[[stream]]\nurl = "rtp://239.1.1.1:5004"\n'


def limits(alarms: str):
    s = parse_settings(f"{STREAM}[stream.alarms]\n{alarms}\n{NO_SENSORS}", "f.toml")
    return s.streams[0].alarms


def test_defaults_without_an_alarms_table():
    s = parse_settings(STREAM + NO_SENSORS, "f.toml")
    assert dict(s.streams[0].alarms.limits) == DEFAULT_LIMITS
    assert s.streams[0].alarms.persistence_s == 2.0
    assert C.bitRateLow not in s.streams[0].alarms.limits  # no default: off
    assert dict(s.sensors.alarms.limits) == DEFAULT_TEMPERATURE_LIMITS


def test_every_key():
    a = limits("""
persistence_s = 5
off = ["rtpLoss", "tr101290PcrAccuracyError", "videoLost"]
df_ms = {raise = 50, clear = 40, severity = "major"}
mlr = {raise = 10}
tsdf_us = {severity = "critical"}
bitrate_low_bps = {raise = 1000000, clear = 1200000}
bitrate_high_bps = {raise = 9000000, clear = 8000000, severity = "warning"}
audio_lost = {severity = "minor"}
stream_lost = {severity = "major"}
tr101290 = {severity = "warning"}
""")
    assert a.persistence_s == 5.0
    got = dict(a.limits)
    assert got[C.dfHigh] == Limit(50, 40, Severity.MAJOR)
    assert got[C.mlrHigh] == Limit(10, 10, Severity.MAJOR)  # no clear: no hysteresis
    assert got[C.tsdfHigh] == Limit(150_000, 100_000, Severity.CRITICAL)  # default thresholds
    assert got[C.bitRateLow] == Limit(1e6, 1.2e6, Severity.MINOR)
    assert got[C.bitRateHigh] == Limit(9e6, 8e6, Severity.WARNING)
    assert got[C.audioLost].severity is Severity.MINOR
    assert got[C.streamLost].severity is Severity.MAJOR
    assert got[C.tr101290TsSyncLoss].severity is Severity.WARNING
    assert C.rtpLoss not in got and C.videoLost not in got
    assert C.tr101290PcrAccuracyError not in got


def test_temperature_alarms():
    s = parse_settings(STREAM + '[temperature_sensors]\nsysfs_root = "/"\n'
                       '[temperature_sensors.alarms]\npersistence_s = 0\n'
                       'warning = {severity = "minor"}\noff = ["temperatureCritical"]\n', "f.toml")
    assert dict(s.sensors.alarms.limits) == {C.temperatureWarning: Limit(1, 0, Severity.MINOR)}
    assert s.sensors.alarms.persistence_s == 0


GARBAGE = [
    ("persistence_s = -1", "f.toml: stream[0].alarms.persistence_s: expected a number in "
     "0..86400, found -1"),
    ('persistence_s = "2s"', "stream[0].alarms.persistence_s: expected a number"),
    ("df_ms = 50", "f.toml: stream[0].alarms.df_ms: expected a table, found 50"),
    ('df_ms = {raise = "high"}', "f.toml: stream[0].alarms.df_ms.raise: expected a number in"),
    ("df_ms = {raise = -5}", "stream[0].alarms.df_ms.raise: expected a number in 0..1000000.0, "
     "found -5"),
    ("df_ms = {raise = 40, clear = 50}", "f.toml: stream[0].alarms.df_ms.clear: expected a "
     "falling threshold on the clearing side of raise (clear (50) must not be above raise (40))"
     ", found 50.0"),
    ("bitrate_low_bps = {raise = 2000000, clear = 1000000}",
     "stream[0].alarms.bitrate_low_bps.clear: expected a falling threshold"),
    ("bitrate_high_bps = {clear = 5}", "f.toml: stream[0].alarms.bitrate_high_bps.raise: "
     "expected a number in 0..1000000000000.0, found nothing"),
    ('df_ms = {raise = 50, severity = "cleared"}', "f.toml: stream[0].alarms.df_ms.severity: "
     "expected one of critical | major | minor | warning | indeterminate, found 'cleared'"),
    ('df_ms = {raise = 50, severity = 3}', "stream[0].alarms.df_ms.severity: expected one of"),
    ("df_ms = {raise = 50, rise = 60}", "f.toml: stream[0].alarms.df_ms.rise: unknown key"),
    ('video_lost = {raise = 1}', "f.toml: stream[0].alarms.video_lost.raise: unknown key "
     "(expected one of severity)"),
    ('video_lost = "major"', "stream[0].alarms.video_lost: expected a table, found 'major'"),
    ('off = "rtpLoss"', "f.toml: stream[0].alarms.off: expected an array of strings, found "
     "'rtpLoss'"),
    ('off = ["rtploss"]', "f.toml: stream[0].alarms.off: expected condition names among"),
    ('off = ["temperatureWarning"]', "stream[0].alarms.off: expected condition names among"),
    ("dfHigh = {raise = 1}", "f.toml: stream[0].alarms.dfHigh: unknown key"),
]


@pytest.mark.parametrize(("text", "message"), GARBAGE, ids=[str(i) for i in range(len(GARBAGE))])
def test_garbage_is_refused_with_file_key_expected_found(text, message):
    with pytest.raises(ConfigError) as exc:
        limits(text)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_an_alarms_value_that_is_not_a_table_and_temperature_garbage():
    with pytest.raises(ConfigError, match=r"f.toml: stream\[0\].alarms: expected a table"):
        parse_settings(f"{STREAM}alarms = 3\n{NO_SENSORS}", "f.toml")
    with pytest.raises(ConfigError, match=r"temperature_sensors.alarms.warning.severity: "
                                          r"expected one of"):
        parse_settings(STREAM + '[temperature_sensors]\nsysfs_root = "/"\n'
                       '[temperature_sensors.alarms]\nwarning = {severity = "loud"}\n', "f.toml")
    with pytest.raises(ConfigError, match=r"temperature_sensors.alarms.df_ms: unknown key"):
        parse_settings(STREAM + '[temperature_sensors]\nsysfs_root = "/"\n'
                       '[temperature_sensors.alarms]\ndf_ms = {raise = 1}\n', "f.toml")


def test_settings_with_alarms_stay_hashable_and_comparable():
    a = parse_settings(STREAM + NO_SENSORS, "f.toml").streams[0]
    b = parse_settings(STREAM + NO_SENSORS, "f.toml").streams[0]
    assert a == b and hash(a) == hash(b)
    assert limits("persistence_s = 3") != a.alarms
