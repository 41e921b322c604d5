"""The PSI/SI side of the TR 101 290 checks: sections on the PIDs the checks read.

ETSI TR 101 290 V1.4.1 5.2.1 / 5.2.2: PAT_error_2 (1.3.a) and PMT_error_2 (1.5.a) need the
times at which sections with table_id 0x00 on PID 0x0000 and 0x02 on each program_map_PID
occur, other table_ids on PID 0x0000 and scrambled packets on those PIDs; CRC_error (2.2) the
CRC_32 of the PAT, CAT, PMT, NIT, SDT, BAT, EIT and TOT sections; CAT_error (2.6) the
table_ids on PID 0x0001. The PAT gives the program_map_PIDs, the PMTs the PIDs they refer to
(PID_error 1.6, PTS_error 2.5) and the PCR PIDs.

One packet at a time (these PIDs carry a few packets a second); sections seen before are not
checked or parsed again (their verdict is remembered, a bounded cache). Malformed input is
counted, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .psi import CrcError, crc32_mpeg, parse_pat, parse_pmt

PAT_PID = 0x0000
CAT_PID = 0x0001
# NIT, SDT/BAT, EIT, RST, TDT/TOT
SI_PIDS = (0x0010, 0x0011, 0x0012, 0x0013, 0x0014)
MAX_SECTION = 4096  # 3 + section_length (12 bits, at most 4093 for private sections)

# table_ids whose CRC_32 TR 101 290 2.2 checks: PAT, CAT, PMT, NIT, SDT, BAT, EIT, TOT
_CRC_TABLES = frozenset([0x00, 0x01, 0x02, 0x40, 0x41, 0x42, 0x46, 0x4A, 0x73, *range(0x4E, 0x70)])
_CACHE_MAX = 256
# stream_types whose PIDs carry PES packets with PTS (video, audio, subtitles in PES)
_SECTION_TYPES = frozenset([0x05, 0x0A, 0x0B, 0x0C, 0x0D, 0x14])


@dataclass(slots=True)
class _Assembler:
    """Sections of one PID (ISO/IEC 13818-1 2.4.4.2 pointer_field); a continuity gap drops
    the section being collected, a repeated packet is ignored."""

    buffer: bytearray = field(default_factory=bytearray)
    collecting: bool = False
    last_cc: int = -1

    def feed(self, payload: bytes, pusi: bool, cc: int) -> list[bytes]:
        if self.last_cc >= 0:
            if cc == self.last_cc:
                return []
            if cc != (self.last_cc + 1) & 0x0F:
                self.buffer.clear()
                self.collecting = False
        self.last_cc = cc
        out: list[bytes] = []
        if pusi:
            if not payload or 1 + payload[0] > len(payload):
                self.buffer.clear()
                self.collecting = False
                return out
            pointer = payload[0]
            if self.collecting:
                self.buffer += payload[1 : 1 + pointer]
                self._drain(out)
            self.buffer = bytearray(payload[1 + pointer :])
            self.collecting = True
        elif self.collecting:
            self.buffer += payload
        else:
            return out
        self._drain(out)
        return out

    def _drain(self, out: list[bytes]) -> None:
        buf = self.buffer
        while len(buf) >= 3:
            if buf[0] == 0xFF:  # stuffing: no more sections in this packet
                buf.clear()
                self.collecting = False
                return
            total = 3 + (((buf[1] & 0x0F) << 8) | buf[2])
            if total > MAX_SECTION:
                buf.clear()
                self.collecting = False
                return
            if len(buf) < total:
                return
            out.append(bytes(buf[:total]))
            del buf[:total]


@dataclass(slots=True)
class PsiEvents:
    """What one PSI packet showed (times are the packet's arrival)."""

    pat: bool = False  # a section with table_id 0x00 on PID 0
    pat_wrong_table: bool = False  # another table_id on PID 0
    pmt: bool = False  # a section with table_id 0x02 on a program_map_PID
    cat: bool = False  # a section with table_id 0x01 on PID 1
    cat_wrong_table: bool = False  # another table_id on PID 1
    crc_errors: int = 0
    tables_changed: bool = False  # the program_map_PIDs or the referred PIDs changed
    # the packet held one whole section and nothing was pending before or after: the same
    # packet again (next continuity counter) would show the same
    repeatable: bool = False


class PsiWatch:
    """Sections on PID 0, 1, the program_map_PIDs and the DVB SI PIDs."""

    def __init__(self) -> None:
        self._asm: dict[int, _Assembler] = {}
        self._crc_ok: dict[bytes, bool] = {}
        self.pmt_pids: dict[int, int] = {}  # program_map_PID -> program_number
        # program_map_PID -> (PES PIDs with PTS, all referred PIDs, PCR PID or None)
        self.programs: dict[int, tuple[frozenset[int], frozenset[int], int | None]] = {}
        self._last_pat: bytes | None = None
        self._last_pmt: dict[int, bytes] = {}

    def watched(self) -> list[int]:
        """The PIDs whose packets ``feed`` wants."""
        return [PAT_PID, CAT_PID, *SI_PIDS, *self.pmt_pids]

    def referred(self) -> set[int]:
        out: set[int] = set()
        for _, refs, _pcr in self.programs.values():
            out |= refs
        return out

    def pes_pids(self) -> set[int]:
        out: set[int] = set()
        for pes, _, _pcr in self.programs.values():
            out |= pes
        return out

    def pcr_pids(self) -> set[int]:
        return {p for _, _, p in self.programs.values() if p is not None}

    def feed(self, pid: int, payload: bytes, pusi: bool, cc: int) -> PsiEvents:
        ev = PsiEvents()
        asm = self._asm.get(pid)
        if asm is None:
            asm = self._asm[pid] = _Assembler()
        idle = not asm.collecting and not asm.buffer
        sections = asm.feed(payload, pusi, cc)
        for section in sections:
            self._section(pid, section, ev)
        ev.repeatable = (
            idle
            and len(sections) == 1
            and not asm.collecting
            and not asm.buffer
            and asm.last_cc == cc
            and not ev.tables_changed
        )
        return ev

    def last_cc(self, pid: int) -> int:
        asm = self._asm.get(pid)
        return -1 if asm is None else asm.last_cc

    def set_last_cc(self, pid: int, cc: int) -> None:
        """A copy of the last packet fed on pid was taken without feeding it."""
        self._asm[pid].last_cc = cc

    def _crc(self, section: bytes) -> bool:
        ok = self._crc_ok.get(section)
        if ok is None:
            ok = crc32_mpeg(section) == 0
            if len(self._crc_ok) >= _CACHE_MAX:
                self._crc_ok.clear()
            self._crc_ok[section] = ok
        return ok

    def _section(self, pid: int, section: bytes, ev: PsiEvents) -> None:
        table_id = section[0]
        syntax = len(section) >= 3 and section[1] & 0x80
        crc_ok = True
        if table_id in _CRC_TABLES and syntax and len(section) >= 12:
            crc_ok = self._crc(section)
            if not crc_ok:
                ev.crc_errors += 1
        if pid == PAT_PID:
            if table_id != 0x00:
                ev.pat_wrong_table = True
                return
            ev.pat = True
            if crc_ok and section != self._last_pat:
                self._on_pat(section, ev)
        elif pid == CAT_PID:
            if table_id == 0x01:
                ev.cat = True
            else:
                ev.cat_wrong_table = True
        elif pid in self.pmt_pids and table_id == 0x02:
            ev.pmt = True
            if crc_ok and section != self._last_pmt.get(pid):
                self._on_pmt(pid, section, ev)

    def _on_pat(self, section: bytes, ev: PsiEvents) -> None:
        try:
            pat = parse_pat(section)
        except (CrcError, ValueError):
            return
        if not pat.current_next:
            return
        self._last_pat = section
        pmts = {p: n for n, p in pat.programs.items() if n != 0}
        if pmts != self.pmt_pids:
            self.pmt_pids = pmts
            for gone in [p for p in self.programs if p not in pmts]:
                del self.programs[gone]
                self._last_pmt.pop(gone, None)
            ev.tables_changed = True

    def _on_pmt(self, pid: int, section: bytes, ev: PsiEvents) -> None:
        try:
            pmt = parse_pmt(section)
        except (CrcError, ValueError):
            return
        if not pmt.current_next or pmt.program_number != self.pmt_pids.get(pid):
            return
        self._last_pmt[pid] = section
        pes = frozenset(s.pid for s in pmt.streams if s.stream_type not in _SECTION_TYPES)
        refs = frozenset(s.pid for s in pmt.streams)
        pcr = pmt.pcr_pid if pmt.pcr_pid != 0x1FFF else None
        entry = (pes, refs, pcr)
        if self.programs.get(pid) != entry:
            self.programs[pid] = entry
            ev.tables_changed = True
