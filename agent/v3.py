"""SNMPv3 in front of the one request path: the message layer (RFC 3412 6 and 7.2) and the
User-based Security Model (RFC 3414 3.2), as an authoritative (command responder) engine.

`V3Layer.receive` takes a datagram whose version is 3 and returns the bytes to send back or
None. The order of the checks is the RFCs', and each costs only what it has to read:

1. the header (msgGlobalData) and the USM security parameters: malformed -> snmpInASNParseErrs;
   a security model other than USM -> snmpUnknownSecurityModels; privacy without
   authentication -> snmpInvalidMsgs (all dropped, RFC 3412 7.2 steps 2-4);
2. USM (RFC 3414 3.2 steps 3-8): unknown msgAuthoritativeEngineID (discovery), unknown user,
   a securityLevel the user has no keys for, a wrong digest, outside the time window (150 s),
   a failed decryption -> the usmStats counter and a Report;
3. the scoped PDU: a contextEngineID that is not ours -> snmpUnknownPDUHandlers and a Report
   (RFC 3412 4.2.2.1); a contextName other than the default "" -> snmpUnknownContexts and a
   Report (RFC 3413 3.2 step 3); a securityLevel below the user's (VACM) -> authorizationError;
4. only then the varbinds are decoded, and the PDU enters `Responder.process` with the user's
   views, exactly as a v1/v2c request does.

Reports are sent only for confirmed-class PDUs, or, when the PDU cannot be read (encrypted with
keys we could not check), when the reportable flag is set (RFC 3412 6.4). They go out at
noAuthNoPriv, except notInTimeWindow, which is authenticated (RFC 3414 3.2 step 7a) so the
sender can trust the boots and time it carries, and the context errors, which are detected
after authentication and keep the request's level.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from . import ber
from .config import User
from .hostmib import EngineCounters, SnmpCounters
from .instrum import AUTHORIZATION_ERROR
from .responder import REQUESTS, Principal, Responder
from .usm import UsmUser

log = logging.getLogger(__name__)

USM = 3  # msgSecurityModel of the User-based Security Model
AUTH, PRIV, REPORTABLE = 1, 2, 4  # msgFlags bits
TIME_WINDOW = 150  # seconds (RFC 3414 2.2.3)
_MAX_INT = 2147483647
_CONFIRMED = REQUESTS | {ber.INFORM}


class _Drop(Exception):
    """The message is dropped (after counting) with no answer."""


@dataclass(slots=True)
class Incoming:
    """What the header, the security parameters and (when readable) the scoped PDU's head say."""

    msg_id: int
    max_size: int
    level: int  # msgFlags & (AUTH | PRIV)
    reportable: bool
    engine_id: bytes
    boots: int
    time: int
    user_name: bytes
    auth: tuple[int, int]  # where msgAuthenticationParameters' contents are in the datagram
    priv_params: bytes
    data_tag: int
    data: tuple[int, int]  # msgData's contents
    pdu_type: int = -1  # unknown until the scoped PDU is read
    request_id: int = 0


