"""Unit tests for collectors/core/video_es.py: parameter sets from real encoders and by hand.

Real parameter sets (hex below) come from the fixtures under tests/fixtures/media and from tiny
raw encodes made once with the Debian ffmpeg 5.1 (libx264, libx265); the values they are
checked against are what ffprobe reports for the same streams, except where the comment says
the value was worked out by hand from the syntax. Hand-made parameter sets are written with
the small bit writer below, so every value they carry is known.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iec62379.collectors.core.formats import (
    AspectRatio,
    SourceFormat,
    VideoCoding,
    VideoFormat,
)
from iec62379.collectors.core.video_bits import rbsp as _rbsp
from iec62379.collectors.core.video_es import (
    SUPPORTED_CODINGS,
    inspect_video_es,
    parse_h264_sps,
    parse_hevc_sps,
    parse_mpeg2_sequence_header,
)

MEDIA = Path(__file__).resolve().parents[2] / "fixtures" / "media"
SC = b"\x00\x00\x00\x01"
AUD = SC + bytes.fromhex("09f0")  # H.264 access unit delimiter, as x264 sends it

# --- real parameter sets -------------------------------------------------------------------

# tests/fixtures/media/h264_mp2.ts: libx264 High@3.2 1280x720p50, nal-hrd=cbr, sar 1/1.
H264_720P50 = bytes.fromhex(
    "67640020acd9405005bb011000000300100000064e02000dbb8000dbbb92ce01e30632c0"
)
# tests/fixtures/media/h264i_mp2_ac3.ts: libx264 Main@4.0 MBAFF 1920x1080i25 (coded 1088).
# By hand: pic_width_in_mbs_minus1 = 119 (bits 000000 1 111000), pic_height_in_map_units
# _minus1 = 33 (00000 1 00010), frame_mbs_only_flag 0 -> 2 * 34 * 16 = 1088 lines; cropping
# bottom 2 in units of CropUnitY = 2 * 2 = 4 -> 1080.
H264_1080I25 = bytes.fromhex("674d4028f403c0227ef011000003000100000300321f162ea0")
# libx264 -pix_fmt yuv422p10le -x264-params cqm=jvt, 350x200 (coded 352x208): High 4:2:2,
# seq_scaling_matrix_present_flag = 1; ffprobe: 350x200, SAR 44:63, DAR 11:9, 25 fps.
H264_422_CQM = bytes.fromhex("677a000db6cb40b0df513ff8016001f8800000030080000019078a1550")
# libx264 -pix_fmt yuv444p 352x288: High 4:4:4 Predictive; ffprobe SAR 1:1, 25 fps.
H264_444 = bytes.fromhex("67f4000d9196816096c044000003000400000300c83c50aa80")
# libx264 720x480 30000/1001 +ildct+ilme bff=1: Main, MBAFF; ffprobe field_order bb.
H264_480I2997 = bytes.fromhex("674d401ef405a3db011000003e90000ea601f142aa")
# libx264 sar=0/0 352x288 24000/1001: Constrained Baseline, no aspect_ratio_info.
H264_NO_SAR = bytes.fromhex("6742c00dda05825a1000003e90000bb800f142aa")

# tests/fixtures/media/hevc_aac.ts: libx265 Main 960x540p25 (coded 960x544), sar 1.
HEVC_540P25 = bytes.fromhex(
    "42010101600000030090000003000003005aa0078200887de595952930bc05a02000000300200000030321"
)
# libx265 interlace=tff sar=12 on 352x288 pictures: every picture is a field (field_seq_flag
# = 1, general_interlaced_source_flag = 1), 25 fields/s; SAR 64:33 (Table E-1 idc 12).
HEVC_FIELDS = bytes.fromhex(
    "42010101600000030040000003000003003ca00b080485965654a4c2f0c68680000003008000000c84"
)
# libx265 -pix_fmt yuv422p10le scaling-list=default, 350x200 (coded 352x208): Rext (4),
# chroma 4:2:2; ffprobe: 350x200, SAR 200:63, DAR 50:9, 25 fps.
HEVC_422 = bytes.fromhex(
    "4201010408000003009d0800000300003cb00b080d1d44b65959529385ffe0190007ed010000030001000003001908"
)

# tests/fixtures/media/mpeg2_ac3.ts: sequence header, sequence extension, then GOP header.
MPEG2_576I = bytes.fromhex("000001b32d024033027121f0000001b5148200010000000001b8000800400000")
# tests/fixtures/media/mpeg2_eac3_s302m.ts: 352x288 4:3 progressive_sequence 1.
MPEG2_CIF = bytes.fromhex("000001b316012023ffffe028000001b5148a00010000000001b8000800400000")
# tests/fixtures/media/mpeg1_mp2.ts: no sequence extension, so ISO/IEC 11172-2.
MPEG1_CIF = bytes.fromhex("000001b316012013ffffe028000001b80008004000000100000ffff800000101")


# --- a bit writer for hand-made parameter sets ---------------------------------------------


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> BitWriter:
        assert 0 <= value < (1 << n) or n == 0
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]
        return self

    def flag(self, value: bool) -> BitWriter:
        return self.u(1, int(value))

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        length = code.bit_length()
        return self.u(length - 1, 0).u(length, code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        """rbsp_trailing_bits(): a stop bit, then zeros to the byte boundary."""
        bits = self.bits + [1]
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation_prevention_three_byte (H.264 7.4.1): 00 00 0x (x <= 3) -> 00 00 03 0x."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def h264_sps(
    *,
    profile_idc: int = 100,
    chroma_format_idc: int = 1,
    separate_colour_plane: bool = False,
    scaling: bool = False,
    poc_type: int = 0,
    width_mbs: int = 120,
    height_map_units: int = 68,
    frame_mbs_only: bool = True,
    crop: tuple[int, int, int, int] | None = None,
    vui: bool = True,
    aspect_idc: int | None = 1,
    sar: tuple[int, int] = (0, 0),
    timing: tuple[int, int] | None = (1, 50),
    sps_id: int = 0,
) -> bytes:
    """An H.264 SPS NAL unit (7.3.2.1.1) with the given fields; the rest are typical."""
    w = BitWriter().u(8, profile_idc).u(8, 0).u(8, 40).ue(sps_id)
    if profile_idc in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        w.ue(chroma_format_idc)
        if chroma_format_idc == 3:
            w.flag(separate_colour_plane)
        w.ue(2).ue(2).flag(False).flag(scaling)  # 10-bit luma and chroma
        if scaling:
            for i in range(12 if chroma_format_idc == 3 else 8):
                present = i in (0, 6)
                w.flag(present)
                if present:
                    # delta_scale +5 then -5 then 0 ... ; a 0 delta of 0 value ends the list
                    # (nextScale 0), so only three values are coded for list i.
                    w.se(5).se(-5).se(-8)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(poc_type)
    if poc_type == 0:
        w.ue(2)
    elif poc_type == 1:
        w.flag(False).se(-2).se(3).ue(3).se(1).se(-7).se(100)
    w.ue(4).flag(False)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    w.ue(width_mbs - 1).ue(height_map_units - 1).flag(frame_mbs_only)
    if not frame_mbs_only:
        w.flag(True)  # mb_adaptive_frame_field_flag
    w.flag(True)  # direct_8x8_inference_flag
    w.flag(crop is not None)
    if crop is not None:
        for c in crop:
            w.ue(c)
    w.flag(vui)
    if vui:
        w.flag(aspect_idc is not None)
        if aspect_idc is not None:
            w.u(8, aspect_idc)
            if aspect_idc == 255:
                w.u(16, sar[0]).u(16, sar[1])
        w.flag(True).flag(False)  # overscan_info_present_flag, overscan_appropriate_flag
        w.flag(True).u(3, 5).flag(False).flag(True).u(8, 1).u(8, 1).u(8, 1)
        w.flag(True).ue(1).ue(1)  # chroma_loc_info
        w.flag(timing is not None)
        if timing is not None:
            w.u(32, timing[0]).u(32, timing[1]).flag(True)
        w.flag(False).flag(False).flag(False)  # nal_hrd, vcl_hrd, pic_struct_present
        w.flag(False)  # bitstream_restriction_flag
    return b"\x67" + escape(w.rbsp())


def hevc_ptl(w: BitWriter, sub_layers_minus1: int, *, progressive: int, interlaced: int) -> None:
    """profile_tier_level(1, sub_layers_minus1) (7.3.3): Main, level 4.1."""
    w.u(2, 0).u(1, 0).u(5, 1).u(32, 0x60000000).u(1, progressive).u(1, interlaced)
    w.u(2, 0).u(43, 0).u(1, 0).u(8, 123)
    present = [(i % 2 == 0, True) for i in range(sub_layers_minus1)]
    for p, lv in present:
        w.flag(p).flag(lv)
    if sub_layers_minus1 > 0:
        w.u(2 * (8 - sub_layers_minus1), 0)
    for p, lv in present:
        if p:
            w.u(88, (1 << 87) | 12345)
        if lv:
            w.u(8, 90)


def hevc_sps(
    *,
    sub_layers_minus1: int = 0,
    width: int = 1920,
    height: int = 1088,
    window: tuple[int, int, int, int] | None = (0, 0, 0, 4),
    chroma_format_idc: int = 1,
    scaling_data: bool = False,
    pcm: bool = False,
    rps: str = "none",
    long_term: int = 0,
    vui: bool = True,
    aspect_idc: int | None = 1,
    sar: tuple[int, int] = (0, 0),
    field_seq: bool = False,
    default_display_window: bool = False,
    timing: tuple[int, int] | None = (1, 50),
    progressive: int = 1,
    interlaced: int = 0,
) -> bytes:
    """An H.265 SPS NAL unit (7.3.2.2.1) with the given fields; the rest are typical."""
    w = BitWriter().u(4, 0).u(3, sub_layers_minus1).u(1, 1)
    hevc_ptl(w, sub_layers_minus1, progressive=progressive, interlaced=interlaced)
    w.ue(0).ue(chroma_format_idc)
    if chroma_format_idc == 3:
        w.flag(False)
    w.ue(width).ue(height)
    w.flag(window is not None)
    if window is not None:
        for v in window:
            w.ue(v)
    w.ue(0).ue(0)  # bit depths 8
    w.ue(4)  # log2_max_pic_order_cnt_lsb_minus4 -> 8-bit POC LSBs
    w.flag(True)  # sps_sub_layer_ordering_info_present_flag
    for _ in range(sub_layers_minus1 + 1):
        w.ue(4).ue(2).ue(0)
    w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1)  # MinCb 8, CTB 64, TB 4..32, depths
    w.flag(scaling_data)  # scaling_list_enabled_flag
    if scaling_data:
        w.flag(True)  # sps_scaling_list_data_present_flag
        for size_id in range(4):
            for matrix_id in range(0, 6, 3 if size_id == 3 else 1):
                explicit = matrix_id == 0
                w.flag(explicit)
                if not explicit:
                    w.ue(1 if size_id < 3 else 0)
                    continue
                if size_id > 1:
                    w.se(8)
                for i in range(min(64, 1 << (4 + (size_id << 1)))):
                    w.se(1 if i % 2 else -1)
    w.flag(True).flag(True)  # amp, sao
    w.flag(pcm)
    if pcm:
        w.u(4, 7).u(4, 7).ue(0).ue(1).flag(True)
    if rps == "none":
        w.ue(0)
    elif rps == "inter":
        # Set 0: S0 = [-1, -3], S1 = [2].
        w.ue(3)
        w.ue(2).ue(1)
        w.ue(0).flag(True).ue(1).flag(True)  # -1, -3
        w.ue(1).flag(False)  # +2
        # Set 1 from set 0, deltaRps = +1 (7-61, 7-62): -1 + 1 = 0 is dropped, -3 -> -2,
        # 2 -> 3, and deltaRps itself -> +1: S0 = [-2], S1 = [1, 3] -- three pictures, not
        # four, so set 2 codes 3 + 1 = 4 flags.
        w.flag(True).u(1, 0).ue(0)
        w.flag(True).flag(True).flag(True).flag(True)  # j = 0..3 (S0[0], S0[1], S1[0], self)
        # Set 2 from set 1, deltaRps = -2: used flags for j = 0..3, the last one unused and
        # use_delta_flag 0.
        w.flag(True).u(1, 1).ue(1)
        w.flag(True).flag(True).flag(True).flag(False).flag(False)
    else:
        raise AssertionError(rps)
    w.flag(long_term > 0)
    if long_term:
        w.ue(long_term)
        for i in range(long_term):
            w.u(8, i * 7).flag(i % 2 == 0)
    w.flag(True).flag(True)  # temporal mvp, strong intra smoothing
    w.flag(vui)
    if vui:
        w.flag(aspect_idc is not None)
        if aspect_idc is not None:
            w.u(8, aspect_idc)
            if aspect_idc == 255:
                w.u(16, sar[0]).u(16, sar[1])
        w.flag(False)  # overscan_info_present_flag
        w.flag(True).u(3, 5).flag(False).flag(True).u(8, 9).u(8, 16).u(8, 9)
        w.flag(True).ue(2).ue(2)  # chroma_loc_info
        w.flag(False).flag(field_seq).flag(field_seq)
        w.flag(default_display_window)
        if default_display_window:
            w.ue(8).ue(8).ue(0).ue(0)
        w.flag(timing is not None)
        if timing is not None:
            w.u(32, timing[0]).u(32, timing[1]).flag(False).flag(False)
        w.flag(False)  # bitstream_restriction_flag
    w.flag(False)  # sps_extension_present_flag
    return bytes([0x42, 0x01]) + escape(w.rbsp())


def mpeg2_headers(
    *,
    width: int = 1920,
    height: int = 1080,
    aspect: int = 3,
    rate_code: int = 3,
    intra_matrix: bool = False,
    non_intra_matrix: bool = False,
    extension: bool = True,
    progressive: bool = False,
    chroma_format: int = 1,
    rate_ext: tuple[int, int] = (0, 0),
    marker: int = 1,
) -> bytes:
    """A sequence header (13818-2 6.2.2.1), a sequence extension (6.2.2.3), a GOP start code."""
    w = BitWriter().u(12, width & 0xFFF).u(12, height & 0xFFF).u(4, aspect).u(4, rate_code)
    w.u(18, 50_000_000 // 400 & 0x3FFFF).u(1, marker).u(10, 612).flag(False)
    w.flag(intra_matrix)
    if intra_matrix:
        w.bits += [1, 0] * 256
    w.flag(non_intra_matrix)
    if non_intra_matrix:
        w.bits += [0, 1] * 256
    head = bytes(int("".join(map(str, w.bits[i : i + 8])), 2) for i in range(0, len(w.bits), 8))
    out = b"\x00\x00\x01\xb3" + head
    if extension:
        x = BitWriter().u(4, 1).u(8, 0x82).flag(progressive).u(2, chroma_format)
        x.u(2, width >> 12).u(2, height >> 12).u(12, 0).u(1, 1).u(8, 0).flag(False)
        x.u(2, rate_ext[0]).u(5, rate_ext[1])
        out += b"\x00\x00\x01\xb5" + bytes(
            int("".join(map(str, x.bits[i : i + 8])), 2) for i in range(0, len(x.bits), 8)
        )
    return out + b"\x00\x00\x01\xb8\x00\x08\x00\x40"


def annexb(*nals: bytes) -> bytes:
    return b"".join(SC + n for n in nals)


# --- MPEG-2 / MPEG-1 -----------------------------------------------------------------------


def test_mpeg2_576i_fixture() -> None:
    hdr = parse_mpeg2_sequence_header(MPEG2_576I)
    assert hdr.mpeg2
    assert (hdr.width, hdr.height) == (720, 576)
    assert hdr.aspect_ratio_information == 3 and hdr.display_aspect == Fraction(16, 9)
    assert hdr.frame_rate == 25 and not hdr.progressive_sequence
    assert hdr.profile_and_level_indication == 0x48  # Main profile, Main level
    assert hdr.bit_rate == 1_000_000 and hdr.chroma_format == 1
    fmt = inspect_video_es(VideoCoding.MPEG2, b"\x00\x00\x01\xe0junk" + MPEG2_576I)
    assert fmt == VideoFormat(720, 576, Fraction(25), True, Fraction(16, 9), VideoCoding.MPEG2)
    assert fmt.source_format is SourceFormat.SD_576I25
    assert fmt.aspect_ratio is AspectRatio.R16_9


def test_mpeg2_cif_fixture_is_progressive_4_3() -> None:
    fmt = inspect_video_es(VideoCoding.MPEG2, MPEG2_CIF)
    assert fmt == VideoFormat(352, 288, Fraction(25), False, Fraction(4, 3), VideoCoding.MPEG2)
    assert fmt.aspect_ratio is AspectRatio.R4_3


def test_mpeg1_fixture_uses_pel_aspect_and_no_extension() -> None:
    hdr = parse_mpeg2_sequence_header(MPEG1_CIF)
    assert not hdr.mpeg2 and hdr.progressive_sequence
    assert hdr.bit_rate is None  # 0x3FFFF: variable bit rate in 11172-2
    # pel_aspect_ratio code 1 = square pels: DAR = 352 / 288 = 11 / 9.
    assert hdr.display_aspect == Fraction(11, 9)
    # The same answer whether the PMT said MPEG-1 or MPEG-2 video.
    for coding in (VideoCoding.MPEG1, VideoCoding.MPEG2):
        assert inspect_video_es(coding, MPEG1_CIF) == VideoFormat(
            352, 288, Fraction(25), False, Fraction(11, 9), VideoCoding.MPEG1
        )


def test_mpeg1_pel_aspect_16_9_625() -> None:
    # 11172-2 code 3 (0.7031, 16:9 625-line): 720 / (576 * 0.7031) is 16:9 within 0.01 %,
    # and a labelled code reports its label.
    fmt = inspect_video_es(
        VideoCoding.MPEG1, mpeg2_headers(width=720, height=576, aspect=3, extension=False)
    )
    assert fmt is not None and fmt.aspect_ratio is AspectRatio.R16_9
    assert fmt.display_aspect == Fraction(16, 9)
    assert fmt.coding is VideoCoding.MPEG1


def _ts_video_es(path: Path, limit: int = 65536) -> bytes:
    """The PES payloads of the first video PID (stream_id 0xE0-0xEF) of a TS file, joined."""
    data = path.read_bytes()
    video_pid: int | None = None
    out = bytearray()
    for i in range(0, len(data) - 187, 188):
        pkt = data[i : i + 188]
        pid = (pkt[1] & 0x1F) << 8 | pkt[2]
        afc = pkt[3] >> 4 & 3
        if not afc & 1 or (video_pid is not None and pid != video_pid):
            continue
        body = pkt[5 + pkt[4] :] if afc == 3 else pkt[4:]
        if pkt[1] & 0x40:  # payload_unit_start_indicator: a PES header (13818-1 2.4.3.6)
            if body[:3] != b"\x00\x00\x01" or not 0xE0 <= body[3] <= 0xEF:
                continue
            video_pid = pid
            body = body[9 + body[8] :]
        if video_pid is not None:
            out += body
            if len(out) >= limit:
                break
    return bytes(out)


@pytest.mark.parametrize(
    ("name", "coding"),
    [
        # ffmpeg's muxer declares mpeg1video as stream_type 0x02 (see make_media.py).
        ("mpeg1_mp2.ts", VideoCoding.MPEG1),
        ("mpeg2_ac3.ts", VideoCoding.MPEG2),
        ("mpeg2_eac3_s302m.ts", VideoCoding.MPEG2),
    ],
)
def test_mpeg_fixture_files_report_the_coding_of_their_syntax(
    name: str, coding: VideoCoding
) -> None:
    es = _ts_video_es(MEDIA / name)
    # The PMT of all three says stream_type 0x02 (videoMpeg2); the ES says what it is.
    fmt = inspect_video_es(VideoCoding.MPEG2, es)
    assert fmt is not None and fmt.coding is coding
    assert inspect_video_es(VideoCoding.MPEG1, es) == fmt


def test_mpeg1_fixture_file_size_rate_scan_aspect() -> None:
    fmt = inspect_video_es(VideoCoding.MPEG2, _ts_video_es(MEDIA / "mpeg1_mp2.ts"))
    # ffprobe: mpeg1video 352x288, 25 fps, progressive, SAR 1:1 DAR 11:9.
    assert fmt == VideoFormat(352, 288, Fraction(25), False, Fraction(11, 9), VideoCoding.MPEG1)


def test_mpeg1_other_extension_after_the_header_is_still_mpeg1() -> None:
    # 13818-2 6.2.2.1: an MPEG-2 sequence header is followed at once by a sequence_extension
    # (extension_start_code_identifier 1). Any other extension there (here "2", sequence
    # display) is 11172-2 extension_data, so the stream is MPEG-1.
    head = mpeg2_headers(width=352, height=240, aspect=12, rate_code=4, extension=False)
    seq = head[: head.index(b"\x00\x00\x01\xb8")]
    data = seq + b"\x00\x00\x01\xb5\x23\x05\x05\x05" + b"\x00\x00\x01\xb8\x00\x08\x00\x40"
    fmt = inspect_video_es(VideoCoding.MPEG2, data)
    assert fmt is not None and fmt.coding is VideoCoding.MPEG1
    assert fmt == VideoFormat(352, 240, Fraction(30000, 1001), False, Fraction(4, 3), fmt.coding)
    # With identifier 1 it is the MPEG-2 sequence extension.
    fmt2 = inspect_video_es(VideoCoding.MPEG1, mpeg2_headers(width=352, height=240, aspect=2))
    assert fmt2 is not None and fmt2.coding is VideoCoding.MPEG2


def test_mpeg1_header_then_end_of_data_is_not_yet_known() -> None:
    # Until the start code after the header is there, MPEG-1 and MPEG-2 cannot be told apart.
    head = mpeg2_headers(width=352, height=288, aspect=1, extension=False)
    seq = head[: head.index(b"\x00\x00\x01\xb8")]
    for tail in (b"", b"\x00\x00", b"\x00\x00\x01", b"\x00\x00\x01\xb5"):
        assert inspect_video_es(VideoCoding.MPEG2, seq + tail) is None, tail


@pytest.mark.parametrize(
    ("code", "width", "height", "dar", "aspect"),
    [
        # Square pels: the frame's own shape.
        (1, 352, 288, Fraction(11, 9), AspectRatio.OTHER),
        (1, 320, 240, Fraction(4, 3), AspectRatio.R4_3),
        (1, 640, 360, Fraction(16, 9), AspectRatio.R16_9),
        # Labelled codes (11172-2 2.4.3.2) within 3 % of their label report the label.
        (3, 720, 576, Fraction(16, 9), AspectRatio.R16_9),  # "16:9, 625 line"
        (3, 704, 576, Fraction(16, 9), AspectRatio.R16_9),  # 1.738 computed
        (6, 720, 480, Fraction(16, 9), AspectRatio.R16_9),  # "16:9, 525 line", 1.778
        (8, 720, 576, Fraction(4, 3), AspectRatio.R4_3),  # "CCIR601, 625 line", 1.365
        (8, 704, 576, Fraction(4, 3), AspectRatio.R4_3),  # 1.335
        (8, 352, 288, Fraction(4, 3), AspectRatio.R4_3),
        (12, 720, 480, Fraction(4, 3), AspectRatio.R4_3),  # "CCIR601, 525 line", 1.370
        (12, 352, 240, Fraction(4, 3), AspectRatio.R4_3),
        # Labelled code, but a frame far from the label: the computed value.
        (8, 480, 576, Fraction(480, 576) / Fraction("0.9157"), AspectRatio.OTHER),
        # Unlabelled codes: always the computed value W / (H * pel).
        (2, 720, 576, Fraction(720, 576) / Fraction("0.6735"), AspectRatio.OTHER),
        (9, 640, 480, Fraction(640, 480) / Fraction("0.9815"), AspectRatio.OTHER),
        (14, 720, 480, Fraction(720, 480) / Fraction("1.2015"), AspectRatio.OTHER),
    ],
)
def test_mpeg1_pel_aspect_codes(
    code: int, width: int, height: int, dar: Fraction, aspect: AspectRatio
) -> None:
    data = mpeg2_headers(width=width, height=height, aspect=code, rate_code=3, extension=False)
    fmt = inspect_video_es(VideoCoding.MPEG2, data)
    assert fmt is not None
    assert fmt.coding is VideoCoding.MPEG1
    assert (fmt.width, fmt.height, fmt.frame_rate) == (width, height, Fraction(25))
    assert not fmt.interlaced  # MPEG-1 is always progressive
    assert fmt.display_aspect == dar
    assert fmt.aspect_ratio is aspect


def test_mpeg2_aspect_codes_are_display_aspect_not_pel_aspect() -> None:
    # The same code 3 means DAR 16:9 in 13818-2 Table 6-3 for any frame size, and the
    # sequence extension's progressive_sequence 0 keeps MPEG-2 interlaced.
    fmt = inspect_video_es(VideoCoding.MPEG2, mpeg2_headers(width=480, height=576, aspect=3))
    assert fmt is not None and fmt.coding is VideoCoding.MPEG2
    assert fmt.display_aspect == Fraction(16, 9) and fmt.interlaced


def test_mpeg2_with_matrices_size_and_rate_extensions() -> None:
    data = mpeg2_headers(
        width=4096 + 3840 - 4096,
        height=2160,
        aspect=1,
        rate_code=3,
        intra_matrix=True,
        non_intra_matrix=True,
        progressive=True,
        chroma_format=2,
        rate_ext=(1, 0),
    )
    hdr = parse_mpeg2_sequence_header(data)
    assert (hdr.width, hdr.height) == (3840, 2160)
    assert hdr.frame_rate == 50  # 25 * (1 + 1) / (0 + 1)
    assert hdr.chroma_format == 2 and hdr.progressive_sequence
    assert hdr.display_aspect == Fraction(16, 9)  # square samples: 3840 / 2160
    assert hdr.video_format().source_format is SourceFormat.UHD_2160P50


def test_mpeg2_size_extension_bits() -> None:
    hdr = parse_mpeg2_sequence_header(mpeg2_headers(width=4096 + 96, height=4096 + 8))
    assert (hdr.width, hdr.height) == (4192, 4104)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aspect": 0}, "aspect_ratio_information 0 is forbidden"),
        ({"rate_code": 0}, "frame_rate_code 0 is forbidden"),
        ({"marker": 0}, "marker_bit after bit_rate_value is 0"),
        ({"chroma_format": 0}, "chroma_format 0 is reserved"),
        ({"width": 0}, r"picture size 0x1080 is forbidden"),
        ({"extension": False, "aspect": 15}, "pel_aspect_ratio\\) 15 is reserved"),
    ],
)
def test_mpeg2_corrupt_headers(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inspect_video_es(VideoCoding.MPEG2, mpeg2_headers(**kwargs))  # type: ignore[arg-type]


def test_mpeg2_garbage_after_header() -> None:
    data = MPEG2_576I[:12] + b"\x55\x00\x00\x01\xb5"
    with pytest.raises(ValueError, match="byte 0x55 after the header"):
        inspect_video_es(VideoCoding.MPEG2, data)


def test_mpeg2_reserved_frame_rate_gives_none_rate() -> None:
    fmt = inspect_video_es(VideoCoding.MPEG2, mpeg2_headers(rate_code=9))
    assert fmt is not None and fmt.frame_rate is None
    assert fmt.source_format is SourceFormat.UNSPECIFIED


def test_mpeg2_truncated_is_none() -> None:
    # Every cut of the header + extension is "not enough data yet", never an error: the
    # ES buffer is the start of the stream, and more bytes will come.
    for n in range(len(MPEG2_576I)):
        if n < 22:  # 12 header bytes, 10 extension bytes (start code + 6)
            assert inspect_video_es(VideoCoding.MPEG2, MPEG2_576I[:n]) is None, n
    assert inspect_video_es(VideoCoding.MPEG2, MPEG2_576I[:22]) is not None
    big = mpeg2_headers(intra_matrix=True, non_intra_matrix=True)
    assert all(inspect_video_es(VideoCoding.MPEG2, big[:n]) is None for n in range(150))
    assert inspect_video_es(VideoCoding.MPEG2, big) is not None


# --- H.264 ---------------------------------------------------------------------------------


def test_h264_720p50_fixture() -> None:
    sps = parse_h264_sps(H264_720P50)
    assert (sps.profile_idc, sps.level_idc) == (100, 32)
    assert (sps.width, sps.height) == (1280, 720) and sps.frame_mbs_only
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 100)
    assert sps.frame_rate == 50 and sps.sar == 1
    fmt = inspect_video_es(VideoCoding.H264, AUD + SC + H264_720P50 + SC + b"\x68\xeb")
    assert fmt == VideoFormat(1280, 720, Fraction(50), False, Fraction(16, 9), VideoCoding.H264)
    assert fmt.source_format is SourceFormat.HD_720P50


def test_h264_1080i25_fixture_cropping_and_mbaff() -> None:
    sps = parse_h264_sps(H264_1080I25)
    assert (sps.profile_idc, sps.constraint_flags, sps.level_idc) == (77, 0x40, 40)
    assert (sps.coded_width, sps.coded_height) == (1920, 1088)
    assert (sps.width, sps.height) == (1920, 1080)
    assert not sps.frame_mbs_only and sps.mb_adaptive_frame_field
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 50)
    fmt = sps.video_format()
    assert fmt == VideoFormat(1920, 1080, Fraction(25), True, Fraction(16, 9), VideoCoding.H264)
    assert fmt.source_format is SourceFormat.HD_1080I25


def test_h264_high_422_with_scaling_matrices() -> None:
    sps = parse_h264_sps(H264_422_CQM)
    assert sps.profile_idc == 122 and sps.chroma_format_idc == 2
    assert (sps.bit_depth_luma, sps.bit_depth_chroma) == (10, 10)
    assert (sps.coded_width, sps.coded_height) == (352, 208)
    assert (sps.width, sps.height) == (350, 200)  # CropUnitX 2, CropUnitY 1 for 4:2:2
    assert sps.sar == Fraction(44, 63) and sps.display_aspect == Fraction(11, 9)
    assert sps.frame_rate == 25


def test_h264_high_444() -> None:
    sps = parse_h264_sps(H264_444)
    assert sps.profile_idc == 244 and sps.chroma_format_idc == 3
    assert not sps.separate_colour_plane
    assert sps.video_format() == VideoFormat(
        352, 288, Fraction(25), False, Fraction(11, 9), VideoCoding.H264
    )


def test_h264_480i_2997() -> None:
    fmt = parse_h264_sps(H264_480I2997).video_format()
    assert fmt == VideoFormat(
        720, 480, Fraction(30000, 1001), True, Fraction(3, 2), VideoCoding.H264
    )
    assert fmt.source_format is SourceFormat.SD_480I2997


def test_h264_without_sar_has_no_aspect() -> None:
    sps = parse_h264_sps(H264_NO_SAR)
    assert sps.profile_idc == 66 and sps.sar is None
    fmt = sps.video_format()
    assert fmt.display_aspect is None and fmt.frame_rate == Fraction(24000, 1001)
    assert fmt.aspect_ratio is AspectRatio.UNSPECIFIED


def test_h264_hand_made_extended_sar_poc1_scaling() -> None:
    nal = h264_sps(
        scaling=True,
        poc_type=1,
        width_mbs=45,
        height_map_units=36,
        aspect_idc=255,
        sar=(64, 45),
        timing=(1001, 60000),
        sps_id=31,
    )
    sps = parse_h264_sps(nal)
    assert sps.seq_parameter_set_id == 31
    assert (sps.width, sps.height) == (720, 576)
    assert sps.sar == Fraction(64, 45)
    # DAR = 64/45 * 720/576 = 16/9
    assert sps.video_format() == VideoFormat(
        720, 576, Fraction(30000, 1001), False, Fraction(16, 9), VideoCoding.H264
    )


def test_h264_hand_made_444_separate_planes_cropping() -> None:
    # ChromaArrayType 0: CropUnitX 1, CropUnitY 2 - frame_mbs_only_flag = 2 for fields.
    nal = h264_sps(
        chroma_format_idc=3,
        separate_colour_plane=True,
        frame_mbs_only=False,
        width_mbs=120,
        height_map_units=34,
        crop=(1, 3, 2, 6),
    )
    sps = parse_h264_sps(nal)
    assert sps.separate_colour_plane
    assert (sps.width, sps.height) == (1920 - 4, 1088 - 2 * 8)


def test_h264_hand_made_no_vui() -> None:
    fmt = parse_h264_sps(h264_sps(vui=False)).video_format()
    assert fmt == VideoFormat(1920, 1088, None, False, None, VideoCoding.H264)
    assert fmt.source_format is SourceFormat.UNSPECIFIED


def test_h264_reserved_and_zero_sar_are_unspecified() -> None:
    assert parse_h264_sps(h264_sps(aspect_idc=0)).sar is None
    assert parse_h264_sps(h264_sps(aspect_idc=200)).sar is None
    assert parse_h264_sps(h264_sps(aspect_idc=255, sar=(0, 1))).sar is None
    assert parse_h264_sps(h264_sps(aspect_idc=14)).sar == Fraction(4, 3)


def test_h264_emulation_prevention_is_removed() -> None:
    # num_units_in_tick 1 and time_scale 0x300 put a run of zero bytes in the RBSP, which
    # is escaped (the reader would be a byte off if the 03 were left in).
    nal = h264_sps(timing=(1, 0x300))
    rbsp_len = len(nal[:1] + nal[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    assert len(nal) - rbsp_len >= 1
    sps = parse_h264_sps(nal)
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 0x300)


def test_emulation_prevention_bytes_are_dropped_left_to_right() -> None:
    # 7.4.1: the 03 of each 00 00 03 is dropped and the scan goes on after it, so a second
    # 03 is data, and 00 00 03 00 00 03 01 is two escapes.
    assert _rbsp(bytes.fromhex("0000030301")) == bytes.fromhex("00000301")
    assert _rbsp(bytes.fromhex("00000300000301")) == bytes.fromhex("0000000001")
    assert _rbsp(bytes.fromhex("000300")) == bytes.fromhex("000300")
    assert escape(bytes.fromhex("0000000001")) == bytes.fromhex("00000300000301")


@pytest.mark.parametrize(
    ("nal", "message"),
    [
        (h264_sps(poc_type=3), r"pic_order_cnt_type = 3 is out of range"),
        (h264_sps(sps_id=32), r"seq_parameter_set_id = 32 is out of range"),
        (h264_sps(chroma_format_idc=4), r"chroma_format_idc = 4 is out of range"),
        (h264_sps(timing=(0, 50)), "num_units_in_tick is 0"),
        (h264_sps(timing=(1, 0)), "time_scale is 0"),
        (h264_sps(crop=(0, 0, 300, 300)), "frame cropping .* leaves no picture"),
        (h264_sps(width_mbs=2000), "pic_width_in_mbs_minus1 = 1999 is out of range"),
        (b"\xe7" + h264_sps()[1:], "forbidden_zero_bit is 1"),
        (b"\x67" + escape(bytes([100, 0, 40, 0, 0, 0, 0, 0, 0x80])), "longer than 32 bits"),
    ],
)
def test_h264_corrupt_sps(nal: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_h264_sps(nal)
    # Through the entry point too, when the NAL unit is complete (a start code follows).
    with pytest.raises(ValueError, match=message):
        inspect_video_es(VideoCoding.H264, annexb(nal, b"\x68\xce"))


def test_h264_truncated_sps() -> None:
    es = AUD + SC + H264_720P50
    # Cut anywhere: not enough data yet.
    for n in range(len(es)):
        fmt = inspect_video_es(VideoCoding.H264, es[:n])
        assert fmt is None or fmt.width == 1280, n
    assert inspect_video_es(VideoCoding.H264, es[: len(AUD) + 10]) is None
    # Cut, but followed by the next start code: the SPS is complete and too short.
    with pytest.raises(ValueError, match="H.264 SPS: data ends inside"):
        inspect_video_es(VideoCoding.H264, AUD + SC + H264_720P50[:12] + SC + b"\x68\xeb")


def test_h264_finds_the_sps_after_other_nal_units() -> None:
    sei = b"\x06\x05\x02\xaa\xbb\x80"
    es = b"\x00\x00\x00\x00" + annexb(b"\x09\xf0", sei, H264_480I2997, b"\x68\xce\x38\x80")
    fmt = inspect_video_es(VideoCoding.H264, es)
    assert fmt is not None and fmt.height == 480
    assert inspect_video_es(VideoCoding.H264, annexb(b"\x09\xf0", sei)) is None


# --- H.265 ---------------------------------------------------------------------------------


def test_hevc_540p25_fixture() -> None:
    sps = parse_hevc_sps(HEVC_540P25)
    assert (sps.general_profile_idc, sps.general_level_idc) == (1, 90)
    assert sps.general_progressive_source and not sps.general_interlaced_source
    assert (sps.coded_width, sps.coded_height) == (960, 544)
    assert (sps.width, sps.height) == (960, 540)
    assert (sps.num_units_in_tick, sps.time_scale) == (1, 25)
    fmt = inspect_video_es(VideoCoding.HEVC, annexb(b"\x46\x01\x50", HEVC_540P25, b"\x44\x01"))
    assert fmt == VideoFormat(960, 540, Fraction(25), False, Fraction(16, 9), VideoCoding.HEVC)
    assert fmt.source_format is SourceFormat.OTHER


def test_hevc_field_pictures() -> None:
    sps = parse_hevc_sps(HEVC_FIELDS)
    assert sps.field_seq and sps.general_interlaced_source
    assert (sps.width, sps.height) == (352, 288)
    assert sps.sar == Fraction(64, 33)
    fmt = sps.video_format()
    # 288-line fields make 576-line frames; 25 fields/s make 12.5 frames/s. The SAR is the
    # field samples': DAR = 64/33 * 352/288 = 64/27 (ffprobe, which shows fields, agrees).
    assert fmt == VideoFormat(352, 576, Fraction(25, 2), True, Fraction(64, 27), VideoCoding.HEVC)


def test_hevc_rext_422() -> None:
    sps = parse_hevc_sps(HEVC_422)
    assert sps.general_profile_idc == 4 and sps.chroma_format_idc == 2
    assert (sps.bit_depth_luma, sps.bit_depth_chroma) == (10, 10)
    assert (sps.coded_width, sps.coded_height) == (352, 208)
    assert (sps.width, sps.height) == (350, 200)
    assert sps.video_format() == VideoFormat(
        350, 200, Fraction(25), False, Fraction(50, 9), VideoCoding.HEVC
    )


def test_hevc_hand_made_everything_before_the_vui() -> None:
    nal = hevc_sps(
        sub_layers_minus1=3,
        scaling_data=True,
        pcm=True,
        rps="inter",
        long_term=3,
        aspect_idc=255,
        sar=(4, 3),
        default_display_window=True,
        timing=(1001, 60000),
        window=(0, 0, 0, 4),
        width=1440,
        height=1088,
    )
    sps = parse_hevc_sps(nal)
    assert sps.max_sub_layers == 4 and sps.general_level_idc == 123
    assert (sps.width, sps.height) == (1440, 1080)
    assert sps.sar == Fraction(4, 3) and not sps.field_seq
    # 1440 x 4/3 = 1920 wide for 1080 lines; 60000/1001 pictures/s.
    assert sps.video_format() == VideoFormat(
        1440, 1080, Fraction(60000, 1001), False, Fraction(16, 9), VideoCoding.HEVC
    )


def test_hevc_inter_rps_count_is_checked_by_what_follows() -> None:
    # If the reader took set 1 to have four pictures (keeping the dPoc = 0 entry), it would
    # read one flag too many for set 2 and the VUI after it would come out wrong.
    good = parse_hevc_sps(hevc_sps(rps="inter", aspect_idc=14, timing=(1, 50)))
    assert good.sar == Fraction(4, 3) and good.time_scale == 50


def test_hevc_interlaced_source_frames() -> None:
    # Frames made of two fields, no field_seq_flag: interlaced, frame size and rate as coded.
    sps = parse_hevc_sps(hevc_sps(progressive=0, interlaced=1, timing=(1, 25)))
    assert sps.video_format() == VideoFormat(
        1920, 1080, Fraction(25), True, Fraction(16, 9), VideoCoding.HEVC
    )
    # Both source flags 1 (unknown): taken as progressive.
    assert not parse_hevc_sps(hevc_sps(progressive=1, interlaced=1)).interlaced


def test_hevc_field_seq_hand_made_1080i() -> None:
    sps = parse_hevc_sps(
        hevc_sps(height=544, window=(0, 0, 0, 2), field_seq=True, aspect_idc=255, sar=(1, 2))
    )
    # 1920x540 fields with SAR 1:2 (samples twice as tall as wide): 16:9, 1080i25.
    fmt = sps.video_format()
    assert fmt == VideoFormat(1920, 1080, Fraction(25), True, Fraction(16, 9), VideoCoding.HEVC)
    assert fmt.source_format is SourceFormat.HD_1080I25


def test_hevc_no_vui_and_monochrome() -> None:
    sps = parse_hevc_sps(hevc_sps(vui=False, chroma_format_idc=0, window=(1, 1, 0, 8)))
    assert (sps.width, sps.height) == (1918, 1080)  # SubWidthC = SubHeightC = 1
    assert sps.video_format().frame_rate is None and sps.display_aspect is None


def test_hevc_skips_sps_of_other_layers() -> None:
    layer1 = bytes([0x42, 0x09]) + HEVC_FIELDS[2:]  # nuh_layer_id = 1
    fmt = inspect_video_es(VideoCoding.HEVC, annexb(layer1, HEVC_540P25, b"\x44\x01"))
    assert fmt is not None and fmt.width == 960
    assert inspect_video_es(VideoCoding.HEVC, annexb(layer1, b"\x44\x01")) is None


@pytest.mark.parametrize(
    ("nal", "message"),
    [
        (hevc_sps(width=0), "picture size 0x1088 is forbidden"),
        (hevc_sps(width=1921), "not a multiple of MinCbSizeY 8"),
        (hevc_sps(width=20000), "pic_width_in_luma_samples = 20000 is out of range"),
        (hevc_sps(chroma_format_idc=5), "chroma_format_idc = 5 is out of range"),
        (hevc_sps(sub_layers_minus1=7), r"sps_max_sub_layers_minus1 = 7 is out of range"),
        (hevc_sps(timing=(0, 25)), "vui_num_units_in_tick is 0"),
        (hevc_sps(window=(0, 0, 300, 300)), "conformance window .* leaves no picture"),
        (b"\xc2\x01" + hevc_sps()[2:], "forbidden_zero_bit is 1"),
        (b"\x42\x00" + hevc_sps()[2:], "nuh_temporal_id_plus1 is 0"),
    ],
)
def test_hevc_corrupt_sps(nal: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hevc_sps(nal)
    if nal[1] & 0xF8 == 0:  # base layer: the entry point finds it
        with pytest.raises(ValueError, match=message):
            inspect_video_es(VideoCoding.HEVC, annexb(nal, b"\x44\x01"))


def test_hevc_truncated_sps() -> None:
    es = annexb(b"\x40\x01\x0c", HEVC_540P25)
    results = [inspect_video_es(VideoCoding.HEVC, es[:n]) for n in range(len(es) + 1)]
    assert results[len(es) - 10] is None
    assert results[-1] is not None and results[-1].width == 960
    with pytest.raises(ValueError, match="H.265 SPS: data ends inside"):
        inspect_video_es(VideoCoding.HEVC, annexb(HEVC_540P25[:20], b"\x44\x01"))


# --- entry point, garbage ------------------------------------------------------------------


def test_supported_codings_and_others_give_none() -> None:
    assert SUPPORTED_CODINGS == {
        VideoCoding.MPEG1,
        VideoCoding.MPEG2,
        VideoCoding.MPEG4_PART2,
        VideoCoding.H264,
        VideoCoding.HEVC,
    }
    for coding in set(VideoCoding) - SUPPORTED_CODINGS:
        assert inspect_video_es(coding, MPEG2_576I + SC + H264_720P50) is None
    for coding in SUPPORTED_CODINGS:
        assert inspect_video_es(coding, b"") is None
        assert inspect_video_es(coding, b"\x00\x00\x01") is None


def _check(coding: VideoCoding, data: bytes) -> None:
    try:
        result = inspect_video_es(coding, data)
    except ValueError:
        return
    assert result is None or isinstance(result, VideoFormat)
    if result is not None:
        assert 0 < result.width <= 16896 and 0 < result.height <= 2 * 16896


CODINGS = st.sampled_from(sorted(SUPPORTED_CODINGS, key=lambda c: c.value))
PREFIX = {
    VideoCoding.MPEG1: b"\x00\x00\x01\xb3",
    VideoCoding.MPEG2: b"\x00\x00\x01\xb3",
    VideoCoding.H264: SC + b"\x67",
    VideoCoding.HEVC: SC + b"\x42\x01",
    VideoCoding.MPEG4_PART2: b"\x00\x00\x01\x20",
}
# The VOL header of ffmpeg 5.1's mpeg4 encoder, 720x576 25 fps 16:9 (test_video_mpeg4.py).
MPEG4_VOL = bytes.fromhex("0000012000c4fa016d8800cd1684481443000001b2")
REAL = {
    VideoCoding.MPEG1: [MPEG1_CIF],
    VideoCoding.MPEG2: [MPEG2_576I, MPEG2_CIF],
    VideoCoding.H264: [SC + s for s in (H264_720P50, H264_1080I25, H264_422_CQM, H264_444)],
    VideoCoding.HEVC: [SC + s for s in (HEVC_540P25, HEVC_FIELDS, HEVC_422)],
    VideoCoding.MPEG4_PART2: [MPEG4_VOL],
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coding=CODINGS, body=st.binary(max_size=200), tail=st.booleans())
def test_fuzz_random_parameter_sets(coding: VideoCoding, body: bytes, tail: bool) -> None:
    _check(coding, PREFIX[coding] + body + (SC + b"\x01" if tail else b""))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    coding=CODINGS,
    which=st.integers(0, 3),
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 200),
    tail=st.booleans(),
)
def test_fuzz_mutated_real_parameter_sets(
    coding: VideoCoding, which: int, edits: list[tuple[int, int]], cut: int, tail: bool
) -> None:
    real = REAL[coding]
    data = bytearray(real[which % len(real)])
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    _check(coding, bytes(data[: max(cut, 4)]) + (SC + b"\x01" if tail else b""))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_fuzz_any_bytes_any_coding(data: bytes) -> None:
    for coding in VideoCoding:
        _check(coding, data)


@pytest.mark.parametrize(
    ("width_mbs", "height_map_units", "aspect_idc", "want", "ratio"),
    [
        # ETSI TS 101 154: DVB signals 4:3 and 16:9 SD with the ITU-R BT.601 sample aspect
        # ratios; the picture is the 702/704 samples in the middle of a 720-sample line
        (45, 36, 2, Fraction(4, 3), AspectRatio.R4_3),  # 720x576, SAR 12:11
        (45, 36, 4, Fraction(16, 9), AspectRatio.R16_9),  # 720x576, SAR 16:11
        (44, 36, 2, Fraction(4, 3), AspectRatio.R4_3),  # 704x576, SAR 12:11
        (44, 36, 4, Fraction(16, 9), AspectRatio.R16_9),  # 704x576, SAR 16:11
        (45, 30, 3, Fraction(4, 3), AspectRatio.R4_3),  # 720x480, SAR 10:11
        (45, 30, 5, Fraction(16, 9), AspectRatio.R16_9),  # 720x480, SAR 40:33
        (45, 36, 1, Fraction(5, 4), AspectRatio.OTHER),  # 720x576 square samples: 5:4
    ],
)
def test_sd_bt601_sample_aspect_ratios(
    width_mbs: int, height_map_units: int, aspect_idc: int, want: Fraction, ratio: AspectRatio
) -> None:
    fmt = parse_h264_sps(
        h264_sps(width_mbs=width_mbs, height_map_units=height_map_units, aspect_idc=aspect_idc)
    ).video_format()
    assert fmt.display_aspect == want and fmt.aspect_ratio is ratio
    hevc = parse_hevc_sps(
        hevc_sps(
            width=width_mbs * 16, height=height_map_units * 16, window=None, aspect_idc=aspect_idc
        )
    ).video_format()
    assert hevc.display_aspect == want and hevc.aspect_ratio is ratio
