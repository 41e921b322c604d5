"""The MIB vocabulary the measurement tables use, defined once for the agent and the collectors.

Enumerations (INTEGER columns and textual conventions of IEC62379-7-MEASUREMENT-MIB), the media
format identities by their descriptor names in IEC62379-MEDIA-FORMATS-MIB, and the rounding rule
of temperatureTrend. Standard library only: the agent, the measurement core and the publishing
step all import it, and it imports nothing of theirs.

The collectors detect formats and report them by identity names; the agent turns a name into the
OBJECT IDENTIFIER of the identity of the same name in the compiled MIB. The MIB module is the one
place where the identities' arc is set (the digest's section 5).
"""

from __future__ import annotations

import math
from enum import Enum, IntEnum
from fractions import Fraction

__all__ = [
    "GAUGE32_MAX",
    "AlarmCondition",
    "AlarmLogType",
    "AspectRatio",
    "AudioFormat",
    "BitRateType",
    "FecType",
    "NetworkType",
    "Severity",
    "SourceFormat",
    "TemperatureStatus",
    "TestState",
    "TransportType",
    "TsTest",
    "VideoCoding",
    "round_half_away",
    "temperature_trend",
]

GAUGE32_MAX = 4294967295


# --- nMtBlockTable ---------------------------------------------------------------------------


class NetworkType(IntEnum):
    """nMtNetworkType."""

    IPV4 = 1
    IPV6 = 2
    ASI = 3


class TransportType(IntEnum):
    """nMtTransportType."""

    NOT_APPLICABLE = 0
    RTP = 1


# --- aMtBlockTable / vMtBlockTable -----------------------------------------------------------


class FecType(IntEnum):
    """AudioFECType / VideoFECType of the seed (6.2.2)."""

    NONE = 0
    RFC2733 = 1
    RFC5109 = 2
    SMPTE_2022_1 = 3
    SMPTE_2022_5 = 4
    PROPRIETARY = 5
    # Aliases (the same members) under the spelling the agent's rows have always used.
    SMPTE2022_1 = 3
    SMPTE2022_5 = 4

    @property
    def mib_name(self) -> str:
        """The enumeration's label in the MIB."""
        return _FEC_MIB_NAMES[self]


_FEC_MIB_NAMES = {
    FecType.NONE: "none",
    FecType.RFC2733: "rfc2733",
    FecType.RFC5109: "rfc5109",
    FecType.SMPTE_2022_1: "smpte2022Dash1",
    FecType.SMPTE_2022_5: "smpte2022Dash5",
    FecType.PROPRIETARY: "proprietary",
}


class BitRateType(IntEnum):
    """vMtVideoBitRateType (the seed's BitRateType, 6.2.2)."""

    UNSPECIFIED = 0
    VBR = 1
    CBR = 2


# --- media format identities (IEC62379-MEDIA-FORMATS-MIB) ------------------------------------


class AudioFormat(str, Enum):  # noqa: UP042 - StrEnum would change str() and format()
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


class VideoCoding(str, Enum):  # noqa: UP042 - StrEnum would change str() and format()
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


class AspectRatio(str, Enum):  # noqa: UP042 - StrEnum would change str() and format()
    UNSPECIFIED = "unspecifiedAspectRatio"
    R4_3 = "aspect4x3"
    R16_9 = "aspect16x9"
    R221_100 = "aspect221x100"
    SQUARE = "aspect1x1"
    OTHER = "otherAspectRatio"


class SourceFormat(str, Enum):  # noqa: UP042 - StrEnum would change str() and format()
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


# --- temperatureTable ------------------------------------------------------------------------


class TemperatureStatus(IntEnum):
    """TemperatureStatus of the digest (section 2)."""

    UNDETERMINED = 0
    OTHER = 1
    UNKNOWN = 2
    OK = 3
    WARNING = 4
    CRITICAL = 5
    NON_RECOVERABLE = 6


# --- alarms (IEC62379-EXT-MIB) ----------------------------------------------------------------


