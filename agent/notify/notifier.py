"""The [[notify]] targets as one sink of the agent's notification hub: per target a rate limit,
a persisted outbox and a sender task; the heartbeats; coldStart and authenticationFailure.

    notifier = Notifier(config.notify, state_dir, mibmap, uptime, local_engine)
    hub.subscribe(notifier.submit)
    await notifier.start()            # in the agent's loop
    ...
    await notifier.stop()

`submit` never blocks on a network and never raises: a notification a target accepts
(min_severity) and its rate limit lets through is written to the target's outbox (fsync'd)
and its sender is woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import ber
from ..notification import Notification
from . import wire
from .config import NotifyTarget
from .outbox import Outbox, outbox_path
from .ratelimit import RateLimit
from .sender import Sender

log = logging.getLogger("iec62379.agent.notify")

EXT = "IEC62379-EXT-MIB"
#: SNMPv2-MIB snmpTraps (RFC 3418).
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
AUTHENTICATION_FAILURE = (1, 3, 6, 1, 6, 3, 1, 1, 5, 5)
#: The counters whose rise is an authentication failure (RFC 3418 authenticationFailure: a
#: message that is not properly authenticated): an unknown community, an unknown user, a
#: wrong digest.
AUTH_FAILURE_COUNTERS = ("in_bad_community_names", "usm_unknown_user_names", "usm_wrong_digests")


def cold_start() -> Notification:
    return Notification(COLD_START, name="coldStart")


def authentication_failure() -> Notification:
    return Notification(AUTHENTICATION_FAILURE, name="authenticationFailure")


class Target:
    """One target's parts."""

    def __init__(self, config: NotifyTarget, outbox: Outbox, sender: Sender) -> None:
        self.config, self.outbox, self.sender = config, outbox, sender
        self.rate = RateLimit(config.rate_per_minute, config.target)
        self.last_heartbeat: int | None = None


class Notifier:
    """See the module docstring. `uptime`: sysUpTime in hundredths of a second;
    `local_engine`: (engine id, boots, engine time) of the agent, for v3 traps."""

    def __init__(self, targets: tuple[NotifyTarget, ...], state_dir: Path | None, mibmap: Any,
                 uptime: Callable[[], int],
                 local_engine: Callable[[], tuple[bytes, int, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.refused = 0  # notifications that could not be encoded
        self._lock = threading.Lock()
        seq_oid = mibmap.symbol_oid(EXT, "extNotifySequence") + (0,)
        dropped_oid = mibmap.symbol_oid(EXT, "extNotifyDropped") + (0,)
        self.heartbeat_oid = mibmap.symbol_oid(EXT, "extHeartbeat")
        overflow_oid = mibmap.symbol_oid(EXT, "extNotifyOverflow")

        def overflow(dropped: int) -> Notification:
            return Notification(overflow_oid, ((dropped_oid, ber.COUNTER32, dropped % 2**32),),
                                name="extNotifyOverflow")

        self.targets: list[Target] = []
        for t in targets:
            path = outbox_path(state_dir, t.target) if state_dir is not None else None
            outbox = Outbox(path, t.outbox_size, t.target, overflow=overflow, clock=clock)
            if len(outbox):
                log.info("notify %s: %d notification(s) queued from before the restart",
                         t.target, len(outbox))
            sender = Sender(t, outbox, seq_oid, uptime, local_engine, clock)
            self.targets.append(Target(t, outbox, sender))
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, n: Notification) -> None:
        """The hub's sink: queue `n` for every target that takes it. A notification that
        cannot be encoded (a producer's mistake: a value that does not fit its tag) is refused
        here, logged, and never reaches an outbox."""
        try:
            wire.notification_pdu(ber.TRAP_V2, 0, 0, n.trap_oid, n.varbinds, (1, 3), 1)
            if n.alarm_id is not None and not isinstance(n.alarm_id, int):
                raise TypeError(f"alarm id {n.alarm_id!r} is not an integer")
        except (ValueError, TypeError, OverflowError, AttributeError) as exc:
            self.refused += 1
            log.error("notification %s refused: %s", n.name or n.trap_oid, exc)
            return
        key = ("alarm", n.alarm_id) if n.alarm_id is not None else n.trap_oid
        now = self.clock()
        for t in self.targets:
            if not t.config.accepts(n.severity):
                continue
            with self._lock:
                allowed = t.rate.allow(key, now)
            if not allowed:
                t.sender.counters.suppressed += 1
                continue
            t.outbox.put(n)
            t.sender.wake()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for t in self.targets:
            self._tasks.append(loop.create_task(t.sender.run(), name=f"notify {t.config.target}"))
            if t.config.heartbeat_s > 0:
                self._tasks.append(loop.create_task(self._heartbeat(t)))
        for t in self.targets:
            t.sender.wake()

    async def _heartbeat(self, t: Target) -> None:
        """extHeartbeat every heartbeat_s; none is added while the last one is still queued
        (the path is down: the outbox need not fill with heartbeats)."""
        while True:
            await asyncio.sleep(t.config.heartbeat_s)
            head = t.outbox.head()
            if t.last_heartbeat is not None and head is not None \
                    and head.seq <= t.last_heartbeat:
                continue
            entry = t.outbox.put(Notification(self.heartbeat_oid, name="extHeartbeat"))
            if entry is not None:
                t.last_heartbeat = entry.seq
            t.sender.wake()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for t in self.targets:
            t.sender.close()
            c = t.sender.counters
            log.info("notify %s: %d delivered, %d acknowledged, %d retried, %d suppressed, "
                     "%d dropped, %d queued", t.config.target, c.delivered, c.acknowledged,
                     c.retried, c.suppressed, t.outbox.dropped, len(t.outbox))

    def counters(self) -> dict[str, dict[str, int]]:
        """Per target: sent, delivered, acknowledged, retried, suppressed, dropped, queued."""
        return {t.config.target: self.target_counters(t) for t in self.targets}

    @staticmethod
    def target_counters(t: Target) -> dict[str, int]:
        c = t.sender.counters
        return {"sent": c.sent, "delivered": c.delivered, "acknowledged": c.acknowledged,
                "retried": c.retried, "suppressed": c.suppressed, "dropped": t.outbox.dropped,
                "queued": len(t.outbox), "send_errors": c.send_errors}


async def watch_auth_failures(counters: Any, submit: Callable[[Notification], None],
                              interval_s: float = 1.0) -> None:
    """Submit authenticationFailure when the agent's authentication-failure counters rose
    (checked every `interval_s`; one notification per check that saw failures; the targets'
    rate limits bound a flood)."""
    def total() -> int:
        return sum(getattr(counters, f) for f in AUTH_FAILURE_COUNTERS)

    last = total()
    while True:
        await asyncio.sleep(interval_s)
        now = total()
        if now != last:
            last = now
            submit(authentication_failure())


__all__ = ["AUTHENTICATION_FAILURE", "COLD_START", "Notifier", "authentication_failure",
           "cold_start", "watch_auth_failures"]
