"""Bookkeeping of the TR 101 290 checks (``tr101290.py``): their constants, the faults of
the status tests, the gap watches, the arrival times and byte copies the passes read."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from iec62379.mibs.vocabulary import BitRateType, TestState, TsTest

from .report import TestOutcome
from .ts import TS_PACKET_SIZE, TsHeaders, gather_pcr

CBR = BitRateType.CBR
PCR_HZ = 27_000_000
PCR_MOD = (1 << 33) * 300
SYNC_ACQUIRE = 5  # consecutive correct sync bytes (TR 101 290 5.2.1, 1.1)
SYNC_LOSE = 2  # consecutive corrupted sync bytes

_PSI = 1
_PES = 2
_REF = 4

STATUS_TESTS = frozenset(
    [
        TsTest.tsSyncLoss,
        TsTest.patError2,
        TsTest.pmtError2,
        TsTest.pidError,
        TsTest.pcrRepetitionError,
        TsTest.ptsError,
    ]
)
PID_TESTS = frozenset(
    [
        TsTest.continuityCountError,
        TsTest.pmtError2,
        TsTest.pidError,
        TsTest.pcrRepetitionError,
        TsTest.pcrDiscontinuityError,
        TsTest.pcrAccuracyError,
        TsTest.ptsError,
    ]
)


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


@dataclass(slots=True)
class Fault:
    """A status test failing from start until end (None: still failing)."""

    start: int
    end: int | None
    pid: int | None = None
    counted: bool = False


class GapWatch:
    """Occurrences per key (a PID): a gap longer than the limit is a fault from the moment
    the limit passed until the next occurrence."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}
        self.open: dict[int, Fault] = {}

    def arm(self, key: int, t: int) -> None:
        """Watch key from t (if not watched yet)."""
        self.last.setdefault(key, t)

    def drop(self, key: int) -> None:
        self.last.pop(key, None)
        f = self.open.pop(key, None)
        if f is not None and f.end is None:
            f.end = f.start

    def occur(self, key: int, t: int, limit: int, faults: list[Fault]) -> None:
        last = self.last.get(key)
        self.last[key] = t
        f = self.open.pop(key, None)
        if f is not None:
            f.end = t
        elif last is not None and t - last > limit:
            faults.append(Fault(last + limit, t, key))

    def occur_many(self, key: int, times: np.ndarray, limit: int, faults: list[Fault]) -> None:
        """occur() for the sorted times (one array of a feed call)."""
        last = self.last.get(key)
        first = int(times[0])
        if last is None or first - last <= limit:
            self.last[key] = first
            self.open.pop(key, None)
        else:
            self.occur(key, first, limit, faults)
        if times.shape[0] > 1 and int(times[-1]) - first > limit:
            gaps = np.flatnonzero(np.diff(times) > limit)
            for g in gaps.tolist():
                a = int(times[g])
                faults.append(Fault(a + limit, int(times[g + 1]), key))
        self.last[key] = int(times[-1])

    def occur_gaps(
        self,
        key: int,
        first: int,
        last: int,
        gaps: list[tuple[int, int]],
        limit: int,
        faults: list[Fault],
    ) -> None:
        """occur_many() for sorted times given by their first, last and the gaps (from, to)
        longer than limit between two of them (``gap_scan``)."""
        before = self.last.get(key)
        if before is None or first - before <= limit:
            self.last[key] = first
            self.open.pop(key, None)
        else:
            self.occur(key, first, limit, faults)
        for a, b in gaps:
            faults.append(Fault(a + limit, b, key))
        self.last[key] = last

    def due(self, end: int, limit: int, faults: list[Fault], grace: int = 0) -> None:
        """Open a fault (from the moment the limit passed) for every key not seen for more
        than limit + grace before end."""
        for key, last in self.last.items():
            if last < end and end - last > limit + grace and key not in self.open:
                f = Fault(last + limit, None, key)
                self.open[key] = f
                faults.append(f)


