"""Temperature sensors of the host, read from sysfs (hwmon and thermal zones) or psutil.

This is the I/O half of the temperature block: it turns the kernel's files into
:class:`TemperatureReading` records. Judging a reading (status, thresholds from config,
hysteresis) is pure computation and lives in ``iec62379.collectors.publish.temperature``.

Where the values come from
--------------------------
* ``<root>/class/hwmon/hwmon*/temp<N>_input`` in milli-degrees Celsius, with the optional
  ``temp<N>_label``, ``temp<N>_min`` (low warning), ``temp<N>_lcrit`` (low critical),
  ``temp<N>_max`` (high warning), ``temp<N>_crit`` (high critical) and ``temp<N>_emergency``
  (the sensor's own emergency limit), ``temp<N>_enable`` (``0``: channel switched off, skipped)
  and ``temp<N>_fault`` (``1``: no reading). The chip name is the ``name`` file. Old kernels put
  the attributes under ``hwmon*/device/``; that layout is read too.
* ``<root>/class/thermal/thermal_zone*/temp`` with ``type`` and the trip points
  ``trip_point_<K>_temp`` / ``trip_point_<K>_type``. A ``passive`` trip (the kernel starts
  throttling) is the high warning, a ``hot`` trip the high critical, and the ``critical`` trip
  (the kernel powers the machine off) the emergency limit; when the zone has no ``hot`` trip
  the ``critical`` trip is also its high critical. ``active`` trips (fan steps) are not limits.
  Trip temperatures at or below 0 °C are "not set" (x86_pkg_temp ships its trips as 0).
  A zone that the kernel also publishes as a hwmon chip (its directory holds ``hwmon*``, or the
  hwmon chip of its type lives under a thermal zone) is skipped as a duplicate.
* ``psutil.sensors_temperatures()`` when the root is the real ``/sys`` and the sysfs scan finds
  no sensor at all (psutil has its own readers on other systems). With a fixture root psutil is
  never asked: it would read the real ``/sys``.

Location names (``temperatureLocation``, at most 80 octets of UTF-8)
--------------------------------------------------------------------
* hwmon: ``"<chip> <label>"``, e.g. ``"coretemp Package id 0"``; without a label
  ``"<chip> temp<N>"``, e.g. ``"acpitz temp1"``. When two chips share a name (two NVMe drives)
  the chip part becomes ``"<chip> <device>"`` where ``<device>`` is the last component of the
  chip's ``device`` link (``"nvme nvme0 Composite"``), else the ``hwmon*`` directory name.
* thermal zones: the zone ``type`` (``"x86_pkg_temp"``); when two zones share a type,
  ``"<type> <zone>"`` (``"acpitz thermal_zone1"``).
* psutil: ``"<chip> <label>"`` or ``"<chip> temp<N>"`` (N counts from 1 within the chip).
Names are cut to 80 octets on a character boundary; if names still collide, `` #2``,
`` #3`` ... are appended in sort order.

Order and numbering
-------------------
Readings are sorted by a key built only from stable facts (source kind, chip name, device link,
channel number, zone type), never from ``hwmon<N>`` numbers, which change with probe order,
unless nothing else tells two chips apart. ``number`` is the 1-based position in that order, so
the same sensors give the same ``temperatureLocnNumber`` after a restart.

Failures
--------
A scan never raises for a sensor. A value file that cannot be read *now* (``EAGAIN``,
``ENODATA``, ``EIO`` ... real hwmon drivers do that while a bus is busy) or a channel that
reports a fault gives a reading with ``value_mc = None`` and ``error`` set, so the row keeps
its number and its status becomes unknown(2). A sensor whose value file is missing, empty,
not an integer, outside -273.15..1000 °C, or unreadable for good (``EACCES`` ...) is left out
and listed in :attr:`TemperatureScan.skipped` with the reason.
"""

from __future__ import annotations

import errno
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: The largest TemperatureLocn: OCTET STRING (SIZE (0..80)).
LOCATION_MAX_OCTETS = 80

#: errno values meaning "no value at the moment"; the sensor is kept with no reading.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.ENODATA,
        errno.EIO,
        errno.ETIMEDOUT,
        errno.EBUSY,
        errno.ENXIO,
        errno.ENODEV,
        errno.EINVAL,
        errno.EOPNOTSUPP,
    }
)

#: Plausible range of a temperature in milli-degrees Celsius (exclusive bounds). NVMe drives
#: report -273150 as "no lower limit"; disconnected diodes report absurd values.
MIN_PLAUSIBLE_MC = -273150
MAX_PLAUSIBLE_MC = 1_000_000

_TEMP_INPUT = re.compile(r"^temp(\d+)_input$")
_TRIP_TYPE = re.compile(r"^trip_point_(\d+)_type$")
_ZONE = re.compile(r"^thermal_zone(\d+)$")


