"""The collector benchmark harnesses' parsing and capture code, on fixed inputs (no timing)."""

# ruff: noqa: E501  (tshark's table lines, verbatim)

from __future__ import annotations

from pathlib import Path

import pytest
from iec62379.cli.bench.capture import CaptureSpec, ensure_capture
from iec62379.cli.bench.live import Step, _judge
from iec62379.cli.bench.pcap import (
    RunFigures,
    analyse,
    our_losses,
    parse_rtp_streams,
    tshark_command,
    tshark_losses,
)

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"

# tshark 4.0.17, `tshark -n -q -r FILE -z rtp,streams -d udp.port==5000,rtp` (two rows of the
# benchmark capture), then an IPv6 row with a negative loss (duplicates) and a row without
# the problems mark, as Wireshark writes them.
SAMPLE = """\
========================= RTP Streams ========================
   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)  Max Jitter(ms) Problems?
     0.000682     41.248379        10.0.0.1  4000     239.10.0.11  5000 0xDDA1494C  MPEG-II streams 21934    42 (0.2%)           0.625           1.881          20.461           0.003           0.173           0.632 X
     0.000000     41.252020        10.0.0.1  4000      239.10.0.1  5000 0x91B7584A  MPEG-II streams 23495    39 (0.2%)           0.807           1.756          10.194           0.001           0.169           0.604 X
     1.500000      3.000000   2001:db8::1  4002     ff3e::1234  5004 0x00000007  MPEG-II streams   100    -2 (-2.0%)           0.100           1.000           2.000           0.000           0.010           0.020 X
     2.000000      4.000000     192.0.2.9  4000       192.0.2.1  6000 0x0000ABCD           MP2T    50     0 (0.0%)           1.000           2.000           3.000           0.000           0.000           0.000
    17.111111     17.111111       192.0.2.1  5000       239.1.1.1  6000 0xE2E9F0F7       Unassigned     1     0 (0.0%)          -1.000           0.000           0.000          -1.000           0.000           0.000
==============================================================
"""


def test_parse_rtp_streams_rows() -> None:
    rows = parse_rtp_streams("Running as user \"root\"\n" + SAMPLE)
    assert len(rows) == 5
    one = rows[4]  # a single packet: tshark writes -1.000 for the deltas and jitter
    assert (one.packets, one.payload, one.min_delta_ms, one.min_jitter_ms) == (
        1, "Unassigned", -1.0, -1.0)
    rows = rows[:4]
    a = rows[0]
    assert (a.src, a.src_port, a.dst, a.dst_port) == ("10.0.0.1", 4000, "239.10.0.11", 5000)
    assert a.ssrc == 0xDDA1494C and a.payload == "MPEG-II streams"
    assert (a.packets, a.lost, a.lost_percent) == (21934, 42, 0.2)
    assert (a.min_delta_ms, a.mean_delta_ms, a.max_delta_ms) == (0.625, 1.881, 20.461)
    assert (a.min_jitter_ms, a.mean_jitter_ms, a.max_jitter_ms) == (0.003, 0.173, 0.632)
    assert a.problems and a.start_s == 0.000682 and a.end_s == 41.248379
    v6 = rows[2]
    assert v6.dst == "ff3e::1234" and v6.lost == -2 and v6.lost_percent == -2.0
    assert rows[3].payload == "MP2T" and not rows[3].problems
    losses = tshark_losses(rows)
    assert [(x.dst, x.ssrc, x.packets, x.lost) for x in losses] == [
        ("192.0.2.1:6000", 0xABCD, 50, 0),
        ("239.10.0.11:5000", 0xDDA1494C, 21934, 42),
        ("239.10.0.1:5000", 0x91B7584A, 23495, 39),
        ("[ff3e::1234]:5004", 7, 100, -2),
    ]


