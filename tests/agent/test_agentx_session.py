"""The AgentX session without I/O: the master's requests answered from the instrumentation the
standalone responder uses, the SET phases, contexts, and what a misbehaving master gets."""

from __future__ import annotations

import json
import struct

import pytest
from iec62379.agent import ber
from iec62379.agent.access import write_view
from iec62379.agent.agentx import pdu
from iec62379.agent.agentx.client import served_subtrees
from iec62379.agent.agentx.requests import Requests
from iec62379.agent.agentx.session import (
    SNMP_TRAP_OID_0,
    Closed,
    Notified,
    Opened,
    Registered,
    Session,
    State,
)
from iec62379.agent.instrum import MeasurementInstrum, SetError
from test_instrum import mibmap  # noqa: F401 - a fixture
from test_instrum import setup as instrum_setup  # noqa: F401 - a fixture

TREE = (1, 0, 62379, 7, 1)
NET = TREE + (1, 1, 1)
TXRX, SIP, IFINDEX = NET + (3,), NET + (9,), NET + (2,)
PORT = NET + (7, 1)
SID = 42


@pytest.fixture()
def sx(instrum_setup, mibmap):  # noqa: F811 - the fixtures imported above
    """The instrumentation tests' store, instrumentation and written-values file, with a
    session answering from them."""
    instrum, store, path = instrum_setup
    subtrees = served_subtrees(mibmap)
    session = Session(Requests(instrum, subtrees, write_view(mibmap)), subtrees)
    return session, instrum, store, path


def master_pdu(ptype: int, payload: bytes = b"", *, tid: int = 1, pid: int = 1, flags: int = 0,
               sid: int = SID, big: bool = True) -> bytes:
    flags |= pdu.NETWORK_BYTE_ORDER if big else 0
    o = ">" if big else "<"
    return struct.pack(o + "4B4I", 1, ptype, flags, 0, sid, tid, pid, len(payload)) + payload


def answers(session: Session, data: bytes) -> list[tuple[pdu.Header, pdu.Response | bytes]]:
    out = []
    for raw in session.receive(data):
        ((h, payload),) = list(pdu.Framer().feed(raw))
        out.append((h, pdu.decode_response(h, payload) if h.type == pdu.RESPONSE else payload))
    return out


def opened(session: Session) -> Session:
    """Open the session and answer its Open and Register PDUs as a master would."""
    ((h, _),) = list(pdu.Framer().feed(session.open()))
    ok = struct.pack(">IHH", 0, 0, 0)
    assert session.receive(master_pdu(pdu.RESPONSE, ok, pid=h.packet_id)) == []
    assert session.take_events() == [Opened(SID)]
    for raw in session.register_all():
        ((h, payload),) = list(pdu.Framer().feed(raw))
        assert h.type == pdu.REGISTER and h.session_id == SID
        session.receive(master_pdu(pdu.RESPONSE, ok, pid=h.packet_id))
    assert session.take_events() == [Registered(t, 0) for t in session.subtrees]
    return session


def ranges(*items: tuple[tuple[int, ...], bool, tuple[int, ...]]) -> bytes:
    return b"".join(pdu.encode_oid(s, inc) + pdu.encode_oid(e) for s, inc, e in items)


def test_registers_the_measurement_and_extension_trees_only(sx):
    from iec62379.agent.model import TABLES

    session = sx[0]
    ext = (1, 3, 6, 1, 4, 1, 32473, 62380)  # IEC62379-EXT-MIB: the tables that augment ours
    dvb = (1, 3, 6, 1, 4, 1, 2696, 3, 2, 1)  # DVB-MGTR101290-MIB's tr101290Objects
    # system, ifTable, snmp counters: the master's
    assert session.subtrees[0] == TREE
    rest = session.subtrees[1:]
    assert rest.count(dvb) == 1
    assert all(s[: len(ext)] == ext for s in rest if s != dvb)
    from iec62379.agent.alarms import ALARM_SCALARS

    # extTsInputTable, the alarm tables, the alarms' scalars
    ext_tables = sum(t.module == "IEC62379-EXT-MIB" for t in TABLES)
    assert len(session.subtrees) == (2 + sum(len(t.augments) for t in TABLES) + ext_tables
                                     + len(ALARM_SCALARS))
    opened(session)
    assert session.state is State.OPEN


