"""The AgentX connection: a unix or TCP stream to the master, kept up for as long as we run.

`Subagent.run` connects, opens a session, registers the subtrees and answers the master, and
when the master is not there, closes the session or the stream, or sends bytes that are not
AgentX, it connects again after a back-off (doubling from `backoff_s` up to `max_backoff_s`,
back to the start once a session opens). The store and the instrumentation live outside the
session, so nothing is lost; notifications wait in a bounded queue until the master has
acknowledged them, and go out again on the next session when it did not.

A Ping every `ping_interval_s` checks that the master is still answering; a session whose Ping
is not answered by the next one is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import access
from ..instrum import MeasurementInstrum
from ..mibmap import MibMap
from . import pdu
from .address import AgentXAddress
from .pdu import Oid, VarBind
from .requests import Requests
from .session import Closed, Notified, Opened, OpenFailed, Pong, Registered, Session, State

log = logging.getLogger("iec62379.agent.agentx")


@dataclass(frozen=True)
class Notification:
    key: int
    trap_oid: Oid
    varbinds: tuple[VarBind, ...]


class Subagent:
    """See the module docstring. `new_session()` makes a fresh `Session` per connection."""

    def __init__(self, address: AgentXAddress, new_session: Callable[[], Session],
                 backoff_s: float = 0.25, max_backoff_s: float = 4.0,
                 ping_interval_s: float = 10.0, queue_size: int = 1000) -> None:
        self.address = address
        self.new_session = new_session
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.ping_interval_s = ping_interval_s
        self.session: Session | None = None
        self.registered: set[Oid] = set()
        self.sessions_opened = 0
        self.queue: deque[Notification] = deque(maxlen=queue_size)
        self._next_key = 0
        self._pongs = 0
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._registered_event = asyncio.Event()

    # --- public -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the running loop (returns at once)."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self.run(), name="iec62379-agentx")

    async def stop(self) -> None:
        """Close the session (reasonShutdown) and the connection."""
        if self.session is not None and self.session.state is not State.CLOSED:
            self._send([self.session.close(pdu.REASON_SHUTDOWN)])
            for event in self.session.take_events():
                self._on_event(self.session, event)
            if self._transport is not None:
                self._transport.close()  # the Close-PDU is flushed first
                await asyncio.sleep(0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_registered(self, timeout_s: float) -> bool:
        """Whether a session registered all its subtrees within `timeout_s`."""
        try:
            await asyncio.wait_for(self._registered_event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def notify(self, trap_oid: Oid, varbinds: Sequence[VarBind] = ()) -> None:
        """Send a notification through the master: snmpTrapOID.0 = `trap_oid`, then `varbinds`
        as (OID, BER tag, plain value). Queued while there is no session; safe to call from
        any thread."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the subagent is not started")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._enqueue(trap_oid, tuple(varbinds))
        else:
            loop.call_soon_threadsafe(self._enqueue, trap_oid, tuple(varbinds))

    # --- the connection ---------------------------------------------------------------------

    def _enqueue(self, trap_oid: Oid, varbinds: tuple[VarBind, ...]) -> None:
        self._next_key += 1
        n = Notification(self._next_key, tuple(trap_oid), varbinds)
        if len(self.queue) == self.queue.maxlen:
            log.warning("AgentX: notification queue full, the oldest one is dropped")
        self.queue.append(n)
        s = self.session
        if s is not None and s.state is State.OPEN:
            self._send([s.notify(n.key, n.trap_oid, n.varbinds)])

    def _send(self, pdus: list[bytes]) -> None:
        t = self._transport
        if pdus and t is not None and not t.is_closing():
            t.write(b"".join(pdus))

    async def _connect(self, protocol: _Connection) -> asyncio.Transport:
        a = self.address
        loop = asyncio.get_running_loop()
        if a.kind == "unix":
            transport, _ = await loop.create_unix_connection(lambda: protocol, a.path)
        else:
            transport, _ = await loop.create_connection(lambda: protocol, a.host, a.port)
        return transport

    async def run(self) -> None:
        """Connect, serve, reconnect: until cancelled."""
        delay = self.backoff_s
        while True:
            conn = _Connection(self, self.new_session())
            try:
                transport = await asyncio.wait_for(self._connect(conn), 10.0)
            except (OSError, TimeoutError) as exc:
                log.debug("AgentX: cannot connect to %s: %s", self.address, exc)
            else:
                try:
                    if await self._serve(conn, transport):
                        delay = self.backoff_s
                finally:
                    self._transport = None
                    self.session = None
                    self.registered = set()
                    self._registered_event.clear()
                    transport.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)

    async def _serve(self, conn: _Connection, transport: asyncio.Transport) -> bool:
        """One session on one connection, until it ends; whether it opened."""
        self.session, self._transport = conn.session, transport
        self._send([conn.session.open()])
        pinger = asyncio.get_running_loop().create_task(self._ping(conn.session))
        try:
            await conn.done
        finally:
            pinger.cancel()
        return conn.opened

    def _received(self, conn: _Connection, data: bytes) -> None:
        session = conn.session
        out = session.receive(data)
        for event in session.take_events():
            conn.opened |= isinstance(event, Opened)
            out += self._on_event(session, event)
        self._send(out)
        if session.state is State.CLOSED and self._transport is not None:
            self._transport.close()  # after what was written (our Close-PDU) is sent

    def _on_event(self, session: Session, event: object) -> list[bytes]:
        if isinstance(event, Opened):
            self.sessions_opened += 1
            log.info("AgentX: session %d open with %s", event.session_id, self.address)
            out = session.register_all()
            out += [session.notify(n.key, n.trap_oid, n.varbinds) for n in self.queue]
            return out
        if isinstance(event, OpenFailed):
            log.error("AgentX: %s refused the session (res.error %d)", self.address, event.error)
        elif isinstance(event, Registered):
            dotted = ".".join(map(str, event.subtree))
            if event.error:
                log.error("AgentX: registering %s refused (res.error %d)", dotted, event.error)
            else:
                self.registered.add(event.subtree)
                log.info("AgentX: registered %s", dotted)
                if self.registered >= set(session.subtrees):
                    self._registered_event.set()
        elif isinstance(event, Notified):
            if event.error:
                log.error("AgentX: the master refused notification %d (res.error %d)",
                          event.key, event.error)
            for n in list(self.queue):
                if n.key == event.key:
                    self.queue.remove(n)
        elif isinstance(event, Closed):
            who = "the master" if event.by_master else "we"
            log.warning("AgentX: %s closed the session (reason %d%s)", who, event.reason,
                        f": {event.why}" if event.why else "")
        elif isinstance(event, Pong):
            self._pongs += 1
        return []

    async def _ping(self, session: Session) -> None:
        """Ping the master; drop the connection when the previous Ping is still unanswered."""
        answered = True
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if session.state is not State.OPEN:
                continue
            if not answered:
                log.warning("AgentX: %s does not answer Ping", self.address)
                self._send([session.close(pdu.REASON_TIMEOUTS)])
                if self._transport is not None:
                    self._transport.close()
                return
            before = self._pongs
            self._send([session.ping()])
            await asyncio.sleep(min(self.ping_interval_s, 5.0))
            answered = self._pongs > before


