"""Network facts for nMtBlockTable, on the fixture trees and on this machine's /sys and /proc."""

from __future__ import annotations

import ipaddress
import socket
from collections import namedtuple
from pathlib import Path

import psutil
import pytest
from iec62379.collectors.sources.netinfo import (
    InterfaceAddress,
    NetInfo,
    addresses_from_psutil,
    longest_prefix,
    parse_fib_trie_local,
    parse_proc_net_igmp,
    parse_proc_net_igmp6,
    parse_proc_net_ipv6_route,
    parse_proc_net_route,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SYS = FIXTURES / "sysfs" / "router"
PROC = FIXTURES / "procfs" / "router"

snicaddr = namedtuple("snicaddr", ["family", "address", "netmask", "broadcast", "ptp"])
ip = ipaddress.ip_address


@pytest.fixture
def net() -> NetInfo:
    if not (SYS / "class" / "net").is_dir():
        pytest.fail(f"fixture tree missing; run python {FIXTURES / 'make_sysfs.py'}")
    return NetInfo(SYS, PROC)


# -- fixture tree -------------------------------------------------------------------------------


def test_interfaces_and_ifindex(net: NetInfo) -> None:
    assert net.interfaces() == ["dummy0", "eth0", "eth1", "lo", "media0"]
    assert [net.ifindex(n) for n in ("lo", "eth0", "eth1", "media0", "dummy0")] == [1, 2, 3, 4, 5]
    assert net.loopback_interface() == "lo"


def test_unknown_interface_names_it_and_lists_the_others(net: NetInfo) -> None:
    expected = "unknown network interface 'wlan9'; interfaces here: dummy0, eth0, eth1, lo, media0"
    for call in (net.ifindex, net.addresses, net.igmp, net.mld_groups, net.interface):
        with pytest.raises(ValueError) as excinfo:
            call("wlan9")
        assert str(excinfo.value) == expected
    with pytest.raises(ValueError, match="unknown network interface 'wlan9'"):
        net.nmt_igmp_version("wlan9", "192.0.2.1")


def test_bad_ifindex_file(tmp_path: Path) -> None:
    (tmp_path / "class" / "net" / "eth0").mkdir(parents=True)
    (tmp_path / "class" / "net" / "eth0" / "ifindex").write_text("x\n")
    (tmp_path / "class" / "net" / "eth1").mkdir()
    info = NetInfo(tmp_path, tmp_path)
    with pytest.raises(ValueError, match="is not an integer: 'x'"):
        info.ifindex("eth0")
    with pytest.raises(ValueError, match="cannot read"):
        info.ifindex("eth1")


def test_procfs_addresses(net: NetInfo) -> None:
    assert net.addresses_from == "procfs"
    assert net.addresses("eth0") == (
        InterfaceAddress(ip("192.0.2.10"), 24),
        InterfaceAddress(ip("2001:db8:1::10"), 64),
        InterfaceAddress(ip("fe80::2"), 64),
    )
    assert net.addresses("lo") == (
        InterfaceAddress(ip("127.0.0.1"), 8),
        InterfaceAddress(ip("::1"), 128),
    )
    assert net.interface("media0").ipv4() == (ip("203.0.113.5"),)
    assert net.interface("media0").ipv6() == (ip("2001:db8:1:5::1"),)
    assert net.interface("eth1").ifindex == 3
    # 100.64.9.9 has no connected route: left out, never guessed
    assert all(ip("100.64.9.9") not in net.interface(n).ipv4() for n in net.interfaces())
    assert net.addresses("dummy0") == ()


def test_igmp_version_from_querier_column(net: NetInfo) -> None:
    assert net.igmp("eth0").version == 3
    assert net.igmp("eth1").version == 2
    assert net.igmp("media0").version == 1
    status = net.igmp("eth1")
    assert status.querier == "V2" and status.forced == 0
    assert status.groups == (ip("232.1.2.3"), ip("224.0.0.1"))


def test_igmp_version_forced_or_default_when_not_listed(net: NetInfo, tmp_path: Path) -> None:
    # dummy0 has joined nothing: force_igmp_version=2 decides
    assert net.igmp("dummy0").version == 2 and net.igmp("dummy0").querier is None
    # no files at all: the kernel default, 3
    (tmp_path / "class" / "net" / "x0").mkdir(parents=True)
    assert NetInfo(tmp_path, tmp_path).igmp("x0").version == 3


def test_force_all_counts_and_v1_wins(tmp_path: Path) -> None:
    (tmp_path / "class" / "net" / "eth0").mkdir(parents=True)
    conf = tmp_path / "sys" / "net" / "ipv4" / "conf"
    for name, value in (("all", 2), ("eth0", 0)):
        (conf / name).mkdir(parents=True)
        (conf / name / "force_igmp_version").write_text(f"{value}\n")
    info = NetInfo(tmp_path, tmp_path)
    assert info.forced_igmp_version("eth0") == 2
    (conf / "eth0" / "force_igmp_version").write_text("1\n")
    assert info.forced_igmp_version("eth0") == 1
    assert info.igmp("eth0").version == 1


def test_nmt_igmp_version_column(net: NetInfo) -> None:
    assert net.nmt_igmp_version("eth1", "232.1.2.3") == 2
    assert net.nmt_igmp_version("eth0", "239.1.1.1") == 3
    assert net.nmt_igmp_version("eth0", "192.0.2.99") == 0  # unicast: IGMP not used
    assert net.nmt_igmp_version("eth0", "ff3e::8000:1") == 0  # IPv6: MLD, not IGMP
    with pytest.raises(ValueError, match="not an IP address: 'nope'"):
        net.nmt_igmp_version("eth0", "nope")


def test_mld_groups(net: NetInfo) -> None:
    assert ip("ff3e::8000:1") in net.mld_groups("eth0")
    assert net.mld_groups("eth1") == ()


def test_route_interface_ipv4(net: NetInfo) -> None:
    assert net.route_interface("192.0.2.77").interface == "eth0"
    assert net.route_interface("198.51.100.9").interface == "eth1"
    choice = net.route_interface("8.8.8.8")  # two defaults: lowest metric wins
    assert choice.interface == "eth0" and choice.route is not None
    assert choice.route.gateway == ip("192.0.2.1") and choice.reason == "route"
    assert net.route_interface("232.1.2.3").interface == "media0"  # SSM range routed to media0
    assert net.route_interface("239.9.9.9").interface == "eth0"  # same prefix: metric 5 < 10
    assert net.route_interface("203.0.113.100").interface == "media0"  # /25
    assert net.route_interface("203.0.113.200").interface == "eth0"  # outside the /25: default


def test_route_interface_loopback_ipv6_and_zone(net: NetInfo) -> None:
    assert net.route_interface("127.0.0.5").interface == "lo"
    assert net.route_interface("127.0.0.5").reason == "loopback"
    assert net.route_interface("::1").interface == "lo"
    assert net.route_interface("2001:db8:1:5::99").interface == "media0"
    assert net.route_interface("2001:db8:1::10").interface == "eth0"
    assert net.route_interface("2001:db8:ffff::1").interface == "eth0"  # default via fe80::1
    assert net.route_interface("2001:db8:ffff::1").route.gateway == ip("fe80::1")
    assert net.route_interface("ff3e::8000:1").interface == "eth0"
    assert net.route_interface("fe80::9%eth1").interface == "eth1"
    with pytest.raises(ValueError, match="unknown network interface 'eth7'"):
        net.route_interface("fe80::9%eth7")


def test_no_route_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no route to 10\.1\.1\.1 in the IPv4 routing table"):
        NetInfo(tmp_path, tmp_path).route_interface("10.1.1.1")


def test_bad_addresses_from() -> None:
    with pytest.raises(ValueError, match="addresses_from must be"):
        NetInfo(addresses_from="dns")  # type: ignore[arg-type]


# -- parsers ------------------------------------------------------------------------------------


def test_parse_igmp_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="line 2: group line before a device line"):
        parse_proc_net_igmp(
            "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
            "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
        )
    with pytest.raises(ValueError, match="line 1: bad device line"):
        parse_proc_net_igmp("garbage here\n")
    with pytest.raises(ValueError, match="line 2: bad group line"):
        parse_proc_net_igmp("1\tlo        :     1      V3\n\t\t\t\tZZZZ\n")
    assert parse_proc_net_igmp("") == {}


