"""Notify end to end: the subagent's notification goes out through snmpd's trap sink to a UDP
listener on loopback, decoded with the agent's BER codec; queued while the master is away."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.agent import ber
from iec62379.agent.agentx.address import parse_address
from iec62379.agent.agentx.session import SNMP_TRAP_OID_0
from iec62379.agent.runner import Agent
from iec62379.cli.bench.agentx import snmpd_master
from iec62379.collectors.settings import load_settings

pytestmark = pytest.mark.integration

TRAP = (1, 3, 6, 1, 4, 1, 32473, 62379, 0, 7)
TXRX_1 = (1, 0, 62379, 7, 1, 1, 1, 1, 3, 1)


def traps(sink: socket.socket, timeout_s: float) -> list[ber.Message]:
    """The SNMPv2-Trap messages with our trap OID that arrive within `timeout_s`."""
    out: list[ber.Message] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not out:
        sink.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sink.recv(65535)
        except TimeoutError:
            break
        msg = ber.decode_message(data)
        if msg.pdu_type == ber.TRAP_V2 and (SNMP_TRAP_OID_0, ber.OBJECT_IDENTIFIER, TRAP) in (
                msg.varbinds):
            out.append(msg)
    return out


def test_notification_reaches_the_trap_sink_and_waits_for_the_master(tmp_path: Path):
    require_tool("snmpd")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]
    settings = load_settings(REPO / "examples" / "static-blocks.toml")
    folder = tmp_path / "snmpd"
    try:
        with snmpd_master(folder, trap_sink=sink_port) as master:
            cfg = dataclasses.replace(settings.agent, agentx=parse_address(master.address),
                                      state_dir=tmp_path / "state")
            agent = Agent(cfg)
            agent.start_in_thread()
            try:
                deadline = time.monotonic() + 15
                while not agent.agentx.registered and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert agent.agentx.registered
                agent.agentx.notify(TRAP, [(TXRX_1, ber.INTEGER, 1),
                                           ((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.OCTET_STRING, b"x")])
                (msg,) = traps(sink, 10)
                assert msg.community == b"public"
                names = [vb[0] for vb in msg.varbinds]
                assert names[:2] == [(1, 3, 6, 1, 2, 1, 1, 3, 0), SNMP_TRAP_OID_0]
                assert msg.varbinds[2:] == [(TXRX_1, ber.INTEGER, 1),
                                            ((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.OCTET_STRING, b"x")]
                # The master goes away: the notification waits, and goes out when it is back.
                master.proc.terminate()
                master.proc.wait(10)
                agent.agentx.notify(TRAP, [(TXRX_1, ber.INTEGER, 2)])
                time.sleep(0.5)
                assert len(agent.agentx.queue) == 1
                with snmpd_master(folder, port=master.port, trap_sink=sink_port):
                    (msg,) = traps(sink, 15)
                    assert msg.varbinds[2:] == [(TXRX_1, ber.INTEGER, 2)]
                    deadline = time.monotonic() + 5
                    while agent.agentx.queue and time.monotonic() < deadline:
                        time.sleep(0.05)
                    assert not agent.agentx.queue
            finally:
                agent.stop_thread()
    finally:
        sink.close()
