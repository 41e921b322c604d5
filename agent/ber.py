"""BER for SNMPv1/v2c messages (RFC 1157, RFC 3416, X.690): just what a command responder needs.

Decoding is strict and bounded: every length is checked against the buffer, and anything that
is not a well-formed message raises :class:`BerError` with what was wrong and where. Encoding
builds a Response from pre-encoded pieces (the OID TLVs of the served instances are encoded once,
when the agent's index is built), so answering costs one value encoding per varbind.

Values travel as (tag, plain value) pairs: ``(INTEGER, 5)``, ``(OCTET_STRING, b"...")``,
``(OBJECT_IDENTIFIER, (1, 3, 6))``, ``(COUNTER64, 2**40)``, ``(NULL, None)`` ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Universal and application tags (RFC 2578 / RFC 3416).
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
# Exceptions in a v2 varbind (RFC 3416 3): context-specific, primitive, NULL content.
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

# PDU tags.
GET = 0xA0
GET_NEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
TRAP_V1 = 0xA4
GET_BULK = 0xA5
INFORM = 0xA6
TRAP_V2 = 0xA7
REPORT = 0xA8

# Message versions.
V1 = 0
V2C = 1
V3 = 3

UNSIGNED = frozenset((COUNTER32, GAUGE32, TIMETICKS, COUNTER64))
_UNSIGNED_MAX = {
    COUNTER32: 2**32 - 1, GAUGE32: 2**32 - 1, TIMETICKS: 2**32 - 1, COUNTER64: 2**64 - 1
}
OCTETS = frozenset((OCTET_STRING, IP_ADDRESS, OPAQUE))


class BerError(ValueError):
    """The bytes are not a well-formed SNMP message."""


@dataclass(slots=True)
class Message:
    """A decoded v1/v2c message. For GETBULK, `error_status` holds non-repeaters and
    `error_index` max-repetitions (RFC 3416 3)."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[tuple[int, ...], int, Any]]  # (name, tag, plain value)


# --- decoding -------------------------------------------------------------------------------


def _header(buf: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at `at`, within buf[:end]."""
    if at + 2 > end:
        raise BerError(f"truncated TLV at offset {at}")
    tag = buf[at]
    if tag & 0x1F == 0x1F:
        raise BerError(f"multi-byte tag at offset {at}")
    n = buf[at + 1]
    at += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError(f"indefinite length at offset {at - 1}")
        if k > 4 or at + k > end:
            raise BerError(f"bad length of {k} octets at offset {at - 1}")
        n = int.from_bytes(buf[at : at + k], "big")
        at += k
    if at + n > end:
        raise BerError(f"length {n} at offset {at} runs past the end ({end})")
    return tag, at, at + n


def _expect(buf: bytes, at: int, end: int, tag: int, what: str) -> tuple[int, int]:
    t, s, e = _header(buf, at, end)
    if t != tag:
        raise BerError(f"{what}: expected tag 0x{tag:02x}, found 0x{t:02x} at offset {at}")
    return s, e


def _int(buf: bytes, s: int, e: int, what: str) -> int:
    if s == e:
        raise BerError(f"{what}: empty INTEGER")
    if e - s > 9:
        raise BerError(f"{what}: INTEGER of {e - s} octets")
    return int.from_bytes(buf[s:e], "big", signed=True)


#: RFC 2578 7.1.3: at most 128 sub-identifiers, each at most 2^32-1.
MAX_OID_ARCS = 128
MAX_ARC = 2**32 - 1


def oid_problem(arcs: tuple[int, ...]) -> str | None:
    """Why `arcs` is not a valid SNMP OBJECT IDENTIFIER (X.660 and RFC 2578 7.1.3: 2 to 128
    arcs, the first 0..2, the second 0..39 under 0 and 1, each in 0..2^32-1), or None."""
    if not 2 <= len(arcs) <= MAX_OID_ARCS:
        return f"2 to {MAX_OID_ARCS} arcs, not {len(arcs)}"
    for i, arc in enumerate(arcs):
        if not 0 <= arc <= MAX_ARC:
            return f"arc {i + 1} is {arc}, not in 0..{MAX_ARC}"
    if arcs[0] > 2:
        return f"the first arc is {arcs[0]}, not 0, 1 or 2"
    if arcs[0] < 2 and arcs[1] > 39:
        return f"the second arc is {arcs[1]}, not in 0..39 under {arcs[0]}"
    return None


def decode_oid(body: bytes) -> tuple[int, ...]:
    """The arcs of an OBJECT IDENTIFIER's contents. One that SNMP cannot carry (an arc above
    2^32-1, more than 128 arcs) raises BerError, so its message is dropped as a parse error,
    as net-snmp's snmpd does."""
    if not body:
        raise BerError("empty OBJECT IDENTIFIER")
    if len(body) > 5 * MAX_OID_ARCS:
        raise BerError(f"OBJECT IDENTIFIER of {len(body)} octets")
    arcs: list[int] = []
    v = 0
    for b in body:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
        elif v == 0:
            raise BerError("OBJECT IDENTIFIER arc with a leading 0x80 octet")
    if body[-1] & 0x80:
        raise BerError("OBJECT IDENTIFIER ends inside an arc")
    first = arcs[0]
    if first < 40:
        head: tuple[int, ...] = (0, first)
    elif first < 80:
        head = (1, first - 40)
    else:
        head = (2, first - 80)
    oid = head + tuple(arcs[1:])
    if len(oid) > MAX_OID_ARCS or max(oid) > MAX_ARC:
        raise BerError(f"OBJECT IDENTIFIER not valid in SNMP: {oid_problem(oid)}")
    return oid