@dataclass(frozen=True)
class SensorThresholds:
    """A sensor's own limits in milli-degrees Celsius; ``None`` where the sensor has none."""

    low_critical_mc: int | None = None
    low_warning_mc: int | None = None
    high_warning_mc: int | None = None
    high_critical_mc: int | None = None
    emergency_mc: int | None = None


@dataclass(frozen=True)
class TemperatureReading:
    """One temperature sensor as found by a scan.

    ``value_mc`` is the reading in milli-degrees Celsius, or ``None`` with ``error`` saying why
    there is no reading this time. ``key`` is the stable sort key; ``number`` the 1-based
    position in the scan's order (the temperatureLocnNumber).
    """

    location: str
    value_mc: int | None
    thresholds: SensorThresholds
    source: str  # "hwmon", "thermal" or "psutil"
    path: str  # the value file, or "psutil:<chip>" for psutil readings
    key: tuple[Any, ...]
    number: int = 0
    error: str | None = None

    @property
    def celsius(self) -> float | None:
        """The reading in degrees Celsius, or ``None``."""
        return None if self.value_mc is None else self.value_mc / 1000.0


@dataclass(frozen=True)
class SkippedSensor:
    """A sensor left out of a scan, with the reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class TemperatureScan:
    """The result of one scan: readings in stable order, and what was left out."""

    readings: tuple[TemperatureReading, ...] = ()
    skipped: tuple[SkippedSensor, ...] = field(default=())

    def by_location(self) -> dict[str, TemperatureReading]:
        """The readings keyed by location name."""
        return {r.location: r for r in self.readings}


class _Unusable(Exception):
    """A file that will not give a value: the sensor is skipped."""


class _NoReading(Exception):
    """A file that gives no value now: the sensor is kept without a value."""


def read_sysfs_text(path: Path) -> str:
    """Read a small sysfs attribute as text (errors replaced). Raises ``OSError``."""
    with open(path, "rb") as fh:
        return fh.read(4096).decode("utf-8", errors="replace")


ReadText = Callable[[Path], str]


def _value(read: ReadText, path: Path) -> int:
    """The integer value of ``path``; raises _NoReading or _Unusable with a reason."""
    try:
        text = read(path)
    except FileNotFoundError:
        raise _Unusable(f"{path.name} is missing") from None
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        if exc.errno in TRANSIENT_ERRNOS:
            raise _NoReading(f"reading {path.name} failed: {name}") from None
        raise _Unusable(f"{path.name} is unreadable: {name}") from None
    text = text.strip()
    if not text:
        raise _Unusable(f"{path.name} is empty")
    try:
        value = int(text)
    except ValueError:
        raise _Unusable(f"{path.name} is not an integer: {text[:40]!r}") from None
    if not MIN_PLAUSIBLE_MC < value < MAX_PLAUSIBLE_MC:
        raise _Unusable(f"{path.name} holds an implausible temperature: {value}")
    return value


def _optional_value(read: ReadText, path: Path) -> int | None:
    """A threshold file's value, or ``None`` when absent, unreadable or implausible."""
    try:
        return _value(read, path)
    except (_Unusable, _NoReading):
        return None


def _optional_text(read: ReadText, path: Path) -> str | None:
    try:
        text = read(path).strip()
    except OSError:
        return None
    return text or None


def _positive(value: int | None) -> int | None:
    """High limits at or below 0 °C are unprogrammed registers or unset trips."""
    return value if value is not None and value > 0 else None


def _link_name(path: Path) -> str | None:
    try:
        target = os.readlink(path)
    except OSError:
        return None
    return os.path.basename(target.rstrip("/")) or None


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:
        return []


@dataclass
class _Found:
    chip_part: str  # the chip or zone part of the name, before disambiguation
    label: str  # the rest of the name ("" for thermal zones)
    group: str  # chips with the same group name are disambiguated by `alt`
    alt: str
    reading: TemperatureReading


