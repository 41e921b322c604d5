"""One stream's life cycle with injected time (no sleeping): waiting, active, stopped (status
false), faded (audio and video rows gone), and recovery; garbage never raises."""

from __future__ import annotations

import random
import struct

import numpy as np
from iec62379.agent.model import (
    AudioComponent,
    BitRateType,
    FecType,
    NetworkBlock,
    RxPoint,
    VideoBlock,
)
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.generator import Impairments
from iec62379.collectors.publish.streams import StreamCollector, StreamState
from iec62379.collectors.sources.netfacts import NetworkFacts, network_facts
from iec62379.collectors.sources.netinfo import NetInfo
from streamdata import T0, S, batches, datagrams, settings
from unit.core.packets import fec_packet

MS = 1_000_000


def collector(**kw) -> StreamCollector:
    st = settings(**{"presence_timeout_s": 1.0, "fade_out_s": 5.0, **kw})
    return StreamCollector(st, network_facts(st.url, NetInfo()))


def feed_all(c: StreamCollector, **kw) -> int:
    last = 0
    for b in batches(datagrams(**kw)):
        c.feed_batch(b)
        last = int(b.arrival_ns.max())
    return last


def by_type(rows):
    out: dict[type, list] = {}
    for r in rows:
        out.setdefault(type(r), []).append(r)
    return out


def test_waiting_stream_has_its_network_block_and_an_empty_receiver_point():
    c = collector()
    assert c.state(T0) is StreamState.WAITING
    rows = by_type(c.update(T0))
    assert set(rows) == {NetworkBlock, RxPoint}
    net, rx = rows[NetworkBlock][0], rows[RxPoint][0]
    assert (net.block_id, net.rx_point, net.port, net.address) == (
        10, True, 5004, bytes([127, 0, 0, 1]))
    assert (rx.block_id, rx.network_block_id, rx.mdi, rx.tsdf_us, rx.occupancy_ms) == (
        13, 10, "0.00:0.00", 0, 0)


def test_active_stopped_faded_and_back():
    c = collector()
    last = feed_all(c, name="h264_mp2.ts")
    assert c.state(last) is StreamState.ACTIVE
    rows = by_type(c.update(last))
    (video,) = rows[VideoBlock]
    (audio,) = rows[AudioComponent]
    assert (video.status, video.coding_type, audio.status, audio.signal_format) == (
        True, "videoH264", True, "audioMpeg1")
    assert rows[RxPoint][0].tsdf_us > 0

    # 1.5 s without packets (timeout 1 s): the rows stay, status false (digest: noAudio)
    t = last + 1500 * MS
    assert c.state(t) is StreamState.STOPPED
    rows = by_type(c.update(t))
    (video,) = rows[VideoBlock]
    (audio,) = rows[AudioComponent]
    assert (video.status, video.bit_rate_type, video.bit_rate_kbps) == (
        False, BitRateType.UNSPECIFIED, 0)
    assert (audio.status, audio.signal_format, audio.pid) == (False, "noAudio", 257)
    assert video.coding_type == "videoH264"  # what the block was receiving stays known

    # still stopped just before timeout + fade-out
    assert c.state(last + 6 * S) is StreamState.STOPPED
    # after timeout + fade-out: the audio and video rows go, network and receiver point stay
    t = last + 6 * S + 1
    assert c.state(t) is StreamState.FADED
    rows = by_type(c.update(t))
    assert set(rows) == {NetworkBlock, RxPoint}
    # reset to empty, but its counters (rxPointExtTable) keep what they counted
    counted = c.counters
    assert counted.datagrams > 0 and counted.discontinuity_ticks == 0
    assert rows[RxPoint][0] == RxPoint(13, 10, 1000, counters=counted)

    # the stream comes back 10 s later: a fresh analysis, rows return with the first interval
    back = feed_all(c, name="h264_mp2.ts", t0=last + 10 * S, seed=99)
    assert c.recoveries == 1
    rows = by_type(c.update(back))
    assert rows[VideoBlock][0].status and rows[AudioComponent][0].status
    rx = rows[RxPoint][0]
    assert rx.mdi.endswith(":0.00"), rx  # no loss counted across the outage: a new analysis
    # the counters started again from zero, and say when (sysUpTime ticks since the first packet)
    assert rx.counters.rtp_lost == 0 and 0 < rx.counters.datagrams
    expected = (last + 10 * S - c.origin_ns) // 10_000_000  # the first datagram leaves at t0
    assert abs(rx.counters.discontinuity_ticks - expected) <= 1 and expected > 1000


