"""Bit rate classification: CBR or VBR (the seed's BitRateType, 6.2.2).

Rule (documented choice of the project):

1. A transport stream carrying null packets (PID 0x1FFF) in the interval is padded to a
   constant rate: CBR.
2. Otherwise, over a sliding window of the last ``window`` interval rates, the coefficient of
   variation (population standard deviation / mean) decides: <= ``tolerance`` (default 2 %)
   is CBR, above is VBR.
3. With fewer than ``min_intervals`` rates in the window (or a zero mean) the type is
   unspecified.

For VBR the MIB reports the advertised maximum; the classifier offers the window's maximum.
"""

from __future__ import annotations

import math
from collections import deque

from iec62379.mibs.vocabulary import BitRateType

__all__ = ["BitRateType", "RateClassifier"]


def _sum(v: list[float]) -> float:
    """numpy's float64 sum of a short list, in plain Python with numpy's order of additions
    (pairwise: eight partial sums from eight values on, then the rest one by one), so that
    mean and standard deviation come out as numpy's ``mean()`` and ``std()`` to the bit; a
    window of ten rates is cheaper this way than as a small array."""
    n = len(v)
    if n < 8:
        acc = -0.0
        for x in v:
            acc += x
        return acc
    r = v[0:8]
    tail = n - n % 8
    for i in range(8, tail, 8):
        r = [r[j] + v[i + j] for j in range(8)]
    acc = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for x in v[tail:]:
        acc += x
    return acc


class RateClassifier:
    def __init__(self, window: int = 10, tolerance: float = 0.02, min_intervals: int = 3) -> None:
        self.rates: deque[float] = deque(maxlen=window)
        self.tolerance = tolerance
        self.min_intervals = min_intervals

    def add(self, rate_bps: float, null_packets: bool = False) -> BitRateType:
        """Add one interval's rate and classify the stream as of this interval."""
        self.rates.append(rate_bps)
        if null_packets:
            return BitRateType.CBR
        if len(self.rates) < self.min_intervals:
            return BitRateType.UNSPECIFIED
        rates = list(self.rates)
        n = len(rates)
        mean = _sum(rates) / n
        if mean <= 0:
            return BitRateType.UNSPECIFIED
        cv = math.sqrt(_sum([(x - mean) * (x - mean) for x in rates]) / n) / mean
        return BitRateType.CBR if cv <= self.tolerance else BitRateType.VBR

    @property
    def maximum(self) -> float:
        return max(self.rates) if self.rates else 0.0
