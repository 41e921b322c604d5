"""Objects the agent serves beside the measurement tables: the SNMPv2-MIB system group, IF-MIB's
ifTable and ifXTable from psutil (ifIndex = the kernel's interface index, so nMtIfIndex and
aMtIfIndex resolve on the same agent), and the engine's SNMP counters (snmp group, snmpEngine,
usmStats). OIDs come from the compiled MIBs by name.

Host values are read by `refresh()`, which the agent calls on a timer, never from a request.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil
from pysnmp.proto import rfc1902

from .config import SystemGroup

Getter = Callable[[], Any]


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


def read_interfaces() -> list[Interface]:
    """The host's interfaces, from psutil, keyed by the kernel's ifIndex."""
    stats = psutil.net_if_stats()
    counters = psutil.net_io_counters(pernic=True)
    addrs = psutil.net_if_addrs()
    out = []
    for name, st in stats.items():
        try:
            index = socket.if_nametoindex(name)
        except OSError:
            continue
        c = counters.get(name)
        mac = b""
        for a in addrs.get(name, []):
            if a.family == psutil.AF_LINK and a.address:
                try:
                    mac = bytes.fromhex(a.address.replace(":", ""))
                except ValueError:
                    mac = b""
        out.append(
            Interface(
                index=index,
                name=name,
                mtu=st.mtu,
                speed_mbps=st.speed,
                up=st.isup,
                mac=mac if any(mac) else b"",
                in_octets=c.bytes_recv if c else 0,
                in_pkts=c.packets_recv if c else 0,
                in_errors=c.errin if c else 0,
                in_discards=c.dropin if c else 0,
                out_octets=c.bytes_sent if c else 0,
                out_pkts=c.packets_sent if c else 0,
                out_errors=c.errout if c else 0,
                out_discards=c.dropout if c else 0,
                loopback=name == "lo" or "LOOPBACK" in str(getattr(st, "flags", "")).upper(),
            )
        )
    return sorted(out, key=lambda i: i.index)


class HostMib:
    """System group, ifTable and ifXTable."""

    def __init__(
        self,
        mib_builder: Any,
        system: SystemGroup,
        read: Callable[[], list[Interface]] = read_interfaces,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        mib_builder.load_modules("SNMPv2-MIB", "IF-MIB")
        self._b = mib_builder
        self.system = system
        self._read = read
        self._clock = clock
        self._start = clock()
        self.version = 0
        self._ifs: list[Interface] = []
        self._last_change = 0

    def _oid(self, module: str, name: str) -> tuple[int, ...]:
        (sym,) = self._b.import_symbols(module, name)
        return tuple(sym.getName())

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
        yield from (self._oid("IF-MIB", n) for n, _ in _IF_COLUMNS)
        yield from (self._oid("IF-MIB", n) for n, _ in _IFX_COLUMNS)

    def objects(self) -> Iterable[tuple[tuple[int, ...], Getter]]:
        s = self.system
        values: dict[str, Getter] = {
            "sysDescr": lambda: rfc1902.OctetString(s.description.encode()),
            "sysObjectID": lambda: rfc1902.ObjectIdentifier(s.object_id),
            "sysUpTime": lambda: rfc1902.TimeTicks(self.uptime()),
            "sysContact": lambda: rfc1902.OctetString(s.contact.encode()),
            "sysName": lambda: rfc1902.OctetString(s.name.encode()),
            "sysLocation": lambda: rfc1902.OctetString(s.location.encode()),
            "sysServices": lambda: rfc1902.Integer32(72),  # application + end-to-end layers
        }
        for name in _SYSTEM:
            yield self._oid("SNMPv2-MIB", name) + (0,), values[name]
        yield self._oid("IF-MIB", "ifNumber") + (0,), lambda: rfc1902.Integer32(len(self._ifs))
        for pos, iface in enumerate(self._ifs):
            for name, fn in _IF_COLUMNS:
                yield self._oid("IF-MIB", name) + (iface.index,), self._cell(pos, iface.index, fn)
            for name, fn in _IFX_COLUMNS:
                yield self._oid("IF-MIB", name) + (iface.index,), self._cell(pos, iface.index, fn)

    def _cell(self, pos: int, index: int, fn: Callable[[Interface, HostMib], Any]) -> Getter:
        def get() -> Any:
            ifs = self._ifs
            iface = ifs[pos] if pos < len(ifs) and ifs[pos].index == index else None
            if iface is None:
                iface = next((i for i in ifs if i.index == index), None)
            return None if iface is None else fn(iface, self)

        return get


_SYSTEM = ("sysDescr", "sysObjectID", "sysUpTime", "sysContact", "sysName", "sysLocation", "sysServices")

_C32 = 4294967296
_IF_COLUMNS: list[tuple[str, Callable[[Interface, HostMib], Any]]] = [
    ("ifIndex", lambda i, h: rfc1902.Integer32(i.index)),
    ("ifDescr", lambda i, h: rfc1902.OctetString(i.name.encode())),
    ("ifType", lambda i, h: rfc1902.Integer32(24 if i.loopback else 6)),  # softwareLoopback / ethernetCsmacd
    ("ifMtu", lambda i, h: rfc1902.Integer32(i.mtu)),
    ("ifSpeed", lambda i, h: rfc1902.Gauge32(min(i.speed_mbps * 1_000_000, _C32 - 1))),
    ("ifPhysAddress", lambda i, h: rfc1902.OctetString(i.mac)),
    ("ifAdminStatus", lambda i, h: rfc1902.Integer32(1 if i.up else 2)),
    ("ifOperStatus", lambda i, h: rfc1902.Integer32(1 if i.up else 2)),
    ("ifLastChange", lambda i, h: rfc1902.TimeTicks(h._last_change)),
    ("ifInOctets", lambda i, h: rfc1902.Counter32(i.in_octets % _C32)),
    ("ifInUcastPkts", lambda i, h: rfc1902.Counter32(i.in_pkts % _C32)),
    ("ifInDiscards", lambda i, h: rfc1902.Counter32(i.in_discards % _C32)),
    ("ifInErrors", lambda i, h: rfc1902.Counter32(i.in_errors % _C32)),
    ("ifOutOctets", lambda i, h: rfc1902.Counter32(i.out_octets % _C32)),
    ("ifOutUcastPkts", lambda i, h: rfc1902.Counter32(i.out_pkts % _C32)),
    ("ifOutDiscards", lambda i, h: rfc1902.Counter32(i.out_discards % _C32)),
    ("ifOutErrors", lambda i, h: rfc1902.Counter32(i.out_errors % _C32)),
]
_IFX_COLUMNS: list[tuple[str, Callable[[Interface, HostMib], Any]]] = [
    ("ifName", lambda i, h: rfc1902.OctetString(i.name.encode())),
    ("ifHCInOctets", lambda i, h: rfc1902.Counter64(i.in_octets)),
    ("ifHCInUcastPkts", lambda i, h: rfc1902.Counter64(i.in_pkts)),
    ("ifHCOutOctets", lambda i, h: rfc1902.Counter64(i.out_octets)),
    ("ifHCOutUcastPkts", lambda i, h: rfc1902.Counter64(i.out_pkts)),
    ("ifHighSpeed", lambda i, h: rfc1902.Gauge32(i.speed_mbps)),
    ("ifPromiscuousMode", lambda i, h: rfc1902.Integer32(2)),
    ("ifConnectorPresent", lambda i, h: rfc1902.Integer32(2 if i.loopback else 1)),
    ("ifAlias", lambda i, h: rfc1902.OctetString(b"")),
    ("ifCounterDiscontinuityTime", lambda i, h: rfc1902.TimeTicks(0)),
]


class EngineCounters:
    """The SNMP engine's own counters and identity, read from pysnmp's instances at request time:
    the snmp group (snmpInPkts ...), snmpEngine (ID, boots, time, max size) and usmStats."""

    NAMES = (
        ("__SNMPv2-MIB", ("snmpInPkts", "snmpInBadVersions", "snmpInBadCommunityNames",
                          "snmpInBadCommunityUses", "snmpInASNParseErrs", "snmpEnableAuthenTraps",
                          "snmpSilentDrops", "snmpProxyDrops")),
        ("__SNMP-FRAMEWORK-MIB", ("snmpEngineID", "snmpEngineBoots", "snmpEngineTime",
                                  "snmpEngineMaxMessageSize")),
        ("__SNMP-USER-BASED-SM-MIB", ("usmStatsUnsupportedSecLevels", "usmStatsNotInTimeWindows",
                                      "usmStatsUnknownUserNames", "usmStatsUnknownEngineIDs",
                                      "usmStatsWrongDigests", "usmStatsDecryptionErrors")),
    )

    def __init__(self, engine_builder: Any) -> None:
        self.version = 0
        self._items: list[tuple[tuple[int, ...], Any]] = []
        for module, names in self.NAMES:
            for name in names:
                (inst,) = engine_builder.import_symbols(module, name)
                self._items.append((tuple(inst.name), inst))

    def object_types(self) -> Iterable[tuple[int, ...]]:
        return [oid[:-1] for oid, _ in self._items]

    def objects(self) -> Iterable[tuple[tuple[int, ...], Getter]]:
        for oid, inst in self._items:
            yield oid, _instance_value(inst)


def _instance_value(inst: Any) -> Getter:
    def get() -> Any:
        value = inst.syntax
        if hasattr(inst, "getValue"):
            try:
                value = inst.getValue(inst.name)
            except Exception:  # noqa: BLE001 - a computed pysnmp value failing must not fail a walk
                value = inst.syntax
        return value

    return get
