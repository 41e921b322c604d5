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
- MPEG-4 Part 2: the first VideoObjectLayer header (ISO/IEC 14496-2 6.2.3), in video_mpeg4.

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
reserved, no VUI). For H.264 / H.265 it is SAR * cropped width / cropped height, except that
a 720-sample line with a BT.601 SAR (12:11, 16:11, 10:11, 40:33) counts 704 samples: the 4:3 or
16:9 picture is its middle 702/704 samples (ETSI TS 101 154; ``formats.display_aspect_of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .formats import VideoCoding, VideoFormat
from .video_bits import BitReader, Truncated
from .video_h26x import H264Sps, HevcSps, inspect_nal, parse_h264_sps, parse_hevc_sps
from .video_mpeg4 import Mpeg4Vol, inspect_mpeg4, parse_mpeg4_vol

__all__ = [
    "SUPPORTED_CODINGS",
    "H264Sps",
    "HevcSps",
    "Mpeg2SequenceHeader",
    "Mpeg4Vol",
    "inspect_video_es",
    "parse_h264_sps",
    "parse_hevc_sps",
    "parse_mpeg2_sequence_header",
    "parse_mpeg4_vol",
]

SUPPORTED_CODINGS: frozenset[VideoCoding] = frozenset(
    {
        VideoCoding.MPEG1,
        VideoCoding.MPEG2,
        VideoCoding.MPEG4_PART2,
        VideoCoding.H264,
        VideoCoding.HEVC,
    }
)

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
    r = BitReader(data[4:], what)
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
        raise Truncated(f"{what}: data ends before the next start code")
    if data[pos] != 1 or pos - header_len < 2:
        raise r.error(f"byte 0x{data[pos]:02X} after the header where a start code belongs")
    if pos + 1 >= len(data):
        raise Truncated(f"{what}: data ends inside the next start code")
    is_mpeg2 = (
        data[pos + 1] == _EXTENSION_START_CODE
        and pos + 2 < len(data)
        and data[pos + 2] >> 4 == _SEQUENCE_EXTENSION_ID
    )
    if data[pos + 1] == _EXTENSION_START_CODE and pos + 2 >= len(data):
        raise Truncated(f"{what}: data ends inside the extension start code")

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
    x = BitReader(data[pos + 2 :], what)
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
    except Truncated:
        return None


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
        return inspect_nal(es, hevc=False)
    if coding is VideoCoding.HEVC:
        return inspect_nal(es, hevc=True)
    if coding is VideoCoding.MPEG4_PART2:
        return inspect_mpeg4(es)
    return None

