"""Alarms: the active-alarm table, the alarm log and the AlarmBook that keeps them.

Whoever detects a condition (the collector service, from the measurement core's rules, or an
embedding product, for its own) calls the agent's book, `agent.alarms`:

    alarm_id = agent.alarms.raise_alarm((block_id, component), AlarmCondition.other,
                                        Severity.MAJOR, "12 V", "PSU 2: voltage low")
    agent.alarms.clear_alarm(alarm_id)           # or clear_alarm(((block_id, component), cond))

The book puts a row into extAlarmActiveTable (IEC62379-EXT-MIB) and an entry into
extAlarmLogTable, in one store transaction, and submits extAlarmRaised to the agent's
notification hub; a clear removes the row, logs it and submits extAlarmCleared with the same
varbinds (the same alarm id as their index). So a manager that polls the table and one that
only listens see the same alarms. Conditions that ended within their persistence time are
logged as events (`log_event`), with no row and no notification.

Alarm ids rise and are not used again, also across restarts: the next id is kept in the
state folder (alarms.json), reserved in blocks so that a raise rarely writes a file (after a
crash the ids jump by at most the block). Without a state folder they start at 1 each time.
The log holds the latest `log_capacity` entries; older ones are dropped and counted
(extAlarmLogDropped).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iec62379.mibs.vocabulary import AlarmCondition, AlarmLogType, Severity

from . import ber
from .tables import U32_MAX, ColumnSpec, Table

if TYPE_CHECKING:
    from .mibmap import MibMap
    from .notification import Notifications
    from .store import BlockStore

log = logging.getLogger("iec62379.agent.alarms")

EXT_MIB = "IEC62379-EXT-MIB"
#: Resource: (block id, component); component 0 is the whole block.
Resource = tuple[int, int]

_ID_BLOCK = 100  # ids reserved per write of alarms.json
DEFAULT_LOG_CAPACITY = 1000


def date_and_time(epoch_s: float) -> bytes:
    """DateAndTime (SNMPv2-TC) of a POSIX time, in UTC: 11 octets with direction '+' 0:00."""
    t = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    return struct.pack(">HBBBBBBcBB", t.year, t.month, t.day, t.hour, t.minute, t.second,
                       t.microsecond // 100_000, b"+", 0, 0)


def _text(value: str, size: int) -> bytes:
    """A DisplayString of at most `size` octets (ASCII; anything else replaced)."""
    return value.encode("ascii", "replace")[:size]


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    """A row of extAlarmActiveTable: one raised alarm."""

    alarm_id: int
    block_id: int
    component: int
    condition: AlarmCondition
    severity: Severity
    raised_ticks: int  # sysUpTime when raised
    raised_at: bytes  # DateAndTime when raised
    value: str
    description: str

    @property
    def index(self) -> tuple[int, ...]:
        return (self.alarm_id,)

    @property
    def resource(self) -> Resource:
        return (self.block_id, self.component)


@dataclass(frozen=True, slots=True)
class AlarmLogEntry:
    """A row of extAlarmLogTable."""

    log_index: int
    kind: AlarmLogType
    alarm_id: int  # 0 for an event
    ticks: int
    at: bytes  # DateAndTime
    block_id: int
    component: int
    condition: AlarmCondition
    severity: Severity
    value: str
    description: str

    @property
    def index(self) -> tuple[int, ...]:
        return (self.log_index,)


ALARM_ACTIVE = Table("extAlarmActiveTable", ActiveAlarm, "alarms", (
    ColumnSpec("extAlarmActiveId", "alarm_id"),
    ColumnSpec("extAlarmActiveBlockId", "block_id"),
    ColumnSpec("extAlarmActiveComponent", "component"),
    ColumnSpec("extAlarmActiveCondition", get=lambda r: int(r.condition)),
    ColumnSpec("extAlarmActiveSeverity", get=lambda r: int(r.severity)),
    ColumnSpec("extAlarmActiveRaisedTime", "raised_ticks"),
    ColumnSpec("extAlarmActiveRaisedDateAndTime", "raised_at"),
    ColumnSpec("extAlarmActiveValue", get=lambda r: _text(r.value, 64)),
    ColumnSpec("extAlarmActiveDescription", get=lambda r: _text(r.description, 255)),
), module=EXT_MIB, block=False)

ALARM_LOG = Table("extAlarmLogTable", AlarmLogEntry, "alarm_log", (
    ColumnSpec("extAlarmLogIndex", "log_index"),
    ColumnSpec("extAlarmLogType", get=lambda r: int(r.kind)),
    ColumnSpec("extAlarmLogAlarmId", "alarm_id"),
    ColumnSpec("extAlarmLogTime", "ticks"),
    ColumnSpec("extAlarmLogDateAndTime", "at"),
    ColumnSpec("extAlarmLogBlockId", "block_id"),
    ColumnSpec("extAlarmLogComponent", "component"),
    ColumnSpec("extAlarmLogCondition", get=lambda r: int(r.condition)),
    ColumnSpec("extAlarmLogSeverity", get=lambda r: int(r.severity)),
    ColumnSpec("extAlarmLogValue", get=lambda r: _text(r.value, 64)),
    ColumnSpec("extAlarmLogDescription", get=lambda r: _text(r.description, 255)),
), module=EXT_MIB, block=False)


def _resource(resource: Resource | int) -> Resource:
    if isinstance(resource, int) and not isinstance(resource, bool):
        resource = (resource, 0)
    if (not isinstance(resource, tuple) or len(resource) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= U32_MAX
                       for v in resource)):
        raise ValueError(f"a resource is (block id, component), each in 0..{U32_MAX}, "
                         f"got {resource!r}")
    return resource


class AlarmBook:
    """The agent's alarms; see the module docstring. Thread-safe."""

    version = 0  # as a Provider of the scalars: the set of instances never changes

    def __init__(
        self,
        store: BlockStore,
        mibmap: MibMap,
        notifications: Notifications,
        uptime: Callable[[], int],
        *,
        state_path: Path | None = None,
        log_capacity: int = DEFAULT_LOG_CAPACITY,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if log_capacity < 1:
            raise ValueError(f"log_capacity must be at least 1, got {log_capacity}")
        self.store = store
        self.mibmap = mibmap
        self.notifications = notifications
        self.uptime = uptime
        self.wall_clock = wall_clock
        self.log_capacity = log_capacity
        self.dropped = 0
        self._lock = threading.RLock()
        self._active: dict[int, ActiveAlarm] = {}
        self._by_key: dict[tuple[Resource, AlarmCondition], int] = {}
        self._log: deque[AlarmLogEntry] = deque()
        self._log_index = 0
        self._batch: list[Any] | None = None  # ops of the open `batch` block
        self._batch_notes: list[Any] = []
        self._state_path = state_path
        self._next_id = self._load_next_id()
        self._reserved = self._next_id
        self._raised_oid = mibmap.symbol_oid(EXT_MIB, "extAlarmRaised")
        self._cleared_oid = mibmap.symbol_oid(EXT_MIB, "extAlarmCleared")
        self._columns = mibmap.columns[ALARM_ACTIVE.name]

    # --- ids --------------------------------------------------------------------------------

    def _load_next_id(self) -> int:
        path = self._state_path
        if path is None or not path.exists():
            return 1
        try:
            value = json.loads(path.read_text())["next_id"]
            if not isinstance(value, int) or not 1 <= value <= U32_MAX:
                raise ValueError(f"next_id {value!r}")
            return value
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: not a valid alarm state (%s); alarm ids start at 1", path, exc)
            return 1

    def _take_id(self) -> int:
        alarm_id = self._next_id
        while alarm_id in self._active:  # after a wrap: skip ids still in use
            alarm_id = alarm_id % U32_MAX + 1
        self._next_id = alarm_id % U32_MAX + 1
        if self._state_path is not None and not (alarm_id < self._reserved <= U32_MAX):
            self._reserved = min(U32_MAX, alarm_id + _ID_BLOCK)
            from .persist import atomic_write_json

            try:
                atomic_write_json(self._state_path, {"next_id": self._reserved})
            except OSError as exc:
                log.warning("%s: cannot keep the next alarm id (%s)", self._state_path, exc)
        return alarm_id

    # --- the API ----------------------------------------------------------------------------

    def raise_alarm(self, resource: Resource | int, condition: AlarmCondition,
                    severity: Severity, value: str | float = "", description: str = "") -> int:
        """Raise an alarm about `resource` ((block id, component), or a block id); its id.
        The same (resource, condition) raised again while active returns the active alarm's
        id and changes nothing."""
        resource = _resource(resource)
        condition = AlarmCondition(condition)
        severity = Severity(severity)
        if severity is Severity.CLEARED:
            raise ValueError("an alarm cannot be raised with severity cleared")
        with self._lock:
            existing = self._by_key.get((resource, condition))
            if existing is not None:
                return existing
            alarm_id = self._take_id()
            now = self.wall_clock()
            row = ActiveAlarm(alarm_id, resource[0], resource[1], condition, severity,
                              self.uptime(), date_and_time(now), str(value), description)
            entry = self._entry(AlarmLogType.RAISED, alarm_id, row.raised_ticks, row.raised_at,
                                resource, condition, severity, row.value, description)
            self._commit(put=(row,), remove=(), entry=entry)
            self._active[alarm_id] = row
            self._by_key[(resource, condition)] = alarm_id
            self._notify(self._raised_oid, "extAlarmRaised", row)
        return alarm_id

    def clear_alarm(self, alarm: int | tuple[Resource | int, AlarmCondition],
                    value: str | float | None = None) -> bool:
        """Clear an alarm by id or by (resource, condition); `value` is the value that cleared
        it (for the log). False when no such alarm is active."""
        with self._lock:
            if isinstance(alarm, tuple):
                key = (_resource(alarm[0]), AlarmCondition(alarm[1]))
                alarm_id = self._by_key.get(key)
            else:
                alarm_id = alarm
            row = self._active.get(alarm_id) if alarm_id is not None else None
            if row is None:
                return False
            shown = row.value if value is None else str(value)
            entry = self._entry(AlarmLogType.CLEARED, row.alarm_id, self.uptime(),
                                date_and_time(self.wall_clock()), row.resource, row.condition,
                                row.severity, shown, row.description)
            self._commit(put=(), remove=(row,), entry=entry)
            del self._active[row.alarm_id]
            del self._by_key[(row.resource, row.condition)]
            self._notify(self._cleared_oid, "extAlarmCleared", row)
        return True

    def log_event(self, resource: Resource | int, condition: AlarmCondition,
                  severity: Severity, value: str | float = "", description: str = "") -> None:
        """Log a condition that ended within its persistence time (no alarm, no notification)."""
        resource = _resource(resource)
        with self._lock:
            entry = self._entry(AlarmLogType.EVENT, 0, self.uptime(),
                                date_and_time(self.wall_clock()), resource,
                                AlarmCondition(condition), Severity(severity), str(value),
                                description)
            self._commit(put=(), remove=(), entry=entry)

    def active(self) -> list[ActiveAlarm]:
        """The alarms raised and not cleared, by id."""
        with self._lock:
            return [self._active[k] for k in sorted(self._active)]

    def active_id(self, resource: Resource | int, condition: AlarmCondition) -> int | None:
        with self._lock:
            return self._by_key.get((_resource(resource), AlarmCondition(condition)))

    def log(self) -> list[AlarmLogEntry]:
        """The alarm log, oldest first."""
        with self._lock:
            return list(self._log)

    # --- inside -----------------------------------------------------------------------------

    def _entry(self, kind: AlarmLogType, alarm_id: int, ticks: int, at: bytes,
               resource: Resource, condition: AlarmCondition, severity: Severity, value: str,
               description: str) -> AlarmLogEntry:
        self._log_index = self._log_index % U32_MAX + 1
        return AlarmLogEntry(self._log_index, kind, alarm_id, ticks, at, resource[0],
                             resource[1], condition, severity, value, description)

    def _commit(self, put: Iterable[ActiveAlarm], remove: Iterable[ActiveAlarm],
                entry: AlarmLogEntry) -> None:
        dropped = (self._log.popleft(),) if len(self._log) >= self.log_capacity else ()
        self._log.append(entry)
        self.dropped += len(dropped)
        op = (tuple(put), tuple(remove), dropped, entry)
        if self._batch is not None:
            self._batch.append(op)
        else:
            self._flush([op])

    def _flush(self, ops: list[tuple[tuple[ActiveAlarm, ...], tuple[ActiveAlarm, ...],
                                     tuple[AlarmLogEntry, ...], AlarmLogEntry]]) -> None:
        if not ops:
            return
        with self.store.transaction() as t:
            for put, remove, dropped, entry in ops:
                for row in put:
                    t.put(row)
                for row in remove:
                    t.remove(ActiveAlarm, row.index)
                for old in dropped:
                    t.remove(AlarmLogEntry, old.index)
                t.put(entry)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Raises, clears and events made inside the block reach the store in one transaction
        at its end, and their notifications are submitted after it, in order: a burst of
        alarms (a hundred streams lost at once) is one update of the served tables. Other
        threads wait for the block to end."""
        with self._lock:
            if self._batch is not None:  # nested: the outer block publishes
                yield
                return
            self._batch, self._batch_notes = [], []
            try:
                yield
            finally:
                ops, notes = self._batch, self._batch_notes
                self._batch, self._batch_notes = None, []
                self._flush(ops)
                for n in notes:
                    self.notifications.submit(n)

    def _notify(self, trap_oid: tuple[int, ...], name: str, row: ActiveAlarm) -> None:
        from .notification import Notification

        varbinds = tuple((c.oid + row.index, c.tag, c.get(row)) for c in self._columns)
        # A clear carries the severity the alarm was raised with (the NOTIFICATION-TYPE says
        # it is a clear), so that a target's severity filter lets it follow its raise.
        n = Notification(trap_oid, varbinds, row.severity, row.alarm_id, name)
        if self._batch is not None:
            self._batch_notes.append(n)
        else:
            self.notifications.submit(n)

    # --- the scalars (a Provider of the agent's instrumentation) ----------------------------

    def object_types(self) -> Iterable[tuple[int, ...]]:
        return [self.mibmap.symbol_oid(EXT_MIB, n) for n in ALARM_SCALARS]

    def objects(self) -> Iterable[tuple[tuple[int, ...], int, Callable[[], Any]]]:
        getters: dict[str, tuple[int, Callable[[], Any]]] = {
            "extAlarmActiveCount": (ber.GAUGE32, lambda: len(self._active)),
            "extAlarmLogCapacity": (ber.GAUGE32, lambda: self.log_capacity),
            "extAlarmLogDropped": (ber.COUNTER32, lambda: self.dropped % (U32_MAX + 1)),
        }
        for name in ALARM_SCALARS:
            tag, get = getters[name]
            yield self.mibmap.symbol_oid(EXT_MIB, name) + (0,), tag, get


#: The alarms' scalar objects (served by the AlarmBook as a Provider).
ALARM_SCALARS = ("extAlarmActiveCount", "extAlarmLogCapacity", "extAlarmLogDropped")


def alarm_scalars(mibmap: MibMap) -> list[tuple[int, ...]]:
    """The OIDs of the alarms' scalar objects (for the access views)."""
    return [mibmap.symbol_oid(EXT_MIB, n) for n in ALARM_SCALARS]

__all__ = [
    "ALARM_ACTIVE", "ALARM_LOG", "ALARM_SCALARS", "DEFAULT_LOG_CAPACITY", "ActiveAlarm",
    "AlarmBook", "AlarmLogEntry", "Resource", "alarm_scalars", "date_and_time",
]
