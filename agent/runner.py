"""The agent as a whole: store + MIB + engine, started in an asyncio loop or a thread.

Embedding (equipment makers):

    store = BlockStore()
    agent = Agent(config, store)
    await agent.start()                 # inside your asyncio loop, or
    agent.start_in_thread()             # from synchronous code
    with store.transaction() as t:      # feed rows from your own code, at any time
        t.put(RxPoint(...))
    await agent.stop() / agent.stop_thread()

Services (e.g. the collectors, composed by the program's entry point) are started after the
agent serves and stopped before it stops, each in a thread of its own; the agent knows them
only as objects with start_thread() and stop_thread().
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from iec62379.mibs.index import load_index

from .alarms import AlarmBook
from .config import AgentConfig, Endpoint
from .dvb_scalars import DvbScalars
from .hostmib import EngineCounters, HostMib, SnmpCounters
from .instrum import MeasurementInstrum
from .mibmap import MibMap
from .model import TABLES, NetworkBlock
from .notification import Notification, Notifications, VarBind
from .persist import EngineState, StateError, WrittenValues
from .store import BlockStore

log = logging.getLogger("iec62379.agent")


class Service(Protocol):
    """Something that runs beside the agent (e.g. the collectors feeding the store)."""

    def start_thread(self) -> None: ...

    def stop_thread(self) -> None: ...


def trim_heap() -> bool:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's
    malloc_trim; elsewhere nothing happens). The start (imports, building the instances'
    index) leaves freed objects that would otherwise stay in the process's RSS. True if the
    heap was trimmed."""
    import ctypes
    import gc
    import os

    gc.collect()
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # raises where the C library is not glibc
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (ValueError, OSError, AttributeError):
        return False


