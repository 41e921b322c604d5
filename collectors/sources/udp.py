"""Live UDP receiver: unicast or multicast, kernel timestamps, batches of datagrams.

One :class:`UdpSource` owns one socket. Every receive is a single ``recvmmsg(2)`` call that
takes up to ``batch_size`` queued datagrams straight into a fresh numpy buffer (datagram i at
byte ``i * max_datagram``), with the kernel receive time of each (``SO_TIMESTAMPNS``) and the
socket's kernel drop counter (``SO_RXQ_OVFL``) in the control messages. Lengths, times, source
addresses and drop counts are read back with numpy; there is no Python object per datagram.

Multicast joins: any-source ``IP_ADD_MEMBERSHIP`` with ``ip_mreqn`` (interface by index),
source-specific ``IP_ADD_SOURCE_MEMBERSHIP`` (or ``MCAST_JOIN_SOURCE_GROUP`` when an
interface is named, since it takes an index), IPv6 ``IPV6_JOIN_GROUP`` and
``MCAST_JOIN_SOURCE_GROUP``. ``IP_MULTICAST_ALL`` / ``IPV6_MULTICAST_ALL`` are switched off so
that the socket only sees the groups it joined itself.

Kernel drops (datagrams the socket buffer had no room for) are counted in
``stats.kernel_drops``, apart from network loss, which the measurement core derives from RTP
and TS sequence numbers.

Each datagram's flow is (source address, source port, the URL's address, the URL's port).
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from iec62379.collectors.core.batch import FlowKey, PacketBatch
from iec62379.collectors.sources._recvmmsg import MMSG_FIELDS, MSG_DONTWAIT, MSG_TRUNC, MmsgRing

_LEN_I = MMSG_FIELDS.index("msg_len")
_FLAGS_I = MMSG_FIELDS.index("msg_flags")
_CLEN_I = MMSG_FIELDS.index("msg_controllen")

__all__ = ["StreamUrl", "parse_stream_url", "UdpSource", "ReceiverStats"]

SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SO_RXQ_OVFL = 40
IP_ADD_SOURCE_MEMBERSHIP = 39
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
MCAST_JOIN_SOURCE_GROUP = 46
IPV6_JOIN_GROUP = 20

_SCHEMES = ("udp", "rtp")
_QUERY_KEYS = ("iface", "rcvbuf")
_CONTROL_SIZE = 64  # CMSG_SPACE(timespec) = 32, CMSG_SPACE(uint32) = 24
_SMALL_BATCH = 8


# --------------------------------------------------------------------------- URLs


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


# --------------------------------------------------------------------------- receiver


@dataclass(slots=True)
class ReceiverStats:
    """Counters of one receiver. kernel_drops is the socket's own drop count (SO_RXQ_OVFL):
    datagrams that reached the host but found the receive buffer full."""

    datagrams: int = 0
    bytes: int = 0
    calls: int = 0
    truncated: int = 0
    kernel_drops: int = 0
    missing_timestamps: int = 0
    rcvbuf_requested: int = 0
    rcvbuf_granted: int = 0


class UdpSource:
    """Receive datagrams of one stream URL as PacketBatch objects.

    ``receive_batch(timeout_s)`` blocks until datagrams are queued (or the timeout passes) and
    returns all queued ones up to ``batch_size``; ``recv_nowait()`` never blocks; ``attach()``
    runs a callback from an asyncio loop; ``await receive()`` waits in a coroutine.
    Each batch has its own buffer, so batches stay valid after later receives.
    """

    def __init__(
        self,
        url: StreamUrl | str,
        *,
        batch_size: int = 512,
        max_datagram: int = 2048,
        rcvbuf: int | None = None,
    ) -> None:
        self.url = parse_stream_url(url) if isinstance(url, str) else url
        if not 1 <= batch_size <= 1024:
            raise ValueError(f"batch_size must be 1..1024, got {batch_size}")
        if not 1 <= max_datagram <= 65536:
            raise ValueError(f"max_datagram must be 1..65536, got {max_datagram}")
        self.batch_size = batch_size
        self.max_datagram = max_datagram
        self.stats = ReceiverStats()
        u = self.url
        self._family = u.family
        self._ifindex = 0
        if u.iface:
            try:
                self._ifindex = socket.if_nametoindex(u.iface)
            except OSError:
                raise ValueError(f"{u}: no network interface named {u.iface!r}") from None
        self._dst = ipaddress.ip_address(u.bind_address).packed
        self._ring = MmsgRing(batch_size, max_datagram, _CONTROL_SIZE)
        self._flow_ids: dict[bytes, int] = {}
        self._flows: list[FlowKey] = []
        self._last_ts = 0
        self._sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            self._setup(rcvbuf if rcvbuf is not None else (u.rcvbuf or 8 * 1024 * 1024))
        except BaseException:
            self._sock.close()
            raise

    def _setup(self, rcvbuf: int) -> None:
        s, u = self._sock, self.url
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.set_rcvbuf(rcvbuf)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        v6 = self._family == socket.AF_INET6
        if u.is_multicast:
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            else:
                s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        if self._ifindex and not u.is_multicast:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, u.iface.encode())
        s.bind((u.bind_address, u.port))
        self._port = s.getsockname()[1]  # differs from u.port when that is 0 (any free port)
        if u.is_multicast:
            self._join()

    def _join(self) -> None:
        s, u = self._sock, self.url
        group = ipaddress.ip_address(u.address).packed
        if self._family == socket.AF_INET:
            if u.source is None:
                mreqn = struct.pack("=4s4si", group, b"\0\0\0\0", self._ifindex)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            elif not self._ifindex:
                src = ipaddress.ip_address(u.source).packed
                mreq_source = struct.pack("=4s4s4s", group, b"\0\0\0\0", src)
                s.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, mreq_source)
            else:
                s.setsockopt(socket.IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, self._gsr())
        else:
            if u.source is None:
                mreq6 = struct.pack("=16sI", group, self._ifindex)
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq6)
            else:
                s.setsockopt(socket.IPPROTO_IPV6, MCAST_JOIN_SOURCE_GROUP, self._gsr())

    def _gsr(self) -> bytes:
        """struct group_source_req: ifindex, then group and source as sockaddr_storage."""
        u = self.url
        assert u.source is not None

        def storage(addr: str) -> bytes:
            packed = ipaddress.ip_address(addr).packed
            if self._family == socket.AF_INET:
                sa = struct.pack("=HH4s", socket.AF_INET, 0, packed)
            else:
                sa = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, packed, 0)
            return sa.ljust(128, b"\0")

        return struct.pack("=I4x", self._ifindex) + storage(u.address) + storage(u.source)

    def set_rcvbuf(self, size: int) -> int:
        """Ask for a receive buffer of size bytes (SO_RCVBUFFORCE when permitted, which
        ignores net.core.rmem_max); return what the kernel granted (Linux reports double the
        usable size, as getsockopt does)."""
        s = self._sock
        self.stats.rcvbuf_requested = size
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except PermissionError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        self.stats.rcvbuf_granted = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        return self.stats.rcvbuf_granted

    # -- receiving ------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    @property
    def local_address(self) -> tuple[Any, ...]:
        """The bound socket address (to learn an ephemeral port in tests)."""
        return self._sock.getsockname()

    @property
    def flows(self) -> list[FlowKey]:
        """All flows seen so far, indexed by flow id."""
        return list(self._flows)

    def receive_batch(self, timeout_s: float | None = 1.0) -> PacketBatch:
        """Wait up to timeout_s (None: forever) for datagrams; return those queued (maybe none)."""
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        ms = None if timeout_s is None else max(0, int(timeout_s * 1000))
        if not poller.poll(ms):
            return self._empty()
        return self.recv_nowait()

    def recv_nowait(self) -> PacketBatch:
        """One recvmmsg call without waiting: the datagrams queued now, up to batch_size."""
        ring = self._ring
        data = np.empty(ring.count * ring.slot_size, dtype=np.uint8)
        n = ring.recv(self._sock.fileno(), data, MSG_DONTWAIT)
        self.stats.calls += 1
        if n == 0:
            return self._empty()
        if n <= _SMALL_BATCH:  # numpy's per-call overhead exceeds a few Python steps
            lengths, trunc, arrival, flow_ids = self._small(n)
        else:
            hdrs = ring.hdrs[:n]
            lengths = hdrs["msg_len"].astype(np.int32)
            trunc = np.count_nonzero(hdrs["msg_flags"] & MSG_TRUNC)
            arrival = self._timestamps(n)
            flow_ids = self._assign_flows(n)
        st = self.stats
        st.datagrams += n
        st.bytes += int(lengths.sum())
        st.truncated += int(trunc)
        return PacketBatch(
            data=data,
            offsets=np.arange(n, dtype=np.int64) * ring.slot_size,
            lengths=lengths,
            arrival_ns=arrival,
            flow_ids=flow_ids,
            flows=list(self._flows),
        )

    def _small(self, n: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """The per-datagram path for a handful of datagrams."""
        ring = self._ring
        hdrs = ring.hdrs[:n].tolist()
        lengths = np.empty(n, dtype=np.int32)
        arrival = np.empty(n, dtype=np.int64)
        flow_ids = np.empty(n, dtype=np.int32)
        trunc = 0
        li, fi, ci = _LEN_I, _FLAGS_I, _CLEN_I
        for i, h in enumerate(hdrs):
            lengths[i] = h[li]
            trunc += bool(h[fi] & MSG_TRUNC)
            ts, dropped = _parse_cmsgs(ring.control[i, : h[ci]].tobytes())
            if ts is None:
                self.stats.missing_timestamps += 1
                ts = self._last_ts
            arrival[i] = self._last_ts = ts
            if dropped is not None and dropped > self.stats.kernel_drops:
                self.stats.kernel_drops = dropped
            raw = ring.names[i].tobytes()
            fid = self._flow_ids.get(raw)
            if fid is None:
                fid = len(self._flows)
                self._flow_ids[raw] = fid
                self._flows.append(self._flow_key(raw))
            flow_ids[i] = fid
        return lengths, trunc, arrival, flow_ids

    def _empty(self) -> PacketBatch:
        return PacketBatch(
            data=np.zeros(0, dtype=np.uint8),
            offsets=np.zeros(0, dtype=np.int64),
            lengths=np.zeros(0, dtype=np.int32),
            arrival_ns=np.zeros(0, dtype=np.int64),
            flow_ids=np.zeros(0, dtype=np.int32),
            flows=list(self._flows),
        )

    def _timestamps(self, n: int) -> np.ndarray:
        """Kernel receive times from the control messages; drop counter as a side effect."""
        ring = self._ring
        ctl = ring.control[:n]
        clen = ring.hdrs["msg_controllen"][:n]
        i32 = ctl.view(np.int32)
        i64 = ctl.view(np.int64)
        # Linux puts the timestamp first, then the drop counter (only when it is non-zero).
        ts_ok = (clen >= 32) & (i32[:, 2] == socket.SOL_SOCKET) & (i32[:, 3] == SCM_TIMESTAMPNS)
        arrival = i64[:, 2] * 1_000_000_000 + i64[:, 3]
        ovfl = (clen >= 52) & (i32[:, 10] == socket.SOL_SOCKET) & (i32[:, 11] == SO_RXQ_OVFL)
        odd = np.flatnonzero(~ts_ok | ((clen > 32) & ~ovfl))
        drops = ctl.view(np.uint32)[:, 12][ovfl]
        max_drop = int(drops.max()) if drops.size else 0
        for i in odd.tolist():  # unusual layout: walk the cmsgs of this datagram
            ts, dropped = _parse_cmsgs(bytes(ctl[i, : int(clen[i])]))
            if ts is None:
                arrival[i] = -1
            else:
                arrival[i] = ts
            if dropped is not None:
                max_drop = max(max_drop, dropped)
        if odd.size:
            missing = np.flatnonzero(arrival < 0)
            if missing.size:  # no kernel time: reuse the previous datagram's
                self.stats.missing_timestamps += int(missing.size)
                idx = np.where(arrival < 0, -1, np.arange(n))
                np.maximum.accumulate(idx, out=idx)
                arrival = np.where(idx >= 0, arrival[np.maximum(idx, 0)], self._last_ts)
        self._last_ts = int(arrival[-1])
        self.stats.kernel_drops = max(self.stats.kernel_drops, max_drop)
        return arrival.astype(np.int64)

    def _assign_flows(self, n: int) -> np.ndarray:
        names = self._ring.names[:n]
        words = names.view(np.uint64)
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.any(words[1:] != words[:-1], axis=1, out=change[1:])
        starts = np.flatnonzero(change)
        ids = np.empty(starts.size, dtype=np.int32)
        for j, i in enumerate(starts.tolist()):
            raw = names[i].tobytes()
            fid = self._flow_ids.get(raw)
            if fid is None:
                fid = len(self._flows)
                self._flow_ids[raw] = fid
                self._flows.append(self._flow_key(raw))
            ids[j] = fid
        return ids[np.cumsum(change) - 1]

    def _flow_key(self, name: bytes) -> FlowKey:
        fam = struct.unpack_from("=H", name)[0]
        port = struct.unpack_from("!H", name, 2)[0]
        addr = name[4:8] if fam == socket.AF_INET else name[8:24]
        return FlowKey(addr, port, self._dst, self._port)

    # -- asyncio ------------------------------------------------------------------------------

    def attach(
        self, loop: asyncio.AbstractEventLoop, on_batch: Callable[[PacketBatch], None]
    ) -> None:
        """Call on_batch(batch) from loop whenever datagrams are queued."""

        def readable() -> None:
            batch = self.recv_nowait()
            if len(batch):
                on_batch(batch)

        loop.add_reader(self._sock.fileno(), readable)

    def detach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop the callbacks that attach() started."""
        loop.remove_reader(self._sock.fileno())

    async def receive(self) -> PacketBatch:
        """Wait in a coroutine until datagrams are queued; return them."""
        loop = asyncio.get_running_loop()
        for _ in range(1_000_000):  # spurious wake-ups are possible; bounded anyway
            batch = self.recv_nowait()
            if len(batch):
                return batch
            ready: asyncio.Future[None] = loop.create_future()
            fd = self._sock.fileno()
            loop.add_reader(fd, _wake, ready)
            try:
                await ready
            finally:
                loop.remove_reader(fd)
        raise RuntimeError("receive(): socket readable but no datagram, a million times")

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> UdpSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _parse_cmsgs(control: bytes) -> tuple[int | None, int | None]:
    """(timestamp ns, drop counter) from a raw control buffer (64-bit cmsghdr layout)."""
    ts = drops = None
    pos = 0
    for _ in range(8):
        if pos + 16 > len(control):
            break
        length, level, kind = struct.unpack_from("=Qii", control, pos)
        if length < 16:
            break
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and length >= 32:
            sec, nsec = struct.unpack_from("=qq", control, pos + 16)
            ts = sec * 1_000_000_000 + nsec
        elif level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and length >= 20:
            drops = struct.unpack_from("=I", control, pos + 16)[0]
        pos += (length + 7) & ~7
    return ts, drops
