"""The subagent's connection against a fake master (a unix-socket server in the test): garbage
and truncated PDUs never crash it; it closes the session with the right reason and connects
again; a master that is not there yet or goes away is waited for; notifications wait."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from conftest import REPO
from iec62379.agent import ber
from iec62379.agent.agentx import pdu
from iec62379.agent.agentx.address import AgentXAddress
from iec62379.agent.agentx.client import build_subagent
from iec62379.agent.alarms import ALARM_SCALARS
from iec62379.agent.instrum import MeasurementInstrum
from iec62379.agent.mibmap import MibMap
from iec62379.agent.model import TABLES
from iec62379.agent.store import BlockStore
from iec62379.collectors.settings import load_settings

pytestmark = pytest.mark.integration

TREE = (1, 0, 62379, 7, 1)
SID = 9


@pytest.fixture(scope="module")
def mibmap():
    return MibMap()


def instrum(mibmap: MibMap) -> MeasurementInstrum:
    store = BlockStore()
    with store.transaction() as t:
        t.put(*load_settings(REPO / "examples" / "static-blocks.toml").agent.blocks)
    return MeasurementInstrum(store, mibmap)


class FakeMaster:
    """Accepts connections; each is a queue of PDUs read from it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conns: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue())
        self.server: asyncio.AbstractServer | None = None

    async def _on_conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await self.conns.put((r, w))

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._on_conn, str(self.path))

    async def start_tcp(self) -> None:
        self.server = await asyncio.start_server(self._on_conn, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def accept(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self.conns.get(), 10)


async def read_pdu(r: asyncio.StreamReader) -> tuple[pdu.Header, bytes]:
    head = await asyncio.wait_for(r.readexactly(pdu.HEADER_SIZE), 10)
    h = pdu.decode_header(head)
    return h, await asyncio.wait_for(r.readexactly(h.payload_length), 10)


def respond(h: pdu.Header, error: int = 0, sid: int = SID) -> bytes:
    payload = struct.pack(">IHH", 0, error, 0)
    return pdu.encode_header(pdu.Header(pdu.RESPONSE, pdu.NETWORK_BYTE_ORDER, sid,
                                        h.transaction_id, h.packet_id, len(payload))) + payload


#: The subtrees a subagent registers: the measurement tree, the extension's tables (those that
#: augment it, extTsInputTable, the alarm tables) and the alarms' scalars, the DVB measurement
#: MIB's tr101290Objects (its tables).
REGISTRATIONS = (1 + sum(len(t.augments) for t in TABLES)
                 + sum(t.module == "IEC62379-EXT-MIB" for t in TABLES) + len(ALARM_SCALARS) + 1)


async def handshake(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Answer the Open and the Register as a master does."""
    h, payload = await read_pdu(r)
    assert h.type == pdu.OPEN
    rd = pdu.Reader(payload, h.big_endian)
    rd.u32("timeout")
    rd.oid()
    assert rd.octets().startswith(b"iec62379")
    w.write(respond(h))
    # The measurement tree first, then the extension's tables (those that augment it and
    # extTsInputTable), then the DVB measurement MIB's tr101290Objects (which holds its tables).
    for n in range(REGISTRATIONS):
        h, payload = await read_pdu(r)
        assert h.type == pdu.REGISTER and h.session_id == SID
        subtree, _ = pdu.Reader(payload[4:], True).oid()
        assert subtree == TREE if n == 0 else subtree[:5] != TREE
        w.write(respond(h))
    await w.drain()


async def connects_again(master: FakeMaster) -> None:
    """The subagent opens a new session (answered) on a new connection."""
    r, w = await master.accept()
    await handshake(r, w)
    w.close()


def get_pdu(packet_id: int) -> bytes:
    body = pdu.encode_oid(TREE + (1, 1, 1, 2, 1)) + pdu.encode_oid(())
    return pdu.encode_header(pdu.Header(pdu.GET, pdu.NETWORK_BYTE_ORDER, SID, 1, packet_id,
                                        len(body))) + body


GARBAGE = [
    b"\xff" * 40,  # version 255
    b"\x01\x05\x10\x00" + b"\0" * 12 + b"\x00\x00\x00\x03",  # payload length 3
    b"\x01\x05\x10\x00" + b"\0" * 12 + b"\x7f\xff\xff\xfc",  # 2 GiB payload
    # a Get whose search range says 9 sub-identifiers and holds 1
    pdu.encode_header(pdu.Header(pdu.GET, pdu.NETWORK_BYTE_ORDER, SID, 1, 1, 8))
    + b"\x09\x00\x00\x00\x00\x00\x00\x01",
]


async def test_garbage_gets_a_parse_error_close_and_a_new_session(mibmap, tmp_path: Path):
    master = FakeMaster(tmp_path / "master")
    await master.start()
    sub = build_subagent(AgentXAddress("unix", path=str(master.path)), instrum(mibmap), mibmap,
                         backoff_s=0.05, max_backoff_s=0.2)
    sub.start()
    try:
        for garbage in GARBAGE:
            r, w = await master.accept()
            await handshake(r, w)
            assert await sub.wait_registered(5)
            w.write(get_pdu(77))  # a good request is answered first
            h, payload = await read_pdu(r)
            res = pdu.decode_response(h, payload)
            assert (h.packet_id, res.error, res.varbinds[0][1]) == (77, 0, ber.INTEGER)
            w.write(garbage)
            await w.drain()
            h, payload = await read_pdu(r)
            assert h.type == pdu.CLOSE and payload[0] == pdu.REASON_PARSE_ERROR
            assert await asyncio.wait_for(r.read(), 5) == b""  # and the connection closed
            w.close()
        # A master that sends half a PDU and goes away: the subagent connects again.
        r, w = await master.accept()
        await handshake(r, w)
        w.write(get_pdu(5)[:25])
        await w.drain()
        w.close()
        r, w = await master.accept()
        await handshake(r, w)
        assert await sub.wait_registered(5)
        assert sub.sessions_opened == len(GARBAGE) + 2
        w.close()
    finally:
        await sub.stop()
        await master.stop()


async def test_master_late_refusing_and_notifications_wait(mibmap, tmp_path: Path):
    path = tmp_path / "master"
    sub = build_subagent(AgentXAddress("unix", path=str(path)), instrum(mibmap), mibmap,
                         backoff_s=0.05, max_backoff_s=0.2)
    sub.start()
    trap = (1, 3, 6, 1, 4, 1, 32473, 62379, 0, 1)
    sub.notify(trap, [(TREE + (1, 1, 1, 2, 1), ber.INTEGER, 1)])  # no master yet: queued
    await asyncio.sleep(0.3)  # a few refused connection attempts
    master = FakeMaster(path)
    await master.start()
    try:
        # The master refuses the session: the subagent tries again later.
        r, w = await master.accept()
        h, _ = await read_pdu(r)
        assert h.type == pdu.OPEN
        w.write(respond(h, pdu.OPEN_FAILED, sid=0))
        await w.drain()
        r, w = await master.accept()
        await handshake(r, w)
        h, payload = await read_pdu(r)
        assert h.type == pdu.NOTIFY
        vbs = pdu.Reader(payload, True).varbinds()
        assert vbs[0][2] == trap and vbs[1] == (TREE + (1, 1, 1, 2, 1), ber.INTEGER, 1)
        # Not acknowledged before the connection drops: sent again on the next session.
        w.close()
        r, w = await master.accept()
        await handshake(r, w)
        h, payload = await read_pdu(r)
        assert h.type == pdu.NOTIFY
        w.write(respond(h))
        await w.drain()
        for _ in range(50):
            if not sub.queue:
                break
            await asyncio.sleep(0.02)
        assert not sub.queue
        # A Close from the master (shutdown): the subagent connects again.
        w.write(pdu.Pdu(pdu.CLOSE, SID, 0, 0, pdu.close_payload(pdu.REASON_SHUTDOWN)).encode())
        await w.drain()
        await connects_again(master)
    finally:
        await sub.stop()
        await master.stop()


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_stop_unregisters_and_closes(mibmap, tmp_path: Path, transport: str):
    master = FakeMaster(tmp_path / "master")
    if transport == "unix":
        await master.start()
        address = AgentXAddress("unix", path=str(master.path))
    else:
        await master.start_tcp()
        address = AgentXAddress("tcp", host="127.0.0.1", port=master.port)
    sub = build_subagent(address, instrum(mibmap), mibmap)
    sub.start()
    try:
        r, w = await master.accept()
        await handshake(r, w)
        assert await sub.wait_registered(5)
        w.write(get_pdu(3))
        h, payload = await read_pdu(r)
        assert pdu.decode_response(h, payload).varbinds[0][1] == ber.INTEGER
        await sub.stop()
        unregistered = []
        for _ in range(REGISTRATIONS):
            h, payload = await read_pdu(r)
            assert h.type == pdu.UNREGISTER and h.session_id == SID
            unregistered.append(pdu.Reader(payload[4:], True).oid()[0])
        assert unregistered[0] == TREE
        h, payload = await read_pdu(r)
        assert h.type == pdu.CLOSE and payload[0] == pdu.REASON_SHUTDOWN
        w.close()
    finally:
        await master.stop()


async def test_a_master_that_stops_answering_is_dropped(mibmap, tmp_path: Path):
    """Idle, the subagent pings; a Ping left unanswered closes the session (reasonTimeouts)."""
    master = FakeMaster(tmp_path / "master")
    await master.start()
    sub = build_subagent(AgentXAddress("unix", path=str(master.path)), instrum(mibmap), mibmap,
                         backoff_s=0.05, max_backoff_s=0.2, ping_interval_s=0.2)
    sub.start()
    try:
        r, w = await master.accept()
        await handshake(r, w)
        h, _ = await read_pdu(r)
        assert h.type == pdu.PING and h.session_id == SID
        w.write(respond(h))  # answered: the session goes on, and pings again when idle
        await w.drain()
        h, _ = await read_pdu(r)
        assert h.type == pdu.PING  # not answered this time
        h, payload = await read_pdu(r)
        assert h.type == pdu.CLOSE and payload[0] == pdu.REASON_TIMEOUTS
        await connects_again(master)
    finally:
        await sub.stop()
        await master.stop()
