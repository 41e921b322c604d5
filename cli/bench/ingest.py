"""`iec62379 bench ingest`: SNMP GET latency of the agent while it ingests live streams.

One run, all on loopback:

1. the agent (`iec62379 agent`, a process) is started with N configured RTP streams on
   127.0.0.1 and pinned to CPU 0, the CPU that receives and analyses;
2. **idle**: `--gets` sequential v2c GETs of the first stream's rxPointMDI, nothing sent (the peer
   figure of the same run);
3. **ingest**: a sender process (pinned to CPU 1) sends RTP datagrams (7 TS packets each, made
   by the generator's planner from a real TS file) round-robin to the N streams at `--rate`
   datagrams/s in all, each stream's RTP sequence and TS continuity unbroken; after a second of
   warm-up the same GETs are timed again while it sends;
4. after the sender stops: the kernel's receive-queue drops of the agent's stream sockets (the
   `drops` column of /proc/net/udp, per local port) and each stream's rxPointMDI as the agent
   serves it, which shows the streams were really received and measured.

The GET client is this process, on CPU 1 with the sender. Percentiles are nearest-rank.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from iec62379.agent import ber
from iec62379.cli.bench.live import datagram_ring
from iec62379.cli.bench.snmp import (
    BenchError,
    GetPacket,
    _process,
    free_udp_port,
    measure_gets,
    percentile,
    read_rss,
    wait_first_answer,
)
from iec62379.collectors.sources._recvmmsg import _Iovec, _Mmsghdr

RX_POINT_MDI = "1.0.62379.7.1.4.1.1.6"  # rxPointMDI column; instance = the rx block id
ACTIVE_ALARMS = "1.3.6.1.4.1.32473.62380.1.4.3.0"  # extAlarmActiveCount.0


@dataclass
class IngestSettings:
    media: Path
    streams: int = 10
    rate: float = 100_000.0  # datagrams/s, all streams together
    gets: int = 3000
    warmup_gets: int = 100
    send_seconds: float = 0.0  # 0: long enough for the timed GETs (measured when idle) + margin
    first_id: int = 100
    alarm_thresholds: bool = False  # a [stream.alarms] table with every threshold per stream


@dataclass
class IngestFigures:
    streams: int
    rate_asked: float
    rate_sent: float = 0.0
    sent: int = 0
    idle_p50_ms: float = 0.0
    idle_p99_ms: float = 0.0
    ingest_p50_ms: float = 0.0
    ingest_p99_ms: float = 0.0
    ingest_max_ms: float = 0.0
    kernel_drops: int = 0
    agent_cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_mib: float = 0.0
    mdi: dict[str, str] = field(default_factory=dict)
    active_alarms: str = ""


# --------------------------------------------------------------------------- the sender


def send_many(
    ports: list[int], rate: float, seconds: float, media: Path, chunk: int = 32
) -> dict[str, Any]:
    """Send RTP datagrams round-robin, `chunk` at a time, to 127.0.0.1:port for each port, at
    `rate`/s in all for `seconds`. Each stream walks the datagram ring on its own with its own
    sequence numbers, so every stream is continuous."""
    libc = ctypes.CDLL(None, use_errno=True)
    ring = datagram_ring(media)
    count, size = ring.shape
    base = ring.ctypes.data
    socks = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    iovs = (_Iovec * count)(*[_Iovec(base + i * size, size) for i in range(count)])
    hdrs = (_Mmsghdr * (2 * count))()  # twice the ring: a run never wraps
    for i in range(2 * count):
        hdrs[i].msg_hdr.msg_iov = ctypes.addressof(iovs[i % count])
        hdrs[i].msg_hdr.msg_iovlen = 1
    hsize = ctypes.sizeof(_Mmsghdr)
    haddr = ctypes.addressof(hdrs)
    seq_hi, seq_lo = ring[:, 2], ring[:, 3]
    n = len(ports)
    pos = [0] * n
    seq = [0] * n
    sent = errors = 0
    turn = 0
    t0 = time.monotonic()
    total = int(rate * seconds)
    while sent < total:
        now = time.monotonic()
        if now >= t0 + seconds + 1.0:
            break  # far behind: the sender cannot keep up
        due = min(int((now - t0) * rate), total) - sent
        if due <= 0:
            time.sleep(0.0002)
            continue
        k = min(due, chunk)
        i = turn % n
        rows = (np.arange(k) + pos[i]) % count
        seqs = (np.arange(k) + seq[i]) & 0xFFFF
        seq_hi[rows] = seqs >> 8
        seq_lo[rows] = seqs & 0xFF
        head = ctypes.c_void_p(haddr + (pos[i] % count) * hsize)
        r = libc.sendmmsg(socks[i].fileno(), head, k, 0)
        if r < 0:
            errors += 1
            continue
        pos[i] = (pos[i] + r) % count
        seq[i] += r
        sent += r
        turn += 1
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    return {"sent": sent, "elapsed_s": elapsed, "rate": sent / elapsed if elapsed else 0.0,
            "errors": errors}


# --------------------------------------------------------------------------- measuring


def udp_drops(ports: set[int], table: str | None = None) -> int:
    """Sum of the `drops` column of /proc/net/udp (or `table`, its text) for the sockets bound
    to these local ports."""
    total = 0
    text = Path("/proc/net/udp").read_text() if table is None else table
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 13 and int(cols[1].split(":")[1], 16) in ports:
            total += int(cols[-1])
    return total


#: [stream.alarms] of `--alarm-thresholds`: a threshold on every condition of every stream
ALARM_THRESHOLDS = [
    "[stream.alarms]",
    "persistence_s = 2",
    'df_ms = {raise = 150, clear = 100, severity = "warning"}',
    'mlr = {raise = 1, clear = 0, severity = "major"}',
    'tsdf_us = {raise = 150000, clear = 100000, severity = "warning"}',
    'rtp_loss = {raise = 1, clear = 0, severity = "minor"}',
    'bitrate_low_bps = {raise = 100000, clear = 200000, severity = "major"}',
    'bitrate_high_bps = {raise = 50000000, clear = 40000000, severity = "minor"}',
    'video_lost = {severity = "major"}',
    'audio_lost = {severity = "major"}',
    'stream_lost = {severity = "critical"}',
]


def agent_config(snmp_port: int, stream_ports: list[int], first_id: int,
                 alarm_thresholds: bool = False) -> str:
    lines = [
        "[agent]", f'listen = ["udp:127.0.0.1:{snmp_port}"]', "",
        "[[access.community]]", 'name = "public"', 'level = "listener"', "",
        "[temperature_sensors]", "enabled = false", "",
    ]
    for i, port in enumerate(stream_ports):
        lines += ["[[stream]]", f'url = "rtp://127.0.0.1:{port}"', f"id = {first_id + 4 * i}", ""]
        if alarm_thresholds:
            lines += [*ALARM_THRESHOLDS, ""]
    return "\n".join(lines)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _get_text(port: int, oid: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(2.0)
        sock.send(GetPacket("public", oid).packet(1))
        m = ber.decode_message(sock.recv(65535))
    (_oid, tag, value), = m.varbinds
    return value.decode(errors="replace") if tag == ber.OCTET_STRING else str(value)


def _stream_ports(n: int) -> list[int]:
    """n free ports, each with its +2 and +4 (FEC) free too, spaced so no stream takes
    another's FEC port."""
    ports: list[int] = []
    while len(ports) < n:
        p = free_udp_port()
        if p % 2 or p + 4 > 65535 or any(abs(p - q) < 6 for q in ports):
            continue
        try:
            for off in (2, 4):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.0.1", p + off))
        except OSError:
            continue
        ports.append(p)
    return ports


