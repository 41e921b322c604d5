"""SNMPv3 in-process (no UDP): the message layer and USM (agent/v3.py) in front of the one
request path, checked with an independent client (v3client.py): discovery, reports and their
counters, the time window, security levels, contexts, msgMaxSize, the same answers as v2c, and
malformed or mutated datagrams."""

from __future__ import annotations

import logging
import random

import pytest
from iec62379.agent import ber
from iec62379.agent.config import User
from iec62379.agent.hostmib import EngineCounters, SnmpCounters
from iec62379.agent.v3 import V3Layer
from pysnmp.proto import rfc1902, rfc1905
from test_responder import mib_index, static_agent  # noqa: F401 - mib_index is a fixture
from v3client import Client, pdu

ENGINE = bytes.fromhex("80007ed9050102030405060708")
LOCAL = ("127.0.0.1", 40000)
NET = (1, 0, 62379, 7, 1, 1, 1, 1)
SIP = NET + (9,)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
# The two malformed datagrams of issue 13 (indefinite length; an 8-octet length).
ISSUE_EXAMPLES = [
    "303e0201033080020400000001020300ffe30401040201030410300e0400020100020100040004000400301404"
    "000400a00e0204000000010201000201003000",
    "30460201033011020400000001020300ffe30401040201030410300e0400020100020100040004000400301c04"
    "000488ffffffffffffffffa00e0204000000010201000201003000",
]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def agent(mib_index, tmp_path):  # noqa: F811 - the imported fixture
    clock = Clock()
    engine = EngineCounters(mib_index, SnmpCounters(), ENGINE, 5, clock=clock, v3=True)
    r, store, counters = static_agent(mib_index, tmp_path, engine)
    users = [
        User("supervisor", "supervisor", "sha256", "example-auth-key", "aes128",
             "example-priv-key"),
        User("monitor", "listener", "sha", "example-auth-key", "aes128", "example-priv-key"),
        User("authonly", "listener", "md5", "example-auth-key", "none"),
        User("anon", "listener", "none", "", "none"),
    ]
    r.v3 = V3Layer(r, engine, users, 65507)
    return r, counters, clock, store


def synced(r, client: Client) -> Client:
    """The client after discovery (as net-snmp does it: an empty noAuthNoPriv GET)."""
    client.engine_id = b""
    rep = client.decode(r.handle(client.message(pdu("get", []), level=0, engine_id=b"",
                                                user=b""), LOCAL))
    assert rep.pdu_type == "report" and rep.engine_id == ENGINE
    return client


def stat(rep, name: tuple[int, ...]) -> int:
    ((oid, value),) = rep.varbinds
    assert oid == name
    return int(value)


def test_discovery_reports_the_engine_id_boots_and_time(agent):
    r, counters, clock, _ = agent
    clock.now += 42
    c = Client("supervisor", b"")
    rep = c.decode(r.handle(c.message(pdu("get", [], request_id=9), level=0, user=b""), LOCAL))
    assert (rep.pdu_type, rep.flags, rep.request_id) == ("report", 0, 9)
    assert (rep.engine_id, rep.boots, rep.time) == (ENGINE, 5, 42)
    assert stat(rep, USM_STATS + (4, 0)) == counters.usm_unknown_engine_ids == 1


def test_authpriv_get_after_discovery(agent):
    r, counters, _, _ = agent
    c = synced(r, Client("supervisor", b""))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME], request_id=31)), LOCAL))
    assert (rep.pdu_type, rep.flags & 3, rep.request_id, rep.error_status) == ("response", 3, 31, 0)
    assert bytes(rep.varbinds[0][1]) == b"decoder-1"
    assert counters.in_pkts == 2 and counters.in_asn_parse_errs == 0


