"""Every program of a multi-program transport stream (MPTS): video probes and statuses.

The program tracker (program.py) follows the PAT and every PMT; this module keeps, for each
program of the PAT, what closing an interval needs (its PIDs, video and audio streams), its
video rate classifier and the probe that finds its video format, and builds one
:class:`~.report.ProgramReport` per program at each close.

Cost: the video probes run one at a time (programs in PAT order, the first one not done),
so the per-packet work is that of one probe whatever the number of programs, each probe
bounded as before (``video_probe_bytes`` of a PES, ``video_probe_max_pes`` PES packets); a
later program's format is found once the probes before it are done. Closing an interval
costs one small array lookup and a few records per program.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .bitrate import RateClassifier
from .formats import VideoFormat
from .psi import ProgramInfo
from .report import AnalyzerConfig, AudioStatus, ProgramReport, VideoStatus
from .videoprobe import Inspector, VideoProbe, load_inspector

NEVER = np.iinfo(np.int64).min


class ProgramView:
    """What closing an interval needs of a program: its PIDs, the video stream, the audio
    streams with a known format and their component numbers (1-based, PMT order)."""

    __slots__ = ("info", "pid_list", "pids", "video", "audio")

    def __init__(self, info: ProgramInfo | None) -> None:
        self.info = info
        streams = () if info is None else info.streams
        self.pid_list = [s.pid for s in streams]
        self.pids = np.asarray(self.pid_list, dtype=np.int64)
        v = None if info is None else info.video
        self.video = v if v is not None and v.video_coding is not None else None
        self.audio = (
            ()
            if info is None
            else tuple((i + 1, s) for i, s in enumerate(info.audio) if s.audio_format is not None)
        )


class VideoProbes:
    """The video probes of the programs (PAT order, one per video PID); ``current`` is the
    one that runs: the first not done (None when all are)."""

    def __init__(self, config: AnalyzerConfig, inspector: Inspector | None, loaded: bool) -> None:
        self._config = config
        self._inspector = inspector
        self._loaded = loaded
        self._probes: list[VideoProbe] = []
        self.current: VideoProbe | None = None

    def update(self, programs: Iterable[ProgramInfo]) -> None:
        """The programs changed: a probe per video PID of a known coding; a probe whose PID
        and coding stay is kept (with its format, or where it got to)."""
        old = {(p.pid, p.coding): p for p in self._probes}
        probes: list[VideoProbe] = []
        seen: set[int] = set()
        for info in programs:
            v = info.video
            if v is None or v.video_coding is None or v.pid in seen:
                continue
            seen.add(v.pid)
            probe = old.get((v.pid, v.video_coding))
            if probe is None:
                if not self._loaded:
                    self._inspector = load_inspector()
                    self._loaded = True
                c = self._config
                probe = VideoProbe(
                    v.pid, v.video_coding, self._inspector, c.video_probe_bytes,
                    c.video_probe_max_pes,
                )
            probes.append(probe)
        self._probes = probes
        self.next()

    def next(self) -> VideoProbe | None:
        """The probe to run now (after one finished): the first not done."""
        self.current = next((p for p in self._probes if not p.done), None)
        return self.current

    def format(self, pid: int) -> VideoFormat | None:
        """The format found on the video PID, None before (or without a probe)."""
        for p in self._probes:
            if p.pid == pid:
                return p.format
        return None


class ProgramStatuses:
    """Per program (by number): its view and its video rate classifier, kept between
    intervals; ``close`` makes the programs' reports of an interval."""

    def __init__(self, window: int, tolerance: float) -> None:
        self._window = window
        self._tolerance = tolerance
        self._views: dict[int, ProgramView] = {}
        self._rates: dict[int, RateClassifier] = {}
        self._numbers: tuple[int, ...] = ()

    def idle_state(self) -> tuple:
        """What closing an empty interval may change (the video rate windows)."""
        return tuple((n, tuple(r.rates)) for n, r in self._rates.items())

    def close(
        self,
        programs: tuple[ProgramInfo, ...],
        pid_rates: dict[int, float],
        last_seen: np.ndarray,
        limit: int,
        probes: VideoProbes,
    ) -> tuple[tuple[ProgramReport, ...], dict[int, bool]]:
        """The reports of the programs (PAT order) and the presence of every PID they list
        (seen at or after ``limit``)."""
        numbers = tuple(p.program_number for p in programs)
        if numbers != self._numbers:  # programs left: forget them (and their rate windows)
            self._numbers = numbers
            self._views = {n: v for n, v in self._views.items() if n in numbers}
            self._rates = {n: r for n, r in self._rates.items() if n in numbers}
        views, rates = self._views, self._rates
        pid_present: dict[int, bool] = {}
        out = []
        for info in programs:
            number = info.program_number
            view = views.get(number)
            if view is None or view.info is not info:
                view = views[number] = ProgramView(info)
            seen = last_seen[view.pids].tolist()
            present = {
                p: t != NEVER and t >= limit for p, t in zip(view.pid_list, seen, strict=True)
            }
            pid_present.update(present)
            video = None
            v = view.video
            if v is not None:
                classifier = rates.get(number)
                if classifier is None:
                    # a type (hence a rate) from the first interval on, kept while steady
                    classifier = rates[number] = RateClassifier(
                        self._window, self._tolerance, min_intervals=1, hysteresis=2.0
                    )
                vrate = pid_rates.get(v.pid, 0.0)
                vtype = classifier.add(vrate)
                fmt = probes.format(v.pid)
                video = VideoStatus(
                    pid=v.pid,
                    stream_type=v.stream_type,
                    # what the elementary stream shows (MPEG-1 under stream_type 0x02), once
                    # seen; else what the PMT declares
                    coding=(
                        fmt.coding
                        if fmt is not None and fmt.coding is not None
                        else v.video_coding
                    ),
                    format=fmt,
                    present=present[v.pid],
                    bitrate_bps=vrate,
                    bitrate_type=vtype,
                    bitrate_max_bps=classifier.maximum,
                    bitrate_mean_bps=classifier.mean,
                )
            audio = tuple(
                AudioStatus(
                    component=i,
                    pid=s.pid,
                    stream_type=s.stream_type,
                    format=s.audio_format,
                    present=present[s.pid],
                    bitrate_bps=pid_rates.get(s.pid, 0.0),
                )
                for i, s in view.audio
            )
            out.append(ProgramReport(info, video, audio))
        return tuple(out), pid_present
