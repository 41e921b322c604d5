"""Video elementary stream inspection: picture size, frame rate, scan and aspect ratio.

Pure computation (no I/O, no clock). Given the first bytes of a video elementary stream (the
PES payloads of the video PID concatenated, i.e. an ISO/IEC 13818-2 video sequence or an
ITU-T H.264 / H.265 Annex B byte stream), `inspect_video_es` finds the first sequence-level
parameter set and reads what it says of the picture:

- MPEG-1 / MPEG-2 video: the sequence header (ISO/IEC 13818-2 6.2.2.1 and 6.3.3, ISO/IEC
  11172-2 2.4.2.3) and, for MPEG-2, the sequence extension that must follow it (13818-2
  6.2.2.3 and 6.3.5). A sequence header that is not followed by a sequence extension is
  MPEG-1 syntax (13818-2 6.1.1.1); its aspect code is then a pel aspect ratio (11172-2
  2.4.3.2, Table 2-D.3) instead of a display aspect ratio (13818-2 Table 6-3). The result's
  `coding` says which of the two the stream is, whatever stream_type the PMT declared
  (ffmpeg, for one, sends MPEG-1 video under stream_type 0x01 or 0x02).
- H.264: the first sequence parameter set, NAL unit type 7 (ITU-T H.264 7.3.2.1.1), with its
  VUI (Annex E, E.1.1) for the sample aspect ratio (Table E-1) and the timing information.
- H.265: the first sequence parameter set of the base layer, NAL unit type 33 (ITU-T H.265
  7.3.2.2.1), including profile_tier_level (7.3.3), st_ref_pic_set (7.3.7) and scaling list
  data (7.3.4) which must be read through to reach the VUI (E.2.1).

Results:

- a `VideoFormat` when a parameter set was found and read;
- `None` when there is not enough data yet (no parameter set, or only the start of one at the
  end of the buffer), and for codings this module does not parse (see `SUPPORTED_CODINGS`);
- `ValueError` with a message naming the syntax element when a parameter set that is complete
  (followed by the next start code) is corrupt: a forbidden or out-of-range value, or the data
  ends inside it. The caller counts these.

Scan (interlace) rules:

- MPEG-2: interlaced when progressive_sequence is 0 (13818-2 6.3.5). MPEG-1 is progressive.
- H.264: interlaced when frame_mbs_only_flag is 0 (the sequence may use field pictures or
  MBAFF frames; 7.4.2.1.1).
- H.265 has no interlaced coding tools; interlaced video is sent either as field pictures or as
  frames made of two fields, and said so in SEI messages that we do not read. The rule here:
  interlaced when the VUI field_seq_flag is 1 (every picture is a field, E.3.1), or when
  profile_tier_level says general_interlaced_source_flag = 1 and
  general_progressive_source_flag = 0 (7.4.4). With field_seq_flag = 1 the frame height is
  twice the coded picture height and the frame rate half the picture rate; the sample aspect
  ratio is then that of the field's samples, so the display aspect ratio is
  SAR * width / field height.

Frame rates are frames per second (not fields): MPEG-2 frame_rate_value * (n + 1) / (d + 1)
(6.3.3, 6.3.5); H.264 time_scale / (2 * num_units_in_tick) (E.2.1, the VUI tick is a field
period); H.265 time_scale / num_units_in_tick per picture (E.3.1), halved for field pictures.
The frame rate is None when the stream does not signal it (no VUI timing, or a reserved code).

The display aspect ratio is None when the stream does not signal it (aspect_ratio_idc 0 or
reserved, no VUI). For H.264 / H.265 it is SAR * cropped width / cropped height.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .formats import VideoCoding, VideoFormat

__all__ = [
    "SUPPORTED_CODINGS",
    "H264Sps",
    "HevcSps",
    "Mpeg2SequenceHeader",
    "inspect_video_es",
    "parse_h264_sps",
    "parse_hevc_sps",
    "parse_mpeg2_sequence_header",
]

SUPPORTED_CODINGS: frozenset[VideoCoding] = frozenset(
    {VideoCoding.MPEG1, VideoCoding.MPEG2, VideoCoding.H264, VideoCoding.HEVC}
)

# The largest picture dimension the highest levels allow: H.265 level 6.2 gives
# sqrt(8 * MaxLumaPs) = 16888 luma samples (A.4.1); H.264 level 6.2 gives 1055 MBs = 16880.
MAX_DIMENSION = 16888

_START_CODE = b"\x00\x00\x01"


class _Truncated(ValueError):
    """The data ended inside a syntax structure (a `ValueError`, so it is never lost)."""


# --------------------------------------------------------------------------------------------
# Bit reading


class _BitReader:
    """Reads an RBSP most significant bit first, with ITU-T H.264 / H.265 9.2 exp-Golomb codes.

    Every read names the syntax element, so that errors say which one was bad.
    """

    __slots__ = ("_data", "_pos", "_end", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data) * 8
        self._what = what

    @property
    def bytes_read(self) -> int:
        return (self._pos + 7) // 8

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self._what}: {message}")

    def u(self, n: int, name: str) -> int:
        """u(n): an n-bit unsigned integer."""
        if self._pos + n > self._end:
            raise _Truncated(f"{self._what}: data ends inside {name}")
        value = 0
        data, pos = self._data, self._pos
        for _ in range(n):
            value = (value << 1) | ((data[pos >> 3] >> (7 - (pos & 7))) & 1)
            pos += 1
        self._pos = pos
        return value

    def flag(self, name: str) -> bool:
        return self.u(1, name) == 1

    def skip(self, n: int, name: str) -> None:
        if self._pos + n > self._end:
            raise _Truncated(f"{self._what}: data ends inside {name}")
        self._pos += n

    def ue(self, name: str, maximum: int = 0xFFFFFFFE) -> int:
        """ue(v): unsigned exp-Golomb (9.2), checked against its largest allowed value."""
        zeros = 0
        while self.u(1, name) == 0:
            zeros += 1
            if zeros > 31:
                raise self.error(f"{name} exp-Golomb code is longer than 32 bits")
        value = (1 << zeros) - 1 + self.u(zeros, name)
        if value > maximum:
            raise self.error(f"{name} = {value} is out of range (at most {maximum})")
        return value

    def se(self, name: str, minimum: int = -(2**31) + 1, maximum: int = 2**31 - 1) -> int:
        """se(v): signed exp-Golomb (9.2.2), checked against its range."""
        k = self.ue(name)
        value = (k + 1) // 2 if k & 1 else -(k // 2)
        if not minimum <= value <= maximum:
            raise self.error(f"{name} = {value} is out of range ({minimum}..{maximum})")
        return value


def _rbsp(payload: bytes) -> bytes:
    """Remove emulation_prevention_three_byte (H.264 7.3.1 / 7.4.1, H.265 7.3.1.1 / 7.4.2).

    The syntax scans left to right and drops the 03 of every 00 00 03, then goes on after
    it: exactly what a non-overlapping replace does.
    """
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


# --------------------------------------------------------------------------------------------
# MPEG-1 / MPEG-2 video (ISO/IEC 11172-2, ISO/IEC 13818-2)

_SEQUENCE_HEADER_CODE = 0xB3
_EXTENSION_START_CODE = 0xB5
_SEQUENCE_EXTENSION_ID = 1

# 13818-2 Table 6-4 (the same values as 11172-2 2.4.3.2); 0 is forbidden, 9-15 reserved.
_MPEG_FRAME_RATES = {
    1: Fraction(24000, 1001),
    2: Fraction(24),
    3: Fraction(25),
    4: Fraction(30000, 1001),
    5: Fraction(30),
    6: Fraction(50),
    7: Fraction(60000, 1001),
    8: Fraction(60),
}

# 13818-2 Table 6-3: display aspect ratio; code 1 = square samples (DAR = width / height).
_MPEG2_DISPLAY_ASPECT = {2: Fraction(4, 3), 3: Fraction(16, 9), 4: Fraction(221, 100)}

# 11172-2 2.4.3.2: pel aspect ratio (height / width of a pel); 0 forbidden, 15 reserved.
# The values are the standard's (the same table as ffmpeg's ff_mpeg1_aspect).
_MPEG1_PEL_ASPECT = {
    1: Fraction(1),
    2: Fraction("0.6735"),
    3: Fraction("0.7031"),
    4: Fraction("0.7615"),
    5: Fraction("0.8055"),
    6: Fraction("0.8437"),
    7: Fraction("0.8935"),
    8: Fraction("0.9157"),
    9: Fraction("0.9815"),
    10: Fraction("1.0255"),
    11: Fraction("1.0695"),
    12: Fraction("1.0950"),
    13: Fraction("1.1575"),
    14: Fraction("1.2015"),
}

# The codes 11172-2 2.4.3.2 labels with the picture they were chosen for: 3 "16:9, 625 line",
# 6 "16:9, 525 line", 8 "CCIR601, 625 line", 12 "CCIR601, 525 line" (both 4:3). Their pel
# ratios suit the ITU-R BT.601 active line (702-704 samples), so the display aspect computed
# over the whole coded width comes out up to 2.7 % away from the label (720x576 with code 8:
# 1.365; 720x480 with code 12: 1.370), too far for the 1 % of `aspect_ratio_of`. Our choice:
# for these codes, a computed display aspect within 3 % of the label is reported as the label
# itself, since that is the picture the encoder meant (4:3 and 16:9 are 33 % apart, so 3 %
# cannot confuse them); other codes, and pictures farther off, keep the computed value.
_MPEG1_LABELLED_ASPECT = {
    3: Fraction(16, 9),
    6: Fraction(16, 9),
    8: Fraction(4, 3),
    12: Fraction(4, 3),
}
_MPEG1_LABEL_TOLERANCE = 0.03


@dataclass(frozen=True, slots=True)
class Mpeg2SequenceHeader:
    """An MPEG-1 or MPEG-2 sequence header with, for MPEG-2, its sequence extension.

    Sizes already include the MPEG-2 size extensions; bit_rate is in bit/s (units of 400 bit/s
    in the stream), or None for the MPEG-1 "variable" value 0x3FFFF.
    """

    mpeg2: bool  # a sequence_extension follows the sequence header
    width: int
    height: int
    aspect_ratio_information: int
    frame_rate_code: int
    frame_rate: Fraction | None
    bit_rate: int | None
    vbv_buffer_size: int  # units of 16 kbit
    progressive_sequence: bool
    profile_and_level_indication: int | None
    chroma_format: int  # 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4 (MPEG-1 is always 4:2:0)
    low_delay: bool

    @property
    def display_aspect(self) -> Fraction | None:
        """Display aspect ratio from the aspect code (13818-2 Table 6-3 / 11172-2 2.4.3.2)."""
        code = self.aspect_ratio_information
        if self.mpeg2:
            if code == 1:
                return Fraction(self.width, self.height)
            return _MPEG2_DISPLAY_ASPECT.get(code)
        pel = _MPEG1_PEL_ASPECT.get(code)
        if pel is None:
            return None
        dar = Fraction(self.width, self.height) / pel
        label = _MPEG1_LABELLED_ASPECT.get(code)
        if label is not None and abs(float(dar / label) - 1.0) <= _MPEG1_LABEL_TOLERANCE:
            return label
        return dar

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.height,
            frame_rate=self.frame_rate,
            interlaced=not self.progressive_sequence,
            display_aspect=self.display_aspect,
            coding=VideoCoding.MPEG2 if self.mpeg2 else VideoCoding.MPEG1,
        )


def parse_mpeg2_sequence_header(data: bytes) -> Mpeg2SequenceHeader:
    """Parse a sequence header starting at its start code 00 00 01 B3 (13818-2 6.2.2.1).

    `data` must reach the start code that follows the header (and, for MPEG-2, the whole
    6-byte sequence extension), since that start code tells MPEG-1 from MPEG-2 syntax.
    Raises ValueError when the header is corrupt or the data ends too early.
    """
    if data[:4] != b"\x00\x00\x01\xb3":
        raise ValueError("MPEG-2 sequence header: does not start with 00 00 01 B3")
    what = "MPEG-2 sequence header"
    r = _BitReader(data[4:], what)
    horizontal = r.u(12, "horizontal_size_value")
    vertical = r.u(12, "vertical_size_value")
    aspect = r.u(4, "aspect_ratio_information")
    rate_code = r.u(4, "frame_rate_code")
    bit_rate_value = r.u(18, "bit_rate_value")
    if not r.flag("marker_bit"):
        raise r.error("marker_bit after bit_rate_value is 0")
    vbv = r.u(10, "vbv_buffer_size_value")
    r.skip(1, "constrained_parameters_flag")
    if r.flag("load_intra_quantiser_matrix"):
        r.skip(64 * 8, "intra_quantiser_matrix")
    if r.flag("load_non_intra_quantiser_matrix"):
        r.skip(64 * 8, "non_intra_quantiser_matrix")
    header_len = 4 + r.bytes_read  # the header is a whole number of bytes (64 + 0/512/1024)

    if aspect == 0:
        raise r.error("aspect_ratio_information 0 is forbidden")
    if rate_code == 0:
        raise r.error("frame_rate_code 0 is forbidden")

    # next_start_code(): zero stuffing, then a start code.
    pos = header_len
    while pos < len(data) and data[pos] == 0:
        pos += 1
    if pos >= len(data):
        raise _Truncated(f"{what}: data ends before the next start code")
    if data[pos] != 1 or pos - header_len < 2:
        raise r.error(f"byte 0x{data[pos]:02X} after the header where a start code belongs")
    if pos + 1 >= len(data):
        raise _Truncated(f"{what}: data ends inside the next start code")
    is_mpeg2 = (
        data[pos + 1] == _EXTENSION_START_CODE
        and pos + 2 < len(data)
        and data[pos + 2] >> 4 == _SEQUENCE_EXTENSION_ID
    )
    if data[pos + 1] == _EXTENSION_START_CODE and pos + 2 >= len(data):
        raise _Truncated(f"{what}: data ends inside the extension start code")

    if not is_mpeg2:
        # ISO/IEC 11172-2 sequence: sizes as is, pel aspect codes, always progressive 4:2:0.
        if horizontal == 0 or vertical == 0:
            raise r.error(f"picture size {horizontal}x{vertical} is forbidden")
        if aspect == 15:
            raise r.error("aspect_ratio_information (pel_aspect_ratio) 15 is reserved")
        return Mpeg2SequenceHeader(
            mpeg2=False,
            width=horizontal,
            height=vertical,
            aspect_ratio_information=aspect,
            frame_rate_code=rate_code,
            frame_rate=_MPEG_FRAME_RATES.get(rate_code),
            bit_rate=None if bit_rate_value == 0x3FFFF else bit_rate_value * 400,
            vbv_buffer_size=vbv,
            progressive_sequence=True,
            profile_and_level_indication=None,
            chroma_format=1,
            low_delay=False,
        )

    what = "MPEG-2 sequence extension"
    x = _BitReader(data[pos + 2 :], what)
    x.skip(4, "extension_start_code_identifier")
    profile_level = x.u(8, "profile_and_level_indication")
    progressive = x.flag("progressive_sequence")
    chroma_format = x.u(2, "chroma_format")
    h_ext = x.u(2, "horizontal_size_extension")
    v_ext = x.u(2, "vertical_size_extension")
    bit_rate_ext = x.u(12, "bit_rate_extension")
    if not x.flag("marker_bit"):
        raise x.error("marker_bit after bit_rate_extension is 0")
    vbv_ext = x.u(8, "vbv_buffer_size_extension")
    low_delay = x.flag("low_delay")
    rate_n = x.u(2, "frame_rate_extension_n")
    rate_d = x.u(5, "frame_rate_extension_d")

    width = (h_ext << 12) | horizontal
    height = (v_ext << 12) | vertical
    if width == 0 or height == 0:
        raise x.error(f"picture size {width}x{height} is forbidden")
    if chroma_format == 0:
        raise x.error("chroma_format 0 is reserved")
    base_rate = _MPEG_FRAME_RATES.get(rate_code)
    return Mpeg2SequenceHeader(
        mpeg2=True,
        width=width,
        height=height,
        aspect_ratio_information=aspect,
        frame_rate_code=rate_code,
        frame_rate=None if base_rate is None else base_rate * (rate_n + 1) / (rate_d + 1),
        bit_rate=((bit_rate_ext << 18) | bit_rate_value) * 400,
        vbv_buffer_size=(vbv_ext << 10) | vbv,
        progressive_sequence=progressive,
        profile_and_level_indication=profile_level,
        chroma_format=chroma_format,
        low_delay=low_delay,
    )


def _inspect_mpeg2(es: bytes) -> VideoFormat | None:
    start = es.find(b"\x00\x00\x01\xb3")
    if start < 0:
        return None
    # The sequence header and extension have fixed lengths, so the data ending inside them
    # only means that more is to come (`es` is the start of the stream).
    try:
        return parse_mpeg2_sequence_header(es[start:]).video_format()
    except _Truncated:
        return None


# --------------------------------------------------------------------------------------------
# Annex B byte streams (H.264 B.1, H.265 B.2)


def _find_nal(es: bytes, wanted: int, hevc: bool) -> tuple[bytes, bool] | None:
    """The first NAL unit of type `wanted` (with its header), and whether it is complete.

    A NAL unit is complete when the next start code follows it; trailing zero bytes (the
    zero_byte of a 4-byte start code, trailing_zero_8bits) are removed either way, since a
    NAL unit never ends with a zero byte. For H.265 only the base layer (nuh_layer_id 0) is
    taken.
    """
    pos = 0
    while True:
        sc = es.find(_START_CODE, pos)
        if sc < 0 or sc + 3 >= len(es):
            return None
        head = sc + 3
        if hevc:
            if head + 1 >= len(es):
                return None
            nal_type = (es[head] >> 1) & 0x3F
            layer = ((es[head] & 1) << 5) | (es[head + 1] >> 3)
            match = nal_type == wanted and layer == 0
        else:
            match = es[head] & 0x1F == wanted
        if match:
            end = es.find(_START_CODE, head)
            complete = end >= 0
            nal = es[head:end] if complete else es[head:]
            return nal.rstrip(b"\x00"), complete
        pos = head


# --------------------------------------------------------------------------------------------
# H.264 (ITU-T H.264 7.3.2.1.1, E.1.1)

_H264_SPS = 7

# H.264 Table E-1 (identical to H.265 Table E-1): aspect_ratio_idc -> sample aspect ratio.
_SAR_TABLE = {
    1: (1, 1),
    2: (12, 11),
    3: (10, 11),
    4: (16, 11),
    5: (40, 33),
    6: (24, 11),
    7: (20, 11),
    8: (32, 11),
    9: (80, 33),
    10: (18, 11),
    11: (15, 11),
    12: (64, 33),
    13: (160, 99),
    14: (4, 3),
    15: (3, 2),
    16: (2, 1),
}
_EXTENDED_SAR = 255

# Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (7.3.2.1.1).
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


@dataclass(frozen=True, slots=True)
class H264Sps:
    """The fields of an H.264 sequence parameter set that describe the picture.

    width and height are the cropped frame size in luma samples (7.4.2.1.1: frame cropping);
    sar is None when the VUI does not give it; num_units_in_tick / time_scale are 0 when the
    VUI has no timing information.
    """

    profile_idc: int
    constraint_flags: int  # constraint_set0_flag .. constraint_set5_flag, reserved_zero_2bits
    level_idc: int
    seq_parameter_set_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    bit_depth_luma: int
    bit_depth_chroma: int
    coded_width: int  # PicWidthInMbs * 16
    coded_height: int  # FrameHeightInMbs * 16
    width: int
    height: int
    frame_mbs_only: bool
    mb_adaptive_frame_field: bool
    sar: Fraction | None
    num_units_in_tick: int
    time_scale: int
    fixed_frame_rate: bool

    @property
    def frame_rate(self) -> Fraction | None:
        """time_scale / (2 * num_units_in_tick) (E.2.1), or None without VUI timing."""
        if self.num_units_in_tick == 0 or self.time_scale == 0:
            return None
        return Fraction(self.time_scale, 2 * self.num_units_in_tick)

    @property
    def display_aspect(self) -> Fraction | None:
        return None if self.sar is None else self.sar * Fraction(self.width, self.height)

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.height,
            frame_rate=self.frame_rate,
            interlaced=not self.frame_mbs_only,
            display_aspect=self.display_aspect,
            coding=VideoCoding.H264,
        )


def _sar(r: _BitReader) -> Fraction | None:
    """aspect_ratio_idc and, for Extended_SAR, sar_width / sar_height (E.1.1 / E.2.1)."""
    idc = r.u(8, "aspect_ratio_idc")
    if idc == _EXTENDED_SAR:
        sar_w = r.u(16, "sar_width")
        sar_h = r.u(16, "sar_height")
        # E.2.1: sar_width and sar_height 0 (either) mean unspecified.
        return Fraction(sar_w, sar_h) if sar_w and sar_h else None
    pair = _SAR_TABLE.get(idc)
    return None if pair is None else Fraction(*pair)


def _vui_start(r: _BitReader) -> Fraction | None:
    """The part of vui_parameters() that H.264 (E.1.1) and HEVC (E.2.1) share: aspect ratio
    info, overscan, video signal type and colour description, chroma sample location. The
    sample aspect ratio, when given."""
    sar = _sar(r) if r.flag("aspect_ratio_info_present_flag") else None
    if r.flag("overscan_info_present_flag"):
        r.skip(1, "overscan_appropriate_flag")
    if r.flag("video_signal_type_present_flag"):
        r.skip(4, "video_format, video_full_range_flag")
        if r.flag("colour_description_present_flag"):
            r.skip(24, "colour_primaries, transfer_characteristics, matrix_coefficients")
    if r.flag("chroma_loc_info_present_flag"):
        r.ue("chroma_sample_loc_type_top_field", 5)
        r.ue("chroma_sample_loc_type_bottom_field", 5)
    return sar


def _h264_scaling_list(r: _BitReader, size: int, index: int) -> None:
    """scaling_list() (7.3.2.1.1.1): read through the delta_scale values."""
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            delta = r.se(f"delta_scale[{index}]", -128, 127)
            nxt = (last + delta + 256) % 256
        last = nxt if nxt != 0 else last


def parse_h264_sps(nal: bytes) -> H264Sps:
    """Parse an H.264 SPS NAL unit (header byte included, emulation prevention not removed).

    Reads seq_parameter_set_data() (7.3.2.1.1) up to and including the VUI timing
    information (E.1.1); HRD parameters and what follows are not needed and not read.
    Raises ValueError naming the syntax element that is out of range or cut short.
    """
    what = "H.264 SPS"
    if not nal:
        raise _Truncated(f"{what}: empty NAL unit")
    if nal[0] & 0x80:
        raise ValueError(f"{what}: forbidden_zero_bit is 1")
    if nal[0] & 0x1F != _H264_SPS:
        raise ValueError(f"{what}: nal_unit_type is {nal[0] & 0x1F}, not 7")
    r = _BitReader(_rbsp(nal[1:]), what)
    profile_idc = r.u(8, "profile_idc")
    constraint_flags = r.u(8, "constraint_set_flags")
    level_idc = r.u(8, "level_idc")
    sps_id = r.ue("seq_parameter_set_id", 31)
    chroma_format_idc = 1
    separate_colour_plane = False
    bit_depth_luma = bit_depth_chroma = 8
    if profile_idc in _H264_HIGH_PROFILES:
        chroma_format_idc = r.ue("chroma_format_idc", 3)
        if chroma_format_idc == 3:
            separate_colour_plane = r.flag("separate_colour_plane_flag")
        bit_depth_luma = 8 + r.ue("bit_depth_luma_minus8", 6)
        bit_depth_chroma = 8 + r.ue("bit_depth_chroma_minus8", 6)
        r.skip(1, "qpprime_y_zero_transform_bypass_flag")
        if r.flag("seq_scaling_matrix_present_flag"):
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.flag(f"seq_scaling_list_present_flag[{i}]"):
                    _h264_scaling_list(r, 16 if i < 6 else 64, i)
    r.ue("log2_max_frame_num_minus4", 12)
    poc_type = r.ue("pic_order_cnt_type", 2)
    if poc_type == 0:
        r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
    elif poc_type == 1:
        r.skip(1, "delta_pic_order_always_zero_flag")
        r.se("offset_for_non_ref_pic")
        r.se("offset_for_top_to_bottom_field")
        cycle = r.ue("num_ref_frames_in_pic_order_cnt_cycle", 255)
        for i in range(cycle):
            r.se(f"offset_for_ref_frame[{i}]")
    r.ue("max_num_ref_frames", 16)
    r.skip(1, "gaps_in_frame_num_value_allowed_flag")
    width_mbs = r.ue("pic_width_in_mbs_minus1", MAX_DIMENSION // 16) + 1
    height_map_units = r.ue("pic_height_in_map_units_minus1", MAX_DIMENSION // 16) + 1
    frame_mbs_only = r.flag("frame_mbs_only_flag")
    mbaff = False if frame_mbs_only else r.flag("mb_adaptive_frame_field_flag")
    r.skip(1, "direct_8x8_inference_flag")
    crop = (0, 0, 0, 0)
    if r.flag("frame_cropping_flag"):
        crop = (
            r.ue("frame_crop_left_offset"),
            r.ue("frame_crop_right_offset"),
            r.ue("frame_crop_top_offset"),
            r.ue("frame_crop_bottom_offset"),
        )

    # 7.4.2.1.1: ChromaArrayType, CropUnitX / CropUnitY and the cropped frame size.
    chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
    sub_width, sub_height = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_array_type]
    frame_height_mbs = (2 - frame_mbs_only) * height_map_units
    coded_width = width_mbs * 16
    coded_height = frame_height_mbs * 16
    crop_x = sub_width if chroma_array_type else 1
    crop_y = (2 - frame_mbs_only) * (sub_height if chroma_array_type else 1)
    width = coded_width - crop_x * (crop[0] + crop[1])
    height = coded_height - crop_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise r.error(
            f"frame cropping {crop} leaves no picture of the coded {coded_width}x{coded_height}"
        )
    if coded_height > MAX_DIMENSION:
        raise r.error(f"frame height {coded_height} is larger than any level allows")

    sar: Fraction | None = None
    num_units_in_tick = time_scale = 0
    fixed_frame_rate = False
    if r.flag("vui_parameters_present_flag"):
        sar = _vui_start(r)
        if r.flag("timing_info_present_flag"):
            num_units_in_tick = r.u(32, "num_units_in_tick")
            time_scale = r.u(32, "time_scale")
            fixed_frame_rate = r.flag("fixed_frame_rate_flag")
            if num_units_in_tick == 0:
                raise r.error("num_units_in_tick is 0 (E.2.1: shall be greater than 0)")
            if time_scale == 0:
                raise r.error("time_scale is 0 (E.2.1: shall be greater than 0)")

    return H264Sps(
        profile_idc=profile_idc,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        seq_parameter_set_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        separate_colour_plane=separate_colour_plane,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        coded_width=coded_width,
        coded_height=coded_height,
        width=width,
        height=height,
        frame_mbs_only=frame_mbs_only,
        mb_adaptive_frame_field=mbaff,
        sar=sar,
        num_units_in_tick=num_units_in_tick,
        time_scale=time_scale,
        fixed_frame_rate=fixed_frame_rate,
    )


# --------------------------------------------------------------------------------------------
# H.265 (ITU-T H.265 7.3.2.2.1, 7.3.3, 7.3.4, 7.3.7, E.2.1)

_HEVC_SPS = 33


@dataclass(frozen=True, slots=True)
class HevcSps:
    """The fields of an H.265 sequence parameter set that describe the picture.

    width and height are the coded picture size less the conformance window (7.4.3.2.1);
    with field_seq_flag each picture is one field. sar is None when the VUI does not give it;
    num_units_in_tick / time_scale are 0 when the VUI has no timing information.
    """

    general_profile_space: int
    general_tier_flag: bool
    general_profile_idc: int
    general_level_idc: int  # 30 x the level number
    general_progressive_source: bool
    general_interlaced_source: bool
    max_sub_layers: int
    seq_parameter_set_id: int
    chroma_format_idc: int
    separate_colour_plane: bool
    bit_depth_luma: int
    bit_depth_chroma: int
    coded_width: int
    coded_height: int
    width: int
    height: int
    sar: Fraction | None
    field_seq: bool
    num_units_in_tick: int
    time_scale: int

    @property
    def interlaced(self) -> bool:
        """Field pictures, or frames from an interlaced source (see the module docstring)."""
        return self.field_seq or (
            self.general_interlaced_source and not self.general_progressive_source
        )

    @property
    def frame_height(self) -> int:
        return self.height * 2 if self.field_seq else self.height

    @property
    def frame_rate(self) -> Fraction | None:
        """Pictures per second time_scale / num_units_in_tick (E.3.1), halved for fields."""
        if self.num_units_in_tick == 0 or self.time_scale == 0:
            return None
        rate = Fraction(self.time_scale, self.num_units_in_tick)
        return rate / 2 if self.field_seq else rate

    @property
    def display_aspect(self) -> Fraction | None:
        """SAR * width / height of the decoded picture: with field_seq_flag the SAR is that of
        the field's samples (E.3.1 speaks of the luma samples of the decoded pictures), so the
        field height is the one to use."""
        return None if self.sar is None else self.sar * Fraction(self.width, self.height)

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.frame_height,
            frame_rate=self.frame_rate,
            interlaced=self.interlaced,
            display_aspect=self.display_aspect,
            coding=VideoCoding.HEVC,
        )


def _hevc_profile_tier_level(r: _BitReader, max_sub_layers_minus1: int) -> tuple[int, ...]:
    """profile_tier_level(1, sps_max_sub_layers_minus1) (7.3.3).

    Returns (profile_space, tier, profile_idc, progressive_source, interlaced_source,
    level_idc); sub-layer profiles and levels are read through.
    """
    profile_space = r.u(2, "general_profile_space")
    tier = r.u(1, "general_tier_flag")
    profile_idc = r.u(5, "general_profile_idc")
    r.skip(32, "general_profile_compatibility_flag")
    progressive = r.u(1, "general_progressive_source_flag")
    interlaced = r.u(1, "general_interlaced_source_flag")
    r.skip(2 + 43 + 1, "general constraint flags")
    level_idc = r.u(8, "general_level_idc")
    present = [
        (
            r.flag(f"sub_layer_profile_present_flag[{i}]"),
            r.flag(f"sub_layer_level_present_flag[{i}]"),
        )
        for i in range(max_sub_layers_minus1)
    ]
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1), "reserved_zero_2bits")
    for i, (profile_present, level_present) in enumerate(present):
        if profile_present:
            r.skip(88, f"sub_layer profile [{i}]")
        if level_present:
            r.skip(8, f"sub_layer_level_idc[{i}]")
    return profile_space, tier, profile_idc, progressive, interlaced, level_idc


def _hevc_scaling_list_data(r: _BitReader) -> None:
    """scaling_list_data() (7.3.4): read through all matrices."""
    for size_id in range(4):
        for matrix_id in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag(f"scaling_list_pred_mode_flag[{size_id}][{matrix_id}]"):
                r.ue(
                    f"scaling_list_pred_matrix_id_delta[{size_id}][{matrix_id}]",
                    matrix_id // 3 if size_id == 3 else matrix_id,
                )
            else:
                if size_id > 1:
                    r.se(f"scaling_list_dc_coef_minus8[{size_id - 2}][{matrix_id}]", -7, 247)
                for i in range(min(64, 1 << (4 + (size_id << 1)))):
                    r.se(f"scaling_list_delta_coef[{size_id}][{matrix_id}][{i}]", -128, 127)


def _hevc_st_ref_pic_sets(r: _BitReader, count: int) -> None:
    """st_ref_pic_set(0 .. count - 1) (7.3.7), with the derivation of 7.4.8.

    Inter-RPS prediction needs the delta POCs of the reference set, so they are tracked.
    """
    sets: list[tuple[list[int], list[int]]] = []  # (DeltaPocS0, DeltaPocS1) per set
    for idx in range(count):
        name = f"st_ref_pic_set({idx})"
        if idx and r.flag(f"{name} inter_ref_pic_set_prediction_flag"):
            # In the SPS, delta_idx_minus1 is absent (idx < num_short_term_ref_pic_sets):
            # the reference set is the one just before.
            ref_s0, ref_s1 = sets[idx - 1]
            sign = r.u(1, f"{name} delta_rps_sign")
            abs_delta = r.ue(f"{name} abs_delta_rps_minus1", 2**15 - 1) + 1
            delta_rps = -abs_delta if sign else abs_delta
            n_ref = len(ref_s0) + len(ref_s1)
            use_delta = []
            for j in range(n_ref + 1):
                used = r.flag(f"{name} used_by_curr_pic_flag[{j}]")
                use_delta.append(True if used else r.flag(f"{name} use_delta_flag[{j}]"))
            # (7-61) and (7-62)
            s0: list[int] = []
            for j in range(len(ref_s1) - 1, -1, -1):
                d = ref_s1[j] + delta_rps
                if d < 0 and use_delta[len(ref_s0) + j]:
                    s0.append(d)
            if delta_rps < 0 and use_delta[n_ref]:
                s0.append(delta_rps)
            for j in range(len(ref_s0)):
                d = ref_s0[j] + delta_rps
                if d < 0 and use_delta[j]:
                    s0.append(d)
            s1: list[int] = []
            for j in range(len(ref_s0) - 1, -1, -1):
                d = ref_s0[j] + delta_rps
                if d > 0 and use_delta[j]:
                    s1.append(d)
            if delta_rps > 0 and use_delta[n_ref]:
                s1.append(delta_rps)
            for j in range(len(ref_s1)):
                d = ref_s1[j] + delta_rps
                if d > 0 and use_delta[len(ref_s0) + j]:
                    s1.append(d)
            if len(s0) + len(s1) > 16:
                raise r.error(f"{name} has {len(s0) + len(s1)} pictures (at most 16)")
        else:
            n_neg = r.ue(f"{name} num_negative_pics", 16)
            n_pos = r.ue(f"{name} num_positive_pics", 16 - n_neg)
            s0, s1 = [], []
            poc = 0
            for i in range(n_neg):
                poc -= r.ue(f"{name} delta_poc_s0_minus1[{i}]", 2**15 - 1) + 1
                r.skip(1, f"{name} used_by_curr_pic_s0_flag[{i}]")
                s0.append(poc)
            poc = 0
            for i in range(n_pos):
                poc += r.ue(f"{name} delta_poc_s1_minus1[{i}]", 2**15 - 1) + 1
                r.skip(1, f"{name} used_by_curr_pic_s1_flag[{i}]")
                s1.append(poc)
        sets.append((s0, s1))


def parse_hevc_sps(nal: bytes) -> HevcSps:
    """Parse an H.265 SPS NAL unit (2-byte header included, emulation prevention not removed).

    Reads seq_parameter_set_rbsp() (7.3.2.2.1) up to and including the VUI timing
    information (E.2.1). Raises ValueError naming the syntax element that is out of range or
    cut short.
    """
    what = "H.265 SPS"
    if len(nal) < 2:
        raise _Truncated(f"{what}: NAL unit header is cut short")
    if nal[0] & 0x80:
        raise ValueError(f"{what}: forbidden_zero_bit is 1")
    if (nal[0] >> 1) & 0x3F != _HEVC_SPS:
        raise ValueError(f"{what}: nal_unit_type is {(nal[0] >> 1) & 0x3F}, not 33")
    if nal[1] & 0x07 == 0:
        raise ValueError(f"{what}: nuh_temporal_id_plus1 is 0")
    r = _BitReader(_rbsp(nal[2:]), what)
    r.skip(4, "sps_video_parameter_set_id")
    max_sub_layers_minus1 = r.u(3, "sps_max_sub_layers_minus1")
    if max_sub_layers_minus1 == 7:
        raise r.error("sps_max_sub_layers_minus1 = 7 is out of range (at most 6)")
    r.skip(1, "sps_temporal_id_nesting_flag")
    space, tier, profile_idc, progressive, interlaced, level_idc = _hevc_profile_tier_level(
        r, max_sub_layers_minus1
    )
    sps_id = r.ue("sps_seq_parameter_set_id", 15)
    chroma_format_idc = r.ue("chroma_format_idc", 3)
    separate_colour_plane = chroma_format_idc == 3 and r.flag("separate_colour_plane_flag")
    coded_width = r.ue("pic_width_in_luma_samples", MAX_DIMENSION)
    coded_height = r.ue("pic_height_in_luma_samples", MAX_DIMENSION)
    if coded_width == 0 or coded_height == 0:
        raise r.error(f"picture size {coded_width}x{coded_height} is forbidden")
    window = (0, 0, 0, 0)
    if r.flag("conformance_window_flag"):
        window = (
            r.ue("conf_win_left_offset"),
            r.ue("conf_win_right_offset"),
            r.ue("conf_win_top_offset"),
            r.ue("conf_win_bottom_offset"),
        )
    bit_depth_luma = 8 + r.ue("bit_depth_luma_minus8", 8)
    bit_depth_chroma = 8 + r.ue("bit_depth_chroma_minus8", 8)
    log2_max_poc_lsb = 4 + r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
    ordering_all = r.flag("sps_sub_layer_ordering_info_present_flag")
    for i in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        r.ue(f"sps_max_dec_pic_buffering_minus1[{i}]", 15)
        r.ue(f"sps_max_num_reorder_pics[{i}]", 15)
        r.ue(f"sps_max_latency_increase_plus1[{i}]")
    log2_min_cb = 3 + r.ue("log2_min_luma_coding_block_size_minus3", 3)
    r.ue("log2_diff_max_min_luma_coding_block_size", 3)
    r.ue("log2_min_luma_transform_block_size_minus2", 3)
    r.ue("log2_diff_max_min_luma_transform_block_size", 3)
    r.ue("max_transform_hierarchy_depth_inter", 4)
    r.ue("max_transform_hierarchy_depth_intra", 4)
    if r.flag("scaling_list_enabled_flag") and r.flag("sps_scaling_list_data_present_flag"):
        _hevc_scaling_list_data(r)
    r.skip(2, "amp_enabled_flag, sample_adaptive_offset_enabled_flag")
    if r.flag("pcm_enabled_flag"):
        r.skip(8, "pcm_sample_bit_depth_luma_minus1, pcm_sample_bit_depth_chroma_minus1")
        r.ue("log2_min_pcm_luma_coding_block_size_minus3", 2)
        r.ue("log2_diff_max_min_pcm_luma_coding_block_size", 2)
        r.skip(1, "pcm_loop_filter_disabled_flag")
    _hevc_st_ref_pic_sets(r, r.ue("num_short_term_ref_pic_sets", 64))
    if r.flag("long_term_ref_pics_present_flag"):
        for i in range(r.ue("num_long_term_ref_pics_sps", 32)):
            r.skip(log2_max_poc_lsb, f"lt_ref_pic_poc_lsb_sps[{i}]")
            r.skip(1, f"used_by_curr_pic_lt_sps_flag[{i}]")
    r.skip(2, "sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag")

    sar: Fraction | None = None
    field_seq = False
    num_units_in_tick = time_scale = 0
    if r.flag("vui_parameters_present_flag"):
        sar = _vui_start(r)
        r.skip(1, "neutral_chroma_indication_flag")
        field_seq = r.flag("field_seq_flag")
        r.skip(1, "frame_field_info_present_flag")
        if r.flag("default_display_window_flag"):
            for side in ("left", "right", "top", "bottom"):
                r.ue(f"def_disp_win_{side}_offset")
        if r.flag("vui_timing_info_present_flag"):
            num_units_in_tick = r.u(32, "vui_num_units_in_tick")
            time_scale = r.u(32, "vui_time_scale")
            if num_units_in_tick == 0:
                raise r.error("vui_num_units_in_tick is 0 (E.3.1: shall be greater than 0)")
            if time_scale == 0:
                raise r.error("vui_time_scale is 0 (E.3.1: shall be greater than 0)")

    # 7.4.3.2.1: sizes are multiples of MinCbSizeY; the window is in chroma sample units.
    min_cb = 1 << log2_min_cb
    if coded_width % min_cb or coded_height % min_cb:
        raise r.error(
            f"picture size {coded_width}x{coded_height} is not a multiple of MinCbSizeY {min_cb}"
        )
    chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
    sub_width, sub_height = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_array_type]
    width = coded_width - sub_width * (window[0] + window[1])
    height = coded_height - sub_height * (window[2] + window[3])
    if width <= 0 or height <= 0:
        raise r.error(
            f"conformance window {window} leaves no picture of the coded "
            f"{coded_width}x{coded_height}"
        )
    return HevcSps(
        general_profile_space=space,
        general_tier_flag=bool(tier),
        general_profile_idc=profile_idc,
        general_level_idc=level_idc,
        general_progressive_source=bool(progressive),
        general_interlaced_source=bool(interlaced),
        max_sub_layers=max_sub_layers_minus1 + 1,
        seq_parameter_set_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        separate_colour_plane=separate_colour_plane,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        coded_width=coded_width,
        coded_height=coded_height,
        width=width,
        height=height,
        sar=sar,
        field_seq=field_seq,
        num_units_in_tick=num_units_in_tick,
        time_scale=time_scale,
    )


# --------------------------------------------------------------------------------------------
# Entry point


def _inspect_nal(es: bytes, hevc: bool) -> VideoFormat | None:
    found = _find_nal(es, _HEVC_SPS if hevc else _H264_SPS, hevc)
    if found is None:
        return None
    nal, complete = found
    try:
        sps = parse_hevc_sps(nal) if hevc else parse_h264_sps(nal)
    except _Truncated:
        if complete:
            raise
        return None
    return sps.video_format()


def inspect_video_es(coding: VideoCoding, es: bytes) -> VideoFormat | None:
    """What the first parameter set of a video elementary stream says of the picture.

    `es` is the start of the elementary stream (PES payloads concatenated). Returns None when
    there is not enough data yet or `coding` is not in SUPPORTED_CODINGS; raises ValueError
    (with a message naming the syntax element) when the parameter set is corrupt. See the
    module docstring for the clauses followed and the rules for scan and frame rate.
    """
    if coding in (VideoCoding.MPEG1, VideoCoding.MPEG2):
        return _inspect_mpeg2(es)
    if coding is VideoCoding.H264:
        return _inspect_nal(es, hevc=False)
    if coding is VideoCoding.HEVC:
        return _inspect_nal(es, hevc=True)
    return None
