"""Where the AgentX master listens: ``unix:/path/to/socket`` or ``tcp:HOST:PORT``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

#: net-snmp's default master socket.
DEFAULT_SOCKET = "/var/agentx/master"


@dataclass(frozen=True)
class AgentXAddress:
    kind: str  # "unix" or "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def parse_address(text: str) -> AgentXAddress:
    """An address from its text; raises ValueError for anything else (a bare path is taken as
    unix:PATH, as snmpd's agentXSocket does)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty address")
    if text.startswith("/"):
        text = "unix:" + text
    kind, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"no 'unix:' or 'tcp:' in {text!r}")
    if kind == "unix":
        if not rest.startswith("/") or "\0" in rest or rest.endswith("/"):
            raise ValueError(f"not an absolute socket path: {rest!r}")
        return AgentXAddress("unix", path=rest)
    if kind == "tcp":
        if rest.startswith("["):
            host, _, port_s = rest[1:].partition("]:")
        else:
            host, _, port_s = rest.rpartition(":")
        if not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise ValueError(f"not HOST:PORT: {rest!r}")
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            if not all(part and (part.isalnum() or "-" in part) for part in host.split(".")):
                raise ValueError(f"not a host name or address: {host!r}") from None
        return AgentXAddress("tcp", host=host, port=int(port_s))
    raise ValueError(f"unknown transport {kind!r} (unix or tcp)")
