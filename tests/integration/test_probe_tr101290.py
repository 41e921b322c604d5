"""TR 101 290 in `iec62379 probe`: clean ffmpeg-made fixtures (paced by their PCRs, as
`iec62379 generate` sends them) and a stream sent by Debian's multicat fail no check; the
JSON shape of "tr101290", the table's failing tests and the summary's error counts."""

from __future__ import annotations

import importlib.util
import json
import select
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from iec62379.cli.main import cli
from iec62379.collectors import generator as g
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.mibs.vocabulary import TestState, TsTest
from procs import popen

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MEDIA = FIXTURES / "media"
CLI = Path(sys.executable).with_name("iec62379")
NAMES = {t.name for t in TsTest}


def judged(rows: list[dict]) -> list[dict]:
    """The intervals a stream ran through: with packets, before the last one that has any
    (where the stream stops, the PAT and the PCRs rightly stop too)."""
    return [r for r in rows if r["ts_packets"]][:-1]


@pytest.mark.parametrize("name", sorted(p.name for p in MEDIA.glob("*.ts")))
def test_clean_fixtures_fail_no_check(name: str) -> None:
    data = (MEDIA / name).read_bytes()
    plan = g.Plan(data, g.PlanConfig(rtp=True, seed=1, loops=1))
    dgs = list(plan)
    t0 = 1_000_000_000_000
    a = StreamAnalyzer(AnalyzerConfig(interval_s=0.5))
    a.feed_batch(
        PacketBatch.from_payloads([d.payload for d in dgs], [t0 + d.departure_ns for d in dgs])
    )
    # the intervals the stream covers whole (where it stops, the PAT and PCRs rightly stop)
    a.close_until(t0 + dgs[-1].departure_ns)
    reports = a.pop_reports()
    assert reports and all(r.ts_packets for r in reports)
    for r in reports:
        failing = {t.name: o for t, o in r.tr101290.items() if o.state is TestState.FAIL}
        assert failing == {}, (name, r.index)
        assert all(o.errors == 0 for o in r.tr101290.values()), (name, r.index)
    # where the file was made with a mux rate, the rate is constant: PCR accuracy measured
    if name in ("h264_mp2.ts", "mpeg2_ac3.ts"):
        assert {r.tr101290[TsTest.pcrAccuracyError].state for r in reports} == {TestState.PASS}


def _make_pcaps_module():
    spec = importlib.util.spec_from_file_location("make_pcaps", FIXTURES / "make_pcaps.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def lossy_pcap(path: Path) -> None:
    """h264_mp2.ts as RTP to 239.2.2.2:5004 with 2 % loss, time-stamped by the plan."""
    mp = _make_pcaps_module()
    src, dst = bytes([192, 0, 2, 9]), bytes([239, 2, 2, 2])
    plan = g.Plan(
        (MEDIA / "h264_mp2.ts").read_bytes(),
        g.PlanConfig(rtp=True, seed=5, loops=1, impairments=g.Impairments(loss_pct=2.0)),
    )
    t0 = 1_700_000_000 * 1_000_000_000
    frames = [
        (t0 + d.departure_ns, mp.ipv4(src, dst, 17, mp.udp(src, dst, 4000, 5004, d.payload)))
        for d in plan
    ]
    mp.write_pcap(path, frames, 101, nanos=True)


def run_probe(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["probe", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_probe_json_table_and_summary(tmp_path: Path) -> None:
    pcap = tmp_path / "lossy.pcap"
    lossy_pcap(pcap)
    code, out, err = run_probe(str(pcap), "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows
    for row in rows:
        tr = row["tr101290"]
        assert set(tr) == NAMES
        for v in tr.values():
            assert set(v) == {"state", "errors"}
            assert v["state"] in ("pass", "fail", "unknown")
            assert isinstance(v["errors"], int) and v["errors"] >= 0
    cc = sum(r["tr101290"]["continuityCountError"]["errors"] for r in rows)
    assert cc == sum(r["cc_errors"] for r in rows) > 0
    assert any(r["tr101290"]["continuityCountError"]["state"] == "fail" for r in rows)

    code, out, err = run_probe(str(pcap))
    assert code == 0, err
    lines = out.splitlines()
    failing = [ln for ln in lines if "TR 101 290 fail:" in ln]
    assert failing and all("continuityCountError" in ln for ln in failing)
    (summary,) = [ln for ln in lines if ln.strip().startswith("TR 101 290 errors:")]
    assert f"continuityCountError {cc}," in summary
    assert "tsSyncLoss 0," in summary


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_multicat_sent_stream_fails_no_check(tmp_path: Path) -> None:
    for tool in ("multicat", "ingests"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required (Debian's multicat package)")
    data = (MEDIA / "h264_mp2.ts").read_bytes()
    ts = tmp_path / "m.ts"
    ts.write_bytes(data)
    pid = g.schedule(data).pcr_pid
    subprocess.run(["ingests", "-p", str(pid), str(ts)], cwd=tmp_path,
                   capture_output=True, timeout=60, check=True)
    port = free_udp_port()
    probe = popen(
        [str(CLI), "probe", f"udp://127.0.0.1:{port}", "--json", "--duration", "60"],
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
        assert banner.startswith("receiving udp://127.0.0.1:"), banner
        subprocess.run(["multicat", "-U", "-t", "1", str(ts), f"127.0.0.1:{port}"],
                       capture_output=True, timeout=60, check=True)
        probe.send_signal(signal.SIGTERM)
        out, err = probe.communicate(timeout=30)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
    assert probe.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    ran = judged(rows)
    assert ran, rows
    for r in ran:
        failing = {k: v for k, v in r["tr101290"].items() if v["state"] == "fail" or v["errors"]}
        assert failing == {}, r["interval_start"]
