"""The digest's rules as the model and the store enforce them."""

from __future__ import annotations

import pytest
from iec62379.agent.model import (
    AudioComponent,
    BitRateType,
    FecType,
    NetworkBlock,
    NetworkType,
    RxPoint,
    Temperature,
    TemperatureStatus,
    TransportType,
    VideoBlock,
    fec_extent,
)
from iec62379.agent.store import BlockStore, LinkError

V4 = bytes([239, 1, 1, 1])


def net(block_id=1, **kw):
    base = dict(block_id=block_id, if_index=1, rx_point=False, network_type=NetworkType.IPV4,
                transport_type=TransportType.RTP, address=V4, port=5000)
    base.update(kw)
    return NetworkBlock(**base)


def test_asi_rules_fix_the_other_columns():
    b = NetworkBlock(1, 3, False, NetworkType.ASI, TransportType.RTP, V4, 5000, 2, V4)
    assert (b.transport_type, b.address, b.port, b.igmp_version, b.sip_server) == (
        TransportType.NOT_APPLICABLE, b"", 0, 0, b"")


@pytest.mark.parametrize("addr", [b"\x01\x02\x03", b"\x00" * 16])
def test_ipv4_address_must_be_4_octets_or_null(addr):
    with pytest.raises(ValueError, match="nMtTxRxAddr must be 0 or 4 octets"):
        net(address=addr)


def test_ipv6_address_16_octets_and_no_igmp():
    assert net(network_type=NetworkType.IPV6, address=b"\x00" * 16).address == b"\x00" * 16
    with pytest.raises(ValueError, match="IGMP"):
        net(network_type=NetworkType.IPV6, address=b"\x00" * 16, igmp_version=2)


@pytest.mark.parametrize("field,value", [("port", 65536), ("port", -1), ("if_index", 0),
                                         ("block_id", 0), ("igmp_version", 4), ("block_id", 2**32)])
def test_network_ranges(field, value):
    column = {"port": "nMtPortNumber", "if_index": "nMtIfIndex", "block_id": "nMtBlockId",
              "igmp_version": "nMtIGMPVersion"}[field]
    with pytest.raises(ValueError, match=column):
        net(**{field: value})


def test_audio_status_false_means_noaudio_and_true_unknown_means_unspecified():
    assert AudioComponent(2, 1, 1, False, "audioAc3").signal_format == "noAudio"
    assert AudioComponent(2, 1, 1, True, "noAudio").signal_format == "unspecifiedAudio"
    assert AudioComponent(2, 1, 1, True, "audioAc3").signal_format == "audioAc3"


def test_fec_none_means_extent_zero():
    def audio(fec_type: FecType) -> AudioComponent:
        return AudioComponent(2, 1, 1, True, "audioAc3", fec_type=fec_type,
                              fec_length_dimension=2405)

    assert audio(FecType.NONE).fec_length_dimension == 0
    assert audio(FecType.SMPTE2022_1).fec_length_dimension == 2405
    v = VideoBlock(3, 0, 1, True, fec_type=FecType.NONE, fec_length_dimension=1005)
    assert v.fec_length_dimension == 0
    assert fec_extent(10, 5) == 1005


def test_bit_rate_by_type():
    def kbps(bit_rate_type: BitRateType, value: int) -> int:
        return VideoBlock(3, 0, 1, True, bit_rate_type=bit_rate_type,
                          bit_rate_kbps=value).bit_rate_kbps

    assert kbps(BitRateType.UNSPECIFIED, 5000) == 0
    assert kbps(BitRateType.CBR, 5000) == 5000
    assert kbps(BitRateType.VBR, 9000) == 9000


def test_occupancy_percent_clamped_and_mdi_format():
    assert RxPoint(4, 1, occupancy_percent=0).occupancy_percent == 1
    assert RxPoint(4, 1, occupancy_percent=250).occupancy_percent == 100
    assert RxPoint(4, 1, df_ms=4.254, mlr=0.0).mdi == "4.25:0.00"
    with pytest.raises(ValueError):
        RxPoint(4, 1, df_ms=float("nan"))


def test_temperature_below_zero_reported_as_zero_status_kept():
    t = Temperature(5, 1, "inlet", -3.0, TemperatureStatus.WARNING, 0, 40, -10, 50)
    assert t.trend == 0 and t.status is TemperatureStatus.WARNING
    assert Temperature(5, 1, "cpu", 52.6, TemperatureStatus.OK).trend == 53
    with pytest.raises(ValueError, match="80 octets"):
        Temperature(5, 1, "x" * 81, 20.0, TemperatureStatus.OK)


def test_store_links_must_point_at_existing_blocks():
    s = BlockStore()
    with pytest.raises(LinkError, match="no network block 9"):
        s.put(AudioComponent(2, 1, 9, True, "audioAc3"))
    assert s.snapshot.version == 0 and not s.snapshot.audio  # nothing published
    s.put(net(1))
    with pytest.raises(LinkError, match="no audio block 2"):
        s.put(VideoBlock(3, 2, 1, True))
    with pytest.raises(LinkError, match="used by a NetworkBlock and a VideoBlock"):
        s.put(VideoBlock(1, 0, 1, True))


def test_rx_network_block_gets_an_rxpoint_row():
    s = BlockStore()
    s.put(net(1, rx_point=True), net(2))
    rows = list(s.snapshot.rx.values())
    assert [(r.block_id, r.network_block_id) for r in rows] == [(3, 1)]
    s.put(net(2, rx_point=True))
    assert {r.network_block_id for r in s.snapshot.rx.values()} == {1, 2}


def test_transaction_is_atomic_for_readers():
    s = BlockStore()
    s.put(net(1))
    before = s.snapshot
    with pytest.raises(RuntimeError):
        with s.transaction() as t:
            t.put(net(2))
            assert s.snapshot is before  # readers see the old snapshot during the transaction
            raise RuntimeError("producer failed")
    assert s.snapshot is before and (2,) not in s.snapshot.network
