"""Stream URLs: ``udp://[source@]address:port[?iface=NAME&rcvbuf=BYTES]`` and ``rtp://...``.

Parsing only (no sockets, no numpy), so that configuration can be read and checked without
loading the receiver.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl

__all__ = ["StreamUrl", "parse_stream_url"]

_SCHEMES = ("udp", "rtp")
_QUERY_KEYS = ("iface", "rcvbuf")


@dataclass(frozen=True, slots=True)
class StreamUrl:
    """A parsed ``udp://[source@]address:port[?iface=NAME&rcvbuf=BYTES]`` (or ``rtp://``).

    address is the group (multicast) or the local address to bind ("" = any address of the
    family of source, IPv4 if none). source, for source-specific multicast, needs a multicast
    address of the same family. The parser refuses port 0; a StreamUrl built directly may use
    it to bind any free port (tests).
    """

    scheme: str
    address: str
    port: int
    source: str | None = None
    iface: str | None = None
    rcvbuf: int | None = None

    @property
    def family(self) -> int:
        """socket.AF_INET or socket.AF_INET6."""
        probe = self.address or self.source or "0.0.0.0"
        return socket.AF_INET6 if ipaddress.ip_address(probe).version == 6 else socket.AF_INET

    @property
    def is_multicast(self) -> bool:
        return bool(self.address) and ipaddress.ip_address(self.address).is_multicast

    @property
    def bind_address(self) -> str:
        """The address the socket binds: the group, the unicast address, or the wildcard."""
        if self.address:
            return self.address
        return "::" if self.family == socket.AF_INET6 else "0.0.0.0"

    def __str__(self) -> str:
        def fmt(a: str) -> str:
            return f"[{a}]" if ":" in a else a

        text = f"{self.scheme}://"
        if self.source:
            text += fmt(self.source) + "@"
        text += f"{fmt(self.address)}:{self.port}"
        query = []
        if self.iface:
            query.append(f"iface={self.iface}")
        if self.rcvbuf is not None:
            query.append(f"rcvbuf={self.rcvbuf}")
        return text + ("?" + "&".join(query) if query else "")


def _parse_addr(text: str, what: str, url: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return ipaddress.ip_address(inner)
    except ValueError:
        raise ValueError(f"{url!r}: {what} {text!r} is not an IPv4 or IPv6 address") from None


def parse_stream_url(url: str) -> StreamUrl:
    """Parse a stream URL; raise ValueError saying what is wrong with it."""
    if not isinstance(url, str):
        raise ValueError(f"stream URL must be a string, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url!r}: expected scheme://address:port, e.g. udp://239.1.1.1:5004")
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"{url!r}: unknown scheme {scheme!r}, expected one of {_SCHEMES}")
    if "#" in rest:
        raise ValueError(f"{url!r}: fragments (#...) are not allowed")
    netloc, _, query = rest.partition("?")
    if "/" in netloc:
        raise ValueError(f"{url!r}: a path is not allowed after the port")
    source_text: str | None = None
    if "@" in netloc:
        source_text, _, netloc = netloc.rpartition("@")
        if "@" in source_text:
            raise ValueError(f"{url!r}: more than one '@'")
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise ValueError(f"{url!r}: '[' without ']' around an IPv6 address")
        host, after = netloc[: close + 1], netloc[close + 1 :]
        if not after.startswith(":"):
            raise ValueError(f"{url!r}: expected ':port' after {host}")
        port_text = after[1:]
    else:
        host, colon, port_text = netloc.rpartition(":")
        if not colon:
            raise ValueError(f"{url!r}: missing ':port'")
        if ":" in host:
            raise ValueError(f"{url!r}: an IPv6 address must be written in brackets: [{host}]")
    if not port_text.isdigit():
        raise ValueError(f"{url!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{url!r}: port {port} out of range 1..65535")
    address = ""
    if host:
        addr = _parse_addr(host, "address", url)
        if addr.version == 6 and not host.startswith("["):
            raise ValueError(f"{url!r}: an IPv6 address must be written in brackets")
        if addr.version == 4 and host.startswith("["):
            raise ValueError(f"{url!r}: brackets are only for IPv6 addresses: {host}")
        address = str(addr)
    source: str | None = None
    if source_text:  # "udp://@239.1.1.1:5004" (empty source) means any source
        src = _parse_addr(source_text, "source", url)
        if not address or not ipaddress.ip_address(address).is_multicast:
            raise ValueError(f"{url!r}: a source address needs a multicast group address")
        if src.version != ipaddress.ip_address(address).version:
            raise ValueError(f"{url!r}: source and group are of different IP versions")
        if src.is_multicast:
            raise ValueError(f"{url!r}: source {src} is itself a multicast address")
        source = str(src)
    iface: str | None = None
    rcvbuf: int | None = None
    if query:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise ValueError(f"{url!r}: malformed query {query!r}") from None
        seen: set[str] = set()
        for key, value in pairs:
            if key not in _QUERY_KEYS:
                raise ValueError(f"{url!r}: unknown query key {key!r}, expected {_QUERY_KEYS}")
            if key in seen:
                raise ValueError(f"{url!r}: query key {key!r} given twice")
            seen.add(key)
            if key == "iface":
                if not value or len(value) > 15 or "/" in value or any(c.isspace() for c in value):
                    raise ValueError(f"{url!r}: iface {value!r} is not an interface name")
                iface = value
            else:
                if not value.isdigit() or int(value) < 1 or int(value) > 2**31 - 1:
                    raise ValueError(f"{url!r}: rcvbuf {value!r} is not a byte count")
                rcvbuf = int(value)
    return StreamUrl(scheme, address, port, source, iface, rcvbuf)
