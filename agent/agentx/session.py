"""The subagent's side of one AgentX session (RFC 2741), without I/O.

Bytes from the master go in with `receive`, which returns the PDUs to send back (already
encoded) and records what happened in `events`; the connection (`client`) owns the socket, the
clock and the reconnecting. The state goes CLOSED -> OPENING (`open` made the Open-PDU) -> OPEN
(the master answered it: the Register-PDUs go out) -> CLOSED (either side closed).

- Get, GetNext, GetBulk and the SET phases are answered by `requests.Requests`.
- A request with a non-default context is answered unsupportedContext: we serve one context.
- A request before the session is open, or for another session, is answered notOpen.
- Bytes that are not AgentX (a bad header, a payload that does not parse) close the session
  with reasonParseError; a PDU the master never sends (Open, Register, Notify ...) closes it
  with reasonProtocolError. The connection is then dropped and opened again.
"""

from __future__ import annotations

import enum
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import pdu
from .pdu import Header, Oid, PduError
from .requests import RequestError, Requests

log = logging.getLogger(__name__)

SNMP_TRAP_OID_0: Oid = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)


_HEAD_SIZE = pdu.HEADER_SIZE
_BE_NO_CONTEXT = pdu.NETWORK_BYTE_ORDER  # h.flags of a request in network byte order
_IDS = struct.Struct(">4I")  # session, transaction, packet ids and payload length
_RESPONSE = struct.Struct(">4B4IIHH")  # a Response's header, sysUpTime, error and index


