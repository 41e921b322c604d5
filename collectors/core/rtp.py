"""RTP fixed header (RFC 3550 section 5.1): one-packet parser and a vectorised batch parser.

``parse_rtp_headers`` is the header rule: the fields of many datagrams at once, with numpy,
malformed ones reported by :class:`ErrorKind` code; the compiled record walk (pcap reader) and
``dgram_fields`` kernel follow it. ``parse_rtp`` parses one datagram into an
:class:`RtpPacket` with it and raises ``ValueError`` with a precise message on malformed input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ErrorKind

RTP_HEADER_LEN = 12


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """An RTP packet: header fields, and where the payload lies in the datagram."""

    version: int
    padding: bool
    extension: bool
    csrc_count: int
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int | None
    extension_data: bytes
    payload_offset: int
    payload_length: int
    padding_length: int

    def payload(self, datagram: bytes) -> bytes:
        return datagram[self.payload_offset : self.payload_offset + self.payload_length]


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP datagram (RFC 3550 5.1, 5.3.1 header extension, padding).

    Raises ValueError on a short packet, a version other than 2, a header extension that runs
    past the end, or an impossible padding count. The header rule is
    :func:`parse_rtp_headers`' (on this one datagram); its error code becomes the message.
    """
    n = len(data)
    h = parse_rtp_headers(np.frombuffer(bytes(data), dtype=np.uint8), _AT0, np.array([n]))
    err = int(h.error[0])
    hdr = int(h.payload_offset[0])  # where the rule stopped, for a fault
    if err:
        raise ValueError(_fault(data, err, hdr))
    b0 = data[0]
    cc = b0 & 0x0F
    ext_profile: int | None = None
    ext_data = b""
    if b0 & 0x10:
        at = RTP_HEADER_LEN + 4 * cc
        ext_profile = int.from_bytes(data[at : at + 2], "big")
        ext_data = bytes(data[at + 4 : hdr])
    return RtpPacket(
        version=2,
        padding=bool(b0 & 0x20),
        extension=bool(b0 & 0x10),
        csrc_count=cc,
        marker=bool(h.marker[0]),
        payload_type=int(h.payload_type[0]),
        sequence=int(h.sequence[0]),
        timestamp=int(h.timestamp[0]),
        ssrc=int(h.ssrc[0]),
        csrcs=tuple(int.from_bytes(data[12 + 4 * i : 16 + 4 * i], "big") for i in range(cc)),
        extension_profile=ext_profile,
        extension_data=ext_data,
        payload_offset=hdr,
        payload_length=int(h.payload_length[0]),
        padding_length=n - hdr - int(h.payload_length[0]),
    )


_AT0 = np.zeros(1, dtype=np.int64)


def _fault(data: bytes, err: int, hdr: int) -> str:
    """The message for parse_rtp_headers' error code err on one datagram (hdr: its
    payload_offset, the header length the rule had reached)."""
    n = len(data)
    if err == ErrorKind.RTP_SHORT:
        if n < RTP_HEADER_LEN:
            return f"RTP packet too short: {n} bytes, need at least {RTP_HEADER_LEN}"
        return (
            f"RTP packet too short for {data[0] & 0x0F} CSRCs: {n} bytes, need at least {hdr}"
        )
    if err == ErrorKind.RTP_VERSION:
        return f"RTP version is {data[0] >> 6}, expected 2"
    if err == ErrorKind.RTP_EXTENSION:
        at = RTP_HEADER_LEN + 4 * (data[0] & 0x0F)
        if n < at + 4:
            return (
                f"RTP header extension truncated: {n} bytes, need at least {at + 4} for its header"
            )
        words = int.from_bytes(data[at + 2 : at + 4], "big")
        return f"RTP header extension of {words} words runs past the end: {n} bytes, need {hdr}"
    return f"RTP padding count {data[n - 1]} invalid for {n - hdr} bytes after the header"


@dataclass(slots=True)
class RtpHeaders:
    """Header fields of many datagrams (arrays of equal length).

    error: ErrorKind code per datagram (0 = valid). Fields of invalid datagrams are undefined.
    payload_offset is relative to the datagram start.
    """

    error: np.ndarray  # uint8
    sequence: np.ndarray  # int64
    timestamp: np.ndarray  # int64
    ssrc: np.ndarray  # int64
    payload_type: np.ndarray  # int64
    marker: np.ndarray  # bool
    payload_offset: np.ndarray  # int64
    payload_length: np.ndarray  # int64


def _gather(data: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """data[idx] as int64 with out-of-range indices read as 0 (callers mask those rows)."""
    last = data.shape[0] - 1
    if last < 0:
        return np.zeros(idx.shape, dtype=np.int64)
    return data[np.clip(idx, 0, last)].astype(np.int64)


def parse_rtp_headers(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> RtpHeaders:
    """The RTP headers of datagrams data[offsets[i] : offsets[i] + lengths[i]], checked in
    this order: at least 12 bytes, version 2, room for the CSRCs, the header extension
    (RFC 3550 5.3.1) within the datagram, a padding count (last byte) from 1 to what follows
    the header."""
    offsets = offsets.astype(np.int64, copy=False)
    n = lengths.astype(np.int64)
    b = [_gather(data, offsets + k) for k in range(RTP_HEADER_LEN)]
    err = np.zeros(offsets.shape[0], dtype=np.uint8)
    short = n < RTP_HEADER_LEN
    err[short] = ErrorKind.RTP_SHORT
    version = b[0] >> 6
    err[(err == 0) & (version != 2)] = ErrorKind.RTP_VERSION
    cc = b[0] & 0x0F
    hdr = RTP_HEADER_LEN + 4 * cc
    err[(err == 0) & (n < hdr)] = ErrorKind.RTP_SHORT
    ext = (b[0] & 0x10) != 0
    has_ext = ext & (err == 0)
    if has_ext.any():
        err[has_ext & (n < hdr + 4)] = ErrorKind.RTP_EXTENSION
        ok = has_ext & (err == 0)
        words = (_gather(data, offsets + hdr + 2) << 8) | _gather(data, offsets + hdr + 3)
        hdr = np.where(ok, hdr + 4 + 4 * words, hdr)
        err[ok & (hdr > n)] = ErrorKind.RTP_EXTENSION
    pad = np.zeros_like(n)
    has_pad = ((b[0] & 0x20) != 0) & (err == 0)
    if has_pad.any():
        pad = np.where(has_pad, _gather(data, offsets + n - 1), 0)
        err[has_pad & ((pad == 0) | (hdr + pad > n))] = ErrorKind.RTP_PADDING
    return RtpHeaders(
        error=err,
        sequence=(b[2] << 8) | b[3],
        timestamp=(b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7],
        ssrc=(b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11],
        payload_type=b[1] & 0x7F,
        marker=(b[1] & 0x80) != 0,
        payload_offset=hdr,
        payload_length=n - hdr - pad,
    )
