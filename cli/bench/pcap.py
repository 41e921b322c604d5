"""Benchmark: our pcap analysis against ``tshark -z rtp,streams`` on the same capture, in one run.

What is measured, on one capture file (by default a realistic multi-stream RTP capture made on
demand by :mod:`iec62379.cli.bench.capture`, or any pcap / pcapng given):

- **ours**: :func:`~iec62379.collectors.sources.pcap.read_pcap` batches through a
  :class:`~iec62379.collectors.core.demux.FlowDemux` (one
  :class:`~iec62379.collectors.core.analyzer.StreamAnalyzer` per flow, every metric on:
  RTP loss / reordering / duplicates, TS continuity, PSI and codecs, video format, PCR rate,
  MDI DF:MLR, TS-DF, bit rates, presence, FEC, receive buffer, the TR 101 290 priority 1 and
  2 checks (off with ``--no-tr101290``, to measure what they cost)), with a snapshot after
  every batch and every interval report taken, in this process;
- **tshark**: ``tshark -n -q -r FILE -z rtp,streams`` with ``-d udp.port==P,rtp`` for each
  destination port carrying RTP (or ``-o rtp.heuristic_rtp:TRUE``), as a child process.

Both are timed by wall clock (and CPU time) from start to end, ``repeat`` times each,
alternating, after one untimed read of the file so that both find it in the page cache. The
whole run is pinned to one CPU (``os.sched_setaffinity``; tshark inherits it), so "packets/s"
is per core. packets/s = capture records / wall seconds of the fastest run of each (the run
least disturbed by other work on the machine); the medians are reported too.

The per-stream RTP loss of both is compared (matched by destination and SSRC), so the report
also says whether the two agree on what they measured.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from iec62379.cli.probe import stream_name
from iec62379.collectors.core.demux import FlowDemux
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.runtime import keep_freed_memory

# The targets: (key, label, bound)
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("ours_pps", "our pcap analysis, packets/s on one core", 1_000_000.0),
    ("ratio", "ours / tshark -z rtp,streams (packets/s)", 25.0),
)


class BenchError(RuntimeError):
    """A tool is missing or failed."""


@dataclass(slots=True)
class StreamLoss:
    """One RTP stream as a tool reports it."""

    dst: str  # "239.10.0.1:5000"
    ssrc: int
    packets: int
    lost: int


@dataclass(slots=True)
class TsharkStream:
    """One row of tshark's ``-z rtp,streams`` table."""

    start_s: float
    end_s: float
    src: str
    src_port: int
    dst: str
    dst_port: int
    ssrc: int
    payload: str
    packets: int
    lost: int
    lost_percent: float
    min_delta_ms: float
    mean_delta_ms: float
    max_delta_ms: float
    min_jitter_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    problems: bool


@dataclass(slots=True)
class RunFigures:
    """The timed runs of one side."""

    name: str
    records: int = 0
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    best_wall_s: float = 0.0
    median_wall_s: float = 0.0
    packets_per_s: float = 0.0  # records / best wall seconds
    median_packets_per_s: float = 0.0
    cpu_packets_per_s: float = 0.0  # records / CPU seconds of the best run
    streams: list[StreamLoss] = field(default_factory=list)

    def finish(self) -> None:
        best = min(range(len(self.wall_s)), key=lambda i: self.wall_s[i])
        self.best_wall_s = self.wall_s[best]
        self.median_wall_s = statistics.median(self.wall_s)
        self.packets_per_s = self.records / self.best_wall_s if self.best_wall_s else 0.0
        self.median_packets_per_s = (
            self.records / self.median_wall_s if self.median_wall_s else 0.0
        )
        cpu = self.cpu_s[best]
        self.cpu_packets_per_s = self.records / cpu if cpu > 0 else 0.0


@dataclass(slots=True)
class OursDetail:
    """What our side found in the capture (for the report; taken from the last run)."""

    datagrams: int = 0
    ts_packets: int = 0
    streams: int = 0
    reports: int = 0
    rtp_lost: int = 0
    cc_errors: int = 0
    codecs: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class PcapBenchSettings:
    capture: Path
    repeat: int = 3
    interval_s: float = 1.0
    batch_size: int = 65536
    tshark: str | None = None
    heuristic: bool = False  # -o rtp.heuristic_rtp:TRUE instead of -d udp.port==P,rtp
    cpu: int | None = None  # pin to this CPU (default: the first allowed one)
    timeout_s: float = 900.0
    tr101290: bool = True  # False: the same analysis with the TR 101 290 checks off


