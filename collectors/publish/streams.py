"""One configured stream over time: its analyzer, its life cycle and its rows. No I/O, no clock.

Packets come in with their arrival times (kernel receive timestamps); :meth:`StreamCollector.
update` is called with the current time on the same clock and returns the rows the stream has
now. The life cycle, with T = presence timeout and F = fade-out time, measured from the
arrival of the stream's last packet:

    waiting   nothing received yet           network block + receiver point (empty)
    active    last packet at most T ago      all four blocks, from the latest interval report
                                             (and each further program's video and audio
                                             blocks in an MPTS, programs.py)
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
import ipaddress
import logging
from collections.abc import Callable
from enum import StrEnum

from iec62379.agent.model import (
    PREFERENCES,
    TEST_ENABLE,
    U32_MAX,
    RfSystem,
    Row,
    RxCounters,
    Snapshot,
    TestPreferences,
    TrapControl,
    TsInput,
    normal_float,
)
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport, Tr101290Limits
from iec62379.collectors.publish.blocks import absent_row, count_reports, stream_rows
from iec62379.collectors.publish.programs import ProgramBlocks
from iec62379.collectors.publish.tr101290 import (
    FailEntry,
    InputHistory,
    TrapThrottle,
    trap_allowed,
)
from iec62379.collectors.settings import StreamBlockIds, StreamSettings
from iec62379.collectors.sources.netfacts import NetworkFacts
from iec62379.mibs.vocabulary import TsTest

log = logging.getLogger("iec62379.collectors")


class StreamState(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    STOPPED = "stopped"
    FADED = "faded"


def analyzer_config(settings: StreamSettings) -> AnalyzerConfig:
    """The measurement core's configuration for a configured stream (the TR 101 290 limits are
    the stream's current ones, `StreamCollector.limits`, when an analyzer is made)."""
    return AnalyzerConfig(
        interval_s=settings.interval_s,
        transport="auto",  # RTP or bare TS, per datagram: rtp:// and udp:// both carry either
        media_rate_bps=settings.rate_bps,
        presence_timeout_s=settings.presence_timeout_s,
        buffer_size_ms=float(settings.buffer_ms),
        program_number=settings.program,
        max_reports=16,
        tr101290=settings.tr101290,
    )


def limits_of(prefs: TestPreferences | None, enabled: frozenset[TsTest]) -> Tr101290Limits:
    """The core's TR 101 290 limits from a tsTestsPreferencesTable row (defaults when None) and
    the tests whose testEnable bit is set."""
    if prefs is None:
        return Tr101290Limits(enabled=enabled)
    values = {f"{name}_s": float(getattr(prefs, name)) for name, _, _ in PREFERENCES[:8]}
    return Tr101290Limits(**values, enabled=enabled)