class V3Layer:
    """See the module docstring."""

    def __init__(
        self,
        responder: Responder,
        engine: EngineCounters,
        users: Sequence[User],
        max_message_size: int,
    ) -> None:
        self.responder = responder
        self.engine = engine
        self.counters: SnmpCounters = responder.counters
        self.engine_id = engine.engine_id
        self.max_size = max_message_size
        self.users: dict[bytes, tuple[UsmUser, Principal]] = {}
        for u in users:
            usm = UsmUser.make(u.name, self.engine_id, u.auth_protocol, u.auth_key,
                               u.priv_protocol, u.priv_key)
            self.users[usm.name] = (usm, responder.principal(u.level))

    # --- in ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes | None:
        """The reply (Response or Report) to an SNMPv3 datagram, or None."""
        try:
            return self._receive(data)
        except _Drop:
            return None
        except ber.BerError as exc:
            log.debug("malformed SNMPv3 message: %s", exc)
            self.counters.in_asn_parse_errs += 1
            return None

    def _receive(self, data: bytes) -> bytes | None:
        c = self.counters
        m = parse_header(data, c)
        if m.level == 0 or m.level == AUTH:
            _scoped_head(data, m.data_tag, *m.data, m)  # plaintext: its PDU type is known now
        # RFC 3414 3.2 step 3: we are the authoritative engine of every request we get.
        if m.engine_id != self.engine_id:
            c.usm_unknown_engine_ids += 1
            return self._report(m, "usm_unknown_engine_ids")
        entry = self.users.get(m.user_name)
        if entry is None:  # step 4
            c.usm_unknown_user_names += 1
            return self._report(m, "usm_unknown_user_names")
        user, principal = entry
        if m.level & ~user.level:  # step 5: asks for a service the user has no keys for
            c.usm_unsupported_sec_levels += 1
            return self._report(m, "usm_unsupported_sec_levels")
        if m.level & AUTH:
            s, e = m.auth
            if e - s != user.mac_length or not hmac.compare_digest(
                data[s:e], user.mac(data[:s] + bytes(e - s) + data[e:])
            ):  # step 6
                c.usm_wrong_digests += 1
                return self._report(m, "usm_wrong_digests")
            boots = self.engine.boots
            if (boots >= _MAX_INT or m.boots != boots
                    or abs(m.time - self.engine.engine_time()) > TIME_WINDOW):  # step 7
                c.usm_not_in_time_windows += 1
                return self._report(m, "usm_not_in_time_windows", user, AUTH)
        plain, start, end = data, *m.data
        if m.level & PRIV:  # step 8
            try:
                plain = user.cipher.decrypt(data[start:end], m.priv_params, m.boots, m.time)
                start, end = _decrypted_bounds(plain)
            except ValueError:
                c.usm_decryption_errors += 1
                return self._report(m, "usm_decryption_errors")
        ctx_engine, ctx_name, pdu_type, ps, pe = _scoped_head(plain, ber.SEQUENCE, start, end, m)
        if pdu_type not in REQUESTS:
            c.unknown_pdu_handlers += 1  # no notification receiver or proxy here
            return self._report(m, "unknown_pdu_handlers", user, m.level)
        if ctx_engine not in (b"", self.engine_id):  # RFC 3412 4.2.2.1
            c.unknown_pdu_handlers += 1
            return self._report(m, "unknown_pdu_handlers", user, m.level)
        if ctx_name:  # RFC 3413 3.2 step 3: only the default context exists
            c.unknown_contexts += 1
            return self._report(m, "unknown_contexts", user, m.level, ctx_name)
        msg = ber.decode_pdu(plain, pdu_type, ps, pe, ber.V3)
        limit = min(m.max_size, self.max_size)

        def encode(status: int, index: int, varbinds: list[bytes]) -> bytes:
            pdu = ber.encode_pdu(ber.RESPONSE, msg.request_id, status, index, varbinds)
            return self._wrap(m, user, m.level, pdu)

        if m.level < user.level:
            # RFC 3415 3.2: the group's access entry requires the user's level (authPriv or
            # authNoPriv), so a request at a lower level matches none: isAccessAllowed says
            # noAccessEntry, and RFC 3413 3.2 step 4 answers authorizationError, error-index
            # 0. (USM itself accepts it: the user does support the lower level, RFC 3414 3.2
            # step 5.) net-snmp's snmpd answers the same.
            return self.responder.fit(
                msg, (AUTHORIZATION_ERROR, 0, self.responder.echo(msg)), encode, limit)
        overhead = 104 + 2 * len(self.engine_id) + len(m.user_name) + user.mac_length
        answer = self.responder.process(msg, principal, limit - overhead)
        if answer is None:
            return None
        return self.responder.fit(msg, answer, encode, limit)

    # --- out --------------------------------------------------------------------------------

    def _report(
        self,
        m: Incoming,
        counter: str,
        user: UsmUser | None = None,
        level: int = 0,
        ctx_name: bytes = b"",
    ) -> bytes | None:
        """A Report of the counter just raised, when the request may be answered (RFC 3412
        6.4: by the PDU's class when it could be read, else by the reportable flag)."""
        if not (m.pdu_type in _CONFIRMED if m.pdu_type >= 0 else m.reportable):
            return None
        value = getattr(self.counters, counter) % 4294967296
        vb = ber.varbind(ber.encode_oid(self.engine.counter_oid(counter)),
                         ber.encode_value(ber.COUNTER32, value))
        pdu = ber.encode_pdu(ber.REPORT, m.request_id, 0, 0, [vb])
        return self._wrap(m, user, level, pdu, ctx_name)

    def _wrap(
        self, m: Incoming, user: UsmUser | None, level: int, pdu: bytes, ctx_name: bytes = b""
    ) -> bytes:
        """An SNMPv3 message around `pdu`, at securityLevel `level` with `user`'s keys."""
        return encode_message(m.msg_id, self.max_size, level, self.engine_id, self.engine.boots,
                              self.engine.engine_time(), m.user_name, user, pdu, ctx_name)