def _scan_hwmon(root: Path, read: ReadText, skipped: list[SkippedSensor]) -> list[_Found]:
    found: list[_Found] = []
    for chip_dir in _children(root / "class" / "hwmon"):
        attr_dir = chip_dir
        channels = _channels(chip_dir)
        if not channels and (chip_dir / "device").is_dir():
            attr_dir = chip_dir / "device"
            channels = _channels(attr_dir)
        name = (
            _optional_text(read, chip_dir / "name")
            or _optional_text(read, attr_dir / "name")
            or chip_dir.name
        )
        name = " ".join(name.split())
        device = _link_name(chip_dir / "device")
        for channel in channels:
            prefix = attr_dir / f"temp{channel}"
            input_path = attr_dir / f"temp{channel}_input"
            enable = _optional_text(read, attr_dir / f"temp{channel}_enable")
            if enable == "0":
                skipped.append(SkippedSensor(str(input_path), "channel is disabled (enable=0)"))
                continue
            error: str | None = None
            value: int | None
            try:
                value = _value(read, input_path)
            except _Unusable as exc:
                skipped.append(SkippedSensor(str(input_path), str(exc)))
                continue
            except _NoReading as exc:
                value, error = None, str(exc)
            if _optional_text(read, Path(f"{prefix}_fault")) == "1":
                value, error = None, "sensor reports a fault"
            label = _optional_text(read, Path(f"{prefix}_label"))
            label = " ".join(label.split()) if label else f"temp{channel}"
            thresholds = SensorThresholds(
                low_critical_mc=_optional_value(read, Path(f"{prefix}_lcrit")),
                low_warning_mc=_optional_value(read, Path(f"{prefix}_min")),
                high_warning_mc=_positive(_optional_value(read, Path(f"{prefix}_max"))),
                high_critical_mc=_positive(_optional_value(read, Path(f"{prefix}_crit"))),
                emergency_mc=_positive(_optional_value(read, Path(f"{prefix}_emergency"))),
            )
            reading = TemperatureReading(
                location="",
                value_mc=value,
                thresholds=thresholds,
                source="hwmon",
                path=str(input_path),
                key=(0, name, device or "", chip_dir.name if not device else "", channel),
                error=error,
            )
            found.append(_Found(name, label, name, device or chip_dir.name, reading))
    return found


def _channels(directory: Path) -> list[int]:
    numbers = []
    for child in _children(directory):
        match = _TEMP_INPUT.match(child.name)
        if match:
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def _thermal_hwmon_types(root: Path, read: ReadText) -> set[str]:
    """Names of hwmon chips that the thermal core made from zones (they live under a zone)."""
    names = set()
    for chip_dir in _children(root / "class" / "hwmon"):
        try:
            parent = chip_dir.resolve().parent.name
        except OSError:
            continue
        if _ZONE.match(parent):
            name = _optional_text(read, chip_dir / "name")
            if name:
                names.add(name)
    return names


def _scan_thermal(root: Path, read: ReadText, skipped: list[SkippedSensor]) -> list[_Found]:
    found: list[_Found] = []
    thermal_hwmon = _thermal_hwmon_types(root, read)
    for zone_dir in _children(root / "class" / "thermal"):
        match = _ZONE.match(zone_dir.name)
        if not match:
            continue  # cooling_device* and the like
        temp_path = zone_dir / "temp"
        zone_type = _optional_text(read, zone_dir / "type")
        zone_type = " ".join(zone_type.split()) if zone_type else zone_dir.name
        if any(child.name.startswith("hwmon") for child in _children(zone_dir)) or (
            zone_type.replace("-", "_") in thermal_hwmon
        ):
            skipped.append(
                SkippedSensor(str(temp_path), f"zone {zone_type!r} is also a hwmon chip")
            )
            continue
        error: str | None = None
        value: int | None
        try:
            value = _value(read, temp_path)
        except _Unusable as exc:
            skipped.append(SkippedSensor(str(temp_path), str(exc)))
            continue
        except _NoReading as exc:
            value, error = None, str(exc)
        reading = TemperatureReading(
            location="",
            value_mc=value,
            thresholds=_trip_thresholds(zone_dir, read),
            source="thermal",
            path=str(temp_path),
            key=(1, zone_type, int(match.group(1))),
            error=error,
        )
        found.append(_Found(zone_type, "", zone_type, zone_dir.name, reading))
    return found


def _trip_thresholds(zone_dir: Path, read: ReadText) -> SensorThresholds:
    trips: dict[str, list[int]] = {}
    for child in _children(zone_dir):
        match = _TRIP_TYPE.match(child.name)
        if not match:
            continue
        kind = _optional_text(read, child)
        temp = _positive(_optional_value(read, zone_dir / f"trip_point_{match.group(1)}_temp"))
        if kind and temp is not None:
            trips.setdefault(kind, []).append(temp)
    passive = min(trips.get("passive", []), default=None)
    hot = min(trips.get("hot", []), default=None)
    critical = min(trips.get("critical", []), default=None)
    return SensorThresholds(
        high_warning_mc=passive,
        high_critical_mc=hot if hot is not None else critical,
        emergency_mc=critical,
    )


