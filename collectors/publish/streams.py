"""One configured stream over time: its analyzer, its life cycle and its rows. No I/O, no clock.

Packets come in with their arrival times (kernel receive timestamps); :meth:`StreamCollector.
update` is called with the current time on the same clock and returns the rows the stream has
now. The life cycle, with T = presence timeout and F = fade-out time, measured from the
arrival of the stream's last packet:

    waiting   nothing received yet           network block + receiver point (empty)
    active    last packet at most T ago      all four blocks, from the latest interval report
    stopped   last packet more than T ago    the same rows, video and audio status false
    faded     more than T + F ago            network block + receiver point (empty); the
                                             audio and video rows are removed

The network block and its receiver point stay all the time: they are configured (the stream
is expected), and an Rx network block must have its rxPointTable row (digest, 6.3.6). A stream
that comes back while stopped continues with the same analyzer (the outage shows as loss); one
that comes back after fading out starts a fresh analyzer (its program may have changed), and
its audio and video rows return with the first interval report.

Malformed packets are counted by the analyzer (report errors); anything else a batch makes the
analyzer raise is caught, counted in :attr:`StreamCollector.feed_errors` and the batch dropped,
so one bad batch never stops the collection.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from enum import StrEnum

from iec62379.agent.model import U32_MAX, AudioComponent, Row, RxCounters, VideoBlock
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport
from iec62379.collectors.publish.blocks import count_reports, stream_rows
from iec62379.collectors.settings import StreamBlockIds, StreamSettings
from iec62379.collectors.sources.netfacts import NetworkFacts
from iec62379.mibs.vocabulary import BitRateType

log = logging.getLogger("iec62379.collectors")


class StreamState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    STOPPED = "stopped"
    FADED = "faded"


def analyzer_config(settings: StreamSettings) -> AnalyzerConfig:
    """The measurement core's configuration for a configured stream."""
    return AnalyzerConfig(
        interval_s=settings.interval_s,
        transport="auto",  # RTP or bare TS, per datagram: rtp:// and udp:// both carry either
        media_rate_bps=settings.rate_bps,
        presence_timeout_s=settings.presence_timeout_s,
        buffer_size_ms=float(settings.buffer_ms),
        program_number=settings.program,
        max_reports=16,
    )


class StreamCollector:
    """Measures one configured stream and says which rows it has at a given time."""

    def __init__(
        self,
        settings: StreamSettings,
        facts: NetworkFacts,
        analyzer_factory: Callable[[AnalyzerConfig], StreamAnalyzer] = StreamAnalyzer,
    ) -> None:
        self.settings = settings
        self.ids: StreamBlockIds = settings.ids
        self.facts = facts
        self._factory = analyzer_factory
        self._config = analyzer_config(settings)
        self.analyzer: StreamAnalyzer | None = None
        self.report: IntervalReport | None = None
        #: the reports of the intervals the last `update` closed (oldest first; the alarms
        #: are evaluated on each)
        self.closed: list[IntervalReport] = []
        self.last_packet_ns: int | None = None
        self.datagrams = 0
        self.feed_errors = 0
        self.recoveries = 0
        #: rxPointExtTable's counters, over the closed intervals of the current analysis.
        self.counters = RxCounters()
        #: the time of the first packet or update (the agent's start, to a few ms): the zero
        #: of the counters' discontinuity time.
        self.origin_ns: int | None = None
        self._timeout_ns = int(round(settings.presence_timeout_s * 1e9))
        self._fade_ns = int(round(settings.fade_out_s * 1e9))

    # -- packets --------------------------------------------------------------------------

    def _analyzer_for(self, first_arrival_ns: int) -> StreamAnalyzer:
        last = self.last_packet_ns
        if self.analyzer is None or (
            last is not None and first_arrival_ns - last > self._timeout_ns + self._fade_ns
        ):
            if self.origin_ns is None:
                self.origin_ns = first_arrival_ns
            if last is not None:
                self.recoveries += 1
                # The counters start again: their discontinuity time is now, in sysUpTime's
                # hundredths of a second since the origin.
                ticks = max(0, first_arrival_ns - self.origin_ns) // 10_000_000
                self.counters = RxCounters(discontinuity_ticks=min(ticks, U32_MAX))
            self.analyzer = self._factory(self._config)
            self.report = None
        return self.analyzer

    def feed_batch(self, batch: PacketBatch) -> None:
        """The media datagrams of a batch (all of them: the socket is the stream's own)."""
        n = len(batch)
        if n == 0:
            return
        arrivals = batch.arrival_ns
        analyzer = self._analyzer_for(int(arrivals[0]))
        try:
            analyzer.feed_batch(batch)
        except Exception:  # noqa: BLE001 - a bad batch must not stop the collection
            self._feed_failed()
            return
        self.datagrams += n
        newest = int(arrivals.max())
        self.last_packet_ns = newest if self.last_packet_ns is None else max(
            self.last_packet_ns, newest
        )

    def feed_fec_batch(self, batch: PacketBatch) -> None:
        """SMPTE 2022-1 FEC datagrams (column or row flow) of this stream."""
        if len(batch) == 0 or self.analyzer is None:
            return
        try:
            self.analyzer.feed_fec_batch(batch)
        except Exception:  # noqa: BLE001
            self._feed_failed()

    def feed(self, payload: bytes, arrival_ns: int) -> None:
        """One datagram (tests, slow sources)."""
        self.feed_batch(PacketBatch.from_payloads([payload], [arrival_ns]))

    def _feed_failed(self) -> None:
        self.feed_errors += 1
        if self.feed_errors == 1 or self.feed_errors % 1000 == 0:
            log.exception("stream %s: a batch could not be analysed (%d so far); dropped",
                          self.settings.name, self.feed_errors)

    # -- time ---------------------------------------------------------------------------

    def state(self, now_ns: int) -> StreamState:
        last = self.last_packet_ns
        if last is None:
            return StreamState.WAITING
        silent = now_ns - last
        if silent <= self._timeout_ns:
            return StreamState.ACTIVE
        if silent <= self._timeout_ns + self._fade_ns:
            return StreamState.STOPPED
        return StreamState.FADED

    def update(self, now_ns: int) -> list[Row]:
        """Close the intervals that ended by ``now_ns`` and return the stream's rows now."""
        if self.origin_ns is None:
            self.origin_ns = now_ns
        state = self.state(now_ns)
        self.closed = []
        if state is StreamState.FADED:
            self.analyzer = None  # a stream that comes back starts afresh
            self.report = None
        elif self.analyzer is not None:
            try:
                self.analyzer.close_until(now_ns)
                self.closed = self.analyzer.pop_reports()
                self.counters = count_reports(self.counters, self.closed)
                self.report = self.analyzer.latest
            except Exception:  # noqa: BLE001
                self._feed_failed()
        media = state in (StreamState.ACTIVE, StreamState.STOPPED)
        rows = stream_rows(self.ids, self.facts, self.settings.buffer_ms, self.report, media,
                           self.settings.sip_server, self.counters)
        if state is StreamState.STOPPED:
            rows = [_absent(r) for r in rows]
        return rows


def _absent(row: Row) -> Row:
    """A video or audio row of a stream that stopped: no signal."""
    if isinstance(row, VideoBlock):
        return dataclasses.replace(row, status=False, bit_rate_type=BitRateType.UNSPECIFIED)
    if isinstance(row, AudioComponent):
        return dataclasses.replace(row, status=False)
    return row


__all__ = ["StreamCollector", "StreamState", "analyzer_config"]
