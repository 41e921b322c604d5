"""Media format identities, by the descriptor names of IEC62379-MEDIA-FORMATS-MIB.

The collectors detect formats and report them by these names; the agent turns a name into the
OBJECT IDENTIFIER of the identity of the same name in the compiled MIB. The MIB module is the
one place where the identities' arc is set (the digest's section 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum
from fractions import Fraction


class AudioFormat(str, Enum):
    NO_AUDIO = "noAudio"  # audio status false (seed 6.4.8)
    UNSPECIFIED = "unspecifiedAudio"  # present, but the format is not identified (seed 6.4.8)
    MPEG1 = "audioMpeg1"  # ISO/IEC 11172-3, TS stream_type 0x03
    MPEG2 = "audioMpeg2"  # ISO/IEC 13818-3, stream_type 0x04
    AAC_ADTS = "audioAacAdts"  # ISO/IEC 13818-7 ADTS, stream_type 0x0F
    AAC_LATM = "audioAacLatm"  # ISO/IEC 14496-3 LATM, stream_type 0x11
    AC3 = "audioAc3"  # ATSC A/52 / ETSI TS 102 366 (stream_type 0x81 or descriptor 0x6A)
    EAC3 = "audioEac3"  # E-AC-3 (stream_type 0x87 or descriptor 0x7A)
    SMPTE302M = "audioSmpte302m"  # SMPTE 302M PCM (registration descriptor "BSSD")
    OPUS = "audioOpus"  # Opus in TS (registration "Opus")
    DTS = "audioDts"  # DTS (descriptor 0x7B, or stream_type 0x82 / 0x85 / 0x86)
    LPCM = "audioLpcm"  # other linear PCM


class VideoCoding(str, Enum):
    NO_VIDEO = "noVideo"
    UNSPECIFIED = "unspecifiedVideo"
    MPEG1 = "videoMpeg1"  # stream_type 0x01
    MPEG2 = "videoMpeg2"  # stream_type 0x02
    MPEG4_PART2 = "videoMpeg4Part2"  # stream_type 0x10
    H264 = "videoH264"  # stream_type 0x1B
    HEVC = "videoHevc"  # stream_type 0x24
    JPEG2000 = "videoJpeg2000"  # stream_type 0x21
    JPEG_XS = "videoJpegXs"  # stream_type 0x32
    VC1 = "videoVc1"  # registration "VC-1"


class AspectRatio(str, Enum):
    UNSPECIFIED = "unspecifiedAspectRatio"
    R4_3 = "aspect4x3"
    R16_9 = "aspect16x9"
    R221_100 = "aspect221x100"
    SQUARE = "aspect1x1"
    OTHER = "otherAspectRatio"


class SourceFormat(str, Enum):
    """Common source formats; `i` rates are frames per second (1080i25 = 50 fields/s)."""

    UNSPECIFIED = "unspecifiedSourceFormat"
    OTHER = "otherSourceFormat"
    SD_576I25 = "src720x576i25"
    SD_480I2997 = "src720x480i2997"
    HD_720P25 = "src1280x720p25"
    HD_720P2997 = "src1280x720p2997"
    HD_720P50 = "src1280x720p50"
    HD_720P5994 = "src1280x720p5994"
    HD_1080I25 = "src1920x1080i25"
    HD_1080I2997 = "src1920x1080i2997"
    HD_1080P24 = "src1920x1080p24"
    HD_1080P25 = "src1920x1080p25"
    HD_1080P2997 = "src1920x1080p2997"
    HD_1080P50 = "src1920x1080p50"
    HD_1080P5994 = "src1920x1080p5994"
    UHD_2160P25 = "src3840x2160p25"
    UHD_2160P50 = "src3840x2160p50"
    UHD_2160P5994 = "src3840x2160p5994"


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


class FecType(IntEnum):
    """AudioFECType / VideoFECType of the seed (6.2.2)."""

    NONE = 0
    RFC2733 = 1
    RFC5109 = 2
    SMPTE_2022_1 = 3
    SMPTE_2022_5 = 4
    PROPRIETARY = 5

    @property
    def mib_name(self) -> str:
        return {
            0: "none",
            1: "rfc2733",
            2: "rfc5109",
            3: "smpte2022Dash1",
            4: "smpte2022Dash5",
            5: "proprietary",
        }[int(self)]
