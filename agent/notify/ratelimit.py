"""Rate limiting: a token bucket per (target, alarm id or trap OID), so that a flapping
condition sends at most `per_minute` notifications a minute (with a burst of as many); what is
held back is counted and logged at most once a minute. Time is an argument."""

from __future__ import annotations

import logging
from collections.abc import Hashable

log = logging.getLogger("iec62379.agent.notify")

_MAX_KEYS = 10000


class RateLimit:
    def __init__(self, per_minute: int, target: str = "") -> None:
        self.per_minute, self.target = per_minute, target
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)
        self.suppressed = 0
        self._logged_at: float | None = None
        self._unlogged = 0

    def allow(self, key: Hashable, now: float) -> bool:
        """True if a notification of `key` may go now (and take a token); else counted."""
        cap = float(self.per_minute)
        tokens, at = self._buckets.get(key, (cap, now))
        tokens = min(cap, tokens + max(0.0, now - at) * cap / 60.0)
        if tokens >= 1.0:
            if len(self._buckets) >= _MAX_KEYS and key not in self._buckets:
                self._buckets.clear()  # bounded memory; a cleared key starts full again
            self._buckets[key] = (tokens - 1.0, now)
            return True
        self._buckets[key] = (tokens, now)
        self.suppressed += 1
        self._unlogged += 1
        if self._logged_at is None or now - self._logged_at >= 60.0:
            log.warning("notify %s: rate limit (%d a minute) held back %d notification(s) "
                        "(%d in all)", self.target, self.per_minute, self._unlogged,
                        self.suppressed)
            self._logged_at, self._unlogged = now, 0
        return False


__all__ = ["RateLimit"]
