"""`iec62379 generate` end to end: real sockets on loopback, captured and judged by tshark,
with Debian's multicat as the pacing reference."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from iec62379.cli.main import cli
from iec62379.collectors import generator as g
from procs import popen, running, stop

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"
FIXTURE = MEDIA / "h264_mp2.ts"  # CBR 1.5 Mbit/s, 2 s, PCR on PID 0x100
CLI = Path(sys.executable).with_name("iec62379")


def free_udp_port(family: socket.AddressFamily = socket.AF_INET) -> int:
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def capture(port: int, path: Path) -> Iterator[None]:
    """tshark on lo for one UDP port, running while the block runs."""
    if shutil.which("tshark") is None:
        pytest.fail("tshark is required for the generator integration tests")
    err = path.with_suffix(".err")
    with err.open("wb") as err_file:
        proc = popen(
            ["tshark", "-i", "lo", "-f", f"udp port {port}", "-w", str(path), "-q"],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
        try:
            deadline = time.monotonic() + 20
            while b"Capturing on" not in err.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"tshark did not start capturing: {err.read_text()}")
                time.sleep(0.05)
            yield
            time.sleep(0.5)  # let the last packets reach the capture
        finally:
            stop(proc, signal.SIGINT)  # tshark writes the rest of the capture on SIGINT


def run_generate(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "generate", *args], capture_output=True, text=True, timeout=timeout
    )


def generate_json(*args: str) -> dict:
    proc = run_generate(*args, "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


_STREAM_LINE = re.compile(
    r"^\s*[\d.]+\s+[\d.]+\s+\S+\s+\d+\s+\S+\s+(?P<port>\d+)\s+(?P<ssrc>0x[0-9A-Fa-f]+)\s+"
    r"(?P<payload>.+?)\s+(?P<pkts>\d+)\s+(?P<lost>-?\d+)\s+\([-\d.]+%\)\s+"
    r"(?P<min_delta>[\d.]+)\s+(?P<mean_delta>[\d.]+)\s+(?P<max_delta>[\d.]+)\s+"
    r"(?P<min_jitter>[\d.]+)\s+(?P<mean_jitter>[\d.]+)\s+(?P<max_jitter>[\d.]+)"
)


def rtp_streams(path: Path, port: int) -> list[dict[str, str]]:
    """tshark's RTP stream statistics for the capture, decoding the port as RTP."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-q", "-d", f"udp.port=={port},rtp", "-z", "rtp,streams"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    rows = [m.groupdict() for line in out.splitlines() if (m := _STREAM_LINE.match(line))]
    assert rows, out
    return rows


