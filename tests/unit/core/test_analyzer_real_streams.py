"""feed() and feed_batch() agree on real streams, whatever the batch boundaries.

The crafted stream of test_core_analyzer.py has one PSI packet per table; the ffmpeg-made
fixtures repeat PAT and PMT many times a second, carry PCRs every few packets and change
programme at every loop of the file (CC and PCR jumps). The analyzer's fast paths for repeated
PSI packets and PCR runs must give exactly the per-datagram results on them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from iec62379.collectors import generator as g
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport

MEDIA = Path(__file__).resolve().parents[2] / "fixtures" / "media"


def _comparable(reports: list[IntervalReport]) -> list[tuple[object, ...]]:
    return [
        (
            r.index,
            r.datagrams,
            r.ts_packets,
            r.df_ms,
            r.mlr,
            r.tsdf_us,
            r.rtp_lost,
            r.rtp_reordered,
            r.rtp_duplicates,
            r.ts_lost_rtp,
            r.ts_lost_cc,
            r.cc_errors,
            r.cc_errors_per_pid,
            r.pid_bitrate_bps,
            r.pcr_pid,
            r.pcr_rate_bps,
            r.media_rate_bps,
            r.program,
            r.video,
            r.audio,
            r.pid_present,
            r.buffer,
            r.errors,
            r.bitrate_type,
        )
        for r in reports
    ]


def _datagrams(name: str, seed: int, damage: bool) -> tuple[list[bytes], list[int]]:
    data = (MEDIA / name).read_bytes()
    plan = g.Plan(
        data,
        g.PlanConfig(
            loops=3,
            seed=seed,
            rate_scale=2.0,
            impairments=g.Impairments(
                loss_pct=1.0, burst_loss_pct=1.0, reorder_pct=1.0, duplicate_pct=0.5,
                jitter_ms=2.0,
            ),
        ),
    )
    pay, arr = [], []
    rnd = random.Random(seed)
    for dg in plan:
        p = dg.payload
        if damage and rnd.random() < 0.01:  # a flipped bit somewhere: PSI CRC, sync, CC...
            b = bytearray(p)
            b[rnd.randrange(12, len(b))] ^= 1 << rnd.randrange(8)
            p = bytes(b)
        pay.append(p)
        arr.append(1_000_000_000 + dg.departure_ns)
    return pay, arr


@pytest.mark.parametrize("name", sorted(p.name for p in MEDIA.glob("*.ts")))
@pytest.mark.parametrize("damage", [False, True])
def test_feed_and_feed_batch_agree_on_fixtures(name: str, damage: bool) -> None:
    pay, arr = _datagrams(name, seed=len(name), damage=damage)
    end = arr[-1] + 2_000_000_000
    cfg = AnalyzerConfig(interval_s=0.5)

    one = StreamAnalyzer(cfg)
    for p, t in zip(pay, arr, strict=True):
        one.feed(p, t)
    one.close_until(end)

    whole = StreamAnalyzer(cfg)
    whole.feed_batch(PacketBatch.from_payloads(pay, arr))
    whole.close_until(end)

    chunked = StreamAnalyzer(cfg)
    rnd = random.Random(7)
    i = 0
    while i < len(pay):
        j = i + rnd.choice((1, 2, 5, 40, 333))
        chunked.feed_batch(PacketBatch.from_payloads(pay[i:j], arr[i:j]))
        i = j
    chunked.close_until(end)

    a = _comparable(one.pop_reports())
    reports = whole.pop_reports()
    b = _comparable(reports)
    c = _comparable(chunked.pop_reports())
    assert len(a) > 4
    assert a == b
    assert a == c
    assert one.totals() == whole.totals() == chunked.totals()
    assert reports[-1].program is not None
    assert all(r.pcr_rate_bps is not None for r in reports if r.datagrams > 50)


@pytest.mark.parametrize("name", sorted(p.name for p in MEDIA.glob("*.ts"))[:3])
@pytest.mark.parametrize("ssrc_change", [False, True])
def test_whole_batch_pass_equals_interval_by_interval(name: str, ssrc_change: bool) -> None:
    """The one-pass analysis of a feed call (sums split by interval) gives what the
    interval-by-interval path gives, also around an SSRC change (which takes that path)."""
    pay, arr = _datagrams(name, seed=3, damage=True)
    if ssrc_change:
        half = len(pay) // 2
        pay = pay[:half] + [p[:8] + b"\x0b\xad\xf0\x0d" + p[12:] for p in pay[half:]]
    end = arr[-1] + 2_000_000_000
    cfg = AnalyzerConfig(interval_s=0.25)
    out = []
    for whole in (True, False):
        a = StreamAnalyzer(cfg)
        a._whole_batches = whole
        rnd = random.Random(11)
        i = 0
        while i < len(pay):
            j = i + rnd.choice((1, 7, 90, 600, 5000))
            a.feed_batch(PacketBatch.from_payloads(pay[i:j], arr[i:j]))
            i = j
        a.close_until(end)
        out.append((_comparable(a.pop_reports()), a.totals()))
    assert len(out[0][0]) > 8
    assert out[0] == out[1]
    if ssrc_change:
        assert out[0][1].ssrc_changes == 1
