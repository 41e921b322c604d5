"""extNotifyTargetTable (IEC62379-EXT-MIB, extNotify 3): the [[notify]] targets' delivery
counters, one row per target (index: its position in the configuration, from 1), declared like
every table (agent.tables) and kept in the store by `publish`, once a second when they change."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..tables import ColumnSpec, Table

EXT = "IEC62379-EXT-MIB"
_C32 = 4294967296


@dataclass(frozen=True, slots=True)
class NotifyTargetRow:
    """One target's delivery counters (see the MIB's extNotifyTargetEntry)."""

    target_index: int
    address: str
    inform: bool
    sent: int = 0
    delivered: int = 0
    retried: int = 0
    suppressed: int = 0
    dropped: int = 0
    queued: int = 0

    @property
    def index(self) -> tuple[int, ...]:
        return (self.target_index,)


def _c32(name: str) -> ColumnSpec:
    field = name.removeprefix("extNotifyTarget").lower()
    return ColumnSpec(name, get=lambda r: getattr(r, field) % _C32)


NOTIFY_TARGETS = Table("extNotifyTargetTable", NotifyTargetRow, "notify_targets", (
    ColumnSpec("extNotifyTargetIndex", "target_index"),
    ColumnSpec("extNotifyTargetAddress", get=lambda r: r.address.encode()[:255]),
    ColumnSpec("extNotifyTargetKind", get=lambda r: 2 if r.inform else 1),
    _c32("extNotifyTargetSent"),
    _c32("extNotifyTargetDelivered"),
    _c32("extNotifyTargetRetried"),
    _c32("extNotifyTargetSuppressed"),
    _c32("extNotifyTargetDropped"),
    ColumnSpec("extNotifyTargetQueued", get=lambda r: min(r.queued, _C32 - 1)),
), module=EXT, block=False)


def rows(notifier: Any) -> list[NotifyTargetRow]:
    """The rows of `notifier`'s targets now."""
    out = []
    for i, t in enumerate(notifier.targets, 1):
        c = notifier.target_counters(t)
        out.append(NotifyTargetRow(i, t.config.target, t.config.kind == "inform", c["sent"],
                                   c["delivered"], c["retried"], c["suppressed"], c["dropped"],
                                   c["queued"]))
    return out


async def publish(notifier: Any, store: Any, interval_s: float = 1.0) -> None:
    """Keep the rows in `store` up to date (every `interval_s`, when something changed)."""
    last: list[NotifyTargetRow] = []
    while True:
        now = rows(notifier)
        if now != last:
            with store.transaction() as t:
                for row in now:
                    t.put(row)
            last = now
        await asyncio.sleep(interval_s)


__all__ = ["NOTIFY_TARGETS", "NotifyTargetRow", "publish", "rows"]
