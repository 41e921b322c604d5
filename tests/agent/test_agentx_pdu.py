"""AgentX PDUs (RFC 2741 6): framing on a stream, both byte orders, bad lengths, field codecs."""

from __future__ import annotations

import struct

import pytest
from iec62379.agent import ber
from iec62379.agent.agentx import pdu
from iec62379.agent.agentx.address import AgentXAddress, parse_address
from iec62379.agent.config import ConfigError, parse_config


def header(ptype: int, payload: bytes, *, big: bool = True, flags: int = 0, sid: int = 7,
           tid: int = 8, pid: int = 9, version: int = 1, length: int | None = None) -> bytes:
    flags |= pdu.NETWORK_BYTE_ORDER if big else 0
    o = ">" if big else "<"
    n = len(payload) if length is None else length
    return struct.pack(o + "4B4I", version, ptype, flags, 0, sid, tid, pid, n) + payload


def oid_le(arcs: tuple[int, ...], include: int = 0) -> bytes:
    return struct.pack(f"<4B{len(arcs)}I", len(arcs), 0, include, 0, *arcs)


def test_header_round_trip_and_ids():
    raw = pdu.Pdu(pdu.GET, 1, 2, 3, b"\0" * 8).encode()
    h = pdu.decode_header(raw)
    assert (h.type, h.session_id, h.transaction_id, h.packet_id, h.payload_length) == (
        pdu.GET, 1, 2, 3, 8)
    assert h.big_endian and raw[:4] == b"\x01\x05\x10\x00"


def test_both_byte_orders_decode_the_same():
    name = (1, 0, 62379, 7, 1, 1, 1, 1, 3, 1)
    big = header(pdu.TEST_SET, struct.pack(">HH", ber.INTEGER, 0) + pdu.encode_oid(name)
                 + struct.pack(">i", -5))
    little = header(pdu.TEST_SET, struct.pack("<HH", ber.INTEGER, 0) + oid_le(name)
                    + struct.pack("<i", -5), big=False)
    out = []
    for raw in (big, little):
        ((h, payload),) = list(pdu.Framer().feed(raw))
        assert (h.session_id, h.transaction_id, h.packet_id) == (7, 8, 9)
        out.append(pdu.Reader(payload, h.big_endian).varbinds())
    assert out[0] == out[1] == [(name, ber.INTEGER, -5)]


def test_a_pdu_split_across_reads_and_several_in_one_read():
    one = pdu.Pdu(pdu.GET_NEXT, 1, 1, 1, pdu.encode_oid((1, 3, 6, 1, 2, 1)) * 2).encode()
    two = pdu.Pdu(pdu.COMMIT_SET, 1, 2, 2).encode()
    stream = one + two + one
    f = pdu.Framer()
    got = []
    for i in range(len(stream)):  # one octet at a time
        got += list(f.feed(stream[i : i + 1]))
    assert [h.packet_id for h, _ in got] == [1, 2, 1] and f.pending == 0
    got = list(pdu.Framer().feed(stream))
    assert [h.type for h, _ in got] == [pdu.GET_NEXT, pdu.COMMIT_SET, pdu.GET_NEXT]
    f = pdu.Framer()
    assert list(f.feed(stream[:30])) == [] and f.pending == 30


@pytest.mark.parametrize("raw,message", [
    (header(pdu.GET, b"\0" * 3), "not a multiple of 4"),
    (header(pdu.GET, b"", length=pdu.MAX_PAYLOAD + 4), "over the limit"),
    (header(pdu.GET, b"", version=2), "h.version 2"),
    (header(99, b""), "unknown h.type 99"),
])
def test_bad_headers_are_refused(raw, message):
    with pytest.raises(pdu.PduError, match=message):
        list(pdu.Framer().feed(raw))


@pytest.mark.parametrize("payload,message", [
    (struct.pack(">4B", 3, 0, 0, 0) + b"\0" * 8, "runs past the end"),  # 3 sub-ids, 2 there
    (struct.pack(">HH", 99, 0) + pdu.encode_oid((1, 3)), "unknown value type 99"),
    (struct.pack(">HH", ber.OCTET_STRING, 0) + pdu.encode_oid((1, 3)) + struct.pack(">I", 40),
     "runs past the end"),
])
def test_truncated_and_unknown_fields_are_refused(payload, message):
    with pytest.raises(pdu.PduError, match=message):
        r = pdu.Reader(payload, True)
        r.varbinds() if payload[:2] != b"\x03\x00" else r.search_ranges()


