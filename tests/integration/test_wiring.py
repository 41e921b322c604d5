"""The wiring from UDP sources to the core (collectors/wiring.py) on real loopback sockets:
which ports a stream's input opens, the order and counts of a drain, the demux sink, and the
asyncio path the agent's service uses."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.demux import FlowDemux
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.sources.udp import StreamUrl
from iec62379.collectors.wiring import DemuxSink, StreamInput
from test_probe_fec import free_port_triple

pytestmark = pytest.mark.integration


class Recorder:
    """A sink that keeps what it is fed, in order."""

    def __init__(self) -> None:
        self.fed: list[tuple[str, int]] = []

    def feed_batch(self, batch: PacketBatch) -> None:
        self.fed.append(("media", len(batch)))

    def feed_fec_batch(self, batch: PacketBatch) -> None:
        self.fed.append(("fec", len(batch)))

    def count(self, kind: str) -> int:
        return sum(n for k, n in self.fed if k == kind)


def send(port: int, count: int, payload: bytes = b"\x47" + b"\x1f\xff\x10" + b"\xff" * 184) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for _ in range(count):
            tx.sendto(payload, ("127.0.0.1", port))


def test_rtp_input_opens_the_fec_ports_and_drains_fec_first() -> None:
    port = free_port_triple()
    with StreamInput.open(StreamUrl("rtp", "127.0.0.1", port)) as inp:
        assert inp.fec_ports == [port + 2, port + 4]
        assert inp.media_key == (bytes([127, 0, 0, 1]), port)
        send(port, 5)
        send(port + 2, 2)
        send(port + 4, 3)
        time.sleep(0.05)
        assert inp.wait(1.0)
        sink = Recorder()
        assert inp.drain(sink) == 5
        assert sink.fed == [("fec", 2), ("fec", 3), ("media", 5)]
        assert inp.drain(sink) == 0 and len(sink.fed) == 3  # nothing queued: nothing fed
        assert not inp.wait(0.01)


def test_drain_takes_full_batches_up_to_its_limit() -> None:
    port = free_port_triple()
    url = StreamUrl("udp", "127.0.0.1", port)
    with StreamInput.open(url, fec=False, batch_size=8) as inp:
        assert inp.fec == []
        send(port, 30)
        time.sleep(0.05)
        sink = Recorder()
        assert inp.drain(sink, max_batches=2) == 16  # two full batches, the rest stays
        assert inp.drain(sink) == 14
        assert [n for _, n in sink.fed] == [8, 8, 8, 6]


def test_skipped_and_unbindable_fec_ports_are_left_out() -> None:
    port = free_port_triple()
    failures: list[tuple[int, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:  # no SO_REUSEADDR
        busy.bind(("127.0.0.1", port + 4))
        url = StreamUrl("rtp", "127.0.0.1", port)
        with StreamInput.open(url, on_fec_error=lambda p, r: failures.append((p, r))) as inp:
            assert inp.fec_ports == [port + 2]
        assert failures == [(port + 4, "Address already in use")]
        with StreamInput.open(url, skip_ports={port + 2}, on_fec_error=lambda p, r: None) as inp:
            assert inp.fec_ports == []


def test_demux_sink_feeds_fec_only_once_the_media_stream_exists() -> None:
    port = free_port_triple()
    demux = FlowDemux(AnalyzerConfig())
    with StreamInput.open(StreamUrl("rtp", "127.0.0.1", port)) as inp:
        sink = DemuxSink(demux, inp.media_key)
        send(port + 2, 3)
        time.sleep(0.05)
        assert inp.drain(sink) == 0
        assert demux.streams == {} and sink.newest_ns is None  # FEC alone makes no stream
        send(port, 4)
        send(port + 2, 3)
        time.sleep(0.05)
        assert inp.drain(sink) == 4
        assert list(demux.streams) == [inp.media_key]
        assert sink.newest_ns is not None and abs(sink.newest_ns - time.time_ns()) < 10**10
        assert demux.unrouted == 0
        assert demux.streams[inp.media_key].totals().datagrams == 4


def test_attach_feeds_from_the_event_loop() -> None:
    port = free_port_triple()
    sink = Recorder()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        with StreamInput.open(StreamUrl("rtp", "127.0.0.1", port)) as inp:
            inp.attach(loop, sink)
            try:
                send(port, 3)
                send(port + 4, 1)
                for _ in range(200):
                    if sink.count("media") == 3 and sink.count("fec") == 1:
                        break
                    await asyncio.sleep(0.01)
            finally:
                inp.detach(loop)

    asyncio.run(run())
    assert (sink.count("media"), sink.count("fec")) == (3, 1)
