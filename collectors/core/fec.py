"""SMPTE 2022-1 forward error correction: the FEC header and the FEC block description.

An SMPTE 2022-1 FEC packet is an RTP packet (RFC 3550) whose payload starts with the 16-byte
FEC header (SMPTE 2022-1:2007 clause 8, an extension of the RFC 2733 header)::

    SNBase low bits (16) | Length recovery (16)
    E (1) | PT recovery (7) | Mask (24)
    TS recovery (32)
    X (1) | D (1) | type (3) | index (3) | Offset (8) | NA (8) | SNBase ext bits (8)

Column FEC (D bit 0, sent to the media port + 2) has Offset = L and NA = D; row FEC (D bit 1,
media port + 4) has Offset = 1 and NA = L. 2022-1 limits 1 <= L <= 20, 4 <= D <= 20 and
L * D <= 100, with E = 1 and type 0 (XOR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ErrorKind
from .formats import FecType as FecType  # the enum lives with the other formats
from .rtp import parse_rtp, parse_rtp_headers

FEC_HEADER_LEN = 16


@dataclass(frozen=True, slots=True)
class FecHeader:
    """Fields of one SMPTE 2022-1 FEC header."""

    sn_base: int  # 24 bits: low 16 + extension 8
    length_recovery: int
    extended: bool  # E
    pt_recovery: int
    mask: int
    ts_recovery: int
    row: bool  # D bit: False = column FEC, True = row FEC
    fec_type: int
    index: int
    offset: int
    na: int

    @property
    def l(self) -> int:  # noqa: E743 - the standard's name
        """L (columns of the FEC matrix)."""
        return self.na if self.row else self.offset

    @property
    def d(self) -> int | None:
        """D (rows of the matrix); a row FEC packet does not carry it."""
        return None if self.row else self.na


def _check(h: FecHeader) -> FecHeader:
    if not h.extended:
        raise ValueError("SMPTE 2022-1 FEC header has E = 0, expected 1")
    if h.fec_type != 0:
        raise ValueError(f"SMPTE 2022-1 FEC type is {h.fec_type}, expected 0 (XOR)")
    if h.row:
        if h.offset != 1:
            raise ValueError(f"SMPTE 2022-1 row FEC Offset is {h.offset}, expected 1")
        if not 1 <= h.na <= 20:
            raise ValueError(f"SMPTE 2022-1 row FEC NA (L) is {h.na}, expected 1..20")
    else:
        if not 1 <= h.offset <= 20 or not 4 <= h.na <= 20 or h.offset * h.na > 100:
            raise ValueError(
                f"SMPTE 2022-1 column FEC L={h.offset} D={h.na} outside "
                "1<=L<=20, 4<=D<=20, L*D<=100"
            )
    return h


def parse_fec_header(data: bytes) -> FecHeader:
    """Parse the 16-byte FEC header at the start of ``data``; ValueError when malformed."""
    if len(data) < FEC_HEADER_LEN:
        raise ValueError(
            f"SMPTE 2022-1 FEC header too short: {len(data)} bytes, need {FEC_HEADER_LEN}"
        )
    b = data
    return _check(
        FecHeader(
            sn_base=int.from_bytes(b[0:2], "big") | (b[15] << 16),
            length_recovery=int.from_bytes(b[2:4], "big"),
            extended=bool(b[4] & 0x80),
            pt_recovery=b[4] & 0x7F,
            mask=int.from_bytes(b[5:8], "big"),
            ts_recovery=int.from_bytes(b[8:12], "big"),
            row=bool(b[12] & 0x40),
            fec_type=(b[12] >> 3) & 7,
            index=b[12] & 7,
            offset=b[13],
            na=b[14],
        )
    )


def parse_fec_packet(datagram: bytes) -> FecHeader:
    """Parse an RTP datagram carrying an SMPTE 2022-1 FEC packet."""
    rtp = parse_rtp(datagram)
    return parse_fec_header(rtp.payload(datagram))


def fec_length_dimension(l_cols: int, d_rows: int | None) -> int:
    """The MIB's xxyy value (aMtFECLengthDimension / vMtFECLengthDimension).

    [inferred] xxyy = L * 100 + D. The seed describes xxyy as "bytes over which FEC is applied
    and matrix size" with the example 2405 ("24 bytes, 5x5 matrix"), which does not say how an
    L x D matrix is written; the project reports L in the high two digits and D in the low two
    (2022-1 bounds both by 20, so each fits). D is 0 when only row FEC has been seen.
    """
    return l_cols * 100 + (d_rows or 0)


@dataclass(slots=True)
class FecFields:
    """Vectorised FEC header fields: error code, row flag, L and D (D = -1 for row packets)."""

    error: np.ndarray
    row: np.ndarray
    l_cols: np.ndarray
    d_rows: np.ndarray


def parse_fec_headers(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> FecFields:
    """``parse_fec_packet`` over many datagrams, faults reported as ErrorKind codes: the RTP
    headers by ``parse_rtp_headers``, then each FEC header by :func:`parse_fec_header` (FEC
    packets are a small share of a stream). Fields of faulty datagrams are 0 (D -1)."""
    rtp = parse_rtp_headers(data, offsets, lengths)
    n = offsets.shape[0]
    err = rtp.error.copy()
    row = np.zeros(n, dtype=bool)
    l_cols = np.zeros(n, dtype=np.int64)
    d_rows = np.full(n, -1, dtype=np.int64)
    start = (offsets.astype(np.int64) + rtp.payload_offset).tolist()
    for i in np.flatnonzero(err == 0).tolist():
        if rtp.payload_length[i] < FEC_HEADER_LEN:
            err[i] = ErrorKind.FEC_SHORT
            continue
        try:
            h = parse_fec_header(data[start[i] : start[i] + FEC_HEADER_LEN].tobytes())
        except ValueError:
            err[i] = ErrorKind.FEC_HEADER
            continue
        row[i] = h.row
        l_cols[i] = h.l
        d_rows[i] = -1 if h.d is None else h.d
    return FecFields(error=err, row=row, l_cols=l_cols, d_rows=d_rows)