def test_back_while_stopped_keeps_the_analysis():
    c = collector()
    last = feed_all(c, name="h264_mp2.ts")
    c.update(last + 2 * S)
    analyzer = c.analyzer
    back = feed_all(c, name="h264_mp2.ts", t0=last + 3 * S, seed=8)  # a restarted sender
    assert c.analyzer is analyzer and c.recoveries == 0
    rows = by_type(c.update(back))
    assert rows[VideoBlock][0].status is True


def test_audio_components_follow_the_program():
    c = collector()
    last = feed_all(c, name="h264i_mp2_ac3.ts", loops=2)
    audio = by_type(c.update(last))[AudioComponent]
    assert [(a.component, a.pid, a.signal_format) for a in audio] == [
        (1, 0x401, "audioMpeg1"), (2, 0x402, "audioAc3")]


def test_impairments_show_in_mdi_and_tsdf():
    clean = collector()
    last = feed_all(clean, name="h264_mp2.ts")
    base = by_type(clean.update(last))[RxPoint][0]
    lossy = collector()
    last = feed_all(lossy, name="h264_mp2.ts",
                    impairments=Impairments(loss_pct=5.0, jitter_ms=20.0))
    rx = by_type(lossy.update(last))[RxPoint][0]
    df, mlr = (float(x) for x in rx.mdi.split(":"))
    base_df, base_mlr = (float(x) for x in base.mdi.split(":"))
    assert base_mlr == 0 and mlr > 0
    assert df > base_df and rx.tsdf_us > base.tsdf_us + 5000


def test_garbage_never_raises_and_is_counted():
    c = collector()
    rnd = random.Random(5)
    good = list(datagrams("h264_mp2.ts"))
    mixed = []
    for i, (p, t) in enumerate(good):
        mixed.append((p, t))
        if i % 10 == 0:
            junk = [
                b"",
                b"\x80",  # truncated RTP header
                bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 1500))),
                p[:12] + b"\x00" * 188,  # RTP with a TS packet that has no sync byte
                p[:-5],  # a TS payload cut short
                struct.pack(">BBHII", 0xBF, 33, 1, 2, 3) + b"\xff" * 40,  # padding too long
            ]
            mixed += [(j, t) for j in junk]
    for b in batches(iter(mixed), size=37):
        c.feed_batch(b)
    last = mixed[-1][1]
    rows = by_type(c.update(last))
    assert c.feed_errors == 0
    assert sum(c.report.errors.values()) > 0
    assert rows[VideoBlock][0].status is True


def test_an_empty_batch_changes_nothing():
    c = collector()
    empty = PacketBatch(np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int32),
                        np.zeros(0, np.int64), np.zeros(0, np.int32))
    c.feed_batch(empty)
    assert c.last_packet_ns is None and c.state(T0) is StreamState.WAITING


def test_smpte_2022_1_fec_reaches_both_rows():
    c = collector()
    media = list(datagrams("h264_mp2.ts"))
    for i, (p, t) in enumerate(media):
        c.feed(p, t)
        if i % 10 == 0:
            c.feed_fec_batch(PacketBatch.from_payloads(
                [fec_packet(i // 10, row=False, l_cols=10, d_rows=5)], [t]))
    rows = by_type(c.update(media[-1][1]))
    assert (rows[VideoBlock][0].fec_type, rows[VideoBlock][0].fec_length_dimension) == (
        FecType.SMPTE2022_1, 1005)
    assert rows[AudioComponent][0].fec_type is FecType.SMPTE2022_1


def test_network_facts_of_a_loopback_stream():
    facts = collector().facts
    assert isinstance(facts, NetworkFacts)
    assert facts.igmp_version == 0 and facts.if_index >= 1
