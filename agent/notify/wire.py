"""Notifications on the wire: SNMPv2-Trap and InformRequest PDUs in v2c and v3 (USM authPriv)
messages, with the project's BER (agent.ber) and USM (agent.usm, agent.v3); and the reading
of what comes back (the Response to an INFORM, the Reports of engine discovery, RFC 3414 4).

Every notification carries sysUpTime.0, snmpTrapOID.0, its own varbinds, then
extNotifySequence.0 (its per-target sequence number, RFC 3416 4.2.6 / 4.2.7 order).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from .. import ber
from ..hostmib import SnmpCounters
from ..usm import UsmUser
from ..v3 import AUTH, PRIV, REPORTABLE, encode_message, parse_header

SYS_UP_TIME_0 = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID_0 = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
MAX_SIZE = 65507
_SYS_UP_TIME_TLV = ber.encode_oid(SYS_UP_TIME_0)
_TRAP_OID_TLV = ber.encode_oid(SNMP_TRAP_OID_0)


def notification_pdu(pdu_type: int, request_id: int, uptime_ticks: int, trap_oid: tuple[int, ...],
                     varbinds: Any, seq_oid: tuple[int, ...], seq: int) -> bytes:
    """An SNMPv2-Trap (ber.TRAP_V2) or InformRequest (ber.INFORM) PDU."""
    vbs = [ber.varbind(_SYS_UP_TIME_TLV,
                       ber.encode_value(ber.TIMETICKS, uptime_ticks % 4294967296)),
           ber.varbind(_TRAP_OID_TLV, ber.encode_value(ber.OBJECT_IDENTIFIER, trap_oid))]
    vbs += [ber.varbind(ber.encode_oid(o), ber.encode_value(t, v)) for o, t, v in varbinds]
    vbs.append(ber.varbind(ber.encode_oid(seq_oid), ber.encode_value(ber.GAUGE32, seq)))
    return ber.encode_pdu(pdu_type, request_id, 0, 0, vbs)


def v2c_message(community: bytes, pdu: bytes) -> bytes:
    return ber.tlv(ber.SEQUENCE, ber.encode_int(ber.V2C) + ber.tlv(ber.OCTET_STRING, community)
                   + pdu)


@dataclass
class RemoteEngine:
    """The authoritative engine of a v3 message we send: ours for a trap, the receiver's for an
    INFORM (discovered). `time` is snmpEngineTime at `synced_at` (our monotonic clock)."""

    engine_id: bytes = b""
    boots: int = 0
    time: int = 0
    synced_at: float = 0.0

    def now(self, clock: float) -> int:
        return min(self.time + int(clock - self.synced_at), 2147483647)


def v3_message(msg_id: int, flags: int, engine: bytes, boots: int, time: int, user: UsmUser | None,
               user_name: bytes, pdu: bytes, ctx_engine_id: bytes) -> bytes:
    return encode_message(msg_id, MAX_SIZE, flags, engine, boots, time, user_name, user, pdu,
                          ctx_engine_id=ctx_engine_id)


def discovery_probe(msg_id: int, request_id: int) -> bytes:
    """RFC 3414 4: a noAuthNoPriv, reportable GetRequest with an empty engine id and user,
    which the receiver answers with a Report (usmStatsUnknownEngineIDs) carrying its engine
    id."""
    pdu = ber.encode_pdu(ber.GET, request_id, 0, 0, [])
    return encode_message(msg_id, MAX_SIZE, REPORTABLE, b"", 0, 0, b"", None, pdu)


@dataclass
class Reply:
    """What a receiver sent back: its PDU type and request-id; for v3 also the msgID, the
    security parameters, and whether it was authenticated with the user's keys."""

    pdu_type: int
    request_id: int
    msg_id: int = -1
    engine_id: bytes = b""
    boots: int = 0
    time: int = 0
    authentic: bool = False
    varbinds: list[Any] | None = None


def read_v2c(data: bytes, community: bytes) -> Reply | None:
    """The Response in a v2c datagram with our community, or None."""
    try:
        msg = ber.decode_message(data)
    except ber.BerError:
        return None
    if msg.version != ber.V2C or msg.community != community:
        return None
    return Reply(msg.pdu_type, msg.request_id, varbinds=msg.varbinds)


def read_v3(data: bytes, user: UsmUser | None) -> Reply | None:
    """The Response or Report in a v3 datagram, or None when it is not one we can read.
    `authentic` is True only when its MAC checks with `user`'s keys (localised to the engine
    id the caller expects: the caller compares `engine_id`)."""
    try:
        m = parse_header(data, SnmpCounters())
    except Exception:  # noqa: BLE001 - parse_header raises BerError or its own drop signal
        return None
    authentic = False
    plain, start, end = data, *m.data
    try:
        if m.level & AUTH:
            if user is None or not user.auth_key:
                return None
            s, e = m.auth
            authentic = e - s == user.mac_length and hmac.compare_digest(
                data[s:e], user.mac(data[:s] + bytes(e - s) + data[e:]))
            if not authentic:
                return None
        if m.level & PRIV:
            if user is None or user.cipher is None:
                return None
            plain = user.cipher.decrypt(data[start:end], m.priv_params, m.boots, m.time)
            tag, start, end = ber.read_tlv(plain, 0, len(plain))
            if tag != ber.SEQUENCE:
                return None
        _ces, cee = ber.read_expected(plain, start, end, ber.OCTET_STRING, "contextEngineID")
        _cns, cne = ber.read_expected(plain, cee, end, ber.OCTET_STRING, "contextName")
        pdu_type, ps, pe = ber.read_tlv(plain, cne, end)
        msg = ber.decode_pdu(plain, pdu_type, ps, pe, ber.V3)
    except (ber.BerError, ValueError):
        return None
    return Reply(pdu_type, msg.request_id, m.msg_id, m.engine_id, m.boots, m.time, authentic,
                 msg.varbinds)


__all__ = ["SNMP_TRAP_OID_0", "SYS_UP_TIME_0", "RemoteEngine", "Reply", "discovery_probe",
           "notification_pdu", "read_v2c", "read_v3", "v2c_message", "v3_message"]
