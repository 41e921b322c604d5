"""The stream analyzer: one RTP or UDP MPEG-TS stream in, one report per interval out.

Pure computation (the design's "measurement core"): arrival times come with the packets,
``close_until(now_ns)`` takes the time as an argument, nothing here reads a clock, a socket or
a file, and malformed packets are counted by kind (``IntervalReport.errors``), never raised.

``feed_batch`` works on whole :class:`PacketBatch` es with array code (``fast``: compiled
kernels when built, else the numpy references): RTP headers, TS headers, sequence gaps,
continuity counters, per-PID byte counts and virtual-buffer sums. Only rare packets take a
per-packet Python path (``rare``): PSI sections, PCR packets, and the video PID's packets
while its format is unknown. ``feed`` hands one datagram to the same code, so both give
identical results.

Where things are: ``datagrams`` parses a feed call, ``passes`` splits its sums by interval,
``rare`` looks at the rare packets, ``interval`` holds the open interval's accumulators and
closes it into an :class:`IntervalReport` (``report``).

Intervals: interval k covers [t0 + k*I, t0 + (k+1)*I) where t0 is the first packet's arrival.
An interval closes when a packet of a later interval arrives or ``close_until`` is called with a
time at or past its end; intervals without packets produce reports too. Arrival times that go
backwards are taken as the previous packet's (capture clocks can step back slightly).

MLR (RFC 4445 4.2) counts media (TS) packets lost or out of order per second. With RTP it
counts the RTP sequence gaps (each missing datagram counts the TS packets of the datagram that
revealed the gap, i.e. the stream's usual packing): loss and reordering once, in RTP order.
The continuity check, in arrival order, would count a reordered datagram again (a gap, a step
back and a gap), so it gives MLR only for plain UDP; with RTP its errors and losses are still
reported (``cc_errors``, ``ts_lost_cc``). Datagrams that are RTP duplicates are left out of
the TS analysis (a receiver drops them).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .batch import PacketBatch
from .bitrate import BitRateType, RateClassifier
from .buffer import PlayoutBuffer
from .cc import PID_COUNT, ContinuityChecker
from .datagrams import parse_datagrams
from .errors import ERROR_KIND_COUNT, error_counts_dict
from .fec import parse_fec_headers
from .interval import NEVER, Interval, IntervalClosing, ReportQueue, interval_cuts
from .mdi import PcrRateMeter
from .passes import FeedPasses
from .program import ProgramTracker
from .programs import ProgramStatuses, VideoProbes
from .report import AnalyzerConfig, IntervalReport, StreamTotals, Tr101290Limits
from .seq import SequenceTracker
from .tr101290 import Tr101290Checker
from .ts import NULL_PID
from .tsdf import TsdfMeter
from .videoprobe import Inspector, VideoProbe


class StreamAnalyzer(FeedPasses, IntervalClosing):
    """Measures one media stream (RTP or plain UDP MPEG-TS) and its SMPTE 2022-1 FEC."""

    # A feed call with one SSRC is analysed in one pass (``_whole``); False forces the
    # interval-by-interval path that calls with an SSRC change take (tests compare the two).
    _whole_batches = True

    def __init__(self, config: AnalyzerConfig | None = None, inspector: Inspector | None = None):
        self.config = config or AnalyzerConfig()
        c = self.config
        self._interval_ns = int(round(c.interval_s * 1e9))
        self._secs = self._interval_ns / 1e9
        self._timeout_ns = int(round(c.presence_timeout_s * 1e9))
        self._t0: int | None = None
        self._k = 0
        self._last_arrival: int | None = None
        self._iv = Interval()
        self._reports = ReportQueue(c.max_reports)
        self._latest: IntervalReport | None = None
        self._seq = SequenceTracker()
        self._ssrc: int | None = None
        self._tsdf = TsdfMeter(c.rtp_clock_hz)
        self._cc = ContinuityChecker()
        self._pcr = PcrRateMeter()
        self._program = ProgramTracker(c.program_number)
        # every program's video probe (one runs at a time) and statuses (programs.py)
        self._probes = VideoProbes(c, inspector, inspector is not None)
        self._statuses = ProgramStatuses(c.rate_window, c.cbr_tolerance)
        self._psi_lut = np.zeros(PID_COUNT, dtype=bool)
        self._psi_lut[0] = True
        # PID -> (the last PSI packet fed, when repeatable; error counts it added)
        self._psi_memo: dict[int, tuple[bytes, tuple[tuple[int, int], ...]]] = {}
        self._exact_next = False
        self._last_seen = np.full(PID_COUNT, NEVER, dtype=np.int64)
        self._usual_ts = 0
        self._ts_index = 0  # TS packets sent before the next one fed (received + RTP-lost)
        self._gap_ts: np.ndarray | None = None  # per datagram of a call (passes._note_gaps)
        self._rate_all = RateClassifier(c.rate_window, c.cbr_tolerance)
        self._buffer = PlayoutBuffer(c.buffer_size_ms)
        self._fec_l = 0
        self._fec_d = 0
        self._fec_last_ns: int | None = None
        # datagrams, TS packets, RTP lost, late, duplicates, SSRC changes, CC errors
        self._tot = [0] * 7
        self._tot_errors = [0] * ERROR_KIND_COUNT
        self._tr = None if c.tr101290 is None else Tr101290Checker(c.tr101290, self._interval_ns)
        self._tr_next: Tr101290Limits | None | bool = False  # False: no change pending

    # ------------------------------------------------------------------ public API

    def set_tr101290(self, limits: Tr101290Limits | None) -> None:
        """New TR 101 290 limits (and enabled tests) for this stream, None to turn the checks
        off; they apply from the next interval on (a manager's write, docs/mib.md)."""
        self.config = replace(self.config, tr101290=limits)
        self._tr_next = limits

    def feed(self, payload: bytes, arrival_ns: int) -> None:
        """One datagram's UDP payload and its arrival time (ns)."""
        data = np.frombuffer(payload, dtype=np.uint8)
        self._process(
            data,
            np.zeros(1, dtype=np.int64),
            np.array([len(payload)], dtype=np.int64),
            np.array([arrival_ns], dtype=np.int64),
        )

    def feed_batch(self, batch: PacketBatch, flow_id: int | None = None) -> None:
        """The datagrams of a batch (only those of ``flow_id`` when given), in batch order."""
        h = batch.rtp
        pre = None
        if h is not None and batch.first_byte is not None and self.config.transport != "udp":
            pre = (
                batch.first_byte,
                h.error,
                h.sequence,
                h.timestamp,
                h.ssrc,
                h.payload_offset,
                h.payload_length,
            )
            if batch.ts_heads is not None and batch.ts_first is not None:
                pre += (batch.ts_first,)
        heads = None if pre is None or len(pre) < 8 else batch.ts_heads
        if flow_id is None:
            self._process(batch.data, batch.offsets, batch.lengths, batch.arrival_ns, pre, heads)
            return
        sel = (batch.flow_ids == flow_id).nonzero()[0]
        if sel.size:
            self._process(
                batch.data,
                batch.offsets[sel],
                batch.lengths[sel],
                batch.arrival_ns[sel],
                None if pre is None else tuple(a[sel] for a in pre),
                heads,
            )

    def feed_fec(self, payload: bytes, arrival_ns: int) -> None:
        """One SMPTE 2022-1 FEC datagram (column or row flow)."""
        self._process_fec(
            np.frombuffer(payload, dtype=np.uint8),
            np.zeros(1, dtype=np.int64),
            np.array([len(payload)], dtype=np.int64),
            np.array([arrival_ns], dtype=np.int64),
        )

    def feed_fec_batch(self, batch: PacketBatch, flow_id: int | None = None) -> None:
        """The FEC datagrams of a batch (only those of ``flow_id`` when given)."""
        if flow_id is None:
            self._process_fec(batch.data, batch.offsets, batch.lengths, batch.arrival_ns)
            return
        sel = (batch.flow_ids == flow_id).nonzero()[0]
        if sel.size:
            self._process_fec(
                batch.data, batch.offsets[sel], batch.lengths[sel], batch.arrival_ns[sel]
            )

    def close_until(self, now_ns: int) -> IntervalReport | None:
        """Close every interval that ended at or before ``now_ns``; the latest report."""
        if self._t0 is not None:
            k_now = (int(now_ns) - self._t0) // self._interval_ns
            if k_now > self._k:
                self._advance(k_now)
        return self._latest

    def close_at_end(self, end_ns: int) -> IntervalReport | None:
        """The stream ended (end of a capture, a stop): close every interval up to end_ns and
        the one holding the end as a partial interval; the latest report.

        The last datagram stands for one datagram spacing of media, so the stream is taken to
        end one mean spacing after its last arrival, or at end_ns when that is later: a steady
        stream then shows the same rate in its last, partial interval as in the full ones."""
        if self._t0 is None or self._last_arrival is None:
            return self._latest
        self.close_until(end_ns)
        datagrams = self._tot[0] + self._iv.datagrams
        spacing = (self._last_arrival - self._t0) // (datagrams - 1) if datagrams > 1 else 0
        self._close_partial(max(int(end_ns), self._last_arrival + max(spacing, 1)))
        return self._latest

    def pop_reports(self) -> list[IntervalReport]:
        """Completed reports not yet taken, oldest first (at most config.max_reports)."""
        out = list(self._reports)
        self._reports.clear()
        return out

    def pop_report_runs(self) -> list[tuple[IntervalReport, int]]:
        """pop_reports() as (report, count): a silence's empty intervals that report alike
        come as their first report and how many there are (intervals index, index + 1, ...)."""
        out = list(self._reports.runs())
        self._reports.clear()
        return out

    @property
    def latest(self) -> IntervalReport | None:
        return self._latest

    def totals(self) -> StreamTotals:
        """Counters since the start, including the open interval."""
        t, iv = self._tot, self._iv
        errors = [a + b for a, b in zip(self._tot_errors, iv.errors, strict=True)]
        datagrams, ts_packets, lost, late, dup, ssrc_changes, cc_errors = t
        return StreamTotals(
            datagrams=datagrams + iv.datagrams,
            ts_packets=ts_packets + iv.ts_packets,
            rtp_lost_net=lost + iv.rtp_lost - late - iv.rtp_late,
            rtp_reordered=late + iv.rtp_late,
            rtp_duplicates=dup + iv.rtp_dup,
            ssrc_changes=ssrc_changes + iv.ssrc_changes,
            cc_errors=cc_errors + iv.cc_errors,
            errors=error_counts_dict(errors),
        )

    def _process(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        lengths: np.ndarray,
        arrival_ns: np.ndarray,
        pre: tuple[np.ndarray, ...] | None = None,
        heads: np.ndarray | None = None,
    ) -> None:
        n = offsets.shape[0]
        if n == 0:
            return
        last = self._last_arrival
        if self._t0 is None:
            # the first arrival of all (those after it are made monotonic from it on)
            self._t0 = int(arrival_ns[0])
        arr, k, cut_list = interval_cuts(arrival_ns, last, self._t0, self._interval_ns, self._k)
        self._last_arrival = int(arr[-1])
        d = parse_datagrams(self.config.transport, data, offsets, lengths, arr, pre, heads)
        bounds = [0, *cut_list, n]
        rtp_idx = d.rtp_ok.nonzero()[0]
        ssrc = d.ssrc[rtp_idx] if rtp_idx.size else None
        one_source = ssrc is None or (
            (self._ssrc is None or self._ssrc == int(ssrc[0])) and bool((ssrc == ssrc[0]).all())
        )
        if one_source and self._whole_batches:
            self._whole(d, k, bounds, rtp_idx)
            return
        # An SSRC change in the batch: interval by interval.
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            kk = int(k[a])
            if kk > self._k:
                self._advance(kk)
            self._chunk(d, a, b)


    @property
    def _probe(self) -> VideoProbe | None:
        """The video probe that runs now (programs.py: one at a time, PAT order); the next
        one once it is done."""
        probe = self._probes.current
        if probe is not None and probe.done:
            probe = self._probes.next()
        return probe

    def _on_program_change(self) -> None:
        self._psi_memo.clear()
        self._psi_lut[:] = False
        for p in self._program.psi_pids:
            self._psi_lut[p] = True
        self._probes.update(self._program.programs)
        info = self._program.program
        if info is not None and info.pcr_pid != NULL_PID:
            self._pcr.set_pid(info.pcr_pid)

    # ------------------------------------------------------------------ FEC

    def _process_fec(
        self, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, arrival: np.ndarray
    ) -> None:
        if offsets.shape[0] == 0:
            return
        f = parse_fec_headers(data, offsets, lengths)
        errs = np.bincount(f.error, minlength=ERROR_KIND_COUNT)
        for i in errs[1:].nonzero()[0] + 1:
            self._iv.errors[i] += int(errs[i])
        ok = f.error == 0
        if not ok.any():
            return
        row = f.row[ok]
        col = ~row
        self._iv.fec_row += int(np.count_nonzero(row))
        self._iv.fec_column += int(np.count_nonzero(col))
        if col.any():
            self._fec_l = int(f.l_cols[ok][col][-1])
            self._fec_d = int(f.d_rows[ok][col][-1])
        elif self._fec_l == 0:
            self._fec_l = int(f.l_cols[ok][-1])
        last = int(arrival[ok][-1])
        self._fec_last_ns = last if self._fec_last_ns is None else max(self._fec_last_ns, last)



__all__ = ["AnalyzerConfig", "BitRateType", "IntervalReport", "StreamAnalyzer"]
