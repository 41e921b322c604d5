"""MPEG-2 transport stream packets (ISO/IEC 13818-1 2.4.3.2 and 2.4.3.4).

``parse_ts_packet`` parses one 188-byte packet and raises ``ValueError`` on malformed input;
``split_ts`` checks that a datagram payload is a whole number of packets; ``parse_ts_headers``
extracts the same fields for many packets at once (numpy gathers over the packet starts) and
reports malformed packets by :class:`ErrorKind` code instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ErrorKind

TS_PACKET_SIZE = 188
TS_SYNC_BYTE = 0x47
NULL_PID = 0x1FFF
PCR_HZ = 27_000_000
PCR_MODULUS = (1 << 33) * 300  # PCR base wraps at 2^33, extension counts 0..299


@dataclass(frozen=True, slots=True)
class TsPacket:
    """Header and adaptation-field fields of one TS packet (ISO/IEC 13818-1 Table 2-2, 2-6)."""

    transport_error: bool
    payload_unit_start: bool
    transport_priority: bool
    pid: int
    scrambling: int
    adaptation_field_control: int
    continuity_counter: int
    adaptation_field_length: int  # -1 when there is no adaptation field
    discontinuity: bool
    random_access: bool
    pcr: int | None  # 27 MHz units: base * 300 + extension
    payload_offset: int  # start of the payload in the packet (188 when none)

    @property
    def has_payload(self) -> bool:
        return bool(self.adaptation_field_control & 1)


def split_ts(payload: bytes | memoryview) -> int:
    """Number of TS packets in a datagram payload; ValueError unless a non-zero multiple of 188."""
    n = len(payload)
    if n == 0 or n % TS_PACKET_SIZE:
        raise ValueError(
            f"MPEG-TS payload of {n} bytes is not a non-zero multiple of {TS_PACKET_SIZE}"
        )
    return n // TS_PACKET_SIZE


def parse_ts_packet(pkt: bytes | memoryview) -> TsPacket:
    """Parse one 188-byte TS packet; ValueError on a wrong length, sync byte or field value."""
    if len(pkt) != TS_PACKET_SIZE:
        raise ValueError(f"TS packet is {len(pkt)} bytes, expected {TS_PACKET_SIZE}")
    if pkt[0] != TS_SYNC_BYTE:
        raise ValueError(f"TS sync byte is 0x{pkt[0]:02x}, expected 0x47")
    b1, b2, b3 = pkt[1], pkt[2], pkt[3]
    afc = (b3 >> 4) & 3
    if afc == 0:
        raise ValueError("TS adaptation_field_control is '00' (reserved)")
    af_len = -1
    disc = rap = False
    pcr: int | None = None
    payload_offset = 4
    if afc & 2:
        af_len = pkt[4]
        limit = 183 if afc == 2 else 182
        if af_len > limit:
            raise ValueError(
                f"TS adaptation_field_length {af_len} exceeds {limit} "
                f"for adaptation_field_control {afc:02b}"
            )
        if af_len > 0:
            flags = pkt[5]
            disc = bool(flags & 0x80)
            rap = bool(flags & 0x40)
            if flags & 0x10:
                if af_len < 7:
                    raise ValueError(
                        f"TS PCR_flag set but adaptation_field_length is {af_len}, need 7"
                    )
                pcr = pcr_from_bytes(pkt[6:12])
        payload_offset = 5 + af_len
    if not afc & 1:
        payload_offset = TS_PACKET_SIZE
    return TsPacket(
        transport_error=bool(b1 & 0x80),
        payload_unit_start=bool(b1 & 0x40),
        transport_priority=bool(b1 & 0x20),
        pid=((b1 & 0x1F) << 8) | b2,
        scrambling=b3 >> 6,
        adaptation_field_control=afc,
        continuity_counter=b3 & 0x0F,
        adaptation_field_length=af_len,
        discontinuity=disc,
        random_access=rap,
        pcr=pcr,
        payload_offset=payload_offset,
    )


def pcr_from_bytes(b: bytes | memoryview) -> int:
    """PCR (27 MHz) from the 6 PCR bytes: 33-bit base * 300 + 9-bit extension (2.4.3.5)."""
    base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
    ext = ((b[4] & 1) << 8) | b[5]
    return base * 300 + ext


@dataclass(slots=True)
class TsHeaders:
    """Fields of many TS packets; ``error`` holds an ErrorKind code per packet (0 = valid).

    For packets with an error the other fields are undefined, except ``pid`` of TEI packets.
    """

    error: np.ndarray  # uint8
    pid: np.ndarray  # int64
    pusi: np.ndarray  # bool
    afc: np.ndarray  # int64
    cc: np.ndarray  # int64
    discontinuity: np.ndarray  # bool
    has_pcr: np.ndarray  # bool
    payload_offset: np.ndarray  # int64, relative to the packet start


def parse_ts_headers(data: np.ndarray, starts: np.ndarray) -> TsHeaders:
    """Vectorised ``parse_ts_packet`` for the packets at data[starts[i] : starts[i] + 188].

    Every start must have 188 bytes after it in data (the caller checked datagram lengths).
    """
    b0 = data[starts]
    b1 = data[starts + 1].astype(np.int64)
    b2 = data[starts + 2].astype(np.int64)
    b3 = data[starts + 3].astype(np.int64)
    b4 = data[starts + 4].astype(np.int64)
    b5 = data[starts + 5]
    err = np.zeros(starts.shape[0], dtype=np.uint8)
    err[b0 != TS_SYNC_BYTE] = ErrorKind.TS_SYNC
    afc = (b3 >> 4) & 3
    has_af = (afc & 2) != 0
    af_present = has_af & (b4 > 0)
    disc = af_present & ((b5 & 0x80) != 0)
    pcr_flag = af_present & ((b5 & 0x10) != 0)
    ok = err == 0
    err[ok & ((b1 & 0x80) != 0)] = ErrorKind.TS_TEI
    ok = err == 0
    err[ok & (afc == 0)] = ErrorKind.TS_AFC
    ok = err == 0
    limit = np.where(afc == 2, 183, 182)
    bad_af = has_af & ((b4 > limit) | (pcr_flag & (b4 < 7)))
    err[ok & bad_af] = ErrorKind.TS_AF_LENGTH
    payload_offset = np.where(has_af, 5 + b4, 4)
    payload_offset = np.where((afc & 1) != 0, payload_offset, TS_PACKET_SIZE)
    return TsHeaders(
        error=err,
        pid=((b1 & 0x1F) << 8) | b2,
        pusi=(b1 & 0x40) != 0,
        afc=afc,
        cc=b3 & 0x0F,
        discontinuity=disc,
        has_pcr=pcr_flag & (err == 0),
        payload_offset=payload_offset,
    )


def gather_pcr(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """PCR values (int64, 27 MHz) of the packets at ``starts`` (all must carry a PCR)."""
    b = [data[starts + 6 + k].astype(np.int64) for k in range(6)]
    base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
    return base * 300 + (((b[4] & 1) << 8) | b[5])
