"""The sysfs / psutil temperature reader, on the fixture trees of tests/fixtures/make_sysfs.py."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from iec62379.collectors.sources import thermal
from iec62379.collectors.sources.thermal import (
    LOCATION_MAX_OCTETS,
    SensorThresholds,
    readings_from_psutil,
    scan_sysfs,
    scan_temperatures,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WORKSTATION = FIXTURES / "sysfs" / "workstation"
BROKEN = FIXTURES / "sysfs" / "broken"

shwtemp = namedtuple("shwtemp", ["label", "current", "high", "critical"])


@pytest.fixture(scope="module", autouse=True)
def fixture_trees() -> None:
    if not (WORKSTATION / "class").is_dir():
        pytest.fail(f"fixture tree missing; run python {FIXTURES / 'make_sysfs.py'}")


def test_workstation_locations_in_stable_order() -> None:
    scan = scan_sysfs(WORKSTATION)
    assert [(r.number, r.location) for r in scan.readings] == [
        (1, "acpitz temp1"),
        (2, "coretemp Package id 0"),
        (3, "coretemp Core 0"),
        (4, "coretemp Core 1"),
        (5, "nct6775 SYSTIN"),
        (6, "nct6775 CPUTIN"),
        (7, "nvme nvme0 Composite"),
        (8, "nvme nvme1 Composite"),
        (9, "pch_cannonlake"),
        (10, "x86_pkg_temp"),
    ]


def test_hwmon_values_and_thresholds() -> None:
    by = scan_sysfs(WORKSTATION).by_location()
    package = by["coretemp Package id 0"]
    assert package.value_mc == 47000 and package.celsius == 47.0
    assert package.source == "hwmon"
    assert package.thresholds == SensorThresholds(high_warning_mc=80000, high_critical_mc=100000)
    # NVMe's -273150 "no lower limit" is not a threshold
    assert by["nvme nvme0 Composite"].thresholds.low_warning_mc is None
    assert by["nvme nvme0 Composite"].value_mc == 38850
    assert by["nvme nvme1 Composite"].value_mc == 41850
    assert by["nct6775 SYSTIN"].thresholds.emergency_mc == 110000
    cputin = by["nct6775 CPUTIN"].thresholds
    assert (cputin.low_warning_mc, cputin.low_critical_mc) == (5000, -10000)
    assert cputin.high_warning_mc is None  # temp2_max = 0: an unprogrammed register


def test_thermal_zone_trip_points() -> None:
    by = scan_sysfs(WORKSTATION).by_location()
    pch = by["pch_cannonlake"]
    assert pch.source == "thermal"
    # passive -> warning, hot -> critical, critical -> emergency; active ignored
    assert pch.thresholds == SensorThresholds(
        high_warning_mc=85000, high_critical_mc=95000, emergency_mc=105000
    )
    # x86_pkg_temp's passive trips are 0: unset
    assert by["x86_pkg_temp"].thresholds == SensorThresholds()


def test_critical_trip_is_also_high_critical_without_hot(tmp_path: Path) -> None:
    zone = tmp_path / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("acpitz\n")
    (zone / "temp").write_text("40000\n")
    (zone / "trip_point_0_type").write_text("critical\n")
    (zone / "trip_point_0_temp").write_text("105000\n")
    (reading,) = scan_sysfs(tmp_path).readings
    assert reading.location == "acpitz"
    assert reading.thresholds == SensorThresholds(high_critical_mc=105000, emergency_mc=105000)


def test_zone_published_as_hwmon_is_skipped_once() -> None:
    scan = scan_sysfs(WORKSTATION)
    assert [r.location for r in scan.readings].count("acpitz temp1") == 1
    assert "acpitz" not in scan.by_location()
    (skip,) = scan.skipped
    assert skip.path.endswith("thermal_zone0/temp") and "also a hwmon chip" in skip.reason


def test_numbering_does_not_follow_hwmon_numbers(tmp_path: Path) -> None:
    # The same chips probed in another order (hwmon numbers swapped) keep their numbers.
    tree = tmp_path / "sys"
    shutil.copytree(WORKSTATION, tree, symlinks=True)
    hw = tree / "class" / "hwmon"
    first, second = (hw / "hwmon1").readlink(), (hw / "hwmon2").readlink()
    (hw / "hwmon1").unlink()
    (hw / "hwmon2").unlink()
    (hw / "hwmon1").symlink_to(second)
    (hw / "hwmon2").symlink_to(first)
    before = [(r.number, r.location, r.value_mc) for r in scan_sysfs(WORKSTATION).readings]
    after = [(r.number, r.location, r.value_mc) for r in scan_sysfs(tree).readings]
    assert before == after


def test_broken_tree_never_raises_and_records_reasons() -> None:
    scan = scan_sysfs(BROKEN)
    reasons = {Path(s.path).parent.name + "/" + Path(s.path).name: s.reason for s in scan.skipped}
    assert reasons == {
        "hwmon0/temp1_input": "temp1_input is not an integer: 'abc'",
        "hwmon0/temp2_input": "temp2_input is empty",
        "hwmon0/temp4_input": "channel is disabled (enable=0)",
        "hwmon0/temp6_input": "temp6_input holds an implausible temperature: -273150",
        "thermal_zone0/temp": "temp is empty",
    }
    assert [r.location for r in scan.readings] == [
        "broken temp3",  # no label: the channel name
        "broken Faulty",
        "broken Outdoor",
        "dup Core",
        "dup Core #2",  # duplicate labels made unique
        "hwmon1 temp1",  # no name file: the hwmon directory
        scan.readings[6].location,  # the long label, checked below
        "w83627hf temp1",  # old layout, attributes under device/
        "thermal_zone1",  # zone without a type
    ]


def test_bad_threshold_is_ignored_and_fault_gives_no_value() -> None:
    by = scan_sysfs(BROKEN).by_location()
    assert by["broken temp3"].value_mc == 41000
    assert by["broken temp3"].thresholds == SensorThresholds()  # temp3_max = "n/a"
    faulty = by["broken Faulty"]
    assert faulty.value_mc is None and faulty.error == "sensor reports a fault"
    assert by["broken Outdoor"].value_mc == -5500
    assert by["w83627hf temp1"].thresholds.high_warning_mc == 60000


def test_long_label_cut_to_80_octets_on_a_character_boundary() -> None:
    location = scan_sysfs(BROKEN).readings[6].location
    encoded = location.encode("utf-8")
    assert len(encoded) <= LOCATION_MAX_OCTETS
    assert location.startswith("long Capteur de température d’entrée d’air")
    assert location == location.strip()
    assert len(encoded) >= LOCATION_MAX_OCTETS - 3  # cut no more than one character short


def test_eagain_and_enodata_keep_the_sensor_without_value() -> None:
    def flaky(path: Path) -> str:
        if path.name == "temp1_input" and "coretemp" in str(path.resolve()):
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        if path.name == "temp" and path.parent.name == "thermal_zone2":
            raise OSError(errno.ENODATA, "No data available")
        return thermal.read_sysfs_text(path)

    scan = scan_sysfs(WORKSTATION, read_text=flaky)
    by = scan.by_location()
    assert by["coretemp Package id 0"].value_mc is None
    assert by["coretemp Package id 0"].error == "reading temp1_input failed: EAGAIN"
    assert by["pch_cannonlake"].value_mc is None
    assert by["pch_cannonlake"].error == "reading temp failed: ENODATA"
    # numbering unchanged
    assert [r.location for r in scan.readings] == [
        r.location for r in scan_sysfs(WORKSTATION).readings
    ]


def test_permanent_read_error_skips_the_sensor() -> None:
    def denied(path: Path) -> str:
        if path.name == "temp2_input" and "coretemp" in str(path.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied")
        return thermal.read_sysfs_text(path)

    scan = scan_sysfs(WORKSTATION, read_text=denied)
    assert "coretemp Core 0" not in scan.by_location()
    assert any(s.reason == "temp2_input is unreadable: EACCES" for s in scan.skipped)


def test_missing_root_gives_an_empty_scan(tmp_path: Path) -> None:
    assert scan_temperatures(tmp_path / "nothing") == thermal.TemperatureScan()


def test_psutil_is_not_asked_for_a_fixture_root(tmp_path: Path) -> None:
    def boom() -> dict:
        raise AssertionError("psutil must not be called for a fixture root")

    assert scan_temperatures(tmp_path, psutil_sensors=boom).readings == ()


def test_psutil_fallback_when_sysfs_has_nothing(tmp_path: Path) -> None:
    data = {
        "coretemp": [shwtemp("Package id 0", 51.0, 80.0, 100.0), shwtemp("", 49.5, None, None)],
        "acpitz": [shwtemp("", 27.8, None, 119.0)],
    }
    scan = scan_temperatures(tmp_path, use_psutil=True, psutil_sensors=lambda: data)
    assert [(r.number, r.location, r.value_mc) for r in scan.readings] == [
        (1, "acpitz temp1", 27800),
        (2, "coretemp Package id 0", 51000),
        (3, "coretemp temp2", 49500),
    ]
    assert scan.readings[0].thresholds == SensorThresholds(high_critical_mc=119000)
    assert scan.readings[1].thresholds == SensorThresholds(
        high_warning_mc=80000, high_critical_mc=100000
    )
    assert all(r.source == "psutil" for r in scan.readings)


def test_psutil_fallback_not_used_when_sysfs_found_sensors() -> None:
    scan = scan_temperatures(WORKSTATION, use_psutil=True, psutil_sensors=lambda: {"x": []})
    assert scan.readings[0].source == "hwmon"


def test_psutil_entries_without_a_number_are_skipped() -> None:
    scan = readings_from_psutil(
        {
            "chip": [
                shwtemp("a", None, None, None),
                shwtemp("b", float("nan"), None, None),
                shwtemp("c", 30.0, float("nan"), 0.0),
            ]
        }
    )
    assert [r.location for r in scan.readings] == ["chip c"]
    assert scan.readings[0].thresholds == SensorThresholds()
    assert [s.reason for s in scan.skipped] == ["no current temperature"] * 2


def test_live_sys_scan_never_raises() -> None:
    # This machine has no sensors; whatever it has, a scan must complete.
    scan = scan_temperatures("/sys")
    for reading in scan.readings:
        assert len(reading.location.encode("utf-8")) <= LOCATION_MAX_OCTETS
    assert [r.number for r in scan.readings] == list(range(1, len(scan.readings) + 1))
