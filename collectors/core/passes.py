"""How a feed call's datagrams reach the open interval's accumulators.

``_whole``: a feed call with one SSRC (or none) is analysed in one pass: the array work
(sequence numbers, TS headers, continuity, per-PID counts) is done once over the whole call
and only the sums are split by interval (the chunks between the interval cuts); each chunk's
sums go to its interval in order, the intervals before it closed first. ``_chunk``: a call
with an SSRC change goes interval by interval (the SSRC change restarts the sequence and
TS-DF state where it happens). Both give the same reports for the same packets.

Datagrams that are RTP duplicates are left out of the TS analysis (a receiver drops them).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

from . import fast
from .chunks import gap_ts_packets, seg_sums
from .datagrams import Datagrams, Packets
from .errors import ERROR_KIND_COUNT
from .mdi import LOSS_STEP
from .rare import RarePass, Segments
from .seq import SeqResult
from .ts import TS_PACKET_SIZE

_NONE = np.zeros(0, dtype=np.int64)


class FeedPasses:
    """StreamAnalyzer's per-call passes (a mixin: the state is the analyzer's)."""

    def _add_rtp_row(self, row: list[Any]) -> None:
        """One chunk's RTP sums (``chunks.rtp_rows_reference``) into the open interval and
        the TS-DF period."""
        iv = self._iv
        cnt, lost, late, dup, restarts, ts_lost, ref_r, ref_s, dmin, dmax = row
        iv.rtp_datagrams += cnt
        iv.rtp_lost += lost
        iv.rtp_late += late
        iv.rtp_dup += dup
        iv.seq_restarts += restarts
        iv.ts_lost_rtp += ts_lost
        self._tsdf.add_chunk(ref_r, ref_s, dmin, dmax, cnt)

    def _note_gaps(self, d: Datagrams, idx: np.ndarray, res: SeqResult, usual_ts: int) -> None:
        """The TS packets the RTP gaps before the datagrams idx stand for, into
        ``_gap_ts`` (per datagram of the call): the stream's TS packet index counts the
        packets sent, so a PCR pair across a loss spans what was sent (mdi.py)."""
        late = res.late.any()
        if not (late or res.gap.any()):
            return
        if self._gap_ts is None:
            self._gap_ts = np.zeros(d.arrival.shape[0], dtype=np.int64)
        nts = d.n_ts[idx]
        per = gap_ts_packets(res.gap, nts, usual_ts, self.config.default_ts_per_datagram)
        if late:  # a late datagram fills a hole counted lost before: not sent twice
            per -= np.where(res.late, nts, 0)
        self._gap_ts[idx] += per

    def _sent_index(self, base: int, dgram: np.ndarray, m: int) -> tuple[np.ndarray, int]:
        """Stream indices of a call's m TS packets (of datagrams dgram) from base, counting the
        packets the RTP gaps say were lost before each; and the next base. Takes _gap_ts."""
        index = np.arange(base, base + m, dtype=np.int64)
        gaps = self._gap_ts
        if gaps is None:
            return index, base + m
        self._gap_ts = None
        cum = np.cumsum(gaps)
        if m:
            index += cum[dgram]
        return index, base + m + int(cum[-1])

    def _mark_losses(self, index: np.ndarray, cc_at: np.ndarray) -> np.ndarray:
        """Plain UDP: the stream indices of a call's packets with each continuity error
        (positions cc_at among them) moving the index on by ``LOSS_STEP`` from its packet on,
        so that the PCR pairs across a loss are told apart (mdi.py: without sequence numbers
        the number of packets lost is not known, the continuity counters count modulo 16)."""
        if not cc_at.size:
            return index
        marks = np.zeros(index.shape[0], dtype=np.int64)
        marks[cc_at] = LOSS_STEP
        self._ts_index += LOSS_STEP * int(cc_at.size)
        return index + np.cumsum(marks)

    def _rtp_rows(
        self, d: Datagrams, idx: np.ndarray, rb: np.ndarray, res: SeqResult, continues: bool
    ) -> list[list[Any]]:
        """The RTP sums of the chunks idx[rb[c] : rb[c + 1]] (``chunks.rtp_rows_reference``),
        continuing the open TS-DF period in the first when ``continues``."""
        rows, self._usual_ts = fast.rtp_chunks(
            idx,
            rb,
            res,
            d.n_ts,
            d.arrival,
            d.ts,
            self._usual_ts,
            self.config.default_ts_per_datagram,
            self._tsdf,
            continues,
        )
        return rows

    def _whole(self, d: Datagrams, k: np.ndarray, bounds: list[int], rtp_idx: np.ndarray) -> None:
        """All the datagrams of a feed call, one SSRC (or none): the array work is done once
        over the whole call, and only the sums are split by interval (the chunks between
        ``bounds``); each chunk's sums go to its interval in order, with the intervals
        before it closed first. Gives what ``_chunk`` per interval gives."""
        n = k.shape[0]
        nch = len(bounds) - 1
        bnd = np.asarray(bounds, dtype=np.int64)
        chunk_k = k[bnd[:-1]].tolist()
        # Datagram errors.
        chunk_err: dict[int, list[tuple[int, int]]] = {}
        bad = d.error.nonzero()[0]
        if bad.size:
            where = bnd.searchsorted(bad, side="right") - 1
            for c, e in zip(where.tolist(), d.error[bad].tolist(), strict=True):
                chunk_err.setdefault(c, []).append((e, 1))
        keep = np.ones(n, dtype=bool)
        # RTP: sequence, TS-DF (same SSRC throughout).
        m_rtp = rtp_idx.size
        tsdf = self._tsdf
        if m_rtp:
            rb = rtp_idx.searchsorted(bnd)
            res = self._seq.process(d.seq[rtp_idx])
            if res.dup.any():
                keep[rtp_idx[res.dup]] = False
            continues = chunk_k[0] == self._k and tsdf.ref_r is not None
            self._note_gaps(d, rtp_idx, res, self._usual_ts)
            rtp_rows = self._rtp_rows(d, rtp_idx, rb, res, continues)
            ssrc = int(d.ssrc[rtp_idx[0]])
        # Media datagrams (arrivals and bytes, for DF and the buffer model).
        dg = (keep & (d.n_ts > 0)).nonzero()[0]
        mb = d.n_ts[dg] * TS_PACKET_SIZE
        ma = d.arrival[dg]
        mbnd = dg.searchsorted(bnd).tolist()
        # TS packets of the kept datagrams.
        hst = d.ts_hst
        if keep.all():
            starts, dgram = d.ts_start, d.ts_dgram
        else:
            sel = np.repeat(keep, d.n_ts).nonzero()[0]
            starts, dgram = d.ts_start[sel], d.ts_dgram[sel]
            hst = None if hst is None else hst[sel]
        m = starts.shape[0]
        tb = dgram.searchsorted(bnd)
        ts_counts = np.diff(tb).tolist()
        all_index, self._ts_index = self._sent_index(self._ts_index, dgram, m)
        vb_l: list[int] = [0] * (nch + 1)
        if m:
            h, cc_at, cc_lost, nbad = fast.ts_headers_cc(*d.source(starts, hst), self._cc)
            if self._tr is not None:
                tr_src = (d.data, starts, *d.source(starts, hst))
                self._tr.feed(*tr_src, d.arrival, dgram, h, cc_at, all_index, self._t0)
            if not m_rtp:
                all_index = self._mark_losses(all_index, cc_at)
            bad = h.error.nonzero()[0] if nbad else _NONE
            if bad.size:
                where = tb.searchsorted(bad, side="right") - 1
                for c, e in zip(where.tolist(), h.error[bad].tolist(), strict=True):
                    chunk_err.setdefault(c, []).append((e, 1))
                vidx = (h.error == 0).nonzero()[0]
                v: slice | np.ndarray = vidx
                vb = vidx.searchsorted(tb)
                index = all_index[vidx]
            else:
                v = slice(None)
                vb = tb
                index = all_index
            vb_l = vb.tolist()
            pk = Packets.of(d, h, v, starts, hst, index)
            pid = pk.pid
            ts_dg = dgram[v]  # each packet's datagram (arrival)
            cce = cc_at.searchsorted(tb)  # (continuity error positions: among all packets)
            cc_err = np.diff(cce).tolist()
            cc_lost_l = seg_sums(cc_lost, cce).tolist() if cc_at.size else [0] * nch
            cc_pid: dict[int, dict[int, int]] = {}  # chunk -> PID -> continuity errors
            if cc_at.size:
                where = (tb.searchsorted(cc_at, side="right") - 1).tolist()
                for c, p in zip(where, h.pid[cc_at].tolist(), strict=True):
                    per = cc_pid.setdefault(c, {})
                    per[p] = per.get(p, 0) + 1
        sums = CallSums(
            self,
            d,
            bounds,
            chunk_k,
            chunk_err,
            rtp_rows if m_rtp else None,
            ssrc if m_rtp else None,
            ma,
            mb,
            mbnd,
            ts_counts,
            vb_l,
        )
        if m:
            sums.packets(pid, ts_dg, cc_err, cc_lost_l, cc_pid)
        seg = Segments(vb_l, sums.enter)
        sums.enter(0)
        # The rare packets of the whole call in one pass (``RarePass`` enters the chunks as its
        # packets reach them). While the video probe runs (its packet selection changes often,
        # each change a restart) and after a restart in exact mode: to the end of the chunk.
        nv = vb_l[-1]
        pos = vb_l[0]
        exact = False
        while pos < nv:
            probe = self._probe
            hi = nv
            if exact or (probe is not None and not probe.done):
                hi = vb_l[bisect_right(vb_l, pos)]
            self._exact_next = False
            restart = RarePass(self, pk, pos, hi, exact, seg).run()
            if restart is None:
                pos, exact = hi, False
                continue
            exact = self._exact_next and restart < vb_l[seg.cur + 1]
            pos = restart
        while seg.cur < nch - 1:
            seg.cur += 1
            sums.enter(seg.cur)


    def _chunk(self, d: Datagrams, a: int, b: int) -> None:
        iv = self._iv
        iv.datagrams += b - a
        errs = np.bincount(d.error[a:b], minlength=ERROR_KIND_COUNT)
        for i in errs[1:].nonzero()[0] + 1:
            iv.errors[i] += int(errs[i])
        keep = np.ones(b - a, dtype=bool)
        rtp_idx = d.rtp_ok[a:b].nonzero()[0] + a
        if rtp_idx.size:
            self._rtp(d, rtp_idx, keep, a)
        dg = np.arange(a, b)[keep]
        dg = dg[d.n_ts[dg] > 0]
        if dg.size:
            iv.arrivals.append(d.arrival[dg])
            iv.media_bytes.append(d.n_ts[dg] * TS_PACKET_SIZE)
        ta = int(d.ts_first[a])
        tb = int(d.ts_first[b - 1] + d.n_ts[b - 1])
        if tb == ta:
            self._ts_index = self._sent_index(self._ts_index, _NONE, 0)[1]
            return
        hst = d.ts_hst
        if keep.all():
            starts = d.ts_start[ta:tb]
            dgram = d.ts_dgram[ta:tb]
            hst = None if hst is None else hst[ta:tb]
        else:
            sel = np.repeat(keep, d.n_ts[a:b]).nonzero()[0] + ta
            starts = d.ts_start[sel]
            dgram = d.ts_dgram[sel]
            hst = None if hst is None else hst[sel]
        self._ts(d, starts, dgram, hst, bool(rtp_idx.size))

    def _rtp(self, d: Datagrams, idx: np.ndarray, keep: np.ndarray, a: int) -> None:
        iv = self._iv
        ssrc = d.ssrc[idx]
        runs = [0, *((ssrc[1:] != ssrc[:-1]).nonzero()[0] + 1).tolist(), idx.size]
        for r0, r1 in zip(runs[:-1], runs[1:], strict=True):
            s = int(ssrc[r0])
            if self._ssrc is not None and s != self._ssrc:
                iv.ssrc_changes += 1
                self._seq.reset()
                self._tsdf.new_source()
            self._ssrc = s
            sub = idx[r0:r1]
            res = self._seq.process(d.seq[sub])
            self._note_gaps(d, sub, res, self._usual_ts)
            one = np.array([0, sub.size], dtype=np.int64)
            self._add_rtp_row(self._rtp_rows(d, sub, one, res, self._tsdf.ref_r is not None)[0])
            if res.dup.any():
                keep[sub[res.dup] - a] = False

    def _ts(
        self,
        d: Datagrams,
        starts: np.ndarray,
        dgram: np.ndarray,
        hst: np.ndarray | None,
        rtp: bool,
    ) -> None:
        iv = self._iv
        h, cc_at, cc_lost, _ = fast.ts_headers_cc(*d.source(starts, hst), self._cc)
        m = starts.shape[0]
        iv.ts_packets += m
        all_index, self._ts_index = self._sent_index(self._ts_index, dgram, m)
        if self._tr is not None:
            tr_src = (d.data, starts, *d.source(starts, hst))
            self._tr.feed(*tr_src, d.arrival, dgram, h, cc_at, all_index, self._t0)
        if not rtp:
            all_index = self._mark_losses(all_index, cc_at)
        errs = np.bincount(h.error, minlength=ERROR_KIND_COUNT)
        for i in errs[1:].nonzero()[0] + 1:
            iv.errors[i] += int(errs[i])
        if errs[0] == m:
            v = slice(None)
            vidx = None
        else:
            vidx = (h.error == 0).nonzero()[0]
            v = vidx
        pid = h.pid[v]
        if pid.size == 0:
            return
        fast.pid_counts(pid, d.arrival, dgram[v], iv.pid_packets, self._last_seen)
        if cc_at.size:
            iv.cc_errors += int(cc_at.size)
            iv.cc_lost += int(cc_lost.sum())
            pids, counts = np.unique(h.pid[cc_at], return_counts=True)
            iv.add_cc_per_pid(dict(zip(pids.tolist(), counts.tolist(), strict=True)))
        # Rare packets: PCRs of the PCR PID in vectorised runs, PSI packets and the video
        # PID's packets (while its format is unknown) one by one, in stream order.
        pk = Packets.of(d, h, v, starts, hst, all_index[v])
        pos = 0
        n = pid.size
        exact = False
        while pos < n:
            self._exact_next = False
            restart = RarePass(self, pk, pos, n, exact, None).run()
            if restart is None:
                break
            exact = self._exact_next
            pos = restart


class CallSums:
    """A feed call's sums split by chunk (interval): ``enter(c)`` adds chunk c's to its
    interval, closing the intervals before it first (chunks are entered in order)."""

    def __init__(
        self,
        a: Any,
        d: Datagrams,
        bounds: list[int],
        chunk_k: list[int],
        errors: dict[int, list[tuple[int, int]]],
        rtp_rows: list[list[Any]] | None,
        ssrc: int | None,
        media_arrival: np.ndarray,
        media_bytes: np.ndarray,
        media_bounds: list[int],
        ts_counts: list[int],
        valid_bounds: list[int],
    ) -> None:
        self.a = a  # the StreamAnalyzer
        self.d = d
        self.bounds = bounds  # datagrams of chunk c: bounds[c]..bounds[c + 1] - 1
        self.chunk_k = chunk_k  # the interval of each chunk
        self.errors = errors  # chunk -> (error kind, count)
        self.rtp_rows = rtp_rows  # per chunk, chunks.rtp_rows_reference's row (or None)
        self.ssrc = ssrc
        self.media_arrival = media_arrival
        self.media_bytes = media_bytes
        self.media_bounds = media_bounds
        self.ts_counts = ts_counts  # TS packets of the kept datagrams, per chunk
        self.valid_bounds = valid_bounds  # valid TS packets of chunk c: vb[c]..vb[c + 1] - 1
        self.pid = self.ts_dgram = _NONE
        self.cc_errors: list[int] = []
        self.cc_lost: list[int] = []
        self.cc_per_pid: dict[int, dict[int, int]] = {}
        self.done_dgrams = bounds[0]

    def packets(
        self,
        pid: np.ndarray,
        ts_dgram: np.ndarray,
        cc_errors: list[int],
        cc_lost: list[int],
        cc_per_pid: dict[int, dict[int, int]],
    ) -> None:
        """The valid TS packets' PIDs and datagrams, and the continuity errors per chunk."""
        self.pid, self.ts_dgram = pid, ts_dgram
        self.cc_errors, self.cc_lost, self.cc_per_pid = cc_errors, cc_lost, cc_per_pid

    def enter(self, c: int) -> None:
        """Chunk c's sums to its interval (the intervals before it closed first)."""
        a = self.a
        kk = self.chunk_k[c]
        if kk > a._k:
            a._advance(kk)
        iv = a._iv
        hi_dg = self.bounds[c + 1]
        iv.datagrams += hi_dg - self.done_dgrams
        self.done_dgrams = hi_dg
        for e, cnt in self.errors.get(c, ()):
            iv.errors[e] += cnt
        rows = self.rtp_rows
        if rows is not None and rows[c][0]:
            a._ssrc = self.ssrc
            a._add_rtp_row(rows[c])
        mb = self.media_bounds
        if mb[c + 1] > mb[c]:
            iv.arrivals.append(self.media_arrival[mb[c] : mb[c + 1]])
            iv.media_bytes.append(self.media_bytes[mb[c] : mb[c + 1]])
        if not self.ts_counts[c]:
            return
        iv.ts_packets += self.ts_counts[c]
        lo, hi = self.valid_bounds[c], self.valid_bounds[c + 1]
        if hi == lo:
            return
        fast.pid_counts(
            self.pid[lo:hi], self.d.arrival, self.ts_dgram[lo:hi], iv.pid_packets, a._last_seen
        )
        if self.cc_errors[c]:
            iv.cc_errors += self.cc_errors[c]
            iv.cc_lost += self.cc_lost[c]
            iv.add_cc_per_pid(self.cc_per_pid.get(c, {}))