# --------------------------------------------------------------------------- tshark output

_ROW = re.compile(
    r"^\s*(?P<start>[\d.]+)\s+(?P<end>[\d.]+)\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+"
    r"(?P<dst>\S+)\s+(?P<dport>\d+)\s+(?P<ssrc>0x[0-9A-Fa-f]+)\s+(?P<payload>.+?)\s+"
    r"(?P<pkts>\d+)\s+(?P<lost>-?\d+)\s+\((?P<pct>-?[\d.]+)%\)\s+"
    r"(?P<dmin>-?[\d.]+)\s+(?P<dmean>-?[\d.]+)\s+(?P<dmax>-?[\d.]+)\s+"
    r"(?P<jmin>-?[\d.]+)\s+(?P<jmean>-?[\d.]+)\s+(?P<jmax>-?[\d.]+)(?:\s+(?P<problems>X))?\s*$"
)


def parse_rtp_streams(text: str) -> list[TsharkStream]:
    """The rows of tshark's ``-z rtp,streams`` table (Wireshark 3.x / 4.x layout; a stream of
    one packet has deltas and jitter of -1.000).

    Raises ValueError when the table is missing or a line inside it is not a row."""
    lines = text.splitlines()
    try:
        top = next(i for i, line in enumerate(lines) if "RTP Streams" in line)
    except StopIteration:
        raise ValueError("no 'RTP Streams' table in tshark's output") from None
    rows: list[TsharkStream] = []
    for line in lines[top + 1 :]:
        if line.startswith("====="):
            break
        if not line.strip() or "Start time" in line:
            continue
        m = _ROW.match(line)
        if m is None:
            raise ValueError(f"not an RTP stream row: {line!r}")
        g = m.groupdict()
        rows.append(
            TsharkStream(
                start_s=float(g["start"]),
                end_s=float(g["end"]),
                src=g["src"],
                src_port=int(g["sport"]),
                dst=g["dst"],
                dst_port=int(g["dport"]),
                ssrc=int(g["ssrc"], 16),
                payload=g["payload"],
                packets=int(g["pkts"]),
                lost=int(g["lost"]),
                lost_percent=float(g["pct"]),
                min_delta_ms=float(g["dmin"]),
                mean_delta_ms=float(g["dmean"]),
                max_delta_ms=float(g["dmax"]),
                min_jitter_ms=float(g["jmin"]),
                mean_jitter_ms=float(g["jmean"]),
                max_jitter_ms=float(g["jmax"]),
                problems=g["problems"] is not None,
            )
        )
    return rows


def _endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def tshark_losses(rows: list[TsharkStream]) -> list[StreamLoss]:
    return sorted(
        (StreamLoss(_endpoint(r.dst, r.dst_port), r.ssrc, r.packets, r.lost) for r in rows),
        key=lambda s: (s.dst, s.ssrc),
    )


def tshark_command(
    tshark: str, capture: Path, ports: list[int], heuristic: bool = False
) -> list[str]:
    argv = [tshark, "-n", "-q", "-r", str(capture), "-z", "rtp,streams"]
    if heuristic or not ports:
        argv += ["-o", "rtp.heuristic_rtp:TRUE"]
    else:
        for port in ports:
            argv += ["-d", f"udp.port=={port},rtp"]
    return argv


# --------------------------------------------------------------------------- our side


def analyse(
    capture: Path, interval_s: float = 1.0, batch_size: int = 65536, tr101290: bool = True
) -> tuple[int, FlowDemux, OursDetail]:
    """Our full analysis of a capture: (records, the demux with its analyzers, details);
    tr101290=False: with the TR 101 290 checks off (everything else the same)."""
    from iec62379.collectors.sources.pcap import read_pcap

    interval_ns = int(round(interval_s * 1e9))
    config = AnalyzerConfig(interval_s=interval_s)
    if not tr101290:
        config = replace(config, tr101290=None)
    demux = FlowDemux(config)
    detail = OursDetail()
    last: int | None = None
    with read_pcap(capture, batch_size=batch_size) as reader:
        for batch in reader:
            demux.feed_batch(batch)
            t = int(batch.arrival_ns.max())
            last = t if last is None else max(last, t)
            demux.close_until(last)
            for analyzer in demux.streams.values():
                detail.reports += len(analyzer.pop_reports())
        records = reader.stats.records
    if last is not None:
        demux.close_until(last + interval_ns)
    for key, analyzer in demux.streams.items():
        reports = analyzer.pop_reports()
        detail.reports += len(reports)
        tot = analyzer.totals()
        detail.datagrams += tot.datagrams
        detail.ts_packets += tot.ts_packets
        detail.rtp_lost += tot.rtp_lost_net
        detail.cc_errors += tot.cc_errors
        latest = analyzer.latest
        if latest is not None and latest.program is not None:
            detail.codecs[stream_name(key)] = [
                f"0x{s.pid:04x}:{s.stream_type:#04x}" for s in latest.program.streams
            ]
    detail.streams = len(demux.streams)
    return records, demux, detail


