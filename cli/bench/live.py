"""Benchmark: live receive + analysis on one core, the highest rate without any drop.

A sender process (pinned to one CPU) sends RTP datagrams of a real MPEG-TS file (7 TS packets
each, 1328 bytes of UDP payload, consecutive sequence numbers) to 127.0.0.1 at a fixed rate,
paced in 1 ms steps with ``sendmmsg(2)``. The receiver runs in this process, pinned to another
CPU, and is one of:

- **ours**: :class:`~iec62379.collectors.sources.udp.UdpSource` (``recvmmsg`` batches with
  ``SO_TIMESTAMPNS`` and ``SO_RXQ_OVFL``) feeding a
  :class:`~iec62379.collectors.core.demux.FlowDemux` (every metric on) through the wiring
  ``iec62379 probe`` and the agent use (:mod:`iec62379.collectors.wiring`), with a snapshot
  after every batch and the interval reports taken, as ``iec62379 probe`` does;
- **bare**: the peer, a plain ``socket.recvmsg`` loop with ``SO_TIMESTAMPNS`` (and
  ``SO_RXQ_OVFL`` to count drops) that only counts datagrams.

Both sockets ask for the same receive buffer (32 MiB by default, about 14,000 of these
datagrams, 70 ms at 200,000/s). Ours lets datagrams queue for 2 ms after a receive that
returned under a quarter of its batch size, so that the analysis works on fuller batches (its
cost is mostly per call); the bare loop takes one datagram per call by nature.

A step at rate R passes when every datagram sent arrived: no kernel drop (``SO_RXQ_OVFL``)
and, for ours, no RTP loss seen by the analyzer. A failed step is tried again once
(``tries``), since other work on the machine can stall a receiver for longer than its buffer
lasts. Rates go up by a factor (default 1.25) from a start rate until a step fails, then the
gap between the last pass and the first failure is bisected a few times. A step in which the
sender could not send everything within a second of its end time ends the search
("sender-limited").
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from iec62379.cli.bench.capture import REPO_MEDIA
from iec62379.cli.bench.pcap import environment
from iec62379.collectors.sources._recvmmsg import _Iovec, _Mmsghdr  # the C structures

SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SO_RXQ_OVFL = 40
DEFAULT_MEDIA = REPO_MEDIA / "h264_mp2.ts"
TARGET_PPS = 200_000.0


class BenchError(RuntimeError):
    """The sender or a receiver could not run."""


@dataclass(slots=True)
class Step:
    """One run at one rate."""

    receiver: str
    rate: float  # asked of the sender, datagrams/s
    seconds: float
    sent: int = 0
    sender_rate: float = 0.0  # achieved by the sender
    received: int = 0
    kernel_drops: int = 0
    rtp_lost: int | None = None  # ours only
    batches: int = 0
    receiver_cpu_s: float = 0.0
    passed: bool = False
    sender_limited: bool = False


@dataclass(slots=True)
class ReceiverResult:
    name: str
    best_rate: float = 0.0  # highest rate of a passed step
    best_received_pps: float = 0.0  # datagrams/s received in that step
    first_failure: float | None = None
    sender_limited: bool = False
    steps: list[Step] = field(default_factory=list)


@dataclass(slots=True)
class LiveBenchSettings:
    media: Path = DEFAULT_MEDIA
    seconds: float = 3.0
    start_rate: float = 50_000.0
    factor: float = 1.25
    bisect: int = 3
    max_rate: float = 2_000_000.0
    rcvbuf: int = 32 << 20
    batch_size: int = 1024
    coalesce_s: float = 0.002  # ours: after a batch under a quarter full, wait this long
    receiver_cpu: int | None = None
    sender_cpu: int | None = None
    receivers: tuple[str, ...] = ("ours", "bare")
    tries: int = 2  # a rate passes when one of this many runs passes (the machine is shared)


# --------------------------------------------------------------------------- the sender


def datagram_ring(media: Path, count: int = 4096) -> np.ndarray:
    """(count, 1328) uint8: full-size RTP datagrams of the file, in order, looping it."""
    from iec62379.collectors.generator import Plan, PlanConfig

    data = media.read_bytes()
    rows: list[bytes] = []
    plan = Plan(data, PlanConfig(loops=None, seed=1))
    for dg in plan:
        if len(dg.payload) == 12 + 7 * 188:
            rows.append(dg.payload)
        if len(rows) == count:
            break
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(count, -1).copy()


def send(port: int, rate: float, seconds: float, media: Path, chunk: int = 256) -> dict[str, Any]:
    """Send RTP datagrams to 127.0.0.1:port at rate/s for seconds; what was sent."""
    libc = ctypes.CDLL(None, use_errno=True)
    ring = datagram_ring(media)
    count, size = ring.shape
    base = ring.ctypes.data
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.connect(("127.0.0.1", port))
    iovs = (_Iovec * count)(*[_Iovec(base + i * size, size) for i in range(count)])
    hdrs = (_Mmsghdr * (2 * count))()  # twice the ring: a run never wraps
    for i in range(2 * count):
        hdrs[i].msg_hdr.msg_iov = ctypes.addressof(iovs[i % count])
        hdrs[i].msg_hdr.msg_iovlen = 1
    hsize = ctypes.sizeof(_Mmsghdr)
    haddr = ctypes.addressof(hdrs)
    seq_hi = ring[:, 2]
    seq_lo = ring[:, 3]
    sent = errors = 0
    seq = 0
    t0 = time.monotonic()
    end = t0 + seconds
    total = int(rate * seconds)
    while sent < total:
        now = time.monotonic()
        if now >= end + 1.0:
            break  # far behind: the sender cannot keep up
        due = min(int((now - t0) * rate), total) - sent
        if due <= 0:
            time.sleep(0.0005)
            continue
        k = min(due, chunk)
        pos = sent % count
        rows = (np.arange(k) + pos) % count
        seqs = (np.arange(k) + seq) & 0xFFFF
        seq_hi[rows] = seqs >> 8
        seq_lo[rows] = seqs & 0xFF
        r = libc.sendmmsg(sock.fileno(), ctypes.c_void_p(haddr + pos * hsize), k, 0)
        if r < 0:
            errors += 1
            continue
        sent += r
        seq += r
    elapsed = time.monotonic() - t0
    sock.close()
    return {"sent": sent, "elapsed_s": elapsed, "rate": sent / elapsed if elapsed else 0.0,
            "errors": errors}


# --------------------------------------------------------------------------- the receivers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn_sender(port: int, rate: float, seconds: float, media: Path,
                  cpu: int | None) -> subprocess.Popen[str]:
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen(
        [sys.executable, "-m", "iec62379.cli.bench.live", "send", str(port), str(rate),
         str(seconds), str(media)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=pin,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def _sender_result(proc: subprocess.Popen[str], seconds: float) -> dict[str, Any]:
    try:
        out, err = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise BenchError("the sender did not finish") from None
    if proc.returncode != 0:
        raise BenchError(f"the sender failed ({proc.returncode}): {err[-500:]}")
    result: dict[str, Any] = json.loads(out)
    return result


def run_ours(s: LiveBenchSettings, rate: float) -> Step:
    from iec62379.collectors.core.demux import FlowDemux
    from iec62379.collectors.core.report import AnalyzerConfig
    from iec62379.collectors.sources.udp import StreamUrl
    from iec62379.collectors.wiring import DemuxSink, StreamInput

    step = Step("ours", rate, s.seconds)
    url = StreamUrl("rtp", "127.0.0.1", 0)
    inp = StreamInput.open(url, fec=False, batch_size=s.batch_size, rcvbuf=s.rcvbuf)
    demux = FlowDemux(AnalyzerConfig())
    sink = DemuxSink(demux, inp.media_key)
    port = int(inp.media.local_address[1])
    proc = _spawn_sender(port, rate, s.seconds, s.media, s.sender_cpu)
    c0 = time.process_time()
    try:
        idle_since: float | None = None
        while True:
            got = inp.drain(sink, max_batches=1) if inp.wait(0.05) else 0
            if got and sink.newest_ns is not None:
                idle_since = None
                step.batches += 1
                demux.close_until(sink.newest_ns)
                for a in demux.streams.values():
                    a.pop_reports()
                if got < s.batch_size // 4 and s.coalesce_s > 0:
                    time.sleep(s.coalesce_s)  # let datagrams queue: fewer, fuller batches
            elif proc.poll() is not None:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 0.3:
                    break
        step.receiver_cpu_s = time.process_time() - c0
        sent = _sender_result(proc, s.seconds)
    finally:
        _stop(proc)
        inp.close()
    step.sent, step.sender_rate = int(sent["sent"]), float(sent["rate"])
    step.received = inp.media.stats.datagrams
    step.kernel_drops = inp.media.stats.kernel_drops
    step.rtp_lost = sum(a.totals().rtp_lost_net for a in demux.streams.values())
    return _judge(step)


def run_bare(s: LiveBenchSettings, rate: float) -> Step:
    step = Step("bare", rate, s.seconds)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, s.rcvbuf)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, s.rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = int(sock.getsockname()[1])
    proc = _spawn_sender(port, rate, s.seconds, s.media, s.sender_cpu)
    c0 = time.process_time()
    got = drops = 0
    stamp = 0
    recvmsg = sock.recvmsg
    try:
        idle_since: float | None = None
        while True:
            try:
                _data, anc, _flags, _addr = recvmsg(2048, 64)
            except BlockingIOError:
                if proc.poll() is not None:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > 0.3:
                        break
                select.select([sock], [], [], 0.05)
                continue
            idle_since = None
            got += 1
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    stamp = int.from_bytes(cdata[:8], "little")  # tv_sec; enough to read it
                elif level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL:
                    drops = int.from_bytes(cdata[:4], "little")
        step.receiver_cpu_s = time.process_time() - c0
        sent = _sender_result(proc, s.seconds)
    finally:
        _stop(proc)
        sock.close()
    del stamp
    step.sent, step.sender_rate = int(sent["sent"]), float(sent["rate"])
    step.received = got
    step.kernel_drops = drops
    step.batches = got
    return _judge(step)


def _judge(step: Step) -> Step:
    # The sender sends rate * seconds datagrams and gives up 1 s after its end time.
    step.sender_limited = step.sent < int(step.rate * step.seconds)
    step.passed = (
        not step.sender_limited
        and step.kernel_drops == 0
        and step.received == step.sent
        and (step.rtp_lost in (None, 0))
    )
    return step


def search(s: LiveBenchSettings, name: str) -> ReceiverResult:
    """Rates up by s.factor until a step fails, then bisection."""
    runner = run_ours if name == "ours" else run_bare

    def run(settings: LiveBenchSettings, rate: float) -> Step:
        step = runner(settings, rate)
        for _ in range(settings.tries - 1):
            if step.passed or step.sender_limited:
                break
            res.steps.append(step)
            step = runner(settings, rate)
        return step

    res = ReceiverResult(name)
    rate = s.start_rate
    low: float | None = None
    high: float | None = None
    while rate <= s.max_rate:
        step = run(s, rate)
        res.steps.append(step)
        if step.sender_limited:
            res.sender_limited = True
            break
        if step.passed:
            low = rate
            rate *= s.factor
        else:
            high = rate
            break
    if low is not None and high is not None:
        for _ in range(s.bisect):
            mid = (low + high) / 2
            step = run(s, mid)
            res.steps.append(step)
            if step.sender_limited:
                res.sender_limited = True
                break
            if step.passed:
                low = mid
            else:
                high = mid
    res.first_failure = high
    passed = [st for st in res.steps if st.passed]
    if passed:
        best = max(passed, key=lambda st: st.rate)
        res.best_rate = best.rate
        res.best_received_pps = best.received / best.seconds
    return res


def run_live_bench(s: LiveBenchSettings) -> dict[str, Any]:
    if not s.media.is_file():
        raise BenchError(f"no such media file: {s.media}")
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    rx_cpu = s.receiver_cpu if s.receiver_cpu is not None else (allowed[0] if allowed else None)
    tx_cpu = s.sender_cpu
    if tx_cpu is None and len(allowed) > 1:
        tx_cpu = next(c for c in allowed if c != rx_cpu)
    s.sender_cpu = tx_cpu
    before = None
    if rx_cpu is not None:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {rx_cpu})
    try:
        results = {name: search(s, name) for name in s.receivers}
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
    ours = results.get("ours")
    bare = results.get("bare")
    ratio = (
        ours.best_rate / bare.best_rate if ours is not None and bare is not None
        and bare.best_rate else None
    )
    targets = []
    if ours is not None:
        targets.append(
            {
                "key": "ours_rate",
                "label": "receive + analysis without drops, datagrams/s on one core",
                "target": f">= {TARGET_PPS:,.0f}",
                "value": ours.best_rate,
                "met": ours.best_rate >= TARGET_PPS,
            }
        )
    return {
        "settings": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items()},
            "receiver_cpu": rx_cpu,
            "sender_cpu": tx_cpu,
        },
        "results": {k: asdict(v) for k, v in results.items()},
        "ratio_ours_bare": ratio,
        "targets": targets,
        "environment": environment({}),
    }


def format_report(r: dict[str, Any]) -> str:
    st = r["settings"]
    lines = [
        f"live receive benchmark: {Path(st['media']).name} as RTP (1328-byte datagrams) to "
        f"127.0.0.1, {st['seconds']:g} s per step; receiver on CPU {st['receiver_cpu']}, "
        f"sender on CPU {st['sender_cpu']}; rcvbuf {st['rcvbuf']:,} bytes",
        "",
        f"{'receiver':<8} {'rate/s':>10} {'sent':>9} {'received':>9} {'drops':>7} "
        f"{'RTP lost':>8} {'batches':>8} {'rx CPU':>7}  verdict",
    ]
    for name, res in r["results"].items():
        for step in res["steps"]:
            verdict = "pass" if step["passed"] else (
                "sender-limited" if step["sender_limited"] else "FAIL"
            )
            lost = "-" if step["rtp_lost"] is None else f"{step['rtp_lost']:,}"
            lines.append(
                f"{name:<8} {step['rate']:>10,.0f} {step['sent']:>9,} {step['received']:>9,} "
                f"{step['kernel_drops']:>7,} {lost:>8} {step['batches']:>8,} "
                f"{step['receiver_cpu_s']:>6.2f}s  {verdict}"
            )
    lines.append("")
    for name, res in r["results"].items():
        fail = res["first_failure"]
        lines.append(
            f"{name}: highest rate without drops {res['best_rate']:,.0f} datagrams/s"
            + (f" (first failure at {fail:,.0f})" if fail else "")
            + (" - the sender could not go faster" if res["sender_limited"] else "")
        )
    if r["ratio_ours_bare"] is not None:
        lines.append(f"ours / bare recvmsg: {r['ratio_ours_bare']:.2f}x")
    if r["targets"]:
        lines += ["", "targets:"]
        for t in r["targets"]:
            met = "met    " if t["met"] else "NOT met"
            lines.append(f"  {met}  {t['label']}: {t['value']:,.0f} (target {t['target']})")
    return "\n".join(lines)


def _main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[0] == "send":
        port, rate, seconds, media = int(argv[1]), float(argv[2]), float(argv[3]), Path(argv[4])
        print(json.dumps(send(port, rate, seconds, media)))
        return 0
    print("usage: python -m iec62379.cli.bench.live send PORT RATE SECONDS MEDIA",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