def encode_message(
    msg_id: int,
    max_size: int,
    flags: int,
    engine_id: bytes,
    boots: int,
    time: int,
    user_name: bytes,
    user: UsmUser | None,
    pdu: bytes,
    ctx_name: bytes = b"",
    ctx_engine_id: bytes | None = None,
) -> bytes:
    """An SNMPv3 message around the encoded `pdu` (RFC 3412 6, RFC 3414 2.4): its scoped PDU
    encrypted and the whole authenticated as `flags` (msgFlags) say, with `user`'s keys.
    `engine_id`, `boots` and `time` are the authoritative engine's (the agent's, for requests
    too; the receiver's for an INFORM); the contextEngineID is `engine_id` unless
    `ctx_engine_id` says otherwise."""
    ctx_engine = engine_id if ctx_engine_id is None else ctx_engine_id
    scoped = ber.tlv(ber.SEQUENCE, ber.tlv(ber.OCTET_STRING, ctx_engine)
                     + ber.tlv(ber.OCTET_STRING, ctx_name) + pdu)
    priv = b""
    if flags & PRIV and user is not None:
        encrypted, priv = user.cipher.encrypt(scoped, boots, time)
        scoped = ber.tlv(ber.OCTET_STRING, encrypted)
    mac_len = user.mac_length if flags & AUTH and user is not None else 0
    sec = ber.tlv(ber.SEQUENCE, ber.tlv(ber.OCTET_STRING, engine_id) + ber.encode_int(boots)
                  + ber.encode_int(time) + ber.tlv(ber.OCTET_STRING, user_name)
                  + ber.tlv(ber.OCTET_STRING, bytes(mac_len)) + ber.tlv(ber.OCTET_STRING, priv))
    header = ber.tlv(ber.SEQUENCE, ber.encode_int(msg_id) + ber.encode_int(max_size)
                     + ber.tlv(ber.OCTET_STRING, bytes((flags,)))
                     + ber.encode_int(USM))
    out = ber.tlv(ber.SEQUENCE, ber.encode_int(3) + header + ber.tlv(ber.OCTET_STRING, sec)
                  + scoped)
    if mac_len and user is not None:
        end = len(out) - len(scoped) - 2 - len(priv)  # the zeros end before privParameters
        out = out[: end - mac_len] + user.mac(out) + out[end:]
    return out


# --- decoding -------------------------------------------------------------------------------


