"""What the agent says first: one notification as every producer hands it over (the alarms, the
TR 101 290 tests, an embedding product, the agent's own coldStart ...) and every way out sends
it (the [[notify]] targets, the AgentX master).

A producer builds a `Notification` with ready-encoded varbinds (OIDs from the MIB index via
`MibMap.symbol_oid`, tags from its columns' `Column.tag`) and calls `Notifications.submit`; it never
waits for a network and never sees a delivery error. Each sink (a target's outbox, the AgentX
subagent) takes its copy and is responsible for it from then on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iec62379.mibs.vocabulary import Severity

log = logging.getLogger("iec62379.agent.notification")

Oid = tuple[int, ...]
VarBind = tuple[Oid, int, Any]  # (OID, BER tag, plain value), as agentx.pdu.VarBind


@dataclass(frozen=True, slots=True)
class Notification:
    """snmpTrapOID.0 = `trap_oid`, then `varbinds` (sysUpTime.0 and snmpTrapOID.0 are added by
    whoever sends it). `severity` is what a target's min_severity filters on (INDETERMINATE for
    notifications that are not alarms); `alarm_id` the alarm it is about, if any; `name` the
    NOTIFICATION-TYPE's name, for logs."""

    trap_oid: Oid
    varbinds: tuple[VarBind, ...] = ()
    severity: Severity = Severity.INDETERMINATE
    alarm_id: int | None = None
    name: str = ""


Sink = Callable[[Notification], None]


class Notifications:
    """The agent's notification hub: producers `submit`, sinks `subscribe`. Thread-safe; a sink
    that raises is logged and does not stop the others."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()
        self.submitted = 0

    def subscribe(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def unsubscribe(self, sink: Sink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def submit(self, n: Notification) -> None:
        with self._lock:
            sinks = list(self._sinks)
            self.submitted += 1
        for sink in sinks:
            try:
                sink(n)
            except Exception:  # a sink's failure is its own; the producer must not see it
                log.exception("notification %s: a sink failed", n.name or n.trap_oid)


__all__ = ["Notification", "Notifications", "Oid", "Sink", "VarBind"]
