"""The measurement core against the reference tools, on real streams.

- Programme: every media fixture sent through :class:`StreamAnalyzer` as RTP datagrams (planned
  by the generator): the PIDs, codecs and video format it reports agree with
  ``ffprobe -show_streams`` on the same file. (tests/integration/test_fixtures_ffprobe.py checks
  the fixtures and the video ES parser with a small demux of its own; this checks what the
  analyzer itself reports.)
- RTP loss: a stream sent on loopback, by ``iec62379 generate`` with random and burst loss and
  reordering, and by Debian's multicat, is captured with tshark; the capture goes through
  ``read_pcap`` + ``FlowDemux`` and the loss and packet counts per stream must equal the
  "Lost" and "Pkts" columns of ``tshark -z rtp,streams`` on the same file.

Everything runs on 127.0.0.1 and is bounded in time (a few seconds of stream each).
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.collectors import generator as g
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.formats import AudioFormat, VideoCoding
from iec62379.collectors.core.report import AnalyzerConfig

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"
FIXTURES = sorted(p.name for p in MEDIA.glob("*.ts"))
CLI = Path(sys.executable).with_name("iec62379")

# ffprobe's codec_name(s) that fit what the analyzer reports. The analyzer classifies from the
# PMT (stream_type and descriptors); ffprobe from the PMT and the elementary stream. Where the
# PMT cannot say more, more than one name fits:
# - stream_type 0x02 is "13818-2 video or 11172-2 constrained parameter video" (13818-1
#   Table 2-34), so videoMpeg2 fits ffprobe's mpeg2video and mpeg1video;
# - stream_types 0x03 / 0x04 say MPEG-1 / MPEG-2 audio, not the layer (mp1, mp2, mp3).
FFPROBE_VIDEO = {
    VideoCoding.MPEG1: {"mpeg1video"},
    VideoCoding.MPEG2: {"mpeg2video", "mpeg1video"},
    VideoCoding.H264: {"h264"},
    VideoCoding.HEVC: {"hevc"},
    VideoCoding.JPEG2000: {"jpeg2000"},
}
FFPROBE_VIDEO_EXACT = {
    VideoCoding.MPEG1: "mpeg1video",
    VideoCoding.MPEG2: "mpeg2video",
    VideoCoding.H264: "h264",
    VideoCoding.HEVC: "hevc",
    VideoCoding.JPEG2000: "jpeg2000",
}
FFPROBE_AUDIO = {
    AudioFormat.MPEG1: {"mp1", "mp2", "mp3"},
    AudioFormat.MPEG2: {"mp1", "mp2", "mp3"},
    AudioFormat.AAC_ADTS: {"aac"},
    AudioFormat.AAC_LATM: {"aac_latm"},
    AudioFormat.AC3: {"ac3"},
    AudioFormat.EAC3: {"eac3"},
    AudioFormat.SMPTE302M: {"s302m"},
    AudioFormat.OPUS: {"opus"},
    AudioFormat.DTS: {"dts"},
}


def ffprobe_streams(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [require_tool("ffprobe"), "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    streams: list[dict[str, object]] = json.loads(out)["streams"]
    return streams


def analyse_file(name: str) -> StreamAnalyzer:
    """The fixture through the analyzer as the generator would send it (RTP, PCR-paced)."""
    plan = g.Plan((MEDIA / name).read_bytes(), g.PlanConfig(seed=3))
    dgs = plan.datagrams()
    t0 = 1_000_000_000
    a = StreamAnalyzer(AnalyzerConfig())
    a.feed_batch(PacketBatch.from_payloads([d.payload for d in dgs],
                                           [t0 + d.departure_ns for d in dgs]))
    a.close_until(t0 + dgs[-1].departure_ns + 2_000_000_000)
    return a


# --------------------------------------------------------------------------- PIDs and codecs


@pytest.mark.parametrize("name", FIXTURES)
def test_analyzer_pids_and_codecs_match_ffprobe(name: str) -> None:
    a = analyse_file(name)
    reports = a.pop_reports()
    assert reports and a.latest is not None
    info = a.latest.program
    assert info is not None, f"{name}: no programme found"
    theirs = {int(str(s["id"]), 16): s for s in ffprobe_streams(MEDIA / name)}
    assert {s.pid for s in info.streams} == set(theirs), name
    for s in info.streams:
        codec = str(theirs[s.pid]["codec_name"])
        kind = str(theirs[s.pid]["codec_type"])
        if s.kind == "video":
            assert kind == "video" and s.video_coding is not None
            assert codec in FFPROBE_VIDEO[s.video_coding], (name, hex(s.pid), s.video_coding)
        else:
            assert s.kind == "audio" and kind == "audio" and s.audio_format is not None
            assert codec in FFPROBE_AUDIO[s.audio_format], (name, hex(s.pid), s.audio_format)
    # The audio components of the video block's report are the PMT's audio streams, in order.
    audio = [x for x in a.latest.audio]
    assert [x.pid for x in audio] == [s.pid for s in info.streams if s.kind == "audio"]
    # The video format the analyzer found in the elementary stream.
    v = a.latest.video
    assert v is not None and v.format is not None, name
    (fv,) = [s for s in theirs.values() if s["codec_type"] == "video"]
    assert (v.format.width, v.format.height) == (fv["width"], fv["height"])
    assert v.format.frame_rate == Fraction(str(fv["r_frame_rate"]))
    assert v.format.interlaced == (fv.get("field_order") in ("tt", "bb", "tb", "bt"))
    # and every programme PID was present in the first interval (a full one)
    full = reports[0]
    assert all(full.pid_present.values()), (name, full.pid_present)


def test_mpeg1_video_under_stream_type_2_is_reported_as_mpeg1() -> None:
    """MPEG-1 video sent with stream_type 0x02 (ffmpeg does so): the PMT entry says what the
    PMT says (videoMpeg2), the video report says what the elementary stream shows (a sequence
    header without sequence_extension: videoMpeg1), as ffprobe does (mpeg1video)."""
    a = analyse_file("mpeg1_mp2.ts")
    info = a.latest.program if a.latest is not None else None
    assert info is not None
    (video,) = [s for s in info.streams if s.kind == "video"]
    assert video.stream_type == 0x02 and video.video_coding is VideoCoding.MPEG2
    assert a.latest.video is not None and a.latest.video.coding is VideoCoding.MPEG1
    (theirs,) = [s for s in ffprobe_streams(MEDIA / "mpeg1_mp2.ts") if s["codec_type"] == "video"]
    assert theirs["codec_name"] == "mpeg1video"


@pytest.mark.parametrize("name", FIXTURES)
def test_reported_video_coding_is_ffprobes(name: str) -> None:
    """The video report's coding names exactly ffprobe's codec for every fixture."""
    a = analyse_file(name)
    assert a.latest is not None and a.latest.video is not None
    (theirs,) = [s for s in ffprobe_streams(MEDIA / name) if s["codec_type"] == "video"]
    assert FFPROBE_VIDEO_EXACT[a.latest.video.coding] == theirs["codec_name"], name