class _Connection(asyncio.Protocol):
    """One connection's bytes to the subagent (`Subagent._received`); `done` when it ends."""

    def __init__(self, owner: Subagent, session: Session) -> None:
        self.owner = owner
        self.session = session
        self.opened = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        try:
            self.owner._received(self, data)
        except Exception:  # noqa: BLE001 - a bug must not stop the subagent: reconnect
            log.exception("AgentX: processing what the master sent failed")
            if self.owner._transport is not None:
                self.owner._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session.state is not State.CLOSED:
            log.warning("AgentX: connection to %s lost%s", self.owner.address,
                        f": {exc}" if exc else "")
        if not self.done.done():
            self.done.set_result(None)


def served_subtrees(mibmap: MibMap) -> list[Oid]:
    """What a subagent registers: what the agent serves (the access module's read view) but
    the system group, the interfaces and ifMIB trees and the SNMP engine's counters, which
    the master serves itself."""
    master = {mibmap.symbol_oid(module, name) for module, name in (
        ("SNMPv2-MIB", "system"), ("SNMPv2-MIB", "snmp"), ("IF-MIB", "interfaces"),
        ("IF-MIB", "ifMIB"), ("SNMP-FRAMEWORK-MIB", "snmpEngine"),
        ("SNMP-USER-BASED-SM-MIB", "usmStats"))}
    return [s for s in access.read_subtrees(mibmap) if s not in master]


def build_subagent(address: AgentXAddress, instrum: MeasurementInstrum, mibmap: MibMap,
                   ident: Oid = (), description: str = "iec62379", **options: float) -> Subagent:
    """A subagent serving `instrum`'s served subtrees (see `served_subtrees`) to the master at
    `address`; `options` go to `Subagent` (back-off, ping interval)."""
    subtrees = served_subtrees(mibmap)
    requests = Requests(instrum, subtrees, access.write_view(mibmap))

    def new_session() -> Session:
        return Session(requests, subtrees, ident, description)

    return Subagent(address, new_session, **options)  # type: ignore[arg-type]
