"""Real streams for the collector tests: a media fixture packetised by the generator's planner,
with arrival times = a start time + the planned departure (a perfectly paced network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.generator import Impairments, Plan, PlanConfig
from iec62379.collectors.settings import StreamSettings
from iec62379.collectors.sources.url import parse_stream_url

MEDIA = Path(__file__).resolve().parents[2] / "fixtures" / "media"
S = 1_000_000_000
T0 = 1_700_000_000 * S  # an arrival clock like CLOCK_REALTIME


def datagrams(
    name: str = "h264i_mp2_ac3.ts",
    *,
    loops: int = 1,
    rtp: bool = True,
    seed: int = 7,
    t0: int = T0,
    impairments: Impairments | None = None,
) -> Iterator[tuple[bytes, int]]:
    data = (MEDIA / name).read_bytes()
    plan = Plan(data, PlanConfig(rtp=rtp, loops=loops, seed=seed,
                                 impairments=impairments or Impairments()))
    for dg in plan:
        yield dg.payload, t0 + dg.departure_ns


def batches(items: Iterator[tuple[bytes, int]], size: int = 64) -> Iterator[PacketBatch]:
    """Group datagrams into batches as the UDP receiver would."""
    pay: list[bytes] = []
    arr: list[int] = []
    for p, t in items:
        pay.append(p)
        arr.append(t)
        if len(pay) == size:
            yield PacketBatch.from_payloads(pay, arr)
            pay, arr = [], []
    if pay:
        yield PacketBatch.from_payloads(pay, arr)


def settings(url: str = "rtp://127.0.0.1:5004", block_id: int = 10, **kw) -> StreamSettings:
    return StreamSettings(url=parse_stream_url(url), name=url, block_id=block_id, **kw)
