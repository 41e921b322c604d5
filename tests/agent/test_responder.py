"""The v1/v2c responder in-process (no UDP), checked against pysnmp's own BER codec and against
an independent walk of the instrumentation's sorted index."""

from __future__ import annotations

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from iec62379.agent import access, ber
from iec62379.agent.hostmib import EngineCounters, HostMib, Interface, SnmpCounters
from iec62379.agent.instrum import MeasurementInstrum
from iec62379.agent.mibmap import MibMap
from iec62379.agent.persist import WrittenValues
from iec62379.agent.responder import Community, Responder
from iec62379.agent.store import BlockStore
from iec62379.collectors.settings import load_settings
from iec62379.mibs.index import load_index
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api, rfc1902, rfc1905

NET = (1, 0, 62379, 7, 1, 1, 1, 1)
TXRX = NET + (3,)
SIP = NET + (9,)
LOCAL = ("127.0.0.1", 40000)


def _iface(index: int, name: str) -> Interface:
    return Interface(index, name, 1500, 1000, True, b"\x02\x00\x00\x00\x00\x01", 2**40, 5, 0, 0,
                     2**33 + 7, 9, 0, 0, name == "lo")


@pytest.fixture(scope="module")
def mib_index():
    return load_index()


def static_agent(mib_index, tmp_path, engine: EngineCounters | None = None) -> tuple[
        Responder, BlockStore, SnmpCounters]:
    """A responder over examples/static-blocks.toml's rows, two interfaces and the engine's
    counters (`engine`, or one made here), with three communities."""
    mibmap = MibMap(mib_index)
    cfg = load_settings(REPO / "examples" / "static-blocks.toml").agent
    store = BlockStore()
    with store.transaction() as t:
        t.put(*cfg.blocks)
    host = HostMib(mib_index, cfg.system, read=lambda: [_iface(1, "lo"), _iface(2, "eth0")],
                   clock=lambda: 100.0)
    host.refresh()
    counters = engine.counters if engine else SnmpCounters()
    instrum = MeasurementInstrum(store, mibmap, providers=[host],
                                 on_write=WrittenValues.load(tmp_path / "w.json").record)
    instrum.providers.append(engine or EngineCounters(mib_index, counters, b"\x80\x00\x01", 3,
                                                      clock=lambda: 100.0))
    communities = [
        Community("public", "listener"),
        Community("private", "supervisor"),
        Community("lan", "listener", ("10.0.0.0/8",)),
    ]
    r = Responder(instrum, communities, access.read_view(mibmap), access.write_view(mibmap),
                  counters)
    return r, store, counters


@pytest.fixture()
def agent(mib_index, tmp_path):
    return static_agent(mib_index, tmp_path)


def request(version: int, pdu_kind: str, oids, community: str = "public", values=None,
            non_repeaters: int = 0, max_repetitions: int = 10, request_id: int = 4242) -> bytes:
    """A request encoded by pysnmp (an independent codec)."""
    mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_1 if version == 0 else api.SNMP_VERSION_2C]
    pdu = {"get": mod.GetRequestPDU, "next": mod.GetNextRequestPDU, "set": mod.SetRequestPDU,
           "bulk": getattr(mod, "GetBulkRequestPDU", None)}[pdu_kind]()
    (mod.apiBulkPDU if pdu_kind == "bulk" else mod.apiPDU).set_defaults(pdu)
    mod.apiPDU.set_request_id(pdu, request_id)
    if pdu_kind == "bulk":
        mod.apiBulkPDU.set_non_repeaters(pdu, non_repeaters)
        mod.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    vals = values or [mod.null] * len(oids)
    mod.apiPDU.set_varbinds(pdu, [(o, v) for o, v in zip(oids, vals, strict=True)])
    msg = mod.Message()
    mod.apiMessage.set_defaults(msg)
    mod.apiMessage.set_community(msg, community)
    mod.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def response(data: bytes, version: int = 1):
    """(request-id, error-status, error-index, [(oid, value)]) decoded by pysnmp."""
    mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_1 if version == 0 else api.SNMP_VERSION_2C]
    msg, rest = decoder.decode(data, asn1Spec=mod.Message())
    assert not rest
    pdu = mod.apiMessage.get_pdu(msg)
    vbs = [(tuple(o), v) for o, v in mod.apiPDU.get_varbinds(pdu)]
    return (int(mod.apiPDU.get_request_id(pdu)), int(mod.apiPDU.get_error_status(pdu)),
            int(mod.apiPDU.get_error_index(pdu)), vbs)


