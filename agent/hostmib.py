"""Objects the agent serves beside the measurement tables: the SNMPv2-MIB system group,
IF-MIB's ifTable and ifXTable from /sys/class/net and /proc/net/dev (ifIndex = the kernel's
interface index, so nMtIfIndex and aMtIfIndex resolve on the same agent), and the engine's SNMP
counters (snmp group, snmpEngine, usmStats). OIDs come from the MIB modules by name, through
the agent's MIB index (`mibs.index`, or the MibMap over it: anything with `symbol_oid`).

Host values are read by `refresh()`, which the agent calls on a timer, never from a request.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import ber
from .config import DEFAULT_MAX_MESSAGE_SIZE, SystemGroup

Getter = Callable[[], Any]


class MibOids(Protocol):
    """Where OIDs come from: the agent's MIB index (mibs.index.MibIndex) or the MibMap."""

    def symbol_oid(self, module: str, name: str) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class Interface:
    index: int
    name: str
    mtu: int
    speed_mbps: int
    up: bool
    mac: bytes
    in_octets: int
    in_pkts: int
    in_errors: int
    in_discards: int
    out_octets: int
    out_pkts: int
    out_errors: int
    out_discards: int
    loopback: bool


IFF_UP, IFF_LOOPBACK = 0x1, 0x8  # <linux/if.h>


def _sys_int(path: Path, default: int = 0) -> int:
    """An integer sysfs attribute; `default` when it is missing, unreadable (EINVAL for the
    speed of a link that is down) or not a number."""
    try:
        return int(path.read_text().strip(), 0)
    except (OSError, ValueError):
        return default


def _is_running(d: Path, flags: int) -> bool:
    """IFF_UP and IFF_RUNNING as SIOCGIFFLAGS gives them: sysfs `flags` lacks RUNNING, which
    the kernel derives from the operational state (up, or unknown as for lo)."""
    try:
        oper = d.joinpath("operstate").read_text().strip()
    except OSError:
        return False
    return bool(flags & IFF_UP) and oper in ("up", "unknown")