class Agent:
    """An SNMP agent serving `store` as `config` says.

    Its MIB knowledge is the index `iec62379 mib compile` ships (mibs/index.py); `mib_dirs`
    (directories with the IETF base MIB sources) is read only where no index is shipped, to
    build one with pysnmp at start."""

    def __init__(
        self,
        config: AgentConfig | None = None,
        store: BlockStore | None = None,
        mib_dirs: tuple[str, ...] = (),
        services: Sequence[Service] = (),
    ) -> None:
        self.config = config or AgentConfig()
        self.store = store or BlockStore()
        self.started_at: float | None = None
        self.endpoints: list[Endpoint] = []
        self.mibmap = MibMap(load_index(mib_dirs))
        state_dir = self.config.state_dir
        self.written = WrittenValues.load(state_dir / "written.json" if state_dir else None)
        self._engine_state_path = state_dir / "engine.json" if state_dir else None
        self.host = HostMib(self.mibmap, self.config.system)
        try:
            self.dvb = DvbScalars(self.mibmap,
                                  self.written.scalars.get("controlEventPersistence"))
        except ValueError as exc:
            raise StateError(f"{self.written.path}: not a written-values file: {exc}") from exc
        #: Where alarms, test failures and an embedding product submit notifications.
        self.notifications = Notifications()
        #: The active alarms and the alarm log (raise_alarm / clear_alarm; agent/alarms.py).
        self.alarms = AlarmBook(self.store, self.mibmap, self.notifications, self.host.uptime,
                                state_path=state_dir / "alarms.json" if state_dir else None)
        self.instrum = MeasurementInstrum(
            self.store, self.mibmap, providers=[self.host, self.dvb, self.alarms],
            on_write=self.written.record,
        )
        self.services = list(services)
        self._load_static_blocks()
        self._sockets: list[Any] = []
        self._transports: list[Any] = []
        self.counters = SnmpCounters()
        self.responder: Any = None
        self._refresher: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.agentx: Any = None  # the AgentX subagent (agentx.client.Subagent) in that mode
        self.notifier: Any = None  # the [[notify]] targets (agent.notify.notifier.Notifier)
        self._notify_table: asyncio.Task[None] | None = None  # extNotifyTargetTable's rows
        self._auth_watch: asyncio.Task[None] | None = None

    def notify(self, trap_oid: tuple[int, ...], varbinds: Sequence[VarBind] = (),
               severity: Any = None, alarm_id: int | None = None, name: str = "") -> None:
        """Send a notification the way the agent's own go (embedding): to the [[notify]]
        targets (and the AgentX master in that mode). Thread-safe; never blocks or raises
        for delivery. `varbinds` are (OID, BER tag, value) as agent.notification says."""
        from iec62379.mibs.vocabulary import Severity

        self.notifications.submit(Notification(
            tuple(trap_oid), tuple(varbinds),
            Severity.INDETERMINATE if severity is None else Severity(severity), alarm_id, name))

    def _make_notifier(self, local_engine: Any) -> None:
        """The [[notify]] targets' outboxes (read now: an unreadable one stops the start before
        anything is bound) and senders (started by `_start_notifier`)."""
        from .notify.notifier import Notifier

        cfg = self.config
        if cfg.notify:
            self.notifier = Notifier(cfg.notify, cfg.state_dir, self.mibmap, self.host.uptime,
                                     local_engine)

    async def _start_notifier(self) -> None:
        """Start the senders and the counters' table; then coldStart (RFC 3418)."""
        from .notify.notifier import cold_start
        from .notify.table import publish

        if self.notifier is None:
            return
        self.notifications.subscribe(self.notifier.submit)
        await self.notifier.start()
        self._notify_table = asyncio.get_running_loop().create_task(
            publish(self.notifier, self.store))
        if self.config.agentx is None:
            self.notifications.submit(cold_start())
        else:  # the master announces its own start; ours goes to our targets only
            self.notifier.submit(cold_start())

    async def _stop_notifier(self) -> None:
        for task in (self._auth_watch, self._notify_table):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._auth_watch = self._notify_table = None
        if self.notifier is not None:
            self.notifications.unsubscribe(self.notifier.submit)
            await self.notifier.stop()
            self.notifier = None


    def _load_static_blocks(self) -> None:
        if not self.config.blocks and not self.written.values:
            return
        with self.store.transaction() as t:
            for row in self.config.blocks:
                if isinstance(row, NetworkBlock):
                    row = self.written.apply(row)
                t.put(row)
            for row in t.rows(NetworkBlock):
                t.put(self.written.apply(row))
            # the tables of their own with written columns (TR 101 290 limits, enables ...),
            # whose first rows the collectors put before the agent was made
            for table in TABLES:
                if not table.block and table.writable:
                    for row in t.rows(table.row):
                        t.put(self.written.apply(row))

    # --- asyncio ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving in the running loop."""
        if self.config.agentx is not None:
            await self._start_agentx()
            return
        from . import access
        from .responder import Responder
        from .transport import bind_socket, serve

        t0 = time.perf_counter()
        cfg = self.config
        state = EngineState.next_start(self._engine_state_path, cfg.engine_id)
        self.host.refresh()
        counters = EngineCounters(self.mibmap, self.counters, state.engine_id, state.boots,
                                  max_message_size=cfg.max_message_size, v3=bool(cfg.users),
                                  enable_authen_traps=cfg.enable_authen_traps)
        self.instrum.providers.append(counters)
        self._engine_counters: EngineCounters | None = counters
        self.responder = Responder(
            self.instrum, cfg.communities, access.read_view(self.mibmap),
            access.write_view(self.mibmap), self.counters, cfg.max_message_size,
        )
        if cfg.users:
            from .v3 import V3Layer

            self.responder.v3 = V3Layer(self.responder, counters, cfg.users, cfg.max_message_size)
            for u in cfg.users:
                if u.example_only:
                    log.warning("SNMPv3 user %r is marked example_only in %s: replace its keys "
                                "before any real use", u.name, cfg.source)
        self._make_notifier(lambda: (state.engine_id, state.boots, counters.engine_time()))
        try:
            for ep in cfg.listen:
                sock = bind_socket(ep)
                self._sockets.append(sock)
                host, port = sock.getsockname()[:2]
                self.endpoints.append(Endpoint(ep.family, host, port))
            for sock in self._sockets:
                self._transports.append(await serve(sock, self.responder))
            state.count_boot(self._engine_state_path)  # it serves: only now is it a boot
            await self._start_notifier()
        except BaseException:
            await self.stop()
            raise
        if cfg.enable_authen_traps:
            from .notify.notifier import watch_auth_failures

            self._auth_watch = asyncio.get_running_loop().create_task(
                watch_auth_failures(self.counters, self.notifications.submit))
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_host())
        for service in self.services:
            # In a thread of its own: a request never waits behind a batch being analysed.
            await asyncio.get_running_loop().run_in_executor(None, service.start_thread)
        self.started_at = time.time()
        trim_heap()  # once: what the start freed need not stay in RSS
        snap = self.store.snapshot
        log.info(
            "serving %s rows on %s "
            "(%s; engine boots %d; %d communities, %d v3 users; started in %.0f ms)",
            _row_counts(snap),
            ", ".join(map(str, self.endpoints)), self.config.source, state.boots,
            len(self.config.communities), len(self.config.users), (time.perf_counter() - t0) * 1000,
        )
        writers = any(c.level == "supervisor" for c in self.config.communities)
        if self.config.allow_community_write and writers:
            log.warning("a v1/v2c community has write access (supervisor level): community "
                        "strings travel in clear text; prefer SNMPv3 authPriv users for writing")

    async def _start_agentx(self) -> None:
        """AgentX mode: no SNMP port of our own; the subagent connects to the master (and
        keeps connecting) in the background, the services start as in the standalone mode."""
        from .agentx.client import build_subagent

        t0 = time.perf_counter()
        self.agentx = build_subagent(self.config.agentx, self.instrum, self.mibmap,
                                     self.config.system.object_id,
                                     self.config.system.description)
        self.agentx.start()
        self.notifications.subscribe(lambda n: self.agentx.notify(n.trap_oid, n.varbinds))
        local_engine = None
        if any(t.user is not None for t in self.config.notify):
            # v3 traps need an engine of our own (no SNMP port here: only for them)
            state = EngineState.start(self._engine_state_path, self.config.engine_id)
            t_engine = time.monotonic()

            def local_engine() -> tuple[bytes, int, int]:
                return state.engine_id, state.boots, int(time.monotonic() - t_engine)

        self._make_notifier(local_engine)
        await self._start_notifier()
        for service in self.services:
            await asyncio.get_running_loop().run_in_executor(None, service.start_thread)
        self.started_at = time.time()
        snap = self.store.snapshot
        log.info("serving %s rows through the AgentX master at %s (%s; started in %.0f ms)",
                 _row_counts(snap),
                 self.config.agentx, self.config.source, (time.perf_counter() - t0) * 1000)

    async def _refresh_host(self) -> None:
        while True:
            await asyncio.sleep(self.config.host_refresh_s)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.host.refresh)
            except Exception:  # noqa: BLE001 - keep serving with the last values
                log.exception("reading the host's interfaces failed")

    async def stop(self) -> None:
        for service in reversed(self.services):
            await asyncio.get_running_loop().run_in_executor(None, service.stop_thread)
        await self._stop_notifier()
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self.agentx is not None:
            await self.agentx.stop()
            self.agentx = None
        for t in self._transports:
            t.close()
        for s in self._sockets:
            s.close()
        self._transports = []
        self._sockets = []
        self.endpoints = []
        if getattr(self, "_engine_counters", None) in self.instrum.providers:
            self.instrum.providers.remove(self._engine_counters)
        self._engine_counters = None
        log.info("stopped")

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # --- thread -----------------------------------------------------------------------------

    def start_in_thread(self, timeout_s: float = 10.0) -> None:
        """Run the agent in a background thread with its own loop; returns once it serves."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                errors.append(exc)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="iec62379-agent", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError(f"the agent did not start within {timeout_s} s")
        if errors:
            self._thread.join(timeout_s)
            self._thread = None
            self._loop = None
            raise errors[0]

    def stop_thread(self, timeout_s: float = 10.0) -> None:
        """Stop the thread started by start_in_thread (harmless if it is not running)."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None and thread.is_alive() and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)


def state_dir_default(config_path: str | Path | None = None) -> Path:
    """Where `iec62379 agent` keeps state when neither the config nor --state-dir says:
    $XDG_STATE_HOME/iec62379/<config name> (default ~/.local/state), one folder per config
    so that two agents never share an engine ID."""
    import os

    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "iec62379" / (Path(config_path).stem if config_path else "default")


def _row_counts(snap: Any) -> str:
    """"3 network, 2 audio, ..." for the log: every block table, the other tables (TR 101 290
    ...) when they have rows."""
    counts = ((len(getattr(snap, t.key)), t) for t in TABLES)
    return ", ".join(f"{n} {t.key}" for n, t in counts if t.block or n)