# --- BER ------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=12), st.integers(0, 2),
       st.integers(0, 39))
def test_oid_round_trip_and_agrees_with_pyasn1(rest, first, second):
    oid = (first, second, *rest)
    enc = ber.encode_oid(oid)
    assert enc == encoder.encode(rfc1902.ObjectName(oid))
    assert ber.decode_oid(enc[2:] if enc[1] < 0x80 else enc[3:]) == oid


@given(st.integers(-(2**31), 2**31 - 1))
def test_integer_encoding_agrees_with_pyasn1(v):
    assert ber.encode_value(ber.INTEGER, v) == encoder.encode(rfc1902.Integer32(v))


@given(st.integers(0, 2**64 - 1))
def test_unsigned_encodings_agree_with_pyasn1(v):
    assert ber.encode_value(ber.COUNTER64, v) == encoder.encode(rfc1902.Counter64(v))
    if v < 2**32:
        assert ber.encode_value(ber.GAUGE32, v) == encoder.encode(rfc1902.Gauge32(v))
        assert ber.encode_value(ber.TIMETICKS, v) == encoder.encode(rfc1902.TimeTicks(v))


def test_long_octet_strings_use_long_lengths():
    for n in (0, 127, 128, 255, 256, 70000):
        expected = encoder.encode(univ.OctetString(b"x" * n))
        assert ber.encode_value(ber.OCTET_STRING, b"x" * n) == expected


def test_decode_a_request_made_by_pysnmp():
    data = request(1, "set", [TXRX + (1,)], community="private", values=[rfc1902.Integer32(1)])
    m = ber.decode_message(data)
    assert (m.version, m.community, m.pdu_type, m.request_id) == (1, b"private", ber.SET, 4242)
    assert m.varbinds == [(TXRX + (1,), ber.INTEGER, 1)]


@pytest.mark.parametrize("cut", [1, 2, 5, 10, 20, -1])
def test_truncated_messages_raise_ber_error(cut):
    data = request(1, "get", [NET + (2, 1)])
    with pytest.raises(ber.BerError):
        ber.decode_message(data[:cut])


@pytest.mark.parametrize("data,why", [
    (b"", "truncated"),
    (b"\x30\x80\x02\x01\x01", "indefinite"),
    (b"\x30\x85\x00\x00\x00\x00\x01", "bad length"),
    (b"\x30\x03\x02\x01\x01\x00", "after the message"),
    (b"\x04\x00", "expected tag 0x30"),
    (b"\x30\x03\x02\x00", "runs past"),
])
def test_malformed_messages_say_what_is_wrong(data, why):
    with pytest.raises(ber.BerError, match=why):
        ber.decode_message(data)


# --- the responder --------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_never_raises_and_is_counted(data):
    counters = SnmpCounters()
    # A responder over an empty store is enough: garbage never gets past decoding.
    r = Responder.__new__(Responder)
    r.counters, r.v3, r._principals, r.max_size = counters, None, {}, 65507
    assert r.handle(data, LOCAL) is None
    assert counters.in_pkts == 1
    c = counters
    assert c.in_asn_parse_errs + c.in_bad_versions + c.in_bad_community_names == 1


def test_mutated_requests_never_raise(agent):
    r, _, counters = agent
    base = request(1, "bulk", [NET, SIP], max_repetitions=5)
    for i in range(len(base)):
        for b in (0x00, 0x7F, 0x80, 0xFF):
            data = base[:i] + bytes([b]) + base[i + 1:]
            out = r.handle(data, LOCAL)
            assert out in (None, b"") or ber.decode_message(out).pdu_type == ber.RESPONSE
    assert counters.silent_drops == 0  # no request got as far as an internal error


