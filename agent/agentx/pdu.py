"""AgentX PDUs (RFC 2741 section 6): the header, the payload fields, framing on a stream.

Every PDU starts with a 20-octet header; its payload length says how many octets follow (always
a multiple of 4). Multi-octet integers are in network byte order when the header's
NETWORK_BYTE_ORDER flag is set, little-endian otherwise; each PDU says which for itself, and we
send in network byte order. Decoding is strict and bounded: a field that runs past its PDU, a
payload length that is not a multiple of 4 or is too large, an unknown version or type raise
`PduError` with what was wrong.

Values travel as (tag, plain value) pairs, as in `ber`: AgentX's value types use the same
numbers as the BER tags (Integer 2, OCTET STRING 4, Counter64 70, noSuchObject 128 ...).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .. import ber

VERSION = 1
HEADER_SIZE = 20
#: Largest payload accepted; anything longer means the stream is out of step.
MAX_PAYLOAD = 1 << 20

# h.type
OPEN, CLOSE, REGISTER, UNREGISTER = 1, 2, 3, 4
GET, GET_NEXT, GET_BULK = 5, 6, 7
TEST_SET, COMMIT_SET, UNDO_SET, CLEANUP_SET = 8, 9, 10, 11
NOTIFY, PING, INDEX_ALLOCATE, INDEX_DEALLOCATE = 12, 13, 14, 15
ADD_AGENT_CAPS, REMOVE_AGENT_CAPS, RESPONSE = 16, 17, 18
TYPE_NAMES = {
    1: "Open", 2: "Close", 3: "Register", 4: "Unregister", 5: "Get", 6: "GetNext", 7: "GetBulk",
    8: "TestSet", 9: "CommitSet", 10: "UndoSet", 11: "CleanupSet", 12: "Notify", 13: "Ping",
    14: "IndexAllocate", 15: "IndexDeallocate", 16: "AddAgentCaps", 17: "RemoveAgentCaps",
    18: "Response",
}

# h.flags
INSTANCE_REGISTRATION = 0x01
NEW_INDEX = 0x02
ANY_INDEX = 0x04
NON_DEFAULT_CONTEXT = 0x08
NETWORK_BYTE_ORDER = 0x10

# res.error beyond the SNMP error-status values (RFC 2741 6.2.16)
OPEN_FAILED = 256
NOT_OPEN = 257
INDEX_WRONG_TYPE = 258
INDEX_ALREADY_ALLOCATED = 259
INDEX_NONE_AVAILABLE = 260
INDEX_NOT_ALLOCATED = 261
UNSUPPORTED_CONTEXT = 262
DUPLICATE_REGISTRATION = 263
UNKNOWN_REGISTRATION = 264
UNKNOWN_AGENT_CAPS = 265
PARSE_ERROR = 266
REQUEST_DENIED = 267
PROCESSING_ERROR = 268

# Close reasons (RFC 2741 6.2.2)
REASON_OTHER = 1
REASON_PARSE_ERROR = 2
REASON_PROTOCOL_ERROR = 3
REASON_TIMEOUTS = 4
REASON_SHUTDOWN = 5
REASON_BY_MANAGER = 6

_INTERNET = (1, 3, 6, 1)
_U32 = frozenset((ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS))
_EXCEPTIONS = frozenset((ber.NULL, ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW))
VALUE_TYPES = frozenset(
    (ber.INTEGER, ber.OBJECT_IDENTIFIER, ber.COUNTER64, *ber.OCTETS, *_U32, *_EXCEPTIONS)
)

Oid = tuple[int, ...]
VarBind = tuple[Oid, int, Any]  # (name, tag, plain value)


class PduError(ValueError):
    """Bytes that are not a well-formed AgentX PDU."""


class Header(NamedTuple):
    """A PDU's header (a named tuple: one is made per PDU, on the hot path)."""

    type: int
    flags: int
    session_id: int
    transaction_id: int
    packet_id: int
    payload_length: int
    version: int = VERSION

    @property
    def big_endian(self) -> bool:
        return bool(self.flags & NETWORK_BYTE_ORDER)


