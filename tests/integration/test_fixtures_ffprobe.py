"""The media fixtures, read by a small demux here, against what ffprobe says of the same files.

For every file under tests/fixtures/media:

- the PAT/PMT read here give the PIDs and stream types; mapped to ffprobe codec names they must
  be the set ffprobe reports (so an analyzer can later be checked the same way), and they must
  match the declarations in manifest.json (written by tests/fixtures/make_media.py);
- the video PID's elementary stream, taken from its PES packets, goes through
  `inspect_video_es`; width, height, frame rate, scan and display aspect must agree with
  `ffprobe -show_streams -of json`;
- the promises of the fixture script hold: PCR at least every 40 ms, null packets in the
  constant-rate files.

The TS/PES demux is deliberately small and lives in this module (the production TS parser is
another module's job): ISO/IEC 13818-1 2.4.3.2 (packet header), 2.4.3.4 (adaptation field),
2.4.3.6 (PES header), 2.4.4.3 (PAT), 2.4.4.8 (PMT).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pytest
from iec62379.collectors.core.formats import AspectRatio, VideoCoding, aspect_ratio_of
from iec62379.collectors.core.video_es import inspect_video_es, parse_mpeg2_sequence_header

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"
MANIFEST = json.loads((MEDIA / "manifest.json").read_text())
FIXTURES = sorted(MANIFEST)

TS_PACKET = 188
NULL_PID = 0x1FFF

VIDEO_CODING = {
    0x01: VideoCoding.MPEG1,
    0x02: VideoCoding.MPEG2,
    0x1B: VideoCoding.H264,
    0x24: VideoCoding.HEVC,
}


# ------------------------------------------------------------------------------------------
# A small demux


@dataclass
class PmtStream:
    pid: int
    stream_type: int
    descriptors: list[tuple[int, bytes]]

    @property
    def ffprobe_codec(self) -> str:
        """The codec ffprobe names for this PMT entry (stream_type and descriptors)."""
        by_type = {
            0x01: "mpeg1video",
            0x02: "mpeg2video",
            0x03: "mp2",
            0x0F: "aac",
            0x1B: "h264",
            0x24: "hevc",
            0x81: "ac3",  # ATSC A/52
            0x87: "eac3",  # ATSC A/52 E-AC-3
        }
        if self.stream_type in by_type:
            return by_type[self.stream_type]
        if self.stream_type == 0x06:
            for tag, body in self.descriptors:
                if tag == 0x6A:  # DVB AC-3_descriptor (ETSI EN 300 468 annex D)
                    return "ac3"
                if tag == 0x7A:  # DVB enhanced_AC-3_descriptor
                    return "eac3"
                if tag == 0x05 and body[:4] == b"BSSD":  # registration (SMPTE 302M)
                    return "s302m"
        raise AssertionError(f"PID 0x{self.pid:04X}: no codec for stream_type {self.stream_type}")


@dataclass
class Demux:
    pmt_pid: int | None = None
    program_number: int | None = None
    pcr_pid: int | None = None
    streams: list[PmtStream] = field(default_factory=list)
    pes: dict[int, list[bytes]] = field(default_factory=dict)  # PID -> PES packets
    pcr: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # PID -> (index, PCR)
    null_packets: int = 0
    packets: int = 0


def _section(payload: bytes, pusi: bool) -> bytes:
    """A PSI section that starts in this packet (pointer_field; one packet per section here)."""
    assert pusi, "PSI section continued over packets: not used by the fixtures"
    start = 1 + payload[0]
    length = ((payload[start + 1] & 0x0F) << 8) | payload[start + 2]
    section = payload[start : start + 3 + length]
    assert len(section) == 3 + length, "PSI section longer than one packet"
    return section


def _descriptors(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 2 <= len(data):
        tag, length = data[pos], data[pos + 1]
        out.append((tag, data[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return out


def demux(data: bytes) -> Demux:
    assert len(data) % TS_PACKET == 0, "file is not whole TS packets"
    d = Demux()
    current: dict[int, bytearray] = {}
    for index in range(len(data) // TS_PACKET):
        pkt = data[index * TS_PACKET : (index + 1) * TS_PACKET]
        assert pkt[0] == 0x47, f"packet {index}: sync byte 0x{pkt[0]:02X}"
        d.packets += 1
        pusi = bool(pkt[1] & 0x40)
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        afc = (pkt[3] >> 4) & 3
        if pid == NULL_PID:
            d.null_packets += 1
            continue
        pos = 4
        if afc & 2:
            af_len = pkt[4]
            if af_len and pkt[5] & 0x10:  # PCR_flag
                b = pkt[6:12]
                base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
                ext = ((b[4] & 1) << 8) | b[5]
                d.pcr.setdefault(pid, []).append((index, base * 300 + ext))
            pos = 5 + af_len
        if not afc & 1:
            continue
        payload = pkt[pos:]
        if pid == 0:
            section = _section(payload, pusi)
            assert section[0] == 0x00, "PAT table_id"
            programs = section[8:-4]
            for i in range(0, len(programs), 4):
                number = (programs[i] << 8) | programs[i + 1]
                if number:
                    d.program_number = number
                    d.pmt_pid = ((programs[i + 2] & 0x1F) << 8) | programs[i + 3]
        elif pid == d.pmt_pid:
            section = _section(payload, pusi)
            assert section[0] == 0x02, "PMT table_id"
            d.pcr_pid = ((section[8] & 0x1F) << 8) | section[9]
            info_len = ((section[10] & 0x0F) << 8) | section[11]
            pos2, end = 12 + info_len, len(section) - 4
            streams = []
            while pos2 + 5 <= end:
                es_pid = ((section[pos2 + 1] & 0x1F) << 8) | section[pos2 + 2]
                es_len = ((section[pos2 + 3] & 0x0F) << 8) | section[pos2 + 4]
                desc = _descriptors(section[pos2 + 5 : pos2 + 5 + es_len])
                streams.append(PmtStream(es_pid, section[pos2], desc))
                pos2 += 5 + es_len
            d.streams = streams
        else:
            if pusi:
                if pid in current:
                    d.pes.setdefault(pid, []).append(bytes(current[pid]))
                current[pid] = bytearray(payload)
            elif pid in current:
                current[pid] += payload
    for pid, pes in current.items():
        d.pes.setdefault(pid, []).append(bytes(pes))
    return d


def codec_name(d: Demux, stream: PmtStream) -> str:
    """ffprobe's codec name: the PMT's, except that MPEG-1 video may be sent as stream_type
    0x02 (ffmpeg does so); a sequence header without a sequence_extension says MPEG-1."""
    name = stream.ffprobe_codec
    if name == "mpeg2video":
        es = elementary_stream(d, stream.pid, limit=4096)
        start = es.find(b"\x00\x00\x01\xb3")
        if not parse_mpeg2_sequence_header(es[start:]).mpeg2:
            return "mpeg1video"
    return name


def pes_payload(pes: bytes) -> bytes:
    """The payload of a PES packet (13818-1 2.4.3.6; video streams have the optional header)."""
    assert pes[:3] == b"\x00\x00\x01", "PES start code prefix"
    assert 0xE0 <= pes[3] <= 0xEF, f"not a video stream_id: 0x{pes[3]:02X}"
    return pes[9 + pes[8] :]


def elementary_stream(d: Demux, pid: int, limit: int = 256 * 1024) -> bytes:
    es = bytearray()
    for pes in d.pes.get(pid, []):
        es += pes_payload(pes)
        if len(es) >= limit:
            break
    return bytes(es)


# ------------------------------------------------------------------------------------------
# Tests


@pytest.fixture(scope="module")
def ffprobe() -> str:
    path = shutil.which("ffprobe")
    assert path, "ffprobe is needed for these integration tests"
    return path


def probe(ffprobe: str, path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    streams: list[dict[str, object]] = json.loads(out)["streams"]
    return streams


@pytest.fixture(scope="module", params=FIXTURES)
def fixture_file(request: pytest.FixtureRequest) -> tuple[str, Demux]:
    name: str = request.param
    return name, demux((MEDIA / name).read_bytes())


def test_pmt_matches_ffprobe_and_manifest(ffprobe: str, fixture_file: tuple[str, Demux]) -> None:
    name, d = fixture_file
    declared = MANIFEST[name]
    assert d.program_number == declared["service_id"]
    assert d.pmt_pid == declared["pmt_pid"]
    ours = {(s.pid, codec_name(d, s)) for s in d.streams}
    theirs = {(int(str(s["id"]), 16), str(s["codec_name"])) for s in probe(ffprobe, MEDIA / name)}
    assert ours == theirs
    assert {(s.pid, s.stream_type) for s in d.streams} == {
        (s["pid"], s["stream_type"]) for s in declared["streams"]
    }
    assert ours == {(s["pid"], s["codec_name"]) for s in declared["streams"]}


def test_stream_type_2_with_mpeg1_syntax_is_found() -> None:
    """The refinement in codec_name can fail: the MPEG-1 fixture is under stream_type 0x02."""
    d = demux((MEDIA / "mpeg1_mp2.ts").read_bytes())
    (video,) = [s for s in d.streams if s.pid == 0x600]
    assert video.stream_type == 0x02
    assert video.ffprobe_codec == "mpeg2video"
    assert codec_name(d, video) == "mpeg1video"


def test_video_es_matches_ffprobe(ffprobe: str, fixture_file: tuple[str, Demux]) -> None:
    name, d = fixture_file
    (video,) = [s for s in d.streams if s.stream_type in VIDEO_CODING]
    fmt = inspect_video_es(VIDEO_CODING[video.stream_type], elementary_stream(d, video.pid))
    assert fmt is not None, f"{name}: no video format found"

    (theirs,) = [s for s in probe(ffprobe, MEDIA / name) if s["codec_type"] == "video"]
    assert int(str(theirs["id"]), 16) == video.pid
    assert (fmt.width, fmt.height) == (theirs["width"], theirs["height"])
    assert fmt.frame_rate == Fraction(str(theirs["r_frame_rate"]))
    # ffprobe reports tt/bb/tb/bt for interlaced coding, progressive or unknown otherwise.
    assert fmt.interlaced == (theirs.get("field_order") in ("tt", "bb", "tb", "bt"))
    dar = Fraction(str(theirs["display_aspect_ratio"]).replace(":", "/"))
    assert fmt.display_aspect is not None
    assert abs(float(fmt.display_aspect) / float(dar) - 1) < 0.01
    assert fmt.aspect_ratio == aspect_ratio_of(dar)


def test_video_es_matches_manifest(fixture_file: tuple[str, Demux]) -> None:
    name, d = fixture_file
    want = MANIFEST[name]["video"]
    (video,) = [s for s in d.streams if s.stream_type in VIDEO_CODING]
    fmt = inspect_video_es(VIDEO_CODING[video.stream_type], elementary_stream(d, video.pid))
    assert fmt is not None
    assert (fmt.width, fmt.height, fmt.interlaced) == (
        want["width"],
        want["height"],
        want["interlaced"],
    )
    assert fmt.frame_rate == Fraction(want["frame_rate"])
    assert fmt.source_format.value == want["source_format"]
    num, den = want["display_aspect"].split(":")
    assert fmt.display_aspect == Fraction(int(num), int(den))
    if want["display_aspect"] == "16:9":
        assert fmt.aspect_ratio is AspectRatio.R16_9


def test_video_es_prefixes_give_none_or_the_format(fixture_file: tuple[str, Demux]) -> None:
    """Every prefix of the real ES gives None until the parameter set is there, then the
    same format: never a ValueError for data that is only short."""
    name, d = fixture_file
    (video,) = [s for s in d.streams if s.stream_type in VIDEO_CODING]
    coding = VIDEO_CODING[video.stream_type]
    es = elementary_stream(d, video.pid, limit=4096)
    full = inspect_video_es(coding, es)
    assert full is not None
    results = [inspect_video_es(coding, es[:n]) for n in range(0, min(len(es), 400))]
    assert results[0] is None
    first = next(i for i, r in enumerate(results) if r is not None)
    assert all(r == full for r in results[first:]), name


def test_fixture_pcr_and_mux_rate(fixture_file: tuple[str, Demux]) -> None:
    name, d = fixture_file
    declared = MANIFEST[name]
    assert d.pcr_pid is not None and d.pcr.get(d.pcr_pid), f"{name}: no PCR"
    pcrs = [p for _, p in d.pcr[d.pcr_pid]]
    gaps = [b - a for a, b in zip(pcrs, pcrs[1:], strict=False)]
    assert gaps and max(gaps) <= 27_000_000 * 40 // 1000, f"{name}: PCR gap over 40 ms"
    assert min(gaps) > 0
    if declared["cbr_mux_rate"]:
        assert d.null_packets > 0, f"{name}: constant-rate file without null packets"
        # Bytes between the first and last PCR over their time: the declared mux rate.
        (i0, p0), (i1, p1) = d.pcr[d.pcr_pid][0], d.pcr[d.pcr_pid][-1]
        rate = (i1 - i0) * TS_PACKET * 8 * 27_000_000 / (p1 - p0)
        assert abs(rate / declared["cbr_mux_rate"] - 1) < 0.01, f"{name}: {rate:.0f} bit/s"