def run_ingest_bench(s: IngestSettings) -> IngestFigures:
    if s.streams < 1 or s.rate <= 0 or s.gets < 1:
        raise BenchError("streams, rate and gets must be positive")
    fig = IngestFigures(streams=s.streams, rate_asked=s.rate)
    snmp_port = free_udp_port()
    ports = _stream_ports(s.streams)
    mdi_oid = f"{RX_POINT_MDI}.{s.first_id + 3}"
    with tempfile.TemporaryDirectory(prefix="iec62379-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = tmp / "ingest.toml"
        cfg.write_text(agent_config(snmp_port, ports, s.first_id, s.alarm_thresholds))
        argv = [sys.executable, "-m", "iec62379.cli.main", "agent", "--config", str(cfg),
                "--state-dir", str(tmp / "state")]
        log = tmp / "agent.log"
        affinity = os.sched_getaffinity(0)
        with _process(argv, log) as (agent, t0):
            os.sched_setaffinity(agent.pid, {0})
            os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
            try:
                _measure(s, fig, agent, t0, log, snmp_port, ports, mdi_oid)
            finally:
                os.sched_setaffinity(0, affinity)
    return fig


def _measure(s: IngestSettings, fig: IngestFigures, agent: Any, t0: float, log: Path,
             snmp_port: int, ports: list[int], mdi_oid: str) -> None:
    wait_first_answer(agent, snmp_port, t0, log, 60.0)
    idle = measure_gets(snmp_port, mdi_oid, s.gets, s.warmup_gets)
    fig.idle_p50_ms, fig.idle_p99_ms = percentile(idle, 50), percentile(idle, 99)
    seconds = s.send_seconds or (1.0 + 3 * sum(idle) / 1000 + 5.0)
    cpu0 = _cpu_seconds(agent.pid)
    w0 = time.monotonic()
    sender = subprocess.Popen(
        [sys.executable, "-m", "iec62379.cli.bench.ingest", "send",
         json.dumps(ports), str(s.rate), str(seconds), str(s.media)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        busy = measure_gets(snmp_port, mdi_oid, s.gets, s.warmup_gets)
        still_sending = sender.poll() is None
        out, err = sender.communicate(timeout=seconds + 30)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(10)
    if sender.returncode != 0:
        raise BenchError(f"the sender failed: {err[-500:]}")
    if not still_sending:
        raise BenchError("the sender stopped before the timed GETs ended; give --send-seconds")
    fig.wall_s = time.monotonic() - w0
    fig.agent_cpu_s = _cpu_seconds(agent.pid) - cpu0
    sent = json.loads(out)
    fig.sent, fig.rate_sent = sent["sent"], sent["rate"]
    fig.ingest_p50_ms, fig.ingest_p99_ms = percentile(busy, 50), percentile(busy, 99)
    fig.ingest_max_ms = max(busy)
    time.sleep(0.5)
    fig.kernel_drops = udp_drops(set(ports))
    rx_ids = [s.first_id + 4 * i + 3 for i in range(s.streams)]
    fig.mdi = {str(rx): _get_text(snmp_port, f"{RX_POINT_MDI}.{rx}") for rx in rx_ids}
    fig.rss_mib = read_rss(agent.pid)[0]
    fig.active_alarms = _get_text(snmp_port, ACTIVE_ALARMS)


def format_report(f: IngestFigures) -> str:
    ok = f.ingest_p99_ms <= 5.0
    lines = [
        f"SNMP GET latency while ingesting: {f.streams} RTP streams on loopback, "
        f"{f.rate_sent:,.0f} datagrams/s sent ({f.rate_asked:,.0f} asked), {f.sent:,} in all",
        "",
        f"{'':28}{'idle':>10}{'ingesting':>12}",
        f"{'GET p50 (ms)':28}{f.idle_p50_ms:>10.3f}{f.ingest_p50_ms:>12.3f}",
        f"{'GET p99 (ms)':28}{f.idle_p99_ms:>10.3f}{f.ingest_p99_ms:>12.3f}",
        f"{'GET max (ms)':28}{'':>10}{f.ingest_max_ms:>12.3f}",
        "",
        f"kernel receive-queue drops on the stream sockets: {f.kernel_drops}",
        f"agent CPU while sending: {f.agent_cpu_s:.2f} s in {f.wall_s:.2f} s "
        f"({100 * f.agent_cpu_s / f.wall_s if f.wall_s else 0:.0f} % of one core); "
        f"RSS {f.rss_mib:.1f} MiB",
        "rxPointMDI after the run: " + ", ".join(f"{k}={v}" for k, v in f.mdi.items()),
        f"active alarms after the run (extAlarmActiveCount): {f.active_alarms}",
        "",
        f"target: GET p99 while ingesting <= 5 ms: {'met' if ok else 'NOT met'} "
        f"({f.ingest_p99_ms:.3f} ms)",
    ]
    return "\n".join(lines)


def as_json(f: IngestFigures) -> str:
    return json.dumps(asdict(f), indent=2)


def _main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[0] == "send":
        result = send_many(json.loads(argv[1]), float(argv[2]), float(argv[3]), Path(argv[4]))
        print(json.dumps(result))
        return 0
    print("usage: python -m iec62379.cli.bench.ingest send PORTS_JSON RATE SECONDS MEDIA",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