def packet_fields(path: Path, port: int, *fields: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(path), "-d", f"udp.port=={port},rtp", "-T", "fields",
           "-E", "separator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split(",") for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------


def test_clean_rtp_stream_as_tshark_sees_it(tmp_path: Path) -> None:
    """tshark sees the plan's datagrams, in order, without loss; the RTP timestamps follow
    the send schedule. Timing is judged on the schedule the sender keeps (the plan), not on
    the arrival times of a capture, which a busy machine moves."""
    port = free_udp_port()
    pcap = tmp_path / "clean.pcapng"
    with capture(port, pcap):
        report = generate_json(str(FIXTURE), f"rtp://127.0.0.1:{port}", "--seed", "5")
    n_packets = FIXTURE.stat().st_size // 188
    assert report["datagrams_sent"] == report["datagrams_planned"] == -(-n_packets // 7)
    assert report["lost"] == 0 and report["ts_packets_sent"] == n_packets

    (row,) = rtp_streams(pcap, port)
    assert int(row["pkts"]) == report["datagrams_sent"]
    assert int(row["lost"]) == 0
    assert int(row["ssrc"], 16) == report["ssrc"]

    rows = packet_fields(pcap, port, "frame.time_epoch", "rtp.seq", "rtp.timestamp", "rtp.p_type")
    seqs = [int(r[1]) for r in rows]
    stamps = [int(r[2]) for r in rows]
    assert {r[3] for r in rows} == {"33"}
    assert seqs == [(report["initial_seq"] + i) % 65536 for i in range(len(rows))]
    assert all(b > a for a, b in itertools.pairwise(stamps))  # no wrap within 2 s here
    # the same plan through the API: the wire carries its timestamps, and they follow its
    # departures (TS-DF, EBU Tech 3337, of the schedule: flat, under one 90 kHz tick)
    plan = g.Plan(FIXTURE.read_bytes(), g.PlanConfig(seed=5)).datagrams()
    assert [int.from_bytes(d.payload[4:8], "big") for d in plan] == stamps
    d = [
        (p.departure_ns - plan[0].departure_ns) / 1e9 - (s - stamps[0]) / 90_000
        for p, s in zip(plan, stamps, strict=True)
    ]
    assert max(d) - min(d) < 1 / 90_000
    # and the schedule's rate is the file's; the achieved rate, by a margin that only a stall
    # of ~0.4 s at the end of this 2 s run would cross
    span_s = (plan[-1].departure_ns - plan[0].departure_ns) / 1e9
    assert (len(plan) - 1) * 7 * 188 * 8 / span_s == pytest.approx(1_500_000, rel=0.02)
    assert report["achieved_ts_bitrate"] == pytest.approx(1_500_000, rel=0.2)


def test_loss_count_matches_tshark(tmp_path: Path) -> None:
    port = free_udp_port()
    pcap = tmp_path / "loss.pcapng"
    args = ["--seed", "7", "--loss", "4", "--burst-loss", "2", "--burst-length", "3"]
    with capture(port, pcap):
        report = generate_json(str(FIXTURE), f"rtp://127.0.0.1:{port}", *args)
    # the same plan through the API: which numbers were lost
    plan = g.Plan(FIXTURE.read_bytes(), g.PlanConfig(
        seed=7, impairments=g.Impairments(loss_pct=4, burst_loss_pct=2, burst_length=3)))
    plan.datagrams()
    assert report["lost"] == plan.stats.total_lost > 0
    assert report["lost_random"] > 0 and report["lost_burst"] > 0
    lost = set(plan.stats.lost_numbers)
    total = plan.stats.datagrams
    # a receiver cannot see losses before the first or after the last datagram it gets
    edge = sum(1 for _ in itertools.takewhile(lambda i: i in lost, range(total)))
    edge += sum(1 for _ in itertools.takewhile(lambda i: i in lost, reversed(range(total))))
    (row,) = rtp_streams(pcap, port)
    assert int(row["pkts"]) == report["datagrams_sent"] == total - report["lost"]
    assert int(row["lost"]) == report["lost"] - edge


def test_duplicates_and_reordering_on_the_wire(tmp_path: Path) -> None:
    port = free_udp_port()
    pcap = tmp_path / "dup.pcapng"
    with capture(port, pcap):
        report = generate_json(str(FIXTURE), f"127.0.0.1:{port}", "--seed", "3",
                               "--duplicate", "5", "--reorder", "5")
    assert report["protocol"] == "rtp"
    seqs = [int(r[0]) for r in packet_fields(pcap, port, "rtp.seq")]
    assert len(seqs) == report["datagrams_sent"]
    dup_count = len(seqs) - len(set(seqs))
    assert dup_count == report["duplicated"] > 0
    descents = sum(1 for a, b in itertools.pairwise(seqs) if (b - a) % 65536 > 32768)
    assert descents == report["reordered"] > 0
    assert report["jitter_reordered"] == 0


def test_pacing_matches_multicat(tmp_path: Path) -> None:
    """Our schedule against multicat's (ingests' .aux: a 27 MHz time per datagram), both
    from the file's PCRs, and both senders deliver the file. The times are judged on
    the schedules, which the code controls: a capture's arrival times move with the load of
    the machine (a busy one had multicat finish in 1.85 s)."""
    for tool in ("multicat", "ingests"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required for the pacing comparison")
    data = FIXTURE.read_bytes()
    sched = g.schedule(data)
    pcr_duration = sched.duration_ns / 1e9
    ts = tmp_path / "ref.ts"
    ts.write_bytes(data)
    subprocess.run(["ingests", "-p", str(sched.pcr_pid), str(ts)], cwd=tmp_path,
                   capture_output=True, timeout=60, check=True)
    aux = ts.with_suffix(".aux").read_bytes()
    theirs = [int.from_bytes(aux[i : i + 8], "big") * 1000 / 27 for i in range(0, len(aux), 8)]
    ours = [d.departure_ns for d in g.Plan(data, g.PlanConfig(seed=1)).datagrams()]
    assert len(ours) == len(theirs) == -(-len(data) // (7 * 188))
    spans = {"ours": (ours[-1] - ours[0]) / 1e9, "multicat": (theirs[-1] - theirs[0]) / 1e9}
    for name, span in spans.items():
        assert span == pytest.approx(pcr_duration, rel=0.05), (name, span, pcr_duration)
    # datagram by datagram, within a few ms (the two place a datagram's time differently
    # between PCRs)
    offsets = [(a - ours[0]) - (b - theirs[0]) for a, b in zip(ours, theirs, strict=True)]
    assert max(map(abs, offsets)) < 5e6

    for name in ("ours", "multicat"):
        port = free_udp_port()
        pcap = tmp_path / f"{name}.pcapng"
        with capture(port, pcap):
            if name == "ours":
                generate_json(str(ts), f"udp://127.0.0.1:{port}", "--seed", "1")
            else:
                subprocess.run(["multicat", "-U", "-t", "1", str(ts), f"127.0.0.1:{port}"],
                               capture_output=True, timeout=60, check=True)
        sent = len(packet_fields(pcap, port, "frame.time_epoch"))
        assert sent == len(ours) if name == "ours" else sent > 50, (name, sent)


def test_udp_over_ipv6_delivers_the_file(tmp_path: Path) -> None:
    port = free_udp_port(socket.AF_INET6)
    data = (MEDIA / "mpeg1_mp2.ts").read_bytes()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        rx.bind(("::1", port))
        rx.settimeout(5.0)
        got: list[bytes] = []
        expected = -(-len(data) // (4 * 188))
        with running(
            [str(CLI), "generate", str(MEDIA / "mpeg1_mp2.ts"), f"udp://[::1]:{port}",
             "--ts-per-packet", "4", "--json", "-q", "--ttl", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as proc:
            while len(got) < expected:
                got.append(rx.recv(2048))
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["protocol"] == "udp"
    assert all(len(p) == 752 for p in got[:-1])
    assert b"".join(got) == data


def test_duration_bounds_an_endless_loop() -> None:
    port = free_udp_port()
    start = time.monotonic()
    report = generate_json(str(MEDIA / "mpeg1_mp2.ts"), f"rtp://127.0.0.1:{port}",
                           "--duration", "1.5")  # the file lasts about 1 s: loops once more
    assert time.monotonic() - start < 10
    per_loop = -(-(MEDIA / "mpeg1_mp2.ts").stat().st_size // (7 * 188))
    assert per_loop < report["datagrams_sent"] < 2 * per_loop
    assert report["elapsed_s"] <= 1.5


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "ignored"])
def test_ctrl_c_stops_and_reports(inherited: signal.Handlers) -> None:
    """SIGINT stops an endless loop with a report, also when the generator was started with
    SIGINT ignored (a background job of a shell): it installs its own handler."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(60)
        port = rx.getsockname()[1]
        cmd = [str(CLI), "generate", str(FIXTURE), f"rtp://127.0.0.1:{port}", "--loop", "0", "-q"]
        with running(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     sig=signal.SIGKILL,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, inherited)) as proc:
            rx.recv(2048)  # sending: the handler is in place, however slowly it started
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    assert re.search(r"sent [1-9]\d* datagrams", out)


# ---------------------------------------------------------------------------------------------
# bad arguments: exit status 2 and a clear message, never a traceback


def _garbage(tmp_path: Path) -> Path:
    p = tmp_path / "garbage.ts"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1000))
    return p


def _bad_sync(tmp_path: Path) -> Path:
    data = bytearray(FIXTURE.read_bytes()[: 188 * 10])
    data[188 * 3] = 0x48
    p = tmp_path / "badsync.ts"
    p.write_bytes(bytes(data))
    return p


def _no_pcr(tmp_path: Path) -> Path:
    p = tmp_path / "nopcr.ts"
    p.write_bytes((b"\x47\x1f\xff\x10" + b"\xff" * 184) * 20)
    return p


@pytest.mark.parametrize(
    ("make_file", "extra", "message"),
    [
        (None, [], "does not exist"),
        (_garbage, [], "no sync byte 0x47 at offset 0"),
        (_bad_sync, [], "no sync byte 0x47 at offset 564"),
        (_no_pcr, [], "no PCR found in the file: give a fixed rate with --bitrate"),
        ("fixture", ["--loss", "150"], "150"),
        ("fixture", ["--burst-loss", "100"], "--burst-loss"),
        ("fixture", ["--duplicate", "-1"], "--duplicate"),
        ("fixture", ["--ts-per-packet", "8"], "--ts-per-packet"),
        ("fixture", ["--bitrate", "fast"], "not a bit rate"),
        ("fixture", ["--udp"], "--udp contradicts the scheme"),
        ("fixture", ["--iface", "lo"], "multicast destinations only"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, make_file: object, extra: list[str],
                              message: str) -> None:
    if make_file is None:
        path = tmp_path / "missing.ts"
    elif make_file == "fixture":
        path = FIXTURE
    else:
        path = make_file(tmp_path)  # type: ignore[operator]
    result = CliRunner().invoke(cli, ["generate", str(path), "rtp://127.0.0.1:9", *extra])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
    assert "Traceback" not in result.output


def test_no_pcr_file_plays_with_bitrate(tmp_path: Path) -> None:
    port = free_udp_port()
    report = generate_json(str(_no_pcr(tmp_path)), f"udp://127.0.0.1:{port}",
                           "--bitrate", "1M")
    assert report["pcr_pid"] is None and report["datagrams_sent"] == 3


@pytest.mark.parametrize("dest", ["127.0.0.1", "rtp://[::1]", "srt://127.0.0.1:5000"])
def test_bad_destination_exits_2_in_a_real_process(dest: str) -> None:
    proc = run_generate(str(FIXTURE), dest)
    assert proc.returncode == 2
    assert "Invalid value for DEST" in proc.stderr and "bad destination" in proc.stderr
    assert "Traceback" not in proc.stderr
