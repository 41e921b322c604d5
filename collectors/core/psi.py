"""Program-specific information: PAT and PMT (ISO/IEC 13818-1 2.4.4), and codec mapping.

Sections are reassembled across TS packets (pointer_field, 2.4.4.2), checked with the
CRC_32 of Annex A (polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no reflection: the CRC
over a whole section including its CRC_32 field is 0), and parsed into dataclasses. The
elementary streams of a PMT are mapped to the names of formats.py from stream_type
(Table 2-34) and descriptors: DVB AC-3 0x6A / E-AC-3 0x7A / DTS 0x7B (ETSI EN 300 468
Annex D/G), registration descriptor 0x05 (2.6.8) "BSSD" (SMPTE 302M), "Opus", "AC-3",
"EAC3", "DTS1".."DTS3", "VC-1", "HEVC".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .formats import AudioFormat, VideoCoding

PAT_PID = 0x0000
TABLE_ID_PAT = 0x00
TABLE_ID_PMT = 0x02
MAX_SECTION_LENGTH = 1021  # section_length of PAT/PMT shall not exceed 0x3FD (2.4.4.3)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
        table.append(c & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc32_mpeg(data: bytes | memoryview) -> int:
    """CRC_32 of ISO/IEC 13818-1 Annex A (CRC-32/MPEG-2)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True, slots=True)
class Descriptor:
    tag: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PatSection:
    transport_stream_id: int
    version: int
    current_next: bool
    programs: dict[int, int]  # program_number -> program_map_PID (0 = network PID)


@dataclass(frozen=True, slots=True)
class PmtStream:
    stream_type: int
    pid: int
    descriptors: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True)
class PmtSection:
    program_number: int
    version: int
    current_next: bool
    pcr_pid: int
    descriptors: tuple[Descriptor, ...]
    streams: tuple[PmtStream, ...]


def _check_long_section(section: bytes, table_id: int, name: str) -> int:
    """Common checks of a long-form section; returns its total length (3 + section_length)."""
    if len(section) < 12:
        raise ValueError(f"{name} section too short: {len(section)} bytes, need at least 12")
    if section[0] != table_id:
        raise ValueError(f"{name} table_id is 0x{section[0]:02x}, expected 0x{table_id:02x}")
    if not section[1] & 0x80:
        raise ValueError(f"{name} section_syntax_indicator is 0")
    length = ((section[1] & 0x0F) << 8) | section[2]
    if length > MAX_SECTION_LENGTH:
        raise ValueError(f"{name} section_length {length} exceeds {MAX_SECTION_LENGTH}")
    total = 3 + length
    if len(section) < total:
        raise ValueError(f"{name} section truncated: {len(section)} bytes, section needs {total}")
    if total < 12:
        raise ValueError(f"{name} section_length {length} too small")
    crc = crc32_mpeg(section[:total])
    if crc != 0:
        stored = int.from_bytes(section[total - 4 : total], "big")
        raise ValueError(f"{name} CRC_32 mismatch: stored 0x{stored:08x}")
    return total


class CrcError(ValueError):
    """A section whose CRC_32 does not check (counted apart from other section errors)."""


def check_section(section: bytes, table_id: int, name: str) -> int:
    """Validate a long-form section; CrcError on a bad CRC, ValueError on other faults."""
    try:
        return _check_long_section(section, table_id, name)
    except ValueError as exc:
        if "CRC_32 mismatch" in str(exc):
            raise CrcError(str(exc)) from None
        raise


def parse_descriptors(data: bytes) -> tuple[Descriptor, ...]:
    out = []
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError(f"descriptor header truncated at byte {i} of {len(data)}")
        tag, length = data[i], data[i + 1]
        if i + 2 + length > len(data):
            raise ValueError(
                f"descriptor 0x{tag:02x} of {length} bytes runs past the loop end ({len(data)})"
            )
        out.append(Descriptor(tag, bytes(data[i + 2 : i + 2 + length])))
        i += 2 + length
    return tuple(out)


