"""The command responder: every SNMP version's request path ends in `process`.

`Responder.handle` takes a datagram and the sender's address and returns the bytes to send
back, or None when nothing is to be sent; it never raises for any input. It reads the version
first: v1/v2c messages are checked here (community, then the sender's address against the
community's allowed sources) before their varbinds are decoded, so a request with a wrong
community costs its header only; SNMPv3 messages go to the message layer and USM (`v3`), which
authenticates and decrypts them before their scoped PDU is decoded. Both then call `process`
with the principal's views, so a request is answered the same way whatever its version.

`process` answers GET, GETNEXT, GETBULK and SET from the instrumentation's sorted index
(`instrum`). The access levels are `access`'s views: a listener reads the read view and writes
nothing; a supervisor also writes the write view. The views are resolved against the index once
per rebuild, so an access check costs one list lookup.

RFC 3416 for v2c and v3; for v1, RFC 2576 4.1.2 and 4.3: Counter64 objects are skipped by
GETNEXT and answered noSuchName by GET, the v2 exceptions become noSuchName, and the v2 SET
error-statuses map onto v1's (noSuchName, badValue, genErr). A response never exceeds the
agent's maximum message size nor (v3) the request's msgMaxSize: GETBULK stops adding varbinds
before the limit, other requests get tooBig (RFC 3416 4.2.1).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import ber
from .config import DEFAULT_MAX_MESSAGE_SIZE, Community
from .hostmib import SnmpCounters
from .instrum import (
    AUTHORIZATION_ERROR,
    BAD_VALUE,
    GEN_ERR,
    NO_ACCESS,
    NO_SUCH_NAME,
    TOO_BIG,
    MeasurementInstrum,
    SetError,
    View,
)

log = logging.getLogger(__name__)

# RFC 2576 4.3: v2 SET error-status -> v1 error-status.
_V1_ERROR = {
    NO_ACCESS: NO_SUCH_NAME, 11: NO_SUCH_NAME, 17: NO_SUCH_NAME, 18: NO_SUCH_NAME,
    AUTHORIZATION_ERROR: NO_SUCH_NAME,
    7: BAD_VALUE, 8: BAD_VALUE, 9: BAD_VALUE, 10: BAD_VALUE, 12: BAD_VALUE,
    13: GEN_ERR, 14: GEN_ERR, 15: GEN_ERR,
}
_NOT_OBJECT = ber.encode_value(ber.NO_SUCH_OBJECT, None)
_NOT_INSTANCE = ber.encode_value(ber.NO_SUCH_INSTANCE, None)
_END = ber.encode_value(ber.END_OF_MIB_VIEW, None)
#: GETBULK answers hold at most this many varbinds (besides the size limit), as net-snmp's
#: default max-repetitions cap does; the same for every version.
MAX_BULK_VARBINDS = 1000
#: PDUs a command responder answers (RFC 3416's confirmed class, INFORM aside).
REQUESTS = frozenset((ber.GET, ber.GET_NEXT, ber.GET_BULK, ber.SET))

#: (error-status, error-index, encoded varbinds) of a Response.
Answer = tuple[int, int, list[bytes]]


@dataclass
class Principal:
    """Who sent a request, as access control sees it: a community (with the sources it may be
    used from) or an SNMPv3 user."""

    read: View
    write: View | None
    sources: tuple[Any, ...] = ()
    community: bool = True
    allowed: dict[str, bool] = field(default_factory=dict)  # source host -> allowed (cached)

    def source_allowed(self, host: str) -> bool:
        if not self.sources:
            return True
        ok = self.allowed.get(host)
        if ok is None:
            try:
                ip = ipaddress.ip_address(host.split("%")[0])
                ok = any(ip in n for n in self.sources)
            except ValueError:
                ok = False
            if len(self.allowed) < 4096:
                self.allowed[host] = ok
        return ok


class Responder:
    """See the module docstring. `v3` is the SNMPv3 message layer (`v3.V3Layer`), set when
    the configuration has users; without it v3 messages are counted in snmpInBadVersions."""

    def __init__(
        self,
        instrum: MeasurementInstrum,
        communities: Sequence[Community],
        read_view: View,
        write_view: View,
        counters: SnmpCounters,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self.instrum = instrum
        self.counters = counters
        self.max_size = max_message_size
        self.read_view = read_view
        self.write_view = write_view
        self.v3: Any = None
        self._principals = {
            c.name.encode(): Principal(
                read_view,
                write_view if c.level == "supervisor" else None,
                tuple(ipaddress.ip_network(s, strict=False) for s in c.sources),
            )
            for c in communities
        }

    def principal(self, level: str) -> Principal:
        """The principal of an SNMPv3 user of access level `level`."""
        return Principal(self.read_view, self.write_view if level == "supervisor" else None,
                         community=False)

    def handle(self, data: bytes, addr: Any) -> bytes | None:
        """The reply to send, or None for nothing."""
        try:
            return self._handle(data, addr)
        except Exception:  # noqa: BLE001 - one bad request must never stop the agent
            log.exception("request from %s failed", addr)
            self.counters.silent_drops += 1
            return None

    def _handle(self, data: bytes, addr: Any) -> bytes | None:
        c = self.counters
        c.in_pkts += 1
        version = ber.peek_version(data)
        if version == ber.V3 and self.v3 is not None:
            return self.v3.receive(data)
        if version is None:
            c.in_asn_parse_errs += 1
            return None
        if version not in (ber.V1, ber.V2C):
            c.in_bad_versions += 1
            return None
        try:
            version, community, pdu_type, ps, pe = ber.decode_community_header(data)
        except ber.BerError as exc:
            log.debug("malformed message from %s: %s", addr, exc)
            c.in_asn_parse_errs += 1
            return None
        p = self._principals.get(community)
        if p is None or not p.source_allowed(addr[0]):
            c.in_bad_community_names += 1  # RFC 3584 5.2.1: no matching community entry
            return None
        try:
            msg = ber.decode_pdu(data, pdu_type, ps, pe, version, community)
        except ber.BerError as exc:
            log.debug("malformed PDU from %s: %s", addr, exc)
            c.in_asn_parse_errs += 1
            return None
        budget = self.max_size
        if pdu_type == ber.GET_BULK:
            budget -= ber.response_overhead(community, msg.request_id)
        answer = self.process(msg, p, budget)
        if answer is None:
            return None
        out = ber.encode_response(version, community, msg.request_id, *answer)
        if len(out) <= self.max_size:
            return out
        return self.fit(msg, answer, partial(ber.encode_response, version, community,
                                             msg.request_id), self.max_size)

    def fit(
        self, msg: ber.Message, answer: Answer, encode: Callable[..., bytes], limit: int
    ) -> bytes:
        """The encoded Response, or tooBig when it exceeds `limit` octets (RFC 3416 4.2.1: an
        empty varbind list; v1: the request's varbinds); nothing if even that does not fit."""
        out = encode(*answer)
        if len(out) > limit:
            out = encode(TOO_BIG, 0, self.echo(msg) if msg.version == ber.V1 else [])
            if len(out) > limit:
                self.counters.silent_drops += 1
                return b""
        return out

    # --- the one request path -----------------------------------------------------------------

    def process(self, msg: ber.Message, p: Principal, budget: int) -> Answer | None:
        """The Response to a request PDU for principal `p`, its varbinds within `budget`
        octets for GETBULK; None for a PDU a command responder does not answer (a Response,
        Trap, Report, or a GETBULK in a v1 message), which is dropped."""
        t = msg.pdu_type
        if t == ber.GET:
            return self._get(msg, p)
        if t == ber.GET_NEXT:
            return self._get_next(msg, p)
        if t == ber.GET_BULK and msg.version != ber.V1:
            return self._get_bulk(msg, p, budget)
        if t == ber.SET:
            return self._set(msg, p)
        self.counters.in_asn_parse_errs += t == ber.GET_BULK
        return None

    # --- reads ------------------------------------------------------------------------------

    def echo(self, msg: ber.Message) -> list[bytes]:
        """The request's varbinds, encoded again (for SET responses and errors)."""
        return [ber.varbind(ber.encode_oid(o), _value_tlv(t, v)) for o, t, v in msg.varbinds]

    def _v1_error(self, msg: ber.Message, status: int, idx: int) -> Answer:
        return status, idx + 1, self.echo(msg)

    def _view(self, p: Principal) -> tuple[Any, list[bool], list[bytes]]:
        """One request's snapshot, the principal's readable mask and the OID encodings."""
        ins = self.instrum
        snap = ins.current()
        return snap, ins.readable_mask(p.read), ins.oid_tlvs()

    def _get(self, msg: ber.Message, p: Principal) -> Answer:
        ins = self.instrum
        snap, mask, tlvs = self._view(p)
        v1 = msg.version == ber.V1
        out = []
        for idx, (oid, _t, _v) in enumerate(msg.varbinds):
            i = ins.position(oid)
            value = None
            if i >= 0 and mask[i]:
                value = ins.getters[i](snap)
                tag = ins.tags[i]
                if value is not None and not (v1 and tag == ber.COUNTER64):
                    out.append(ber.varbind(tlvs[i], ber.encode_value(tag, value)))
                    continue
            if v1:
                return self._v1_error(msg, NO_SUCH_NAME, idx)
            known = i >= 0 and mask[i] or (
                i < 0 and p.read.contains(oid) and ins.is_known_type(oid)
            )
            out.append(ber.varbind(ber.encode_oid(oid), _NOT_INSTANCE if known else _NOT_OBJECT))
        return 0, 0, out

    def _next(self, snap: Any, pos: int, mask: list[bool], v1: bool) -> tuple[int, Any]:
        """From index position `pos` on, the first readable instance with a value: (position,
        value), or (len, None) at the end of the view."""
        ins = self.instrum
        getters, tags = ins.getters, ins.tags
        n = len(getters)
        while pos < n:
            if mask[pos] and not (v1 and tags[pos] == ber.COUNTER64):
                value = getters[pos](snap)
                if value is not None:
                    return pos, value
            pos += 1
        return n, None

    def _get_next(self, msg: ber.Message, p: Principal) -> Answer:
        ins = self.instrum
        snap, mask, tlvs = self._view(p)
        v1 = msg.version == ber.V1
        out = []
        for idx, (oid, _t, _v) in enumerate(msg.varbinds):
            i, value = self._next(snap, ins.next_position(oid), mask, v1)
            if value is None:
                if v1:
                    return self._v1_error(msg, NO_SUCH_NAME, idx)
                out.append(ber.varbind(ber.encode_oid(oid), _END))
            else:
                out.append(ber.varbind(tlvs[i], ber.encode_value(ins.tags[i], value)))
        return 0, 0, out

    def _get_bulk(self, msg: ber.Message, p: Principal, budget: int) -> Answer:
        """RFC 3416 4.2.3, truncated to `budget` octets of varbinds and MAX_BULK_VARBINDS."""
        ins = self.instrum
        snap, mask, tlvs = self._view(p)
        tags = ins.tags
        vbs = msg.varbinds
        non_rep = min(max(msg.error_status, 0), len(vbs))
        max_rep = max(msg.error_index, 0)
        budget -= 6  # the varbind list's own header, at most
        out: list[bytes] = []
        used = 0

        def add(vb: bytes) -> bool:
            nonlocal used
            if used + len(vb) > budget or len(out) >= MAX_BULK_VARBINDS:
                return False
            out.append(vb)
            used += len(vb)
            return True

        for oid, _t, _v in vbs[:non_rep]:
            i, value = self._next(snap, ins.next_position(oid), mask, False)
            vb = ber.varbind(ber.encode_oid(oid), _END) if value is None else ber.varbind(
                tlvs[i], ber.encode_value(tags[i], value))
            if not add(vb):
                return 0, 0, out
        repeaters = vbs[non_rep:]
        if repeaters and max_rep:
            n = len(ins.oids)
            cursors = [ins.next_position(oid) for oid, _t, _v in repeaters]
            last = [ber.encode_oid(oid) for oid, _t, _v in repeaters]
            for _ in range(max_rep):
                ended = 0
                for r, pos in enumerate(cursors):
                    i, value = self._next(snap, pos, mask, False)
                    if value is None:
                        vb = ber.varbind(last[r], _END)
                        cursors[r] = n
                        ended += 1
                    else:
                        vb = ber.varbind(tlvs[i], ber.encode_value(tags[i], value))
                        last[r] = tlvs[i]
                        cursors[r] = i + 1
                    if not add(vb):
                        return 0, 0, out
                if ended == len(cursors):
                    break  # every repeater is at the end of the view: more would repeat that
        return 0, 0, out

    # --- write ------------------------------------------------------------------------------

    def _set(self, msg: ber.Message, p: Principal) -> Answer:
        write = p.write
        if write is None and p.community:
            self.counters.in_bad_community_uses += 1  # a write with a read-only community

        def may_write(idx: int, oid: tuple[int, ...]) -> bool:
            return write is not None and write.contains(oid)

        try:
            self.instrum.set([(o, t, v) for o, t, v in msg.varbinds], may_write)
        except SetError as exc:
            status = exc.status
            if msg.version == ber.V1:
                status = _V1_ERROR.get(status, status)
            return status, exc.index + 1, self.echo(msg)
        return 0, 0, self.echo(msg)


def _value_tlv(tag: int, value: Any) -> bytes:
    """A request's value as it came (a type we do not know was kept as its raw contents)."""
    try:
        return ber.encode_value(tag, value)
    except (ValueError, TypeError, AttributeError):
        return ber.tlv(tag, value if isinstance(value, bytes) else b"")
