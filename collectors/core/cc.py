"""Continuity-counter checking per PID (ISO/IEC 13818-1 2.4.3.3, ETSI TR 101 290 1.4).

Rules applied to the packets of each PID, in arrival order:

- only packets with a payload count (the counter does not increment on adaptation-field-only
  packets), and the null PID 0x1FFF is not checked;
- the next counter is the previous one + 1 (mod 16);
- a packet with the same counter as the previous one is a legal duplicate once; a second
  repeat (third copy) is an error;
- a packet whose adaptation field sets discontinuity_indicator is never an error;
- after an error the checker continues from the counter received.

An error with a counter step of k (2 <= k <= 15) means k - 1 packets were lost (mod 16: a
loss of 16 packets is invisible, that is the counter's limit). An extra duplicate loses none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ts import NULL_PID

PID_COUNT = 8192


@dataclass(slots=True)
class CcResult:
    errors: int
    lost: int  # packets the counter steps say are missing
    per_pid: dict[int, int]  # PID -> errors (non-zero only)


class ContinuityChecker:
    """Keeps the last counter of every PID between calls."""

    def __init__(self) -> None:
        self.last_cc = np.full(PID_COUNT, -1, dtype=np.int64)
        self.last_dup = np.zeros(PID_COUNT, dtype=bool)

    def process(
        self, pid: np.ndarray, cc: np.ndarray, has_payload: np.ndarray, discontinuity: np.ndarray
    ) -> CcResult:
        """Check packets (arrays in arrival order; only valid TS packets should be passed)."""
        at, lost = self.errors_at(pid, cc, has_payload, discontinuity)
        if at.size == 0:
            return CcResult(0, 0, {})
        pids, counts = np.unique(pid[at], return_counts=True)
        per_pid = {int(a): int(b) for a, b in zip(pids, counts, strict=True)}
        return CcResult(int(at.size), int(lost.sum()), per_pid)

    def errors_at(
        self, pid: np.ndarray, cc: np.ndarray, has_payload: np.ndarray, discontinuity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``process`` per packet: the indices of the packets that are errors (ascending) and
        the packets each error says were lost. State carries across calls as in ``process``.

        ``has_payload``: bool flags, or the packets' adaptation_field_control values (uint8,
        bit 0 = payload). The readable rule; ``fast.ts_headers_cc`` does it in its pass."""
        if has_payload.dtype != bool:
            has_payload = (has_payload & 1) != 0
        sel = np.flatnonzero(has_payload & (pid != NULL_PID))
        if sel.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        p = pid[sel]
        # PIDs fit in 16 bits: numpy's stable sort of 16-bit integers is a radix sort.
        order = np.argsort(p.astype(np.uint16), kind="stable")
        ps = p[order]
        cs = cc[sel][order].astype(np.int16)
        ds = discontinuity[sel][order]
        first = np.empty(ps.shape[0], dtype=bool)
        first[0] = True
        np.not_equal(ps[1:], ps[:-1], out=first[1:])
        prev_cc = np.empty_like(cs)
        prev_cc[1:] = cs[:-1]
        prev_cc[first] = self.last_cc[ps[first]]
        has_prev = prev_cc >= 0
        step = (cs - prev_cc) & 0x0F
        is_dup = has_prev & (step == 0) & ~ds
        prev_dup = np.empty_like(is_dup)
        prev_dup[1:] = is_dup[:-1]
        prev_dup[first] = self.last_dup[ps[first]]
        err = has_prev & ~ds & (step != 1) & ~(is_dup & ~prev_dup)
        last = np.empty_like(first)
        last[-1] = True
        last[:-1] = first[1:]
        self.last_cc[ps[last]] = cs[last]
        self.last_dup[ps[last]] = is_dup[last]
        e = np.flatnonzero(err)
        if e.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        at = sel[order[e]]
        st = step[e]
        lost = np.where(st >= 2, st - 1, 0).astype(np.int64)
        back = np.argsort(at, kind="stable")
        return at[back], lost[back]
