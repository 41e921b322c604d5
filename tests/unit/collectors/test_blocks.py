"""Interval report -> rows of the four linked blocks: every digest rule the mapping involves.

Reports are real: a media fixture sent through the generator's planner and measured by the
analyzer; single fields are then varied with dataclasses.replace to reach each rule."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from iec62379.agent.model import (
    AudioComponent,
    BitRateType,
    FecType,
    NetworkBlock,
    NetworkType,
    RxCounters,
    RxPoint,
    TransportType,
    VideoBlock,
)
from iec62379.agent.store import BlockStore
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.bitrate import BitRateType as CoreRateType
from iec62379.collectors.core.formats import FecType as CoreFecType
from iec62379.collectors.core.report import IntervalReport
from iec62379.collectors.publish.blocks import (
    audio_rows,
    count_reports,
    network_row,
    rx_row,
    stream_rows,
    video_row,
)
from iec62379.collectors.settings import (
    DERIVED_BASE,
    DERIVED_SLOTS,
    StreamBlockIds,
    derive_block_id,
    stream_identity,
)
from iec62379.collectors.sources.netfacts import NetworkFacts
from streamdata import T0, datagrams

IDS = StreamBlockIds(10)
FACTS = NetworkFacts(
    if_index=3,
    network_type=NetworkType.IPV4,
    address=ipaddress.ip_address("239.1.1.1").packed,
    port=5004,
    igmp_version=3,
    transport=TransportType.RTP,
)


@pytest.fixture(scope="module")
def report() -> IntervalReport:
    """A full interval of H.264 1920x1080i25 with two audio components (MP2, AC-3)."""
    a = StreamAnalyzer()
    last = T0
    for payload, t in datagrams("h264i_mp2_ac3.ts", loops=3):
        a.feed(payload, t)
        last = t
    a.close_until(last)
    reports = a.pop_reports()
    assert len(reports) >= 2
    return reports[1]


def test_ids_are_four_consecutive_blocks():
    assert IDS.all() == (10, 11, 12, 13)
    with pytest.raises(ValueError):
        StreamBlockIds(0)
    with pytest.raises(ValueError):
        StreamBlockIds(4294967295 - 2)  # rx would not fit in Unsigned32


def test_derived_id_is_stable_and_in_range():
    ident = stream_identity(None, "239.1.1.1", 5004, None)
    assert ident == "@239.1.1.1:5004%"
    # The rule must never change: NMSs keep history by block id across versions too.
    assert derive_block_id(ident) == 10_000_000 + 4 * (
        int.from_bytes(__import__("hashlib").sha256(ident.encode()).digest()[:8], "big")
        % DERIVED_SLOTS
    )
    ids = {derive_block_id(stream_identity(None, f"239.1.1.{i}", 5004, None)) for i in range(200)}
    assert len(ids) == 200
    assert all(DERIVED_BASE <= i < DERIVED_BASE + 4 * DERIVED_SLOTS and i % 4 == 0 for i in ids)
    assert derive_block_id("@239.1.1.1:5004%") != derive_block_id("10.0.0.1@239.1.1.1:5004%")


def test_rows_link_video_to_audio_to_network_and_rx_to_network(report):
    rows = stream_rows(IDS, FACTS, 200, report, media=True)
    store = BlockStore()
    store.put(*rows)  # the store checks every link and the Rx rule
    snap = store.snapshot
    video = snap.video[(12,)]
    assert (video.audio_block_id, video.network_block_id) == (11, 10)
    assert {k: a.network_block_id for k, a in snap.audio.items()} == {(11, 1): 10, (11, 2): 10}
    assert snap.rx[(13,)].network_block_id == 10
    assert snap.network[(10,)].rx_point is True
    assert len(snap.rx) == 1  # no auto-made receiver point: the stream's own serves the block


def test_network_row_columns():
    row = network_row(IDS, FACTS)
    assert row == NetworkBlock(10, 3, True, NetworkType.IPV4, TransportType.RTP,
                               bytes([239, 1, 1, 1]), 5004, 3, b"")
    v6 = dataclasses.replace(FACTS, network_type=NetworkType.IPV6,
                             address=ipaddress.ip_address("ff3e::1").packed, igmp_version=0)
    assert len(network_row(IDS, v6).address) == 16
    anywhere = dataclasses.replace(FACTS, address=b"", igmp_version=0)
    assert network_row(IDS, anywhere).address == b""  # NULL


def test_transport_follows_the_url_then_what_is_seen(report):
    udp = dataclasses.replace(FACTS, transport=TransportType.NOT_APPLICABLE)
    assert network_row(IDS, udp).transport_type is TransportType.NOT_APPLICABLE
    assert report.ssrc is not None
    assert network_row(IDS, udp, report).transport_type is TransportType.RTP
    bare = dataclasses.replace(report, ssrc=None)
    assert network_row(IDS, udp, bare).transport_type is TransportType.NOT_APPLICABLE


def test_audio_one_row_per_component(report):
    rows = audio_rows(IDS, FACTS.if_index, report)
    assert [(a.component, a.pid, a.signal_format, a.status) for a in rows] == [
        (1, 0x401, "audioMpeg1", True),
        (2, 0x402, "audioAc3", True),
    ]
    assert all(a.if_index == 3 and a.fec_type is FecType.NONE for a in rows)


def test_audio_status_false_is_no_audio(report):
    absent = dataclasses.replace(
        report, audio=tuple(dataclasses.replace(a, present=False) for a in report.audio)
    )
    rows = audio_rows(IDS, 3, absent)
    assert [(a.status, a.signal_format, a.pid) for a in rows] == [
        (False, "noAudio", 0x401),
        (False, "noAudio", 0x402),
    ]


def test_no_audio_in_the_program_is_one_absent_component(report):
    rows = audio_rows(IDS, 3, dataclasses.replace(report, audio=()))
    assert rows == [AudioComponent(11, 1, 10, False, "noAudio", 0, 3)]


def test_video_columns_from_the_elementary_stream(report):
    v = video_row(IDS, report)
    assert (v.status, v.coding_type, v.source_format, v.aspect_ratio) == (
        True, "videoH264", "src1920x1080i25", "aspect16x9")
    assert v.trick_mode_support is False


def test_no_video_in_the_program(report):
    v = video_row(IDS, dataclasses.replace(report, video=None))
    assert (v.status, v.coding_type, v.source_format, v.bit_rate_type, v.bit_rate_kbps) == (
        False, "noVideo", "unspecifiedSourceFormat", BitRateType.UNSPECIFIED, 0)
    assert v.audio_block_id == 11  # the link holds: audio always has a component


@pytest.mark.parametrize(
    "kind,expected_kbps",
    [(CoreRateType.CBR, 2500), (CoreRateType.VBR, 4000), (CoreRateType.UNSPECIFIED, 0)],
)
def test_video_bit_rate_by_type(report, kind, expected_kbps):
    video = dataclasses.replace(report.video, bitrate_type=kind, bitrate_bps=2_500_400.0,
                                bitrate_max_bps=3_999_600.0)
    v = video_row(IDS, dataclasses.replace(report, video=video))
    assert (int(v.bit_rate_type), v.bit_rate_kbps) == (int(kind), expected_kbps)


def test_video_not_present_has_no_rate(report):
    video = dataclasses.replace(report.video, present=False, bitrate_type=CoreRateType.CBR,
                                bitrate_bps=1e6)
    v = video_row(IDS, dataclasses.replace(report, video=video))
    assert (v.status, v.bit_rate_type, v.bit_rate_kbps) == (False, BitRateType.UNSPECIFIED, 0)


def test_fec_type_and_xxyy_on_audio_and_video(report):
    fec = dataclasses.replace(report.fec, fec_type=CoreFecType.SMPTE_2022_1, l_cols=10,
                              d_rows=5, length_dimension=1005)
    r = dataclasses.replace(report, fec=fec)
    v = video_row(IDS, r)
    audio = audio_rows(IDS, 3, r)
    assert (v.fec_type, v.fec_length_dimension) == (FecType.SMPTE2022_1, 1005)
    assert {(a.fec_type, a.fec_length_dimension) for a in audio} == {(FecType.SMPTE2022_1, 1005)}
    none = video_row(IDS, report)
    assert (none.fec_type, none.fec_length_dimension) == (FecType.NONE, 0)


def test_rx_point_mdi_tsdf_and_buffer(report):
    rx = rx_row(IDS, 200, report)
    assert rx.mdi == f"{report.df_ms:.2f}:{report.mlr:.2f}"
    assert rx.tsdf_us == report.tsdf_us
    assert (rx.occupancy_ms, rx.occupancy_percent) == (
        report.buffer.occupancy_ms, report.buffer.occupancy_percent)
    assert rx.buffer_size_ms == 200


def test_rx_point_without_measurements(report):
    bare = dataclasses.replace(report, df_ms=None, tsdf_us=None, buffer=None, mlr=0.0)
    rx = rx_row(IDS, 200, bare)
    assert (rx.mdi, rx.tsdf_us, rx.occupancy_ms, rx.occupancy_percent) == ("0.00:0.00", 0, 0, 1)
    assert rx_row(IDS, 200, None) == RxPoint(13, 10, 200)


def test_rx_point_mlr_from_loss(report):
    lossy = dataclasses.replace(report, mlr=12.5)
    assert rx_row(IDS, 200, lossy).mdi.endswith(":12.50")


def test_without_media_only_network_and_rx(report):
    rows = stream_rows(IDS, FACTS, 200, None, media=False)
    assert [type(r) for r in rows] == [NetworkBlock, RxPoint]
    rows = stream_rows(IDS, FACTS, 200, report, media=False)
    assert not any(isinstance(r, VideoBlock | AudioComponent) for r in rows)


def test_rows_of_a_cbr_stream_paced_by_its_pcr():
    """h264_mp2.ts: constant 1.5 Mbit/s, sent on time: DF is small, nothing is lost."""
    a = StreamAnalyzer()
    last = T0
    for payload, t in datagrams("h264_mp2.ts"):
        a.feed(payload, t)
        last = t
    a.close_until(last)
    first = a.pop_reports()[0]
    rx = rx_row(IDS, 200, first)
    df, mlr = (float(x) for x in rx.mdi.split(":"))
    assert df < 20 and mlr == 0 and rx.tsdf_us < 1000
    v = video_row(IDS, first)
    assert (v.coding_type, v.source_format) == ("videoH264", "src1280x720p50")


def test_rx_point_numbers_agree_with_rxpointmdi(report):
    """rxPointExtTable's DF and MLR are rxPointMDI's two numbers, in hundredths."""
    from iec62379.agent.model import RX_POINT

    cols = {c.name: c for c in RX_POINT.augments[0].columns}
    for df, mlr in ((report.df_ms, report.mlr), (4.245, 0.005), (0.0, 12.5), (1e9, 3.999)):
        rx = rx_row(IDS, 200, dataclasses.replace(report, df_ms=df, mlr=mlr))
        text_df, text_mlr = rx.mdi.split(":")
        assert cols["rxPointExtDelayFactor"].get(rx) == min(
            4294967295, int(text_df.replace(".", "")))
        assert cols["rxPointExtMediaLossRate"].get(rx) == int(text_mlr.replace(".", ""))
        assert cols["rxPointExtTSDF"].get(rx) == rx.tsdf_us


def test_counters_add_up_the_closed_intervals(report):
    lossy = dataclasses.replace(report, datagrams=100, rtp_lost=3, ts_lost_rtp=21, ts_lost_cc=20,
                                cc_errors=2, rtp_reordered=1, rtp_duplicates=4)
    cc_only = dataclasses.replace(lossy, rtp_lost=0, ts_lost_rtp=0, ts_lost_cc=5)
    counted = count_reports(RxCounters(discontinuity_ticks=77), [lossy, cc_only])
    assert counted == RxCounters(datagrams=200, rtp_lost=3, ts_lost=26, cc_errors=4,
                                 reordered=2, duplicated=8, discontinuity_ticks=77)
    rx = rx_row(IDS, 200, report, counted)
    assert rx.counters is counted
    assert rx_row(IDS, 200, None, counted).counters is counted  # faded: kept, not reset
    # Counter64 wraps at 2**64
    near = RxCounters(datagrams=2**64 - 50)
    assert count_reports(near, [lossy]).datagrams == 50


def test_counters_out_of_range_are_refused():
    with pytest.raises(ValueError, match="datagrams"):
        RxCounters(datagrams=-1)
    with pytest.raises(ValueError, match="rxPointExtCounterDiscontinuityTime"):
        RxCounters(discontinuity_ticks=2**32)