def test_oid_prefix_compression_and_include():
    full = (1, 3, 6, 1, 2, 1, 1, 3, 0)
    enc = pdu.encode_oid(full, include=True)
    assert enc[:4] == bytes((4, 2, 1, 0))  # 1.3.6.1.2 as prefix 2, four sub-ids left
    assert pdu.Reader(enc, True).oid() == (full, True)
    for arcs in ((1, 0, 62379, 7, 1), (1, 3, 6, 1), (1, 3, 6, 1, 300, 1), ()):
        assert pdu.Reader(pdu.encode_oid(arcs), True).oid() == (arcs, False)


@pytest.mark.parametrize("tag,value", [
    (ber.INTEGER, -2**31), (ber.INTEGER, 2**31 - 1), (ber.COUNTER32, 2**32 - 1),
    (ber.GAUGE32, 5), (ber.TIMETICKS, 100), (ber.COUNTER64, 2**64 - 1),
    (ber.OCTET_STRING, b""), (ber.OCTET_STRING, b"abcde"), (ber.IP_ADDRESS, b"\x0a\0\0\1"),
    (ber.OPAQUE, b"\x9f\x78\x04"), (ber.OBJECT_IDENTIFIER, (1, 3, 6, 1, 4, 1, 32473)),
    (ber.NULL, None), (ber.NO_SUCH_OBJECT, None), (ber.END_OF_MIB_VIEW, None),
])
def test_value_round_trip(tag, value):
    enc = pdu.encode_varbind(pdu.encode_oid((1, 3, 6)), tag, value)
    assert len(enc) % 4 == 0
    assert pdu.Reader(enc, True).varbind() == ((1, 3, 6), tag, value)


def test_response_decoding():
    raw = pdu.response(pdu.Header(pdu.GET, 0, 5, 6, 7, 0), pdu.PARSE_ERROR, 2)
    ((h, payload),) = list(pdu.Framer().feed(raw))
    assert (h.type, h.session_id, h.transaction_id, h.packet_id) == (pdu.RESPONSE, 5, 6, 7)
    assert pdu.decode_response(h, payload) == pdu.Response(0, pdu.PARSE_ERROR, 2, [])


@pytest.mark.parametrize("text,expected", [
    ("unix:/var/agentx/master", AgentXAddress("unix", path="/var/agentx/master")),
    ("/var/agentx/master", AgentXAddress("unix", path="/var/agentx/master")),
    ("tcp:127.0.0.1:705", AgentXAddress("tcp", host="127.0.0.1", port=705)),
    ("tcp:[::1]:705", AgentXAddress("tcp", host="::1", port=705)),
    ("tcp:master-1.example:705", AgentXAddress("tcp", host="master-1.example", port=705)),
])
def test_addresses(text, expected):
    assert parse_address(text) == expected
    assert parse_address(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "udp:127.0.0.1:705", "unix:relative/path", "tcp:127.0.0.1",
                                  "tcp:127.0.0.1:70000", "tcp::705", "tcp:a b:705", "unix:/x/"])
def test_garbage_addresses_are_refused(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_config_key():
    cfg = parse_config('[agent]\nagentx = "tcp:127.0.0.1:705"\n')
    assert cfg.agentx == AgentXAddress("tcp", host="127.0.0.1", port=705)
    assert parse_config("").agentx is None
    with pytest.raises(ConfigError) as err:
        parse_config('[agent]\nagentx = "udp:1.2.3.4:705"\n', "a.toml")
    assert str(err.value) == (
        "a.toml: agent.agentx: expected an AgentX address like 'unix:/var/agentx/master' or "
        "'tcp:127.0.0.1:705', found 'udp:1.2.3.4:705'")
    with pytest.raises(ConfigError, match="agent.agentx: expected a string, found 705"):
        parse_config("[agent]\nagentx = 705\n", "a.toml")