@pytest.mark.parametrize("kind,oids,extra", [
    ("get", [SYS_NAME, NET + (6, 1), NET + (2, 99), (1, 3, 6, 1, 4, 1, 99999, 1)], {}),
    ("next", [NET, (1, 3, 6, 1, 2, 1, 2, 2, 1, 10), USM_STATS + (6, 0)], {}),
    ("bulk", [(1, 3, 6, 1, 2, 1, 1, 3), USM_STATS + (5,), NET + (2,)],
     {"non_repeaters": 1, "max_repetitions": 4}),  # past the end: endOfMibView once
    ("bulk", [NET], {"max_repetitions": 0}),  # no repetitions: an empty Response
    ("bulk", [], {"max_repetitions": 10}),  # no varbinds: an empty Response
    ("bulk", [(1, 0)], {"max_repetitions": 1500}),  # capped as v2c caps it
])
def test_v2c_and_v3_answer_the_same(agent, kind, oids, extra):
    from test_responder import request, response

    r, _, _, _ = agent
    c = synced(r, Client("monitor", b"", auth="sha"))
    _, status, index, v2 = response(r.handle(request(1, kind, oids, **extra), LOCAL))
    rep = c.decode(r.handle(c.message(pdu(kind, oids, **extra)), LOCAL))
    assert rep.pdu_type == "response"
    assert (rep.error_status, rep.error_index) == (status, index)
    counters = (1, 3, 6, 1, 2, 1, 11)  # snmpInPkts ticks between the two

    def shown(vbs):
        return [(o, v.prettyPrint(), v.tagSet) for o, v in vbs if o[:7] != counters]

    assert shown(rep.varbinds) == shown(v2)
    if kind == "bulk" and not extra.get("max_repetitions") or not oids:
        assert v2 == []


def test_v3_bulk_past_the_end_stops_after_one_end_of_mib_view(agent):
    r, _, _, _ = agent
    c = synced(r, Client("monitor", b"", auth="sha"))
    rep = c.decode(r.handle(c.message(pdu("bulk", [USM_STATS + (6, 0)], max_repetitions=50)),
                            LOCAL))
    assert len(rep.varbinds) == 1 and rep.varbinds[0][1].tagSet == rfc1905.endOfMibView.tagSet


def test_wrong_user_key_engine_and_time_get_their_reports(agent):
    r, counters, clock, _ = agent
    ok = synced(r, Client("supervisor", b""))
    # unknown user
    c = synced(r, Client("nobody", b""))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME])), LOCAL), learn=False)
    assert stat(rep, USM_STATS + (3, 0)) == counters.usm_unknown_user_names == 1
    assert rep.flags == 0  # reports of USM errors are noAuthNoPriv
    # wrong authentication key
    c = synced(r, Client("supervisor", b"", auth_password="wrong-password"))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME])), LOCAL), learn=False)
    assert stat(rep, USM_STATS + (5, 0)) == counters.usm_wrong_digests == 1
    # wrong privacy key: the decrypted bytes are not a scoped PDU
    c = synced(r, Client("supervisor", b"", priv_password="wrong-priv-key"))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME])), LOCAL), learn=False)
    assert stat(rep, USM_STATS + (6, 0)) == counters.usm_decryption_errors == 1
    # wrong engine ID, authenticated
    rep = ok.decode(r.handle(ok.message(pdu("get", [SYS_NAME]), engine_id=b"\x80\x00\x00\x01\x01"),
                             LOCAL), learn=False)
    assert stat(rep, USM_STATS + (4, 0)) == counters.usm_unknown_engine_ids == 5
    # out of the time window (150 s either way), and wrong boots: an authenticated report
    for boots, time in ((5, 151), (4, 0), (6, 0)):
        rep = ok.decode(r.handle(ok.message(pdu("get", [SYS_NAME]), boots=boots, time=time),
                                 LOCAL), learn=False)
        assert rep.pdu_type == "report" and rep.flags == 1
        assert stat(rep, USM_STATS + (2, 0)) == counters.usm_not_in_time_windows
    assert counters.usm_not_in_time_windows == 3
    clock.now += 150  # at the edge of the window: still answered
    rep = ok.decode(r.handle(ok.message(pdu("get", [SYS_NAME]), time=0), LOCAL))
    assert rep.pdu_type == "response"
    # a security level the user has no keys for
    c = synced(r, Client("authonly", b"", auth="md5"))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME]), level=3), LOCAL), learn=False)
    assert stat(rep, USM_STATS + (1, 0)) == counters.usm_unsupported_sec_levels == 1