def test_get_values_types_and_exceptions(agent):
    r, _, _ = agent
    rid, status, index, vbs = response(r.handle(request(1, "get", [
        NET + (6, 1),                    # nMtTxRxAddr.1
        (1, 0, 62379, 7, 1, 4, 1, 1, 6, 4),  # rxPointMDI.4
        NET + (2, 99),                   # a column that exists, a row that does not
        (1, 3, 6, 1, 4, 1, 99999, 1),    # nothing at all
        (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 2),  # ifHCInOctets.2: Counter64
    ]), LOCAL))
    assert (rid, status, index) == (4242, 0, 0)
    assert bytes(vbs[0][1]) == bytes([239, 1, 1, 1])
    assert bytes(vbs[1][1]) == b"4.25:0.00"
    assert vbs[2][1].tagSet == rfc1905.noSuchInstance.tagSet
    assert vbs[3][1].tagSet == rfc1905.noSuchObject.tagSet
    assert int(vbs[4][1]) == 2**40 and vbs[4][1].tagSet == rfc1902.Counter64.tagSet


def test_v1_get_of_counter64_and_missing_is_no_such_name(agent):
    r, _, _ = agent
    _, status, index, vbs = response(r.handle(request(0, "get", [
        NET + (2, 1), (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 2)]), LOCAL), version=0)
    assert (status, index) == (2, 2)  # noSuchName at the second varbind
    assert len(vbs) == 2  # v1 errors echo the request's varbinds


# The pysnmp value class of each BER tag the agent serves (for the independent walk).
PYSNMP_TYPES = {
    ber.INTEGER: rfc1902.Integer32,
    ber.OCTET_STRING: rfc1902.OctetString,
    ber.OBJECT_IDENTIFIER: rfc1902.ObjectIdentifier,
    ber.IP_ADDRESS: rfc1902.IpAddress,
    ber.COUNTER32: rfc1902.Counter32,
    ber.GAUGE32: rfc1902.Gauge32,
    ber.TIMETICKS: rfc1902.TimeTicks,
    ber.OPAQUE: rfc1902.Opaque,
    ber.COUNTER64: rfc1902.Counter64,
}


def test_getbulk_walk_equals_a_walk_of_the_index(agent):
    """Everything a GETBULK walk returns equals what a plain walk of the instrumentation's
    index returns (every instance in order that has a value), as pysnmp renders both."""
    r, _, _ = agent
    fast, name = [], (1, 0)
    for _ in range(500):
        data = r.handle(request(1, "bulk", [name], max_repetitions=37), LOCAL)
        _, status, _, vbs = response(data)
        assert status == 0
        done = False
        for oid, v in vbs:
            if v.tagSet == rfc1905.endOfMibView.tagSet:
                done = True
                break
            fast.append((oid, v.prettyPrint(), v.tagSet))
        if done:
            break
        name = vbs[-1][0]
    ins = r.instrum
    snap = ins.current()
    slow = []
    for oid, tag, getter in zip(ins.oids, ins.tags, ins.getters, strict=True):
        value = getter(snap)
        if value is not None:
            v = PYSNMP_TYPES[tag](value)
            slow.append((oid, v.prettyPrint(), v.tagSet))
    assert len(fast) > 100
    # Counters tick between the two walks (snmpInPkts): compare all else exactly.
    counters = {o for o, _, _ in slow if o[:7] == (1, 3, 6, 1, 2, 1, 11)}
    assert [x for x in fast if x[0] not in counters] == [x for x in slow if x[0] not in counters]
    assert [x[0] for x in fast] == [x[0] for x in slow]


def test_v1_getnext_skips_counter64(agent):
    r, _, _ = agent
    ifhc = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)
    _, status, _, vbs = response(r.handle(request(0, "next", [ifhc]), LOCAL), version=0)
    assert status == 0 and vbs[0][1].tagSet != rfc1902.Counter64.tagSet
    assert vbs[0][0][:11] != ifhc and vbs[0][0] > ifhc + (99,)
    _, status, _, vbs = response(r.handle(request(1, "next", [ifhc]), LOCAL))
    assert vbs[0][0] == ifhc + (1,)


