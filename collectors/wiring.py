"""From the UDP sources to the measurement core: the one wiring of the agent's service and probe.

A stream URL is received on one :class:`~iec62379.collectors.sources.udp.UdpSource` for the
media and, when asked, one per SMPTE 2022-1 FEC flow on the same address (the ports of
:func:`~iec62379.collectors.core.demux.fec_ports`); :class:`StreamInput` holds them. Their
batches go to a :class:`BatchSink`: media batches to ``feed_batch``, FEC batches to
``feed_fec_batch``. The agent's service gives each configured stream's
:class:`~iec62379.collectors.publish.streams.StreamCollector` (the socket is the stream's own);
``iec62379 probe`` and the live benchmark give a :class:`DemuxSink`, a
:class:`~iec62379.collectors.core.demux.FlowDemux` in which every flow becomes a stream.

Pumping: :meth:`StreamInput.attach` runs the sink from an asyncio loop whenever datagrams are
queued (the service); :meth:`StreamInput.wait` blocks until one of the sockets is readable and
:meth:`StreamInput.drain` feeds what is queued (probe's loop, and the service before it closes
intervals, so that they are complete). FEC is fed before media, so FEC state is current when
media packets close an interval. Closing intervals and reading the clock stay with the caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import select
from collections.abc import Callable, Collection
from typing import Protocol

from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.demux import FlowDemux, StreamKey, fec_ports
from iec62379.collectors.sources.udp import StreamUrl, UdpSource

__all__ = ["BatchSink", "DemuxSink", "StreamInput", "os_reason"]

FEC_BATCH = 64  # datagrams per receive on a FEC socket (FEC is a fraction of the media rate)


class BatchSink(Protocol):
    """Where a stream's batches go."""

    def feed_batch(self, batch: PacketBatch) -> None: ...

    def feed_fec_batch(self, batch: PacketBatch) -> None: ...


def os_reason(exc: BaseException) -> str:
    """The short reason of a socket error ("Address already in use"), else its message."""
    return getattr(exc, "strerror", None) or str(exc)


class DemuxSink:
    """A FlowDemux as a sink: media batches are routed by flow (a new flow becomes a stream);
    FEC batches are fed once ``media_key``'s stream exists, so that a FEC flow never becomes a
    stream of its own. ``newest_ns`` is the latest media arrival fed (None before any)."""

    def __init__(self, demux: FlowDemux, media_key: StreamKey | None = None) -> None:
        self.demux = demux
        self.media_key = media_key
        self.newest_ns: int | None = None

    def feed_batch(self, batch: PacketBatch) -> None:
        if not len(batch):
            return
        self.demux.feed_batch(batch)
        newest = int(batch.arrival_ns.max())
        if self.newest_ns is None or newest > self.newest_ns:
            self.newest_ns = newest

    def feed_fec_batch(self, batch: PacketBatch) -> None:
        if len(batch) and self.media_key in self.demux.streams:
            self.demux.feed_batch(batch)


class StreamInput:
    """The sockets of one stream: the media source and its FEC sources (maybe none)."""

    def __init__(self, media: UdpSource, fec: list[UdpSource] | None = None) -> None:
        self.media = media
        self.fec = fec or []

    @classmethod
    def open(
        cls,
        url: StreamUrl,
        *,
        fec: bool = True,
        skip_ports: Collection[int] = (),
        batch_size: int = 512,
        rcvbuf: int | None = None,
        on_fec_error: Callable[[int, str], None] | None = None,
    ) -> StreamInput:
        """Open the media socket of ``url`` (OSError / ValueError when it cannot be), then, with
        ``fec``, a socket on each FEC port not in ``skip_ports`` (ports of other streams on the
        same address). A FEC port that cannot be bound is left out and passed with its reason
        to ``on_fec_error``: the media stream is measured anyway."""
        media = UdpSource(url, batch_size=batch_size, rcvbuf=rcvbuf)
        sources: list[UdpSource] = []
        if fec:
            for port in fec_ports(url.port):
                if port in skip_ports:
                    continue
                try:
                    sources.append(
                        UdpSource(dataclasses.replace(url, port=port), batch_size=FEC_BATCH)
                    )
                except (OSError, ValueError) as exc:
                    if on_fec_error is not None:
                        on_fec_error(port, os_reason(exc))
        return cls(media, sources)

    @property
    def sources(self) -> list[UdpSource]:
        """Media first, then FEC."""
        return [self.media, *self.fec]

    @property
    def media_key(self) -> StreamKey:
        """The media flows' (destination address, port) as the demux keys them."""
        url = self.media.url
        return ipaddress.ip_address(url.bind_address).packed, int(self.media.local_address[1])

    @property
    def fec_ports(self) -> list[int]:
        """The FEC ports being received."""
        return [int(s.local_address[1]) for s in self.fec]

    # -- pumping ----------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop, sink: BatchSink) -> None:
        """Feed ``sink`` from ``loop`` whenever a socket has datagrams queued."""
        self.media.attach(loop, sink.feed_batch)
        for src in self.fec:
            src.attach(loop, sink.feed_fec_batch)

    def detach(self, loop: asyncio.AbstractEventLoop) -> None:
        for src in self.sources:
            src.detach(loop)

    def wait(self, timeout_s: float) -> bool:
        """Block until a socket is readable or ``timeout_s`` has passed; True when readable."""
        poller = select.poll()
        for src in self.sources:
            poller.register(src.fileno(), select.POLLIN)
        return bool(poller.poll(max(0, int(timeout_s * 1000))))

    def drain(
        self,
        sink: BatchSink,
        max_batches: int = 64,
        on_error: Callable[[OSError], None] | None = None,
    ) -> int:
        """Feed ``sink`` what the sockets hold now, FEC first: receives on each socket until
        one returns less than a full batch, at most ``max_batches``; returns the media
        datagrams fed. A receive error ends that socket's turn and goes to ``on_error``
        (raised without one)."""
        for src in self.fec:
            self._drain_one(src, sink.feed_fec_batch, max_batches, on_error)
        return self._drain_one(self.media, sink.feed_batch, max_batches, on_error)

    @staticmethod
    def _drain_one(
        src: UdpSource,
        feed: Callable[[PacketBatch], None],
        max_batches: int,
        on_error: Callable[[OSError], None] | None,
    ) -> int:
        fed = 0
        for _ in range(max_batches):
            try:
                batch = src.recv_nowait()
            except OSError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                break
            n = len(batch)
            if n:
                feed(batch)
                fed += n
            if n < src.batch_size:  # the queue is empty (or was, a moment ago)
                break
        return fed

    def close(self) -> None:
        for src in self.sources:
            src.close()

    def __enter__(self) -> StreamInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
