"""Follows the PAT and PMT of a transport stream to know the analysed program.

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
    def __init__(self, program_number: int | None = None) -> None:
        self.wanted = program_number
        self.program_number: int | None = None
        self.pmt_pid: int | None = None
        self.program: ProgramInfo | None = None
        self._asm: dict[int, SectionAssembler] = {}
        self._last: dict[int, tuple[bytes, ErrorKind]] = {}
        self.repeatable = False  # of the last feed(); see feed()

    @property
    def psi_pids(self) -> tuple[int, ...]:
        return (PAT_PID,) if self.pmt_pid is None else (PAT_PID, self.pmt_pid)

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
                elif pid == self.pmt_pid and section[0] == 0x02:
                    changed |= self._on_pmt(section)
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
        if not programs:
            return False
        if self.wanted is not None:
            if self.wanted not in programs:
                return False
            number = self.wanted
        else:
            number = next(iter(programs))
        pmt_pid = programs[number]
        if number == self.program_number and pmt_pid == self.pmt_pid:
            return False
        self.program_number = number
        self.pmt_pid = pmt_pid
        self.program = None
        self._last.pop(pmt_pid, None)
        return True

    def _on_pmt(self, section: bytes) -> bool:
        pmt = parse_pmt(section)
        if not pmt.current_next or pmt.program_number != self.program_number:
            return False
        assert self.pmt_pid is not None
        info = program_info_from_pmt(pmt, self.pmt_pid)
        if info == self.program:
            return False
        self.program = info
        return True