def test_getbulk_non_repeaters_and_end_of_view(agent):
    r, _, _ = agent
    last = (1, 3, 6, 1, 6, 3, 15, 1, 1, 6)  # after usmStats: nothing more is served
    _, status, _, vbs = response(r.handle(request(
        1, "bulk", [(1, 3, 6, 1, 2, 1, 1, 3), last, NET + (2,)], non_repeaters=1,
        max_repetitions=3), LOCAL))
    assert status == 0
    assert vbs[0][0] == (1, 3, 6, 1, 2, 1, 1, 3, 0)  # sysUpTime.0, once
    # then 3 repetitions of (endOfMibView for `last`, the next nMtIfIndex ...)
    assert [v.tagSet == rfc1905.endOfMibView.tagSet for _, v in vbs[1::2]] == [True] * 3
    assert [o for o, _ in vbs[2::2]] == [NET + (2, 1), NET + (2, 6), NET + (2, 7)]


def test_getbulk_is_bounded_by_the_message_size(agent):
    r, _, _ = agent
    r.max_size = 1400
    data = r.handle(request(1, "bulk", [(1, 0)], max_repetitions=2**31 - 1), LOCAL)
    assert len(data) <= 1400
    _, status, _, vbs = response(data)
    assert status == 0 and 10 < len(vbs) < 100


def test_get_too_big(agent):
    r, _, _ = agent
    r.max_size = 200
    _, status, _, vbs = response(r.handle(request(1, "get", [NET + (6, 1)] * 20), LOCAL))
    assert status == 1 and vbs == []  # tooBig, empty varbinds


def test_unknown_community_and_disallowed_source_get_no_answer(agent):
    r, _, counters = agent
    assert r.handle(request(1, "get", [NET + (2, 1)], community="nope"), LOCAL) is None
    assert r.handle(request(1, "get", [NET + (2, 1)], community="lan"), LOCAL) is None
    assert counters.in_bad_community_names == 2
    lan = request(1, "get", [NET + (2, 1)], community="lan")
    assert r.handle(lan, ("10.1.2.3", 161)) is not None


def test_v3_without_users_is_a_bad_version(agent):
    r, _, counters = agent
    v3 = bytes.fromhex("3011020103300c02020101020205dc0401040201030400")  # a v3 header
    assert r.handle(v3, LOCAL) is None
    assert (counters.in_pkts, counters.in_bad_versions) == (1, 1)


def test_set_by_a_read_only_community_is_no_access_and_counted(agent):
    r, store, counters = agent
    before = store.snapshot.network
    _, status, index, _ = response(r.handle(request(
        1, "set", [SIP + (1,)], values=[rfc1902.OctetString(b"\x0a\x00\x00\x01")]), LOCAL))
    assert (status, index) == (6, 1)
    assert counters.in_bad_community_uses == 1
    assert store.snapshot.network == before


@pytest.mark.parametrize("version,value,status", [
    (1, rfc1902.Integer32(3), 10),  # wrongValue
    (0, rfc1902.Integer32(3), 3),  # v1: badValue
    (1, rfc1902.OctetString(b"x"), 7),  # wrongType
    (0, rfc1902.OctetString(b"x"), 3),  # v1: badValue
])
def test_set_errors_per_version(agent, version, value, status):
    r, store, _ = agent
    before = store.snapshot.network
    _, st_, index, vbs = response(r.handle(request(
        version, "set", [TXRX + (1,)], community="private", values=[value]), LOCAL),
        version=version)
    assert (st_, index) == (status, 1)
    assert store.snapshot.network == before


def test_set_applies_and_echoes(agent):
    r, store, _ = agent
    _, status, _, vbs = response(r.handle(request(
        1, "set", [SIP + (1,), TXRX + (6,)], community="private",
        values=[rfc1902.OctetString(b"\x0a\x00\x00\x09"), rfc1902.Integer32(1)]), LOCAL))
    assert status == 0 and bytes(vbs[0][1]) == b"\x0a\x00\x00\x09"
    assert store.snapshot.network[(1,)].sip_server == b"\x0a\x00\x00\x09"
    assert store.snapshot.network[(6,)].rx_point is True


