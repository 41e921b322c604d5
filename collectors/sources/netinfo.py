"""Host facts for the network block (nMtBlockTable): ifIndex, addresses, IGMP, routes.

Everything is read below two configurable roots, ``sysfs_root`` (default ``/sys``) and
``procfs_root`` (default ``/proc``), so tests run on fixture trees as node_exporter's do with
``--path.sysfs`` / ``--path.procfs``. The parsers of the ``/proc`` formats are plain functions
on text (``parse_*``) and can be used on their own.

Files read
----------
* ``<sys>/class/net/<if>/ifindex``: the kernel ifIndex, which is the IF-MIB ifIndex that
  net-snmp reports (nMtIfIndex). The interface list is the directory ``<sys>/class/net``.
  On the real ``/sys`` only, ``socket.if_nametoindex`` / ``if_nameindex`` are the fallback.
* Addresses. With the real roots, ``psutil.net_if_addrs()``. With fixture roots (or
  ``addresses_from="procfs"``): IPv6 from ``<proc>/net/if_inet6`` (exact: the kernel lists
  every address with its interface); IPv4 from the ``/32 host LOCAL`` entries of
  ``<proc>/net/fib_trie``, each given to the interface of the longest directly connected
  route (no gateway) of ``<proc>/net/route`` that holds it, and 127.0.0.0/8 to the loopback
  interface. That IPv4 rule cannot place an address that has no connected route of its own
  (a /32 with no peer route); such an address is left out.
* ``<proc>/net/igmp``: per interface, the IGMP version the kernel speaks (the "Querier"
  column, V1/V2/V3) and the groups joined; ``<proc>/sys/net/ipv4/conf/{all,<if>}/
  force_igmp_version``: 1 or 2 forces that version (the kernel's IGMP_V1_SEEN / IGMP_V2_SEEN
  tests, where ``all`` and the interface both count and 1 wins over 2).
* ``<proc>/net/igmp6`` (MLD groups per interface). For an IPv6 stream nMtIGMPVersion is 0: the
  digest says 0 when IGMP is not used, and IPv6 uses MLD, not IGMP.
* ``<proc>/net/route`` and ``<proc>/net/ipv6_route``: the main routing table, to find the
  interface a stream declared without one goes through (longest prefix, then lowest metric,
  then the kernel's order). Loopback addresses go to the loopback interface.

Unknown interface names raise ``ValueError`` naming the interface and listing those that exist.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RTF_UP = 0x0001
RTF_GATEWAY = 0x0002
RTF_REJECT = 0x0200
IFF_LOOPBACK = 0x8

#: The IGMP version the kernel uses on an interface when nothing forces or lowers it.
DEFAULT_IGMP_VERSION = 3


@dataclass(frozen=True)
class InterfaceAddress:
    """One address of an interface; ``prefix_len`` is ``None`` when unknown."""

    address: IPAddress
    prefix_len: int | None = None

    @property
    def version(self) -> int:
        """4 or 6."""
        return self.address.version


@dataclass(frozen=True)
class InterfaceInfo:
    """An interface with its kernel ifIndex and its addresses."""

    name: str
    ifindex: int
    addresses: tuple[InterfaceAddress, ...]

    def ipv4(self) -> tuple[IPAddress, ...]:
        """The IPv4 addresses."""
        return tuple(a.address for a in self.addresses if a.version == 4)

    def ipv6(self) -> tuple[IPAddress, ...]:
        """The IPv6 addresses."""
        return tuple(a.address for a in self.addresses if a.version == 6)


@dataclass(frozen=True)
class IgmpEntry:
    """One interface of ``/proc/net/igmp``: its querier version and the groups joined."""

    ifindex: int
    name: str
    querier: str  # "V1", "V2", "V3" (or "NONE" on kernels without IP multicast)
    groups: tuple[ipaddress.IPv4Address, ...]


@dataclass(frozen=True)
class IgmpStatus:
    """The IGMP state of one interface.

    ``version`` is the version the kernel speaks there: the querier column when the interface
    is in ``/proc/net/igmp``; otherwise the forced version, or 3 (the kernel's default).
    ``forced`` is the effective force_igmp_version (0 = not forced).
    """

    interface: str
    version: int
    forced: int
    querier: str | None
    groups: tuple[ipaddress.IPv4Address, ...]


@dataclass(frozen=True)
class Route:
    """One route of the main table."""

    interface: str
    network: IPNetwork
    gateway: IPAddress | None
    metric: int
    flags: int


@dataclass(frozen=True)
class RouteChoice:
    """The interface chosen for an address, and why (``"loopback"`` or ``"route"``)."""

    interface: str
    address: IPAddress
    reason: str
    route: Route | None = None


# ---------------------------------------------------------------------------------------------
# Parsers of the /proc formats (pure functions on text)


def _hex_ipv4(text: str) -> ipaddress.IPv4Address:
    """An address as the kernel prints a __be32 with %08X (host byte order of the number)."""
    return ipaddress.IPv4Address(struct.pack("=I", int(text, 16)))


def _hex_ipv6(text: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(bytes.fromhex(text))


def parse_proc_net_igmp(text: str) -> dict[str, IgmpEntry]:
    """Parse ``/proc/net/igmp``.

    The layout (net/ipv4/igmp.c): a header line, then for each interface a line
    ``"%d\\t%-10s: %5d %7s"`` (index, name, group count, querier) followed by one line per
    group ``"\\t\\t\\t\\t%08X %5d %d:%08lX\\t\\t%d"`` (group, users, timer, reporter). Interfaces
    without groups are not listed. Raises ``ValueError`` on a line it cannot read.
    """
    entries: dict[str, IgmpEntry] = {}
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is not None:
            entries[current["name"]] = IgmpEntry(
                current["ifindex"], current["name"], current["querier"], tuple(current["groups"])
            )

    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("Idx"):
            continue
        if line.startswith("\t"):
            if current is None:
                raise ValueError(f"/proc/net/igmp line {lineno}: group line before a device line")
            fields = line.split()
            try:
                current["groups"].append(_hex_ipv4(fields[0]))
            except (IndexError, ValueError):
                raise ValueError(f"/proc/net/igmp line {lineno}: bad group line {line!r}") from None
            continue
        head, sep, tail = line.partition(":")
        parts = head.split()
        values = tail.split()
        if not sep or len(parts) != 2 or len(values) != 2 or not parts[0].isdigit():
            raise ValueError(f"/proc/net/igmp line {lineno}: bad device line {line!r}")
        flush()
        current = {"ifindex": int(parts[0]), "name": parts[1], "querier": values[1], "groups": []}
    flush()
    return entries


def parse_proc_net_igmp6(text: str) -> dict[str, tuple[ipaddress.IPv6Address, ...]]:
    """Parse ``/proc/net/igmp6`` (``"%-4d %-15s %pi6 %5d %08X %ld"``): MLD groups per interface."""
    groups: dict[str, list[ipaddress.IPv6Address]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3 or len(fields[2]) != 32:
            raise ValueError(f"/proc/net/igmp6 line {lineno}: bad line {line!r}")
        groups.setdefault(fields[1], []).append(_hex_ipv6(fields[2]))
    return {name: tuple(addrs) for name, addrs in groups.items()}


def parse_proc_net_route(text: str) -> list[Route]:
    """Parse ``/proc/net/route`` (IPv4 main table; tab-separated, hex in host byte order).

    Routes that are not up, reject routes and routes without a device (``*``) are left out.
    """
    routes = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] == "Iface":
            continue
        if len(fields) < 8:
            raise ValueError(f"/proc/net/route line {lineno}: bad line {line!r}")
        try:
            dest, gateway = _hex_ipv4(fields[1]), _hex_ipv4(fields[2])
            flags, metric, mask = int(fields[3], 16), int(fields[6]), _hex_ipv4(fields[7])
            network = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        except ValueError:
            raise ValueError(f"/proc/net/route line {lineno}: bad line {line!r}") from None
        if fields[0] == "*" or not flags & RTF_UP or flags & RTF_REJECT:
            continue
        routes.append(
            Route(fields[0], network, gateway if flags & RTF_GATEWAY else None, metric, flags)
        )
    return routes


def parse_proc_net_ipv6_route(text: str) -> list[Route]:
    """Parse ``/proc/net/ipv6_route``.

    Each line is ``"%pi6 %02x %pi6 %02x %pi6 %08x %08x %08x %08x %8s"``: destination, prefix
    length, source, source prefix length, next hop, metric, refcount, use, flags, device. Reject
    routes (the ``lo`` catch-alls with metric ffffffff) and routes that are not up are left out.
    """
    routes = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 10:
            raise ValueError(f"/proc/net/ipv6_route line {lineno}: bad line {line!r}")
        try:
            network = ipaddress.IPv6Network((_hex_ipv6(fields[0]), int(fields[1], 16)))
            nexthop = _hex_ipv6(fields[4])
            metric, flags = int(fields[5], 16), int(fields[8], 16)
        except ValueError:
            raise ValueError(f"/proc/net/ipv6_route line {lineno}: bad line {line!r}") from None
        if not flags & RTF_UP or flags & RTF_REJECT:
            continue
        gateway = nexthop if flags & RTF_GATEWAY and not nexthop.is_unspecified else None
        routes.append(Route(fields[9], network, gateway, metric, flags))
    return routes


def parse_proc_net_if_inet6(text: str) -> dict[str, list[InterfaceAddress]]:
    """Parse ``/proc/net/if_inet6`` (``"%pi6 %02x %02x %02x %02x %8s"``): IPv6 addresses."""
    result: dict[str, list[InterfaceAddress]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise ValueError(f"/proc/net/if_inet6 line {lineno}: bad line {line!r}")
        try:
            address = InterfaceAddress(_hex_ipv6(fields[0]), int(fields[2], 16))
        except ValueError:
            raise ValueError(f"/proc/net/if_inet6 line {lineno}: bad line {line!r}") from None
        result.setdefault(fields[5], []).append(address)
    return result


def parse_fib_trie_local(text: str) -> list[ipaddress.IPv4Address]:
    """The host's own IPv4 addresses: the ``/32 host LOCAL`` leaves of ``/proc/net/fib_trie``."""
    found: list[ipaddress.IPv4Address] = []
    leaf: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            leaf = stripped[3:].strip()
        elif stripped == "/32 host LOCAL" and leaf is not None:
            try:
                address = ipaddress.IPv4Address(leaf)
            except ValueError:
                continue
            if address not in found:
                found.append(address)
    return found


def longest_prefix(address: IPAddress, routes: Sequence[Route]) -> Route | None:
    """The route for ``address``: longest prefix, then lowest metric, then the first listed."""
    best: Route | None = None
    for route in routes:
        if route.network.version != address.version or address not in route.network:
            continue
        if best is None or (route.network.prefixlen, -route.metric) > (
            best.network.prefixlen,
            -best.metric,
        ):
            best = route
    return best


# ---------------------------------------------------------------------------------------------
# The reader


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _is_real(root: Path, real: str) -> bool:
    try:
        return root.resolve() == Path(real)
    except OSError:
        return False


class NetInfo:
    """Network facts of the host, read below ``sysfs_root`` and ``procfs_root``.

    ``addresses_from`` chooses the address reader: ``"psutil"``, ``"procfs"`` (see the module
    docstring), or ``"auto"``: psutil when both roots are the real ones, procfs otherwise.
    ``psutil_addrs`` replaces ``psutil.net_if_addrs`` (for tests). Nothing is cached: every
    call reads the files again.
    """

    def __init__(
        self,
        sysfs_root: str | os.PathLike[str] = "/sys",
        procfs_root: str | os.PathLike[str] = "/proc",
        *,
        addresses_from: Literal["auto", "psutil", "procfs"] = "auto",
        psutil_addrs: Callable[[], Mapping[str, Sequence[Any]]] | None = None,
    ) -> None:
        self.sysfs = Path(sysfs_root)
        self.procfs = Path(procfs_root)
        self._real_sys = _is_real(self.sysfs, "/sys")
        real = self._real_sys and _is_real(self.procfs, "/proc")
        if addresses_from not in ("auto", "psutil", "procfs"):
            raise ValueError(
                f"addresses_from must be 'auto', 'psutil' or 'procfs', not {addresses_from!r}"
            )
        if addresses_from == "auto":
            addresses_from = "psutil" if real else "procfs"
        self.addresses_from = addresses_from
        self._psutil_addrs = psutil_addrs

    # -- interfaces -------------------------------------------------------------------------

    def interfaces(self) -> list[str]:
        """The interface names, sorted."""
        try:
            names = sorted(p.name for p in (self.sysfs / "class" / "net").iterdir())
        except OSError:
            names = []
        if not names and self._real_sys and hasattr(socket, "if_nameindex"):
            names = sorted(name for _, name in socket.if_nameindex())
        return names

    def _check(self, name: str) -> None:
        known = self.interfaces()
        if name not in known:
            raise ValueError(
                f"unknown network interface {name!r}; interfaces here: "
                f"{', '.join(known) if known else '(none)'}"
            )

    def ifindex(self, name: str) -> int:
        """The kernel ifIndex of interface ``name`` (the IF-MIB ifIndex)."""
        self._check(name)
        path = self.sysfs / "class" / "net" / name / "ifindex"
        try:
            text = _read(path).strip()
            value = int(text)
        except OSError:
            if self._real_sys:
                return socket.if_nametoindex(name)
            raise ValueError(f"interface {name!r}: cannot read {path}") from None
        except ValueError:
            raise ValueError(f"interface {name!r}: {path} is not an integer: {text!r}") from None
        if value < 1:
            raise ValueError(f"interface {name!r}: {path} holds {value}, not an ifIndex")
        return value

    def loopback_interface(self) -> str:
        """The loopback interface: IFF_LOOPBACK in ``<sys>/class/net/*/flags``, else ``lo``."""
        for name in self.interfaces():
            try:
                flags = int(_read(self.sysfs / "class" / "net" / name / "flags").strip(), 16)
            except (OSError, ValueError):
                continue
            if flags & IFF_LOOPBACK:
                return name
        return "lo"

    def addresses(self, name: str) -> tuple[InterfaceAddress, ...]:
        """The IPv4 then IPv6 addresses of interface ``name``."""
        self._check(name)
        table = self.all_addresses()
        found = table.get(name, ())
        return tuple(sorted(found, key=lambda a: (a.version, a.address.packed)))

    def interface(self, name: str) -> InterfaceInfo:
        """Interface ``name`` with its ifIndex and addresses."""
        return InterfaceInfo(name, self.ifindex(name), self.addresses(name))

    def all_addresses(self) -> dict[str, tuple[InterfaceAddress, ...]]:
        """Addresses of every interface, from the reader chosen by ``addresses_from``."""
        if self.addresses_from == "psutil":
            return self._addresses_psutil()
        return self._addresses_procfs()

    def _addresses_psutil(self) -> dict[str, tuple[InterfaceAddress, ...]]:
        if self._psutil_addrs is not None:
            raw = self._psutil_addrs()
        else:
            import psutil

            raw = psutil.net_if_addrs()
        return {name: addresses_from_psutil(entries) for name, entries in raw.items()}

    def _addresses_procfs(self) -> dict[str, tuple[InterfaceAddress, ...]]:
        table: dict[str, list[InterfaceAddress]] = {}
        try:
            local = parse_fib_trie_local(_read(self.procfs / "net" / "fib_trie"))
        except OSError:
            local = []
        connected = [r for r in self.ipv4_routes() if r.gateway is None]
        loopback = self.loopback_interface() if local else "lo"
        for address in local:
            if address.is_loopback:
                table.setdefault(loopback, []).append(InterfaceAddress(address, 8))
                continue
            route = longest_prefix(address, connected)
            if route is not None:
                table.setdefault(route.interface, []).append(
                    InterfaceAddress(address, route.network.prefixlen)
                )
        try:
            ipv6 = parse_proc_net_if_inet6(_read(self.procfs / "net" / "if_inet6"))
        except OSError:
            ipv6 = {}
        for name, addrs in ipv6.items():
            table.setdefault(name, []).extend(addrs)
        return {name: tuple(addrs) for name, addrs in table.items()}

    # -- IGMP / MLD -------------------------------------------------------------------------

    def igmp_table(self) -> dict[str, IgmpEntry]:
        """``/proc/net/igmp`` parsed; empty when the file is absent (no IPv4)."""
        try:
            text = _read(self.procfs / "net" / "igmp")
        except OSError:
            return {}
        return parse_proc_net_igmp(text)

    def _force(self, family: str, name: str, key: str) -> int:
        path = self.procfs / "sys" / "net" / family / "conf" / name / key
        try:
            return int(_read(path).strip())
        except (OSError, ValueError):
            return 0

    def forced_igmp_version(self, name: str) -> int:
        """The effective force_igmp_version of ``name`` (``all`` counts too; 1 wins over 2)."""
        values = (
            self._force("ipv4", "all", "force_igmp_version"),
            self._force("ipv4", name, "force_igmp_version"),
        )
        if 1 in values:
            return 1
        if 2 in values:
            return 2
        return 0

    def igmp(self, name: str) -> IgmpStatus:
        """The IGMP state of interface ``name`` (see :class:`IgmpStatus`)."""
        self._check(name)
        entry = self.igmp_table().get(name)
        forced = self.forced_igmp_version(name)
        querier = entry.querier if entry else None
        if querier in ("V1", "V2", "V3"):
            version = int(querier[1])
        else:
            version = forced or DEFAULT_IGMP_VERSION
        return IgmpStatus(name, version, forced, querier, entry.groups if entry else ())

    def mld_groups(self, name: str) -> tuple[ipaddress.IPv6Address, ...]:
        """The IPv6 multicast groups joined on ``name`` (``/proc/net/igmp6``)."""
        self._check(name)
        try:
            text = _read(self.procfs / "net" / "igmp6")
        except OSError:
            return ()
        return parse_proc_net_igmp6(text).get(name, ())

    def nmt_igmp_version(self, name: str, address: str | IPAddress) -> int:
        """The nMtIGMPVersion column for a stream on ``name`` to/from ``address``.

        0 when IGMP is not used: an IPv6 address (MLD) or a unicast IPv4 address. Otherwise
        the version the kernel speaks on the interface.
        """
        addr = _address(address)
        if addr.version == 6 or not addr.is_multicast:
            self._check(name)
            return 0
        return self.igmp(name).version

    # -- routes -----------------------------------------------------------------------------

    def ipv4_routes(self) -> list[Route]:
        """The IPv4 main table (``/proc/net/route``); empty when absent."""
        try:
            return parse_proc_net_route(_read(self.procfs / "net" / "route"))
        except OSError:
            return []

    def ipv6_routes(self) -> list[Route]:
        """The IPv6 routes (``/proc/net/ipv6_route``); empty when absent."""
        try:
            return parse_proc_net_ipv6_route(_read(self.procfs / "net" / "ipv6_route"))
        except OSError:
            return []

    def route_interface(self, address: str | IPAddress) -> RouteChoice:
        """The interface that traffic to ``address`` goes through.

        Loopback addresses give the loopback interface. An IPv6 address with a zone
        (``fe80::1%eth0``) gives that interface. Otherwise the longest-prefix route; raises
        ``ValueError`` when no route holds the address.
        """
        text = str(address)
        if "%" in text:
            host, zone = text.split("%", 1)
            addr = _address(host)
            self._check(zone)
            return RouteChoice(zone, addr, "zone")
        addr = _address(text)
        if addr.is_loopback:
            return RouteChoice(self.loopback_interface(), addr, "loopback")
        routes = self.ipv4_routes() if addr.version == 4 else self.ipv6_routes()
        route = longest_prefix(addr, routes)
        if route is None:
            raise ValueError(f"no route to {addr} in the IPv{addr.version} routing table")
        return RouteChoice(route.interface, addr, "route", route)


def _address(value: str | IPAddress) -> IPAddress:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None


def addresses_from_psutil(entries: Sequence[Any]) -> tuple[InterfaceAddress, ...]:
    """Convert one interface's ``psutil.net_if_addrs()`` entries (AF_INET / AF_INET6 only)."""
    result = []
    for entry in entries:
        if entry.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            address = ipaddress.ip_address(str(entry.address).split("%", 1)[0])
        except ValueError:
            continue
        result.append(InterfaceAddress(address, _mask_to_prefix(entry.netmask, address.version)))
    return tuple(result)


def _mask_to_prefix(netmask: Any, version: int) -> int | None:
    """The prefix length of a dotted or colon netmask (contiguous masks only), else None."""
    if not netmask:
        return None
    try:
        mask = ipaddress.ip_address(str(netmask))
    except ValueError:
        return None
    if mask.version != version:
        return None
    bits = mask.max_prefixlen
    value = int(mask)
    inverted = ~value & ((1 << bits) - 1)
    if inverted & (inverted + 1):
        return None  # not contiguous
    return bits - inverted.bit_length()