def test_parse_route_skips_reject_and_down_routes() -> None:
    text = (PROC / "net" / "route").read_text()
    routes = parse_proc_net_route(text)
    assert len(routes) == 8  # the unreachable "*" route is left out
    assert routes[0].network == ipaddress.ip_network("0.0.0.0/0")
    down = "eth0\t0000000A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    assert parse_proc_net_route(down) == []
    with pytest.raises(ValueError, match="/proc/net/route line 1"):
        parse_proc_net_route("eth0\tzz\n")
    with pytest.raises(ValueError, match="/proc/net/route line 1"):
        parse_proc_net_route("eth0\tGG000000\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")


def test_parse_ipv6_route_skips_reject() -> None:
    routes = parse_proc_net_ipv6_route((PROC / "net" / "ipv6_route").read_text())
    assert all(r.metric != 0xFFFFFFFF for r in routes)
    assert len(routes) == 8
    with pytest.raises(ValueError, match="/proc/net/ipv6_route line 1"):
        parse_proc_net_ipv6_route("short line\n")


def test_parse_igmp6_and_fib_trie() -> None:
    with pytest.raises(ValueError, match="/proc/net/igmp6 line 1"):
        parse_proc_net_igmp6("1 lo xyz\n")
    assert parse_fib_trie_local("|-- not.an.address\n   /32 host LOCAL\n") == []


