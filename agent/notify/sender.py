"""One target's sender, a task in the agent's asyncio loop: it takes the head of the target's
outbox, sends it, and removes it when it is delivered: a trap once it is handed to the socket,
an INFORM once the receiver's Response arrives. One INFORM is in flight at a time, so delivery
is in order; it is resent on timeout with back-off (the timeout doubles at each retry, up to
max_interval_s) and, with the retries exhausted, it stays at the head of the queue and is
resent every max_interval_s until it is acknowledged: a notification is never dropped for an
unanswered receiver.

Nothing here blocks the agent: the target's name is resolved with the loop's getaddrinfo (in
the default executor) and retried with back-off when it does not resolve; a receiver that is
down costs a timer.

SNMPv3: a trap is sent with the agent as the authoritative engine (its snmpEngineID, boots and
time; the user's keys localised to that id). For an INFORM the receiver is authoritative: its
engine id is discovered (RFC 3414 4: a Report of usmStatsUnknownEngineIDs to an empty-id probe)
and its boots and time learned from its authenticated usmStatsNotInTimeWindows Report; the
user's keys are localised to its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ber
from ..usm import UsmUser
from ..v3 import AUTH, PRIV, REPORTABLE
from . import wire
from .config import NotifyTarget
from .outbox import Entry, Outbox

log = logging.getLogger("iec62379.agent.notify")

#: usmStats counters a Report may carry (RFC 3414 5).
_NOT_IN_TIME_WINDOW = (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0)
_UNKNOWN_ENGINE_ID = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)


@dataclass
class TargetCounters:
    """Per-target delivery counters (logged at stop; see Notifier.counters)."""

    sent: int = 0  # datagrams sent (first sends and retries)
    delivered: int = 0  # notifications that left the outbox (traps sent, INFORMs acknowledged)
    acknowledged: int = 0  # INFORMs answered
    retried: int = 0  # INFORM retransmissions
    suppressed: int = 0  # held back by the rate limit
    send_errors: int = 0  # the socket refused a datagram (the notification stays queued)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, replies: asyncio.Queue[bytes]) -> None:
        self.replies = replies

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.replies.qsize() < 64:
            self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("notify socket: %s", exc)


class Sender:
    """See the module docstring. `uptime` gives sysUpTime in hundredths of a second;
    `local_engine` (engine id, boots, engine time) the agent's engine, for v3 traps."""

    def __init__(self, target: NotifyTarget, outbox: Outbox, seq_oid: tuple[int, ...],
                 uptime: Callable[[], int],
                 local_engine: Callable[[], tuple[bytes, int, int]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.t, self.outbox, self.seq_oid = target, outbox, seq_oid
        self.uptime, self.local_engine, self.clock = uptime, local_engine, clock
        self.counters = TargetCounters()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._replies: asyncio.Queue[bytes] = asyncio.Queue()
        self._address: Any = None
        self._request_id = secrets.randbelow(1 << 30)
        self._keys: dict[bytes, UsmUser] = {}  # the user's keys per engine id
        self._remote = wire.RemoteEngine()  # the INFORM receiver's engine (v3)
        self.community = target.community.encode()
        self._failures = 0  # failed attempts to resolve the target or open its socket

    # --- life ---------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was queued (callable from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await self._step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the target must outlive a bug
                    log.exception("notify %s: sending failed", self.t.target)
                    await asyncio.sleep(self.t.max_interval_s)
        finally:
            self.close()

    async def _step(self) -> None:
        """Deliver the head of the outbox (or wait for one)."""
        entry = self.outbox.head()
        if entry is None:
            self._wake.clear()
            if self.outbox.head() is None:
                await self._wake.wait()
            return
        if not await self._connect():
            return
        if self.t.kind == "inform":
            await self._inform(entry)
            return
        try:
            data = self._trap(entry)
        except (ValueError, TypeError, OverflowError, AttributeError) as exc:
            self._unencodable(entry, exc)
            return
        if self._send(data):
            self.outbox.remove(entry.seq)
            self.counters.delivered += 1
            # Let requests through between the traps of a burst; wait while the socket's
            # buffer holds a lot.
            transport = self._transport
            while transport is not None and transport.get_write_buffer_size() > 1 << 16:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(self.t.timeout_s)

    def _unencodable(self, entry: Entry, exc: Exception) -> None:
        """A notification that cannot be encoded never will be: it is removed (and logged),
        so that it does not hold the queue forever. (`Notifier.submit` refuses such
        notifications; this guards the outbox file.)"""
        log.error("notify %s: notification %d (%s) cannot be encoded (%s); removed",
                  self.t.target, entry.seq, entry.notification.name or entry.notification.trap_oid,
                  exc)
        self.outbox.remove(entry.seq)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def _connect(self) -> bool:
        """Resolve the target and open its socket; False (after a back-off pause) when the
        name does not resolve or no socket can be made."""
        if self._transport is not None:
            return True
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if self.t.family == "udp6" else socket.AF_INET
        try:
            infos = await loop.getaddrinfo(self.t.host, self.t.port, family=family,
                                           type=socket.SOCK_DGRAM)
            self._address = infos[0][4]
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self._replies), remote_addr=self._address[:2], family=family)
        except (OSError, IndexError) as exc:
            self._failures += 1
            pause = min(self.t.timeout_s * 2 ** min(self._failures - 1, 20), self.t.max_interval_s)
            if self._failures == 1 or pause >= self.t.max_interval_s:
                log.warning("notify %s: cannot reach the target (%s); %d notification(s) "
                            "wait, next attempt in %.1f s", self.t.target, exc, len(self.outbox),
                            pause)
            await asyncio.sleep(pause)
            return False
        self._failures = 0
        return True

    def _send(self, data: bytes) -> bool:
        assert self._transport is not None
        try:
            self._transport.sendto(data)
        except OSError as exc:
            self.counters.send_errors += 1
            log.debug("notify %s: send failed: %s", self.t.target, exc)
            return False
        self.counters.sent += 1
        return True

    # --- messages -----------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._request_id = (self._request_id + 1) & 0x7FFFFFFF
        return self._request_id

    def _pdu(self, pdu_type: int, request_id: int, e: Entry) -> bytes:
        n = e.notification
        return wire.notification_pdu(pdu_type, request_id, self.uptime(), n.trap_oid,
                                     n.varbinds, self.seq_oid, e.seq)

    def _user_keys(self, engine_id: bytes) -> UsmUser:
        user = self._keys.get(engine_id)
        if user is None:
            u = self.t.user
            user = UsmUser.make(u.name, engine_id, u.auth_protocol, u.auth_key,
                                u.priv_protocol, u.priv_key)
            self._keys = {engine_id: user}
        return user

    def _trap(self, e: Entry) -> bytes:
        request_id = self._next_id()
        pdu = self._pdu(ber.TRAP_V2, request_id, e)
        if self.t.user is None:
            return wire.v2c_message(self.community, pdu)
        assert self.local_engine is not None
        engine_id, boots, engine_time = self.local_engine()
        user = self._user_keys(engine_id)
        return wire.v3_message(request_id, AUTH | PRIV, engine_id, boots, engine_time, user,
                               user.name, pdu, engine_id)

    # --- INFORM -------------------------------------------------------------------------------

    async def _inform(self, e: Entry) -> None:
        """Deliver the head INFORM `e`: returns once it is acknowledged, or to let the run loop
        reconnect; it is never dropped."""
        sent_ids: set[int] = set()
        interval = self.t.timeout_s
        attempts = 0
        reports = 0
        while True:
            if self.t.user is not None and not self._remote.engine_id:
                if not await self._discover(interval):
                    attempts, interval = self._back_off(attempts, interval)
                    continue
            request_id = self._next_id()
            sent_ids.add(request_id)
            if len(sent_ids) > 1024:
                sent_ids = {request_id}
            try:
                message = self._inform_message(e, request_id)
            except (ValueError, TypeError, OverflowError, AttributeError) as exc:
                self._unencodable(e, exc)
                return
            if not self._send(message):
                await asyncio.sleep(interval)
                attempts, interval = self._back_off(attempts, interval)
                continue
            outcome = await self._await_reply(sent_ids, interval)
            if outcome == "ack":
                self.outbox.remove(e.seq)
                self.counters.delivered += 1
                self.counters.acknowledged += 1
                return
            if outcome == "resync" and reports < 3:
                reports += 1  # the receiver's clock or identity changed: resend at once
                continue
            attempts, interval = self._back_off(attempts, interval)

    def _back_off(self, attempts: int, interval: float) -> tuple[int, float]:
        """The next retry: the timeout doubles up to max_interval_s for `retries` retries,
        then stays at max_interval_s."""
        self.counters.retried += 1
        attempts += 1
        if attempts > self.t.retries:
            return attempts, self.t.max_interval_s
        return attempts, min(interval * 2, self.t.max_interval_s)

    def _inform_message(self, e: Entry, request_id: int) -> bytes:
        pdu = self._pdu(ber.INFORM, request_id, e)
        if self.t.user is None:
            return wire.v2c_message(self.community, pdu)
        r = self._remote
        user = self._user_keys(r.engine_id)
        ctx = self.local_engine()[0] if self.local_engine is not None else r.engine_id
        return wire.v3_message(request_id, AUTH | PRIV | REPORTABLE, r.engine_id, r.boots,
                               r.now(self.clock()), user, user.name, pdu, ctx)

    async def _await_reply(self, sent_ids: set[int], timeout: float) -> str:
        """"ack" (a Response to one of `sent_ids`), "resync" (a Report that changed what we
        know of the receiver's engine) or "timeout"."""
        deadline = self.clock() + timeout
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return "timeout"
            try:
                data = await asyncio.wait_for(self._replies.get(), remaining)
            except TimeoutError:
                return "timeout"
            if self.t.user is None:
                reply = wire.read_v2c(data, self.community)
                if reply is not None and reply.pdu_type == ber.RESPONSE \
                        and reply.request_id in sent_ids:
                    return "ack"
                continue
            reply = wire.read_v3(data, self._keys.get(self._remote.engine_id))
            if reply is None or (reply.request_id not in sent_ids
                                 and reply.msg_id not in sent_ids):
                continue  # a Report to an encrypted PDU may carry only our msgID
            if reply.pdu_type == ber.RESPONSE and reply.authentic \
                    and reply.engine_id == self._remote.engine_id:
                return "ack"
            if reply.pdu_type == ber.REPORT:
                if self._resync(reply):
                    return "resync"
                self._refused(reply)

    def _refused(self, reply: wire.Reply) -> None:
        """The receiver reported an error we cannot fix (an unknown user, wrong keys ...):
        logged, at most once a minute; the INFORM stays queued and is resent."""
        now = self.clock()
        if now - getattr(self, "_refused_at", -1e9) < 60:
            return
        self._refused_at = now
        names = ", ".join(".".join(map(str, vb[0])) for vb in reply.varbinds or ())
        log.warning("notify %s: the receiver refused the INFORM with a Report (%s); check the "
                    "user and its keys on the receiver", self.t.target, names or "no varbinds")

    def _resync(self, reply: wire.Reply) -> bool:
        names = [vb[0] for vb in reply.varbinds or ()]
        r = self._remote
        if _NOT_IN_TIME_WINDOW in names and reply.authentic and reply.engine_id == r.engine_id:
            r.boots, r.time, r.synced_at = reply.boots, reply.time, self.clock()
            return True
        if _UNKNOWN_ENGINE_ID in names:
            self._remote = wire.RemoteEngine()  # the receiver's identity changed: discover
            return True
        return False

    async def _discover(self, timeout: float) -> bool:
        """RFC 3414 4: learn the receiver's engine id (and its boots and time, as far as the
        unauthenticated Report tells them; an authenticated notInTimeWindow Report corrects
        them). False on timeout."""
        msg_id = self._next_id()
        if not self._send(wire.discovery_probe(msg_id, msg_id)):
            await asyncio.sleep(timeout)
            return False
        deadline = self.clock() + timeout
        while (remaining := deadline - self.clock()) > 0:
            try:
                data = await asyncio.wait_for(self._replies.get(), remaining)
            except TimeoutError:
                break
            reply = wire.read_v3(data, None)
            if reply is not None and reply.pdu_type == ber.REPORT and reply.msg_id == msg_id \
                    and 5 <= len(reply.engine_id) <= 32:
                self._remote = wire.RemoteEngine(reply.engine_id, reply.boots, reply.time,
                                                 self.clock())
                log.info("notify %s: receiver engine id %s", self.t.target,
                         reply.engine_id.hex())
                return True
        return False


__all__ = ["Sender", "TargetCounters"]
