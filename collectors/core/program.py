"""Follows the PAT and the PMTs of a transport stream: every program of the PAT (in PAT
order) and the selected one (``program_number``: the configured one, else the first).

Per-packet Python path (PSI packets are a few per second). Sections identical to the last one
seen on their PID are not checked again (their CRC verdict is remembered), which keeps the
cost of repeated tables low; each bad copy is still counted.
"""

from __future__ import annotations

from .errors import ErrorKind
from .psi import (
    PAT_PID,
    CrcError,
    ProgramInfo,
    SectionAssembler,
    parse_pat,
    parse_pmt,
    program_info_from_pmt,
)


class ProgramTracker:
    """``program_number``, ``pmt_pid`` and ``program`` are the selected program's (the wanted
    one when the PAT lists it, else the PAT's first); ``programs`` every program of the last
    PAT whose PMT has been seen, in PAT order. A PAT that lists no program (or not the wanted
    one) changes nothing; a program the PAT no longer lists is forgotten. Several programs may
    share a PMT PID (2.4.4.8: one section per program_number)."""

    def __init__(self, program_number: int | None = None) -> None:
        self.wanted = program_number
        self.program_number: int | None = None
        self.pmt_pid: int | None = None
        self.program: ProgramInfo | None = None
        self._pmt_pids: dict[int, int] = {}  # program_number -> PMT PID, PAT order
        self._infos: dict[int, ProgramInfo] = {}  # program_number -> its last PMT
        self._psi_pids: tuple[int, ...] = (PAT_PID,)
        self.programs: tuple[ProgramInfo, ...] = ()
        self._asm: dict[int, SectionAssembler] = {}
        self._last: dict[int, tuple[bytes, ErrorKind]] = {}
        self.repeatable = False  # of the last feed(); see feed()

    @property
    def psi_pids(self) -> tuple[int, ...]:
        """The PAT PID and the PMT PIDs of the PAT's programs (each once, PAT order)."""
        return self._psi_pids

    def feed(self, pid: int, payload: bytes, pusi: bool, cc: int, errors: list[int]) -> bool:
        """One TS packet payload of a PSI PID; adds error counts; True if the program changed.

        Afterwards ``repeatable`` says whether feeding the very same packet again (with the
        next continuity counter) could only add the same error counts again: the assembler
        was idle (no partial section) before and after, the packet held exactly one section,
        and nothing changed. The analyzer then skips identical copies (see
        :meth:`skip_repeat`) instead of reassembling and comparing each one.
        """
        asm = self._asm.setdefault(pid, SectionAssembler())
        idle_before = not asm.collecting and not asm.buffer
        sections, bad = asm.feed(payload, pusi, cc)
        errors[ErrorKind.PSI_SECTION] += bad
        changed = self._sections(pid, sections, errors)
        self.repeatable = (
            idle_before
            and not asm.collecting
            and not asm.buffer
            and len(sections) == 1
            and not changed
            and asm.last_cc == cc
        )
        return changed

    def skip_repeat(self, pid: int, cc: int) -> None:
        """Account an identical copy of the last packet fed on ``pid`` (after a repeatable
        feed) without reassembling it: only its continuity counter is kept. The caller adds
        the error counts the repeatable feed added, unless the counter repeats (a duplicate
        packet, which the assembler ignores)."""
        self._asm[pid].last_cc = cc

    def last_cc(self, pid: int) -> int:
        """The continuity counter of the last packet fed on pid (-1 before any)."""
        asm = self._asm.get(pid)
        return -1 if asm is None else asm.last_cc

    def _sections(self, pid: int, sections: list[bytes], errors: list[int]) -> bool:
        changed = False
        for section in sections:
            if section[0] == 0xFF:
                continue
            last = self._last.get(pid)
            if last is not None and last[0] == section:
                if last[1] != ErrorKind.NONE:
                    errors[last[1]] += 1
                continue
            verdict = ErrorKind.NONE
            try:
                if pid == PAT_PID and section[0] == 0x00:
                    changed |= self._on_pat(section)
                elif section[0] == 0x02 and pid in self._psi_pids:
                    changed |= self._on_pmt(pid, section)
            except CrcError:
                verdict = ErrorKind.PSI_CRC
            except ValueError:
                verdict = ErrorKind.PSI_SECTION
            if verdict != ErrorKind.NONE:
                errors[verdict] += 1
            self._last[pid] = (section, verdict)
        return changed

    def _on_pat(self, section: bytes) -> bool:
        pat = parse_pat(section)
        if not pat.current_next:
            return False
        programs = {n: p for n, p in pat.programs.items() if n != 0}
        if not programs or (self.wanted is not None and self.wanted not in programs):
            return False
        if programs == self._pmt_pids:
            return False
        number = self.wanted if self.wanted is not None else next(iter(programs))
        for n, p in programs.items():
            if self._pmt_pids.get(n) != p:
                self._infos.pop(n, None)
                self._last.pop(p, None)  # its PMT is parsed again
        self._infos = {n: i for n, i in self._infos.items() if n in programs}
        self._pmt_pids = programs
        self._psi_pids = (PAT_PID, *dict.fromkeys(programs.values()))
        self.program_number = number
        self.pmt_pid = programs[number]
        self._derive()
        return True

    def _on_pmt(self, pid: int, section: bytes) -> bool:
        pmt = parse_pmt(section)
        number = pmt.program_number
        if not pmt.current_next or self._pmt_pids.get(number) != pid:
            return False
        info = program_info_from_pmt(pmt, pid)
        if info == self._infos.get(number):
            return False
        self._infos[number] = info
        self._derive()
        return True

    def _derive(self) -> None:
        """``programs`` and ``program`` from the PAT's programs and the PMTs seen."""
        infos = self._infos
        self.programs = tuple(infos[n] for n in self._pmt_pids if n in infos)
        self.program = None if self.program_number is None else infos.get(self.program_number)
