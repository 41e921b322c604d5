"""What `iec62379 probe` prints of the programs of a stream (every program of an MPTS).

JSON (``--json``): each interval object has ``"programs"``, a list in PAT order of::

    {"program_number": 1, "pmt_pid": 4096, "pcr_pid": 256, "selected": true,
     "video": {...} or null, "audio": [{...}, ...]}

where ``video`` and the ``audio`` entries have the shape of the top-level ``"video"`` and
``"audio"`` keys, which stay those of the selected program (the first of the PAT).
``selected`` marks that program. A program is listed once its PMT has been seen.

Table: one program shows its codecs as before; several show ``#N`` and each program's codecs,
separated by `` | ``.
"""

from __future__ import annotations

from typing import Any

from iec62379.collectors.core.report import AudioStatus, IntervalReport, VideoStatus


def _short(name: str, prefix: str) -> str:
    """'videoH264' -> 'H264', 'audioMpeg1' -> 'Mpeg1'."""
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


def video_text(v: VideoStatus | None) -> str | None:
    """'H264 1280x720p50' (the coding, and the format once found)."""
    if v is None:
        return None
    text = _short(v.coding.value, "video")
    fmt = v.format
    if fmt is not None:
        text += f" {fmt.width}x{fmt.height}{'i' if fmt.interlaced else 'p'}"
        if fmt.frame_rate is not None:
            text += f"{float(fmt.frame_rate):.4g}"
    return text


def audio_texts(audio: tuple[AudioStatus, ...]) -> list[str]:
    return [_short(a.format.value, "audio") for a in audio]


def codecs_text(r: IntervalReport) -> str:
    """The codecs of a report: the selected program's, or every program's when several."""
    if len(r.programs) > 1:
        return " | ".join(
            f"#{p.program_number} "
            + (" ".join(x for x in [video_text(p.video), *audio_texts(p.audio)] if x) or "-")
            for p in r.programs
        )
    return " ".join(x for x in [video_text(r.video), *audio_texts(r.audio)] if x)


def video_dict(v: VideoStatus | None) -> dict[str, Any] | None:
    """The JSON object of a video status (null without one)."""
    if v is None:
        return None
    video: dict[str, Any] = {
        "pid": v.pid,
        "stream_type": v.stream_type,
        "coding": v.coding.value,
        "present": v.present,
        "bitrate_bps": v.bitrate_bps,
    }
    if v.format is not None:
        f = v.format
        video.update(
            width=f.width,
            height=f.height,
            frame_rate=None if f.frame_rate is None else float(f.frame_rate),
            interlaced=f.interlaced,
            source_format=f.source_format.value,
            aspect_ratio=f.aspect_ratio.value,
        )
    return video


def audio_dicts(audio: tuple[AudioStatus, ...]) -> list[dict[str, Any]]:
    return [
        {
            "component": a.component,
            "pid": a.pid,
            "stream_type": a.stream_type,
            "format": a.format.value,
            "present": a.present,
            "bitrate_bps": a.bitrate_bps,
        }
        for a in audio
    ]


def programs_list(r: IntervalReport) -> list[dict[str, Any]]:
    """The ``"programs"`` value of an interval's JSON object."""
    selected = None if r.program is None else r.program.program_number
    return [
        {
            "program_number": p.program_number,
            "pmt_pid": p.info.pmt_pid,
            "pcr_pid": p.info.pcr_pid,
            "selected": p.program_number == selected,
            "video": video_dict(p.video),
            "audio": audio_dicts(p.audio),
        }
        for p in r.programs
    ]