def scan_reference(
    h: TsHeaders,
    err: np.ndarray | None,
    hdata: np.ndarray,
    hstarts: np.ndarray,
    starts: np.ndarray,
    psi_lut: np.ndarray,
    lut: np.ndarray,
    pes_flag: int,
    begin: int,
    what: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The packets a call's checks look at, positions from begin on (int64; an empty array
    for what is not asked): (what & 1) the PSI packets (psi_lut[pid]) without a header error
    (err[i] != 0; err None: none has one) whose bytes are kept (starts >= 0); (& 2) the PES
    packet starts, payload_unit_start on a PID with lut[pid] & pes_flag, without a header
    error; (& 4) the packets with a PCR (has_pcr); (& 8) the scrambled packets (the
    transport_scrambling_control bits of byte 3, hdata at hstarts) without a header error;
    last, the PCR values of (& 4)'s packets (``gather_pcr`` of their heads). The rule of
    ``fast.tr_scan``'s kernel."""
    none = np.zeros(0, dtype=np.int64)
    out = [none, none, none, none, none]
    ok = None if err is None else err[begin:] == 0
    pid = h.pid[begin:]
    if what & 1:
        m = psi_lut[pid].astype(bool) & (starts[begin:] >= 0)
        out[0] = np.flatnonzero(m if ok is None else m & ok) + begin
    if what & 2:
        m = h.pusi[begin:] & ((lut[pid] & pes_flag) != 0)
        out[1] = np.flatnonzero(m if ok is None else m & ok) + begin
    if what & 4:
        out[2] = np.flatnonzero(h.has_pcr[begin:]) + begin
        out[4] = gather_pcr(hdata, hstarts[out[2]])
    if what & 8:
        m = (hdata[hstarts[begin:] + 3] & 0xC0) != 0
        out[3] = np.flatnonzero(m if ok is None else m & ok) + begin
    a, b, c, d, e = (x.astype(np.int64) for x in out)
    return a, b, c, d, e