def test_lower_level_than_the_users_is_authorization_error(agent):
    """RFC 3415 3.2 / RFC 3413 3.2 step 4: no access entry at that level."""
    r, counters, _, _ = agent
    c = synced(r, Client("supervisor", b""))
    for level in (0, 1):
        rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME]), level=level), LOCAL))
        assert (rep.pdu_type, rep.error_status, rep.error_index) == ("response", 16, 0)
        assert rep.flags & 3 == level and rep.varbinds[0][0] == SYS_NAME
    assert counters.usm_unsupported_sec_levels == 0
    a = synced(r, Client("authonly", b"", auth="md5"))
    rep = a.decode(r.handle(a.message(pdu("get", [SYS_NAME]), level=1), LOCAL))
    assert rep.error_status == 0 and bytes(rep.varbinds[0][1]) == b"decoder-1"
    n = synced(r, Client("anon", b""))
    rep = n.decode(r.handle(n.message(pdu("get", [SYS_NAME]), level=0), LOCAL))
    assert rep.error_status == 0 and rep.flags == 0


def test_contexts(agent):
    r, counters, _, _ = agent
    c = synced(r, Client("supervisor", b""))
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME]), context_name=b"other"), LOCAL))
    assert rep.pdu_type == "report" and stat(rep, (1, 3, 6, 1, 6, 3, 12, 1, 5, 0)) == 1
    assert counters.unknown_contexts == 1 and rep.flags & 3 == 3
    other = b"\x80\x00\x00\x09\x01"
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME]), context_engine=other), LOCAL))
    assert rep.pdu_type == "report" and counters.unknown_pdu_handlers == 1
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME]), context_engine=b""), LOCAL))
    assert rep.pdu_type == "response"


def test_set_by_v3_supervisor_and_listener(agent):
    r, counters, _, store = agent
    value = rfc1902.OctetString(b"\x0a\x00\x00\x07")
    s = synced(r, Client("supervisor", b""))
    rep = s.decode(r.handle(s.message(pdu("set", [SIP + (1,)], values=[value])), LOCAL))
    assert rep.error_status == 0 and store.snapshot.network[(1,)].sip_server == b"\x0a\x00\x00\x07"
    m = synced(r, Client("monitor", b"", auth="sha"))
    rep = m.decode(r.handle(m.message(pdu("set", [SIP + (1,)], values=[value])), LOCAL))
    assert (rep.error_status, rep.error_index) == (6, 1)  # noAccess
    assert counters.in_bad_community_uses == 0  # not a community


def test_responses_respect_msg_max_size(agent):
    r, _, _, _ = agent
    c = synced(r, Client("supervisor", b""))
    data = r.handle(c.message(pdu("bulk", [(1, 0)], max_repetitions=1000), max_size=600), LOCAL)
    assert len(data) <= 600
    rep = c.decode(data)
    assert rep.error_status == 0 and 3 < len(rep.varbinds) < 30
    data = r.handle(c.message(pdu("get", [SYS_NAME] * 40), max_size=484), LOCAL)
    rep = c.decode(data)
    assert len(data) <= 484 and (rep.error_status, rep.varbinds) == (1, [])  # tooBig


def test_unreportable_and_response_class_pdus_get_nothing(agent):
    r, counters, _, _ = agent
    c = Client("supervisor", b"")
    # an encrypted message for an unknown engine without the reportable flag: nothing
    assert r.handle(c.message(pdu("get", [SYS_NAME]), reportable=False), LOCAL) is None
    assert counters.usm_unknown_engine_ids == 1
    # a Response sent to the agent (plaintext, so its class is known): no report
    assert r.handle(c.message(pdu("response", [SYS_NAME]), level=0), LOCAL) is None