def decode_header(buf: bytes | memoryview) -> Header:
    """The header at the start of `buf` (at least HEADER_SIZE octets). Raises PduError when the
    version is not 1, the type is unknown or the payload length cannot be right."""
    flags = buf[2]
    version, ptype, flags, _r, sid, tid, pid, length = (
        _HEAD_BE if flags & NETWORK_BYTE_ORDER else _HEAD_LE).unpack_from(buf)
    if version != VERSION:
        raise PduError(f"h.version {version}, expected 1")
    if ptype not in TYPE_NAMES:
        raise PduError(f"unknown h.type {ptype}")
    if length % 4:
        raise PduError(f"payload length {length} is not a multiple of 4")
    if length > MAX_PAYLOAD:
        raise PduError(f"payload length {length} over the limit of {MAX_PAYLOAD}")
    return Header(ptype, flags, sid, tid, pid, length, version)


_HEAD_BE = struct.Struct(">4B4I")
_HEAD_LE = struct.Struct("<4B4I")
_RES = struct.Struct(">IHH")


def encode_header(h: Header) -> bytes:
    return (_HEAD_BE if h.big_endian else _HEAD_LE).pack(
        h.version, h.type, h.flags, 0, h.session_id, h.transaction_id, h.packet_id,
        h.payload_length)