def pes_with_pts(
    data: np.ndarray, starts: np.ndarray, payload_offset: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """Of the payload unit starts at (packet i's bytes at data[starts[i]]), those that begin
    a PES packet with a PTS (int64 positions): not scrambled, a payload offset of 4 or more
    leaving 9 bytes, the start code 00 00 01 and the high bit of PTS_DTS_flags. (A kernel
    with prefetch saved about 1 % of ``bench pcap``: not kept.)"""
    off = payload_offset[at].astype(np.int64)
    s = starts[at]
    keep = (off >= 4) & (off + 9 <= TS_PACKET_SIZE)
    keep &= (data[s + 3] & 0xC0) == 0
    at, s = at[keep], s[keep] + off[keep]
    pts = (data[s] == 0) & (data[s + 1] == 0) & (data[s + 2] == 1) & ((data[s + 7] & 0x80) != 0)
    return at[pts].astype(np.int64)


def gap_scan_reference(
    pid: np.ndarray,
    t: np.ndarray,
    err: np.ndarray | None,
    lut: np.ndarray,
    flag: int,
    at: np.ndarray | None,
    limit: int,
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over the packets (all, or those at: increasing positions) whose PID p has
    lut[p] & flag and no header error (err[i] == 0; err None: none has one): the PIDs seen
    (sorted), the first and last time t of each (int64, in that order), and every two
    consecutive packets of a PID more than limit apart (PID, earlier t, later t; int64, in
    the order of the later packet). The rule of ``fast.gap_scan``'s kernel."""
    idx = np.arange(pid.shape[0], dtype=np.int64) if at is None else at.astype(np.int64)
    p = pid[idx].astype(np.int64)
    keep = (lut[p] & flag) != 0
    if err is not None:
        keep &= err[idx] == 0
    idx, p = idx[keep], p[keep]
    seen = np.unique(p).tolist()
    first = np.zeros(len(seen), dtype=np.int64)
    last = np.zeros(len(seen), dtype=np.int64)
    where: list[np.ndarray] = []
    g_pid: list[np.ndarray] = []
    g_from: list[np.ndarray] = []
    g_to: list[np.ndarray] = []
    for j, q in enumerate(seen):
        pos = idx[p == q]
        tt = t[pos].astype(np.int64)
        first[j], last[j] = tt[0], tt[-1]
        g = np.flatnonzero(np.diff(tt) > limit)
        where.append(pos[g + 1])
        g_pid.append(np.full(g.shape[0], q, dtype=np.int64))
        g_from.append(tt[g])
        g_to.append(tt[g + 1])
    if not seen:
        e = np.zeros(0, dtype=np.int64)
        return seen, first, last, e, e.copy(), e.copy()
    order = np.argsort(np.concatenate(where), kind="stable")
    return (
        seen,
        first,
        last,
        np.concatenate(g_pid)[order],
        np.concatenate(g_from)[order],
        np.concatenate(g_to)[order],
    )


def gap_runs(
    watch: GapWatch,
    scan: tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    limit: int,
    faults: list[Fault],
    whole: bool = True,
) -> None:
    """The occurrences a ``gap_scan`` found, into watch (PID by PID, in PID order): with
    whole, as ``occur_many`` of each PID's times; else (no two of a call can be more than
    limit apart) as ``occur`` of the first, the last one remembered."""
    seen, first, last, g_pid, g_from, g_to = scan
    many = g_pid.shape[0] > 0
    gp = g_pid.tolist() if many else []
    for q, a, b in zip(seen, first.tolist(), last.tolist(), strict=True):
        if whole:
            gaps = (
                [(x, y) for x, y, z in zip(g_from.tolist(), g_to.tolist(), gp, strict=True)
                 if z == q]
                if many
                else []
            )
            watch.occur_gaps(q, a, b, gaps, limit, faults)
        else:
            watch.occur(q, a, limit, faults)
            watch.last[q] = b

_PASS = TestOutcome(TestState.PASS, 0)
_UNKNOWN = TestOutcome(TestState.UNKNOWN, 0)


class IntervalRuns:
    """The intervals that had packets, as runs of consecutive indices (added in order; a
    steady stream is one run); the oldest runs go past ``keep`` runs."""

    def __init__(self, keep: int = 4096) -> None:
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.keep = keep

    def add(self, k: int) -> None:
        hi = self.hi
        if hi and self.lo[-1] <= k <= hi[-1]:
            return
        if hi and k == hi[-1] + 1:
            hi[-1] = k
            return
        self.lo.append(k)
        hi.append(k)
        if len(hi) > self.keep:
            del self.lo[0], hi[0]

    def update(self, ks: list[int]) -> None:
        for k in ks:
            self.add(k)

    def __contains__(self, k: int) -> bool:
        i = bisect_right(self.lo, k) - 1
        return i >= 0 and k <= self.hi[i]


class _Times:
    """The arrival time of each packet (an array, as the passes read it)."""

    __slots__ = ("arrival", "shape")

    def __init__(self, arrival: np.ndarray) -> None:
        self.arrival = arrival
        self.shape = arrival.shape

    def __getitem__(self, idx: Any) -> Any:
        return self.arrival[idx]

    def full(self) -> np.ndarray:
        return self.arrival


_HEADER_FIELDS = [f.name for f in fields(TsHeaders)]
FLUSH_PACKETS = 16384  # calls are checked together once this many packets are pending
DIRECT_PACKETS = 2048  # a call this big is checked at once, without copies


def _rows(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Copies of data[s : s + width] for s in starts, as an (n, width) uint8 array."""
    count = data.shape[0] - width + 1
    if starts.shape[0] == 0:
        return np.zeros((0, width), dtype=np.uint8)
    if data.dtype == np.uint8 and data.flags.c_contiguous and count > 0:
        view = np.ndarray((count,), dtype=np.dtype(f"V{width}"), buffer=data, strides=(1,))
        return view[starts].view(np.uint8).reshape(-1, width)
    return np.ascontiguousarray(data[starts[:, None] + np.arange(width)], dtype=np.uint8)

