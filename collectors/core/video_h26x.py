"""H.264 and H.265 sequence parameter sets: picture size, frame rate, scan and aspect ratio.

See video_es for the clauses followed and the rules for scan, frame rate and aspect ratio;
``inspect_nal`` is its entry point for Annex B byte streams. Pure computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .formats import VideoCoding, VideoFormat, display_aspect_of
from .video_bits import MAX_DIMENSION, BitReader, Truncated, find_nal, rbsp

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
        return display_aspect_of(self.sar, self.width, self.height)

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.height,
            frame_rate=self.frame_rate,
            interlaced=not self.frame_mbs_only,
            display_aspect=self.display_aspect,
            coding=VideoCoding.H264,
        )


def _sar(r: BitReader) -> Fraction | None:
    """aspect_ratio_idc and, for Extended_SAR, sar_width / sar_height (E.1.1 / E.2.1)."""
    idc = r.u(8, "aspect_ratio_idc")
    if idc == _EXTENDED_SAR:
        sar_w = r.u(16, "sar_width")
        sar_h = r.u(16, "sar_height")
        # E.2.1: sar_width and sar_height 0 (either) mean unspecified.
        return Fraction(sar_w, sar_h) if sar_w and sar_h else None
    pair = _SAR_TABLE.get(idc)
    return None if pair is None else Fraction(*pair)


def _vui_start(r: BitReader) -> Fraction | None:
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


def _h264_scaling_list(r: BitReader, size: int, index: int) -> None:
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
        raise Truncated(f"{what}: empty NAL unit")
    if nal[0] & 0x80:
        raise ValueError(f"{what}: forbidden_zero_bit is 1")
    if nal[0] & 0x1F != _H264_SPS:
        raise ValueError(f"{what}: nal_unit_type is {nal[0] & 0x1F}, not 7")
    r = BitReader(rbsp(nal[1:]), what)
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
        return display_aspect_of(self.sar, self.width, self.height)

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.frame_height,
            frame_rate=self.frame_rate,
            interlaced=self.interlaced,
            display_aspect=self.display_aspect,
            coding=VideoCoding.HEVC,
        )


def _hevc_profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> tuple[int, ...]:
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


def _hevc_scaling_list_data(r: BitReader) -> None:
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


def _hevc_st_ref_pic_sets(r: BitReader, count: int) -> None:
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
        raise Truncated(f"{what}: NAL unit header is cut short")
    if nal[0] & 0x80:
        raise ValueError(f"{what}: forbidden_zero_bit is 1")
    if (nal[0] >> 1) & 0x3F != _HEVC_SPS:
        raise ValueError(f"{what}: nal_unit_type is {(nal[0] >> 1) & 0x3F}, not 33")
    if nal[1] & 0x07 == 0:
        raise ValueError(f"{what}: nuh_temporal_id_plus1 is 0")
    r = BitReader(rbsp(nal[2:]), what)
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


def inspect_nal(es: bytes, hevc: bool) -> VideoFormat | None:
    found = find_nal(es, _HEVC_SPS if hevc else _H264_SPS, hevc)
    if found is None:
        return None
    nal, complete = found
    try:
        sps = parse_hevc_sps(nal) if hevc else parse_h264_sps(nal)
    except Truncated:
        if complete:
            raise
        return None
    return sps.video_format()
