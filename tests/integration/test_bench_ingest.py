"""`iec62379 bench ingest`: its parts, and a short real run (low rate, few GETs)."""

# ruff: noqa: E501  (/proc/net/udp lines, verbatim)

from __future__ import annotations

import pytest
from iec62379.cli.bench.ingest import (
    IngestSettings,
    agent_config,
    format_report,
    run_ingest_bench,
    udp_drops,
)
from iec62379.cli.bench.live import DEFAULT_MEDIA
from iec62379.collectors.settings import parse_settings

pytestmark = pytest.mark.integration

PROC_NET_UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 0100007F:1388 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 1 2 0000000000000000 7
  102: 0100007F:138A 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5
  103: 0100007F:0FA1 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 1 2 0000000000000000 100
"""


def test_udp_drops_sums_the_named_ports() -> None:
    assert udp_drops({5000, 5002}, PROC_NET_UDP) == 12
    assert udp_drops({4001}, PROC_NET_UDP) == 100
    assert udp_drops({9}, PROC_NET_UDP) == 0


def test_agent_config_is_a_valid_config_with_the_streams() -> None:
    cfg = parse_settings(agent_config(16100, [5000, 5010], 100), "bench")
    assert [s.url.port for s in cfg.streams] == [5000, 5010]
    assert [s.block_id for s in cfg.streams] == [100, 104]
    assert not cfg.sensors.enabled


def test_a_short_run_measures_and_the_streams_are_received() -> None:
    f = run_ingest_bench(IngestSettings(media=DEFAULT_MEDIA, streams=2, rate=2000, gets=200,
                                        warmup_gets=20, send_seconds=4))
    assert f.sent > 0 and f.rate_sent > 1000
    assert 0 < f.idle_p50_ms <= f.idle_p99_ms and 0 < f.ingest_p50_ms <= f.ingest_p99_ms
    assert f.kernel_drops == 0
    assert set(f.mdi) == {"103", "107"}
    assert all(":" in v and v != "0.00:0.00" for v in f.mdi.values())  # measured, not empty
    assert "GET p99" in format_report(f)
