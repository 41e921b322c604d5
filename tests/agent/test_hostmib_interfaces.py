"""ifTable's source: /sys/class/net and /proc/net/dev, read without psutil (agent.hostmib)."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest
from iec62379.agent.hostmib import read_interfaces

DEV = "\n".join([
    "Inter-|   Receive                            |  Transmit",
    " face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop ...",
    "    lo: 1000 10 0 0 0 0 0 0  1000 10 0 0 0 0 0 0",
    "  eth0: 5000 50 1 2 0 0 0 3  7000 70 4 5 0 0 0 0",
    " junk: not numbers at all",
]) + "\n"


def _sysfs(root: Path, name: str, **attrs: str) -> None:
    d = root / "class" / "net" / name
    d.mkdir(parents=True)
    for k, v in attrs.items():
        (d / k).write_text(v + "\n")


def test_the_live_host_reads_as_psutil_reads_it():
    """psutil (the independent reference, still a dependency for the sensors) and our reader
    agree on every interface's index, MTU, state, address and loopback flag."""
    ours = {i.name: i for i in read_interfaces()}
    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    assert set(ours) == {n for n in stats if n in dict((b, a) for a, b in socket.if_nameindex())}
    for name, i in ours.items():
        st = stats[name]
        assert i.index == socket.if_nametoindex(name)
        assert (i.mtu, i.up) == (st.mtu, st.isup)
        assert i.speed_mbps == max(st.speed, 0)
        macs = [a.address for a in addrs.get(name, []) if a.family == psutil.AF_LINK]
        mac = bytes.fromhex(macs[0].replace(":", "")) if macs else b""
        assert i.mac == (mac if any(mac) else b"")
        assert i.loopback == (name == "lo")


def test_a_made_sysfs_and_procfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sys_, proc = tmp_path / "sys", tmp_path / "proc"
    _sysfs(sys_, "lo", flags="0x9", mtu="65536", operstate="unknown", address="00:00:00:00:00:00")
    _sysfs(sys_, "eth0", flags="0x1003", mtu="1500", speed="1000", operstate="up",
           address="02:fc:00:00:00:01")
    _sysfs(sys_, "eth1", flags="0x1002", mtu="9000", speed="-1", operstate="down",
           address="not a mac")
    _sysfs(sys_, "gone")  # no flags: vanished while read
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "dev").write_text(DEV)
    monkeypatch.setattr(socket, "if_nameindex",
                        lambda: [(1, "lo"), (2, "eth0"), (3, "eth1"), (4, "gone")])
    lo, eth0, eth1 = read_interfaces(sys_, proc)
    assert (lo.name, lo.up, lo.loopback, lo.mac, lo.mtu, lo.speed_mbps) == \
        ("lo", True, True, b"", 65536, 0)
    assert (eth0.up, eth0.loopback, eth0.mac, eth0.speed_mbps) == \
        (True, False, bytes.fromhex("02fc00000001"), 1000)
    assert (eth0.in_octets, eth0.in_pkts, eth0.in_errors, eth0.in_discards) == (5000, 50, 1, 2)
    assert (eth0.out_octets, eth0.out_pkts, eth0.out_errors, eth0.out_discards) == (7000, 70, 4, 5)
    assert (eth1.up, eth1.speed_mbps, eth1.mac, eth1.in_octets) == (False, 0, b"", 0)


def test_garbage_and_missing_files_never_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sys_ = tmp_path / "sys"
    _sysfs(sys_, "x0", flags="zzz", mtu="1500")
    _sysfs(sys_, "x1", flags="0x1", mtu="\x00\xff", speed="", operstate="")
    monkeypatch.setattr(socket, "if_nameindex", lambda: [(7, "x0"), (8, "x1"), (9, "nowhere")])
    (x1,) = read_interfaces(sys_, tmp_path / "no-proc")
    assert (x1.index, x1.mtu, x1.speed_mbps, x1.up, x1.in_octets) == (8, 0, 0, False, 0)