def our_losses(demux: FlowDemux) -> list[StreamLoss]:
    out = []
    for key, analyzer in demux.streams.items():
        tot = analyzer.totals()
        ssrc = analyzer.latest.ssrc if analyzer.latest is not None else None
        if ssrc is None:  # not RTP
            continue
        out.append(StreamLoss(stream_name(key), ssrc, tot.datagrams, tot.rtp_lost_net))
    return sorted(out, key=lambda s: (s.dst, s.ssrc))


def rtp_ports(demux: FlowDemux) -> list[int]:
    """Destination ports of the flows our analysis found RTP on."""
    return sorted(
        {
            port
            for (_addr, port), a in demux.streams.items()
            if a.latest is not None and a.latest.ssrc is not None
        }
    )


# --------------------------------------------------------------------------- the run


def _find_tshark(path: str | None) -> str:
    found = path or shutil.which("tshark")
    if not found:
        raise BenchError("tshark is not installed (Debian: apt-get install tshark)")
    return found


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _warm(path: Path) -> None:
    """Read the file once so that both sides find it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(8 << 20):
            pass


def run_tshark(argv: list[str], timeout_s: float) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one tshark run."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return wall, cpu, proc.stdout


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def _pin(cpu: int | None) -> tuple[set[int] | None, int | None]:
    """Pin this process (and its future children) to one CPU; (previous set, CPU)."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    before = os.sched_getaffinity(0)
    target = cpu if cpu is not None else min(before)
    os.sched_setaffinity(0, {target})
    return before, target


def run_pcap_bench(s: PcapBenchSettings) -> dict[str, Any]:
    """Run both sides on s.capture; the report as a JSON-able dict."""
    if s.repeat < 1:
        raise BenchError("repeat must be at least 1")
    if not s.capture.is_file():
        raise BenchError(f"no such capture: {s.capture}")
    tshark = _find_tshark(s.tshark)
    keep_freed_memory()  # as `iec62379 probe` does (collectors/runtime.py)
    before, cpu = _pin(s.cpu)
    try:
        _warm(s.capture)
        # One untimed pass of ours: imports, the video inspector, and the RTP ports for tshark.
        _records, demux, _detail = analyse(s.capture, s.interval_s, s.batch_size, s.tr101290)
        argv = tshark_command(tshark, s.capture, rtp_ports(demux), s.heuristic)
        ours = RunFigures("ours")
        ref = RunFigures("tshark")
        detail = OursDetail()
        out = ""
        for _ in range(s.repeat):
            c0 = time.process_time()
            t0 = time.perf_counter()
            records, demux, detail = analyse(s.capture, s.interval_s, s.batch_size, s.tr101290)
            ours.wall_s.append(time.perf_counter() - t0)
            ours.cpu_s.append(time.process_time() - c0)
            ours.records = records
            wall, cpu_s, out = run_tshark(argv, s.timeout_s)
            ref.wall_s.append(wall)
            ref.cpu_s.append(cpu_s)
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
    ours.streams = our_losses(demux)
    ref.records = ours.records  # the same file: tshark reads every record
    try:
        ref.streams = tshark_losses(parse_rtp_streams(out))
    except ValueError as exc:
        raise BenchError(f"cannot read tshark's output: {exc}") from exc
    ours.finish()
    ref.finish()
    theirs = {(x.dst, x.ssrc): x for x in ref.streams}
    agreement = []
    for x in ours.streams:
        t = theirs.get((x.dst, x.ssrc))
        agreement.append(
            {
                "stream": x.dst,
                "ssrc": f"0x{x.ssrc:08x}",
                "ours_packets": x.packets,
                "tshark_packets": None if t is None else t.packets,
                "ours_lost": x.lost,
                "tshark_lost": None if t is None else t.lost,
                "agree": t is not None and t.lost == x.lost and t.packets == x.packets,
            }
        )
    ratio = ours.packets_per_s / ref.packets_per_s if ref.packets_per_s else 0.0
    values = {"ours_pps": ours.packets_per_s, "ratio": ratio}
    targets = [
        {
            "key": key,
            "label": label,
            "target": f">= {bound:,.0f}",
            "value": values[key],
            "met": values[key] >= bound,
        }
        for key, label, bound in TARGETS
    ]
    return {
        "capture": {
            "path": str(s.capture),
            "bytes": s.capture.stat().st_size,
            "records": ours.records,
        },
        "settings": {
            "repeat": s.repeat,
            "interval_s": s.interval_s,
            "batch_size": s.batch_size,
            "tr101290": s.tr101290,
            "cpu": cpu,
            "tshark_command": argv,
        },
        "ours": asdict(ours),
        "ours_detail": asdict(detail),
        "tshark": asdict(ref),
        "ratio": ratio,
        "cpu_ratio": (
            ours.cpu_packets_per_s / ref.cpu_packets_per_s if ref.cpu_packets_per_s else 0.0
        ),
        "loss_agreement": agreement,
        "all_agree": bool(agreement) and all(a["agree"] for a in agreement),
        "targets": targets,
        "environment": environment({"tshark": [tshark, "-v"]}),
    }


