"""Child processes for the tests: a known signal disposition, and always stopped.

A test run started in the background by a shell inherits SIGINT (and SIGQUIT) as ignored, and
an ignored signal stays ignored across exec: a child stopped by SIGINT would then run on.
``popen`` gives every child the default dispositions, and ``stop`` / ``running`` end it
whatever happens: the signal asked for, then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_RESTORED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def _default_signals() -> None:
    for sig in _RESTORED:
        signal.signal(sig, signal.SIG_DFL)


def popen(
    args: Sequence[str], preexec_fn: Callable[[], object] | None = None, **kwargs: Any
) -> subprocess.Popen:
    """subprocess.Popen with SIGINT, SIGQUIT and SIGTERM at their defaults in the child (then
    preexec_fn, for a test that sets a disposition of its own)."""

    def before_exec() -> None:
        _default_signals()
        if preexec_fn is not None:
            preexec_fn()

    return subprocess.Popen(list(args), preexec_fn=before_exec, **kwargs)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Send sig unless proc has exited, wait up to timeout, then SIGKILL; the exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


@contextmanager
def running(
    args: Sequence[str], *, sig: int = signal.SIGTERM, timeout: float = 15, **kwargs: Any
) -> Iterator[subprocess.Popen]:
    """``popen`` for the block's duration; stopped by ``stop`` when the block is left."""
    proc = popen(args, **kwargs)
    try:
        yield proc
    finally:
        stop(proc, sig, timeout)
