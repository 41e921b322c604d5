"""The collectors' alarms: the measurement core's condition rules run on every stream's closed
intervals, its presence and the temperature rows, and what they decide goes to the agent's
AlarmBook (raised, cleared, events), which serves the alarm tables and sends the
notifications.

Part of the collector service (it may import the agent). No clock: the service passes the
time of each tick, the arrival clock of the packets (CLOCK_REALTIME).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from iec62379.agent.model import Temperature
from iec62379.collectors.core.alarms import (
    AlarmTransition,
    StreamAlarms,
    TemperatureAlarms,
    TemperatureReading,
)
from iec62379.collectors.settings import SensorSettings
from iec62379.mibs.vocabulary import AlarmLogType

if TYPE_CHECKING:
    from iec62379.agent.alarms import AlarmBook
    from iec62379.collectors.publish.streams import StreamCollector

log = logging.getLogger("iec62379.collectors")

_WAITING = 1000


class CollectorAlarms:
    """The condition state of every stream and of the temperature block, and the book the
    transitions go to. Before a book is attached (the service's first rows are published
    before the agent exists) transitions wait for it, the latest `_WAITING` at most."""

    def __init__(self, streams: Sequence[StreamCollector], sensors: SensorSettings | None,
                 book: AlarmBook | None = None) -> None:
        self.book = book
        self.streams = {
            c.ids.network: StreamAlarms(c.settings.alarms, c.ids.rx, c.ids.video, c.ids.audio,
                                        c.settings.name)
            for c in streams
        }
        self.temperature = (TemperatureAlarms(sensors.alarms)
                            if sensors is not None and sensors.enabled else None)
        self.failures = 0
        self._waiting: list[AlarmTransition] = []

    def attach(self, book: AlarmBook) -> None:
        """Send the transitions to `book` from now on (and those that waited for one)."""
        self.book = book
        waiting, self._waiting = self._waiting, []
        apply(book, waiting)

    def stream(self, c: StreamCollector, now_ns: int) -> list[AlarmTransition]:
        """The transitions of the intervals the stream's last update closed, and of its
        presence now (streamLost: no packet for its presence timeout; a stream that never
        sent counts from its first update, the service's start)."""
        alarms = self.streams[c.ids.network]
        out: list[AlarmTransition] = []
        for report in c.closed:
            out += alarms.evaluate(report)
        timeout = int(round(c.settings.presence_timeout_s * 1e9))
        last = c.last_packet_ns if c.last_packet_ns is not None else c.origin_ns
        if last is not None:
            since = last + timeout
            out += alarms.presence(now_ns > since, since, now_ns)
        return out

    def temperatures(self, rows: Iterable[Temperature], now_ns: int) -> list[AlarmTransition]:
        if self.temperature is None:
            return []
        readings = [TemperatureReading(r.block_id, r.location_number, r.location, r.status,
                                       r.celsius) for r in rows]
        return self.temperature.evaluate(readings, now_ns)

    def update(self, streams: Iterable[StreamCollector], now_ns: int,
               temperatures: Iterable[Temperature] | None = None) -> list[AlarmTransition]:
        """Evaluate everything after a tick and hand the transitions to the book; they are
        returned too. Never raises: a failure is logged and counted."""
        try:
            out: list[AlarmTransition] = []
            for c in streams:
                out += self.stream(c, now_ns)
            if temperatures is not None:
                out += self.temperatures(temperatures, now_ns)
            if self.book is None:
                self._waiting = (self._waiting + out)[-_WAITING:]
            else:
                apply(self.book, out)
            return out
        except Exception:  # noqa: BLE001 - alarms must not stop the collection
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.exception("evaluating the alarms failed (%d times)", self.failures)
            return []


def apply(book: AlarmBook, transitions: Iterable[AlarmTransition]) -> None:
    """Raise, clear and log the transitions in the book, in one store transaction."""
    transitions = list(transitions)
    if not transitions:
        return
    with book.batch():
        for t in transitions:
            if t.kind is AlarmLogType.RAISED:
                book.raise_alarm(t.resource, t.condition, t.severity, t.shown, t.description)
            elif t.kind is AlarmLogType.CLEARED:
                book.clear_alarm((t.resource, t.condition), t.shown)
            else:
                book.log_event(t.resource, t.condition, t.severity, t.shown, t.description)


__all__ = ["CollectorAlarms", "apply"]