def test_get_getnext_getbulk_agree_with_the_index(sx):
    session, instrum = opened(sx[0]), sx[1]
    snap = instrum.current()
    served = [(o, instrum.tags[i], instrum.getters[i](snap)) for i, o in enumerate(instrum.oids)
              if o[:5] == TREE]
    first, second = served[0], served[1]
    ((h, res),) = answers(session, master_pdu(pdu.GET, ranges(
        (first[0], False, ()), (IFINDEX + (99,), False, ()), (TREE + (9, 9), False, ()))))
    assert (h.session_id, h.transaction_id, h.packet_id) == (SID, 1, 1)
    assert res.varbinds == [first, (IFINDEX + (99,), ber.NO_SUCH_INSTANCE, None),
                            (TREE + (9, 9), ber.NO_SUCH_OBJECT, None)]
    # GetNext: include says whether the start itself is a candidate; end bounds the answer.
    ((_, res),) = answers(session, master_pdu(pdu.GET_NEXT, ranges(
        (first[0], True, ()), (first[0], False, ()), (first[0], False, second[0]),
        (TREE, False, TREE[:-1] + (2,)), ((1, 0, 62379, 8), False, ()))))
    # Past the measurement tree, the next registered subtree (the extension's tables).
    after = (1, 0, 62379, 8)
    registered = [(o, instrum.tags[i], instrum.getters[i](snap))
                  for i, o in enumerate(instrum.oids)
                  if any(o[: len(t)] == t for t in session.subtrees)]
    beyond = next((vb for vb in registered if vb[0] > after), (after, ber.END_OF_MIB_VIEW, None))
    assert res.varbinds == [first, second, (first[0], ber.END_OF_MIB_VIEW, None), first, beyond]
    # A walk by GetBulk gives every instance once, in order, in the same byte order as asked.
    walked, start = [], TREE
    while True:
        raw = master_pdu(pdu.GET_BULK, struct.pack("<HH", 0, 7) + b"".join(
            struct.pack("<4B", len(o), 0, 0, 0) + struct.pack(f"<{len(o)}I", *o)
            for o in (start, TREE[:-1] + (2,))), big=False)
        ((_, res),) = answers(session, raw)
        done = [vb for vb in res.varbinds if vb[1] != ber.END_OF_MIB_VIEW]
        walked += done
        if len(done) < len(res.varbinds) or not done:
            break
        start = done[-1][0]
    assert walked == served


def general(session: Session, raw: bytes) -> list[bytes]:
    """`session.receive` of `raw` in two reads: the Framer's path, never the GetNext one."""
    assert session.receive(raw[:7]) == []
    return session.receive(raw[7:])


