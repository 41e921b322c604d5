"""`iec62379 probe` end to end: capture files, bad arguments, and a live RTP stream on loopback
sent by `iec62379 generate`."""

from __future__ import annotations

import importlib.util
import json
import select
import signal
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from iec62379.cli.main import cli
from iec62379.collectors import generator as g
from procs import popen

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PCAP = FIXTURES / "pcap" / "eth_ns_be_vlan.pcap"  # 239.1.1.1:6000 and [ff3e::1234]:6002, 17.9 s
MEDIA = FIXTURES / "media" / "h264_mp2.ts"  # H.264 720p50 + MPEG-1 audio, CBR 1.5 Mbit/s, 2 s
CLI = Path(sys.executable).with_name("iec62379")
REQUIRED_KEYS = {
    "stream", "interval_start", "df_ms", "mlr", "tsdf_us", "rtp_lost", "cc_errors", "bitrate_bps",
}


def _make_pcaps_module():
    spec = importlib.util.spec_from_file_location("make_pcaps", FIXTURES / "make_pcaps.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_probe(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["probe", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def json_lines(stdout: str) -> list[dict]:
    lines = stdout.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]  # every stdout line must be one JSON object


def media_pcap(path: Path, loss_pct: float = 0.0, seed: int = 3) -> g.PlanStats:
    """A raw-IP pcap of h264_mp2.ts as RTP to 239.2.2.2:5004, time-stamped by the plan."""
    mp = _make_pcaps_module()
    src, dst = bytes([192, 0, 2, 9]), bytes([239, 2, 2, 2])
    plan = g.Plan(
        MEDIA.read_bytes(),
        g.PlanConfig(rtp=True, seed=seed, impairments=g.Impairments(loss_pct=loss_pct)),
    )
    t0 = 1_700_000_000 * 1_000_000_000
    frames = [
        (t0 + d.departure_ns, mp.ipv4(src, dst, 17, mp.udp(src, dst, 4000, 5004, d.payload)))
        for d in plan
    ]
    mp.write_pcap(path, frames, 101, nanos=True)
    return plan.stats


# --------------------------------------------------------------------------- capture files