class State(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"


_OPEN = State.OPEN  # (a module global is looked up faster than an Enum member)
_READS = (pdu.GET_NEXT, pdu.GET)  # the requests `receive` answers without the Framer


@dataclass(frozen=True)
class Opened:
    session_id: int


@dataclass(frozen=True)
class OpenFailed:
    error: int


@dataclass(frozen=True)
class Registered:
    subtree: Oid
    error: int  # 0: registered


@dataclass(frozen=True)
class Notified:
    key: int  # as given to `notify`
    error: int


@dataclass(frozen=True)
class Pong:
    pass


@dataclass(frozen=True)
class Closed:
    reason: int
    by_master: bool
    why: str = ""


Event = Opened | OpenFailed | Registered | Notified | Pong | Closed

_MASTER_REQUESTS = frozenset((pdu.GET, pdu.GET_NEXT, pdu.GET_BULK, pdu.TEST_SET, pdu.COMMIT_SET,
                              pdu.UNDO_SET, pdu.CLEANUP_SET))


class Session:
    """See the module docstring. `subtrees` are registered once the session is open."""

    def __init__(self, requests: Requests, subtrees: Sequence[Oid], ident: Oid = (),
                 description: str = "iec62379", timeout_s: int = 0, priority: int = 127) -> None:
        self.requests = requests
        self.subtrees = tuple(subtrees)
        self.ident = ident
        self.description = description
        self.timeout_s = timeout_s
        self.priority = priority
        self.state = State.CLOSED
        self.session_id = 0
        self.events: list[Event] = []
        self._framer = pdu.Framer()
        self._packet_id = 0
        self._pending: dict[int, tuple[str, Any]] = {}  # packet id -> what we asked

    # --- what we send -----------------------------------------------------------------------

    def _request(self, ptype: int, payload: bytes, what: tuple[str, Any]) -> bytes:
        self._packet_id = (self._packet_id + 1) & 0xFFFFFFFF
        self._pending[self._packet_id] = what
        return pdu.Pdu(ptype, self.session_id, 0, self._packet_id, payload).encode()

    def open(self) -> bytes:
        """The Open-PDU that starts the session."""
        self.state = State.OPENING
        payload = pdu.open_payload(self.timeout_s, self.ident, self.description)
        return self._request(pdu.OPEN, payload, ("open", None))

    def notify(self, key: int, trap_oid: Oid, varbinds: Sequence[pdu.VarBind] = ()) -> bytes:
        """A Notify-PDU: snmpTrapOID.0 = `trap_oid`, then `varbinds` ((name, tag, value)). The
        master's answer comes back as Notified(key, error)."""
        if self.state is not State.OPEN:
            raise RuntimeError("the session is not open")
        body = pdu.encode_varbind(pdu.encode_oid(SNMP_TRAP_OID_0), pdu.ber.OBJECT_IDENTIFIER,
                                  trap_oid)
        body += b"".join(pdu.encode_varbind(pdu.encode_oid(n), t, v) for n, t, v in varbinds)
        return self._request(pdu.NOTIFY, body, ("notify", key))

    def ping(self) -> bytes:
        return self._request(pdu.PING, b"", ("ping", None))

    def close(self, reason: int = pdu.REASON_SHUTDOWN, why: str = "") -> bytes:
        """The Close-PDU; the session is closed from now on."""
        out = pdu.Pdu(pdu.CLOSE, self.session_id, 0, 0, pdu.close_payload(reason)).encode()
        self._closed(reason, False, why)
        return out

    def _closed(self, reason: int, by_master: bool, why: str = "") -> None:
        if self.state is not State.CLOSED:
            self.events.append(Closed(reason, by_master, why))
        self.state = State.CLOSED
        self._pending.clear()
        self.requests.forget()

    # --- what we receive --------------------------------------------------------------------

    def receive(self, data: bytes) -> list[bytes]:
        """Feed bytes read from the master; returns the PDUs to send in answer."""
        if (len(data) > _HEAD_SIZE and data[1] in _READS and data[2] == _BE_NO_CONTEXT
                and data[0] == pdu.VERSION and self.state is _OPEN and not self._framer.pending):
            # A walk's GetNext (or a Get), one whole PDU in one read: answered without the
            # Framer, Header and Reader (the same bytes as the general path below).
            sid, tid, pid, length = _IDS.unpack_from(data, 4)
            if length == len(data) - _HEAD_SIZE and not length % 4 and sid == self.session_id:
                varbinds = (self.requests.get_next_be(data, _HEAD_SIZE) if data[1] == pdu.GET_NEXT
                            else self.requests.get_be(data, _HEAD_SIZE))
                if varbinds is not None:
                    return [_RESPONSE.pack(pdu.VERSION, pdu.RESPONSE, pdu.NETWORK_BYTE_ORDER, 0,
                                           sid, tid, pid, 8 + len(varbinds), 0, 0, 0) + varbinds]
        out: list[bytes] = []
        try:
            for h, payload in self._framer.feed(data):
                if self.state is State.CLOSED:
                    break
                out.extend(self._dispatch(h, payload))
        except PduError as exc:
            log.warning("AgentX: malformed PDU from the master: %s", exc)
            if self.state is not State.CLOSED:
                out.append(self.close(pdu.REASON_PARSE_ERROR, str(exc)))
        return out

    def _dispatch(self, h: Header, payload: bytes) -> list[bytes]:
        if h.type == pdu.RESPONSE:
            self._on_response(h, pdu.decode_response(h, payload))
            return []
        if h.type == pdu.CLOSE:
            reason = pdu.Reader(payload, h.big_endian).u8("c.reason")
            self._closed(reason, True)
            return []
        if h.type not in _MASTER_REQUESTS:
            why = f"the master sent a {pdu.TYPE_NAMES[h.type]}-PDU"
            log.warning("AgentX: %s", why)
            return [self.close(pdu.REASON_PROTOCOL_ERROR, why)]
        if self.state is not State.OPEN or h.session_id != self.session_id:
            return [pdu.response(h, pdu.NOT_OPEN)]
        r = pdu.Reader(payload, h.big_endian)
        if h.flags & pdu.NON_DEFAULT_CONTEXT:
            r.octets("context")  # parsed, so that a malformed one is still a parse error
            return [] if h.type == pdu.CLEANUP_SET else [pdu.response(h, pdu.UNSUPPORTED_CONTEXT)]
        return self._answer(h, r)

    def _answer(self, h: Header, r: pdu.Reader) -> list[bytes]:
        q = self.requests
        t = h.type
        if t == pdu.GET:
            names = [s for s, _inc, _e in r.search_ranges()]
            return [pdu.response(h, varbinds=q.get(names))]
        if t == pdu.GET_NEXT:
            return [pdu.response(h, varbinds=q.get_next(r.search_ranges()))]
        if t == pdu.GET_BULK:
            non_rep, max_rep = r.u16("non_repeaters"), r.u16("max_repetitions")
            return [pdu.response(h, varbinds=q.get_bulk(non_rep, max_rep, r.search_ranges()))]
        if t == pdu.CLEANUP_SET:  # no answer (RFC 2741 7.2.4.4)
            q.cleanup_set(h.transaction_id)
            return []
        varbinds = r.varbinds() if t == pdu.TEST_SET else []
        try:
            if t == pdu.TEST_SET:
                q.test_set(h.transaction_id, varbinds)
            elif t == pdu.COMMIT_SET:
                q.commit_set(h.transaction_id)
            else:
                q.undo_set(h.transaction_id)
        except RequestError as exc:
            return [pdu.response(h, exc.error, exc.index)]
        return [pdu.response(h)]

    def _on_response(self, h: Header, res: pdu.Response) -> None:
        what = self._pending.pop(h.packet_id, None)
        if what is None:
            log.debug("AgentX: a Response to packet %d we did not send", h.packet_id)
            return
        kind, arg = what
        if kind == "open":
            if res.error:
                self.state = State.CLOSED
                self.events.append(OpenFailed(res.error))
                return
            self.session_id = h.session_id
            self.state = State.OPEN
            self.events.append(Opened(h.session_id))
        elif kind == "register":
            self.events.append(Registered(arg, res.error))
        elif kind == "notify":
            self.events.append(Notified(arg, res.error))
        elif kind == "ping":
            self.events.append(Pong())

    def register_all(self) -> list[bytes]:
        """The Register-PDUs of every subtree (once the session is open)."""
        return [self._request(pdu.REGISTER, pdu.register_payload(s, self.priority),
                              ("register", s)) for s in self.subtrees]

    def unregister_all(self) -> list[bytes]:
        """The Unregister-PDUs of every subtree (before a Close, which also unregisters)."""
        return [self._request(pdu.UNREGISTER, pdu.unregister_payload(s, self.priority),
                              ("unregister", s)) for s in self.subtrees]

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    @property
    def waiting(self) -> int:
        """Requests of ours the master has not answered yet."""
        return len(self._pending)