def _proc_net_dev(text: str) -> dict[str, list[int]]:
    """/proc/net/dev: interface -> its 16 counters (receive bytes, packets, errs, drop, fifo,
    frame, compressed, multicast, then transmit bytes, packets, errs, drop, ...)."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and len(fields) >= 16 and all(f.isdigit() for f in fields[:16]):
            out[name.strip()] = [int(f) for f in fields[:16]]
    return out


def read_interfaces(sysfs: Path = Path("/sys"), procfs: Path = Path("/proc")) -> list[Interface]:
    """The host's interfaces keyed by the kernel's ifIndex: flags, MTU, speed and address from
    /sys/class/net, counters from /proc/net/dev (what psutil reads too, without the 2.7 MiB its
    import costs the agent). An interface that vanishes while it is read is left out."""
    try:
        counters = _proc_net_dev((procfs / "net" / "dev").read_text())
    except OSError:
        counters = {}
    out = []
    for index, name in socket.if_nameindex():
        d = sysfs / "class" / "net" / name
        flags = _sys_int(d / "flags", -1)
        if flags < 0:
            continue
        try:
            mac = bytes.fromhex(d.joinpath("address").read_text().strip().replace(":", ""))
        except (OSError, ValueError):
            mac = b""
        c = counters.get(name, [0] * 16)
        out.append(
            Interface(
                index=index,
                name=name,
                mtu=_sys_int(d / "mtu"),
                speed_mbps=max(_sys_int(d / "speed"), 0),
                up=_is_running(d, flags),
                mac=mac if any(mac) else b"",
                in_octets=c[0],
                in_pkts=c[1],
                in_errors=c[2],
                in_discards=c[3],
                out_octets=c[8],
                out_pkts=c[9],
                out_errors=c[10],
                out_discards=c[11],
                loopback=bool(flags & IFF_LOOPBACK),
            )
        )
    return sorted(out, key=lambda i: i.index)


class HostMib:
    """System group, ifTable and ifXTable."""

    def __init__(
        self,
        mib: MibOids,
        system: SystemGroup,
        read: Callable[[], list[Interface]] = read_interfaces,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._oid = mib.symbol_oid
        self.system = system
        self._read = read
        self._clock = clock
        self._start = clock()
        self.version = 0
        self._ifs: list[Interface] = []
        self._last_change = 0

    def uptime(self) -> int:
        """Hundredths of a second since the agent started (sysUpTime)."""
        return int((self._clock() - self._start) * 100) % 4294967296

    def refresh(self) -> None:
        ifs = self._read()
        if [(i.index, i.name) for i in ifs] != [(i.index, i.name) for i in self._ifs]:
            self._last_change = self.uptime()
            self.version += 1
        self._ifs = ifs

    def object_types(self) -> Iterable[tuple[int, ...]]:
        yield from (self._oid("SNMPv2-MIB", n) for n in _SYSTEM)
        yield self._oid("IF-MIB", "ifNumber")
        yield from (self._oid("IF-MIB", n) for n, _, _ in _IF_COLUMNS + _IFX_COLUMNS)

    def objects(self) -> Iterable[tuple[tuple[int, ...], int, Getter]]:
        s = self.system
        values: dict[str, tuple[int, Getter]] = {
            "sysDescr": (ber.OCTET_STRING, lambda: s.description.encode()),
            "sysObjectID": (ber.OBJECT_IDENTIFIER, lambda: s.object_id),
            "sysUpTime": (ber.TIMETICKS, self.uptime),
            "sysContact": (ber.OCTET_STRING, lambda: s.contact.encode()),
            "sysName": (ber.OCTET_STRING, lambda: s.name.encode()),
            "sysLocation": (ber.OCTET_STRING, lambda: s.location.encode()),
            "sysServices": (ber.INTEGER, lambda: 72),  # application + end-to-end layers
        }
        for name in _SYSTEM:
            yield (self._oid("SNMPv2-MIB", name) + (0,), *values[name])
        yield self._oid("IF-MIB", "ifNumber") + (0,), ber.INTEGER, lambda: len(self._ifs)
        for pos, iface in enumerate(self._ifs):
            for name, tag, fn in _IF_COLUMNS + _IFX_COLUMNS:
                oid = self._oid("IF-MIB", name) + (iface.index,)
                yield oid, tag, self._cell(pos, iface.index, fn)

    def _cell(self, pos: int, index: int, fn: Callable[[Interface, HostMib], Any]) -> Getter:
        def get() -> Any:
            ifs = self._ifs
            iface = ifs[pos] if pos < len(ifs) and ifs[pos].index == index else None
            if iface is None:
                iface = next((i for i in ifs if i.index == index), None)
            return None if iface is None else fn(iface, self)

        return get


_SYSTEM = ("sysDescr", "sysObjectID", "sysUpTime", "sysContact", "sysName", "sysLocation",
           "sysServices")

_C32 = 4294967296
_IF_COLUMNS: list[tuple[str, int, Callable[[Interface, HostMib], Any]]] = [
    ("ifIndex", ber.INTEGER, lambda i, h: i.index),
    ("ifDescr", ber.OCTET_STRING, lambda i, h: i.name.encode()),
    # softwareLoopback / ethernetCsmacd
    ("ifType", ber.INTEGER, lambda i, h: 24 if i.loopback else 6),
    ("ifMtu", ber.INTEGER, lambda i, h: i.mtu),
    ("ifSpeed", ber.GAUGE32, lambda i, h: min(i.speed_mbps * 1_000_000, _C32 - 1)),
    ("ifPhysAddress", ber.OCTET_STRING, lambda i, h: i.mac),
    ("ifAdminStatus", ber.INTEGER, lambda i, h: 1 if i.up else 2),
    ("ifOperStatus", ber.INTEGER, lambda i, h: 1 if i.up else 2),
    ("ifLastChange", ber.TIMETICKS, lambda i, h: h._last_change),
    ("ifInOctets", ber.COUNTER32, lambda i, h: i.in_octets % _C32),
    ("ifInUcastPkts", ber.COUNTER32, lambda i, h: i.in_pkts % _C32),
    ("ifInDiscards", ber.COUNTER32, lambda i, h: i.in_discards % _C32),
    ("ifInErrors", ber.COUNTER32, lambda i, h: i.in_errors % _C32),
    ("ifOutOctets", ber.COUNTER32, lambda i, h: i.out_octets % _C32),
    ("ifOutUcastPkts", ber.COUNTER32, lambda i, h: i.out_pkts % _C32),
    ("ifOutDiscards", ber.COUNTER32, lambda i, h: i.out_discards % _C32),
    ("ifOutErrors", ber.COUNTER32, lambda i, h: i.out_errors % _C32),
]
_IFX_COLUMNS: list[tuple[str, int, Callable[[Interface, HostMib], Any]]] = [
    ("ifName", ber.OCTET_STRING, lambda i, h: i.name.encode()),
    ("ifHCInOctets", ber.COUNTER64, lambda i, h: i.in_octets),
    ("ifHCInUcastPkts", ber.COUNTER64, lambda i, h: i.in_pkts),
    ("ifHCOutOctets", ber.COUNTER64, lambda i, h: i.out_octets),
    ("ifHCOutUcastPkts", ber.COUNTER64, lambda i, h: i.out_pkts),
    ("ifHighSpeed", ber.GAUGE32, lambda i, h: i.speed_mbps),
    ("ifPromiscuousMode", ber.INTEGER, lambda i, h: 2),
    ("ifConnectorPresent", ber.INTEGER, lambda i, h: 2 if i.loopback else 1),
    ("ifAlias", ber.OCTET_STRING, lambda i, h: b""),
    ("ifCounterDiscontinuityTime", ber.TIMETICKS, lambda i, h: 0),
]


@dataclass
class SnmpCounters:
    """The agent's message counters, for every version (RFC 3418 snmp group, RFC 3412
    snmpMPDStats, RFC 3413 snmpUnknownContexts / snmpUnavailableContexts, RFC 3414 usmStats)."""

    in_pkts: int = 0
    in_bad_versions: int = 0
    in_bad_community_names: int = 0
    in_bad_community_uses: int = 0
    in_asn_parse_errs: int = 0
    silent_drops: int = 0
    proxy_drops: int = 0
    unknown_security_models: int = 0
    invalid_msgs: int = 0
    unknown_pdu_handlers: int = 0
    unavailable_contexts: int = 0
    unknown_contexts: int = 0
    usm_unsupported_sec_levels: int = 0
    usm_not_in_time_windows: int = 0
    usm_unknown_user_names: int = 0
    usm_unknown_engine_ids: int = 0
    usm_wrong_digests: int = 0
    usm_decryption_errors: int = 0


# (module, object, SnmpCounters field). snmpEnableAuthenTraps is [agent] enable_authen_traps
# (read-only here): enabled(1) when authenticationFailure notifications are sent.
_SNMP_GROUP = (
    ("snmpInPkts", "in_pkts"),
    ("snmpInBadVersions", "in_bad_versions"),
    ("snmpInBadCommunityNames", "in_bad_community_names"),
    ("snmpInBadCommunityUses", "in_bad_community_uses"),
    ("snmpInASNParseErrs", "in_asn_parse_errs"),
    ("snmpSilentDrops", "silent_drops"),
    ("snmpProxyDrops", "proxy_drops"),
)
#: The SNMPv3 counters, served when the agent has v3 users.
V3_COUNTERS = (
    ("SNMP-TARGET-MIB", "snmpUnavailableContexts", "unavailable_contexts"),
    ("SNMP-TARGET-MIB", "snmpUnknownContexts", "unknown_contexts"),
    ("SNMP-MPD-MIB", "snmpUnknownSecurityModels", "unknown_security_models"),
    ("SNMP-MPD-MIB", "snmpInvalidMsgs", "invalid_msgs"),
    ("SNMP-MPD-MIB", "snmpUnknownPDUHandlers", "unknown_pdu_handlers"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels", "usm_unsupported_sec_levels"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows", "usm_not_in_time_windows"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames", "usm_unknown_user_names"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs", "usm_unknown_engine_ids"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests", "usm_wrong_digests"),
    ("SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors", "usm_decryption_errors"),
)


class EngineCounters:
    """The snmp group (snmpInPkts ...), snmpEngine (ID, boots, time, max message size) and, when
    SNMPv3 is served (`v3`), the SNMPv3 counters (V3_COUNTERS). snmpEngineTime counts seconds
    from this object's creation (the agent's start, when snmpEngineBoots was raised)."""

    def __init__(
        self,
        mib: MibOids,
        counters: SnmpCounters,
        engine_id: bytes,
        boots: int,
        clock: Callable[[], float] = time.monotonic,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        v3: bool = False,
        enable_authen_traps: bool = False,
    ) -> None:
        self._oid = mib.symbol_oid
        self.counters = counters
        self.engine_id = engine_id
        self.boots = boots
        self.max_message_size = max_message_size
        self.v3 = v3
        self.enable_authen_traps = enable_authen_traps
        self._clock = clock
        self._start = clock()
        self.version = 0

    def engine_time(self) -> int:
        """snmpEngineTime: seconds since the engine started (RFC 3414 2.2.1)."""
        return min(int(self._clock() - self._start), 2147483647)

    def _names(self) -> list[tuple[str, str]]:
        names = [("SNMPv2-MIB", n) for n, _ in _SNMP_GROUP]
        names += [("SNMPv2-MIB", "snmpEnableAuthenTraps")]
        names += [("SNMP-FRAMEWORK-MIB", n) for n in ("snmpEngineID", "snmpEngineBoots",
                                                      "snmpEngineTime", "snmpEngineMaxMessageSize")]
        if self.v3:
            names += [(m, n) for m, n, _ in V3_COUNTERS]
        return names

    def object_types(self) -> Iterable[tuple[int, ...]]:
        return [self._oid(m, n) for m, n in self._names()]

    def objects(self) -> Iterable[tuple[tuple[int, ...], int, Getter]]:
        for name, field in _SNMP_GROUP:
            yield self._oid("SNMPv2-MIB", name) + (0,), ber.COUNTER32, self._count(field)
        yield (self._oid("SNMPv2-MIB", "snmpEnableAuthenTraps") + (0,), ber.INTEGER,
               lambda: 1 if self.enable_authen_traps else 2)
        fw = "SNMP-FRAMEWORK-MIB"
        yield self._oid(fw, "snmpEngineID") + (0,), ber.OCTET_STRING, lambda: self.engine_id
        yield self._oid(fw, "snmpEngineBoots") + (0,), ber.INTEGER, lambda: self.boots
        yield self._oid(fw, "snmpEngineTime") + (0,), ber.INTEGER, self.engine_time
        yield (self._oid(fw, "snmpEngineMaxMessageSize") + (0,), ber.INTEGER,
               lambda: self.max_message_size)
        if self.v3:
            for module, name, field in V3_COUNTERS:
                yield self._oid(module, name) + (0,), ber.COUNTER32, self._count(field)

    def counter_oid(self, field: str) -> tuple[int, ...]:
        """The instance OID of the counter kept in SnmpCounters.`field` (for Report PDUs)."""
        for module, name, f in V3_COUNTERS:
            if f == field:
                return self._oid(module, name) + (0,)
        raise KeyError(field)

    def _count(self, field: str) -> Getter:
        return lambda: getattr(self.counters, field) % _C32