@pytest.mark.parametrize("hexdata", ISSUE_EXAMPLES)
def test_issue_examples_are_parse_errors(agent, hexdata, caplog):
    r, counters, _, _ = agent
    with caplog.at_level(logging.DEBUG):
        assert r.handle(bytes.fromhex(hexdata), LOCAL) is None
    assert counters.in_asn_parse_errs == 1 and counters.silent_drops == 0
    assert not [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.WARNING]


def _mutations(base: bytes, rng: random.Random, n: int):
    for _ in range(n):
        data = bytearray(base)
        op = rng.randrange(5)
        if op == 0:  # flip bytes
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1:  # truncate
            data = data[: rng.randrange(len(data))]
        elif op == 2:  # a length made indefinite, huge or long-form
            i = rng.randrange(1, len(data))
            data[i:i + 1] = rng.choice([b"\x80", b"\x84\xff\xff\xff\xff", b"\x88" + b"\xff" * 8,
                                        b"\x81\x7f", b"\x82\x00\x05"])
        elif op == 3:  # insert junk
            i = rng.randrange(len(data))
            data[i:i] = rng.randbytes(rng.randint(1, 8))
        else:  # append
            data += rng.randbytes(rng.randint(1, 16))
        yield bytes(data)


def test_fuzzed_v3_datagrams_never_raise_or_log_tracebacks(agent, caplog):
    r, counters, _, _ = agent
    c = synced(r, Client("supervisor", b""))
    bases = [c.message(pdu("get", [SYS_NAME])), c.message(pdu("bulk", [NET], max_repetitions=5)),
             c.message(pdu("get", []), level=0, engine_id=b"", user=b""),
             c.message(pdu("next", [NET]), level=1)]
    rng = random.Random(13)
    with caplog.at_level(logging.DEBUG):
        for i in range(2000):
            data = next(_mutations(bases[i % len(bases)], rng, 1))
            out = r.handle(data, LOCAL)
            assert out is None or out[:1] == b"\x30"
    assert counters.silent_drops == 0  # nothing reached the catch-all
    assert not [rec for rec in caplog.records if rec.exc_info or rec.levelno >= logging.WARNING]
    assert counters.in_asn_parse_errs > 100
    # the agent still answers
    rep = c.decode(r.handle(c.message(pdu("get", [SYS_NAME])), LOCAL))
    assert rep.pdu_type == "response" and bytes(rep.varbinds[0][1]) == b"decoder-1"


def test_huge_request_with_wrong_community_is_not_decoded(agent, monkeypatch):
    r, counters, _, _ = agent
    from test_responder import request

    big = request(1, "get", [NET + (2, 1)] * 4000, community="wrong")
    decoded = []
    monkeypatch.setattr(ber, "decode_pdu", lambda *a: decoded.append(a))
    assert r.handle(big, LOCAL) is None
    assert counters.in_bad_community_names == 1 and decoded == []


def test_an_agent_with_v3_users_imports_no_pysnmp_engine(tmp_path):
    """pysnmp no longer serves requests: with v3 users the agent loads its own USM, and its
    MIB knowledge from the index `mib compile` ships: neither pysnmp nor pyasn1 is imported."""
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import asyncio, dataclasses, sys\n"
        "from iec62379.agent.runner import Agent\n"
        "from iec62379.agent.config import Endpoint\n"
        "from iec62379.collectors.settings import load_settings\n"
        f"cfg = load_settings({str(REPO / 'examples' / 'static-blocks.toml')!r}).agent\n"
        "cfg = dataclasses.replace(cfg, listen=(Endpoint('udp', '127.0.0.1', 0),),"
        " state_dir=None)\n"
        "async def main():\n"
        "    a = Agent(cfg)\n"
        "    await a.start()\n"
        "    assert a.responder.v3 is not None\n"
        "    await a.stop()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pysnmp', 'pyasn1')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
