"""`iec62379 probe`'s TR 101 290 output: per interval in the JSON, the failing tests in the
table view (the summary's totals are kept by probe.py's `_Summary`)."""

from __future__ import annotations

from typing import Any

from iec62379.collectors.core.report import IntervalReport
from iec62379.mibs.vocabulary import TestState


def tr101290_dict(r: IntervalReport) -> dict[str, dict[str, Any]]:
    """TR 101 290 per test (the DVB MIB's name): state ("pass", "fail" or "unknown") and the
    errors in the interval; tests not enabled are left out, {} when the checks are off."""
    return {
        t.name: {"state": o.state.name.lower(), "errors": o.errors}
        for t, o in r.tr101290.items()
        if o.state is not TestState.DISABLED
    }


def failing_tests(r: IntervalReport) -> list[str]:
    """The TR 101 290 tests that failed in the interval (their DVB MIB names)."""
    return [t.name for t, o in r.tr101290.items() if o.state is TestState.FAIL]


__all__ = ["failing_tests", "tr101290_dict"]