def parse_header(data: bytes, c: SnmpCounters) -> Incoming:
    """msgVersion, msgGlobalData, the USM security parameters and where msgData is. Raises
    BerError (counted as a parse error by the caller) or _Drop (counted here)."""
    end = len(data)
    s, e = ber.read_expected(data, 0, end, ber.SEQUENCE, "message")
    if e != end:
        raise ber.BerError(f"{end - e} octets after the message")
    _version, at = ber.read_int(data, s, e, "msgVersion")
    hs, he = ber.read_expected(data, at, e, ber.SEQUENCE, "msgGlobalData")
    msg_id, at = ber.read_int(data, hs, he, "msgID")
    max_size, at = ber.read_int(data, at, he, "msgMaxSize")
    fs, fe = ber.read_expected(data, at, he, ber.OCTET_STRING, "msgFlags")
    model, at = ber.read_int(data, fe, he, "msgSecurityModel")
    if at != he:
        raise ber.BerError("octets after msgSecurityModel")
    if not 0 <= msg_id <= _MAX_INT or not 484 <= max_size <= _MAX_INT or fe - fs != 1 \
            or not 1 <= model <= _MAX_INT:
        raise ber.BerError("msgGlobalData out of range")
    ss, se = ber.read_expected(data, he, e, ber.OCTET_STRING, "msgSecurityParameters")
    data_tag, ds, de = ber.read_tlv(data, se, e)
    if de != e:
        raise ber.BerError("octets after msgData")
    flags = data[fs]
    if model != USM:
        c.unknown_security_models += 1  # RFC 3412 7.2 step 4
        raise _Drop
    if flags & PRIV and not flags & AUTH:
        c.invalid_msgs += 1  # RFC 3412 7.2 step 5
        raise _Drop
    # RFC 3414 2.4: UsmSecurityParameters
    ps, pe = ber.read_expected(data, ss, se, ber.SEQUENCE, "UsmSecurityParameters")
    if pe != se:
        raise ber.BerError("octets after UsmSecurityParameters")
    es, ee = ber.read_expected(data, ps, pe, ber.OCTET_STRING, "msgAuthoritativeEngineID")
    boots, at = ber.read_int(data, ee, pe, "msgAuthoritativeEngineBoots")
    time, at = ber.read_int(data, at, pe, "msgAuthoritativeEngineTime")
    us, ue = ber.read_expected(data, at, pe, ber.OCTET_STRING, "msgUserName")
    as_, ae = ber.read_expected(data, ue, pe, ber.OCTET_STRING, "msgAuthenticationParameters")
    vs, ve = ber.read_expected(data, ae, pe, ber.OCTET_STRING, "msgPrivacyParameters")
    if ve != pe:
        raise ber.BerError("octets after msgPrivacyParameters")
    if ee - es > 32 or ue - us > 32 or not 0 <= boots <= _MAX_INT or not 0 <= time <= _MAX_INT:
        raise ber.BerError("UsmSecurityParameters out of range")
    expected = ber.OCTET_STRING if flags & PRIV else ber.SEQUENCE
    if data_tag != expected:
        raise ber.BerError(f"msgData: expected tag 0x{expected:02x}, found 0x{data_tag:02x}")
    return Incoming(msg_id, max_size, flags & (AUTH | PRIV), bool(flags & REPORTABLE),
                     bytes(data[es:ee]), boots, time, bytes(data[us:ue]), (as_, ae),
                     bytes(data[vs:ve]), data_tag, (ds, de))


def _decrypted_bounds(plain: bytes) -> tuple[int, int]:
    """The bounds of the decrypted scoped PDU's contents (DES pads it); ValueError if it is not
    a SEQUENCE: what decrypting with the wrong key gives (RFC 3414 3.2 step 8b: the decryption
    failed)."""
    try:
        tag, s, e = ber.read_tlv(plain, 0, len(plain))
    except ber.BerError as exc:
        raise ValueError(str(exc)) from exc
    if tag != ber.SEQUENCE or len(plain) - e >= 8:
        raise ValueError("the decrypted data is not a scoped PDU")
    return s, e


def _scoped_head(
    buf: bytes, tag: int, start: int, end: int, m: Incoming
) -> tuple[bytes, bytes, int, int, int]:
    """contextEngineID, contextName, PDU tag and its contents' bounds of the ScopedPDU whose
    contents are buf[start:end]; notes the PDU type and request-id in `m` (for a Report)."""
    if tag != ber.SEQUENCE:
        raise ber.BerError("the scoped PDU is not a SEQUENCE")
    ces, cee = ber.read_expected(buf, start, end, ber.OCTET_STRING, "contextEngineID")
    cns, cne = ber.read_expected(buf, cee, end, ber.OCTET_STRING, "contextName")
    pdu_type, ps, pe = ber.read_tlv(buf, cne, end)
    if pe != end:
        raise ber.BerError("octets after the PDU")
    if pdu_type < ber.GET or pdu_type > ber.REPORT:
        raise ber.BerError(f"unknown PDU tag 0x{pdu_type:02x}")
    m.pdu_type = pdu_type
    m.request_id = ber.read_int(buf, ps, pe, "request-id")[0]
    return bytes(buf[ces:cee]), bytes(buf[cns:cne]), pdu_type, ps, pe


__all__ = ["TIME_WINDOW", "Incoming", "V3Layer", "encode_message", "parse_header"]