class Framer:
    """Cuts a byte stream into PDUs: bytes go in with `feed`, whole (header, payload) pairs come
    out, whatever the reads' boundaries. After a PduError the stream is out of step for good."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[Header, bytes]]:
        if not self._buf and len(data) >= HEADER_SIZE:  # the usual case: one whole PDU
            h = decode_header(data)
            end = HEADER_SIZE + h.payload_length
            if len(data) == end:
                yield h, data[HEADER_SIZE:]
                return
        self._buf += data
        while len(self._buf) >= HEADER_SIZE:
            h = decode_header(self._buf)
            end = HEADER_SIZE + h.payload_length
            if len(self._buf) < end:
                return
            payload = bytes(self._buf[HEADER_SIZE:end])
            del self._buf[:end]
            yield h, payload

    @property
    def pending(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return len(self._buf)


# --- payload fields ---------------------------------------------------------------------------


class Reader:
    """Reads a PDU's payload fields in the PDU's byte order, never past its end."""

    def __init__(self, payload: bytes, big_endian: bool) -> None:
        self.buf = payload
        self.at = 0
        self.o = ">" if big_endian else "<"

    def _take(self, n: int, what: str) -> int:
        at = self.at
        if at + n > len(self.buf):
            raise PduError(f"{what} runs past the end of the payload ({len(self.buf)} octets)")
        self.at = at + n
        return at

    @property
    def done(self) -> bool:
        return self.at >= len(self.buf)

    def u8(self, what: str) -> int:
        return self.buf[self._take(1, what)]

    def u16(self, what: str) -> int:
        return struct.unpack_from(self.o + "H", self.buf, self._take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack_from(self.o + "I", self.buf, self._take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack_from(self.o + "Q", self.buf, self._take(8, what))[0]

    def oid(self, what: str = "OID") -> tuple[Oid, bool]:
        """(arcs, include) of an Object Identifier field."""
        buf, at = self.buf, self.at
        end = at + 4 + 4 * buf[at] if at < len(buf) else at + 4
        if end > len(buf):
            raise PduError(f"{what} runs past the end of the payload ({len(buf)} octets)")
        n, prefix, include = buf[at], buf[at + 1], buf[at + 2]
        if n > 128:
            raise PduError(f"{what}: {n} sub-identifiers (at most 128)")
        self.at = end
        arcs = struct.unpack_from(f"{self.o}{n}I", buf, at + 4)
        if prefix:
            arcs = (*_INTERNET, prefix, *arcs)
        return arcs, include != 0

    def octets(self, what: str = "Octet String") -> bytes:
        n = self.u32(what)
        if n > MAX_PAYLOAD:
            raise PduError(f"{what}: length {n}")
        at = self._take((n + 3) & ~3, what)
        return bytes(self.buf[at : at + n])

    def value(self, tag: int) -> Any:
        if tag == ber.INTEGER:
            v = self.u32("Integer")
            return v - (1 << 32) if v & 0x80000000 else v
        if tag in _U32:
            return self.u32("value")
        if tag == ber.COUNTER64:
            return self.u64("Counter64")
        if tag in ber.OCTETS:
            return self.octets("value")
        if tag == ber.OBJECT_IDENTIFIER:
            return self.oid("value")[0]
        if tag in _EXCEPTIONS:
            return None
        raise PduError(f"unknown value type {tag}")

    def varbind(self) -> VarBind:
        tag = self.u16("VarBind type")
        self.u16("VarBind reserved")
        name, _ = self.oid("VarBind name")
        return name, tag, self.value(tag)

    def varbinds(self) -> list[VarBind]:
        out = []
        while not self.done:
            out.append(self.varbind())
        return out

    def search_ranges(self) -> list[tuple[Oid, bool, Oid]]:
        """(start, include, end) of each SearchRange; an empty end means no bound."""
        out = []
        while not self.done:
            start, include = self.oid("SearchRange start")
            end, _ = self.oid("SearchRange end")
            out.append((start, include, end))
        return out


def encode_oid(oid: Oid, include: bool = False) -> bytes:
    """An Object Identifier field (network byte order), with the 1.3.6.1.x prefix compressed."""
    prefix = 0
    if len(oid) > 4 and oid[:4] == _INTERNET and 0 < oid[4] < 256:
        prefix, oid = oid[4], oid[5:]
    return struct.pack(f">4B{len(oid)}I", len(oid), prefix, int(include), 0, *oid)


def encode_octets(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4)


def encode_value(tag: int, value: Any) -> bytes:
    if tag == ber.INTEGER:
        return struct.pack(">i", value)
    if tag in _U32:
        return struct.pack(">I", value)
    if tag == ber.COUNTER64:
        return struct.pack(">Q", value)
    if tag in ber.OCTETS:
        return encode_octets(value)
    if tag == ber.OBJECT_IDENTIFIER:
        return encode_oid(value)
    if tag in _EXCEPTIONS:
        return b""
    raise ValueError(f"cannot encode value type {tag}")


def encode_varbind(oid_field: bytes, tag: int, value: Any) -> bytes:
    """A VarBind around an already encoded name (see `encode_oid`)."""
    return struct.pack(">HH", tag, 0) + oid_field + encode_value(tag, value)


@dataclass(slots=True)
class Pdu:
    """A PDU to send (network byte order). `payload` is the encoded payload after the header
    (and after the context, which we never send)."""

    type: int
    session_id: int = 0
    transaction_id: int = 0
    packet_id: int = 0
    payload: bytes = b""
    flags: int = 0

    def encode(self) -> bytes:
        h = Header(self.type, self.flags | NETWORK_BYTE_ORDER, self.session_id,
                   self.transaction_id, self.packet_id, len(self.payload))
        return encode_header(h) + self.payload


def response(h: Header, error: int = 0, index: int = 0, varbinds: bytes = b"",
             sys_up_time: int = 0) -> bytes:
    """The Response to the request with header `h` (its ids echoed)."""
    return _HEAD_BE.pack(VERSION, RESPONSE, NETWORK_BYTE_ORDER, 0, h.session_id,
                         h.transaction_id, h.packet_id, 8 + len(varbinds)) + _RES.pack(
        sys_up_time, error, index) + varbinds


@dataclass(frozen=True, slots=True)
class Response:
    sys_up_time: int
    error: int
    index: int
    varbinds: list[VarBind] = field(default_factory=list)


def decode_response(h: Header, payload: bytes) -> Response:
    r = Reader(payload, h.big_endian)
    up, err, idx = r.u32("res.sysUpTime"), r.u16("res.error"), r.u16("res.index")
    return Response(up, err, idx, r.varbinds())


def open_payload(timeout_s: int, ident: Oid, descr: str) -> bytes:
    return struct.pack(">B3x", timeout_s) + encode_oid(ident) + encode_octets(descr.encode())


def close_payload(reason: int) -> bytes:
    return struct.pack(">B3x", reason)


def register_payload(subtree: Oid, priority: int = 127, timeout_s: int = 0) -> bytes:
    return struct.pack(">BBBx", timeout_s, priority, 0) + encode_oid(subtree)


def unregister_payload(subtree: Oid, priority: int = 127) -> bytes:
    return struct.pack(">xBBx", priority, 0) + encode_oid(subtree)
