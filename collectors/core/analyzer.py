"""The stream analyzer: one RTP or UDP MPEG-TS stream in, one report per interval out.

Pure computation (the design's "measurement core"): arrival times come with the packets,
``close_until(now_ns)`` takes the time as an argument, nothing here reads a clock, a socket or
a file, and malformed packets are counted by kind (``IntervalReport.errors``), never raised.

``feed_batch`` works on whole :class:`PacketBatch` es with numpy: RTP headers, TS headers,
sequence gaps, continuity counters, per-PID byte counts and virtual-buffer sums are computed
over arrays. Only rare packets take a per-packet Python path: PSI sections, PCR packets,
and the video PID's packets while its format is unknown. ``feed`` hands one datagram to the
same code, so both give identical results.

Intervals: interval k covers [t0 + k*I, t0 + (k+1)*I) where t0 is the first packet's arrival.
An interval closes when a packet of a later interval arrives or ``close_until`` is called with a
time at or past its end; intervals without packets produce reports too. Arrival times that go
backwards are taken as the previous packet's (capture clocks can step back slightly).

MLR (RFC 4445 4.2) counts media (TS) packets lost or out of order per second. Two views see
the losses: RTP sequence gaps (each missing datagram counts the TS packets of the datagram
that revealed the gap, i.e. the stream's usual packing) and continuity-counter steps. A loss
usually shows in both, so the interval takes the larger of the two counts instead of their
sum. Datagrams that are RTP duplicates are left out of the TS analysis (a receiver drops them).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import native
from .batch import PacketBatch
from .bitrate import BitRateType, RateClassifier
from .buffer import PlayoutBuffer
from .cc import PID_COUNT, ContinuityChecker
from .errors import ERROR_KIND_COUNT, ErrorKind, error_counts_dict
from .fec import fec_length_dimension, parse_fec_headers
from .formats import FecType
from .mdi import PcrPairs, PcrRateMeter, delay_factor_ms
from .program import ProgramTracker
from .psi import ProgramInfo
from .report import (
    AnalyzerConfig,
    AudioStatus,
    FecStatus,
    IntervalReport,
    StreamTotals,
    make_audio_status,
    make_buffer_status,
    make_interval_report,
    make_video_status,
)
from .rtp import parse_rtp_headers
from .seq import SeqResult, SequenceTracker
from .ts import (
    HEAD_BYTES,
    NULL_PID,
    TS_PACKET_SIZE,
    TS_SYNC_BYTE,
    TsHeaders,
    compiled_ts_headers,
    gather_pcr,
    parse_ts_headers,
)
from .tsdf import TsdfMeter
from .videoprobe import Inspector, VideoProbe, load_inspector

_NEVER = np.iinfo(np.int64).min
_TRANSPORT_MODE = {"auto": 0, "rtp": 1, "udp": 2}  # for the kernel dgram_fields
_NONE = np.zeros(0, dtype=np.int64)
_REST = np.dtype(f"V{TS_PACKET_SIZE - 4}")
_REST_WORDS = (TS_PACKET_SIZE - 4) // 8


def _packet_keys(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TS packets at starts in two parts comparable by row: header bytes 1 and 3 without
    the continuity counter (a PSI packet repeated with the next counter is the same table;
    callers compare packets of one PID, so byte 2 and the sync byte are left out), uint16,
    and bytes 4..187 as rows of 23 uint64 words."""
    head = (data[starts + 1].astype(np.uint16) << 8) | (data[starts + 3] & 0xF0)
    count = data.shape[0] - TS_PACKET_SIZE + 1
    if data.dtype == np.uint8 and data.flags.c_contiguous and count > 0:
        view = np.ndarray((count + 4,), dtype=_REST, buffer=data, offset=0, strides=(1,))
        rest = view[starts + 4].view(np.uint64).reshape(-1, _REST_WORDS)
    else:
        rows = data[(starts + 4)[:, None] + np.arange(TS_PACKET_SIZE - 4)]
        rest = np.ascontiguousarray(rows, dtype=np.uint8).view(np.uint64)
    return head, rest


def _packet_key(data: np.ndarray, start: int) -> tuple[int, bytes]:
    """The packet at start as ``_packet_keys`` compares it: (header key, bytes 4..187)."""
    return (int(data[start + 1]) << 8) | (int(data[start + 3]) & 0xF0), data[
        start + 4 : start + TS_PACKET_SIZE
    ].tobytes()


def _same_packet(packet: bytes, data: np.ndarray, start: int) -> bool:
    """The 188 bytes of packet equal the packet at start as ``_repeats`` compares them."""
    return _packet_key(np.frombuffer(packet, dtype=np.uint8), 0) == _packet_key(data, start)


