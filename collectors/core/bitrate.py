"""Bit rate classification: CBR or VBR (the seed's BitRateType, 6.2.2).

Rule (documented choice of the project):

1. A transport stream carrying null packets (PID 0x1FFF) in the interval is padded to a
   constant rate: CBR.
2. Otherwise, over a sliding window of the last ``window`` interval rates, the coefficient of
   variation (population standard deviation / mean) decides: <= ``tolerance`` (default 2 %)
   is CBR, above is VBR.
3. With fewer than ``min_intervals`` rates in the window (or a zero mean) the type is
   unspecified.
4. Hysteresis (``hysteresis`` > 1): a stream classified CBR (or not classified yet) is CBR
   until the coefficient of variation exceeds ``tolerance * hysteresis``; one classified VBR
   becomes CBR when it falls to ``tolerance``. A steady stream whose variation hovers near
   the tolerance (the GOP structure of "constant" rate video measured over 1 s intervals)
   then keeps one type instead of flipping from interval to interval.

The video block uses ``min_intervals`` 1 and hysteresis 2: a present video stream has a type,
hence a rate, from its first interval on (an unspecified type has bit rate 0 in the MIB, which
contradicts a present stream), and keeps it while steady. For CBR the rate reported is the
window's mean (``mean``), the constant rate's estimate, not the last interval's.

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
    def __init__(
        self,
        window: int = 10,
        tolerance: float = 0.02,
        min_intervals: int = 3,
        hysteresis: float = 1.0,
    ) -> None:
        self.rates: deque[float] = deque(maxlen=window)
        self.tolerance = tolerance
        self.min_intervals = min_intervals
        self.hysteresis = hysteresis
        self._type = BitRateType.UNSPECIFIED  # the last type given
        self._mean = 0.0

    def add(self, rate_bps: float, null_packets: bool = False) -> BitRateType:
        """Add one interval's rate and classify the stream as of this interval."""
        self.rates.append(rate_bps)
        self._type = t = self._classify(null_packets)
        return t

    def _classify(self, null_packets: bool) -> BitRateType:
        rates = list(self.rates)
        n = len(rates)
        self._mean = mean = _sum(rates) / n
        if null_packets:
            return BitRateType.CBR
        if n < self.min_intervals or mean <= 0:
            return BitRateType.UNSPECIFIED
        cv = math.sqrt(_sum([(x - mean) * (x - mean) for x in rates]) / n) / mean
        limit = self.tolerance
        if self._type is not BitRateType.VBR:  # CBR, or the first decision
            limit *= self.hysteresis
        return BitRateType.CBR if cv <= limit else BitRateType.VBR

    @property
    def mean(self) -> float:
        """The mean of the window's rates (0.0 before the first)."""
        return self._mean

    @property
    def maximum(self) -> float:
        return max(self.rates) if self.rates else 0.0