@pytest.mark.parametrize("interval", [1.0, 2.0, 0.5])
def test_pcap_json_lines_and_intervals(interval: float) -> None:
    code, out, err = run_probe(str(PCAP), "--json", "--interval", str(interval))
    assert code == 0, err
    rows = json_lines(out)
    by_stream: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        assert REQUIRED_KEYS <= row.keys(), row.keys()
        by_stream[row["stream"]].append(row)
    assert set(by_stream) == {"239.1.1.1:6000", "[ff3e::1234]:6002"}
    # First packets at 0 s and 2.333 s; the capture ends at 17.889 s. Every stream is
    # reported up to the interval holding the end of the capture (empty intervals included).
    spans = {"239.1.1.1:6000": 17.888888871, "[ff3e::1234]:6002": 17.888888871 - 2.333333331}
    for name, stream_rows in by_stream.items():
        starts = [r["interval_start"] for r in stream_rows]
        assert starts[0] == 0
        assert starts == pytest.approx([k * interval for k in range(len(starts))])
        assert len(starts) == int(spans[name] // interval) + 1
        assert all(r["interval_s"] == interval for r in stream_rows)
        assert [r["partial"] for r in stream_rows] == [False] * (len(starts) - 1) + [True]
    # 18 IPv4 and 6 IPv6 datagrams in the file, each counted once.
    assert sum(r["datagrams"] for r in by_stream["239.1.1.1:6000"]) == 18
    assert sum(r["datagrams"] for r in by_stream["[ff3e::1234]:6002"]) == 6


def test_pcap_of_a_media_stream_measures_it(tmp_path: Path) -> None:
    pcap = tmp_path / "media.pcap"
    stats = media_pcap(pcap, loss_pct=5.0, seed=11)
    assert stats.total_lost > 0
    code, out, err = run_probe(str(pcap), "--json", "--rate", "1.5M")
    assert code == 0, err
    rows = json_lines(out)
    assert {r["stream"] for r in rows} == {"239.2.2.2:5004"}
    assert [r["interval_start"] for r in rows] == [0, 1, 2]
    lost_tail = 0  # a loss at the very end leaves no gap to see
    for n in range(stats.datagrams - 1, -1, -1):
        if n not in stats.lost_numbers:
            break
        lost_tail += 1
    assert sum(r["rtp_lost"] for r in rows) == stats.total_lost - lost_tail
    assert sum(r["datagrams"] for r in rows) == stats.sent
    full = rows[0]
    assert full["bitrate_bps"] == pytest.approx(1.5e6 * (1 - 0.05), rel=0.06)
    assert full["media_rate_source"] == "configured" and full["media_rate_bps"] == 1.5e6
    assert full["df_ms"] is not None and full["df_ms"] > 0 and full["mlr"] > 0
    assert full["tsdf_us"] is not None
    assert full["video"]["coding"] == "videoH264" and full["video"]["width"] == 1280
    assert [a["format"] for a in full["audio"]] == ["audioMpeg1"]


@pytest.mark.parametrize("step_s", [400, 100_000])
def test_pcap_batch_reports_every_interval_as_record_by_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step_s: int
) -> None:
    """A sparse stream (one datagram every step_s seconds) whose intervals all close inside
    one read batch: probe reports the same intervals as when fed record by record, every
    datagram included (before, those past the analyzer's max_reports went missing)."""
    import iec62379.cli.probe as probe_module
    from iec62379.collectors.core.analyzer import StreamAnalyzer

    mp = _make_pcaps_module()
    src, dst = bytes([192, 0, 2, 9]), bytes([239, 2, 2, 2])
    plan = g.Plan(MEDIA.read_bytes(), g.PlanConfig(rtp=True, seed=3)).datagrams()[:12]
    t0 = 1_700_000_000 * 1_000_000_000
    frames = [
        (t0 + i * step_s * 1_000_000_000, mp.ipv4(src, dst, 17, mp.udp(src, dst, 4000, 5004,
                                                                         d.payload)))
        for i, d in enumerate(plan)
    ]
    pcap = tmp_path / "sparse.pcap"
    mp.write_pcap(pcap, frames, 101, nanos=True)
    outputs = []
    for batch in (65536, 1):
        monkeypatch.setattr(probe_module, "_PCAP_BATCH", batch)
        code, out, err = run_probe(str(pcap), "--json")
        assert code == 0, err
        outputs.append(json_lines(out))
    whole, by_record = outputs
    assert whole == by_record
    # a silence's reports are printed from its first one, as printing each one prints them
    printed = {fmt: run_probe(str(pcap), *fmt) for fmt in (("--json",), ())}
    monkeypatch.setattr(StreamAnalyzer, "pop_report_runs",
                        lambda self: [(r, 1) for r in self.pop_reports()])
    for fmt, out in printed.items():
        assert run_probe(str(pcap), *fmt) == out
    assert sum(r["datagrams"] for r in whole) == 12
    if step_s == 400:  # every interval from the first datagram to the last
        assert [r["interval_start"] for r in whole] == list(range(11 * 400 + 1))


def test_pcap_clean_media_has_no_loss(tmp_path: Path) -> None:
    pcap = tmp_path / "clean.pcap"
    stats = media_pcap(pcap)
    code, out, err = run_probe(str(pcap), "--json")
    assert code == 0, err
    rows = json_lines(out)
    assert sum(r["rtp_lost"] for r in rows) == 0
    assert sum(r["cc_errors"] for r in rows) == 0
    assert all(r["mlr"] == 0 for r in rows)
    assert sum(r["datagrams"] for r in rows) == stats.datagrams
    assert rows[0]["media_rate_source"] == "pcr"
    assert rows[0]["bitrate_bps"] == pytest.approx(1.5e6, rel=0.02)


