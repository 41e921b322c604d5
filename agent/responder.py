"""The SNMPv1/v2c command responder: community-based messages in, Responses out.

It decodes the message itself (`ber`), resolves the community to its access level and checks
the sender's address against the community's allowed sources, then answers GET, GETNEXT,
GETBULK and SET from the instrumentation's sorted index (`instrum`). The access levels are the
same VACM views the SNMPv3 engine is configured with (`engine.read_subtrees`,
`engine.write_subtrees`): a listener reads the read view and writes nothing; a supervisor also
writes the write view. The views are resolved against the index once per rebuild, so an access
check costs one list lookup.

RFC 3416 for v2c; for v1, RFC 2576 4.1.2 and 4.3: Counter64 objects are skipped by GETNEXT and
answered noSuchName by GET, the v2 exceptions become noSuchName, and the v2 SET error-statuses
map onto v1's (noSuchName, badValue, genErr). SNMPv3 messages are handed to pysnmp's engine
(see `handle`), which owns USM; without v3 users they are counted in snmpInBadVersions and dropped.

`handle` takes the datagram and the sender's address and returns the bytes to send back, or
None when nothing is to be sent. It never raises for any input.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ber
from .config import Community
from .hostmib import MAX_MESSAGE_SIZE, SnmpCounters
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
#: default max-repetitions cap does.
MAX_BULK_VARBINDS = 1000
#: What `handle` returns for an SNMPv3 message when the SNMPv3 engine is on.
V3 = b"v3"


@dataclass
class _Principal:
    read: View
    write: View | None
    sources: tuple[Any, ...]
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


class CommunityResponder:
    """See the module docstring."""

    def __init__(
        self,
        instrum: MeasurementInstrum,
        communities: Sequence[Community],
        read_view: View,
        write_view: View,
        counters: SnmpCounters,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self.instrum = instrum
        self.counters = counters
        self.max_size = max_message_size
        self.v3_enabled = False
        self._principals = {
            c.name.encode(): _Principal(
                read_view,
                write_view if c.level == "supervisor" else None,
                tuple(ipaddress.ip_network(s, strict=False) for s in c.sources),
            )
            for c in communities
        }

    def handle(self, data: bytes, addr: Any) -> bytes | None:
        """The reply to send, None for nothing, or `V3` for a message the SNMPv3 engine is to
        handle (only when `v3_enabled`)."""
        try:
            return self._handle(data, addr)
        except Exception:  # noqa: BLE001 - one bad request must never stop the agent
            log.exception("request from %s failed", addr)
            self.counters.silent_drops += 1
            return None

    def _handle(self, data: bytes, addr: Any) -> bytes | None:
        c = self.counters
        version = ber.peek_version(data)
        if version == ber.V3 and self.v3_enabled:
            return V3  # for pysnmp's engine, which counts and answers it
        c.in_pkts += 1
        if version is None:
            c.in_asn_parse_errs += 1
            return None
        if version not in (ber.V1, ber.V2C):
            c.in_bad_versions += 1
            return None
        try:
            msg = ber.decode_message(data)
        except ber.BerError as exc:
            log.debug("malformed message from %s: %s", addr, exc)
            c.in_asn_parse_errs += 1
            return None
        p = self._principals.get(msg.community)
        if p is None or not p.source_allowed(addr[0]):
            c.in_bad_community_names += 1  # RFC 3584 5.2.1: no matching community entry
            return None
        t = msg.pdu_type
        if t == ber.GET:
            return self._get(msg, p)
        if t == ber.GET_NEXT:
            return self._get_next(msg, p)
        if t == ber.GET_BULK and msg.version == ber.V2C:
            return self._get_bulk(msg, p)
        if t == ber.SET:
            return self._set(msg, p)
        # A Response, Trap, Report or a v1 GETBULK sent to a command responder: not for us.
        c.in_asn_parse_errs += t == ber.GET_BULK
        return None

    # --- reads ------------------------------------------------------------------------------

    def _respond(
        self, msg: ber.Message, varbinds: list[bytes], status: int = 0, index: int = 0
    ) -> bytes:
        out = ber.encode_response(
            msg.version, msg.community, msg.request_id, status, index, varbinds
        )
        if len(out) > self.max_size:
            # RFC 3416 4.2.1: tooBig with an empty varbind list (v1: the request's varbinds).
            vbs = self._echo(msg) if msg.version == ber.V1 else []
            out = ber.encode_response(msg.version, msg.community, msg.request_id, TOO_BIG, 0, vbs)
            if len(out) > self.max_size:
                self.counters.silent_drops += 1
                return b""
        return out

    def _echo(self, msg: ber.Message) -> list[bytes]:
        return [ber.varbind(ber.encode_oid(o), _value_tlv(t, v)) for o, t, v in msg.varbinds]

    def _v1_error(self, msg: ber.Message, status: int, idx: int) -> bytes:
        return self._respond(msg, self._echo(msg), status, idx + 1)

    def _view(self, p: _Principal) -> tuple[Any, list[bool], list[bytes]]:
        """One request's snapshot, the principal's readable mask and the OID encodings."""
        ins = self.instrum
        snap = ins.current()
        return snap, ins.readable_mask(p.read), ins.oid_tlvs()

    def _get(self, msg: ber.Message, p: _Principal) -> bytes:
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
        return self._respond(msg, out)

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

    def _get_next(self, msg: ber.Message, p: _Principal) -> bytes:
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
        return self._respond(msg, out)

    def _get_bulk(self, msg: ber.Message, p: _Principal) -> bytes:
        """RFC 3416 4.2.3, truncated to the message size limit and MAX_BULK_VARBINDS."""
        ins = self.instrum
        snap, mask, tlvs = self._view(p)
        tags = ins.tags
        vbs = msg.varbinds
        non_rep = min(max(msg.error_status, 0), len(vbs))
        max_rep = max(msg.error_index, 0)
        budget = self.max_size - ber.response_overhead(msg.community, msg.request_id) - 6
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
                return self._respond(msg, out)
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
                        return self._respond(msg, out)
                if ended == len(cursors):
                    break  # every repeater is at the end of the view: more would repeat that
        return self._respond(msg, out)

    # --- write ------------------------------------------------------------------------------

    def _set(self, msg: ber.Message, p: _Principal) -> bytes:
        write = p.write
        if write is None:
            self.counters.in_bad_community_uses += 1  # a write with a read-only community

        def may_write(idx: int, oid: tuple[int, ...]) -> bool:
            return write is not None and write.contains(oid)

        try:
            self.instrum.set([(o, t, v) for o, t, v in msg.varbinds], may_write)
        except SetError as exc:
            status = exc.status
            if msg.version == ber.V1:
                status = _V1_ERROR.get(status, status)
            return self._respond(msg, self._echo(msg), status, exc.index + 1)
        return self._respond(msg, self._echo(msg))


def _value_tlv(tag: int, value: Any) -> bytes:
    """A request's value as it came (a type we do not know was kept as its raw contents)."""
    try:
        return ber.encode_value(tag, value)
    except (ValueError, TypeError, AttributeError):
        return ber.tlv(tag, value if isinstance(value, bytes) else b"")
