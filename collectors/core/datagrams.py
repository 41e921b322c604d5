"""Parsing a feed call's datagrams: RTP headers, and where their TS packets are.

``parse_datagrams`` gives per-datagram arrays (:class:`Datagrams`): the error kind, whether
the datagram is good RTP, its RTP fields, its TS packets (a payload that is a whole number of
188-byte packets, else a TS_LENGTH error) and, per TS packet, its datagram and start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fast
from .errors import ErrorKind
from .rtp import parse_rtp_headers
from .ts import HEAD_BYTES, TS_PACKET_SIZE, TS_SYNC_BYTE, TsHeaders

# A source's parse of every datagram (PacketBatch): first payload byte, then the
# ``parse_rtp_headers`` fields error, sequence, timestamp, ssrc, payload offset and length,
# and perhaps each datagram's first packet in the copied heads (PacketBatch.ts_first).
Pre = tuple[np.ndarray, ...]


@dataclass(slots=True)
class Datagrams:
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

    def source(self, starts: np.ndarray, hst: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Where to read the headers of the packets at starts: (bytes, starts there)."""
        if hst is not None and self.heads is not None:
            return self.heads, hst
        return self.data, starts


@dataclass(slots=True)
class Packets:
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
        d: Datagrams,
        h: TsHeaders,
        v: slice | np.ndarray,
        starts: np.ndarray,
        hst: np.ndarray | None,
        index: np.ndarray,
    ) -> Packets:
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

    def pcr_source(self) -> tuple[np.ndarray, np.ndarray]:
        """Where to read the PCRs of the packets: (bytes, starts)."""
        if self.heads is not None and self.hst is not None:
            return self.heads, self.hst
        return self.data, self.st


def ts_layout_reference(
    n_ts: np.ndarray, ts_first: np.ndarray, base: np.ndarray, hfirst: np.ndarray | None, total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per TS packet of the datagrams (n_ts packets each, the first at ts_first): its
    datagram, its start in the data (the payloads start at base) and, with hfirst (each
    datagram's first packet in the copied heads), its start there."""
    dgram = np.repeat(np.arange(n_ts.shape[0], dtype=np.int64), n_ts)
    within = np.arange(total, dtype=np.int64) - ts_first[dgram]
    ts_start = base[dgram] + TS_PACKET_SIZE * within
    hst = None if hfirst is None else (hfirst[dgram] + within) * HEAD_BYTES
    return dgram, ts_start, hst


def fields_reference(
    transport: str,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    pre: Pre | None,
) -> tuple[np.ndarray, ...]:
    """The datagrams' error, rtp_ok, seq, ts, ssrc, n_ts, ts_first and payload starts.

    transport "rtp": every datagram is RTP; "udp": none; "auto": a payload that starts with
    the sync byte is plain TS, else RTP. An RTP header error is the datagram's error; a good
    payload that is not a whole number of TS packets is a TS_LENGTH error.
    """
    n = offsets.shape[0]
    if transport == "rtp":
        is_rtp = np.ones(n, dtype=bool)
    elif transport == "udp":
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
            cols = [a[sel] for a in pre[1:7]]
        else:
            h = parse_rtp_headers(data, offsets[sel], lengths[sel])
            cols = [h.error, h.sequence, h.timestamp, h.ssrc, h.payload_offset, h.payload_length]
        err[sel] = cols[0]
        seq, ts, ssrc = (np.zeros(n, dtype=np.int64) for _ in range(3))
        seq[sel], ts[sel], ssrc[sel] = cols[1:4]
        pay_off[sel], pay_len[sel] = cols[4:6]
    rtp_ok = is_rtp & (err == 0)
    ts_ok = (err == 0) & (pay_len > 0) & (pay_len % TS_PACKET_SIZE == 0)
    err[(err == 0) & ~ts_ok] = ErrorKind.TS_LENGTH
    n_ts = np.where(ts_ok, pay_len // TS_PACKET_SIZE, 0)
    ts_first = np.cumsum(n_ts) - n_ts
    return err, rtp_ok, seq, ts, ssrc, n_ts, ts_first, offsets + pay_off


def parse_datagrams(
    transport: str,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    arrival: np.ndarray,
    pre: Pre | None = None,
    heads: np.ndarray | None = None,
) -> Datagrams:
    """The datagrams' RTP headers and TS packets (pre: the source's parse, used instead of
    parsing; heads: the source's copy of the TS headers, with pre[7])."""
    offsets = offsets.astype(np.int64, copy=False)
    lengths = lengths.astype(np.int64, copy=False)
    err, rtp_ok, seq, ts, ssrc, n_ts, ts_first, base = fast.datagram_fields(
        transport, data, offsets, lengths, pre
    )
    total = int(ts_first[-1] + n_ts[-1]) if n_ts.shape[0] else 0
    hfirst = pre[7] if heads is not None and pre is not None and len(pre) > 7 else None
    if total:
        dgram, ts_start, hst = fast.ts_layout(n_ts, ts_first, base, hfirst, total)
    else:
        dgram = ts_start = np.zeros(0, dtype=np.int64)
        hst = None
    return Datagrams(
        data,
        arrival,
        err,
        rtp_ok,
        seq,
        ts,
        ssrc,
        n_ts,
        ts_first,
        ts_start,
        dgram,
        heads if hst is not None else None,
        hst,
    )