def test_get_and_getnext_in_one_read_answer_the_same_bytes_as_the_general_path(sx, monkeypatch):
    session, instrum = opened(sx[0]), sx[1]
    instrum.current()
    fast_calls = []
    get_next_be = session.requests.get_next_be

    def spy(buf: bytes, at: int) -> bytes | None:
        fast_calls.append(at)
        return get_next_be(buf, at)

    monkeypatch.setattr(session.requests, "get_next_be", spy)
    get_calls = []
    get_be = session.requests.get_be

    def get_spy(buf: bytes, at: int) -> bytes | None:
        get_calls.append(at)
        return get_be(buf, at)

    monkeypatch.setattr(session.requests, "get_be", get_spy)
    oids = [o for o in instrum.oids if any(o[: len(t)] == t for t in session.subtrees)]
    # A walk: each GetNext starts at the name the previous answer gave.
    start, walked = TREE, []
    for pid in range(len(oids) + 2):
        raw = master_pdu(pdu.GET_NEXT, ranges((start, False, ())), pid=pid, tid=pid * 3)
        fast = session.receive(raw)
        assert fast == general(session, raw)
        ((h, res),) = answers(session, raw)
        assert (h.packet_id, h.transaction_id) == (pid, pid * 3)
        (vb,) = res.varbinds
        if vb[1] == ber.END_OF_MIB_VIEW:
            break
        walked.append(vb[0])
        start = vb[0]
    assert walked == oids
    # Include, ends, starts between instances, before and after the tree, several ranges,
    # a 1.3.6.1 prefix written out in full or compressed.
    odd = [
        ranges((oids[0], True, ())), ranges((oids[3], True, oids[4])),
        ranges((oids[3], False, oids[4])), ranges((oids[5] + (0,), False, ())),
        ranges((oids[-1], False, ())), ranges(((1, 0), False, ()), ((2,), False, ())),
        ranges((oids[1], False, oids[2]), (oids[2], True, ()), (TREE, False, TREE + (1,))),
        ranges(((1, 3, 6, 1, 4, 1), False, ())),
        struct.pack(">4B6I", 6, 0, 0, 0, 1, 3, 6, 1, 4, 1) + pdu.encode_oid(()),
        struct.pack(">4BI", 1, 4, 0, 0, 1) + pdu.encode_oid(()),  # 1.3.6.1.4.1 compressed
        struct.pack(">4B2I", 2, 0, 0, 7, *oids[0][:2]) + pdu.encode_oid(()),  # reserved 7
        b"",  # no range: an empty answer
    ]
    for payload in odd:
        raw = master_pdu(pdu.GET_NEXT, payload)
        assert session.receive(raw) == general(session, raw), payload
    # A Get of the same ranges: the starts only (include and end do not count for a Get).
    gets = odd + [ranges(*((o, False, ()) for o in oids[:40])),
                  ranges((oids[7], True, oids[2]), (TREE, False, ()), (IFINDEX + (99,), False, ()),
                         (TREE + (9, 9), False, ()), ((1, 3, 6, 1, 2, 1, 1, 1, 0), False, ()))]
    for payload in gets:
        raw = master_pdu(pdu.GET, payload)
        assert session.receive(raw) == general(session, raw), payload
    # Every one-read GetNext above took the fast path (two per step of the walk, its last
    # included), but the one without a range (a bare header); the two-read ones did not.
    assert len(fast_calls) == 2 * (len(walked) + 1) + len(odd) - 1
    assert len(get_calls) == len(gets) - 1  # and the Gets, but the one without a range


@pytest.mark.parametrize("ptype", [pdu.GET_NEXT, pdu.GET])
@pytest.mark.parametrize("payload", [
    b"\x05\x00\x00\x00" + b"\0" * 4,  # a start of 5 sub-ids, 1 there
    pdu.encode_oid(TREE),  # no end
    pdu.encode_oid(TREE) + b"\x09\x00\x00\x00",  # an end of 9 sub-ids, none there
    struct.pack(">4B", 129, 0, 0, 0) + b"\0" * 516 + pdu.encode_oid(()),  # 129 sub-ids
    pdu.encode_oid(TREE) + pdu.encode_oid(()) + b"\x01\x00\x00\x00",  # a third OID, cut
])
def test_a_malformed_get_or_getnext_in_one_read_is_a_parse_error(sx, ptype, payload):
    session = opened(sx[0])
    ((h, body),) = answers(session, master_pdu(ptype, payload))
    assert h.type == pdu.CLOSE and body[0] == pdu.REASON_PARSE_ERROR
    assert session.state is State.CLOSED


def test_getbulk_non_repeaters_and_repetitions(sx):
    session, instrum = opened(sx[0]), sx[1]
    instrum.current()
    oids = [o for o in instrum.oids if any(o[: len(t)] == t for t in session.subtrees)]
    ((_, res),) = answers(session, master_pdu(pdu.GET_BULK, struct.pack(">HH", 1, 3) + ranges(
        (TREE, False, ()), (IFINDEX, False, ()), (oids[-1], False, ()))))
    names = [vb[0] for vb in res.varbinds]
    i = oids.index(IFINDEX + (1,))
    assert names[0] == oids[0]
    assert names[1:3] == [IFINDEX + (1,), oids[-1]]  # repetition 1 of the two repeaters
    assert res.varbinds[2][1] == ber.END_OF_MIB_VIEW
    assert names[3] == oids[i + 1] and names[5] == oids[i + 2] and len(names) == 7


def test_non_default_context_is_refused(sx):
    session = opened(sx[0])
    ctx = pdu.encode_octets(b"other")
    for ptype, payload in ((pdu.GET, ranges((TREE, False, ()))),
                           (pdu.TEST_SET, b""), (pdu.GET_BULK, b"\0\0\0\1")):
        ((_, res),) = answers(session, master_pdu(ptype, ctx + payload,
                                                  flags=pdu.NON_DEFAULT_CONTEXT))
        assert res.error == pdu.UNSUPPORTED_CONTEXT
    assert session.state is State.OPEN