def preferences_of(input_number: int, limits: Tr101290Limits | None) -> TestPreferences:
    """The tsTestsPreferencesTable row of an input before any write: the configured limits
    ([stream.tr101290]), the DVB MIB's DEFVALs for the rest."""
    if limits is None:
        return TestPreferences(input=input_number)
    return TestPreferences(input=input_number, **{
        name: normal_float(getattr(limits, f"{name}_s")) for name, _, _ in PREFERENCES[:8]})


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
        #: the further programs of an MPTS (programs.py)
        self.programs = ProgramBlocks(self.ids.network, settings.program_ids(), self._fade_ns)
        #: TR 101 290 (DVB measurement MIB): the limits the analyzer runs with, the history
        #: of the input (made at the first update), its trap rate control, the written rows.
        #: [stream.tr101290] of the configuration: the first limits, the tests that may run
        #: (None: checks = false, and a manager's writes do not turn them on)
        self.configured: Tr101290Limits | None = settings.tr101290
        self.limits: Tr101290Limits | None = self.configured
        self.persistence_s = 2.0  # controlEventPersistence
        self.dvb: InputHistory | None = None
        self.throttle = TrapThrottle()
        self.prefs = preferences_of(settings.dvb_input, self.configured)
        self.trap_control = TrapControl(input=settings.dvb_input)
        #: entries into fail that a trap is to be sent for (taken by the service)
        self.traps: list[FailEntry] = []

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
            self.analyzer = self._factory(dataclasses.replace(self._config, tr101290=self.limits))
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

    def apply_written(self, snapshot: Snapshot, persistence_s: float | None = None) -> None:
        """What managers wrote for this input (enables, counter resets, limits, trap rate
        control), as the store has it, and controlEventPersistence: the limits go to the
        analyzer from its next interval."""
        if persistence_s is not None:
            self.persistence_s = persistence_s
            if self.dvb is not None:
                self.dvb.persistence_s = persistence_s
        inp = self.settings.dvb_input
        rows = {t: snapshot.dvb_summary.get((int(t), inp)) for t in TsTest}
        enable = {t: r.enable for t, r in rows.items() if r is not None}
        prefs = snapshot.dvb_preferences.get((inp,))
        if prefs is not None:
            self.prefs = prefs
        control = snapshot.dvb_trap_control.get((inp,))
        if control is not None:
            self.trap_control = control
        if self.configured is None:
            limits = None
        else:
            enabled = frozenset(t for t in self.configured.enabled
                                if enable.get(t, TEST_ENABLE) & TEST_ENABLE)
            limits = limits_of(self.prefs, enabled)
        if limits != self.limits:
            self.limits = limits
            if self.analyzer is not None:
                self.analyzer.set_tr101290(limits)
        if self.dvb is not None:
            self.dvb.enable = enable
            self.dvb.apply_resets({t: r.reset_ns for t, r in rows.items() if r is not None})

    def _history(self, reports: list[IntervalReport], now_ns: int) -> None:
        """The closed intervals into the TR 101 290 history; entries into fail whose trap the
        Enable bits and the rate control allow go to `traps`."""
        assert self.dvb is not None
        for r in reports:
            self._trap_entries(
                self.dvb.update(r.tr101290, r.start_ns, int(round(r.interval_s * 1e9))), now_ns)

    def _trap_entries(self, entries: list[FailEntry], now_ns: int) -> None:
        assert self.dvb is not None
        for entry in entries:
            if trap_allowed(self.dvb, entry) and self.throttle.allow(self.trap_control, now_ns):
                self.traps.append(entry)

    def dvb_rows(self) -> list[Row]:
        """The input's rows of the DVB measurement MIB (after `update`)."""
        if self.dvb is None:
            return []
        control = dataclasses.replace(self.trap_control, failing=self.dvb.failing(),
                                      throttled_until_ns=self.throttle.throttled_until_ns)
        url = self.settings.url
        source = ipaddress.ip_address(url.source).packed if url.source else b""
        stream = TsInput(input=self.settings.dvb_input, name=self.settings.name,
                         address=ipaddress.ip_address(url.bind_address).packed, port=url.port,
                         rx_block_id=self.ids.rx, source=source)
        return [*self.dvb.summary_rows(), *self.dvb.pid_rows(), self.prefs, control, stream,
                RfSystem(input=self.settings.dvb_input)]

    def update(self, now_ns: int) -> list[Row]:
        """Close the intervals that ended by ``now_ns`` and return the stream's rows now."""
        if self.origin_ns is None:
            self.origin_ns = now_ns
        if self.dvb is None:
            self.dvb = InputHistory(self.settings.dvb_input, self.origin_ns,
                                    persistence_s=self.persistence_s)
        state = self.state(now_ns)
        self.closed = []
        if state is StreamState.FADED:
            self.analyzer = None  # a stream that comes back starts afresh
            self.report = None
            self.programs.clear()
            self._trap_entries(self.dvb.silence(now_ns), now_ns)
        elif self.analyzer is not None:
            try:
                self.analyzer.close_until(now_ns)
                self.closed = reports = self.analyzer.pop_reports()
                self.counters = count_reports(self.counters, reports)
                self.report = self.analyzer.latest
                self._history(reports, now_ns)
            except Exception:  # noqa: BLE001
                self._feed_failed()
        media = state in (StreamState.ACTIVE, StreamState.STOPPED)
        rows = stream_rows(self.ids, self.facts, self.settings.buffer_ms, self.report, media,
                           self.settings.sip_server, self.counters)
        if media:
            rows += self.programs.rows(self.report, self.facts.if_index, now_ns)
        if state is StreamState.STOPPED:
            rows = [absent_row(r) for r in rows]
        return rows


__all__ = ["StreamCollector", "StreamState", "analyzer_config"]
