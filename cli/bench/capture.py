"""A realistic multi-stream RTP capture for the collector benchmarks, made on demand.

The capture is what a probe port in a head-end would record: several MPEG-TS programmes, each
sent as RTP (payload type 33, 7 TS packets per datagram) to its own multicast group on one
port, paced by its PCRs by :mod:`iec62379.collectors.generator` (the same planner
``iec62379 generate`` sends with), with light network impairments (random and burst loss,
reordering, jitter) so that the loss counters have work to do. The streams are interleaved by
departure time and written as a classic nanosecond pcap with Ethernet, IPv4 and UDP headers
(IPv4 header checksums correct, UDP checksum 0 as IPv4 allows, multicast MAC addresses).

The media come from MPEG-TS files (by default the ffmpeg-made fixtures of the source tree,
``tests/fixtures/media``); each is looped until the capture holds about the number of
datagrams asked for. The file goes to a cache directory (``$XDG_CACHE_HOME/iec62379/bench``
or ``~/.cache/iec62379/bench``) under a name derived from every setting, so a second run with
the same settings reuses it. Nothing here is committed: a 300,000-datagram capture is about
420 MB.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from iec62379.collectors.generator import (
    TS_PACKET_SIZE,
    Impairments,
    Plan,
    PlanConfig,
    schedule,
)

REPO_MEDIA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "media"
PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
SOURCE_MAC = bytes.fromhex("020000000001")
SOURCE_ADDR = bytes([10, 0, 0, 1])
SOURCE_PORT = 4000


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """What to put in the benchmark capture.

    packets:      about this many datagrams in all (whole loops of each file, at least one)
    copies:       streams per media file (each copy its own group, seed and SSRC)
    rate_scale:   speed factor on the PCR pacing (4 = each programme at 4x its file rate)
    port:         destination UDP port of every stream; group k is 239.10.k//256.k%256
    loss_pct, burst_loss_pct, burst_length, reorder_pct, jitter_ms: generator impairments
    seed:         base seed (stream i uses seed + i)
    media:        the MPEG-TS files (default: every *.ts of the source tree's fixtures)
    """

    packets: int = 300_000
    copies: int = 2
    rate_scale: float = 4.0
    port: int = 5000
    loss_pct: float = 0.1
    burst_loss_pct: float = 0.1
    burst_length: float = 3.0
    reorder_pct: float = 0.05
    jitter_ms: float = 0.5
    seed: int = 1
    media: tuple[str, ...] = ()

    def media_files(self) -> list[Path]:
        if self.media:
            return [Path(m) for m in self.media]
        files = sorted(REPO_MEDIA.glob("*.ts"))
        if not files:
            raise FileNotFoundError(
                f"no media files given and none in {REPO_MEDIA}; pass MPEG-TS files"
            )
        return files


@dataclass(slots=True)
class StreamPlan:
    """One stream of the capture and what the planner did to it."""

    media: str
    group: str
    port: int
    ssrc: int
    loops: int
    datagrams_planned: int = 0
    sent: int = 0
    lost: int = 0
    reordered: int = 0
    first_seq: int | None = None


@dataclass(slots=True)
class CaptureInfo:
    """A capture file and how it was made."""

    path: Path
    spec: dict[str, object]
    records: int
    bytes: int
    duration_s: float
    streams: list[StreamPlan] = field(default_factory=list)
    reused: bool = False

    @property
    def ports(self) -> list[int]:
        return sorted({s.port for s in self.streams})


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iec62379" / "bench"


def _checksum(header: bytes) -> int:
    s = sum(struct.unpack("!10H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _group(k: int) -> bytes:
    return bytes([239, 10, (k >> 8) & 0xFF, k & 0xFF])


def _mac(group: bytes) -> bytes:
    return bytes([0x01, 0x00, 0x5E, group[1] & 0x7F, group[2], group[3]])


def _plans(spec: CaptureSpec) -> list[tuple[StreamPlan, Plan]]:
    files = spec.media_files()
    contents = [f.read_bytes() for f in files]
    n_streams = len(files) * spec.copies
    # Every stream spans about the same time T: loops_i = T / loop duration_i, with T such
    # that the datagrams of all streams add up to spec.packets.
    per_loop = [-(-(len(d) // TS_PACKET_SIZE) // 7) for d in contents]
    loop_s = [schedule(d, rate_scale=spec.rate_scale).duration_ns / 1e9 for d in contents]
    rate = sum(n / s for n, s in zip(per_loop, loop_s, strict=True)) * spec.copies
    span_s = spec.packets / rate
    out: list[tuple[StreamPlan, Plan]] = []
    for i in range(n_streams):
        j = i % len(files)
        f, data = files[j], contents[j]
        loops = max(1, round(span_s / loop_s[j]))
        cfg = PlanConfig(
            rtp=True,
            loops=loops,
            seed=spec.seed + i,
            rate_scale=spec.rate_scale,
            impairments=Impairments(
                loss_pct=spec.loss_pct,
                burst_loss_pct=spec.burst_loss_pct,
                burst_length=spec.burst_length,
                reorder_pct=spec.reorder_pct,
                jitter_ms=spec.jitter_ms,
            ),
        )
        plan = Plan(data, cfg)
        g = _group(i + 1)
        out.append(
            (StreamPlan(f.name, ".".join(map(str, g)), spec.port, plan.ssrc, loops), plan)
        )
    return out


def _records(
    plans: list[tuple[StreamPlan, Plan]], t0_ns: int
) -> Iterator[tuple[int, int, bytes]]:
    """(time ns, stream index, payload) of every datagram, merged in time order."""

    def stream(i: int, plan: Plan) -> Iterator[tuple[int, int, bytes]]:
        for dg in plan:
            yield t0_ns + dg.departure_ns + i * 37_000, i, dg.payload  # streams start apart

    yield from heapq.merge(*(stream(i, p) for i, (_, p) in enumerate(plans)))


def write_capture(spec: CaptureSpec, path: Path) -> CaptureInfo:
    """Plan every stream and write the interleaved capture to path (atomically)."""
    plans = _plans(spec)
    t0_ns = 1_700_000_000 * 1_000_000_000
    tmp = path.with_name(path.name + ".part")
    records = 0
    last_ns = first_ns = t0_ns
    groups = [bytes(int(x) for x in sp.group.split(".")) for sp, _ in plans]
    macs = [_mac(g) for g in groups]
    ident = [0] * len(plans)
    hdr_ip = struct.Struct("!BBHHHBBH4s4s")
    with tmp.open("wb") as out:
        out.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        buf: list[bytes] = []
        for t, i, payload in _records(plans, t0_ns):
            ulen = 8 + len(payload)
            ident[i] = (ident[i] + 1) & 0xFFFF
            ip = hdr_ip.pack(0x45, 0, 20 + ulen, ident[i], 0x4000, 16, 17, 0, SOURCE_ADDR,
                             groups[i])
            ip = ip[:10] + _checksum(ip).to_bytes(2, "big") + ip[12:]
            frame_len = 14 + 20 + ulen
            sec, nsec = divmod(t, 1_000_000_000)
            buf.append(
                struct.pack("<IIII", sec, nsec, frame_len, frame_len)
                + macs[i] + SOURCE_MAC + b"\x08\x00"
                + ip
                + struct.pack("!HHHH", SOURCE_PORT, plans[i][0].port, ulen, 0)
                + payload
            )
            if records == 0:
                first_ns = t
            last_ns = t
            records += 1
            if len(buf) >= 4096:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))
    for sp, plan in plans:
        st = plan.stats
        sp.datagrams_planned = st.datagrams
        sp.sent = st.sent
        sp.lost = st.total_lost
        sp.reordered = st.reordered + st.jitter_reordered
        sp.first_seq = plan.initial_seq
    os.replace(tmp, path)
    info = CaptureInfo(
        path=path,
        spec=_spec_dict(spec),
        records=records,
        bytes=path.stat().st_size,
        duration_s=(last_ns - first_ns) / 1e9,
        streams=[sp for sp, _ in plans],
    )
    _info_path(path).write_text(json.dumps(_info_dict(info), indent=1))
    return info


def _spec_dict(spec: CaptureSpec) -> dict[str, object]:
    d = asdict(spec)
    d["media"] = [str(p) for p in spec.media_files()]
    return d


def _info_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _info_dict(info: CaptureInfo) -> dict[str, object]:
    d = asdict(info)
    d["path"] = str(info.path)
    d.pop("reused", None)
    return d


def capture_name(spec: CaptureSpec) -> str:
    """A file name that changes with any setting or media file (name, size, mtime)."""
    files = spec.media_files()
    key = json.dumps(
        {
            "spec": _spec_dict(spec),
            "files": [(str(f), f.stat().st_size, int(f.stat().st_mtime)) for f in files],
            "format": 3,  # 3: looped passes continue the continuity counters
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"rtp-{spec.packets // 1000}k-{digest}.pcap"


def ensure_capture(spec: CaptureSpec, directory: Path | None = None) -> CaptureInfo:
    """The capture for spec, made now unless a complete one is in the cache."""
    d = directory or cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / capture_name(spec)
    meta = _info_path(path)
    if path.is_file() and meta.is_file():
        raw = json.loads(meta.read_text())
        if raw.get("bytes") == path.stat().st_size:
            streams = [StreamPlan(**s) for s in raw.pop("streams")]
            raw.pop("path", None)
            return CaptureInfo(path=path, streams=streams, reused=True, **raw)
    return write_capture(spec, path)
