"""Finds the video format of the video PID from its elementary stream (per-packet path).

While the format is unknown, the PES packets of the video PID (ISO/IEC 13818-1 2.4.3.6) are
collected, header stripped, and each one (its first ``max_bytes``) is handed to
``video_es.inspect_video_es`` when it is complete (the next payload_unit_start) or reaches
``max_bytes`` (32 KiB by default: the headers come before the slice data). Between PES
packets only PES starts are looked at. Sequence headers and SPSs open an access unit, and
video PES packets start with an access unit, so one PES is enough once one with a header
arrives. After
``max_pes`` PES packets without a result the probe gives up.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import ErrorKind
from .formats import VideoCoding, VideoFormat

Inspector = Callable[[VideoCoding, bytes], "VideoFormat | None"]
_NO_OPTIONAL_HEADER = {0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF}


def load_inspector() -> Inspector | None:
    """video_es.inspect_video_es, or None when that module is not there (yet)."""
    try:
        from .video_es import inspect_video_es
    except ImportError:
        return None
    return inspect_video_es


class VideoProbe:
    def __init__(
        self,
        pid: int,
        coding: VideoCoding,
        inspector: Inspector | None,
        max_bytes: int,
        max_pes: int,
    ) -> None:
        self.pid = pid
        self.coding = coding
        self.inspector = inspector
        self.max_bytes = max_bytes
        self.max_pes = max_pes
        self.format: VideoFormat | None = None
        self.done = inspector is None or max_pes == 0
        self.pes_seen = 0
        self._buf = bytearray()
        self._collecting = False

    @property
    def collecting(self) -> bool:
        """True while continuation packets (not only PES starts) are wanted."""
        return self._collecting

    def feed(self, payload: bytes, pusi: bool, errors: list[int]) -> bool:
        """One TS payload of the video PID. True when the probe finished (found or gave up)
        or when ``collecting`` changed, i.e. when the caller must re-select its packets."""
        if self.done:
            return False
        before = self._collecting
        return self._feed(payload, pusi, errors) or self._collecting != before

    def _feed(self, payload: bytes, pusi: bool, errors: list[int]) -> bool:
        if pusi:
            if self._collecting and self._inspect(errors):
                return True
            self._collecting = False
            if self.pes_seen >= self.max_pes:
                self.done = True
                return True
            self.pes_seen += 1
            es = self._pes_payload(payload)
            if es is None:
                errors[ErrorKind.PES] += 1
                return False
            self._buf = bytearray(es)
            self._collecting = True
        elif self._collecting:
            self._buf += payload
        else:
            return False
        if len(self._buf) >= self.max_bytes:
            self._collecting = False
            if self._inspect(errors):
                return True
            if self.pes_seen >= self.max_pes:
                self.done = True
                return True
        return False

    @staticmethod
    def _pes_payload(p: bytes) -> bytes | None:
        if len(p) < 6 or p[0] != 0 or p[1] != 0 or p[2] != 1:
            return None
        if p[3] in _NO_OPTIONAL_HEADER:
            return p[6:]
        if len(p) < 9:
            return None
        start = 9 + p[8]
        if start > len(p):
            return None
        return p[start:]

    def _inspect(self, errors: list[int]) -> bool:
        assert self.inspector is not None
        data = bytes(self._buf[: self.max_bytes])
        self._buf = bytearray()
        try:
            fmt = self.inspector(self.coding, data)
        except Exception:  # another module's parser on untrusted data: count, never raise
            errors[ErrorKind.VIDEO_ES] += 1
            return False
        if fmt is not None:
            self.format = fmt
            self.done = True
            return True
        return False
