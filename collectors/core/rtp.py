"""RTP fixed header (RFC 3550 section 5.1): one-packet parser and a vectorised batch parser.

``parse_rtp`` parses one datagram into an :class:`RtpPacket` and raises ``ValueError`` with a
precise message on malformed input. ``parse_rtp_headers`` does the same for many datagrams at
once with numpy and reports malformed ones by :class:`ErrorKind` code instead of raising; both
apply the same rules, in the same order.
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
    past the end, or an impossible padding count.
    """
    n = len(data)
    if n < RTP_HEADER_LEN:
        raise ValueError(f"RTP packet too short: {n} bytes, need at least {RTP_HEADER_LEN}")
    b0, b1 = data[0], data[1]
    version = b0 >> 6
    if version != 2:
        raise ValueError(f"RTP version is {version}, expected 2")
    padding = bool(b0 & 0x20)
    extension = bool(b0 & 0x10)
    cc = b0 & 0x0F
    hdr = RTP_HEADER_LEN + 4 * cc
    if n < hdr:
        raise ValueError(f"RTP packet too short for {cc} CSRCs: {n} bytes, need at least {hdr}")
    csrcs = tuple(int.from_bytes(data[12 + 4 * i : 16 + 4 * i], "big") for i in range(cc))
    ext_profile: int | None = None
    ext_data = b""
    if extension:
        if n < hdr + 4:
            raise ValueError(
                f"RTP header extension truncated: {n} bytes, need at least {hdr + 4} for its header"
            )
        ext_profile = int.from_bytes(data[hdr : hdr + 2], "big")
        words = int.from_bytes(data[hdr + 2 : hdr + 4], "big")
        end = hdr + 4 + 4 * words
        if end > n:
            raise ValueError(
                f"RTP header extension of {words} words runs past the end: {n} bytes, need {end}"
            )
        ext_data = bytes(data[hdr + 4 : end])
        hdr = end
    pad = 0
    if padding:
        pad = data[n - 1]
        if pad == 0 or hdr + pad > n:
            raise ValueError(
                f"RTP padding count {pad} invalid for {n - hdr} bytes after the header"
            )
    return RtpPacket(
        version=version,
        padding=padding,
        extension=extension,
        csrc_count=cc,
        marker=bool(b1 & 0x80),
        payload_type=b1 & 0x7F,
        sequence=int.from_bytes(data[2:4], "big"),
        timestamp=int.from_bytes(data[4:8], "big"),
        ssrc=int.from_bytes(data[8:12], "big"),
        csrcs=csrcs,
        extension_profile=ext_profile,
        extension_data=ext_data,
        payload_offset=hdr,
        payload_length=n - hdr - pad,
        padding_length=pad,
    )


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
    """Vectorised ``parse_rtp`` over datagrams data[offsets[i] : offsets[i] + lengths[i]]."""
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
