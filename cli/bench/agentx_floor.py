"""The floor of a Python AgentX subagent, for `bench agentx --floor`: what a walk through the
master costs when the subagent does nothing but one recv, one dict look-up and one send per
GetNext.

`python -c "from iec62379.cli.bench.agentx_floor import main; main()" CONFIG SOCKET SUBTREE`
builds the agent's instrumentation from CONFIG as `iec62379 agent` does, connects to the master
at SOCKET (a unix socket), opens a session and registers SUBTREE. The first time a GetNext
payload comes, our own `Session` answers it (the general path) and the answer's varbinds are
kept by the payload's bytes; the same payload again is answered from there, with the request's
ids. So the answers are our subagent's, made once (the untimed warm-up walk makes them): right
for a configuration of static rows (the benchmark's), and not a subagent to run: no
reconnection, no Ping, no notifications, no SET; it exits when the master closes the
connection.
"""

from __future__ import annotations

import socket
import struct
import sys

from iec62379.agent import access
from iec62379.agent.agentx import pdu
from iec62379.agent.agentx.client import served_subtrees
from iec62379.agent.agentx.requests import Requests
from iec62379.agent.agentx.session import Opened, Session
from iec62379.collectors.compose import build_agent
from iec62379.collectors.settings import load_settings

_IDS = struct.Struct(">4I")
_RESPONSE = struct.Struct(">4B4IIHH")


def session_for(config: str, subtree: tuple[int, ...]) -> Session:
    """A session registering `subtree`, over CONFIG's instrumentation."""
    agent, _service = build_agent(load_settings(config))
    mibmap = agent.mibmap
    requests = Requests(agent.instrum, served_subtrees(mibmap), access.write_view(mibmap))
    return Session(requests, [subtree])


def serve(sock: socket.socket, session: Session) -> None:
    """Open the session, register, then answer until the master closes the connection."""
    sock.sendall(session.open())
    events: list[object] = []
    while not events:  # the Open's answer
        data = sock.recv(65536)
        if not data:
            raise SystemExit("agentx_floor: the master closed the connection before the "
                             "session opened")
        session.receive(data)
        events = list(session.take_events())
    if not isinstance(events[0], Opened):
        raise SystemExit(f"agentx_floor: the master did not open the session: {events[0]}")
    sock.sendall(b"".join(session.register_all()))
    known: dict[bytes, bytes] = {}  # a GetNext's payload -> the varbinds answering it
    recv, send = sock.recv, sock.sendall
    while True:
        data = recv(65536)
        if not data:
            return
        one_getnext = (len(data) > 20 and data[1] == pdu.GET_NEXT
                       and data[2] == pdu.NETWORK_BYTE_ORDER
                       and _IDS.unpack_from(data, 4)[3] == len(data) - 20)
        if one_getnext:
            varbinds = known.get(data[20:])
            if varbinds is not None:
                sid, tid, pid, _length = _IDS.unpack_from(data, 4)
                send(_RESPONSE.pack(pdu.VERSION, pdu.RESPONSE, pdu.NETWORK_BYTE_ORDER, 0, sid,
                                    tid, pid, 8 + len(varbinds), 0, 0, 0) + varbinds)
                continue
        out = session.receive(data)
        session.take_events()
        if one_getnext and len(out) == 1 and out[0][1] == pdu.RESPONSE and not any(
                out[0][24:28]):  # res.error and res.index 0
            known[data[20:]] = out[0][28:]
        if out:
            send(b"".join(out))


USAGE = "usage: agentx_floor CONFIG SOCKET SUBTREE (a unix socket path, a dotted OID)"


def parse_subtree(text: str) -> tuple[int, ...]:
    """A dotted OID of at least two arcs ("1.0.62379.7.1", a leading dot allowed)."""
    arcs = text.strip().removeprefix(".").split(".")
    if len(arcs) < 2 or not all(a.isascii() and a.isdigit() and len(a) <= 10 for a in arcs):
        raise ValueError(f"not a dotted OID of two arcs or more: {text!r}")
    subtree = tuple(int(a) for a in arcs)
    if any(a > 0xFFFFFFFF for a in subtree) or len(subtree) > 128:
        raise ValueError(f"not an AgentX OID (arcs of 32 bits, at most 128): {text!r}")
    return subtree


def main(argv: list[str] | None = None) -> None:
    """The floor subagent (see the module docstring); SystemExit with a message on bad
    arguments, a configuration that does not load or a master that is not there."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        raise SystemExit(USAGE)
    config, path, dotted = args
    try:
        subtree = parse_subtree(dotted)
        session = session_for(config, subtree)
    except ValueError as exc:  # a ConfigError is one
        raise SystemExit(f"agentx_floor: {exc}") from exc
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"agentx_floor: cannot connect to {path!r}: {exc}") from exc
        serve(sock, session)
