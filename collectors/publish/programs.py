"""The further programs of a multi-program TS as blocks: a video block and an audio block per
program, linked to the stream's network block. Pure, no I/O, no clock (time is an argument).

The selected program (the configured ``program``, else the PAT's first) is served by the
stream's own audio and video blocks (blocks.py). Every other program of the PAT takes a slot:
slot i (1-based) is the audio block ``programs_id + 2 (i - 1)`` and the video block the next
id (``StreamSettings.program_ids``; ``programs_id`` is configured or derived from the stream's
address). A program takes the lowest free slot when it first shows in a report, in PAT
order, and keeps it while the stream is analysed: the same stream and configuration give the
same ids on every start. At most ``max_programs - 1`` further programs are served; the
others (later in the PAT) are left out.

A program the PAT no longer lists keeps its rows with status false (as a stopped stream's)
for ``fade_out_s`` after the last report that listed it; then its rows go and its slot is
free again. When the stream itself fades out, every program's rows go with its audio and
video blocks, and the slots are given again from the PAT when it comes back.
"""

from __future__ import annotations

import dataclasses

from iec62379.agent.model import Row
from iec62379.collectors.core.report import IntervalReport, ProgramReport
from iec62379.collectors.publish.blocks import absent_row, program_audio_rows, program_video_row


@dataclasses.dataclass(slots=True)
class _Held:
    slot: int
    program: ProgramReport
    report: IntervalReport  # the latest report that listed the program
    seen_ns: int  # when it was last listed


class ProgramBlocks:
    """The further programs' rows of one stream over time."""

    def __init__(self, network_id: int, program_ids: tuple[int, ...], fade_ns: int) -> None:
        self.network_id = network_id
        self.slots = len(program_ids) // 2
        self._ids = program_ids
        self._fade_ns = fade_ns
        self._held: dict[int, _Held] = {}  # program_number -> its slot and last report

    def ids_of(self, slot: int) -> tuple[int, int]:
        """(audio, video) block ids of a slot (1-based)."""
        return self._ids[2 * (slot - 1)], self._ids[2 * (slot - 1) + 1]

    def clear(self) -> None:
        """The stream faded out (or restarts): every program's rows go."""
        self._held.clear()

    def rows(self, report: IntervalReport | None, if_index: int, now_ns: int) -> list[Row]:
        """The rows of the further programs as of ``report`` (the stream's latest) at now."""
        held = self._held
        listed: set[int] = set()
        if report is not None:
            selected = None if report.program is None else report.program.program_number
            for p in report.programs:
                number = p.program_number
                if number == selected:
                    continue
                h = held.get(number)
                if h is None:
                    used = {x.slot for x in held.values()}
                    slot = next((i for i in range(1, self.slots + 1) if i not in used), None)
                    if slot is None:
                        continue  # more programs than max_programs: left out
                    h = held[number] = _Held(slot, p, report, now_ns)
                h.program, h.report, h.seen_ns = p, report, now_ns
                listed.add(number)
            if selected is not None and selected in held and selected not in listed:
                del held[selected]  # now served by the stream's own blocks
        out: list[Row] = []
        for number in sorted(held, key=lambda n: held[n].slot):
            h = held[number]
            gone = number not in listed
            if gone and now_ns - h.seen_ns > self._fade_ns:
                del held[number]
                continue
            audio_id, video_id = self.ids_of(h.slot)
            rows: list[Row] = [
                program_video_row(video_id, audio_id, self.network_id, h.program.video, h.report),
                *program_audio_rows(audio_id, self.network_id, if_index, h.program.audio,
                                    h.report),
            ]
            if gone:  # left the PAT: no signal, as a stopped stream's rows
                rows = [absent_row(r) for r in rows]
            out.extend(rows)
        return out


__all__ = ["ProgramBlocks"]