def test_requests_before_open_or_for_another_session_get_not_open(sx):
    session = sx[0]
    session.open()  # the master has not answered it yet
    ((_, res),) = answers(session, master_pdu(pdu.GET, ranges((TREE, False, ()))))
    assert res.error == pdu.NOT_OPEN
    session = opened(Session(session.requests, session.subtrees))
    ((_, res),) = answers(session, master_pdu(pdu.GET, ranges((TREE, False, ())), sid=SID + 1))
    assert res.error == pdu.NOT_OPEN


@pytest.mark.parametrize("garbage", [
    b"\x02" + b"\0" * 19,  # version 2
    master_pdu(pdu.GET)[:19] + b"\x03" + b"\0" * 3,  # payload length 3
    master_pdu(pdu.GET, b"\x05\x00\x00\x00" + b"\0" * 4),  # OID of 5 sub-ids, 1 there
    master_pdu(pdu.TEST_SET, struct.pack(">HH", 77, 0) + pdu.encode_oid(TREE)),  # value type
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_garbage_closes_the_session_with_parse_error(sx, garbage):
    session = opened(sx[0])
    out = answers(session, garbage)
    assert [h.type for h, _ in out] == [pdu.CLOSE]
    assert out[0][1][0] == pdu.REASON_PARSE_ERROR
    assert session.state is State.CLOSED
    (event,) = session.take_events()
    assert isinstance(event, Closed) and event.reason == pdu.REASON_PARSE_ERROR
    assert session.receive(master_pdu(pdu.GET, ranges((TREE, False, ())))) == []


def test_a_pdu_the_master_never_sends_is_a_protocol_error(sx):
    session = opened(sx[0])
    ((h, payload),) = answers(session, master_pdu(pdu.REGISTER, pdu.register_payload(TREE)))
    assert h.type == pdu.CLOSE and payload[0] == pdu.REASON_PROTOCOL_ERROR


def test_master_close_ends_the_session(sx):
    session = opened(sx[0])
    assert session.receive(master_pdu(pdu.CLOSE, pdu.close_payload(pdu.REASON_SHUTDOWN))) == []
    assert session.take_events() == [Closed(pdu.REASON_SHUTDOWN, True)]
    assert session.state is State.CLOSED


def set_payload(*vbs: tuple[tuple[int, ...], int, object]) -> bytes:
    return b"".join(pdu.encode_varbind(pdu.encode_oid(o), t, v) for o, t, v in vbs)


def standalone_status(instrum: MeasurementInstrum, vbs) -> int:
    try:
        instrum.check_set(list(vbs), lambda i, o: True)
    except SetError as exc:
        return exc.status
    return 0


@pytest.mark.parametrize("vbs,status,index", [
    ([(IFINDEX + (1,), ber.INTEGER, 5)], 17, 1),  # notWritable
    ([(TXRX + (1,), ber.OCTET_STRING, b"yes")], 7, 1),  # wrongType
    ([(TXRX + (1,), ber.INTEGER, 3)], 10, 1),  # wrongValue
    ([(SIP + (1,), ber.OCTET_STRING, b"\1\2\3")], 8, 1),  # wrongLength
    ([(SIP + (99,), ber.OCTET_STRING, b"\x0a\0\0\1")], 11, 1),  # noCreation
    ([(SIP + (1,), ber.OCTET_STRING, b"\x0a\0\0\1"), (TXRX + (1,), ber.INTEGER, 7)], 10, 2),
])
def test_testset_errors_are_the_standalone_agents(sx, vbs, status, index):
    session, instrum, store, path = sx
    opened(session)
    before = store.snapshot
    ((_, res),) = answers(session, master_pdu(pdu.TEST_SET, set_payload(*vbs)))
    assert (res.error, res.index) == (status, index)
    assert standalone_status(instrum, vbs) == status
    ((_, res),) = answers(session, master_pdu(pdu.COMMIT_SET))  # nothing was tested fine
    assert res.error == 14  # commitFailed
    assert answers(session, master_pdu(pdu.CLEANUP_SET)) == []
    assert store.snapshot is before and not path.exists()


def test_set_phases_commit_persist_undo(sx):
    session, _instrum, store, path = sx
    opened(session)
    vbs = [(SIP + (1,), ber.OCTET_STRING, b"\x0a\0\0\1"), (TXRX + (6,), ber.INTEGER, 1)]
    ((_, res),) = answers(session, master_pdu(pdu.TEST_SET, set_payload(*vbs), tid=5))
    assert res.error == 0
    assert store.snapshot.network[(1,)].sip_server != b"\x0a\0\0\1"  # tested, not applied
    ((_, res),) = answers(session, master_pdu(pdu.COMMIT_SET, tid=5))
    assert res.error == 0
    snap = store.snapshot
    assert snap.network[(1,)].sip_server == b"\x0a\0\0\1" and snap.network[(6,)].rx_point
    saved = json.loads(path.read_text())["network"]
    assert saved["1"]["sip_server"] == "0a000001" and saved["6"]["rx_point"] is True
    # Another subagent's commit failed: the master undoes ours.
    ((_, res),) = answers(session, master_pdu(pdu.UNDO_SET, tid=5))
    assert res.error == 0
    snap = store.snapshot
    assert snap.network[(1,)].sip_server != b"\x0a\0\0\1" and not snap.network[(6,)].rx_point
    assert json.loads(path.read_text())["network"]["6"]["rx_point"] is False
    assert answers(session, master_pdu(pdu.CLEANUP_SET, tid=5)) == []


def test_notify_carries_the_trap_oid_first(sx):
    session = opened(sx[0])
    trap = (1, 3, 6, 1, 4, 1, 32473, 62379, 0, 1)
    raw = session.notify(3, trap, [(NET + (2, 1), ber.INTEGER, 1)])
    ((h, payload),) = list(pdu.Framer().feed(raw))
    assert h.type == pdu.NOTIFY and h.session_id == SID
    assert pdu.Reader(payload, True).varbinds() == [
        (SNMP_TRAP_OID_0, ber.OBJECT_IDENTIFIER, trap), (NET + (2, 1), ber.INTEGER, 1)]
    session.receive(master_pdu(pdu.RESPONSE, struct.pack(">IHH", 0, 0, 0), pid=h.packet_id))
    assert session.take_events() == [Notified(3, 0)]


def test_a_slow_writer_never_delays_an_answer(sx):
    """A collector in the middle of a long store transaction holds the store's lock; answers
    come from the published snapshot and do not wait for it."""
    import threading
    from dataclasses import replace

    from iec62379.agent.model import NetworkBlock

    session, _instrum, store, _path = opened(sx[0]), *sx[1:]
    inside, release = threading.Event(), threading.Event()

    def slow_collector() -> None:
        with store.transaction() as t:
            inside.set()
            release.wait(10)
            t.put(replace(t.get(NetworkBlock, (1,)), port=5002))

    writer = threading.Thread(target=slow_collector)
    writer.start()
    try:
        assert inside.wait(5)
        ((_, res),) = answers(session, master_pdu(pdu.GET, ranges((PORT, False, ()))))
        assert res.varbinds[0][2] == 5000  # answered from the snapshot, lock held
    finally:
        release.set()
        writer.join(10)
    ((_, res),) = answers(session, master_pdu(pdu.GET, ranges((PORT, False, ()))))
    assert res.varbinds[0][2] == 5002  # the new snapshot once published


def test_the_connection_times_out_by_the_kernel_not_by_poll():
    import socket
    import time

    from iec62379.agent.agentx.client import idle_timeout

    a, b = socket.socketpair()
    try:
        idle_timeout(a, 2.5)
        assert a.gettimeout() is None  # a blocking socket: recv and send without a poll
        tv = struct.Struct("@ll")
        assert tv.unpack(a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv.size)) == (
            2, 500000)
        assert tv.unpack(a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv.size)) == (
            2, 500000)
        idle_timeout(a, 0.05)
        b.sendall(b"x")
        assert a.recv(10) == b"x"
        t0 = time.monotonic()
        with pytest.raises(BlockingIOError):
            a.recv(10)
        assert time.monotonic() - t0 < 5.0
        idle_timeout(a, 0.0)  # not "forever": the shortest timeout there is
        assert tv.unpack(a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv.size))[1] > 0
    finally:
        a.close()
        b.close()