class Severity(IntEnum):
    """ITU X.733 perceived severity, with the values of ItuPerceivedSeverity (RFC 3877)."""

    CLEARED = 1
    INDETERMINATE = 2
    CRITICAL = 3
    MAJOR = 4
    MINOR = 5
    WARNING = 6

    @property
    def rank(self) -> int:
        """Higher is worse: cleared 0, indeterminate 1, warning 2, minor 3, major 4, critical 5."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CLEARED: 0,
    Severity.INDETERMINATE: 1,
    Severity.WARNING: 2,
    Severity.MINOR: 3,
    Severity.MAJOR: 4,
    Severity.CRITICAL: 5,
}


# --- DVB-MGTR101290-MIB (ETSI TS 102 032) ----------------------------------------------------


class TestState(IntEnum):
    """TestState of the DVB measurement MIB."""

    __test__ = False  # not a pytest class

    DISABLED = 1
    UNKNOWN = 2
    PASS = 3
    FAIL = 4


class TsTest(IntEnum):
    """The TR 101 290 priority 1 and 2 tests an IP probe runs: IndexTransportStreamTest values.

    The member's name is the DVB MIB's enumeration name (``TsTest.tsSyncLoss.name``); its
    TestSummary bit is its position in this list (bits 0-12).
    """

    __test__ = False  # not a pytest class

    tsSyncLoss = 1010
    syncByteError = 1020
    patError2 = 1031
    continuityCountError = 1040
    pmtError2 = 1051
    pidError = 1060
    transportError = 2010
    crcError = 2020
    pcrRepetitionError = 2031
    pcrDiscontinuityError = 2032
    pcrAccuracyError = 2040
    ptsError = 2050
    catError = 2060


class AlarmCondition(IntEnum):
    """ExtAlarmCondition of IEC62379-EXT-MIB: what an alarm is about.

    The member's name is the MIB's enumeration label. The TR 101 290 conditions have the value
    of their test (IndexTransportStreamTest, `TsTest`): ``tr101290`` + the test's name.
    ``other`` is for alarms an embedding product raises about something of its own.
    """

    dfHigh = 1  # MDI delay factor above its limit (RFC 4445), ms
    mlrHigh = 2  # MDI media loss rate above its limit, packets/s
    tsdfHigh = 3  # time-stamped delay factor above its limit (EBU Tech 3337), us
    rtpLoss = 4  # RTP packets lost in an interval
    bitRateLow = 5  # stream bit rate below its limit, bit/s
    bitRateHigh = 6  # stream bit rate above its limit, bit/s
    videoLost = 7  # the PMT's video stream carries no packets
    audioLost = 8  # an audio component of the PMT carries no packets
    streamLost = 9  # no packets of the stream for its presence timeout
    temperatureWarning = 10  # temperatureStatus warning or worse
    temperatureCritical = 11  # temperatureStatus critical or worse
    other = 100  # an embedding product's own condition (the description says which)
    tr101290TsSyncLoss = 1010
    tr101290SyncByteError = 1020
    tr101290PatError2 = 1031
    tr101290ContinuityCountError = 1040
    tr101290PmtError2 = 1051
    tr101290PidError = 1060
    tr101290TransportError = 2010
    tr101290CrcError = 2020
    tr101290PcrRepetitionError = 2031
    tr101290PcrDiscontinuityError = 2032
    tr101290PcrAccuracyError = 2040
    tr101290PtsError = 2050
    tr101290CatError = 2060

    @property
    def ts_test(self) -> TsTest | None:
        """The TR 101 290 test of a tr101290 condition, else None."""
        return TsTest(self.value) if self.value in _TS_TEST_VALUES else None

    @classmethod
    def of_test(cls, test: TsTest) -> AlarmCondition:
        """The condition of a failing TR 101 290 test."""
        return cls(int(test))


class AlarmLogType(IntEnum):
    """ExtAlarmLogEntryType of IEC62379-EXT-MIB: what an alarm log entry records."""

    RAISED = 1  # a condition held for its persistence time: an alarm was raised
    CLEARED = 2  # a raised alarm's condition ended
    EVENT = 3  # a condition that ended within its persistence time (no alarm)


_TS_TEST_VALUES = frozenset(int(t) for t in TsTest)


def round_half_away(value: float | Fraction) -> int:
    """The nearest integer, halves away from zero: 0.5 -> 1, 2.5 -> 3, -2.5 -> -3.

    Exact for floats (the fraction ``a - floor(a)`` of a float is exact) and for Fractions
    (e.g. ``Fraction(milli, 1000)``). Raises OverflowError / ValueError for infinities / NaN,
    as ``int`` does.
    """
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return -whole if value < 0 else whole


def temperature_trend(celsius: float | Fraction | None) -> int:
    """temperatureTrend (TemperatureTrend ::= Gauge32, whole degrees Celsius; digest sections 2
    and 3) of a reading in °C.

    The digest does not say how halves round, so this is the conventional rounding of a
    displayed value: to the nearest degree, halves away from zero (47.5 -> 48, 2.5 -> 3), not
    Python's ``round`` (halves to even). A reading that rounds below 0 °C, or no reading (None),
    gives 0 (a Gauge32 cannot be negative); at most the Gauge32 maximum.
    """
    if celsius is None or celsius <= 0:
        return 0
    if celsius >= GAUGE32_MAX:
        return GAUGE32_MAX
    return round_half_away(celsius)