def test_pcap_table_and_summary(tmp_path: Path) -> None:
    pcap = tmp_path / "media.pcap"
    stats = media_pcap(pcap, loss_pct=5.0, seed=11)
    code, out, err = run_probe(str(pcap))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["stream", "start", "s"]
    table = [line for line in lines if line.startswith("239.2.2.2:5004 ")]
    assert len(table) == 3
    assert "H264 1280x720p50" in table[0] and "Mpeg1" in table[0]
    assert "summary" in lines
    summary = out[out.index("\nsummary\n"):]
    assert f"{stats.sent} datagrams" in summary
    assert "max DF" in summary and "max TS-DF" in summary
    assert "0x0100" in summary and "0x0101" in summary  # the PIDs
    assert err == ""  # no progress without a terminal


def test_pcap_duration_limits_capture_time() -> None:
    code, out, err = run_probe(str(PCAP), "--json", "--duration", "5")
    assert code == 0, err
    rows = [r for r in json_lines(out) if r["stream"] == "239.1.1.1:6000"]
    assert [r["interval_start"] for r in rows] == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["/nonexistent/capture.pcap"], "no such file"),
        ([str(FIXTURES / "make_pcaps.py")], "not a pcap or pcapng"),
        ([str(FIXTURES / "pcap")], "directory"),
        (["udp://1.2.3:5000"], "not an IPv4 or IPv6 address"),
        (["rtp://239.1.1.1:99999"], "out of range"),
        (["ftp://239.1.1.1:5000"], "unknown scheme"),
        ([str(PCAP), "--interval", "-1"], "--interval"),
        ([str(PCAP), "--interval", "0"], "--interval"),
        ([str(PCAP), "--interval", "soon"], "--interval"),
        ([str(PCAP), "--rate", "-2M"], "--rate"),
        ([str(PCAP), "--rate", "fast"], "--rate"),
        ([str(PCAP), "--duration", "-3"], "--duration"),
        ([str(PCAP), "--transport", "tcp"], "--transport"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    proc = subprocess.run(
        [str(CLI), "probe", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ") and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_empty_and_damaged_files_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    code, out, err = run_probe(str(empty), "--json")
    assert code == 2 and out == "" and "empty" in err
    # A capture cut in the middle of a record: exit 2 naming the fault.
    cut = tmp_path / "cut.pcap"
    data = PCAP.read_bytes()
    cut.write_bytes(data[: len(data) - 700])
    code, out, err = run_probe(str(cut), "--json")
    assert code == 2
    assert all(json.loads(line) for line in out.splitlines())  # only JSON on stdout, if any
    assert err.strip().startswith("Error: capture damaged") and "cut.pcap" in err
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- live


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_probe(*generate_args: str) -> tuple[list[dict], dict]:
    """Run probe on rtp://127.0.0.1:PORT while generate sends the fixture to it, and stop it
    (SIGTERM) once generate has sent everything: however slowly a busy machine starts the
    generator, probe sees all of it (--duration 60 only bounds a test gone wrong)."""
    port = free_udp_port()
    probe = popen(
        [str(CLI), "probe", f"rtp://127.0.0.1:{port}", "--json", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert probe.stderr is not None
        ready, _, _ = select.select([probe.stderr], [], [], 20)
        if not ready:
            pytest.fail("probe did not start receiving within 20 s")
        banner = probe.stderr.readline()
        assert banner.startswith("receiving rtp://127.0.0.1:"), banner
        gen = subprocess.run(
            [str(CLI), "generate", str(MEDIA), f"rtp://127.0.0.1:{port}", "--json", "-q",
             *generate_args],
            capture_output=True, text=True, timeout=30,
        )
        assert gen.returncode == 0, gen.stderr
        probe.send_signal(signal.SIGTERM)  # loopback: every datagram is in its socket by now
        out, err = probe.communicate(timeout=30)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
    assert probe.returncode == 0, err
    rows = json_lines(out)
    for row in rows:
        assert REQUIRED_KEYS <= row.keys()
        assert row["stream"] == f"127.0.0.1:{port}"
    starts = [r["interval_start"] for r in rows]
    assert starts == list(range(len(starts))) and len(starts) >= 2  # 2 s of media
    return rows, json.loads(gen.stdout)


def test_live_rtp_with_loss() -> None:
    rows, sent = live_probe("--loss", "5", "--seed", "1")
    assert sent["lost"] > 0
    lost = sum(r["rtp_lost"] for r in rows)
    assert 0 < lost <= sent["lost"]
    assert sum(r["datagrams"] for r in rows) == sent["datagrams_sent"]
    assert max(r["mlr"] for r in rows) > 0
    assert any(r["video"] and r["video"]["coding"] == "videoH264" for r in rows)


def test_live_rtp_without_loss() -> None:
    rows, sent = live_probe("--seed", "1")
    assert sent["lost"] == 0
    assert sum(r["rtp_lost"] for r in rows) == 0
    assert sum(r["cc_errors"] for r in rows) == 0
    assert sum(r["datagrams"] for r in rows) == sent["datagrams_sent"]
    assert rows[0]["bitrate_bps"] == pytest.approx(1.5e6, rel=0.1)
    assert rows[0]["tsdf_us"] is not None and rows[0]["df_ms"] is not None


def test_live_bad_address_exits_2() -> None:
    # 192.0.2.1 (TEST-NET-1) is not an address of this host: bind fails.
    proc = subprocess.run(
        [str(CLI), "probe", "udp://192.0.2.1:5000", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: cannot receive") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


MPTS = FIXTURES / "mpts" / "two_programs.ts"  # 1: H.264 + AAC, 2: MPEG-2 + MP2


def mpts_pcap(path: Path) -> None:
    """A raw-IP pcap of two_programs.ts as RTP to 239.2.2.2:5004, time-stamped by the plan."""
    mp = _make_pcaps_module()
    src, dst = bytes([192, 0, 2, 9]), bytes([239, 2, 2, 2])
    plan = g.Plan(MPTS.read_bytes(), g.PlanConfig(rtp=True, seed=3, loops=2))
    t0 = 1_700_000_000 * 1_000_000_000
    frames = [
        (t0 + d.departure_ns, mp.ipv4(src, dst, 17, mp.udp(src, dst, 4000, 5004, d.payload)))
        for d in plan
    ]
    mp.write_pcap(path, frames, 101, nanos=True)


def test_mpts_every_program_in_json_and_table(tmp_path: Path) -> None:
    pcap = tmp_path / "mpts.pcap"
    mpts_pcap(pcap)
    code, out, err = run_probe(str(pcap), "--json")
    assert code == 0, err
    rows = json_lines(out)
    last = rows[-2]  # a full interval
    assert REQUIRED_KEYS | {"video", "audio", "programs"} <= last.keys()
    progs = last["programs"]
    assert [(p["program_number"], p["pmt_pid"], p["pcr_pid"], p["selected"]) for p in progs] == [
        (1, 0x1000, 0x100, True),
        (2, 0x1001, 0x200, False),
    ]
    assert progs[0]["video"] == last["video"] and progs[0]["audio"] == last["audio"]
    v2 = progs[1]["video"]
    assert (v2["pid"], v2["coding"], v2["width"], v2["height"]) == (0x200, "videoMpeg2", 352, 288)
    assert [(a["component"], a["pid"], a["format"]) for a in progs[1]["audio"]] == [
        (1, 0x201, "audioMpeg1")
    ]
    code, out, err = run_probe(str(pcap))
    assert code == 0, err
    assert "#1 H264 320x240p25 AacAdts | #2 Mpeg2 352x288p25 Mpeg1" in out
    assert "codecs: #1 H264 320x240p25 AacAdts | #2 Mpeg2 352x288p25 Mpeg1" in out


def test_single_program_json_lists_its_one_program(tmp_path: Path) -> None:
    pcap = tmp_path / "media.pcap"
    media_pcap(pcap)
    code, out, err = run_probe(str(pcap), "--json")
    assert code == 0, err
    last = json_lines(out)[-1]
    (p,) = last["programs"]
    assert p["selected"] and p["video"] == last["video"] and p["audio"] == last["audio"]