def test_parse_rtp_streams_empty_and_broken() -> None:
    empty = SAMPLE.splitlines()
    assert parse_rtp_streams("\n".join(empty[:2] + empty[-1:])) == []
    with pytest.raises(ValueError, match="no 'RTP Streams' table"):
        parse_rtp_streams("tshark: The file doesn't exist.\n")
    with pytest.raises(ValueError, match="not an RTP stream row"):
        parse_rtp_streams("\n".join(empty[:2] + ["  garbage line"] + empty[-1:]))


def test_tshark_command() -> None:
    argv = tshark_command("tshark", Path("/x.pcap"), [5000, 5010])
    assert argv == ["tshark", "-n", "-q", "-r", "/x.pcap", "-z", "rtp,streams",
                    "-d", "udp.port==5000,rtp", "-d", "udp.port==5010,rtp"]
    heur = tshark_command("tshark", Path("/x.pcap"), [5000], heuristic=True)
    assert heur[-2:] == ["-o", "rtp.heuristic_rtp:TRUE"] and "-d" not in heur
    assert tshark_command("tshark", Path("/x.pcap"), [])[-2:] == ["-o", "rtp.heuristic_rtp:TRUE"]


def test_run_figures() -> None:
    f = RunFigures("x", records=1000, wall_s=[0.5, 0.25, 1.0], cpu_s=[0.5, 0.2, 0.9])
    f.finish()
    assert f.best_wall_s == 0.25 and f.packets_per_s == 4000
    assert f.median_wall_s == 0.5 and f.median_packets_per_s == 2000
    assert f.cpu_packets_per_s == 5000  # CPU seconds of the fastest run


def test_judge_live_steps() -> None:
    ok = _judge(Step("ours", 1000.0, 2.0, sent=2000, received=2000, rtp_lost=0))
    assert ok.passed and not ok.sender_limited
    assert not _judge(Step("ours", 1000.0, 2.0, sent=2000, received=2000, kernel_drops=1)).passed
    assert not _judge(Step("ours", 1000.0, 2.0, sent=2000, received=1999, rtp_lost=0)).passed
    assert not _judge(Step("ours", 1000.0, 2.0, sent=2000, received=2000, rtp_lost=3)).passed
    slow = _judge(Step("bare", 1000.0, 2.0, sent=1500, received=1500))
    assert slow.sender_limited and not slow.passed


def test_small_capture_is_made_cached_and_analysed(tmp_path: Path) -> None:
    spec = CaptureSpec(packets=3000, copies=1, rate_scale=2.0, loss_pct=2.0, burst_loss_pct=2.0)
    info = ensure_capture(spec, tmp_path)
    assert info.path.parent == tmp_path and not info.reused
    assert len(info.streams) == len(list(MEDIA.glob("*.ts")))
    sent = sum(s.sent for s in info.streams)
    assert info.records == sent and 2000 < sent < 4500
    again = ensure_capture(spec, tmp_path)
    assert again.reused and again.records == info.records and again.path == info.path
    records, demux, detail = analyse(info.path)
    assert records == info.records and detail.datagrams == sent
    assert detail.streams == len(info.streams) and len(detail.codecs) == len(info.streams)
    by_group = {s.group: s for s in info.streams}
    for loss in our_losses(demux):
        group, port = loss.dst.rsplit(":", 1)
        plan = by_group[group]
        assert int(port) == plan.port and loss.ssrc == plan.ssrc and loss.packets == plan.sent
        assert 0 <= loss.lost <= plan.lost  # losses at either end leave no gap


def test_analysis_with_the_checks_off_measures_the_same(tmp_path: Path) -> None:
    """`bench pcap --no-tr101290`: the same analysis, only without the TR 101 290 outcomes."""
    info = ensure_capture(CaptureSpec(packets=2000, copies=1, loss_pct=1.0), tmp_path)
    on = analyse(info.path)
    off = analyse(info.path, tr101290=False)
    assert on[0] == off[0] and on[2] == off[2]
    assert our_losses(on[1]) == our_losses(off[1])
    for key, a in off[1].streams.items():
        assert a._tr is None and on[1].streams[key]._tr is not None
        assert a.latest is not None and a.latest.tr101290 == {}
        assert on[1].streams[key].latest.tr101290  # (the checks' outcomes, with them on)
