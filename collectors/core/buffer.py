"""Receiver playout-buffer model (the digest's section 4, "Buffer occupancy").

A de-jitter buffer of ``size_ms`` milliseconds of media at the media rate. Datagrams add their
media bytes at arrival; the buffer starts playing when it holds half its size and then drains
continuously at the media rate. Bytes that would overflow it are dropped (an overflow); when
it runs empty it stops (an underflow) and waits to be half full again.

The playing phase is computed with numpy: with drain between arrivals the level after packet
i, without the upper bound, is X(i) = L0 + sum of bytes - rate * (t(i) - t0); the bound at the
size C is a reflection, level(i) = X(i) - max(0, max over k <= i of (X(k) - C)). An underflow
ends the vectorised run and the model continues from there.
"""

from __future__ import annotations

import numpy as np

from . import fast


class PlayoutBuffer:
    def __init__(self, size_ms: float) -> None:
        self.size_ms = float(size_ms)
        self.level = 0.0  # bytes, at time self.t
        self.t: int | None = None
        self.playing = False
        self.underflows = 0
        self.overflows = 0

    def run(
        self, arrival_ns: np.ndarray, media_bytes: np.ndarray, rate_bps: float, end_ns: int
    ) -> None:
        """Feed arrivals (in order, all <= end_ns) at ``rate_bps`` and advance to ``end_ns``."""
        if rate_bps <= 0:
            return
        bps = rate_bps / 8e9  # bytes per ns
        cap = self.size_ms * rate_bps / 8000.0
        t = arrival_ns.astype(np.int64, copy=False)
        fast.buffer_feed(self, t, media_bytes, bps, cap)
        if self.t is None:
            return
        if self.playing and end_ns > self.t:
            self.level -= (end_ns - self.t) * bps
            if self.level < 0:
                self.level = 0.0
                self.playing = False
                self.underflows += 1
        self.t = max(self.t, end_ns)

    def feed_reference(
        self, t: np.ndarray, media_bytes: np.ndarray, bps: float, cap: float
    ) -> None:
        """Arrivals t (int64, in order) of media_bytes each into the buffer draining at bps
        bytes/ns once playing (at half of cap); the readable rule, ``fast.buffer_feed`` the
        fast path."""
        half = cap / 2.0
        i, n = 0, t.shape[0]
        b = media_bytes.astype(np.float64)
        while i < n:
            if self.t is None:
                self.t = int(t[i])
            if not self.playing:
                fill = self.level + np.cumsum(b[i:])
                reached = np.flatnonzero(fill >= half)
                if reached.size == 0:
                    self.level = min(float(fill[-1]), cap)
                    self.t = int(t[-1])
                    i = n
                    break
                j = i + int(reached[0])
                if fill[reached[0]] > cap:
                    self.overflows += 1
                self.level = min(float(fill[reached[0]]), cap)
                self.t = int(t[j])
                self.playing = True
                i = j + 1
                continue
            tt, bb = t[i:], b[i:]
            x_post = self.level + np.cumsum(bb) - (tt - self.t) * bps
            excess = np.maximum.accumulate(np.maximum(x_post - cap, 0.0))
            prev_excess = np.concatenate(([0.0], excess[:-1]))
            pre = x_post - bb - prev_excess
            under = np.flatnonzero(pre < 0)
            k = int(under[0]) if under.size else tt.shape[0]
            if k:
                self.overflows += int(
                    np.count_nonzero(np.diff(np.concatenate(([0.0], excess[:k]))) > 0)
                )
            if under.size:
                self.underflows += 1
                self.playing = False
                self.level = 0.0
                self.t = int(tt[k])
                i += k
                continue
            self.level = float(x_post[-1] - excess[-1])
            self.t = int(tt[-1])
            i = n

    def empty(self) -> None:
        """The stream stopped for long: the buffer ran dry (an underflow if it was playing)."""
        if self.playing:
            self.underflows += 1
        self.playing = False
        self.level = 0.0
        self.t = None

    def occupancy_ms(self, rate_bps: float) -> float:
        return self.level * 8000.0 / rate_bps if rate_bps > 0 else 0.0

    def occupancy_percent(self, rate_bps: float) -> int:
        """BufferOcpncyPercent: the occupancy as a percentage of the size, clamped to 1..100."""
        if self.size_ms <= 0:
            return 1
        pct = int(round(self.occupancy_ms(rate_bps) * 100.0 / self.size_ms))
        return min(100, max(1, pct))
