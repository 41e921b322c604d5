"""MPEG-4 Part 2 video: the VideoObjectLayer header (ISO/IEC 14496-2 6.2.3, semantics 6.3.3).

Pure computation. What the VOL header says of the picture:

- size: video_object_layer_width / _height (rectangular shape only; other shapes have none);
- scan: the ``interlaced`` flag;
- sample aspect ratio: aspect_ratio_info (Table 6-12), or par_width / par_height for
  extended_PAR; the display aspect ratio is SAR * width / height (``formats.display_aspect_of``);
- frame rate: vop_time_increment_resolution / fixed_vop_time_increment when fixed_vop_rate is
  1. With fixed_vop_rate 0 the VOL does not fix the rate; encoders that count one tick per
  frame (ffmpeg's, for integer rates) then send the rate as vop_time_increment_resolution, and
  ffmpeg's decoder reads it so. That reading is taken here only when the resolution is a frame
  rate the media formats know (24, 25, 30, 50, 60); otherwise the rate is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .formats import VideoCoding, VideoFormat, display_aspect_of
from .video_bits import BitReader, Truncated

# 14496-2 Table 6-12: aspect_ratio_info -> pixel aspect ratio; 0 forbidden, 6-14 reserved.
_PAR = {
    1: Fraction(1, 1),
    2: Fraction(12, 11),
    3: Fraction(10, 11),
    4: Fraction(16, 11),
    5: Fraction(40, 33),
}
_EXTENDED_PAR = 15
_RECTANGULAR, _BINARY_ONLY, _GRAYSCALE = 0, 2, 3
_TICK_RATES = frozenset({24, 25, 30, 50, 60})  # vop_time_increment_resolution read as a rate


@dataclass(frozen=True, slots=True)
class Mpeg4Vol:
    """The fields of a VideoObjectLayer header that describe the picture (width and height
    0 when the shape is not rectangular, par None when aspect_ratio_info is reserved)."""

    video_object_type_indication: int
    verid: int
    par: Fraction | None
    chroma_format: int
    low_delay: bool
    shape: int
    vop_time_increment_resolution: int
    fixed_vop_time_increment: int  # 0 when fixed_vop_rate is 0
    width: int
    height: int
    interlaced: bool

    @property
    def frame_rate(self) -> Fraction | None:
        """Frames per second (see the module docstring), or None."""
        res = self.vop_time_increment_resolution
        if self.fixed_vop_time_increment:
            return Fraction(res, self.fixed_vop_time_increment)
        return Fraction(res) if res in _TICK_RATES else None

    @property
    def display_aspect(self) -> Fraction | None:
        return display_aspect_of(self.par, self.width, self.height)

    def video_format(self) -> VideoFormat:
        return VideoFormat(
            width=self.width,
            height=self.height,
            frame_rate=self.frame_rate,
            interlaced=self.interlaced,
            display_aspect=self.display_aspect,
            coding=VideoCoding.MPEG4_PART2,
        )


def _marker(r: BitReader, after: str) -> None:
    if not r.flag("marker_bit"):
        raise r.error(f"marker_bit after {after} is 0")


def parse_mpeg4_vol(data: bytes) -> Mpeg4Vol:
    """Parse a VOL header starting at its start code 00 00 01 2x (14496-2 6.2.3) up to the
    ``interlaced`` flag. Raises ``Truncated`` when the data ends inside it, ValueError (naming
    the syntax element) when a value is forbidden."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x01" or data[3] & 0xF0 != 0x20:
        raise ValueError("MPEG-4 VOL header: does not start with 00 00 01 2x")
    r = BitReader(data[4:], "MPEG-4 VOL header")
    r.skip(1, "random_accessible_vol")
    vo_type = r.u(8, "video_object_type_indication")
    verid = 1
    if r.flag("is_object_layer_identifier"):
        verid = r.u(4, "video_object_layer_verid")
        r.skip(3, "video_object_layer_priority")
    info = r.u(4, "aspect_ratio_info")
    if info == 0:
        raise r.error("aspect_ratio_info 0 is forbidden")
    par = _PAR.get(info)
    if info == _EXTENDED_PAR:
        pw, ph = r.u(8, "par_width"), r.u(8, "par_height")
        if pw == 0 or ph == 0:
            raise r.error(f"par_width / par_height {pw}/{ph}: 0 is forbidden")
        par = Fraction(pw, ph)
    chroma_format, low_delay = 1, False
    if r.flag("vol_control_parameters"):
        chroma_format = r.u(2, "chroma_format")
        low_delay = r.flag("low_delay")
        if r.flag("vbv_parameters"):
            for bits, name in (
                (15, "first_half_bit_rate"),
                (15, "latter_half_bit_rate"),
                (15, "first_half_vbv_buffer_size"),
            ):
                r.skip(bits, name)
                _marker(r, name)
            r.skip(3, "latter_half_vbv_buffer_size")
            r.skip(11, "first_half_vbv_occupancy")
            _marker(r, "first_half_vbv_occupancy")
            r.skip(15, "latter_half_vbv_occupancy")
            _marker(r, "latter_half_vbv_occupancy")
    shape = r.u(2, "video_object_layer_shape")
    if shape == _GRAYSCALE and verid != 1:
        r.skip(4, "video_object_layer_shape_extension")
    _marker(r, "video_object_layer_shape")
    res = r.u(16, "vop_time_increment_resolution")
    if res == 0:
        raise r.error("vop_time_increment_resolution 0 is forbidden")
    _marker(r, "vop_time_increment_resolution")
    increment = 0
    if r.flag("fixed_vop_rate"):
        # as many bits as the range [0, vop_time_increment_resolution) needs, at least 1
        increment = r.u(max(1, (res - 1).bit_length()), "fixed_vop_time_increment")
        if increment == 0:
            raise r.error("fixed_vop_time_increment 0 is forbidden")
    width = height = 0
    interlaced = False
    if shape != _BINARY_ONLY:
        if shape == _RECTANGULAR:
            _marker(r, "fixed_vop_rate")
            width = r.u(13, "video_object_layer_width")
            _marker(r, "video_object_layer_width")
            height = r.u(13, "video_object_layer_height")
            _marker(r, "video_object_layer_height")
            if width == 0 or height == 0:
                raise r.error(f"picture size {width}x{height} is forbidden")
        interlaced = r.flag("interlaced")
    return Mpeg4Vol(
        video_object_type_indication=vo_type,
        verid=verid,
        par=par,
        chroma_format=chroma_format,
        low_delay=low_delay,
        shape=shape,
        vop_time_increment_resolution=res,
        fixed_vop_time_increment=increment,
        width=width,
        height=height,
        interlaced=interlaced,
    )


def inspect_mpeg4(es: bytes) -> VideoFormat | None:
    """The format the first VOL header of an MPEG-4 Part 2 stream gives, None while the data
    holds no whole one (``es`` is the start of the stream) or when its shape is not
    rectangular (such a layer has no picture size)."""
    pos = 0
    while True:
        pos = es.find(b"\x00\x00\x01", pos)
        if pos < 0 or pos + 3 >= len(es):
            return None
        if es[pos + 3] & 0xF0 == 0x20:  # video_object_layer_start_code 0x20-0x2F
            break
        pos += 3
    try:
        vol = parse_mpeg4_vol(es[pos:])
    except Truncated:
        return None
    return vol.video_format() if vol.shape == _RECTANGULAR else None
