"""From what a video elementary stream says of itself to media format identities.

The identities (AudioFormat, VideoCoding, AspectRatio, SourceFormat) and FecType are the MIB's
vocabulary, defined in :mod:`iec62379.mibs.vocabulary` and re-exported here for the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from iec62379.mibs.vocabulary import (
    AspectRatio,
    AudioFormat,
    FecType,
    SourceFormat,
    VideoCoding,
)


@dataclass(frozen=True, slots=True)
class VideoFormat:
    """What a video elementary stream says of itself (from a sequence header / SPS)."""

    width: int
    height: int
    frame_rate: Fraction | None  # frames per second (not fields)
    interlaced: bool
    display_aspect: Fraction | None  # display aspect ratio, e.g. Fraction(16, 9)
    # The coding the elementary stream's own syntax shows, which may differ from the PMT's
    # stream_type (MPEG-1 video is often sent under stream_type 0x02): MPEG1 for an ISO/IEC
    # 11172-2 sequence header without sequence_extension, MPEG2 with one, H264, HEVC. None
    # when the inspector does not say (a VideoFormat made by hand).
    coding: VideoCoding | None = None

    @property
    def source_format(self) -> SourceFormat:
        return source_format_of(self.width, self.height, self.frame_rate, self.interlaced)

    @property
    def aspect_ratio(self) -> AspectRatio:
        return aspect_ratio_of(self.display_aspect)


_RATES = {
    Fraction(24): "24",
    Fraction(24000, 1001): "2398",
    Fraction(25): "25",
    Fraction(30000, 1001): "2997",
    Fraction(30): "30",
    Fraction(50): "50",
    Fraction(60000, 1001): "5994",
    Fraction(60): "60",
}
_SOURCE_BY_NAME = {f.value: f for f in SourceFormat}


def source_format_of(
    width: int, height: int, frame_rate: Fraction | None, interlaced: bool
) -> SourceFormat:
    """The identity for a picture size, frame rate and scan, or OTHER when none is defined."""
    if frame_rate is None or width <= 0 or height <= 0:
        return SourceFormat.UNSPECIFIED
    # Coded heights are often padded to a macroblock multiple (1088 for 1080).
    if height == 1088:
        height = 1080
    rate = _RATES.get(frame_rate)
    if rate is None:
        # Tolerate rates given as rounded decimals (e.g. from a time scale of 1000).
        for exact, name in _RATES.items():
            if abs(float(exact) - float(frame_rate)) < 0.005:
                rate = name
                break
    if rate is None:
        return SourceFormat.OTHER
    name = f"src{width}x{height}{'i' if interlaced else 'p'}{rate}"
    return _SOURCE_BY_NAME.get(name, SourceFormat.OTHER)


# ITU-R BT.601 sample aspect ratios (H.264 / H.265 Table E-1, aspect_ratio_idc 2 to 5): 625-line
# 4:3 and 16:9, 525-line 4:3 and 16:9.
_BT601_SARS = frozenset({Fraction(12, 11), Fraction(16, 11), Fraction(10, 11), Fraction(40, 33)})


def display_aspect_of(sar: Fraction | None, width: int, height: int) -> Fraction | None:
    """The display aspect ratio of width x height samples of aspect ratio sar (None: unknown).

    With a BT.601 sample aspect ratio a 720-sample line carries the 4:3 or 16:9 picture in its
    middle 702/704 samples (ETSI TS 101 154, the DVB way to signal SD aspect), so the ratio
    is taken over 704 samples: 720x576 with SAR 12:11 is 4:3, with 16:11 is 16:9."""
    if sar is None or width <= 0 or height <= 0:
        return None
    if width == 720 and sar in _BT601_SARS:
        width = 704
    return sar * Fraction(width, height)


def aspect_ratio_of(display_aspect: Fraction | None) -> AspectRatio:
    """The identity for a display aspect ratio (within 1 %), OTHER when none is defined."""
    if display_aspect is None or display_aspect <= 0:
        return AspectRatio.UNSPECIFIED
    for target, ident in (
        (Fraction(4, 3), AspectRatio.R4_3),
        (Fraction(16, 9), AspectRatio.R16_9),
        (Fraction(221, 100), AspectRatio.R221_100),
        (Fraction(1, 1), AspectRatio.SQUARE),
    ):
        if abs(float(display_aspect) / float(target) - 1.0) < 0.01:
            return ident
    return AspectRatio.OTHER


__all__ = [
    "AspectRatio",
    "AudioFormat",
    "FecType",
    "SourceFormat",
    "VideoCoding",
    "VideoFormat",
    "aspect_ratio_of",
    "display_aspect_of",
    "source_format_of",
]
