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

from collections import deque
from enum import IntEnum

import numpy as np


class BitRateType(IntEnum):
    UNSPECIFIED = 0
    VBR = 1
    CBR = 2


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
        arr = np.asarray(self.rates, dtype=np.float64)
        mean = float(arr.mean())
        if mean <= 0:
            return BitRateType.UNSPECIFIED
        cv = float(arr.std()) / mean
        return BitRateType.CBR if cv <= self.tolerance else BitRateType.VBR

    @property
    def maximum(self) -> float:
        return max(self.rates) if self.rates else 0.0
