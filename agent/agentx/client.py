"""The AgentX connection: a unix or TCP stream to the master, kept up for as long as we run.

The subagent runs in a thread of its own with blocking socket I/O: it connects, opens a
session, registers the subtrees and answers the master; when the master is not there, closes
the session or the stream, or sends bytes that are not AgentX, it connects again after a
back-off (doubling from `backoff_s` up to `max_backoff_s`, back to the start once a session
opens). net-snmp's master forwards a GETBULK as one GetNext round trip per repetition, so the
cost of a round trip is the walk's speed: with blocking I/O in a thread it is about half what
the same answer costs through an asyncio loop (docs/benchmarks.md). The thread only reads the
store's published snapshot, so nothing it does waits for a collector, and nothing waits for it.

The store and the instrumentation live outside the session, so a reconnection loses nothing;
notifications wait in a bounded queue until the master has acknowledged them, and go out again
on the next session when it did not. When the master has sent nothing for `ping_interval_s`,
a Ping checks that it still answers; a session whose Ping is not answered by the next idle
interval is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
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
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # the session, the socket's writes and the queue
        self._stopping = threading.Event()
        self._registered = threading.Event()
        self._thread: threading.Thread | None = None

    # --- public -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting, in a thread of its own (returns at once)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="iec62379-agentx", daemon=True)
        self._thread.start()

    def stop_thread(self, timeout_s: float = 5.0) -> None:
        """Unregister, close the session (reasonShutdown) and the connection; the thread
        ends."""
        self._stopping.set()
        with self._lock:
            s, sock = self.session, self._sock
            if s is not None and s.state is not State.CLOSED:
                first = s.unregister_all() if s.state is State.OPEN else []
                self._send([*first, s.close(pdu.REASON_SHUTDOWN)])
                for event in s.take_events():
                    self._on_event(s, event)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    async def stop(self) -> None:
        """`stop_thread` from a coroutine."""
        await asyncio.to_thread(self.stop_thread)

    async def wait_registered(self, timeout_s: float) -> bool:
        """Whether a session registered all its subtrees within `timeout_s`."""
        return await asyncio.to_thread(self._registered.wait, timeout_s)

    def notify(self, trap_oid: Oid, varbinds: Sequence[VarBind] = ()) -> None:
        """Send a notification through the master: snmpTrapOID.0 = `trap_oid`, then `varbinds`
        as (OID, BER tag, plain value). Queued while there is no session; safe to call from
        any thread."""
        with self._lock:
            self._next_key += 1
            n = Notification(self._next_key, tuple(trap_oid), tuple(varbinds))
            if len(self.queue) == self.queue.maxlen:
                log.warning("AgentX: notification queue full, the oldest one is dropped")
            self.queue.append(n)
            s = self.session
            if s is not None and s.state is State.OPEN:
                self._send([s.notify(n.key, n.trap_oid, n.varbinds)])

    # --- the connection (the subagent's thread) ---------------------------------------------

    def _send(self, pdus: list[bytes]) -> None:
        """Write PDUs (the lock held). A write that fails ends the connection (`_serve`)."""
        sock = self._sock
        if pdus and sock is not None:
            try:
                sock.sendall(b"".join(pdus))
            except OSError as exc:
                log.warning("AgentX: writing to %s failed: %s", self.address, exc)
                self._sock = None

    def _connect(self) -> socket.socket:
        a = self.address
        if a.kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = a.path
        else:
            info = socket.getaddrinfo(a.host, a.port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(info[0], socket.SOCK_STREAM)
            target = info[4]
        try:
            sock.settimeout(10.0)
            sock.connect(target)
            if a.kind == "tcp":
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            raise
        return sock

    def _run(self) -> None:
        """Connect, serve, reconnect: until stopped."""
        delay = self.backoff_s
        while not self._stopping.is_set():
            try:
                sock = self._connect()
            except OSError as exc:
                log.debug("AgentX: cannot connect to %s: %s", self.address, exc)
            else:
                try:
                    if self._serve(sock):
                        delay = self.backoff_s
                except Exception:  # noqa: BLE001 - a bug must not stop the subagent
                    log.exception("AgentX: the session failed")
                finally:
                    with self._lock:
                        self._sock = None
                        self.session = None
                        self.registered = set()
                        self._registered.clear()
                    sock.close()
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_backoff_s)

    def _serve(self, sock: socket.socket) -> bool:
        """One session on one connection, until it ends; whether it opened.

        The socket is a blocking one whose reads time out after `ping_interval_s` by the
        kernel's SO_RCVTIMEO (writes by SO_SNDTIMEO): a request costs one recv and one send
        system call, where a Python timeout (`settimeout`) adds a poll before each."""
        session = self.new_session()
        opened = False
        idle_timeout(sock, self.ping_interval_s)
        with self._lock:
            if self._stopping.is_set():
                return False
            self.session, self._sock = session, sock
            self._send([session.open()])
        pinged = -1  # self._pongs when the unanswered Ping went out
        recv, receive, lock = sock.recv, session.receive, self._lock
        while True:
            try:
                data = recv(65536)
            except BlockingIOError:  # SO_RCVTIMEO: nothing from the master for a while
                with lock:
                    if session.state is not State.OPEN or self._sock is None:
                        continue
                    if pinged == self._pongs:
                        log.warning("AgentX: %s does not answer Ping", self.address)
                        self._send([session.close(pdu.REASON_TIMEOUTS)])
                        return opened
                    pinged = self._pongs
                    self._send([session.ping()])
                continue
            except OSError as exc:
                if not self._stopping.is_set():
                    log.warning("AgentX: connection to %s lost: %s", self.address, exc)
                return opened
            with lock:
                if not data:
                    if session.state is not State.CLOSED and not self._stopping.is_set():
                        log.warning("AgentX: %s closed the connection", self.address)
                    return opened
                out = receive(data)
                if session.events:
                    for event in session.take_events():
                        opened |= isinstance(event, Opened)
                        out += self._on_event(session, event)
                self._send(out)
                if session.state is State.CLOSED or self._sock is None:
                    return opened
            if pinged >= 0 and pinged != self._pongs:
                pinged = -1

    def _on_event(self, session: Session, event: object) -> list[bytes]:
        """Log and act on what the session reports (the lock held); PDUs to send."""
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
                    self._registered.set()
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


def idle_timeout(sock: socket.socket, seconds: float) -> None:
    """Make `sock` blocking, with reads and writes that give up after `seconds` (the kernel's
    SO_RCVTIMEO / SO_SNDTIMEO: such a read raises BlockingIOError)."""
    sock.settimeout(None)
    whole = int(seconds)
    micro = max(int((seconds - whole) * 1e6), 0 if whole else 1)  # 0 s would mean forever
    tv = struct.pack("@ll", whole, micro)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)


#: What a master serves itself: MIB-2 (the system group, interfaces, ifMIB, the snmp group) and
#: the SNMP engine's own modules (snmpEngine, snmpMPDStats, usmStats, the target MIB ...).
MASTER_SERVED: tuple[Oid, ...] = ((1, 3, 6, 1, 2, 1), (1, 3, 6, 1, 6, 3))


def served_subtrees(mibmap: MibMap) -> list[Oid]:
    """What a subagent registers: what the agent serves (the access module's read view) but
    what the master serves itself (`MASTER_SERVED`)."""
    return [s for s in access.read_subtrees(mibmap)
            if not any(s[: len(m)] == m for m in MASTER_SERVED)]


def build_subagent(address: AgentXAddress, instrum: MeasurementInstrum, mibmap: MibMap,
                   ident: Oid = (), description: str = "iec62379", **options: float) -> Subagent:
    """A subagent serving `instrum`'s served subtrees (see `served_subtrees`) to the master at
    `address`; `options` go to `Subagent` (back-off, ping interval)."""
    subtrees = served_subtrees(mibmap)
    requests = Requests(instrum, subtrees, access.write_view(mibmap))

    def new_session() -> Session:
        return Session(requests, subtrees, ident, description)

    return Subagent(address, new_session, **options)  # type: ignore[arg-type]