def test_counters_are_served(agent):
    r, _, counters = agent
    r.handle(b"garbage", LOCAL)
    _, _, _, vbs = response(r.handle(request(1, "get", [
        (1, 3, 6, 1, 2, 1, 11, 1, 0), (1, 3, 6, 1, 2, 1, 11, 6, 0),
        (1, 3, 6, 1, 6, 3, 10, 2, 1, 2, 0)]), LOCAL))
    assert [int(v) for _, v in vbs[:2]] == [2, 1]  # snmpInPkts, snmpInASNParseErrs
    assert int(vbs[2][1]) == 3  # snmpEngineBoots


def raw_request(pdu: int, oid_tlv: bytes, value: bytes = b"\x05\x00", community: bytes = b"public",
                version: int = 1) -> bytes:
    """A request built by hand, for OIDs no codec would encode."""
    body = (ber.encode_int(9) + ber.encode_int(0) + ber.encode_int(0)
            + ber.tlv(ber.SEQUENCE, ber.tlv(ber.SEQUENCE, oid_tlv + value)))
    return ber.tlv(ber.SEQUENCE, ber.encode_int(version) + ber.tlv(ber.OCTET_STRING, community)
                   + ber.tlv(pdu, body))


@pytest.mark.parametrize("oid_tlv,value", [
    (ber.encode_oid((1, 3, 6, 1, 2**32)), b"\x05\x00"),  # an arc >= 2^32
    (ber.encode_oid((2, 2**32 - 1 + 1)), b"\x05\x00"),  # 2.(2^32): first sub-identifier fits
    (ber.encode_oid((1, 3) + (1,) * 127), b"\x05\x00"),  # 129 sub-identifiers
    (ber.encode_oid(NET + (2, 1)), ber.encode_oid((1, 3, 2**40))),  # in the value
])
def test_invalid_oids_are_dropped_and_counted_as_parse_errors(agent, oid_tlv, value):
    """RFC 2578 7.1.3 bounds an OID (128 arcs, each < 2^32); snmpd drops a request that breaks
    them and counts snmpInASNParseErrs, and so do we (it was echoed back, malformed)."""
    r, _, counters = agent
    for pdu in (ber.GET, ber.GET_NEXT, ber.SET):
        assert r.handle(raw_request(pdu, oid_tlv, value), LOCAL) is None
    assert counters.in_asn_parse_errs == 3 and counters.silent_drops == 0


def test_oid_of_128_arcs_with_the_largest_arc_is_answered(agent):
    r, _, counters = agent
    oid = (1, 3) + (2**32 - 1,) * 126
    _, status, _, vbs = response(r.handle(raw_request(ber.GET, ber.encode_oid(oid)), LOCAL))
    assert status == 0 and vbs[0][0] == oid and vbs[0][1].tagSet == rfc1905.noSuchObject.tagSet
    assert counters.in_asn_parse_errs == 0


@pytest.mark.parametrize(
    "oid", [(1, 3, 6, 1, 2, 1, 1, 1), (1, 3, 6, 1, 2, 1, 1, 1, 0, 1), NET + (2,)])
def test_get_of_an_object_type_or_below_an_instance_is_no_such_instance(agent, oid):
    r, _, _ = agent
    _, status, _, vbs = response(r.handle(request(1, "get", [oid]), LOCAL))
    assert status == 0 and vbs[0][1].tagSet == rfc1905.noSuchInstance.tagSet


@pytest.mark.parametrize("version,oid,status", [
    (1, (1, 0, 62379, 7, 1, 9, 9, 0), 17),  # notWritable: nothing there
    (1, NET + (1, 1), 17),  # notWritable: nMtBlockId.1, not-accessible
    (1, NET + (2, 1), 17),  # notWritable: nMtIfIndex.1, read-only
    (1, TXRX + (99,), 11),  # noCreation: a writable column, no such row
    (0, (1, 0, 62379, 7, 1, 9, 9, 0), 2),  # v1: noSuchName (RFC 2576 4.3)
])
def test_set_of_what_cannot_be_written(agent, version, oid, status):
    r, store, _ = agent
    before = store.snapshot
    _, st_, index, _ = response(r.handle(request(
        version, "set", [oid], community="private", values=[rfc1902.Integer32(1)]), LOCAL),
        version=version)
    assert (st_, index) == (status, 1)
    assert store.snapshot is before
