"""UDP for the agent: bound sockets and the asyncio protocol that hands each datagram to the
responder (every SNMP version) and sends its reply back."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from .config import Endpoint
from .responder import Responder

log = logging.getLogger(__name__)


def bind_socket(ep: Endpoint) -> socket.socket:
    """Bind now, so that an address in use is reported at start with the address."""
    family = socket.AF_INET6 if ep.family == "udp6" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((ep.host, ep.port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {ep}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


class SnmpProtocol(asyncio.DatagramProtocol):
    """One listening socket."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = self.responder.handle(data, addr)
        if reply and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("socket error: %s", exc)


async def serve(sock: socket.socket, responder: Responder) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: SnmpProtocol(responder), sock=sock)
    return transport
