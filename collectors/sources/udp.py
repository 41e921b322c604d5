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

import numpy as np
from iec62379.collectors.core.batch import FlowKey, PacketBatch
from iec62379.collectors.sources._recvmmsg import MMSG_FIELDS, MSG_DONTWAIT, MSG_TRUNC, MmsgRing
from iec62379.collectors.sources.url import StreamUrl, parse_stream_url

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

_CONTROL_SIZE = 64  # CMSG_SPACE(timespec) = 32, CMSG_SPACE(uint32) = 24
_SMALL_BATCH = 8


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
