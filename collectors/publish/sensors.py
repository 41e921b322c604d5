"""The host's temperature sensors as one temperature block (temperatureTable rows).

:meth:`SensorCollector.read` scans the sensors (file I/O, below the configured sysfs root; run
it off the event loop); :meth:`SensorCollector.rows` turns a scan into rows (pure): location
numbers that stay with their location (a sensor that goes away and comes back gets its old
number), thresholds from the config over the sensor's own, status with the configured
hysteresis (iec62379.collectors.publish.temperature).

A threshold that neither the config nor the sensor sets is reported as 0: IntegerNumber has
no "absent" value, and the status never uses it.
"""

from __future__ import annotations

from collections.abc import Callable

from iec62379.agent.model import Temperature
from iec62379.collectors.publish.temperature import Assessment, assign_locn_numbers, build_row
from iec62379.collectors.settings import SensorSettings
from iec62379.collectors.sources.thermal import TemperatureScan, scan_temperatures


class SensorCollector:
    """Scans the sensors of ``settings`` and keeps what the rows need from one scan to the next
    (location numbers, the last assessment of each location for hysteresis)."""

    def __init__(
        self,
        settings: SensorSettings,
        scan: Callable[[], TemperatureScan] | None = None,
    ) -> None:
        self.settings = settings
        self._scan = scan or (lambda: scan_temperatures(settings.sysfs_root))
        self._numbers: dict[str, int] = {}
        self._previous: dict[str, Assessment] = {}
        self.skipped: tuple[str, ...] = ()

    @property
    def block_id(self) -> int:
        return self.settings.block_id

    def read(self) -> TemperatureScan:
        """One scan of the sensors (I/O)."""
        return self._scan()

    def rows(self, scan: TemperatureScan) -> list[Temperature]:
        """The temperatureTable rows for a scan, ordered by location number."""
        self.skipped = tuple(f"{s.path}: {s.reason}" for s in scan.skipped)
        locations = [r.location for r in scan.readings]
        self._numbers.update(assign_locn_numbers(locations, self._numbers))
        rows = []
        for reading in scan.readings:
            row = build_row(
                reading,
                self.settings.override_for(reading.location),
                self._previous.get(reading.location),
                self.settings.hysteresis,
                self._numbers[reading.location],
            )
            self._previous[reading.location] = row.assessment
            rows.append(
                Temperature(
                    block_id=self.settings.block_id,
                    location_number=row.locn_number,
                    location=row.location,
                    celsius=reading.celsius,
                    status=row.status,
                    low_warning=_or_zero(row.low_warning),
                    high_warning=_or_zero(row.high_warning),
                    low_critical=_or_zero(row.low_critical),
                    high_critical=_or_zero(row.high_critical),
                )
            )
        return sorted(rows, key=lambda t: t.location_number)


def _or_zero(value: int | None) -> int:
    return 0 if value is None else value


__all__ = ["SensorCollector"]
