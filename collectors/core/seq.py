"""RTP sequence-number tracking: loss, reordering, duplicates (RFC 3550 A.1, vectorised).

Sequence numbers are extended past the 16-bit wrap by adding the signed 16-bit difference to
the previous packet. Against the highest extended number received so far (max):

- a packet above max advances it; the numbers skipped (ext - max - 1) are *lost* (counted
  when the gap is seen, so a packet that turns up later is still counted once in MLR, as the
  out-of-order packet RFC 4445 asks to count);
- a packet at or below max that was received before is a *duplicate*;
- any other packet at or below max is *reordered* (late); the net loss RFC 3550 reports is
  lost - reordered;
- a packet more than ``MAX_MISORDER`` below max is taken as a sequence restart (the sender
  restarted with the same SSRC): it is counted, and tracking starts again from it;
- a packet more than ``REORDER_WINDOW`` below max is on probation (RFC 3550 A.1, whose
  MAX_MISORDER is 100): if the next packet follows it (its number + 1), the sender restarted
  with the same SSRC and numbers, and tracking starts again from that next packet, as A.1
  re-syncs after two sequential packets. The packet on probation itself is counted as what it
  looks like when it arrives (late or duplicate); A.1 drops it.

The tracker keeps its state between calls, so splitting a sequence into calls of any size
gives the same results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fast

MAX_MISORDER = 3000
REORDER_WINDOW = 100
_NEVER = np.iinfo(np.int64).min
_BASE = 1 << 20  # first extended number: keeps late packets before the first one positive


@dataclass(slots=True)
class SeqResult:
    """Per-packet results of one call: numbers lost before each packet, late and dup flags."""

    gap: np.ndarray  # int64
    late: np.ndarray  # bool
    dup: np.ndarray  # bool
    restarts: int
    restart_at: list[int]  # index of the packet each restart was seen at


class SequenceTracker:
    """Tracks one RTP source (one SSRC); call reset() when the SSRC changes."""

    def __init__(self) -> None:
        self.seen = np.full(65536, _NEVER, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self.started = False
        self.last16 = 0
        self.ext_last = 0
        self.ext_max = 0
        self.probation = False  # the last packet was more than REORDER_WINDOW below max
        self.seen.fill(_NEVER)

    def process(self, seq: np.ndarray) -> SeqResult:
        """Account for packets with these sequence numbers, in arrival order."""
        seq = seq.astype(np.int64, copy=False)
        n = seq.shape[0]
        gap = np.zeros(n, dtype=np.int64)
        late = np.zeros(n, dtype=bool)
        dup = np.zeros(n, dtype=bool)
        restarts = 0
        restart_at: list[int] = []
        pos = 0
        while pos < n:
            if not self.started:
                first = int(seq[pos])
                self.started = True
                self.last16 = first
                self.ext_last = first + _BASE
                self.ext_max = self.ext_last - 1
                self.probation = False
                self.seen.fill(_NEVER)
            r = fast.seq_run(self, seq[pos:], gap[pos:], late[pos:], dup[pos:])
            pos += r
            if pos < n:
                restarts += 1
                restart_at.append(pos)
                self.started = False
        return SeqResult(gap, late, dup, restarts, restart_at)

    def run_reference(
        self, s: np.ndarray, gap: np.ndarray, late: np.ndarray, dup: np.ndarray
    ) -> int:
        """Process s until a restart; fills the output views; returns packets consumed.
        The readable rule; ``fast.seq_run`` is the fast path."""
        prev = np.empty_like(s)
        prev[0] = self.last16
        prev[1:] = s[:-1]
        d = ((s - prev + 32768) & 0xFFFF) - 32768
        ext = self.ext_last + np.cumsum(d)
        m = np.maximum.accumulate(np.concatenate(([self.ext_max], ext)))
        m_prev = m[:-1]
        behind = m_prev - ext
        bad = behind > REORDER_WINDOW
        follows = np.concatenate(([self.probation], bad[:-1])) & (d == 1)
        jump = (behind > MAX_MISORDER) | follows
        r = int(np.argmax(jump)) if jump.any() else s.shape[0]
        if r == 0:  # the first packet is a restart: the caller starts over from it
            return 0
        ext, m_prev = ext[:r], m_prev[:r]
        key = ext & 0xFFFF
        seen = self.seen[key]
        is_dup = seen == ext
        rising = r == 1 or bool(np.all(d[1:r] > 0))
        if not rising:
            order = np.argsort(ext, kind="stable")
            srt = ext[order]
            same = np.flatnonzero(srt[1:] == srt[:-1]) + 1
            is_dup[order[same]] = True
        adv = ext > m_prev
        gap[:r] = np.where(adv, ext - m_prev - 1, 0)
        late[:r] = ~adv & ~is_dup
        dup[:r] = is_dup
        if rising and int(ext[-1]) - int(ext[0]) < 65536:
            self.seen[key] = np.maximum(seen, ext)  # distinct keys: what maximum.at does
        else:
            np.maximum.at(self.seen, key, ext)
        self.last16 = int(s[r - 1])
        self.ext_last = int(ext[-1])
        self.ext_max = int(m[r])
        self.probation = bool(bad[r - 1])
        return r