def decode_value(tag: int, body: bytes) -> Any:
    """The plain value of a varbind's value TLV."""
    if tag == INTEGER:
        return _int(body, 0, len(body), "value")
    if tag in OCTETS:
        return bytes(body)
    if tag == OBJECT_IDENTIFIER:
        return decode_oid(body)
    if tag in UNSIGNED:
        v = _int(body, 0, len(body), "value")
        if v < 0 or v > _UNSIGNED_MAX[tag]:
            raise BerError(f"unsigned value {v} out of range for tag 0x{tag:02x}")
        return v
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        if body:
            raise BerError("NULL with contents")
        return None
    return bytes(body)  # an unknown type: kept raw; a SET of it gets wrongType


def decode_message(buf: bytes) -> Message:
    """A v1/v2c message. Raises BerError for anything else (v3 included: see `peek_version`)."""
    version, community, pdu_type, ps, pe = decode_community_header(buf)
    return decode_pdu(buf, pdu_type, ps, pe, version, community)


def decode_community_header(buf: bytes) -> tuple[int, bytes, int, int, int]:
    """(version, community, PDU tag, start and end of the PDU's contents) of a v1/v2c message,
    without decoding the PDU: the community is checked before any varbind is decoded."""
    end = len(buf)
    s, e = _expect(buf, 0, end, SEQUENCE, "message")
    if e != end:
        raise BerError(f"{end - e} octets after the message")
    vs, ve = _expect(buf, s, e, INTEGER, "version")
    version = _int(buf, vs, ve, "version")
    cs, ce = _expect(buf, ve, e, OCTET_STRING, "community")
    pdu_type, ps, pe = _header(buf, ce, e)
    if pe != e:
        raise BerError("octets after the PDU")
    return version, bytes(buf[cs:ce]), pdu_type, ps, pe


def decode_pdu(
    buf: bytes, pdu_type: int, ps: int, pe: int, version: int, community: bytes = b""
) -> Message:
    """The PDU whose contents are buf[ps:pe] (tag `pdu_type`), as a Message of `version`."""
    if pdu_type < GET or pdu_type > REPORT:
        raise BerError(f"unknown PDU tag 0x{pdu_type:02x}")
    values = []
    at = ps
    for what in ("request-id", "error-status", "error-index"):
        s1, e1 = _expect(buf, at, pe, INTEGER, what)
        values.append(_int(buf, s1, e1, what))
        at = e1
    ls, le = _expect(buf, at, pe, SEQUENCE, "variable-bindings")
    if le != pe:
        raise BerError("octets after the variable-bindings")
    varbinds = []
    at = ls
    while at < le:
        bs, be = _expect(buf, at, le, SEQUENCE, "varbind")
        ns, ne = _expect(buf, bs, be, OBJECT_IDENTIFIER, "varbind name")
        vt, vs2, ve2 = _header(buf, ne, be)
        if ve2 != be:
            raise BerError("octets after a varbind's value")
        varbinds.append((decode_oid(buf[ns:ne]), vt, decode_value(vt, buf[vs2:ve2])))
        at = be
    return Message(version, community, pdu_type, values[0], values[1], values[2], varbinds)