def parse_pat(section: bytes) -> PatSection:
    """Parse a program_association_section (2.4.4.3, Table 2-30); ValueError when malformed."""
    total = check_section(section, TABLE_ID_PAT, "PAT")
    loop = section[8 : total - 4]
    if len(loop) % 4:
        raise ValueError(f"PAT program loop of {len(loop)} bytes is not a multiple of 4")
    programs = {}
    for i in range(0, len(loop), 4):
        number = int.from_bytes(loop[i : i + 2], "big")
        programs[number] = ((loop[i + 2] & 0x1F) << 8) | loop[i + 3]
    return PatSection(
        transport_stream_id=int.from_bytes(section[3:5], "big"),
        version=(section[5] >> 1) & 0x1F,
        current_next=bool(section[5] & 1),
        programs=programs,
    )


def parse_pmt(section: bytes) -> PmtSection:
    """Parse a TS_program_map_section (2.4.4.8, Table 2-33); ValueError when malformed."""
    total = check_section(section, TABLE_ID_PMT, "PMT")
    end = total - 4
    pcr_pid = ((section[8] & 0x1F) << 8) | section[9]
    info_len = ((section[10] & 0x0F) << 8) | section[11]
    pos = 12 + info_len
    if pos > end:
        raise ValueError(f"PMT program_info_length {info_len} runs past the section end")
    descriptors = parse_descriptors(section[12:pos])
    streams = []
    while pos < end:
        if pos + 5 > end:
            raise ValueError(f"PMT stream entry truncated at byte {pos} of {end}")
        stype = section[pos]
        pid = ((section[pos + 1] & 0x1F) << 8) | section[pos + 2]
        es_len = ((section[pos + 3] & 0x0F) << 8) | section[pos + 4]
        if pos + 5 + es_len > end:
            raise ValueError(f"PMT ES_info_length {es_len} of PID {pid} runs past the section end")
        streams.append(
            PmtStream(stype, pid, parse_descriptors(section[pos + 5 : pos + 5 + es_len]))
        )
        pos += 5 + es_len
    return PmtSection(
        program_number=int.from_bytes(section[3:5], "big"),
        version=(section[5] >> 1) & 0x1F,
        current_next=bool(section[5] & 1),
        pcr_pid=pcr_pid,
        descriptors=descriptors,
        streams=tuple(streams),
    )


_VIDEO_TYPES = {
    0x01: VideoCoding.MPEG1,
    0x02: VideoCoding.MPEG2,
    0x10: VideoCoding.MPEG4_PART2,
    0x1B: VideoCoding.H264,
    0x24: VideoCoding.HEVC,
    0x21: VideoCoding.JPEG2000,
    0x32: VideoCoding.JPEG_XS,
    0xEA: VideoCoding.VC1,
}
_AUDIO_TYPES = {
    0x03: AudioFormat.MPEG1,
    0x04: AudioFormat.MPEG2,
    0x0F: AudioFormat.AAC_ADTS,
    0x11: AudioFormat.AAC_LATM,
    0x81: AudioFormat.AC3,
    0x87: AudioFormat.EAC3,
    0x82: AudioFormat.DTS,
    0x85: AudioFormat.DTS,
    0x86: AudioFormat.DTS,
}
_AUDIO_DESCRIPTORS = {0x6A: AudioFormat.AC3, 0x7A: AudioFormat.EAC3, 0x7B: AudioFormat.DTS}
_AUDIO_REGISTRATIONS = {
    b"BSSD": AudioFormat.SMPTE302M,
    b"Opus": AudioFormat.OPUS,
    b"AC-3": AudioFormat.AC3,
    b"EAC3": AudioFormat.EAC3,
    b"DTS1": AudioFormat.DTS,
    b"DTS2": AudioFormat.DTS,
    b"DTS3": AudioFormat.DTS,
}
_VIDEO_REGISTRATIONS = {b"VC-1": VideoCoding.VC1, b"HEVC": VideoCoding.HEVC}
REGISTRATION_TAG = 0x05


@dataclass(frozen=True, slots=True)
class ElementaryStream:
    """One PMT entry, classified: kind is "video", "audio" or "other"."""

    pid: int
    stream_type: int
    kind: str
    video_coding: VideoCoding | None = None
    audio_format: AudioFormat | None = None


def _registration(descriptors: tuple[Descriptor, ...]) -> bytes | None:
    for d in descriptors:
        if d.tag == REGISTRATION_TAG and len(d.data) >= 4:
            return d.data[:4]
    return None


