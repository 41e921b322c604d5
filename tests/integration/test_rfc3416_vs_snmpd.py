"""RFC 3416 answers as net-snmp's snmpd gives them, for the same kind of request, on the wire.

snmpd (with a read-write community and no MIB files) and our agent (with a supervisor community)
each get the same situations, as raw v2c datagrams over loopback:

- a SET to an object that does not exist, or that is read-only: notWritable (4.2.5 step 2);
- a GET of an object type without an instance (sysDescr), and of a name below an instance:
  noSuchInstance (4.2.1);
- an OID that SNMP cannot carry (an arc >= 2^32, 129 sub-identifiers), in a name or in a value:
  no answer, and snmpInASNParseErrs counts each.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.agent import ber
from iec62379.agent.config import parse_config
from iec62379.agent.runner import Agent

pytestmark = pytest.mark.integration

COMMUNITY = b"private"
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1)
SYS_OBJECT_ID_0 = (1, 3, 6, 1, 2, 1, 1, 2, 0)
IN_ASN_PARSE_ERRS = (1, 3, 6, 1, 2, 1, 11, 6, 0)
NET = (1, 0, 62379, 7, 1, 1, 1, 1)  # nMtBlockEntry

CONFIG = """
[agent]
listen = ["udp:127.0.0.1:0"]
[access]
allow_community_write = true
[[access.community]]
name = "private"
level = "supervisor"
[[network]]
id = 1
"""


def request(pdu: int, oid_tlv: bytes, value: bytes = b"\x05\x00", request_id: int = 7) -> bytes:
    body = (ber.encode_int(request_id) + ber.encode_int(0) + ber.encode_int(0)
            + ber.tlv(ber.SEQUENCE, ber.varbind(oid_tlv, value)))
    return ber.tlv(ber.SEQUENCE, ber.encode_int(ber.V2C) + ber.tlv(ber.OCTET_STRING, COMMUNITY)
                   + ber.tlv(pdu, body))


def ask(port: int, data: bytes, timeout_s: float = 2.0) -> ber.Message | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(data, ("127.0.0.1", port))
        try:
            return ber.decode_message(s.recv(65535))
        except TimeoutError:
            return None


def parse_errors(port: int) -> int:
    answer = ask(port, request(ber.GET, ber.encode_oid(IN_ASN_PARSE_ERRS)))
    assert answer is not None
    return answer.varbinds[0][2]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp: Path = tmp_path_factory.mktemp("snmpd")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp / "snmpd.conf"
    conf.write_text(f"rwcommunity {COMMUNITY.decode()} 127.0.0.1\n")
    (tmp / "mibs").mkdir()
    env = dict(os.environ, MIBS="", MIBDIRS=str(tmp / "mibs"), SNMPCONFPATH=str(tmp),
               SNMP_PERSISTENT_DIR=str(tmp / "persist"))
    argv = [require_tool("snmpd"), "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while ask(port, request(ber.GET, ber.encode_oid(SYS_DESCR + (0,))), 0.5) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"snmpd did not start on port {port} (exit {proc.poll()})")
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def ours() -> Iterator[int]:
    agent = Agent(parse_config(CONFIG, "rfc3416.toml"))
    agent.start_in_thread()
    try:
        yield agent.endpoints[0].port
    finally:
        agent.stop_thread()


# (what, the name and value for snmpd, the same situation for our agent, error-status, varbind tag)
NOT_WRITABLE = 17
CASES = [
    ("SET of an object that does not exist",
     ((1, 3, 6, 1, 4, 1, 99999, 1, 0), ber.encode_int(1)),
     ((1, 0, 62379, 7, 1, 9, 9, 0), ber.encode_int(1)), NOT_WRITABLE, None),
    ("SET of a read-only object",
     (SYS_DESCR + (0,), ber.tlv(ber.OCTET_STRING, b"x")),
     (NET + (2, 1), ber.encode_int(1)), NOT_WRITABLE, None),
    ("SET of a not-accessible object (a table's entry; an index column)",
     ((1, 3, 6, 1, 2, 1, 2, 2, 1), ber.encode_int(1)),
     (NET + (1, 1), ber.encode_int(1)), NOT_WRITABLE, None),
    ("GET of an object type without an instance",
     (SYS_DESCR, None), (SYS_DESCR, None), 0, ber.NO_SUCH_INSTANCE),
    ("GET below an instance",
     (SYS_DESCR + (0, 1), None), (NET + (2, 1, 5), None), 0, ber.NO_SUCH_INSTANCE),
    ("GET of a subtree that is not an object type",
     ((1, 3, 6, 1, 2, 1, 1), None), (NET[:-1], None), 0, ber.NO_SUCH_OBJECT),
]


@pytest.mark.parametrize("what,theirs,mine,status,tag", CASES, ids=[c[0] for c in CASES])
def test_answers_match_snmpd(snmpd, ours, what, theirs, mine, status, tag):
    for port, (oid, value) in ((snmpd, theirs), (ours, mine)):
        pdu = ber.GET if value is None else ber.SET
        answer = ask(port, request(pdu, ber.encode_oid(oid), value or b"\x05\x00"))
        assert answer is not None, f"{what}: no answer on port {port}"
        assert (answer.error_status, answer.error_index) == (status, 1 if status else 0), what
        if tag is not None:
            assert answer.varbinds[0][1] == tag, what


INVALID = [
    ("an arc of 2^32 in a GET's name", ber.GET, ber.encode_oid((1, 3, 6, 1, 2**32)), b"\x05\x00"),
    ("129 sub-identifiers in a GET's name", ber.GET, ber.encode_oid((1, 3) + (1,) * 127),
     b"\x05\x00"),
    ("an arc of 2^32 in a SET's value", ber.SET, ber.encode_oid(SYS_OBJECT_ID_0),
     ber.encode_oid((1, 3, 2**32))),
]


def test_invalid_oids_are_dropped_and_counted_as_snmpd_does(snmpd, ours):
    for port in (snmpd, ours):
        before = parse_errors(port)
        for what, pdu, name, value in INVALID:
            assert ask(port, request(pdu, name, value), 0.5) is None, f"{what}: answered"
        assert parse_errors(port) - before == len(INVALID)
        # The largest valid OID is still answered.
        largest = (1, 3) + (2**32 - 1,) * 126
        answer = ask(port, request(ber.GET, ber.encode_oid(largest)))
        assert answer is not None and answer.varbinds[0][0] == largest
