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
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.collectors import generator as g
from iec62379.collectors.bench_pcap import parse_rtp_streams, stream_name
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.demux import FlowDemux
from iec62379.collectors.core.formats import AudioFormat, VideoCoding
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.sources.pcap import read_pcap

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
    a.snapshot(t0 + dgs[-1].departure_ns + 2_000_000_000)
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


def test_mpeg1_video_under_stream_type_2_is_reported_as_the_pmt_says() -> None:
    """Where the analyzer and ffprobe name the codec differently: MPEG-1 video sent with
    stream_type 0x02 (ffmpeg does so) is videoMpeg2 for the analyzer, which classifies by the
    PMT, and mpeg1video for ffprobe, which reads the sequence header."""
    a = analyse_file("mpeg1_mp2.ts")
    info = a.latest.program if a.latest is not None else None
    assert info is not None
    (video,) = [s for s in info.streams if s.kind == "video"]
    assert video.stream_type == 0x02 and video.video_coding is VideoCoding.MPEG2
    (theirs,) = [s for s in ffprobe_streams(MEDIA / "mpeg1_mp2.ts") if s["codec_type"] == "video"]
    assert theirs["codec_name"] == "mpeg1video"


# --------------------------------------------------------------------------- RTP loss vs tshark


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    if port > 65535 - 4:
        return free_udp_port()
    return port


@contextmanager
def capture(port: int, path: Path) -> Iterator[None]:
    """tshark on lo for one UDP port while the block runs; always stopped. A socket is bound
    to the port meanwhile: without a receiver the kernel answers ICMP port unreachable, and a
    sender on a connected socket (multicat) then loses every other send to ECONNREFUSED."""
    tshark = require_tool("tshark")
    err = path.with_suffix(".err")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sink.bind(("127.0.0.1", port))
    with sink, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [tshark, "-i", "lo", "-f", f"udp dst port {port}", "-w", str(path), "-q"],
            stdout=subprocess.DEVNULL, stderr=err_file,
        )
        try:
            deadline = time.monotonic() + 20
            while b"Capturing on" not in err.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"tshark did not start capturing: {err.read_text()}")
                time.sleep(0.05)
            time.sleep(0.3)  # "Capturing on" comes a moment before the filter sees packets
            yield
            time.sleep(0.5)  # the last packets into the file
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def tshark_rtp(path: Path, port: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(destination, SSRC) -> (packets, lost) from tshark -z rtp,streams."""
    out = subprocess.run(
        [require_tool("tshark"), "-n", "-q", "-r", str(path), "-d", f"udp.port=={port},rtp",
         "-z", "rtp,streams"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    rows = parse_rtp_streams(out)
    return {(f"{r.dst}:{r.dst_port}", r.ssrc): (r.packets, r.lost) for r in rows}


def ours_rtp(path: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """(destination, SSRC) -> (datagrams, RTP lost) from read_pcap + FlowDemux."""
    demux = FlowDemux(AnalyzerConfig())
    last = 0
    with read_pcap(path) as reader:
        for batch in reader:
            demux.feed_batch(batch)
            last = max(last, int(batch.arrival_ns.max()))
            demux.snapshot(last)
    demux.snapshot(last + 2_000_000_000)
    out = {}
    for key, a in demux.streams.items():
        assert a.latest is not None and a.latest.ssrc is not None
        t = a.totals()
        out[(stream_name(key), a.latest.ssrc)] = (t.datagrams, t.rtp_lost_net)
    return out


def drop_records(src: Path, dst: Path, every: int, first: int) -> int:
    """Copy a capture without records first, first + every, ... (editcap numbers from 1)."""
    n = int(subprocess.run(
        [require_tool("capinfos"), "-c", "-M", "-T", "-r", str(src)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()[-1])
    gone = list(range(first, n + 1, every))
    subprocess.run([require_tool("editcap"), str(src), str(dst), *map(str, gone)],
                   capture_output=True, timeout=60, check=True)
    return len(gone)


def test_generator_loss_and_reordering_agree_with_tshark(tmp_path: Path) -> None:
    port = free_udp_port()
    pcap = tmp_path / "impaired.pcapng"
    args = ["--seed", "11", "--loss", "3", "--burst-loss", "5", "--burst-length", "4",
            "--reorder", "2", "--rate-scale", "2", "--loop", "2", "--json", "-q"]
    with capture(port, pcap):
        proc = subprocess.run(
            [str(CLI), "generate", str(MEDIA / "h264_mp2.ts"), f"rtp://127.0.0.1:{port}", *args],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    sent = json.loads(proc.stdout)
    assert sent["lost_random"] > 0 and sent["lost_burst"] > 0 and sent["reordered"] > 0
    theirs = tshark_rtp(pcap, port)
    ours = ours_rtp(pcap)
    assert ours == theirs
    ((packets, lost),) = ours.values()
    assert packets == sent["datagrams_sent"]
    assert 0 < lost <= sent["lost"]  # losses at the very start or end show no gap


def test_multicat_stream_agrees_with_tshark(tmp_path: Path) -> None:
    """multicat (PCR-paced RTP, timestamps from the PCR) on loopback: clean, then the same
    capture with every 37th record cut out, read by both tools."""
    multicat, ingests = require_tool("multicat"), require_tool("ingests")
    ts = tmp_path / "ref.ts"
    ts.write_bytes((MEDIA / "mpeg2_ac3.ts").read_bytes())
    pcr_pid = g.find_pcr_pid(ts.read_bytes())
    assert pcr_pid is not None
    subprocess.run([ingests, "-p", str(pcr_pid), str(ts)], cwd=tmp_path,
                   capture_output=True, timeout=60, check=True)
    port = free_udp_port()
    pcap = tmp_path / "multicat.pcapng"
    with capture(port, pcap):
        subprocess.run([multicat, "-p", str(pcr_pid), "-t", "1", str(ts), f"127.0.0.1:{port}"],
                       capture_output=True, timeout=60, check=True)
    theirs = tshark_rtp(pcap, port)
    ours = ours_rtp(pcap)
    assert ours == theirs
    ((packets, lost),) = ours.values()
    # No gap inside the capture; tshark's capture may start a few datagrams late (it says
    # "Capturing on" a moment before its filter sees packets), which shows as fewer packets,
    # never as loss.
    sent = -(-ts.stat().st_size // 1316)
    assert lost == 0 and sent - 10 <= packets <= sent

    cut = tmp_path / "cut.pcapng"
    removed = drop_records(pcap, cut, every=37, first=20)
    theirs_cut = tshark_rtp(cut, port)
    ours_cut = ours_rtp(cut)
    assert ours_cut == theirs_cut
    ((packets_cut, lost_cut),) = ours_cut.values()
    assert lost_cut == removed and packets_cut == packets - removed