def classify_stream(
    stream_type: int,
    descriptors: tuple[Descriptor, ...],
    program_descriptors: tuple[Descriptor, ...] = (),
) -> tuple[str, VideoCoding | None, AudioFormat | None]:
    """Map stream_type + descriptors to ("video", coding, None), ("audio", None, format) or
    ("other", None, None). Descriptors of the ES win over the program's registration."""
    if stream_type in _VIDEO_TYPES:
        return "video", _VIDEO_TYPES[stream_type], None
    if stream_type in _AUDIO_TYPES:
        return "audio", None, _AUDIO_TYPES[stream_type]
    reg = _registration(descriptors) or _registration(program_descriptors)
    if stream_type in (0x06, 0x80, 0x83, 0x84, 0x87, 0x88, 0xC1, 0xC2):
        for d in descriptors:
            if d.tag in _AUDIO_DESCRIPTORS:
                return "audio", None, _AUDIO_DESCRIPTORS[d.tag]
    if reg is not None:
        if reg in _AUDIO_REGISTRATIONS:
            return "audio", None, _AUDIO_REGISTRATIONS[reg]
        if reg in _VIDEO_REGISTRATIONS:
            return "video", _VIDEO_REGISTRATIONS[reg], None
    if stream_type == 0x80 and reg == b"HDMV":
        return "audio", None, AudioFormat.LPCM
    return "other", None, None


@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """What the PAT and PMT say of the analysed program."""

    program_number: int
    pmt_pid: int
    pcr_pid: int
    version: int
    streams: tuple[ElementaryStream, ...]

    @property
    def video(self) -> ElementaryStream | None:
        """The first video stream of the PMT (the one the video block describes)."""
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> tuple[ElementaryStream, ...]:
        """Audio streams in PMT order: component number = position + 1."""
        return tuple(s for s in self.streams if s.kind == "audio")


def program_info_from_pmt(pmt: PmtSection, pmt_pid: int) -> ProgramInfo:
    streams = []
    for s in pmt.streams:
        kind, coding, audio = classify_stream(s.stream_type, s.descriptors, pmt.descriptors)
        streams.append(ElementaryStream(s.pid, s.stream_type, kind, coding, audio))
    return ProgramInfo(pmt.program_number, pmt_pid, pmt.pcr_pid, pmt.version, tuple(streams))


@dataclass(slots=True)
class SectionAssembler:
    """Reassembles the sections carried on one PID (2.4.4.2 pointer_field).

    feed() returns the complete sections and the number of malformed packets seen. A repeated
    packet (same continuity_counter) is ignored; a gap drops the section being collected.
    """

    buffer: bytearray = field(default_factory=bytearray)
    collecting: bool = False
    last_cc: int = -1

    def feed(self, payload: bytes, pusi: bool, cc: int) -> tuple[list[bytes], int]:
        errors = 0
        if self.last_cc >= 0 and cc == self.last_cc:
            return [], 0
        if self.last_cc >= 0 and cc != ((self.last_cc + 1) & 0x0F):
            self.buffer.clear()
            self.collecting = False
        self.last_cc = cc
        sections: list[bytes] = []
        if pusi:
            if not payload:
                self.collecting = False
                self.buffer.clear()
                return [], 1
            pointer = payload[0]
            if 1 + pointer > len(payload):
                self.buffer.clear()
                self.collecting = False
                return [], 1
            if self.collecting:
                self.buffer += payload[1 : 1 + pointer]
                errors += self._drain(sections)
            self.buffer = bytearray(payload[1 + pointer :])
            self.collecting = True
        elif self.collecting:
            self.buffer += payload
        else:
            return [], 0
        errors += self._drain(sections)
        return sections, errors

    def _drain(self, out: list[bytes]) -> int:
        """Move complete sections from the buffer to out; returns malformed-section count."""
        buf = self.buffer
        while len(buf) >= 3:
            if buf[0] == 0xFF:  # stuffing: the rest of the packet carries no section
                buf.clear()
                self.collecting = False
                return 0
            length = ((buf[1] & 0x0F) << 8) | buf[2]
            if length > MAX_SECTION_LENGTH + 3:  # private sections may reach 4093
                buf.clear()
                self.collecting = False
                return 1
            total = 3 + length
            if len(buf) < total:
                return 0
            out.append(bytes(buf[:total]))
            del buf[:total]
        return 0
