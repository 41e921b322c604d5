"""The collector service: configured streams and host sensors, live in the block store.

It owns the I/O of the live collection (UDP sockets, the sensor scans, the host's network
facts) and hands packets and time to the pure parts: :class:`~iec62379.collectors.publish.
streams.StreamCollector` (analyzer and life cycle of one stream), :mod:`~iec62379.collectors.
publish.blocks` (reports to rows) and :class:`~iec62379.collectors.publish.sensors.
SensorCollector`.

Timing. Each stream's datagrams are fed as they arrive, with their kernel receive timestamps
(CLOCK_REALTIME). Once per tick (the shortest configured interval, 1 s by default) the service
reads the time on that same clock, drains the sockets, lets every stream close the intervals
that ended, and writes all the rows that changed in **one** store transaction, so a walk sees
every stream at the same moment. Sensors are scanned every ``refresh_s`` (off the event loop:
hwmon drivers may block) and their rows go into the next transaction. :meth:`publish` takes
the time as an argument, so tests drive the service without sockets and without sleeping.

Rows. A stream's rows are put when they differ from the store's; rows the stream no longer has
(faded out, an audio component gone from the PMT) are removed; the writable columns of its
network block (nMtTxRxPoint, nMtSIPServerAddr) are kept as a manager set them. A stream whose
socket cannot be opened (an interface that is down, a group that cannot be joined) keeps its
network block and receiver point, is logged, and is tried again every host refresh.

Alarms. After each transaction the conditions are evaluated (:mod:`~iec62379.collectors.
alarming`): each stream's closed intervals and its presence (streamLost), and the temperature
rows of a scan; what they raise, clear or log goes to the agent's AlarmBook.

Sockets are opened and pumped by :mod:`~iec62379.collectors.wiring`, as for `probe`. SMPTE
2022-1 FEC is received on the media port + 2 (column) and + 4 (row) unless another configured
stream on the same address uses those ports; a FEC port that cannot be bound is logged and left
out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from iec62379.agent import ber as _ber
from iec62379.agent import dvb
from iec62379.agent.model import NetworkBlock, Row, Temperature, table_of
from iec62379.agent.notification import Notification
from iec62379.agent.store import BlockStore, Transaction
from iec62379.collectors.publish.sensors import SensorCollector
from iec62379.collectors.settings import SensorSettings, Settings, StreamSettings
from iec62379.collectors.sources.netfacts import NetworkFacts, network_facts
from iec62379.collectors.sources.netinfo import NetInfo
from iec62379.mibs.vocabulary import Severity

if TYPE_CHECKING:
    from iec62379.collectors.publish.streams import StreamCollector
    from iec62379.collectors.wiring import StreamInput

# The stream modules (receiver, analyzer: numpy) are imported only when there are streams, so
# that an agent with sensors and static blocks alone stays small.

log = logging.getLogger("iec62379.collectors")

_DRAIN_BATCHES = 64  # recvmmsg calls per socket when a tick drains the queues
RowKey = tuple[type, tuple[int, ...]]


class CollectorService:
    """Streams and sensors of one agent; see the module docstring."""

    def __init__(
        self,
        store: BlockStore,
        streams: Sequence[StreamSettings] = (),
        sensors: SensorSettings | None = None,
        *,
        host_refresh_s: float = 5.0,
        clock: Callable[[], int] = time.time_ns,
        netinfo: NetInfo | None = None,
        sensor_collector: SensorCollector | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.netinfo = netinfo or NetInfo()
        self.host_refresh_s = host_refresh_s
        self.streams: list[StreamCollector] = []
        if streams:
            from iec62379.collectors.publish.streams import StreamCollector

            self.streams = [StreamCollector(s, self._facts(s)) for s in streams]
        if sensor_collector is None and sensors is not None and sensors.enabled:
            sensor_collector = SensorCollector(sensors)
        self.sensors = sensor_collector
        from iec62379.collectors.alarming import CollectorAlarms

        #: the alarm conditions of the streams and sensors; their transitions go to
        #: `alarms.book` (the agent's AlarmBook, set by the composer) after every tick
        self.alarms = CollectorAlarms(self.streams, sensors if self.sensors else None)
        self.commits = 0
        self.commit_errors = 0
        self._published: dict[int, set[RowKey]] = {}
        self._temperature_keys: set[RowKey] = set()
        self._sources: dict[int, StreamInput] = {}
        self._open_errors: dict[int, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        #: testFailTrap: where notifications go and the OIDs they name (see `attach`)
        self._submit: Callable[[Notification], None] | None = None
        self._oids: dict[str, tuple[int, ...]] = {}
        self._capability: list[Row] = []
        self._persistence: Callable[[], float] | None = None
        self.traps_sent = 0

    def attach(self, mibmap: Any, submit: Callable[[Notification], None] | None,
               persistence: Callable[[], float] | None = None) -> None:
        """The agent this service feeds: its MIB map (the OIDs of capabilityTSTable's rows and
        of testFailTrap's varbinds), its notification hub (`Notifications.submit`) and where
        controlEventPersistence is read (seconds). Without it, the TR 101 290 tables are
        served, no trap is sent and the persistence is 2 s."""
        self._persistence = persistence
        names = ("testFailTrap", "trapControlOID", "trapControlGenerationTime",
                 "trapControlFailureSummary", "trapInput", "tsTestsSummaryState",
                 "tsTestsPIDState")
        self._oids = {n: mibmap.symbol_oid(dvb.DVB_MIB, n) for n in names}
        self._submit = submit
        if self.streams:
            poll_ms = int(min(c.settings.interval_s for c in self.streams) * 1000)
            from iec62379.collectors.publish.tr101290 import implemented_tests

            self._capability = list(dvb.capability_rows(
                self._oids["tsTestsSummaryState"], poll_ms, implemented_tests()))
            self.store.put(*self._capability)

    def _send_traps(self) -> None:
        """testFailTrap for each entry into fail the streams' rate control let through, with
        the FailureSummary as it is now (digest section 5)."""
        for c in self.streams:
            entries, c.traps = c.traps, []
            if self._submit is None or c.dvb is None:
                continue
            inp = c.settings.dvb_input
            for e in entries:
                if e.pid is None:
                    state = self._oids["tsTestsSummaryState"] + (int(e.test), inp)
                else:
                    state = self._oids["tsTestsPIDState"] + (e.pid + 1, int(e.test), inp)
                varbinds = (
                    (self._oids["trapControlOID"] + (inp,), _ber.OBJECT_IDENTIFIER, state),
                    (self._oids["trapControlGenerationTime"] + (inp,), _ber.OCTET_STRING,
                     dvb.date_and_time(e.latest_error_ns)),
                    (self._oids["trapControlFailureSummary"] + (inp,), _ber.OCTET_STRING,
                     dvb.summary_bits(c.dvb.failing())),
                    (self._oids["trapInput"] + (0,), _ber.INTEGER, inp),
                )
                self._submit(Notification(self._oids["testFailTrap"], varbinds,
                                          severity=Severity.MAJOR, name="testFailTrap"))
                self.traps_sent += 1

    @classmethod
    def for_config(cls, config: Settings, store: BlockStore) -> CollectorService | None:
        """The service for a configuration, with its first rows already in the store
        (the sensors' first scan, every stream's network block and receiver point); None when
        the configuration has neither streams nor enabled sensors."""
        if not config.streams and not config.sensors.enabled:
            return None
        service = cls(store, config.streams, config.sensors,
                      host_refresh_s=config.agent.host_refresh_s)
        service.publish(temperatures=service.read_sensors())
        return service

    # -- host facts -----------------------------------------------------------------------

    def _facts(self, settings: StreamSettings) -> NetworkFacts:
        return network_facts(settings.url, self.netinfo)

    def refresh_facts(self) -> None:
        """Read the network facts of every stream again (I/O: /sys and /proc)."""
        for c in self.streams:
            c.facts = self._facts(c.settings)

    def read_sensors(self) -> list[Temperature] | None:
        """One scan of the sensors as rows; None without sensors. Never raises."""
        if self.sensors is None:
            return None
        try:
            return self.sensors.rows(self.sensors.read())
        except Exception:  # noqa: BLE001 - keep the last rows
            log.exception("reading the temperature sensors failed")
            return None

    # -- the store ------------------------------------------------------------------------

    def publish(
        self, now_ns: int | None = None, temperatures: list[Temperature] | None = None
    ) -> bool:
        """Close the intervals that ended by ``now_ns`` (default: the clock) and write every
        stream's rows, and ``temperatures`` when given, in one transaction. Returns False when
        the store refused the change (logged; the previous rows stay)."""
        now = self.clock() if now_ns is None else now_ns
        snap = self.store.snapshot
        persistence = self._persistence() if self._persistence is not None else None
        for c in self.streams:
            c.apply_written(snap, persistence)
        rows_by_stream = [(c, c.update(now) + c.dvb_rows()) for c in self.streams]
        published = dict(self._published)
        temperature_keys = self._temperature_keys
        try:
            with self.store.transaction() as t:
                for c, rows in rows_by_stream:
                    want = {(type(r), r.index) for r in rows}
                    for row_type, index in self._published.get(c.ids.network, set()) - want:
                        t.remove(row_type, index)
                    for row in rows:
                        _put_changed(t, row)
                    published[c.ids.network] = want
                for row in self._capability:
                    _put_changed(t, row)
                if temperatures is not None:
                    keys = {(Temperature, r.index) for r in temperatures}
                    for row_type, index in self._temperature_keys - keys:
                        t.remove(row_type, index)
                    for row in temperatures:
                        _put_changed(t, row)
                    temperature_keys = keys
        except Exception as exc:  # noqa: BLE001 - a refused commit must not stop collection
            self.commit_errors += 1
            if self.commit_errors == 1 or self.commit_errors % 100 == 0:
                log.error("the collectors' rows were refused by the store (%d times): %s",
                          self.commit_errors, exc)
            return False
        self._published = published
        self._temperature_keys = temperature_keys
        self.commits += 1
        self._send_traps()
        self.alarms.update(self.streams, now, temperatures)
        return True

    # -- asyncio --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the sockets and run the ticks in the running loop."""
        self._loop = asyncio.get_running_loop()
        for c in self.streams:
            self._open(c)
        self._task = self._loop.create_task(self._run())
        log.info(
            "collecting %d stream(s)%s%s",
            len(self.streams),
            "".join(f"; {c.settings.name} -> blocks {c.ids.network}..{c.ids.rx}"
                    + _further(c.settings.program_ids()) for c in self.streams),
            f"; sensors of {self.sensors.settings.sysfs_root} -> temperature block "
            f"{self.sensors.block_id}" if self.sensors is not None else "",
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for key in list(self._sources):
            self._close(key)

    # -- a thread of its own --------------------------------------------------------------

    def start_thread(self, timeout_s: float = 10.0) -> None:
        """Run the service in a thread with its own event loop: receiving and analysing then
        never wait in line with the agent's requests on the agent's loop (they share only the
        GIL, and the interpreter hands it over every few milliseconds). Returns once the
        sockets are open; raises what `start` raised."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)
                loop.close()
                ready.set()
                return
            self._thread_loop = loop
            ready.set()
            try:
                loop.run_forever()
                loop.run_until_complete(self.stop())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="iec62379-collectors", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError(f"the collectors did not start within {timeout_s} s")
        if errors:
            self._thread.join(timeout_s)
            self._thread = None
            raise errors[0]

    def stop_thread(self, timeout_s: float = 10.0) -> None:
        """Stop what start_thread started (harmless if it is not running)."""
        loop, thread = self._thread_loop, self._thread
        self._thread_loop = self._thread = None
        if loop is not None and thread is not None and thread.is_alive() and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)

    def _open(self, c: StreamCollector) -> None:
        """Open the stream's sockets (media, then FEC); log and remember a failure."""
        key = c.ids.network
        if key in self._sources or self._loop is None:
            return
        from iec62379.collectors.wiring import StreamInput, os_reason

        url = c.settings.url
        taken = {
            o.settings.url.port
            for o in self.streams
            if o is not c and o.settings.url.address == url.address
        }

        def no_fec(port: int, reason: str) -> None:
            log.info("stream %s: no FEC reception on port %d (%s)", c.settings.name, port, reason)

        try:
            sources = StreamInput.open(url, skip_ports=taken, on_fec_error=no_fec)
        except (OSError, ValueError) as exc:
            reason = os_reason(exc)
            if self._open_errors.get(key) != reason:
                log.warning("stream %s: cannot receive (%s); trying again every %g s",
                            c.settings.name, reason, self.host_refresh_s)
            self._open_errors[key] = reason
            return
        if self._open_errors.pop(key, None) is not None:
            log.info("stream %s: receiving", c.settings.name)
        sources.attach(self._loop, c)
        self._sources[key] = sources

    def _close(self, key: int) -> None:
        sources = self._sources.pop(key, None)
        if sources is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):
                sources.detach(self._loop)
        sources.close()

    def _drain(self) -> None:
        """Feed what the sockets hold now, so the intervals closed next are complete."""
        for c in self.streams:
            sources = self._sources.get(c.ids.network)
            if sources is None:
                continue

            def failed(exc: OSError, name: str = c.settings.name) -> None:
                log.warning("stream %s: receive failed: %s", name, exc)

            sources.drain(c, _DRAIN_BATCHES, on_error=failed)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        tick = min((c.settings.interval_s for c in self.streams), default=None)
        sensor_every = self.sensors.settings.refresh_s if self.sensors is not None else None
        start = loop.time()
        next_tick = start + tick if tick else None
        next_sensors = start + sensor_every if sensor_every else None
        next_host = start + self.host_refresh_s
        temperatures: list[Temperature] | None = None
        while True:
            due = min(x for x in (next_tick, next_sensors, next_host) if x is not None)
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            if next_sensors is not None and now >= next_sensors:
                temperatures = await self._in_executor(self._scan_rows) or temperatures
                next_sensors = _advance(next_sensors, sensor_every, now)
            if now >= next_host:
                if self.streams:
                    await self._in_executor(self.refresh_facts)
                    for c in self.streams:
                        self._open(c)
                next_host = _advance(next_host, self.host_refresh_s, now)
            if next_tick is not None and now >= next_tick:
                self._drain()
                self.publish(temperatures=temperatures)
                temperatures = None
                next_tick = _advance(next_tick, tick, now)
            elif next_tick is None and temperatures is not None:  # sensors only
                self.publish(temperatures=temperatures)
                temperatures = None

    def _scan_rows(self) -> list[Temperature] | None:
        return self.read_sensors()

    async def _in_executor(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn)
        except Exception:  # noqa: BLE001 - keep collecting with the last values
            log.exception("collector host refresh failed")
            return None


def _advance(deadline: float, period: float | None, now: float) -> float:
    """The next deadline after ``now`` on the grid deadline + k * period."""
    assert period is not None
    deadline += period
    if deadline <= now:  # late (a suspended host): skip the missed ticks
        deadline += period * (int((now - deadline) / period) + 1)
    return deadline


def _further(ids: tuple[int, ...]) -> str:
    """The log's note of a stream's further programs' block ids."""
    return f" (further programs {ids[0]}..{ids[-1]})" if ids else ""


def _put_changed(t: Transaction, row: Row) -> None:
    """Put ``row`` unless the store has it already; a stream's network block keeps the
    writable columns as a manager set them."""
    current = t.get(type(row), row.index)
    if isinstance(row, NetworkBlock) and isinstance(current, NetworkBlock):
        row = replace(row, rx_point=current.rx_point, sip_server=current.sip_server)
    elif current is not None and not table_of(type(row)).block:
        # a table of its own (TR 101 290): its written columns as a manager set them (a SET
        # between this tick's read of the store and this transaction is not lost)
        written = {c.write.field: getattr(current, c.write.field)
                   for c in table_of(type(row)).writable if c.write is not None}
        if written:
            row = replace(row, **written)
    if current != row:
        t.put(row)


__all__ = ["CollectorService"]
