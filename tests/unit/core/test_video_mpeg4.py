"""MPEG-4 Part 2 video: the VideoObjectLayer header (collectors/core/video_mpeg4.py).

An ffmpeg-made stream (libavcodec's mpeg4 encoder, checked against ffprobe) and VOL headers
written by hand with the bit writer of test_video_es, so every value they carry is known.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.formats import AspectRatio, SourceFormat, VideoCoding, VideoFormat
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.core.video_es import SUPPORTED_CODINGS, inspect_video_es
from iec62379.collectors.core.video_mpeg4 import parse_mpeg4_vol
from test_video_es import BitWriter, _ts_video_es

VOS = bytes.fromhex("000001b001000001b58913000001000000")  # sequence, visual object, VO 0


def vol(
    *,
    object_layer_id: bool = False,
    aspect: int = 1,
    par: tuple[int, int] = (0, 0),
    vbv: bool = False,
    shape: int = 0,
    resolution: int = 25,
    fixed: int | None = None,
    width: int = 720,
    height: int = 576,
    interlaced: bool = False,
) -> bytes:
    """A VideoObjectLayer header (14496-2 6.2.3) up to the interlaced flag, then stuffing."""
    w = BitWriter().u(1, 0).u(8, 1).flag(object_layer_id)
    if object_layer_id:
        w.u(4, 2).u(3, 1)
    w.u(4, aspect)
    if aspect == 15:
        w.u(8, par[0]).u(8, par[1])
    w.flag(True).u(2, 1).flag(True).flag(vbv)  # vol_control_parameters, 4:2:0, low_delay
    if vbv:
        for bits in (15, 15, 15):
            w.u(bits, 1234).flag(True)
        w.u(3, 1).u(11, 5).flag(True).u(15, 6).flag(True)
    w.u(2, shape)
    if shape == 3 and object_layer_id:  # grayscale, verid 2: video_object_layer_shape_extension
        w.u(4, 0)
    w.flag(True).u(16, resolution).flag(True).flag(fixed is not None)
    if fixed is not None:
        w.u(max(1, (resolution - 1).bit_length()), fixed)
    if shape != 2:
        if shape == 0:
            w.flag(True).u(13, width).flag(True).u(13, height).flag(True)
        w.flag(interlaced)
    w.flag(True)  # obmc_disable
    return b"\x00\x00\x01\x20" + w.rbsp() + b"\x00\x00\x01\xb6"


@pytest.fixture(scope="module")
def ffmpeg_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.4 s of 720x576p25 16:9 MPEG-4 Part 2 (ffmpeg's mpeg4 encoder) in MPEG-TS."""
    path = tmp_path_factory.mktemp("mpeg4") / "mpeg4.ts"
    subprocess.run(
        [
            require_tool("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=720x576:rate=25", "-t", "0.4",
            "-c:v", "mpeg4", "-aspect", "16:9", "-threads", "1", "-f", "mpegts", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def test_ffmpeg_stream(ffmpeg_ts: Path) -> None:
    # ffprobe says: mpeg4 720x576, SAR 64:45, DAR 16:9, r_frame_rate 25/1, progressive
    fmt = inspect_video_es(VideoCoding.MPEG4_PART2, _ts_video_es(ffmpeg_ts))
    assert fmt == VideoFormat(
        720, 576, Fraction(25), False, Fraction(16, 9), VideoCoding.MPEG4_PART2
    )
    assert fmt.aspect_ratio is AspectRatio.R16_9
    assert VideoCoding.MPEG4_PART2 in SUPPORTED_CODINGS


def test_ffmpeg_stream_through_the_analyzer(ffmpeg_ts: Path) -> None:
    data = ffmpeg_ts.read_bytes()
    per = 7 * 188
    pay = [data[i : i + per] for i in range(0, len(data) - per + 1, per)]
    arr = [i * 1_000_000 for i in range(len(pay))]
    a = StreamAnalyzer(AnalyzerConfig(transport="udp"))
    a.feed_batch(PacketBatch.from_payloads(pay, arr))
    x = a.close_until(1_000_000_000)
    assert x.video is not None and x.video.coding is VideoCoding.MPEG4_PART2
    assert x.video.format is not None
    assert (x.video.format.width, x.video.format.height) == (720, 576)
    assert x.video.format.frame_rate == 25 and x.errors == {}


def test_fixed_vop_rate_interlaced_525_line_4_3_with_vbv() -> None:
    v = parse_mpeg4_vol(
        vol(
            object_layer_id=True,
            aspect=3,
            vbv=True,
            resolution=30000,
            fixed=1001,
            width=720,
            height=480,
            interlaced=True,
        )
    )
    assert (v.verid, v.par, v.fixed_vop_time_increment) == (2, Fraction(10, 11), 1001)
    fmt = v.video_format()
    assert fmt.frame_rate == Fraction(30000, 1001) and fmt.interlaced
    assert fmt.display_aspect == Fraction(4, 3)  # 704 active samples (ETSI TS 101 154)
    assert fmt.source_format is SourceFormat.SD_480I2997


def test_fixed_vop_rate_one_bit_increment() -> None:
    # resolution 1: fixed_vop_time_increment takes one bit
    v = parse_mpeg4_vol(vol(resolution=1, fixed=1, width=352, height=288))
    assert v.frame_rate == 1 and v.display_aspect == Fraction(352, 288)


@pytest.mark.parametrize(("resolution", "rate"), [(25, Fraction(25)), (50, Fraction(50)),
                                                  (60000, None), (1000, None)])
def test_variable_vop_rate(resolution: int, rate: Fraction | None) -> None:
    assert parse_mpeg4_vol(vol(resolution=resolution)).frame_rate == rate


def test_shapes_without_size() -> None:
    v = parse_mpeg4_vol(vol(shape=2))  # binary only: no size, no interlaced flag
    assert (v.width, v.height, v.interlaced) == (0, 0, False)
    # grayscale: the shape extension only when verid is not 1
    assert parse_mpeg4_vol(vol(shape=3, interlaced=True)).interlaced
    assert parse_mpeg4_vol(vol(shape=3, object_layer_id=True, interlaced=True)).interlaced
    # a layer without a picture size gives no format
    assert inspect_video_es(VideoCoding.MPEG4_PART2, VOS + vol(shape=2)) is None


def test_reserved_aspect_is_unknown() -> None:
    assert parse_mpeg4_vol(vol(aspect=7)).display_aspect is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aspect": 0}, "aspect_ratio_info 0 is forbidden"),
        ({"aspect": 15, "par": (0, 1)}, "par_width / par_height 0/1"),
        ({"resolution": 0}, "vop_time_increment_resolution 0 is forbidden"),
        ({"fixed": 0}, "fixed_vop_time_increment 0 is forbidden"),
        ({"width": 0}, "picture size 0x576 is forbidden"),
    ],
)
def test_corrupt_vol(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mpeg4_vol(vol(**kwargs))
    with pytest.raises(ValueError, match=message):
        inspect_video_es(VideoCoding.MPEG4_PART2, VOS + vol(**kwargs))


def test_marker_bit_and_start_code() -> None:
    data = bytearray(vol())
    data[6] ^= 0x04  # the marker_bit after video_object_layer_shape (bit 21 after the code)
    with pytest.raises(ValueError, match="marker_bit after video_object_layer_shape"):
        parse_mpeg4_vol(bytes(data))
    with pytest.raises(ValueError, match="does not start with 00 00 01 2x"):
        parse_mpeg4_vol(b"\x00\x00\x01\xb3" + bytes(8))


def test_truncated_or_missing_vol_is_not_yet_known() -> None:
    whole = VOS + vol()
    for cut in range(len(VOS) + 4, len(VOS) + 12):
        assert inspect_video_es(VideoCoding.MPEG4_PART2, whole[:cut]) is None
    assert inspect_video_es(VideoCoding.MPEG4_PART2, VOS) is None
    assert inspect_video_es(VideoCoding.MPEG4_PART2, whole) is not None
