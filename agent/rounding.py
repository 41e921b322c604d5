"""Rounding of reported values, shared by the agent's model and the collectors.

Standard library only, so the agent can use it without the collectors (and without numpy),
and the collectors, which already import from ``iec62379.agent``, can use it without an import
cycle (``agent.model`` imports ``collectors.temperature``, so that module cannot import
``agent.model``).

temperatureTrend (TemperatureTrend ::= Gauge32, "the current temperature at the location",
whole degrees Celsius; digest sections 2 and 3) is a reading rounded to whole degrees. The
digest does not say how halves round, so we use the conventional rounding of a displayed value:
to the nearest degree, halves away from zero (47.5 -> 48, 2.5 -> 3, -0.5 -> -1), not Python's
``round`` (halves to even: 2.5 -> 2). Below 0 °C the Gauge32 shows 0 (digest section 3), so
for the trend halves away from zero and halves upwards give the same values.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["GAUGE32_MAX", "round_half_away", "temperature_trend"]

GAUGE32_MAX = 4294967295


def round_half_away(value: float | Fraction) -> int:
    """The nearest integer, halves away from zero: 0.5 -> 1, 2.5 -> 3, -2.5 -> -3.

    Exact for floats (the fraction ``a - floor(a)`` of a float is exact) and for Fractions
    (e.g. ``Fraction(milli, 1000)``). Raises OverflowError / ValueError for infinities / NaN,
    as ``int`` does.
    """
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return -whole if value < 0 else whole


def temperature_trend(celsius: float | Fraction | None) -> int:
    """temperatureTrend of a reading in °C: whole degrees (halves away from zero), 0 for a
    reading that rounds below 0 °C or for no reading (None), at most the Gauge32 maximum."""
    if celsius is None or celsius <= 0:
        return 0
    if celsius >= GAUGE32_MAX:
        return GAUGE32_MAX
    return round_half_away(celsius)
