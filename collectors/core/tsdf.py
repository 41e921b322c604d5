"""Time-Stamped Delay Factor (EBU Tech 3337, 2008, section 3).

For each RTP packet i of the measurement period, D(i) = (R(i) - R(0)) - (S(i) - S(0)), where R
is the arrival time and S the RTP timestamp converted to time (90 kHz for MPEG-TS over RTP,
RFC 2250 / RFC 3551); packet 0 is the first of the period. TS-DF = max D - min D, reported
in microseconds. RTP timestamps are extended past their 32-bit wrap by adding the signed
32-bit difference to the previous packet. When the SSRC changes inside a period the reference
restarts at the new source's first packet and the period reports the larger spread.
"""

from __future__ import annotations

import numpy as np


class TsdfMeter:
    """TS-DF of the current measurement period; state carries across calls."""

    def __init__(self, clock_hz: int = 90_000) -> None:
        self.ns_per_tick = 1e9 / clock_hz
        self.unwrap_started = False
        self.last_raw = 0
        self.last_ext = 0
        self.start_period()

    def start_period(self) -> None:
        """Begin a new measurement period (the next packet is packet 0)."""
        self.ref_r: int | None = None
        self.ref_s = 0
        self.dmin = 0.0
        self.dmax = 0.0
        self.closed_spread = 0.0
        self.samples = 0

    def new_source(self) -> None:
        """The SSRC changed: keep the spread so far, restart the reference and the unwrap."""
        if self.ref_r is not None:
            self.closed_spread = max(self.closed_spread, self.dmax - self.dmin)
        self.ref_r = None
        self.unwrap_started = False

    def add_chunk(self, ref_r: int, ref_s: int, dmin: float, dmax: float, count: int) -> None:
        """Add count packets whose D against the reference (ref_r, ref_s) spans dmin..dmax
        (``chunks.rtp_rows_reference`` computes them, with this period's reference when it
        has one); the reference becomes the period's when it has none."""
        if self.ref_r is None:
            self.ref_r = ref_r
            self.ref_s = ref_s
            self.dmin = self.dmax = 0.0
        self.dmin = min(self.dmin, dmin)
        self.dmax = max(self.dmax, dmax)
        self.samples += count

    def unwrap(self, timestamp: np.ndarray) -> np.ndarray:
        """Extended (unwrapped) timestamps of packets in arrival order, non-empty; the unwrap
        state carries across calls, so any split gives the same values."""
        ts = timestamp.astype(np.int64, copy=False)
        if not self.unwrap_started:
            self.unwrap_started = True
            self.last_raw = int(ts[0])
            self.last_ext = int(ts[0])
        prev = np.empty_like(ts)
        prev[0] = self.last_raw
        prev[1:] = ts[:-1]
        d = ((ts - prev + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        ext = self.last_ext + np.cumsum(d)
        self.last_raw = int(ts[-1])
        self.last_ext = int(ext[-1])
        return ext

    def value_us(self) -> int | None:
        """TS-DF of the period in microseconds, None when no RTP packet arrived."""
        if self.samples == 0:
            return None
        spread = self.closed_spread
        if self.ref_r is not None:
            spread = max(spread, self.dmax - self.dmin)
        return int(round(spread / 1000.0))