def read_tlv(buf: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the TLV at `at`, within buf[:end]."""
    return _header(buf, at, end)


def read_expected(buf: bytes, at: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """(start, end) of the contents of the TLV at `at`, which must have tag `tag`."""
    return _expect(buf, at, end, tag, what)


def read_int(buf: bytes, at: int, end: int, what: str) -> tuple[int, int]:
    """(value, end) of the INTEGER at `at`."""
    s, e = _expect(buf, at, end, INTEGER, what)
    return _int(buf, s, e, what), e


def peek_version(buf: bytes) -> int | None:
    """The message's version field, or None if the start of the message is not well formed."""
    try:
        s, e = _expect(buf, 0, len(buf), SEQUENCE, "message")
        vs, ve = _expect(buf, s, e, INTEGER, "version")
        return _int(buf, vs, ve, "version")
    except BerError:
        return None


# --- encoding -------------------------------------------------------------------------------


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    return b"\x83" + n.to_bytes(3, "big")


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    return bytes((tag,)) + length(n) + body


def encode_oid(oid: tuple[int, ...]) -> bytes:
    """The OBJECT IDENTIFIER TLV of `oid` (at least two arcs; first 0..2, second < 40 unless
    the first is 2)."""
    if len(oid) < 2:
        raise ValueError(f"an OID needs two arcs: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = []
        while arc:
            chunk.append((arc & 0x7F) | 0x80)
            arc >>= 7
        chunk[0] &= 0x7F
        out.extend(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(out))


_SMALL_INT = [bytes((INTEGER, 1, i)) for i in range(128)]


def encode_int(v: int) -> bytes:
    if 0 <= v < 128:
        return _SMALL_INT[v]
    body = v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True)
    return bytes((INTEGER, len(body))) + body


def encode_value(tag: int, v: Any) -> bytes:
    """The TLV of a (tag, plain value) pair."""
    if tag == INTEGER:
        return encode_int(v)
    if tag in OCTETS:
        return tlv(tag, v)
    if tag in UNSIGNED:
        body = v.to_bytes(v.bit_length() // 8 + 1, "big")
        return bytes((tag, len(body))) + body
    if tag == OBJECT_IDENTIFIER:
        return encode_oid(v)
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        return bytes((tag, 0))
    raise ValueError(f"cannot encode tag 0x{tag:02x}")


def varbind(oid_tlv: bytes, value_tlv: bytes) -> bytes:
    return tlv(SEQUENCE, oid_tlv + value_tlv)


def encode_response(
    version: int,
    community: bytes,
    request_id: int,
    error_status: int,
    error_index: int,
    varbinds: list[bytes],
) -> bytes:
    """A Response message around already-encoded varbinds."""
    pdu = encode_pdu(RESPONSE, request_id, error_status, error_index, varbinds)
    return tlv(SEQUENCE, encode_int(version) + tlv(OCTET_STRING, community) + pdu)


def encode_pdu(
    pdu_type: int, request_id: int, error_status: int, error_index: int, varbinds: list[bytes]
) -> bytes:
    """A PDU's TLV around already-encoded varbinds."""
    return tlv(pdu_type, encode_int(request_id) + encode_int(error_status)
               + encode_int(error_index) + tlv(SEQUENCE, b"".join(varbinds)))


def response_overhead(community: bytes, request_id: int) -> int:
    """Octets a Response takes besides its varbinds' own, at most (for size limits)."""
    return 4 * 4 + len(community) + len(encode_int(request_id)) + 2 * 3 + 3