def environment(tools: dict[str, list[str]]) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    for name, argv in tools.items():
        env[name] = tool_version(argv)
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_report(r: dict[str, Any], capture_note: str = "") -> str:
    o, t = r["ours"], r["tshark"]
    cap = r["capture"]
    lines = [
        f"pcap analysis benchmark: {cap['path']}",
        f"  {cap['records']:,} records, {cap['bytes'] / 1e6:.1f} MB"
        + (f"; {capture_note}" if capture_note else ""),
        "  ours: every metric, the TR 101 290 checks "
        + ("on" if r["settings"].get("tr101290", True) else "OFF (--no-tr101290)"),
        f"  {r['settings']['repeat']} timed runs of each, alternating, pinned to CPU "
        f"{r['settings']['cpu']}; load average {r['environment']['load_average']}",
        f"  tshark: {' '.join(r['settings']['tshark_command'])}",
        "",
    ]
    rows = [
        ("", "ours", "tshark", "ours/tshark"),
        (
            "packets/s (fastest run)",
            f"{o['packets_per_s']:,.0f}",
            f"{t['packets_per_s']:,.0f}",
            f"{r['ratio']:.1f}x",
        ),
        (
            "packets/s (median run)",
            f"{o['median_packets_per_s']:,.0f}",
            f"{t['median_packets_per_s']:,.0f}",
            f"{o['median_packets_per_s'] / t['median_packets_per_s']:.1f}x"
            if t["median_packets_per_s"]
            else "",
        ),
        (
            "packets per CPU second",
            f"{o['cpu_packets_per_s']:,.0f}",
            f"{t['cpu_packets_per_s']:,.0f}",
            f"{r['cpu_ratio']:.1f}x",
        ),
        (
            "wall s of the runs",
            " ".join(f"{x:.3f}" for x in o["wall_s"]),
            " ".join(f"{x:.3f}" for x in t["wall_s"]),
            "",
        ),
    ]
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        lines.append(
            f"{row[0]:<{w[0]}}  {row[1]:>{w[1]}}  {row[2]:>{w[2]}}  {row[3]:>{w[3]}}".rstrip()
        )
    d = r["ours_detail"]
    lines += [
        "",
        f"ours: {d['streams']} streams, {d['datagrams']:,} datagrams, {d['ts_packets']:,} TS "
        f"packets, {d['reports']:,} interval reports, RTP lost {d['rtp_lost']:,}, "
        f"CC errors {d['cc_errors']:,}",
        "RTP loss per stream, ours vs tshark: "
        + (
            "all agree"
            if r["all_agree"]
            else "DIFFER: "
            + "; ".join(
                f"{a['stream']} {a['ssrc']} lost {a['ours_lost']} vs {a['tshark_lost']}, "
                f"packets {a['ours_packets']} vs {a['tshark_packets']}"
                for a in r["loss_agreement"]
                if not a["agree"]
            )
        )
        + f" ({len(r['loss_agreement'])} streams, "
        f"{sum(a['ours_lost'] for a in r['loss_agreement']):,} lost)",
        "",
        "targets:",
    ]
    for tg in r["targets"]:
        met = "met    " if tg["met"] else "NOT met"
        lines.append(f"  {met}  {tg['label']}: {tg['value']:,.1f} (target {tg['target']})")
    lines.append(f"(tshark: {r['environment']['tshark']}; CPU: {r['environment']['cpu_model']})")
    return "\n".join(lines)
