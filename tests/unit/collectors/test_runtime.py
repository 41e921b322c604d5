"""collectors/runtime.py: glibc's malloc keeps freed memory for reuse."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Rounds of what a feed call does: many arrays of about 100 kB allocated, then all freed. The
# page faults of rounds 2..11 count the memory given back to the system and taken again.
_CHILD = r"""
import resource, sys, numpy as np
ok = None
if sys.argv[1] == "on":
    from iec62379.collectors.runtime import keep_freed_memory
    ok = keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def round_():
    arrays = [np.ones(100_000, dtype=np.uint8) for _ in range(300)]
    del arrays
round_()
before = faults()
for _ in range(10):
    round_()
print(ok, faults() - before)
"""


def _child(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_freed_memory_is_reused() -> None:
    """In processes of their own (the setting is process-wide): glibc accepts the values, and
    with them the freed arrays are reused instead of faulted in again."""
    ok, on = _child("on")
    _none, off = _child("off")
    assert ok == "True"
    assert off > 5_000  # 30 MB returned and taken again each round without the setting
    assert on < off // 20, (on, off)
