"""ETSI TR 101 290 V1.4.1 priority 1 and 2 checks of one transport stream (5.2.1, 5.2.2).

Fed with every TS packet of a feed call (``feed``: the header arrays the kernels made, the
arrival time of each packet, its position in the stream), closed per interval (``close``:
one :class:`TestOutcome` per test). No clock: every time is an arrival time passed in.

The checks:

- 1.1 TS_sync_loss (status): sync is acquired after 5 consecutive correct sync bytes and
  lost after 2 or more consecutive corrupted ones; a silence of an interval or more (no packet
  at all) starts acquiring again, and an interval without packets reports FAIL.
- 1.2 Sync_byte_error (event): every packet whose sync byte is not 0x47.
- 1.3.a PAT_error_2 (status): no section with table_id 0x00 on PID 0x0000 for more than
  ``pat_interval_max_s`` (from the first packet on); a section with another table_id on PID
  0x0000, or a scrambled packet there (an error entered and left at once).
- 1.4 Continuity_count_error (event): the continuity checker's errors (cc.py), per PID.
- 1.5.a PMT_error_2 (status, per program_map_PID of the PAT): no section with table_id 0x02
  for more than ``pmt_interval_max_s`` (from the PAT that names the PID), or a scrambled packet.
- 1.6 PID_error (status, per PID referred to by a PMT): no packet of the PID for more than
  ``referred_interval_max_s`` (from the PMT that refers to it).
- 2.1 Transport_error (event): transport_error_indicator set.
- 2.2 CRC_error (event): a PAT, CAT, PMT, NIT, SDT, BAT, EIT or TOT section with a wrong
  CRC_32.
- 2.3.a PCR_repetition_error (status, per PCR PID): more than ``pcr_interval_max_s`` between
  two consecutive PCRs: on the PCR clock where the two are continuous (no discontinuity, a
  step within 2.3.b's limit: network jitter does not count), else on the arrival clock; and
  a PCR PID that stops while the stream goes on fails from the first packet that arrives more
  than twice the limit after its last PCR (once the interval of that packet has closed before
  the next PCR: what a close at the interval's end sees, however the packets were batched).
- 2.3.b PCR_discontinuity_indicator_error (event, per PID): two consecutive PCR values differ
  by more than ``pcr_discontinuity_max_s`` or go back, without discontinuity_indicator.
- 2.4 PCR_accuracy_error (event, per PID): a PCR more than ``pcr_inaccuracy_max_s`` away from
  what the previous PCR and the bytes between them give at the stream's rate; evaluated only
  while the rate is constant (CBR), else UNKNOWN.
- 2.5 PTS_error (status, per PID): more than ``pts_interval_max_s`` between two PES packets
  with a PTS on a PID of a PMT that carries them (a PID is watched from its first PTS).
- 2.6 CAT_error (event): a scrambled packet while no CAT (table_id 0x01 on PID 0x0001) has
  been seen, once per interval; a section with another table_id on PID 0x0001.

Status tests record faults (from the moment the limit was passed until the next occurrence);
event tests record events. ``close`` reports per test the state at the end of the interval
(status) or FAIL when an event occurred in it (event), the errors (events or entries into
fail) and the time of the latest. The DVB MIB's persistence and counters are kept by the
publish layer.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
from iec62379.mibs.vocabulary import BitRateType, TestState, TsTest

from . import fast
from .errors import ErrorKind
from .report import TestOutcome, Tr101290Limits
from .tr101290_close import ClosingChecks
from .tr101290_psi import PAT_PID, PsiEvents, PsiWatch
from .tr101290_psipass import PsiPasses
from .tr101290_watch import (
    _PES,
    _PSI,
    _REF,
    CBR,
    DIRECT_PACKETS,
    FLUSH_PACKETS,
    PCR_HZ,
    PCR_MOD,
    PID_TESTS,
    STATUS_TESTS,
    SYNC_ACQUIRE,
    SYNC_LOSE,
    Fault,
    GapWatch,
    IntervalRuns,
    _ns,
    _rows,
    _Times,
    gap_runs,
    pes_with_pts,
)
from .ts import HEAD_BYTES, TS_PACKET_SIZE, TsHeaders

_HEADER_FIELDS = [f.name for f in fields(TsHeaders)]


class Tr101290Checker(PsiPasses, ClosingChecks):
    """The TR 101 290 priority 1 and 2 checks of one stream (see the module's text)."""

    def __init__(self, limits: Tr101290Limits, interval_ns: int, origin: int | None = None):
        self.limits = limits
        self._interval_ns = interval_ns
        self._origin = origin  # where interval 0 starts (None: at the first packet)
        self.set_limits(limits)
        # when each test could first be evaluated (what it needs was seen)
        self._since: dict[TsTest, int] = {}
        self._psi = PsiWatch()
        self._pending: list[tuple[Any, ...]] = []  # calls fed, not checked yet (flush)
        self._pending_n = 0
        self._pcr_late: dict[int, int | None] = {}  # see _pcr_overdue
        self._busy = IntervalRuns()  # the intervals with packets
        # PSI PID -> its last packet, when feeding it again would show the same (_psi_pass)
        self._memo: dict[int, bytes] = {}
        self._memo_ev: dict[int, PsiEvents] = {}
        self._lut = np.zeros(8192, dtype=np.uint8)
        self._psi_lut = np.zeros(8192, dtype=bool)  # (the _PSI bit of _lut)
        for p in self._psi.watched():
            self._lut[p] |= _PSI
            self._psi_lut[p] = True
        self._refs: list[int] = []
        self._tables_version = 0  # (counts _tables_changed)
        self._pcr_known: set[int] = set()
        self._sync = 0  # 0 acquiring, 1 in sync, -1 lost
        self._good = 0
        self._bad = 0
        self._last_t: int | None = None
        self._t_first: int | None = None
        self._cat_at: int | None = None  # the first CAT's arrival
        self._pcr_last: dict[int, tuple[int, int, int]] = {}  # PID -> (arrival, PCR, index)
        self._faults: dict[TsTest, list[Fault]] = {t: [] for t in STATUS_TESTS}
        # event test -> interval index -> [events, latest arrival, {PID: events}]
        self._events: dict[TsTest, dict[int, list[Any]]] = {
            t: {} for t in TsTest if t not in STATUS_TESTS
        }
        self._scrambled_k: dict[int, int] = {}  # interval -> first scrambled packet w/o CAT
        # interval index -> PCR pairs (arrival, PID, PCR ticks, packets between them)
        self._acc: dict[int, list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]] = {}
        self._pat = GapWatch()
        self._pmt = GapWatch()
        self._ref = GapWatch()
        self._pcr = GapWatch()
        self._pts = GapWatch()
        self._sync_fault: Fault | None = None
        self._last_sync_state: TestState | None = None

    # ------------------------------------------------------------------ limits

    def set_limits(self, limits: Tr101290Limits) -> None:
        """New limits, from now on (the analyzer calls this between two intervals)."""
        self.limits = limits
        self._pat_ns = _ns(limits.pat_interval_max_s)
        self._pmt_ns = _ns(limits.pmt_interval_max_s)
        self._ref_ns = _ns(limits.referred_interval_max_s)
        self._pcr_ns = _ns(limits.pcr_interval_max_s)
        self._disc_ticks = int(round(limits.pcr_discontinuity_max_s * PCR_HZ))
        self._pts_ns = _ns(limits.pts_interval_max_s)

    # ------------------------------------------------------------------ feeding

    def _origin_now(self) -> int:
        origin = self._origin if self._origin is not None else self._t_first
        assert origin is not None
        return origin

    def _k(self, times: np.ndarray) -> np.ndarray:
        """The interval of each arrival time."""
        origin = self._origin if self._origin is not None else self._t_first
        assert origin is not None
        return (times - origin) // self._interval_ns

    def _event(self, test: TsTest, times: np.ndarray, pids: np.ndarray | None = None) -> None:
        """Events of test at times (sorted), of pids, into their intervals' buckets."""
        k = self._k(times)
        buckets = self._events[test]
        per_pid = pids is not None and test in PID_TESTS
        if k[0] == k[-1]:
            cuts = [0, times.shape[0]]
        else:
            cuts = [0, *(np.flatnonzero(np.diff(k)) + 1).tolist(), times.shape[0]]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            kk = int(k[a])
            bucket = buckets.get(kk)
            if bucket is None:
                bucket = buckets[kk] = [0, 0, {}]
            bucket[0] += b - a
            bucket[1] = max(bucket[1], int(times[b - 1]))
            if per_pid:
                assert pids is not None
                per = bucket[2]
                if b - a < 256:
                    for p in pids[a:b].tolist():
                        per[p] = per.get(p, 0) + 1
                    continue
                u, c = np.unique(pids[a:b], return_counts=True)
                for p, n in zip(u.tolist(), c.tolist(), strict=True):
                    per[p] = per.get(p, 0) + n

    def feed(
        self,
        data: np.ndarray,
        starts: np.ndarray,
        hdata: np.ndarray,
        hstarts: np.ndarray,
        arrival: np.ndarray,
        dgram: np.ndarray,
        h: TsHeaders,
        cc_at: np.ndarray,
        index: np.ndarray,
        origin: int | None,
    ) -> None:
        """A feed call's TS packets: their bytes (data at starts; the first 12 bytes of
        each also at hstarts in hdata, perhaps a copy of the headers alone), their datagrams
        dgram and the datagrams' arrival times (int64, monotonic), headers h, the continuity
        errors' positions cc_at, stream indices; origin: where interval 0 starts (the
        analyzer's first arrival).

        Only what the checks read later is kept (the buffers may be reused by the source):
        each packet's first 12 bytes, and the whole packet of those that may carry a section
        or a PES header (the PSI PIDs known now, every payload unit start). The checks run
        over many calls at once (``flush``: before an interval closes, or when enough are
        pending), so that their cost is per interval more than per call."""
        n = starts.shape[0]
        if n == 0:
            return
        if origin is not None:
            self._origin = origin
        if n >= DIRECT_PACKETS:  # a big call (a capture's batch): checked now, as it is
            self.flush()
            t = arrival[dgram]
            self._process(data, starts, hdata, hstarts, t, h, cc_at, index)
            return
        heads = _rows(hdata, hstarts, HEAD_BYTES)
        want = self._psi_lut[h.pid] | h.pusi
        rare = np.flatnonzero(want)
        full = _rows(data, starts[rare], TS_PACKET_SIZE)
        self._pending.append((arrival[dgram], heads, rare, full, h, cc_at, index))
        self._pending_n += n
        if self._pending_n >= FLUSH_PACKETS:
            self.flush()

    def flush(self) -> None:
        """Run the checks over the calls fed since the last flush."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._pending_n = 0
        if len(pending) == 1:
            t, heads, rare, full, h, cc_at, index = pending[0]
        else:
            t = np.concatenate([x[0] for x in pending])
            heads = np.concatenate([x[1] for x in pending])
            full = np.concatenate([x[3] for x in pending])
            offs = np.cumsum([0, *(x[0].shape[0] for x in pending)])
            rare = np.concatenate([x[2] + o for x, o in zip(pending, offs.tolist(), strict=False)])
            cc_at = np.concatenate([x[5] + o for x, o in zip(pending, offs.tolist(), strict=False)])
            index = np.concatenate([x[6] for x in pending])
            hs = [x[4] for x in pending]
            h = TsHeaders(
                *(np.concatenate([getattr(y, f) for y in hs]) for f in _HEADER_FIELDS)
            )
        n = t.shape[0]
        starts = np.full(n, -1, dtype=np.int64)  # (the packets kept whole, in full)
        starts[rare] = np.arange(rare.shape[0], dtype=np.int64) * TS_PACKET_SIZE
        self._process(
            full.reshape(-1),
            starts,
            heads.reshape(-1),
            np.arange(n, dtype=np.int64) * HEAD_BYTES,
            t,
            h,
            cc_at,
            index,
        )

    def _process(
        self,
        data: np.ndarray,
        starts: np.ndarray,
        hdata: np.ndarray,
        hstarts: np.ndarray,
        t_full: np.ndarray,
        h: TsHeaders,
        cc_at: np.ndarray,
        index: np.ndarray,
    ) -> None:
        """The checks over packets (starts[i] < 0: packet i is not in data)."""
        n = starts.shape[0]
        t: Any = _Times(t_full)
        if self._t_first is None:
            self._t_first = int(t[0])
            self._pat.arm(PAT_PID, int(t[0]))
        k_first, k_last = self._k(t_full[[0, n - 1]]).tolist()
        if k_first == k_last:
            self._busy.add(k_first)
        elif k_last - k_first > n:  # (sparse packets) each one's interval
            ks = self._k(t_full)
            self._busy.update(ks[np.flatnonzero(np.diff(ks, prepend=k_first - 1))].tolist())
        else:  # (arrival times are sorted): the intervals some packet falls in
            origin = self._origin_now()
            edges = origin + np.arange(k_first, k_last + 2, dtype=np.int64) * self._interval_ns
            at = np.searchsorted(t_full, edges)
            ks = np.flatnonzero(np.diff(at)) + k_first
            self._busy.update(ks.tolist())
        err = h.error
        bad_any = bool(err.any())
        self._sync_pass(t, err if bad_any else None)
        self._last_t = int(t[n - 1])
        if bad_any:
            sb = np.flatnonzero(err == ErrorKind.TS_SYNC)
            if sb.size:
                self._event(TsTest.syncByteError, t[sb])
            te = np.flatnonzero(err == ErrorKind.TS_TEI)
            if te.size:
                self._event(TsTest.transportError, t[te])
        if cc_at.size:
            self._event(TsTest.continuityCountError, t[cc_at], h.pid[cc_at].astype(np.int64))
        pid = h.pid
        err_v = err if bad_any else None
        cat_at = self._cat_at
        scr_wanted = cat_at is None or cat_at > int(t[0])
        psi, pes, pcr_at, scr, pcr_v = fast.tr_scan(
            h, err_v, hdata, hstarts, starts, self._psi_lut, self._lut, _PES, 0,
            7 | (8 if scr_wanted else 0),
        )
        tables = self._tables_version
        if psi.size:
            # a new PAT or PMT changes the PIDs to look at: on from the packet after it
            while (restart := self._psi_pass(data, starts, t, h, psi)) is not None:
                psi = fast.tr_scan(
                    h, err_v, hdata, hstarts, starts, self._psi_lut, self._lut, _PES, restart, 1
                )[0]
        if scr_wanted:
            self._scrambled(scr, t, self._cat_at)
        if pcr_at.size:
            self._pcr_pass(pcr_v, t, h, index, pcr_at)
        self._pcr_overdue(t_full)
        if self._refs:
            self._ref_pass(t, pid, err_v)
        if self._tables_version != tables:  # (the PES PIDs as the tables are now)
            pes = fast.tr_scan(
                h, err_v, hdata, hstarts, starts, self._psi_lut, self._lut, _PES, 0, 2
            )[1]
        if pes.size:
            self._pts_pass(data, starts, t, h, pes)

    def _sync_pass(self, times: _Times, err: np.ndarray | None) -> None:
        """TS_sync_loss over the call's packets (sync bytes from err)."""
        n = times.shape[0]
        last = self._last_t
        quiet = self._interval_ns
        t0, t1 = int(times[0]), int(times[n - 1])
        resync = last is not None and t0 - last >= quiet
        if t1 - t0 < quiet:  # no silence of an interval within the call
            if err is None and self._sync == 1 and not resync:
                return
            silent = np.zeros(0, np.int64)
        else:
            silent = np.flatnonzero(np.diff(times.full()) >= quiet) + 1
        if err is None and self._sync == 1 and not silent.size and not resync:
            return
        t = times
        bad = np.zeros(n, dtype=bool) if err is None else err == ErrorKind.TS_SYNC
        # runs of equal sync verdicts, also cut where a silence restarts acquiring
        cuts = set((np.flatnonzero(bad[1:] != bad[:-1]) + 1).tolist())
        cuts.update(silent.tolist())
        edges = [0, *sorted(cuts), n]
        silent_set = set(silent.tolist())
        if resync:
            silent_set.add(0)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if a in silent_set:
                self._good = self._bad = 0
                if self._sync == 1:
                    self._sync = 0
            length = b - a
            if bad[a]:
                self._good = 0
                before = self._bad
                self._bad += length
                if self._sync != -1 and self._bad >= SYNC_LOSE:
                    at = a + max(0, SYNC_LOSE - 1 - before)
                    self._sync = -1
                    f = Fault(int(t[at]), None)
                    self._sync_fault = f
                    self._faults[TsTest.tsSyncLoss].append(f)
            else:
                self._bad = 0
                before = self._good
                self._good += length
                if self._sync != 1 and self._good >= SYNC_ACQUIRE:
                    at = a + max(0, SYNC_ACQUIRE - 1 - before)
                    if self._sync_fault is not None:
                        self._sync_fault.end = int(t[at])
                        self._sync_fault = None
                    self._sync = 1

    def _pcr_pass(
        self, values: np.ndarray, t: np.ndarray, h: TsHeaders, index: np.ndarray, at: np.ndarray
    ) -> None:
        """The PCRs (values) of the packets at."""
        t_all = t.full()
        pids = h.pid[at]
        times = t[at]
        disc = h.discontinuity[at]
        idx = index[at]
        rep_f = self._faults[TsTest.pcrRepetitionError]
        one = bool((pids == pids[0]).all())
        groups = (
            [(int(pids[0]), slice(None))]
            if one
            else [(p, pids == p) for p in np.unique(pids).tolist()]
        )
        for p, sel in groups:
            tt, vv, dd, ii = times[sel], values[sel], disc[sel], idx[sel]
            if self._pcr_known and p not in self._pcr_known and self._psi.programs:
                continue
            self._since.setdefault(TsTest.pcrRepetitionError, int(tt[0]))
            self._since.setdefault(TsTest.pcrDiscontinuityError, int(tt[0]))
            prev = self._pcr_last.get(p)
            self._pcr_last[p] = (int(tt[-1]), int(vv[-1]), int(ii[-1]))
            watch = self._pcr
            if prev is None:
                watch.arm(p, int(tt[0]))
                if tt.shape[0] < 2:
                    continue
                pt, pv, pi = tt[:-1], vv[:-1], ii[:-1]
                tt, vv, dd, ii = tt[1:], vv[1:], dd[1:], ii[1:]
            else:
                pt = np.concatenate(([prev[0]], tt[:-1]))
                pv = np.concatenate(([prev[1]], vv[:-1]))
                pi = np.concatenate(([prev[2]], ii[:-1]))
            dv = (vv - pv) % PCR_MOD
            jump = (dv > self._disc_ticks) & ~dd
            if jump.any():
                self._event(TsTest.pcrDiscontinuityError, tt[jump], np.full(int(jump.sum()), p))
            ok = ~(jump | dd)
            if ok.any():
                self._pairs(tt[ok], p, dv[ok], (ii - pi)[ok])
            # 2.3.a: the time between consecutive PCRs, on the PCR clock where the two are
            # continuous (network jitter does not count), else on the arrival clock
            gap = np.where(ok, dv * 1000 // 27, tt - pt)
            f = watch.open.pop(p, None)
            if f is not None:
                f.end = int(tt[0])
            bad = gap > self._pcr_ns
            # and where the stream went on without a PCR for twice the limit, up to the end
            # of an interval before the next PCR came (_pcr_overdue: as a close would see it)
            # (a packet more than twice the limit after a PCR comes before the next PCR only
            # where two PCRs are further apart than that, or from the call before)
            before = self._pcr_late.get(p)
            carried = prev is not None and before is not None
            starts_at = None
            if carried or bool((tt - pt > 2 * self._pcr_ns).any()):
                late = np.full(tt.shape[0], -1, dtype=np.int64)
                nxt = np.searchsorted(t_all, pt + 2 * self._pcr_ns, side="right")
                has = nxt < t_all.shape[0]
                late[has] = t_all[nxt[has]]
                if carried:
                    late[0] = before
                stalled = (late >= 0) & (late < tt) & ~bad
                if stalled.any():
                    ends = self._k(late) * self._interval_ns + self._interval_ns
                    stalled &= ends + (self._origin_now()) <= tt
                    bad |= stalled
                if stalled.any():
                    starts_at = np.where(stalled, late, pt + self._pcr_ns)
            for i in np.flatnonzero(bad).tolist():
                if i == 0 and f is not None:
                    continue
                a = int(pt[i]) + self._pcr_ns if starts_at is None else int(starts_at[i])
                rep_f.append(Fault(a, int(tt[i]), p))
            watch.last[p] = int(tt[-1])
            self._pcr_late[p] = None

    def _pcr_overdue(self, t: np.ndarray) -> None:
        """For each PCR PID: the first packet (of any PID) that arrived more than twice the
        limit after its last PCR (the limit again for network jitter), once one has. A PCR PID
        that stops while the stream goes on fails from its last PCR + the limit; a stream
        that stops altogether is TS_sync_loss's, and judging only from packets that arrived
        makes the outcome the same however the packets were grouped into calls."""
        wait = self._pcr_ns * 2
        for p, last in self._pcr.last.items():
            if self._pcr_late.get(p) is None:
                i = int(np.searchsorted(t, last + wait, side="right"))
                if i < t.shape[0]:
                    self._pcr_late[p] = int(t[i])

    def _pairs(self, tt: np.ndarray, p: int, dv: np.ndarray, di: np.ndarray) -> None:
        """PCR pairs for PCR_accuracy, into their intervals' buckets."""
        k = self._k(tt)
        if k[0] == k[-1]:
            self._acc.setdefault(int(k[0]), []).append((tt, p, dv, di))
            return
        cuts = [0, *(np.flatnonzero(np.diff(k)) + 1).tolist(), tt.shape[0]]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            self._acc.setdefault(int(k[a]), []).append((tt[a:b], p, dv[a:b], di[a:b]))

    def _ref_pass(self, t: np.ndarray, pid: np.ndarray, err: np.ndarray | None) -> None:
        """PID_error: the referred PIDs' packets in this call (err: their header errors,
        None when there are none)."""
        t_all = t.full()
        span_long = int(t_all[-1]) - int(t_all[0]) > self._ref_ns
        scan = fast.gap_scan(pid, t_all, err, self._lut, _REF, None, self._ref_ns)
        gap_runs(self._ref, scan, self._ref_ns, self._faults[TsTest.pidError], span_long)

    def _pts_pass(
        self, data: np.ndarray, starts: np.ndarray, t: np.ndarray, h: TsHeaders, at: np.ndarray
    ) -> None:
        """PTS_error: the PES packets with a PTS among the payload unit starts at."""
        at = pes_with_pts(data, starts, h.payload_offset, at)
        if at.size == 0:
            return
        self._since.setdefault(TsTest.ptsError, int(t[at[0]]))
        scan = fast.gap_scan(h.pid, t.full(), None, self._lut, _PES, at, self._pts_ns)
        gap_runs(self._pts, scan, self._pts_ns, self._faults[TsTest.ptsError])

    # ------------------------------------------------------------------ closing

def close_checks(
    a: Any, start: int, end: int, had_packets: bool, rate: float | None, rate_type: BitRateType
) -> dict[TsTest, TestOutcome]:
    """The TR 101 290 outcomes of a StreamAnalyzer's interval [start, end) (empty when the
    checks are off); a change of limits (``set_tr101290``) applies from the next interval."""
    tr: Tr101290Checker | None = a._tr
    out = {} if tr is None else tr.close(start, end, had_packets, rate, rate_type == CBR)
    nxt = a._tr_next
    if nxt is not False:
        a._tr_next = False
        if nxt is None:
            a._tr = None
        elif tr is None:
            a._tr = Tr101290Checker(nxt, a._interval_ns, a._t0)
        else:
            tr.set_limits(nxt)
    return out