def _truncate(text: str, octets: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= octets:
        return text
    return encoded[:octets].decode("utf-8", errors="ignore").rstrip()


def _name_and_number(found: list[_Found]) -> tuple[TemperatureReading, ...]:
    """Give every reading its location name and number (see the module docstring)."""
    chips_per_group: dict[str, set[str]] = {}
    for item in found:
        chips_per_group.setdefault(f"{item.reading.source}:{item.group}", set()).add(item.alt)
    found = sorted(found, key=lambda item: item.reading.key)
    names = []
    for item in found:
        chip = item.chip_part
        if len(chips_per_group[f"{item.reading.source}:{item.group}"]) > 1:
            chip = f"{chip} {item.alt}"
        names.append(_truncate(f"{chip} {item.label}".strip(), LOCATION_MAX_OCTETS))
    counts = Counter(names)
    seen: Counter[str] = Counter()
    result = []
    for number, (item, name) in enumerate(zip(found, names, strict=True), start=1):
        if counts[name] > 1:
            seen[name] += 1
            if seen[name] > 1:
                suffix = f" #{seen[name]}"
                name = _truncate(name, LOCATION_MAX_OCTETS - len(suffix)) + suffix
        result.append(replace(item.reading, location=name, number=number))
    return tuple(result)


def _is_real_sysfs(root: Path) -> bool:
    try:
        return root.resolve() == Path("/sys")
    except OSError:
        return False


def scan_sysfs(
    root: str | os.PathLike[str] = "/sys", *, read_text: ReadText | None = None
) -> TemperatureScan:
    """Scan hwmon chips and thermal zones under ``root`` (a sysfs mount or a fixture tree).

    ``read_text`` replaces the file reader (tests use it to make reads fail with
    ``EAGAIN``). Never raises for a sensor; see the module docstring for the rules.
    """
    base = Path(root)
    read = read_text or read_sysfs_text
    skipped: list[SkippedSensor] = []
    found = _scan_hwmon(base, read, skipped) + _scan_thermal(base, read, skipped)
    return TemperatureScan(_name_and_number(found), tuple(skipped))


def readings_from_psutil(sensors: Mapping[str, Sequence[Any]]) -> TemperatureScan:
    """Readings from the mapping that ``psutil.sensors_temperatures()`` returns.

    Each entry has ``label``, ``current``, ``high`` and ``critical`` in degrees Celsius
    (``high`` becomes the high warning, ``critical`` the high critical). Entries without a
    number for ``current`` are skipped with a reason.
    """
    found: list[_Found] = []
    skipped: list[SkippedSensor] = []
    for chip, entries in sorted(sensors.items()):
        chip_name = " ".join(str(chip).split()) or "sensor"
        for index, entry in enumerate(entries, start=1):
            path = f"psutil:{chip_name}"
            label = " ".join(str(getattr(entry, "label", "") or "").split()) or f"temp{index}"
            current = _milli(getattr(entry, "current", None))
            if current is None:
                skipped.append(SkippedSensor(f"{path}:{label}", "no current temperature"))
                continue
            thresholds = SensorThresholds(
                high_warning_mc=_positive(_milli(getattr(entry, "high", None))),
                high_critical_mc=_positive(_milli(getattr(entry, "critical", None))),
            )
            reading = TemperatureReading(
                location="",
                value_mc=current,
                thresholds=thresholds,
                source="psutil",
                path=path,
                key=(2, chip_name, index),
            )
            found.append(_Found(chip_name, label, chip_name, chip_name, reading))
    return TemperatureScan(_name_and_number(found), tuple(skipped))


def _milli(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value:  # NaN
        return None
    milli = round(value * 1000)
    return milli if MIN_PLAUSIBLE_MC < milli < MAX_PLAUSIBLE_MC else None


def _psutil_sensors() -> Mapping[str, Sequence[Any]]:
    import psutil

    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return {}
    try:
        return reader() or {}
    except (OSError, RuntimeError, ValueError):
        return {}


def scan_temperatures(
    sysfs_root: str | os.PathLike[str] = "/sys",
    *,
    use_psutil: bool | None = None,
    read_text: ReadText | None = None,
    psutil_sensors: Callable[[], Mapping[str, Sequence[Any]]] | None = None,
) -> TemperatureScan:
    """Scan the host's temperature sensors.

    Reads sysfs under ``sysfs_root``. When that finds no sensor at all (neither a reading nor a
    skipped one) and psutil is allowed, psutil's readings are returned instead. ``use_psutil``
    ``None`` (the default) allows psutil only when ``sysfs_root`` is the real ``/sys``;
    ``psutil_sensors`` replaces ``psutil.sensors_temperatures`` (for tests).
    """
    root = Path(sysfs_root)
    scan = scan_sysfs(root, read_text=read_text)
    allowed = _is_real_sysfs(root) if use_psutil is None else use_psutil
    if scan.readings or scan.skipped or not allowed:
        return scan
    return readings_from_psutil((psutil_sensors or _psutil_sensors)())
