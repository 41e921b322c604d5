"""SMPTE 2022-1 FEC ports (core.demux.fec_ports) and how the demux routes FEC flows by them."""

from __future__ import annotations

import numpy as np
from iec62379.collectors.core.batch import FlowKey, PacketBatch
from iec62379.collectors.core.demux import FlowDemux, fec_ports
from iec62379.collectors.core.formats import FecType
from iec62379.collectors.core.report import IntervalReport
from packets import TsMux, fec_packet, rtp

MS = 1_000_000
SRC = b"\x0a\x00\x00\x01"
DST = b"\xef\x01\x01\x01"


def test_fec_ports_column_then_row_within_the_port_range():
    assert fec_ports(5000) == (5002, 5004)
    assert fec_ports(65533) == (65535,)
    assert fec_ports(65534) == ()


def _batch(ports_and_payloads: list[tuple[int, bytes]], t0_ns: int) -> PacketBatch:
    """One datagram per (destination port, payload), 1 ms apart from t0_ns."""
    flows = sorted({port for port, _ in ports_and_payloads})
    batch = PacketBatch.from_payloads(
        [p for _, p in ports_and_payloads],
        [t0_ns + i * MS for i in range(len(ports_and_payloads))],
    )
    batch.flows = [FlowKey(SRC, 4000, DST, port) for port in flows]
    batch.flow_ids = np.array([flows.index(port) for port, _ in ports_and_payloads], np.int32)
    return batch


def _media(mux: TsMux, seq: int) -> bytes:
    return rtp(seq, seq * 90, b"".join(mux.packet(0x100, b"x") for _ in range(7)))


def _reports(demux: FlowDemux) -> dict[int, list[IntervalReport]]:
    return {port: a.pop_reports() for (_, port), a in demux.streams.items()}


def test_a_flow_that_could_be_the_fec_of_two_streams_goes_to_the_column_one():
    # 5004 is the row FEC port of 5000 and the column FEC port of 5002: column wins, in
    # whichever order the two media streams were made.
    for order in ((5000, 5002), (5002, 5000)):
        demux = FlowDemux(auto_create=False)
        for port in order:
            demux.add_stream(DST, port)
        muxes = {5000: TsMux(), 5002: TsMux()}
        for second in range(2):
            items: list[tuple[int, bytes]] = []
            for i in range(100):
                seq = second * 100 + i
                items += [(5000, _media(muxes[5000], seq)), (5002, _media(muxes[5002], seq))]
                if i % 10 == 9:
                    items.append((5004, fec_packet(seq, row=False, l_cols=10, d_rows=5)))
            demux.feed_batch(_batch(items, second * 1000 * MS))
        reports = _reports(demux)
        assert demux.unrouted == 0
        assert reports[5002] and reports[5002][0].fec.fec_type == FecType.SMPTE_2022_1
        assert reports[5000] and reports[5000][0].fec.fec_type == FecType.NONE


def test_new_streams_take_their_fec_flows_in_the_same_batch():
    demux = FlowDemux()
    mux = TsMux()
    for second in range(2):
        items: list[tuple[int, bytes]] = []
        for i in range(100):
            seq = second * 100 + i
            items.append((5000, _media(mux, seq)))
            if i % 10 == 9:
                items.append((5002, fec_packet(seq, row=False, l_cols=10, d_rows=5)))
                items.append((5004, fec_packet(seq, row=True, l_cols=10, d_rows=5)))
        demux.feed_batch(_batch(items, second * 1000 * MS))
    assert list(demux.streams) == [(DST, 5000)]  # the FEC flows are not streams
    first = _reports(demux)[5000][0]
    assert first.fec.fec_type == FecType.SMPTE_2022_1
    assert first.fec.column_packets > 0 and first.fec.row_packets > 0