def _repeats(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """eq[i] for i >= 1: the packet at starts[i] equals the one at starts[i - 1] apart from
    its continuity counter (packets of one PID); eq[0] is False."""
    n = starts.shape[0]
    eq = np.zeros(n, dtype=bool)
    if n < 2:
        return eq
    head, rest = _packet_keys(data, starts)
    eq[1:] = (head[1:] == head[:-1]) & (rest[1:] == rest[:-1]).all(axis=1)
    return eq


def _seg_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of values[bounds[i] : bounds[i + 1]] (int64; bounds ascending), over the
    non-zero values only (these are counts of rare events)."""
    nz = values.nonzero()[0]
    c = np.zeros(nz.shape[0] + 1, dtype=np.int64)
    if nz.shape[0]:
        np.cumsum(values[nz], out=c[1:])
    cut = nz.searchsorted(bounds)
    return c[cut[1:]] - c[cut[:-1]]


@dataclass(slots=True)
class _Datagrams:
    """Per-datagram arrays of one feed call, and the TS packets they carry."""

    data: np.ndarray
    arrival: np.ndarray  # int64, monotonic
    error: np.ndarray  # uint8 ErrorKind
    rtp_ok: np.ndarray  # bool
    seq: np.ndarray
    ts: np.ndarray
    ssrc: np.ndarray
    n_ts: np.ndarray  # int64
    ts_first: np.ndarray  # index of each datagram's first TS packet
    ts_start: np.ndarray  # int64, per TS packet: offset in data
    ts_dgram: np.ndarray  # int64, per TS packet: datagram index
    heads: np.ndarray | None = None  # the batch's ts_heads, when the source copied them
    ts_hst: np.ndarray | None = None  # int64, per TS packet: its start in heads

    def headers(self, starts: np.ndarray, hst: np.ndarray | None) -> TsHeaders:
        """The TS headers of the packets at ``starts`` (or at hst in heads when copied)."""
        if hst is not None and self.heads is not None:
            return parse_ts_headers(self.heads, hst)
        return parse_ts_headers(self.data, starts)


@dataclass(slots=True)
class _Packets:
    """The valid TS packets of a feed call (stream order), for the rare-packet pass."""

    data: np.ndarray  # the datagrams' bytes
    pid: np.ndarray
    has_pcr: np.ndarray
    pusi: np.ndarray
    cc: np.ndarray
    disc: np.ndarray
    po: np.ndarray  # payload offset in the packet
    st: np.ndarray  # int64, packet start in data
    index: np.ndarray  # int64, packet number in the stream
    heads: np.ndarray | None = None  # the copied headers (bytes 0..11 of each packet), or
    hst: np.ndarray | None = None  # None; int64, packet start in heads

    @classmethod
    def of(
        cls,
        d: _Datagrams,
        h: TsHeaders,
        v: slice | np.ndarray,
        starts: np.ndarray,
        hst: np.ndarray | None,
        index: np.ndarray,
    ) -> _Packets:
        """Packets v of the headers h of d's packets at starts (and hst in the copy)."""
        return cls(
            d.data,
            h.pid[v],
            h.has_pcr[v],
            h.pusi[v],
            h.cc[v],
            h.discontinuity[v],
            h.payload_offset[v],
            starts[v],
            index,
            d.heads if hst is not None else None,
            None if hst is None else hst[v],
        )

    def pcr_source(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where to read the PCRs of packets sel: (bytes, starts)."""
        if self.heads is not None and self.hst is not None:
            return self.heads, self.hst[sel]
        return self.data, self.st[sel]


class _Interval:
    """Accumulators of the open interval (pid_packets: a zeroed array to reuse, or None)."""

    __slots__ = (
        "datagrams",
        "ts_packets",
        "arrivals",
        "media_bytes",
        "rtp_lost",
        "rtp_late",
        "rtp_dup",
        "ssrc_changes",
        "seq_restarts",
        "ts_lost_rtp",
        "cc_errors",
        "cc_lost",
        "cc_per_pid",
        "pid_packets",
        "errors",
        "fec_column",
        "fec_row",
    )

    def __init__(self, pid_packets: np.ndarray | None = None) -> None:
        self.datagrams = 0
        self.ts_packets = 0
        self.arrivals: list[np.ndarray] = []
        self.media_bytes: list[np.ndarray] = []
        self.rtp_lost = 0
        self.rtp_late = 0
        self.rtp_dup = 0
        self.ssrc_changes = 0
        self.seq_restarts = 0
        self.ts_lost_rtp = 0
        self.cc_errors = 0
        self.cc_lost = 0
        self.cc_per_pid: dict[int, int] | None = None  # made at the first continuity error
        self.pid_packets = (
            np.zeros(PID_COUNT, dtype=np.int64) if pid_packets is None else pid_packets
        )
        self.errors = [0] * ERROR_KIND_COUNT
        self.fec_column = 0
        self.fec_row = 0

    def add_cc_per_pid(self, per_pid: dict[int, int]) -> None:
        mine = self.cc_per_pid
        if mine is None:
            self.cc_per_pid = dict(per_pid)
            return
        for p, n in per_pid.items():
            mine[p] = mine.get(p, 0) + n


class _Segments:
    """The chunks (intervals) of a feed call's valid TS packets, for the rare-packet pass:
    chunk c is packets bounds[c]..bounds[c + 1] - 1; ``enter(c)`` moves to chunk c (closing
    the intervals before it); ``cur`` is the chunk entered last."""

    __slots__ = ("bounds", "enter", "cur")

    def __init__(self, bounds: list[int], enter: Callable[[int], None] | None = None) -> None:
        self.bounds = bounds
        self.enter = enter
        self.cur = 0


def _layout(
    fields: tuple[np.ndarray, ...],
    base: np.ndarray,
    total: int,
    hfirst: np.ndarray | None,
    heads: np.ndarray | None,
) -> _Datagrams:
    """The _Datagrams of a feed call from its per-datagram fields (data, arrival, error,
    rtp_ok, seq, ts, ssrc, n_ts, ts_first), with where each of its ``total`` TS packets is:
    its datagram, its start in the data (the payloads start at base) and, when the source
    copied the headers (hfirst: each datagram's first packet in heads), its start there."""
    n_ts, ts_first = fields[7], fields[8]
    n = n_ts.shape[0]
    hst = None
    if total:
        kern = native.kernels
        if kern is not None:
            dgram = np.empty(total, dtype=np.int64)
            ts_start = np.empty(total, dtype=np.int64)
            hst = None if hfirst is None else np.empty(total, dtype=np.int64)
            kern.ts_layout(n_ts, base, hfirst, HEAD_BYTES, n, total, dgram, ts_start, hst)
        else:
            dgram = np.repeat(np.arange(n, dtype=np.int64), n_ts)
            within = np.arange(total, dtype=np.int64) - ts_first[dgram]
            ts_start = base[dgram] + TS_PACKET_SIZE * within
            if hfirst is not None:
                hst = (hfirst[dgram] + within) * HEAD_BYTES
    else:
        dgram = ts_start = np.zeros(0, dtype=np.int64)
    return _Datagrams(*fields, ts_start, dgram, heads if hst is not None else None, hst)


class StreamAnalyzer:
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
        self._inspector = inspector
        self._inspector_loaded = inspector is not None
        self._t0: int | None = None
        self._k = 0
        self._last_arrival: int | None = None
        self._iv = _Interval()
        self._reports: deque[IntervalReport] = deque(maxlen=c.max_reports)
        self._latest: IntervalReport | None = None
        self._seq = SequenceTracker()
        self._ssrc: int | None = None
        self._tsdf = TsdfMeter(c.rtp_clock_hz)
        self._cc = ContinuityChecker()
        self._pcr = PcrRateMeter()
        self._program = ProgramTracker(c.program_number)
        self._view = _ProgramView(None)
        self._psi_lut = np.zeros(PID_COUNT, dtype=bool)
        self._psi_lut[0] = True
        # PID -> (the last PSI packet fed, when repeatable; error counts it added)
        self._psi_memo: dict[int, tuple[bytes, tuple[tuple[int, int], ...]]] = {}
        self._exact_next = False
        self._probe: VideoProbe | None = None
        self._last_seen = np.full(PID_COUNT, _NEVER, dtype=np.int64)
        self._usual_ts = 0
        self._ts_index = 0
        self._rate_all = RateClassifier(c.rate_window, c.cbr_tolerance)
        self._rate_video = RateClassifier(c.rate_window, c.cbr_tolerance)
        self._buffer = PlayoutBuffer(c.buffer_size_ms)
        self._fec_l = 0
        self._fec_d = 0
        self._fec_last_ns: int | None = None
        # datagrams, TS packets, RTP lost, late, duplicates, SSRC changes, CC errors
        self._tot = [0] * 7
        self._tot_errors = [0] * ERROR_KIND_COUNT

    # ------------------------------------------------------------------ public API

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

    def pop_reports(self) -> list[IntervalReport]:
        """Completed reports not yet taken, oldest first (at most config.max_reports)."""
        out = list(self._reports)
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

    # ------------------------------------------------------------------ datagram parsing

    def _parse(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        lengths: np.ndarray,
        arrival: np.ndarray,
        pre: tuple[np.ndarray, ...] | None = None,
        heads: np.ndarray | None = None,
    ) -> _Datagrams:
        """The datagrams' RTP headers and TS packets. pre: the first payload bytes and the
        ``parse_rtp_headers`` fields (error, sequence, timestamp, ssrc, payload offset and
        length) of every datagram, when the source has them: used instead of parsing; then
        perhaps also each datagram's first index in ``heads`` (``PacketBatch.ts_first``)."""
        n = offsets.shape[0]
        offsets = offsets.astype(np.int64, copy=False)
        lengths = lengths.astype(np.int64, copy=False)
        mode = self.config.transport
        kern = native.kernels
        if pre is not None and kern is not None:
            return self._parse_compiled(kern, data, offsets, lengths, arrival, pre, heads)
        if mode == "rtp":
            is_rtp = np.ones(n, dtype=bool)
        elif mode == "udp":
            is_rtp = np.zeros(n, dtype=bool)
        elif data.size == 0:
            is_rtp = np.zeros(n, dtype=bool)  # all payloads empty: TS_LENGTH errors
        else:
            first = pre[0] if pre is not None else data[np.clip(offsets, 0, data.shape[0] - 1)]
            is_rtp = (lengths > 0) & (first != TS_SYNC_BYTE)
        err = np.zeros(n, dtype=np.uint8)
        pay_off = np.zeros(n, dtype=np.int64)
        pay_len = lengths.copy()
        seq = ts = ssrc = np.zeros(n, dtype=np.int64)
        if is_rtp.all():
            if pre is not None:
                err = pre[1].copy()
                seq, ts, ssrc, pay_off, pay_len = pre[2:7]
            else:
                h = parse_rtp_headers(data, offsets, lengths)
                err, seq, ts, ssrc = h.error, h.sequence, h.timestamp, h.ssrc
                pay_off, pay_len = h.payload_offset, h.payload_length
        elif is_rtp.any():
            sel = is_rtp.nonzero()[0]
            if pre is not None:
                fields = [a[sel] for a in pre[1:7]]
            else:
                h = parse_rtp_headers(data, offsets[sel], lengths[sel])
                fields = [
                    h.error,
                    h.sequence,
                    h.timestamp,
                    h.ssrc,
                    h.payload_offset,
                    h.payload_length,
                ]
            err[sel] = fields[0]
            seq, ts, ssrc = (np.zeros(n, dtype=np.int64) for _ in range(3))
            seq[sel], ts[sel], ssrc[sel] = fields[1:4]
            pay_off[sel], pay_len[sel] = fields[4:6]
        rtp_ok = is_rtp & (err == 0)
        ts_ok = (err == 0) & (pay_len > 0) & (pay_len % TS_PACKET_SIZE == 0)
        err[(err == 0) & ~ts_ok] = ErrorKind.TS_LENGTH
        n_ts = np.where(ts_ok, pay_len // TS_PACKET_SIZE, 0)
        cum = np.cumsum(n_ts)
        total = int(cum[-1]) if n else 0
        ts_first = cum - n_ts
        hfirst = pre[7] if heads is not None and pre is not None and len(pre) > 7 else None
        fields = (data, arrival, err, rtp_ok, seq, ts, ssrc, n_ts, ts_first)
        return _layout(fields, offsets + pay_off, total, hfirst, heads)

    def _parse_compiled(
        self,
        kern: Any,
        data: np.ndarray,
        offsets: np.ndarray,
        lengths: np.ndarray,
        arrival: np.ndarray,
        pre: tuple[np.ndarray, ...],
        heads: np.ndarray | None,
    ) -> _Datagrams:
        """``_parse`` with the source's RTP headers, in the compiled kernels."""
        n = offsets.shape[0]
        err = np.empty(n, dtype=np.uint8)
        rtp_ok = np.empty(n, dtype=bool)
        base = np.empty(n, dtype=np.int64)
        n_ts = np.empty(n, dtype=np.int64)
        ts_first = np.empty(n, dtype=np.int64)
        total, n_rtp = kern.dgram_fields(
            _TRANSPORT_MODE[self.config.transport],
            ErrorKind.TS_LENGTH,
            pre[0],
            pre[1],
            pre[5].astype(np.int64, copy=False),
            pre[6].astype(np.int64, copy=False),
            offsets,
            lengths,
            n,
            err,
            rtp_ok,
            base,
            n_ts,
            ts_first,
        )
        if n_rtp == n:
            seq, ts, ssrc = pre[2:5]
        elif n_rtp == 0:
            seq = ts = ssrc = np.zeros(n, dtype=np.int64)
        else:
            first = pre[0]
            is_rtp = (
                np.ones(n, dtype=bool)
                if self.config.transport == "rtp"
                else (lengths > 0) & (first != TS_SYNC_BYTE)
            )
            seq, ts, ssrc = (np.where(is_rtp, a, 0).astype(np.int64) for a in pre[2:5])
        hfirst = pre[7] if heads is not None and len(pre) > 7 else None
        fields = (data, arrival, err, rtp_ok, seq, ts, ssrc, n_ts, ts_first)
        return _layout(fields, base, total, hfirst, heads)

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
        kern = native.kernels
        last = self._last_arrival
        if kern is not None and arrival_ns.dtype == np.int64:
            if self._t0 is None:
                self._t0 = int(arrival_ns[0])
            arr = np.empty(n, dtype=np.int64)
            k = np.empty(n, dtype=np.int64)
            cut_list = kern.interval_cuts(
                arrival_ns,
                n,
                last is not None,
                last or 0,
                self._t0,
                self._interval_ns,
                self._k,
                arr,
                k,
            )
        else:
            arr = arrival_ns.astype(np.int64, copy=True)
            if last is not None:
                arr[0] = max(int(arr[0]), last)
            arr = np.maximum.accumulate(arr)
            if self._t0 is None:
                self._t0 = int(arr[0])
            k = (arr - self._t0) // self._interval_ns
            np.maximum(k, self._k, out=k)
            cut_list = ((k[1:] != k[:-1]).nonzero()[0] + 1).tolist()
        self._last_arrival = int(arr[-1])
        d = self._parse(data, offsets, lengths, arr, pre, heads)
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

    # ------------------------------------------------------------------ a whole batch at once

    def _whole(self, d: _Datagrams, k: np.ndarray, bounds: list[int], rtp_idx: np.ndarray) -> None:
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
            rtp_rows = self._rtp_sums(d, rtp_idx, rb, res, continues)
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
        base_index = self._ts_index
        self._ts_index += m
        vb_l: list[int] = [0] * (nch + 1)
        if m:
            scan = self._scan(d, starts, hst)
            if scan is None:
                h = d.headers(starts, hst)
                bad = h.error.nonzero()[0]
            else:
                h, cc_at, cc_lost, nbad = scan
                bad = h.error.nonzero()[0] if nbad else _NONE
            if bad.size:
                where = tb.searchsorted(bad, side="right") - 1
                for c, e in zip(where.tolist(), h.error[bad].tolist(), strict=True):
                    chunk_err.setdefault(c, []).append((e, 1))
                vidx = (h.error == 0).nonzero()[0]
                v: slice | np.ndarray = vidx
                vb = vidx.searchsorted(tb)
                index = vidx + base_index
            else:
                v = slice(None)
                vb = tb
                index = np.arange(base_index, base_index + m, dtype=np.int64)
            vb_l = vb.tolist()
            pk = _Packets.of(d, h, v, starts, hst, index)
            pid, ccv, disc = pk.pid, pk.cc, pk.disc
            ts_dg = dgram[v]  # each packet's datagram (arrival)
            if scan is None:
                cc_at, cc_lost = self._cc.errors_at(pid, ccv, h.afc[v], disc)
            cce = cc_at.searchsorted(vb)
            cc_err = np.diff(cce).tolist()
            cc_lost_l = _seg_sums(cc_lost, cce).tolist() if cc_at.size else [0] * nch
            cc_pid: dict[int, dict[int, int]] = {}  # chunk -> PID -> continuity errors
            if cc_at.size:
                where = (vb.searchsorted(cc_at, side="right") - 1).tolist()
                for c, p in zip(where, pid[cc_at].tolist(), strict=True):
                    per = cc_pid.setdefault(c, {})
                    per[p] = per.get(p, 0) + 1
        lo_dg = bounds[0]

        def enter(c: int) -> None:
            """Chunk c's sums to its interval (the intervals before it closed first)."""
            nonlocal lo_dg
            kk = chunk_k[c]
            if kk > self._k:
                self._advance(kk)
            iv = self._iv
            hi_dg = bounds[c + 1]
            iv.datagrams += hi_dg - lo_dg
            lo_dg = hi_dg
            for e, cnt in chunk_err.get(c, ()):
                iv.errors[e] += cnt
            if m_rtp and rtp_rows[c][0]:
                (cnt, lost_c, late_c, dup_c, rs_c, tsl_c, rr_c, rs0_c, mn_c, mx_c) = rtp_rows[c]
                self._ssrc = ssrc
                iv.rtp_lost += lost_c
                iv.rtp_late += late_c
                iv.rtp_dup += dup_c
                iv.seq_restarts += rs_c
                iv.ts_lost_rtp += tsl_c
                if tsdf.ref_r is None:
                    tsdf.ref_r = rr_c
                    tsdf.ref_s = rs0_c
                    tsdf.dmin = tsdf.dmax = 0.0
                tsdf.dmin = min(tsdf.dmin, mn_c)
                tsdf.dmax = max(tsdf.dmax, mx_c)
                tsdf.samples += cnt
            if mbnd[c + 1] > mbnd[c]:
                iv.arrivals.append(ma[mbnd[c] : mbnd[c + 1]])
                iv.media_bytes.append(mb[mbnd[c] : mbnd[c + 1]])
            if not ts_counts[c]:
                return
            iv.ts_packets += ts_counts[c]
            a, b = vb_l[c], vb_l[c + 1]
            if b == a:
                return
            kern = native.kernels
            if kern is not None and pid.dtype == np.uint16:
                kern.pid_counts(
                    pid[a:b], d.arrival, b - a, iv.pid_packets, self._last_seen, ts_dg[a:b]
                )
            else:
                p = pid[a:b]
                iv.pid_packets += np.bincount(p, minlength=PID_COUNT)
                np.maximum.at(self._last_seen, p, d.arrival[ts_dg[a:b]])
            if cc_err[c]:
                iv.cc_errors += cc_err[c]
                iv.cc_lost += cc_lost_l[c]
                iv.add_cc_per_pid(cc_pid.get(c, {}))

        seg = _Segments(vb_l, enter)
        enter(0)
        # The rare packets of the whole call in one pass (``_rare`` enters the chunks as its
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
            restart = self._rare(pk, pos, hi, exact, seg)
            if restart is None:
                pos, exact = hi, False
                continue
            exact = self._exact_next and restart < vb_l[seg.cur + 1]
            pos = restart
        while seg.cur < nch - 1:
            seg.cur += 1
            enter(seg.cur)

    def _rtp_sums(
        self,
        d: _Datagrams,
        rtp_idx: np.ndarray,
        rb: np.ndarray,
        res: SeqResult,
        continues: bool,
    ) -> list[list[Any]]:
        """Per chunk (RTP datagrams rtp_idx[rb[c] : rb[c + 1]]) of a feed call, one row:
        datagrams, lost, late, duplicates, sequence restarts, TS packets the gaps stand for,
        and TS-DF's reference arrival and timestamp, least and greatest delay against it.
        The reference is the chunk's first datagram, or the open period's for the first
        chunk when it continues that period. Advances the unwrap state and _usual_ts."""
        tsdf = self._tsdf
        m_rtp = rtp_idx.shape[0]
        nch = rb.shape[0] - 1
        kern = native.kernels
        if kern is not None and d.n_ts.dtype == d.arrival.dtype == d.ts.dtype == np.int64:
            rows = np.empty((nch, 8), dtype=np.int64)
            delays = np.empty((nch, 2), dtype=np.float64)
            uw = np.array([tsdf.unwrap_started, tsdf.last_raw, tsdf.last_ext], dtype=np.int64)
            ref = np.array([continues, tsdf.ref_r if continues else 0, tsdf.ref_s], dtype=np.int64)
            self._usual_ts = kern.rtp_chunks(
                rtp_idx,
                m_rtp,
                rb,
                nch,
                res.gap,
                res.late,
                res.dup,
                d.n_ts,
                d.arrival,
                d.ts,
                self._usual_ts,
                self.config.default_ts_per_datagram,
                uw,
                ref,
                tsdf.ns_per_tick,
                rows,
                delays,
            )
            tsdf.unwrap_started = True
            tsdf.last_raw, tsdf.last_ext = int(uw[1]), int(uw[2])
            if res.restart_at:
                np.add.at(rows[:, 4], rb.searchsorted(res.restart_at, side="right") - 1, 1)
            return [r + f for r, f in zip(rows.tolist(), delays.tolist(), strict=True)]
        nts = d.n_ts[rtp_idx]
        lost_rtp = _seg_sums(res.gap, rb)
        late = _seg_sums(res.late, rb)
        dups = _seg_sums(res.dup, rb)
        restarts = np.zeros(nch, dtype=np.int64)
        if res.restart_at:
            np.add.at(restarts, rb.searchsorted(res.restart_at, side="right") - 1, 1)
        if res.gap.any():
            pos = np.where(nts > 0, np.arange(m_rtp), -1)
            pos = np.maximum.accumulate(pos)
            usual = np.where(pos >= 0, nts[np.maximum(pos, 0)], self._usual_ts)
            usual = np.where(usual > 0, usual, self.config.default_ts_per_datagram)
            ts_lost = _seg_sums(res.gap * usual, rb)
        else:
            ts_lost = np.zeros(nch, dtype=np.int64)
        nz = nts.nonzero()[0]
        if nz.size:
            self._usual_ts = int(nts[nz[-1]])
        arr_rtp = d.arrival[rtp_idx]
        ext = tsdf.unwrap(d.ts[rtp_idx])
        lens = np.diff(rb)
        first = np.minimum(rb[:-1], m_rtp - 1)
        ref_r = arr_rtp[first]
        ref_s = ext[first]
        if continues:
            ref_r[0] = tsdf.ref_r
            ref_s[0] = tsdf.ref_s
        dd = (arr_rtp - np.repeat(ref_r, lens)).astype(np.float64) - (
            ext - np.repeat(ref_s, lens)
        ) * tsdf.ns_per_tick
        full = lens.nonzero()[0]
        dmin = np.zeros(nch)
        dmax = np.zeros(nch)
        dmin[full] = np.minimum.reduceat(dd, rb[full])
        dmax[full] = np.maximum.reduceat(dd, rb[full])
        cols = (lens, lost_rtp, late, dups, restarts, ts_lost, ref_r, ref_s, dmin, dmax)
        return [list(r) for r in zip(*(c.tolist() for c in cols), strict=True)]

    def _scan(
        self, d: _Datagrams, starts: np.ndarray, hst: np.ndarray | None
    ) -> tuple[TsHeaders, np.ndarray, np.ndarray, int] | None:
        """With the compiled kernels, in one pass: the TS headers of the packets at starts
        (hst in the copy) and the continuity check of the packets without a header error
        (as ``errors_at`` over them); also the number with one. None without the kernels."""
        cc = self._cc
        if native.kernels is None or cc.last_dup.dtype != bool:
            return None
        m = starts.shape[0]
        at = np.empty(m, dtype=np.int64)
        lost = np.empty(m, dtype=np.int64)
        extra = (cc.last_cc, cc.last_dup, at, lost)
        if hst is not None and d.heads is not None:
            h, r = compiled_ts_headers(d.heads, hst, extra)
        else:
            h, r = compiled_ts_headers(d.data, starts, extra)
        assert r is not None
        bad, count = r
        return h, at[:count], lost[:count], bad

    # ------------------------------------------------------------------ one interval's packets

    def _chunk(self, d: _Datagrams, a: int, b: int) -> None:
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
        self._ts(d, starts, dgram, hst)

    def _rtp(self, d: _Datagrams, idx: np.ndarray, keep: np.ndarray, a: int) -> None:
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
            iv.rtp_lost += int(res.gap.sum())
            iv.rtp_late += int(np.count_nonzero(res.late))
            iv.rtp_dup += int(np.count_nonzero(res.dup))
            iv.seq_restarts += res.restarts
            nts = d.n_ts[sub]
            if res.gap.any():
                # TS packets per datagram: the last non-empty datagram up to this one.
                pos = np.where(nts > 0, np.arange(sub.size), -1)
                pos = np.maximum.accumulate(pos)
                usual = np.where(pos >= 0, nts[np.maximum(pos, 0)], self._usual_ts)
                usual = np.where(usual > 0, usual, self.config.default_ts_per_datagram)
                iv.ts_lost_rtp += int(np.sum(res.gap * usual))
            nz = nts[nts > 0]
            if nz.size:
                self._usual_ts = int(nz[-1])
            if res.dup.any():
                keep[sub[res.dup] - a] = False
            self._tsdf.process(d.arrival[sub], d.ts[sub])

    def _ts(
        self, d: _Datagrams, starts: np.ndarray, dgram: np.ndarray, hst: np.ndarray | None
    ) -> None:
        iv = self._iv
        h = d.headers(starts, hst)
        m = starts.shape[0]
        iv.ts_packets += m
        base_index = self._ts_index
        self._ts_index += m
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
        iv.pid_packets += np.bincount(pid, minlength=PID_COUNT)
        np.maximum.at(self._last_seen, pid, d.arrival[dgram[v]])
        cc = self._cc.process(pid, h.cc[v], (h.afc[v] & 1) != 0, h.discontinuity[v])
        iv.cc_errors += cc.errors
        iv.cc_lost += cc.lost
        if cc.per_pid:
            iv.add_cc_per_pid(cc.per_pid)
        # Rare packets: PCRs of the PCR PID in vectorised runs, PSI packets and the video
        # PID's packets (while its format is unknown) one by one, in stream order.
        pk = _Packets.of(d, h, v, starts, hst, np.arange(m, dtype=np.int64)[v] + base_index)
        pos = 0
        n = pid.size
        exact = False
        while pos < n:
            self._exact_next = False
            restart = self._rare(pk, pos, n, exact)
            if restart is None:
                break
            exact = self._exact_next
            pos = restart

    def _pcr_pairs(self, pk: _Packets, lo: int, hi: int) -> PcrPairs:
        """The PCRs of the PCR PID among packets lo..hi-1, for the meter to take in pieces
        (the PCR PID cannot change within them; with none yet, the first PCR's PID)."""
        meter = self._pcr
        kern = native.kernels
        if kern is not None and pk.pid.dtype == np.uint16:
            cap = int(np.count_nonzero(pk.has_pcr[lo:hi]))
            out = [np.empty(cap + (i >= 3), dtype=np.int64) for i in range(5)]
            src, starts = (pk.heads, pk.hst) if pk.heads is not None else (pk.data, pk.st)
            last = meter.last_index
            m, chosen = kern.pcr_pairs(
                pk.has_pcr,
                pk.pid,
                pk.disc,
                pk.index,
                src,
                starts,
                lo,
                hi,
                -1 if meter.pid is None else meter.pid,
                last is not None,
                0 if last is None else last,
                meter.last_pcr,
                *out,
            )
            if meter.pid is None and chosen >= 0:
                meter.set_pid(chosen)
            at, idx, pcr, steps, ticks = out
            return PcrPairs(at[:m], idx[:m], pcr[:m], steps[: m + 1], ticks[: m + 1])
        sel = pk.has_pcr[lo:hi].nonzero()[0]
        if sel.size:
            sel += lo
            if meter.pid is None:
                meter.set_pid(int(pk.pid[sel[0]]))
            sel = sel[pk.pid[sel] == meter.pid]
        return meter.pairs(sel, pk.index[sel], gather_pcr(*pk.pcr_source(sel)), pk.disc[sel])

    def _rare(
        self,
        pk: _Packets,
        pos: int,
        n: int,
        exact: bool = False,
        seg: _Segments | None = None,
    ) -> int | None:
        """PCR, PSI and video-probe packets from pos on; the position to restart from when
        the set of interesting PIDs changed (a new program or a finished probe), else None.

        Repeated tables: a PSI packet identical (apart from its continuity counter) to the
        previous packet of its PID, when that one's feed was repeatable
        (``ProgramTracker.repeatable``), is not fed again: such copies are counted in bulk,
        each adding the error counts the first feed added (none for a good table), or
        nothing when its counter repeats (a duplicate packet). When a feed turns out not to
        be repeatable while identical copies follow, the rest is done packet by packet
        (``exact``). The PCRs up to each PSI packet that is fed are taken first, since a new
        PMT may move the PCR PID.

        With ``seg``, packets pos..n-1 may span several chunks (intervals) of the feed call:
        before the first packet of a later chunk, the copies and PCRs of the chunk before are
        accounted and the next chunk entered (``seg.enter``), so that errors, PCR pairs and
        program changes land in the interval of their packet.
        """
        if seg is None:
            seg = _Segments([pos, n])
        bounds = seg.bounds
        data, pid, pusi, ccv, po, st = pk.data, pk.pid, pk.pusi, pk.cc, pk.po, pk.st
        probe = self._probe
        probing = probe is not None and not probe.done
        if probing:
            assert probe is not None
            exact = exact or bool(self._psi_lut[probe.pid])
        kern = native.kernels
        if kern is not None and pid.dtype == np.uint16:
            ev = np.empty(n - pos, dtype=np.int64)
            if probing:
                assert probe is not None
                p_pid, p_all = probe.pid, probe.collecting
            else:
                p_pid, p_all = -1, False
            ev = ev[: kern.rare_events(pid, pusi, pos, n, self._psi_lut, p_pid, p_all, ev)]
        else:
            pid_r = pid[pos:n]
            mask = self._psi_lut[pid_r]
            if probing:
                assert probe is not None
                vid = pid_r == probe.pid
                mask |= vid if probe.collecting else vid & pusi[pos:n]
            ev = mask.nonzero()[0] + pos
        pairs = self._pcr_pairs(pk, pos, n)
        take = self._pcr.take
        if ev.size == 0:
            if seg.enter is not None:
                last = bisect_right(bounds, n - 1) - 1
                while seg.cur < last:
                    edge = bounds[seg.cur + 1]
                    take(pairs, edge)
                    seg.cur += 1
                    seg.enter(seg.cur)
            take(pairs, n)
            return None
        ev_pid = pid[ev]
        ev_psi = self._psi_lut[ev_pid]
        # member: the event is an identical copy of its PID's packet before it; members: PID
        # -> (at, counters, counter steps) of those; next_psi: the next event of the same PID
        members: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        program = self._program
        memos = self._psi_memo
        if kern is not None and pid.dtype == np.uint16 and ccv.dtype == np.uint8:
            m_ev = ev.size
            next_psi = np.empty(m_ev, dtype=np.int64)
            member = np.empty(m_ev, dtype=bool)
            mem_at = np.empty(m_ev, dtype=np.int64)
            mem_cc = np.empty(m_ev, dtype=np.int64)
            mem_new = np.empty(m_ev, dtype=bool)
            entries = []
            for p in program.psi_pids:
                memo = memos.get(p)
                entries.append((p, None if memo is None else memo[0], program.last_cc(p)))
            groups = kern.psi_links(
                ev,
                m_ev,
                pid,
                ccv,
                data,
                st,
                entries,
                exact,
                next_psi,
                member,
                mem_at,
                mem_cc,
                mem_new,
            )
            for p, a, b in groups:
                members[p] = (mem_at[a:b], mem_cc[a:b], mem_new[a:b])
        else:
            member = np.zeros(ev.size, dtype=bool)
            next_psi = np.full(ev.size, -1, dtype=np.int64)
            psi_at = ev_psi.nonzero()[0]
            psi_pid = ev_pid[psi_at]
            for p in program.psi_pids if psi_at.size else ():
                k = (psi_pid == p).nonzero()[0]
                if k.size == 0:
                    continue
                at = psi_at[k]
                next_psi[at[:-1]] = at[1:]
                if exact:
                    continue
                s_at = st[ev[at]]
                eq = _repeats(data, s_at)
                memo = memos.get(p)
                eq[0] = memo is not None and _same_packet(memo[0], data, int(s_at[0]))
                if eq.any():
                    c = ccv[ev[at]].astype(np.int16)
                    prev = np.empty_like(c)
                    prev[0] = program.last_cc(p)
                    prev[1:] = c[:-1]
                    member[at] = eq
                    members[p] = (at[eq], c[eq], c[eq] != prev[eq])
        done: dict[int, int] = {}  # PID -> members before this ev index are accounted

        def skip_copies(p: int, upto: int) -> None:
            entry = members.get(p)
            if entry is None:
                return
            at, counters, new = entry
            a = done.get(p, 0)
            b = int(at.searchsorted(upto))
            if b <= a:
                return
            done[p] = b
            copies = int(np.count_nonzero(new[a:b]))
            memo = memos[p]
            if copies:
                errors = self._iv.errors
                for kind, count in memo[1]:
                    errors[kind] += count * copies
            self._program.skip_repeat(p, int(counters[b - 1]))

        visit = (~member).nonzero()[0]
        restart: int | None = None
        stop_at = ev.size
        multi = seg.enter is not None and n > bounds[seg.cur + 1]
        if multi:
            ev_chunk = (np.searchsorted(bounds, ev[visit], side="right") - 1).tolist()
        else:
            ev_chunk = itertools.repeat(seg.cur, visit.size)

        def goto(target: int) -> None:
            """Account chunk seg.cur's copies and PCRs, enter the next, up to target. Copies
            whose feed added no error counts are left for later: accounting them only sets
            their PID's continuity counter, and the last one wins."""
            assert seg.enter is not None
            while seg.cur < target:
                edge = bounds[seg.cur + 1]
                e_edge = -1
                for q in members:
                    memo = memos.get(q)
                    if memo is None or memo[1]:
                        if e_edge < 0:
                            e_edge = int(ev.searchsorted(edge))
                        skip_copies(q, e_edge)
                take(pairs, edge)
                seg.cur += 1
                seg.enter(seg.cur)

        for ch, e, j, p, is_psi, pu, c, off, s0, nxt in zip(
            ev_chunk,
            visit.tolist(),
            ev[visit].tolist(),
            ev_pid[visit].tolist(),
            ev_psi[visit].tolist(),
            pusi[ev[visit]].tolist(),
            ccv[ev[visit]].tolist(),
            po[ev[visit]].tolist(),
            st[ev[visit]].tolist(),
            next_psi[visit].tolist(),
            strict=True,
        ):
            if ch > seg.cur:
                goto(ch)
            if is_psi:
                # every PID's copies before this packet first: its feed may change the
                # program, which forgets the memos the copies are counted by
                for q in members:
                    skip_copies(q, e)
                take(pairs, j + 1)
                if off < TS_PACKET_SIZE:
                    changed = self._psi(data, p, pu, c, off, s0)
                else:
                    changed = False
                    memos.pop(p, None)
                if changed or (nxt >= 0 and member[nxt] and p not in memos):
                    restart, stop_at = j + 1, e + 1
                    exact = exact or not changed
                    break
            if probing and probe is not None and not probe.done and p == probe.pid:
                if off < TS_PACKET_SIZE:
                    payload = data[s0 + off : s0 + TS_PACKET_SIZE].tobytes()
                    if probe.feed(payload, pu, self._iv.errors):
                        restart, stop_at = j + 1, e + 1
                        break
        if restart is None and multi:
            goto(bisect_right(bounds, n - 1) - 1)
        for p in members:
            skip_copies(p, stop_at)
        take(pairs, n if restart is None else restart)
        if restart is not None and exact:
            self._exact_next = True
        return restart

    def _psi(self, data: np.ndarray, pid: int, pusi: bool, cc: int, off: int, start: int) -> bool:
        """Feed one PSI packet; True when the program changed."""
        errors = self._iv.errors
        before = (errors[ErrorKind.PSI_SECTION], errors[ErrorKind.PSI_CRC])
        payload = data[start + off : start + TS_PACKET_SIZE].tobytes()
        if self._program.feed(pid, payload, pusi, cc, errors):
            self._on_program_change()
            return True
        if self._program.repeatable:
            added = tuple(
                (kind, errors[kind] - b)
                for kind, b in zip((ErrorKind.PSI_SECTION, ErrorKind.PSI_CRC), before, strict=True)
                if errors[kind] != b
            )
            self._psi_memo[pid] = (data[start : start + TS_PACKET_SIZE].tobytes(), added)
        else:
            self._psi_memo.pop(pid, None)
        return False

    def _on_program_change(self) -> None:
        self._psi_memo.clear()
        self._psi_lut[:] = False
        for p in self._program.psi_pids:
            self._psi_lut[p] = True
        info = self._program.program
        if info is None:
            return
        if info.pcr_pid != NULL_PID:
            self._pcr.set_pid(info.pcr_pid)
        video = info.video
        if video is None or video.video_coding is None:
            self._probe = None
            return
        if (
            self._probe is not None
            and self._probe.pid == video.pid
            and self._probe.coding == video.video_coding
        ):
            return
        if not self._inspector_loaded:
            self._inspector = load_inspector()
            self._inspector_loaded = True
        c = self.config
        self._probe = VideoProbe(
            video.pid,
            video.video_coding,
            self._inspector,
            c.video_probe_bytes,
            c.video_probe_max_pes,
        )

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

    # ------------------------------------------------------------------ closing intervals

    def _advance(self, k_new: int) -> None:
        """Close intervals up to (not including) k_new, keeping at most max_reports."""
        while self._k < k_new:
            self._close()
            self._k += 1
            skip = k_new - self._k - self.config.max_reports
            if skip > 0:  # a long silence: only the last max_reports intervals are reported
                self._buffer.empty()
                self._k += skip

    def _program_view(self) -> tuple[ProgramInfo | None, _ProgramView]:
        """The program as of now, with what closing an interval needs of it (kept until the
        program changes)."""
        info = self._program.program
        view = self._view
        if view.info is not info:
            view = self._view = _ProgramView(info)
        return info, view

    def _close(self) -> None:
        c, iv = self.config, self._iv
        assert self._t0 is not None
        k = self._k
        start = self._t0 + k * self._interval_ns
        end = start + self._interval_ns
        secs = self._secs
        pcr = self._pcr
        pcr_rate = pcr.take_interval()
        ts_packets = iv.ts_packets
        total_bytes = ts_packets * TS_PACKET_SIZE
        if c.media_rate_bps is not None:
            rate, source = c.media_rate_bps, "configured"
        elif pcr_rate is not None:
            rate, source = pcr_rate, "pcr"
        elif pcr.last_rate is not None:
            rate, source = pcr.last_rate, "pcr"
        elif total_bytes:
            rate, source = total_bytes * 8 / secs, "measured"
        else:
            rate, source = None, "none"
        arrivals = iv.arrivals
        if len(arrivals) == 1:
            arr, mb = arrivals[0], iv.media_bytes[0]
        elif arrivals:
            arr = np.concatenate(arrivals)
            mb = np.concatenate(iv.media_bytes)
        else:
            arr = mb = _NONE
        df = delay_factor_ms(arr, mb, rate) if rate and arr.size else None
        buffer = None
        if rate:
            buf = self._buffer
            buf.run(arr, mb, rate, end)
            buffer = make_buffer_status(
                c.buffer_size_ms,
                int(round(buf.occupancy_ms(rate))),
                buf.occupancy_percent(rate),
                buf.playing,
                buf.underflows,
                buf.overflows,
            )
        counts = iv.pid_packets  # zeroed here for the next interval
        kern = native.kernels
        if kern is not None and counts.dtype == np.int64:
            pid_rates = kern.pid_rates(counts, TS_PACKET_SIZE * 8, secs)
        else:
            used = (counts != 0).nonzero()[0]  # (a bool array: four times faster here)
            # float(count * 188 * 8) / secs, as numpy computes it for the used PIDs at once
            pid_rates = dict(
                zip(
                    used.tolist(),
                    (counts[used] * (TS_PACKET_SIZE * 8) / secs).tolist(),
                    strict=True,
                )
            )
            counts[used] = 0
        bitrate = total_bytes * 8 / secs
        null = NULL_PID in pid_rates
        rate_type = self._rate_all.add(bitrate, null)
        tsdf = self._tsdf.value_us()
        self._tsdf.start_period()
        limit = end - self._timeout_ns
        info, view = self._program_view()
        video = None
        audio: tuple[AudioStatus, ...] = ()
        pid_present: dict[int, bool] = {}
        if info is not None:
            seen = self._last_seen[view.pids].tolist()
            pid_present = {
                p: t != _NEVER and t >= limit for p, t in zip(view.pid_list, seen, strict=True)
            }
            v = view.video
            if v is not None:
                vrate = pid_rates.get(v.pid, 0.0)
                vtype = self._rate_video.add(vrate)
                probe = self._probe
                fmt = probe.format if probe is not None and probe.pid == v.pid else None
                video = make_video_status(
                    v.pid,
                    v.stream_type,
                    # what the elementary stream shows (MPEG-1 under stream_type 0x02), once
                    # seen; else what the PMT declares
                    fmt.coding if fmt is not None and fmt.coding is not None else v.video_coding,
                    fmt,
                    pid_present[v.pid],
                    vrate,
                    vtype,
                    self._rate_video.maximum,
                )
            audio = tuple(
                make_audio_status(
                    i,
                    s.pid,
                    s.stream_type,
                    s.audio_format,
                    pid_present[s.pid],
                    pid_rates.get(s.pid, 0.0),
                )
                for i, s in view.audio
            )
        fec_last = self._fec_last_ns
        if fec_last is None and not (iv.fec_column or iv.fec_row):
            fec = _NO_FEC
        else:
            fec_on = fec_last is not None and fec_last >= limit and self._fec_l > 0
            fec = FecStatus(
                fec_type=FecType.SMPTE_2022_1 if fec_on else FecType.NONE,
                l_cols=self._fec_l if fec_on else 0,
                d_rows=self._fec_d if fec_on else 0,
                length_dimension=fec_length_dimension(self._fec_l, self._fec_d) if fec_on else 0,
                column_packets=iv.fec_column,
                row_packets=iv.fec_row,
            )
        errors = iv.errors
        has_errors = any(errors)
        cc_pid = iv.cc_per_pid
        report = make_interval_report(
            k,
            k * self._interval_ns / 1e9,
            secs,
            start,
            iv.datagrams,
            ts_packets,
            df,
            max(iv.ts_lost_rtp, iv.cc_lost) / secs,
            tsdf,
            iv.rtp_lost,
            iv.rtp_late,
            iv.rtp_dup,
            self._ssrc,
            iv.ssrc_changes,
            iv.seq_restarts,
            iv.ts_lost_rtp,
            iv.cc_lost,
            iv.cc_errors,
            dict(sorted(cc_pid.items())) if cc_pid else {},
            bitrate,
            pid_rates,
            rate_type,
            self._rate_all.maximum,
            null,
            pcr.pid,
            pcr_rate,
            rate,
            source,
            info,
            video,
            audio,
            pid_present,
            fec,
            buffer,
            error_counts_dict(errors) if has_errors else {},
        )
        self._reports.append(report)
        self._latest = report
        t = self._tot
        t[0] += iv.datagrams
        t[1] += ts_packets
        t[2] += iv.rtp_lost
        t[3] += iv.rtp_late
        t[4] += iv.rtp_dup
        t[5] += iv.ssrc_changes
        t[6] += iv.cc_errors
        if has_errors:
            self._tot_errors = [x + y for x, y in zip(self._tot_errors, errors, strict=True)]
        self._iv = _Interval(counts)


_NO_FEC = FecStatus(FecType.NONE, 0, 0, 0, 0, 0)


class _ProgramView:
    """What closing an interval needs of a program: its PIDs, the video stream, the audio
    streams with a known format and their component numbers (1-based, PMT order)."""

    __slots__ = ("info", "pid_list", "pids", "video", "audio")

    def __init__(self, info: ProgramInfo | None) -> None:
        self.info = info
        streams = () if info is None else info.streams
        self.pid_list = [s.pid for s in streams]
        self.pids = np.asarray(self.pid_list, dtype=np.int64)
        v = None if info is None else info.video
        self.video = v if v is not None and v.video_coding is not None else None
        self.audio = (
            ()
            if info is None
            else tuple((i + 1, s) for i, s in enumerate(info.audio) if s.audio_format is not None)
        )


__all__ = ["AnalyzerConfig", "BitRateType", "IntervalReport", "StreamAnalyzer"]
