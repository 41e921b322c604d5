"""MPEG-2 transport stream packets (ISO/IEC 13818-1 2.4.3.2 and 2.4.3.4).

``parse_ts_headers`` is the header rule: the fields of many packets at once (numpy gathers over
the packet starts), malformed packets reported by :class:`ErrorKind` code; the compiled
``ts_headers`` kernel (through fast.py) follows it. ``parse_ts_packet`` parses one 188-byte
packet with it and raises ``ValueError`` on malformed input; ``split_ts`` checks that a
datagram payload is a whole number of packets; ``gather_pcr`` reads the PCRs.
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
    """Parse one 188-byte TS packet; ValueError on a wrong length, sync byte or field value.

    The header rule is :func:`parse_ts_headers`' (on this one packet, with the
    transport_error_indicator cleared: for one packet it is a field, not a fault); its error
    code becomes the message.
    """
    if len(pkt) != TS_PACKET_SIZE:
        raise ValueError(f"TS packet is {len(pkt)} bytes, expected {TS_PACKET_SIZE}")
    head = bytearray(pkt[:HEAD_BYTES])
    b1, b3, b4 = head[1], head[3], head[4]
    head[1] = b1 & 0x7F
    data = np.frombuffer(bytes(head), dtype=np.uint8)
    at = np.zeros(1, dtype=np.int64)
    h = parse_ts_headers(data, at)
    err = int(h.error[0])
    afc = int(h.afc[0])
    if err == ErrorKind.TS_SYNC:
        raise ValueError(f"TS sync byte is 0x{head[0]:02x}, expected 0x47")
    if err == ErrorKind.TS_AFC:
        raise ValueError("TS adaptation_field_control is '00' (reserved)")
    if err == ErrorKind.TS_AF_LENGTH:
        limit = 183 if afc == 2 else 182
        if b4 > limit:
            raise ValueError(
                f"TS adaptation_field_length {b4} exceeds {limit} "
                f"for adaptation_field_control {afc:02b}"
            )
        raise ValueError(f"TS PCR_flag set but adaptation_field_length is {b4}, need 7")
    has_af = bool(afc & 2)
    return TsPacket(
        transport_error=bool(b1 & 0x80),
        payload_unit_start=bool(h.pusi[0]),
        transport_priority=bool(b1 & 0x20),
        pid=int(h.pid[0]),
        scrambling=b3 >> 6,
        adaptation_field_control=afc,
        continuity_counter=int(h.cc[0]),
        adaptation_field_length=b4 if has_af else -1,
        discontinuity=bool(h.discontinuity[0]),
        random_access=has_af and b4 > 0 and bool(head[5] & 0x40),
        pcr=int(gather_pcr(data, at)[0]) if h.has_pcr[0] else None,
        payload_offset=int(h.payload_offset[0]),
    )


@dataclass(slots=True)
class TsHeaders:
    """Fields of many TS packets; ``error`` holds an ErrorKind code per packet (0 = valid).

    For packets with an error the other fields are undefined, except ``pid`` of TEI packets.
    """

    error: np.ndarray  # uint8
    pid: np.ndarray  # uint16
    pusi: np.ndarray  # bool
    afc: np.ndarray  # uint8
    cc: np.ndarray  # uint8
    discontinuity: np.ndarray  # bool
    has_pcr: np.ndarray  # bool
    payload_offset: np.ndarray  # int16, relative to the packet start


_HEAD6 = np.dtype("V6")

# Bytes of each TS packet a source copies for the analyzer (``PacketBatch.ts_heads``): the
# header (4), adaptation_field_length and flags (2) and the PCR (6).
HEAD_BYTES = 12


def _heads(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bytes 0..5 of the packets at ``starts`` as an (n, 6) uint8 array, in one gather."""
    count = data.shape[0] - 5
    if data.dtype == np.uint8 and data.flags.c_contiguous and count > 0:
        view = np.ndarray((count,), dtype=_HEAD6, buffer=data, offset=0, strides=(1,))
        return view[starts].view(np.uint8).reshape(-1, 6)
    return data[starts[:, None] + np.arange(6)]


def parse_ts_headers(data: np.ndarray, starts: np.ndarray) -> TsHeaders:
    """The headers of the packets at data[starts[i] : starts[i] + 188] (ISO/IEC 13818-1
    2.4.3.2, 2.4.3.4): a wrong sync byte, the transport_error_indicator, adaptation_field_control
    00, an adaptation_field_length too large for the packet or too small for a PCR are faults;
    the first that applies is the packet's error.

    Only bytes 0..5 at each start are read, so data may also be a copy of the headers alone
    (``PacketBatch.ts_heads``, starts 6 apart); the caller checked that whole packets follow.
    The header bytes are gathered once (6 bytes a packet) and worked on in narrow types:
    pid is uint16, afc and cc uint8, payload_offset int16.
    """
    n = starts.shape[0]
    hb = _heads(data, starts)
    b1 = hb[:, 1]
    b3 = hb[:, 3]
    afc = (b3 >> 4) & 3
    has_af = afc >= 2
    payload_offset = np.where((afc & 1) != 0, np.int16(4), np.int16(TS_PACKET_SIZE))
    disc = np.zeros(n, dtype=bool)
    pcr_flag = np.zeros(n, dtype=bool)
    bad_af = np.zeros(n, dtype=bool)
    af = np.flatnonzero(has_af)
    if af.size:  # the adaptation field, on the packets that have one
        b4 = hb[af, 4]
        b5 = hb[af, 5]
        present = b4 > 0
        disc[af] = present & ((b5 & 0x80) != 0)
        pf = present & ((b5 & 0x10) != 0)
        pcr_flag[af] = pf
        limit = np.where(afc[af] == 2, np.uint8(183), np.uint8(182))
        bad_af[af] = (b4 > limit) | (pf & (b4 < 7))
        with_payload = af[(afc[af] & 1) != 0]
        payload_offset[with_payload] = hb[with_payload, 4].astype(np.int16) + 5
    sync_bad = hb[:, 0] != TS_SYNC_BYTE
    tei = b1 >= 0x80
    afc_bad = afc == 0
    suspect = np.flatnonzero(sync_bad | tei | afc_bad | bad_af)
    err = np.zeros(n, dtype=np.uint8)
    if suspect.size:
        # Kinds in order of precedence: the first that applies is the packet's.
        err[suspect] = np.select(
            [sync_bad[suspect], tei[suspect], afc_bad[suspect], bad_af[suspect]],
            [ErrorKind.TS_SYNC, ErrorKind.TS_TEI, ErrorKind.TS_AFC, ErrorKind.TS_AF_LENGTH],
            0,
        ).astype(np.uint8)
        pcr_flag[suspect] &= err[suspect] == 0
    pid = ((b1 & 0x1F).astype(np.uint16) << 8) | hb[:, 2]
    return TsHeaders(
        error=err,
        pid=pid,
        pusi=(b1 & 0x40) != 0,
        afc=afc,
        cc=b3 & 0x0F,
        discontinuity=disc,
        has_pcr=pcr_flag,
        payload_offset=payload_offset,
    )


def gather_pcr(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """PCR values (int64, 27 MHz) of the packets at ``starts`` (all must carry a PCR)."""
    b = [data[starts + 6 + k].astype(np.int64) for k in range(6)]
    base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
    return base * 300 + (((b[4] & 1) << 8) | b[5])