def test_longest_prefix_ignores_other_family() -> None:
    routes = parse_proc_net_route((PROC / "net" / "route").read_text())
    assert longest_prefix(ip("2001:db8::1"), routes) is None


def test_addresses_from_psutil_conversion() -> None:
    entries = [
        snicaddr(socket.AF_INET, "192.0.2.2", "255.255.255.0", "192.0.2.255", None),
        snicaddr(socket.AF_INET6, "fe80::1%eth0", "ffff:ffff:ffff:ffff::", None, None),
        snicaddr(socket.AF_INET, "198.51.100.1", "255.0.255.0", None, None),  # odd mask
        snicaddr(socket.AF_INET, "not-an-ip", None, None, None),
        snicaddr(psutil.AF_LINK, "02:00:00:00:00:01", None, None, None),
    ]
    assert addresses_from_psutil(entries) == (
        InterfaceAddress(ip("192.0.2.2"), 24),
        InterfaceAddress(ip("fe80::1"), 64),
        InterfaceAddress(ip("198.51.100.1"), None),
    )


def test_injected_psutil_addresses(net: NetInfo) -> None:
    fake = {"eth0": [snicaddr(socket.AF_INET, "192.0.2.44", "255.255.255.0", None, None)]}
    info = NetInfo(SYS, PROC, addresses_from="psutil", psutil_addrs=lambda: fake)
    assert info.addresses("eth0") == (InterfaceAddress(ip("192.0.2.44"), 24),)
    assert info.addresses("eth1") == ()


# -- the live machine ---------------------------------------------------------------------------


def test_live_loopback_and_ifindex() -> None:
    live = NetInfo()
    assert live.addresses_from == "psutil"
    assert "lo" in live.interfaces()
    assert live.ifindex("lo") == 1
    for name in live.interfaces():
        assert live.ifindex(name) == socket.if_nametoindex(name)
    assert live.loopback_interface() == "lo"
    assert ip("127.0.0.1") in live.interface("lo").ipv4()
    assert live.route_interface("127.0.0.1").interface == "lo"


def test_live_procfs_reader_agrees_with_psutil() -> None:
    via_psutil = NetInfo().all_addresses()
    via_procfs = NetInfo(addresses_from="procfs").all_addresses()
    for name in NetInfo().interfaces():
        assert set(via_procfs.get(name, ())) <= set(via_psutil.get(name, ())), name
        v4_psutil = {a for a in via_psutil.get(name, ()) if a.version == 4}
        v4_procfs = {a for a in via_procfs.get(name, ()) if a.version == 4}
        assert v4_procfs == v4_psutil, name


def test_live_routes_and_igmp() -> None:
    live = NetInfo()
    table = live.igmp_table()
    for name, entry in table.items():
        assert entry.querier in ("V1", "V2", "V3")
        assert live.ifindex(name) == entry.ifindex
        assert 1 <= live.igmp(name).version <= 3
    for route in live.ipv4_routes():
        assert route.interface in live.interfaces()
    default = [r for r in live.ipv4_routes() if r.network.prefixlen == 0]
    if default:
        assert live.route_interface("203.0.113.1").interface in {r.interface for r in default}
