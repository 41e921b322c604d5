"""Packet builders for the core tests (struct only, no parsers under test)."""

from __future__ import annotations

import struct

from iec62379.collectors.core.psi import crc32_mpeg


def ts_packet(
    pid: int,
    cc: int = 0,
    payload: bytes = b"",
    *,
    pusi: bool = False,
    has_payload: bool = True,
    pcr: int | None = None,
    discontinuity: bool = False,
    tei: bool = False,
    af_bytes: int | None = None,
) -> bytes:
    """One 188-byte TS packet; the payload is padded with 0xFF (stuffing in the adaptation
    field when an adaptation field is present, else after the payload)."""
    b1 = (0x80 if tei else 0) | (0x40 if pusi else 0) | ((pid >> 8) & 0x1F)
    af = b""
    need_af = pcr is not None or discontinuity or af_bytes is not None or not has_payload
    if need_af:
        flags = (0x80 if discontinuity else 0) | (0x10 if pcr is not None else 0)
        body = bytes([flags])
        if pcr is not None:
            base, ext = divmod(pcr, 300)
            body += struct.pack(">IH", base >> 1, ((base & 1) << 15) | 0x7E00 | ext)
        if not has_payload:
            body += b"\xff" * (183 - len(body))
        elif af_bytes is not None:
            body += b"\xff" * (af_bytes - len(body))
        af = bytes([len(body)]) + body
    afc = (2 if need_af else 0) | (1 if has_payload else 0)
    hdr = bytes([0x47, b1, pid & 0xFF, (afc << 4) | (cc & 0x0F)])
    room = 188 - 4 - len(af)
    if has_payload:
        body = payload[:room]
        body += b"\xff" * (room - len(body))
    else:
        body = b""
    pkt = hdr + af + body
    assert len(pkt) == 188, len(pkt)
    return pkt


def rtp(
    seq: int,
    ts: int,
    payload: bytes,
    *,
    ssrc: int = 0x11223344,
    pt: int = 33,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    ext: bytes | None = None,
    ext_profile: int = 0xBEDE,
    padding: int = 0,
    version: int = 2,
) -> bytes:
    b0 = (version << 6) | (0x20 if padding else 0) | (0x10 if ext is not None else 0) | len(csrcs)
    out = struct.pack(
        ">BBHII", b0, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc
    )
    out += b"".join(struct.pack(">I", c) for c in csrcs)
    if ext is not None:
        assert len(ext) % 4 == 0
        out += struct.pack(">HH", ext_profile, len(ext) // 4) + ext
    out += payload
    if padding:
        out += b"\x00" * (padding - 1) + bytes([padding])
    return out


def long_section(table_id: int, ext_id: int, body: bytes, version: int = 0) -> bytes:
    """A long-form section with section_syntax_indicator 1 and a correct CRC_32."""
    length = 5 + len(body) + 4
    head = struct.pack(">BHHBBB", table_id, 0xB000 | length, ext_id, 0xC1 | (version << 1), 0, 0)
    sec = head + body
    return sec + struct.pack(">I", crc32_mpeg(sec))


def pat_section(programs: dict[int, int], tsid: int = 1, version: int = 0) -> bytes:
    body = b"".join(struct.pack(">HH", n, 0xE000 | pid) for n, pid in programs.items())
    return long_section(0x00, tsid, body, version)


def descriptor(tag: int, data: bytes) -> bytes:
    return bytes([tag, len(data)]) + data


def pmt_section(
    program: int,
    pcr_pid: int,
    streams: list[tuple[int, int, bytes]],
    program_descriptors: bytes = b"",
    version: int = 0,
) -> bytes:
    body = struct.pack(">HH", 0xE000 | pcr_pid, 0xF000 | len(program_descriptors))
    body += program_descriptors
    for stype, pid, desc in streams:
        body += struct.pack(">BHH", stype, 0xE000 | pid, 0xF000 | len(desc)) + desc
    return long_section(0x02, program, body, version)


def section_packets(pid: int, section: bytes, cc: int = 0) -> list[bytes]:
    """Carry one section in TS packets (pointer_field 0), continuing over several if long."""
    data = b"\x00" + section
    out = []
    first = True
    while data:
        out.append(ts_packet(pid, cc, data[:184], pusi=first))
        data = data[184:]
        first = False
        cc = (cc + 1) & 0x0F
    return out


def fec_packet(
    seq: int,
    *,
    row: bool,
    l_cols: int,
    d_rows: int,
    sn_base: int = 0,
    e_bit: bool = True,
    fec_type: int = 0,
    payload_len: int = 1316,
) -> bytes:
    offset, na = (1, l_cols) if row else (l_cols, d_rows)
    hdr = struct.pack(
        ">HHBBHIBBBB",
        sn_base & 0xFFFF,
        payload_len,
        (0x80 if e_bit else 0) | 33,
        0,
        0,
        0,
        (0x40 if row else 0) | (fec_type << 3),
        offset,
        na,
        (sn_base >> 16) & 0xFF,
    )
    return rtp(seq, 0, hdr + b"\x00" * payload_len, pt=96)


class TsMux:
    """Keeps continuity counters per PID while building packets."""

    def __init__(self) -> None:
        self.cc: dict[int, int] = {}

    def packet(self, pid: int, payload: bytes = b"", **kw: object) -> bytes:
        c = self.cc.get(pid, -1)
        if kw.get("has_payload", True):
            c = (c + 1) & 0x0F
        else:
            c = max(c, 0)
        self.cc[pid] = c
        return ts_packet(pid, c, payload, **kw)  # type: ignore[arg-type]
