"""Read pcap and pcapng captures into :class:`PacketBatch` objects.

The file is memory-mapped; a batch's ``data`` is the whole mapped file and its ``offsets`` point
at the UDP payloads inside it, so no payload byte is copied. Record headers are walked in a
tight loop that switches to numpy strided views for runs of equal-sized records (the common
case for media streams: every packet of a 7 x 188 byte TS stream has the same length), then the
link, IP and UDP headers of the whole batch are decoded with vectorised numpy work. Packets the
vectorised path cannot handle (IPv6 extension headers, more than two VLAN tags, unusual link
types) go through a per-packet Python decoder, :func:`decode_packet`, which is also the
reference the tests compare the fast path against.

With the optional compiled kernels (``collectors/core/fast.py``) all of this after the pcapng
block walk (for classic pcap the record walk too) is one C loop per record that follows
``decode_packet``'s rules, gives the same flow ids and also parses each delivered datagram's
RTP header (``PacketBatch.rtp``); the numpy code is the fallback and gives the same batches.

Formats: classic pcap (both byte orders, microsecond magic ``a1b2c3d4`` and nanosecond magic
``a1b23c4d``) and pcapng (SHB, IDB with ``if_tsresol`` including power-of-2 resolutions and
``if_tsoffset``, EPB, SPB, the obsolete Packet Block, several interfaces and sections; other
blocks are skipped).

Link types: Ethernet (1, up to two 802.1Q/802.1ad tags on the fast path, more on the slow
path), Linux cooked SLL (113) and SLL2 (276), raw IP (101, and the DLT values 12 and 14 some
writers put in files), IPv4 (228), IPv6 (229), BSD loopback null (0, host byte order) and
loop (108, network byte order).

Rules for what is delivered:

* Only UDP over IPv4 or IPv6 is delivered. Everything else is counted in ``stats.non_udp``.
* IP fragments: a non-first fragment (offset > 0) is skipped and counted in
  ``stats.fragments``; a first fragment with more-fragments set carries the UDP header but not
  the whole datagram, so it is treated like a datagram cut by the snap length: counted in
  ``stats.truncated`` and delivered with the bytes present (unless ``include_truncated`` is
  false). Fragments are never reassembled.
* A datagram whose payload is not wholly in the capture (snap length) is counted in
  ``stats.truncated``; a record whose IP or UDP header is itself cut off is counted there too
  and never delivered.
* Inconsistent headers (IHL < 5, UDP length < 8 or beyond the IP length, IP version not
  matching the link-layer protocol) are counted in ``stats.malformed``.
* Datagrams not matching ``dst_addr`` / ``dst_port`` are counted in ``stats.filtered``.

Arrival time is the record timestamp in ns since the epoch. Simple Packet Blocks have none; they
take the time of the previous timestamped packet (0 before the first one).

Damaged files raise :class:`ValueError` naming the file, the byte offset and the fault. Faults
are found while reading, and every record before the fault is delivered first: the batch that
meets a fault ends at the record before it, and the next call raises (a capture cut off by a
killed capture tool loses nothing but its cut record).

Flow ids are stable for the life of a reader: ``batch.flows`` is the reader's flow list at the
time of the batch, and later batches only append to it.
"""

from __future__ import annotations

import ipaddress
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from iec62379.collectors.core import fast
from iec62379.collectors.core.batch import FlowKey, PacketBatch
from iec62379.collectors.core.errors import ErrorKind
from iec62379.collectors.core.rtp import RtpHeaders

__all__ = [
    "PcapStats",
    "PcapReader",
    "DecodedPacket",
    "read_pcap",
    "decode_packet",
    "LINKTYPE_NULL",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "LINKTYPE_LOOP",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
_RAW_TYPES = (12, 14, LINKTYPE_RAW)  # DLT_RAW is 12 on most systems, 14 on OpenBSD
_SUPPORTED_LINKTYPES = frozenset(
    (
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_LINUX_SLL2,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        *_RAW_TYPES,
    )
)
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_AF_INET6_VALUES = (10, 24, 28, 30)  # Linux, NetBSD/OpenBSD, FreeBSD, macOS
_IPV6_EXT = (0, 43, 60, 44, 51)  # hop-by-hop, routing, destination options, fragment, AH
_MAX_RECORD = 262144  # largest record any capture tool writes (Wireshark's limit)

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Per-packet decode status.
_OK, _NON_UDP, _FRAG, _MALFORMED, _SLOW, _HDR_CUT = 0, 1, 2, 3, 4, 5

_RTP_CODES = (
    int(ErrorKind.RTP_SHORT),
    int(ErrorKind.RTP_VERSION),
    int(ErrorKind.RTP_EXTENSION),
    int(ErrorKind.RTP_PADDING),
)

_SPECULATE_AFTER = 8  # equal-sized records in a row before trying a strided run
_FIRST_PROBE = 256


@dataclass(slots=True)
class PcapStats:
    """Counters of one reader. Every record lands in exactly one of udp, non_udp, fragments,
    malformed, filtered or (header cut) truncated; ``truncated`` also counts delivered
    datagrams whose payload is incomplete."""

    records: int = 0
    udp: int = 0
    non_udp: int = 0
    fragments: int = 0
    truncated: int = 0
    filtered: int = 0
    malformed: int = 0


@dataclass(frozen=True, slots=True)
class DecodedPacket:
    """One record decoded by the slow path. ``payload_offset`` is relative to the record data.

    status is one of "udp", "non_udp", "fragment", "malformed", "header_cut".
    """

    status: str
    payload_offset: int = 0
    payload_length: int = 0
    truncated: bool = False
    src_addr: bytes = b""
    src_port: int = 0
    dst_addr: bytes = b""
    dst_port: int = 0


_STATUS_NAMES = {
    "udp": _OK,
    "non_udp": _NON_UDP,
    "fragment": _FRAG,
    "malformed": _MALFORMED,
    "header_cut": _HDR_CUT,
}


def decode_packet(data: bytes, linktype: int) -> DecodedPacket:
    """Decode one captured frame (link layer included) the slow, general way."""
    n = len(data)
    ip_ver = 0
    pos = 0
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return DecodedPacket("header_cut")
        et = int.from_bytes(data[12:14], "big")
        pos = 14
        while et in _VLAN_TPIDS:
            if n < pos + 4:
                return DecodedPacket("header_cut")
            et = int.from_bytes(data[pos + 2 : pos + 4], "big")
            pos += 4
        ip_ver = 4 if et == 0x0800 else 6 if et == 0x86DD else 0
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return DecodedPacket("header_cut")
        et = int.from_bytes(data[14:16], "big")
        ip_ver = 4 if et == 0x0800 else 6 if et == 0x86DD else 0
        pos = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return DecodedPacket("header_cut")
        et = int.from_bytes(data[0:2], "big")
        ip_ver = 4 if et == 0x0800 else 6 if et == 0x86DD else 0
        pos = 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if n < 4:
            return DecodedPacket("header_cut")
        order = "little" if linktype == LINKTYPE_NULL else "big"
        fam = int.from_bytes(data[0:4], order)
        if linktype == LINKTYPE_NULL and fam > 0xFFFF:  # written on a big-endian host
            fam = int.from_bytes(data[0:4], "big")
        ip_ver = 4 if fam == 2 else 6 if fam in _AF_INET6_VALUES else 0
        pos = 4
    elif linktype in _RAW_TYPES:
        if n < 1:
            return DecodedPacket("header_cut")
        ip_ver = data[0] >> 4
    elif linktype == LINKTYPE_IPV4:
        ip_ver = 4
    elif linktype == LINKTYPE_IPV6:
        ip_ver = 6
    if ip_ver == 4:
        return _decode_ipv4(data, pos)
    if ip_ver == 6:
        return _decode_ipv6(data, pos)
    return DecodedPacket("non_udp")


def _decode_udp(
    data: bytes, udp: int, ip_payload_len: int, more_fragments: bool, src: bytes, dst: bytes
) -> DecodedPacket:
    n = len(data)
    if n < udp + 8:
        return DecodedPacket("header_cut")
    sport, dport, ulen = struct.unpack_from("!HHH", data, udp)
    if ulen < 8 or (not more_fragments and ulen > ip_payload_len):
        return DecodedPacket("malformed")
    avail = n - (udp + 8)
    plen = ulen - 8
    truncated = more_fragments or avail < plen
    return DecodedPacket("udp", udp + 8, min(plen, avail), truncated, src, sport, dst, dport)


def _decode_ipv4(data: bytes, pos: int) -> DecodedPacket:
    n = len(data)
    if n < pos + 20:
        return DecodedPacket("header_cut")
    b0 = data[pos]
    ihl = (b0 & 15) * 4
    if b0 >> 4 != 4 or ihl < 20:
        return DecodedPacket("malformed")
    if n < pos + ihl:
        return DecodedPacket("header_cut")
    total = int.from_bytes(data[pos + 2 : pos + 4], "big")
    frag = int.from_bytes(data[pos + 6 : pos + 8], "big")
    if data[pos + 9] != 17:
        return DecodedPacket("non_udp")
    if frag & 0x1FFF:
        return DecodedPacket("fragment")
    src = bytes(data[pos + 12 : pos + 16])
    dst = bytes(data[pos + 16 : pos + 20])
    return _decode_udp(data, pos + ihl, total - ihl, bool(frag & 0x2000), src, dst)


def _decode_ipv6(data: bytes, pos: int) -> DecodedPacket:
    n = len(data)
    if n < pos + 40:
        return DecodedPacket("header_cut")
    if data[pos] >> 4 != 6:
        return DecodedPacket("malformed")
    plen = int.from_bytes(data[pos + 4 : pos + 6], "big")
    nh = data[pos + 6]
    src = bytes(data[pos + 8 : pos + 24])
    dst = bytes(data[pos + 24 : pos + 40])
    end_of_ip = pos + 40 + plen
    p = pos + 40
    more = False
    for _ in range(16):  # bounded walk of the extension header chain
        if nh == 17:
            return _decode_udp(data, p, end_of_ip - p, more, src, dst)
        if nh not in _IPV6_EXT:
            return DecodedPacket("non_udp")
        if n < p + 8:
            return DecodedPacket("header_cut")
        if nh == 44:
            off_flags = int.from_bytes(data[p + 2 : p + 4], "big")
            if off_flags >> 3:
                return DecodedPacket("fragment")
            more = bool(off_flags & 1)
            nh, p = data[p], p + 8
        elif nh == 51:
            nh, p = data[p], p + (data[p + 1] + 2) * 4
        else:
            nh, p = data[p], p + (data[p + 1] + 1) * 8
    return DecodedPacket("malformed")


# --------------------------------------------------------------------------- vectorised helpers


class _Mem:
    """The mapped file with overlapping strided views, so that reading a 2, 4 or 8 byte field
    at many arbitrary byte offsets is one fancy-indexing operation."""

    def __init__(self, u8: np.ndarray) -> None:
        self.u8 = u8
        self.size = int(u8.shape[0])
        self._views: dict[str, np.ndarray] = {}

    def read(self, dtype: str, idx: np.ndarray) -> np.ndarray:
        """Field of type dtype (e.g. ">u2", "<u4") at each byte offset in idx.

        Offsets too close to the end of the file read the last whole field instead; callers
        only use such values for records whose captured length rules them out anyway.
        """
        view = self._views.get(dtype)
        if view is None:
            width = np.dtype(dtype).itemsize
            count = max(self.size - width + 1, 1)
            if self.size >= width:
                view = np.ndarray((count,), dtype=dtype, buffer=self.u8, offset=0, strides=(1,))
            else:
                view = np.zeros(1, dtype=dtype)
            self._views[dtype] = view
        if idx.size and int(idx.max()) >= view.shape[0]:
            idx = np.minimum(idx, view.shape[0] - 1)
        return view[idx]


def _be16(m: _Mem, idx: np.ndarray) -> np.ndarray:
    return m.read(">u2", idx).astype(np.int64)


def _be32(m: _Mem, idx: np.ndarray) -> np.ndarray:
    return m.read(">u4", idx).astype(np.uint64)


def _byte(m: _Mem, idx: np.ndarray) -> np.ndarray:
    return m.read("u1", idx).astype(np.int64)


def _link_layer(
    m: _Mem, start: np.ndarray, caplen: np.ndarray, linktype: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network-layer offset, IP version expected (4, 6, 0 = not IP) and a slow-path mask."""
    n = start.shape[0]
    slow = np.zeros(n, dtype=bool)
    if linktype == LINKTYPE_ETHERNET:
        et = _be16(m, start + 12)
        l3 = start + 14
        for _ in range(2):
            tagged = np.isin(et, _VLAN_TPIDS)
            if not tagged.any():
                break
            et = np.where(tagged, _be16(m, l3 + 2), et)
            l3 = np.where(tagged, l3 + 4, l3)
        slow |= np.isin(et, _VLAN_TPIDS)
        slow |= caplen < (l3 - start)  # link header cut: let the slow path say so
        ver = np.where(et == 0x0800, 4, np.where(et == 0x86DD, 6, 0))
    elif linktype in (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
        sll2 = linktype == LINKTYPE_LINUX_SLL2
        et = _be16(m, start if sll2 else start + 14)
        l3 = start + (20 if sll2 else 16)
        slow |= caplen < (20 if sll2 else 16)
        ver = np.where(et == 0x0800, 4, np.where(et == 0x86DD, 6, 0))
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        fam = m.read("<u4" if linktype == LINKTYPE_NULL else ">u4", start).astype(np.int64)
        l3 = start + 4
        slow |= (fam > 0xFFFF) | (caplen < 4)
        ver = np.where(fam == 2, 4, np.where(np.isin(fam, _AF_INET6_VALUES), 6, 0))
    elif linktype in _RAW_TYPES:
        l3 = start.copy()
        ver = _byte(m, start) >> 4
        slow |= caplen < 1
    elif linktype == LINKTYPE_IPV4:
        l3 = start.copy()
        ver = np.full(n, 4, dtype=np.int64)
    elif linktype == LINKTYPE_IPV6:
        l3 = start.copy()
        ver = np.full(n, 6, dtype=np.int64)
    else:
        l3 = start.copy()
        ver = np.zeros(n, dtype=np.int64)
    return l3, ver, slow


@dataclass(slots=True)
class _Decoded:
    status: np.ndarray  # int8
    pay_off: np.ndarray  # int64, absolute offset in the file
    pay_len: np.ndarray  # int64
    trunc: np.ndarray  # bool
    keys: np.ndarray  # (n, 5) uint64: family|ports, src hi, src lo, dst hi, dst lo


def _decode_batch(m: _Mem, start: np.ndarray, caplen: np.ndarray, linktype: int) -> _Decoded:
    """Decode Ethernet/IP/UDP headers of many records of one link type at once."""
    n = start.shape[0]
    end = start + caplen
    status = np.full(n, _NON_UDP, dtype=np.int8)
    pay_off = np.zeros(n, dtype=np.int64)
    pay_len = np.zeros(n, dtype=np.int64)
    trunc = np.zeros(n, dtype=bool)
    keys = np.zeros((n, 5), dtype=np.uint64)
    if linktype not in _SUPPORTED_LINKTYPES:
        return _Decoded(status, pay_off, pay_len, trunc, keys)
    l3, ver, slow = _link_layer(m, start, caplen, linktype)
    b0 = _byte(m, l3)
    hdr_ver = b0 >> 4
    udp = np.zeros(n, dtype=np.int64)
    ip_plen = np.zeros(n, dtype=np.int64)
    more = np.zeros(n, dtype=bool)

    # IPv4
    v4 = np.flatnonzero((ver == 4) & ~slow)
    if v4.size:
        a = l3[v4]
        ihl = (b0[v4] & 15) * 4
        # decode_packet's order: header cut (20 bytes), then version / IHL, then cut at IHL
        cut = end[v4] < a + 20
        bad = ~cut & ((hdr_ver[v4] != 4) | (ihl < 20))
        cut |= ~bad & (end[v4] < a + ihl)
        proto = _byte(m, a + 9)
        frag = _be16(m, a + 6)
        ok = ~bad & ~cut
        st = np.where(bad, _MALFORMED, np.where(cut, _HDR_CUT, _NON_UDP)).astype(np.int8)
        isudp = ok & (proto == 17)
        st[isudp & ((frag & 0x1FFF) != 0)] = _FRAG
        cand = isudp & ((frag & 0x1FFF) == 0)
        st[cand] = _OK
        status[v4] = st
        udp[v4] = a + ihl
        ip_plen[v4] = _be16(m, a + 2) - ihl
        more[v4] = (frag & 0x2000) != 0
        keys[v4, 2] = _be32(m, a + 12)
        keys[v4, 4] = _be32(m, a + 16)
        keys[v4, 0] = np.uint64(4 << 32)

    # IPv6 without extension headers; with them, the slow path.
    v6 = np.flatnonzero((ver == 6) & ~slow)
    if v6.size:
        a = l3[v6]
        cut = end[v6] < a + 40
        bad = ~cut & (hdr_ver[v6] != 6)
        nh = _byte(m, a + 6)
        st = np.where(bad, _MALFORMED, np.where(cut, _HDR_CUT, _NON_UDP)).astype(np.int8)
        ok = ~bad & ~cut
        st[ok & (nh == 17)] = _OK
        slow[v6[ok & np.isin(nh, _IPV6_EXT)]] = True
        status[v6] = st
        udp[v6] = a + 40
        ip_plen[v6] = _be16(m, a + 4)
        for w in range(4):
            keys[v6, 1 + w] = m.read(">u8", a + 8 + 8 * w)
        keys[v6, 0] = np.uint64(6 << 32)

    # IP version the link layer did not announce: let the slow path decide.
    slow |= (ver != 0) & (ver != 4) & (ver != 6)

    # UDP header
    cand = np.flatnonzero((status == _OK) & ~slow)
    if cand.size:
        u = udp[cand]
        e = end[cand]
        cut = e < u + 8
        sport = m.read(">u2", u).astype(np.uint64)
        dport = m.read(">u2", u + 2).astype(np.uint64)
        ulen = _be16(m, u + 4)
        mf = more[cand]
        bad = ~cut & ((ulen < 8) | (~mf & (ulen > ip_plen[cand])))
        avail = e - (u + 8)
        plen = ulen - 8
        st = np.where(cut, _HDR_CUT, np.where(bad, _MALFORMED, _OK)).astype(np.int8)
        status[cand] = st
        pay_off[cand] = u + 8
        pay_len[cand] = np.minimum(plen, avail)
        trunc[cand] = mf | (avail < plen)
        keys[cand, 0] |= (sport << np.uint64(16)) | dport

    # Slow path, one packet at a time.
    for i in np.flatnonzero(slow).tolist():
        s = int(start[i])
        d = decode_packet(m.u8[s : s + int(caplen[i])].tobytes(), linktype)
        status[i] = _STATUS_NAMES[d.status]
        if d.status == "udp":
            pay_off[i] = s + d.payload_offset
            pay_len[i] = d.payload_length
            trunc[i] = d.truncated
            keys[i] = _key_row(d.src_addr, d.src_port, d.dst_addr, d.dst_port)
    return _Decoded(status, pay_off, pay_len, trunc, keys)


def _key_row(src: bytes, sport: int, dst: bytes, dport: int) -> list[int]:
    fam = 4 if len(src) == 4 else 6
    s = src.rjust(16, b"\0")
    d = dst.rjust(16, b"\0")
    return [
        (fam << 32) | (sport << 16) | dport,
        int.from_bytes(s[:8], "big"),
        int.from_bytes(s[8:], "big"),
        int.from_bytes(d[:8], "big"),
        int.from_bytes(d[8:], "big"),
    ]


def _flow_from_row(row: tuple[int, ...]) -> FlowKey:
    fam = row[0] >> 32
    sport = (row[0] >> 16) & 0xFFFF
    dport = row[0] & 0xFFFF
    src = row[1].to_bytes(8, "big") + row[2].to_bytes(8, "big")
    dst = row[3].to_bytes(8, "big") + row[4].to_bytes(8, "big")
    if fam == 4:
        src, dst = src[12:], dst[12:]
    return FlowKey(src, sport, dst, dport)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(rows, axis=0, return_inverse=True), faster for few distinct values per column:
    each column is coded on its own, then the codes are combined into one integer."""
    code = np.zeros(rows.shape[0], dtype=np.int64)
    radix = 1
    for col in range(rows.shape[1]):
        values, inv = np.unique(rows[:, col], return_inverse=True)
        radix *= values.shape[0]
        if radix >= 1 << 62:
            uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
            return uniq, inverse.reshape(-1)
        code = code * values.shape[0] + inv.reshape(-1)
    ucode, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1)


class _FlowTable:
    """Maps 5-word flow keys to stable ids, working on runs of equal keys."""

    def __init__(self) -> None:
        self.ids: dict[tuple[int, ...], int] = {}
        self.flows: list[FlowKey] = []

    def assign(self, keys: np.ndarray) -> np.ndarray:
        n = keys.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int32)
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.any(keys[1:] != keys[:-1], axis=1, out=change[1:])
        starts = np.flatnonzero(change)
        uniq, inverse = _unique_rows(keys[starts])
        gids = np.empty(uniq.shape[0], dtype=np.int32)
        for j, row in enumerate(map(tuple, uniq.tolist())):
            gid = self.ids.get(row)
            if gid is None:
                gid = len(self.flows)
                self.ids[row] = gid
                self.flows.append(_flow_from_row(row))
            gids[j] = gid
        run = np.cumsum(change) - 1
        return gids[inverse][run]


# --------------------------------------------------------------------------- the reader


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    res_pow2: bool = False
    res_exp: int = 6
    ts_offset_s: int = 0


class PcapReader:
    """Iterate over the UDP datagrams of a capture file in batches.

    Use as an iterator (``for batch in reader``); ``stats`` is updated as batches are read.
    The reader is also a context manager; :meth:`close` releases the file (batches already
    returned keep the mapping alive until they are dropped).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        batch_size: int = 65536,
        dst_port: int | None = None,
        dst_addr: str | None = None,
        include_truncated: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if dst_port is not None and not 0 <= dst_port <= 65535:
            raise ValueError(f"dst_port out of range 0..65535: {dst_port}")
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self.batch_size = batch_size
        self.dst_port = dst_port
        self.dst_addr = dst_addr
        self.include_truncated = include_truncated
        self.stats = PcapStats()
        self._dst_row: tuple[int, int, int] | None = None
        if dst_addr is not None:
            try:
                ip = ipaddress.ip_address(dst_addr)
            except ValueError as exc:
                raise ValueError(f"dst_addr is not an IP address: {dst_addr!r}") from exc
            packed = ip.packed.rjust(16, b"\0")
            self._dst_row = (
                ip.version,
                int.from_bytes(packed[:8], "big"),
                int.from_bytes(packed[8:], "big"),
            )
        self._flows = _FlowTable()
        self._ctable: Any = None  # the compiled kernels' copy of the flow table
        self._ctable_n = 0
        self._last_ts = 0
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise ValueError(f"{self.name}: file is empty, not a pcap or pcapng capture")
            self._mm: mmap.mmap | None = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            self._mm.madvise(mmap.MADV_SEQUENTIAL)
        self._u8 = np.frombuffer(self._mm, dtype=np.uint8)
        self._mem = _Mem(self._u8)
        self._size = size
        head = bytes(self._mm[:4])
        self._done = False
        self._fault: ValueError | None = None  # met after the records delivered last
        self._interfaces: list[_Interface] = []
        if head in _PCAP_MAGICS:
            self.format = "pcap"
            self._init_pcap(head)
        elif len(head) == 4 and struct.unpack("<I", head)[0] == _SHB:
            self.format = "pcapng"
            self._endian = "<"
            self._pos = 0
        else:
            self.close()
            raise ValueError(
                f"{self.name}: byte 0: not a pcap or pcapng file (magic {head.hex() or 'none'})"
            )

    # -- classic pcap ---------------------------------------------------------------------

    def _init_pcap(self, magic: bytes) -> None:
        self._endian, self._frac_ns = _PCAP_MAGICS[magic]
        if self._size < 24:
            raise ValueError(
                f"{self.name}: byte 0: file header needs 24 bytes, file has {self._size}"
            )
        major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
            self._endian + "HHiIII", self._mm, 4
        )
        if major != 2:
            raise ValueError(f"{self.name}: byte 4: unsupported pcap version {major}.{minor}")
        self._snaplen = snaplen
        self._max_incl = snaplen if 0 < snaplen <= _MAX_RECORD else _MAX_RECORD
        self.linktype = network & 0xFFFF
        self._pos = 24

    def _uniform_run(
        self,
        dt: np.dtype,
        pos: int,
        stride: int,
        checks: tuple[tuple[int, int], ...],
        room: int,
        chunks: list[np.ndarray],
        offs: list[int],
    ) -> int:
        """After a run of records of one length: how many more (at most ``room``) follow from
        pos on, ``stride`` bytes apart, each with the words (dtype dt) at the given offsets
        holding the given values, found in vectorised probes of growing size. Their offsets
        go to chunks (after the offsets collected one by one in offs, which is emptied); the
        records are checked one by one again where the run ends."""
        mm, end = self._mm, self._size
        found = 0
        probe = _FIRST_PROBE
        while found < room:
            k = min(room - found, (end - pos) // stride, probe)
            if k <= 0:
                break
            bad = np.zeros(k, dtype=bool)
            for off, value in checks:
                view = np.ndarray((k,), dtype=dt, buffer=mm, offset=pos + off, strides=(stride,))
                bad |= view != value
            at = np.flatnonzero(bad)
            run = int(at[0]) if at.size else k
            if run:
                if offs:
                    chunks.append(np.asarray(offs, dtype=np.int64))
                    offs.clear()
                chunks.append(pos + stride * np.arange(run, dtype=np.int64))
                found += run
                pos += run * stride
            if run < k:
                break
            probe *= 4
        return found

    def _walk_pcap(self, limit: int) -> np.ndarray:
        """Offsets of the next (up to limit) record headers; advances self._pos."""
        mm, end, pos = self._mm, self._size, self._pos
        assert mm is not None
        unpack = struct.Struct(self._endian + "I").unpack_from
        dt = np.dtype(self._endian + "u4")
        chunks: list[np.ndarray] = []
        offs: list[int] = []
        count = 0
        same = 0
        last = -1
        fault = None
        while count < limit and pos < end:
            if pos + 16 > end:
                fault = (
                    f"{self.name}: record at byte {pos}: header needs 16 bytes, "
                    f"only {end - pos} remain (file truncated)"
                )
                break
            incl = unpack(mm, pos + 8)[0]
            if incl > self._max_incl:
                fault = (
                    f"{self.name}: record at byte {pos} claims {incl} bytes, "
                    f"snaplen is {self._snaplen}"
                )
                break
            nxt = pos + 16 + incl
            if nxt > end:
                fault = (
                    f"{self.name}: record at byte {pos} claims {incl} bytes, "
                    f"only {end - pos - 16} remain (file truncated)"
                )
                break
            offs.append(pos)
            count += 1
            pos = nxt
            if incl != last:
                last, same = incl, 0
                continue
            same += 1
            if same < _SPECULATE_AFTER:
                continue
            same = 0
            found = self._uniform_run(dt, pos, 16 + incl, ((8, incl),), limit - count, chunks, offs)
            count += found
            pos += found * (16 + incl)
        self._pos = pos
        self._defer(fault, count)
        if offs:
            chunks.append(np.asarray(offs, dtype=np.int64))
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _next_pcap(self) -> PacketBatch | None:
        if fast.has_record_walk():
            return self._records_native(None)
        hdrs = self._walk_pcap(self.batch_size)
        if hdrs.size == 0:
            return None
        u4 = self._endian + "u4"
        sec = self._mem.read(u4, hdrs).astype(np.int64)
        frac = self._mem.read(u4, hdrs + 4).astype(np.int64)
        incl = self._mem.read(u4, hdrs + 8).astype(np.int64)
        ts = sec * 1_000_000_000 + frac * self._frac_ns
        return self._finish(hdrs + 16, incl, ts, self.linktype, None)

    def _records_native(
        self,
        found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
        at_most: int | None = None,
    ) -> PacketBatch | None:
        """The compiled kernels' one pass per record: the next classic pcap records
        (``found`` None: walked from self._pos, at most batch_size), or the records found
        (data starts, captured lengths, times, link types: pcapng), decoded by
        ``decode_packet``'s rules, filtered, given flow ids as ``_FlowTable.assign`` gives
        them, and each delivered datagram's RTP header parsed as ``parse_rtp_headers`` does
        (``PacketBatch.rtp``); the same batches, statistics, faults and messages as
        ``_walk_pcap`` + ``_finish``."""
        assert self._mm is not None
        if found is None:
            limit = min(at_most or self.batch_size, (self._size - self._pos) // 16 + 1)
        else:
            limit = int(found[0].shape[0])
        if self._ctable is None:
            self._ctable = fast.flow_table()
            self._ctable_n = 0
        if self._ctable_n < len(self._flows.flows):  # flows the numpy code added
            rows = np.asarray(list(self._flows.ids)[self._ctable_n :], dtype=np.uint64)
            self._ctable_n = fast.flow_table_add(self._ctable, rows)
        outs = fast.record_outputs(limit)
        if self.dst_port is None:
            port = -1
        else:
            port = self.dst_port
        ver, hi, lo = self._dst_row or (0, 0, 0)
        filt = (port, ver, hi, lo, self.include_truncated)
        walk = None
        if found is None:
            walk = (
                self._pos,
                self._size,
                self._endian == ">",
                self._max_incl,
                self._frac_ns,
                self.linktype,
            )
        r = fast.record_walk(self._u8, found, walk, limit, self._ctable, filt, _RTP_CODES, outs)
        count, pos, fault, at, value, kept, nnew = r[:7]
        msg = None
        if fault == 1:
            msg = (
                f"{self.name}: record at byte {at}: header needs 16 bytes, "
                f"only {self._size - at} remain (file truncated)"
            )
        elif fault == 2:
            msg = (
                f"{self.name}: record at byte {at} claims {value} bytes, snaplen is {self._snaplen}"
            )
        elif fault == 3:
            msg = (
                f"{self.name}: record at byte {at} claims {value} bytes, "
                f"only {self._size - at - 16} remain (file truncated)"
            )
        if msg is not None:
            # Nothing of a faulty pass counts: walk the records before the fault again, as a
            # batch of their own, and raise at the next call.
            self._defer(msg, count)
            return self._records_native(None, count) if count else None
        if found is None:
            self._pos = pos
            if count == 0:
                return None
        st = self.stats
        st.records += count
        st.non_udp += r[7]
        st.fragments += r[8]
        st.malformed += r[9]
        st.truncated += r[10]
        st.filtered += r[11]
        st.udp += kept
        if count:
            self._last_ts = r[12]
        if nnew:
            ft = self._flows
            for row in map(tuple, outs[13][:nnew].tolist()):
                ft.ids[row] = len(ft.flows)
                ft.flows.append(_flow_from_row(row))
            self._ctable_n += nnew
        first, err, seq, ts, ssrc, pt, marker, poff, plen = (a[:kept] for a in outs[4:13])
        return PacketBatch(
            ts_heads=np.frombuffer(r[13], dtype=np.uint8),
            ts_first=outs[14][:kept],
            data=self._u8,
            offsets=outs[0][:kept],
            lengths=outs[1][:kept],
            arrival_ns=outs[2][:kept],
            flow_ids=outs[3][:kept],
            flows=list(self._flows.flows),
            rtp=RtpHeaders(err, seq, ts, ssrc, pt, marker, poff, plen),
            first_byte=first,
        )

    # -- pcapng -----------------------------------------------------------------------------

    def _parse_shb(self, pos: int) -> int:
        mm, end = self._mm, self._size
        assert mm is not None
        if pos + 28 > end:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: needs 28 bytes, "
                f"only {end - pos} remain (file truncated)"
            )
        bom = bytes(mm[pos + 8 : pos + 12])
        if bom == b"\x4d\x3c\x2b\x1a":
            self._endian = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            self._endian = ">"
        else:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: bad byte-order magic {bom.hex()}"
            )
        blen, _bom, major = struct.unpack_from(self._endian + "IIH", mm, pos + 4)
        if major != 1:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: unsupported pcapng version {major}"
            )
        self._interfaces = []
        return blen

    def _parse_idb(self, pos: int, blen: int) -> None:
        mm = self._mm
        assert mm is not None
        e = self._endian
        if blen < 20:
            raise ValueError(
                f"{self.name}: interface block at byte {pos} is {blen} bytes, needs at least 20"
            )
        linktype, _res, snaplen = struct.unpack_from(e + "HHI", mm, pos + 8)
        iface = _Interface(linktype, snaplen)
        p, stop = pos + 16, pos + blen - 4
        while p + 4 <= stop:
            code, olen = struct.unpack_from(e + "HH", mm, p)
            if code == 0:
                break
            if p + 4 + olen > stop:
                raise ValueError(
                    f"{self.name}: interface block at byte {pos}: option {code} at byte {p} "
                    f"runs past the block end"
                )
            if code == 9 and olen >= 1:  # if_tsresol
                v = mm[p + 4]
                iface.res_pow2 = bool(v & 0x80)
                iface.res_exp = v & 0x7F
            elif code == 14 and olen >= 8:  # if_tsoffset, seconds
                iface.ts_offset_s = struct.unpack_from(e + "q", mm, p + 4)[0]
            p += 4 + ((olen + 3) & ~3)
        self._interfaces.append(iface)

    def _walk_pcapng(self, limit: int) -> np.ndarray:
        """Offsets of the next packet blocks (EPB, SPB, PB) of one section."""
        mm, end, pos = self._mm, self._size, self._pos
        assert mm is not None
        e = self._endian
        unpack2 = struct.Struct(e + "II").unpack_from
        dt = np.dtype(e + "u4")
        chunks: list[np.ndarray] = []
        offs: list[int] = []
        count = 0
        same = 0
        last = -1
        fault = None
        while count < limit and pos < end:
            if pos + 12 > end:
                fault = (
                    f"{self.name}: block at byte {pos}: header needs 12 bytes, "
                    f"only {end - pos} remain (file truncated)"
                )
                break
            btype, blen = unpack2(mm, pos)
            if btype == _SHB:
                if count:  # a new section ends the batch: byte order and interfaces change
                    break
                blen = self._parse_shb(pos)
                e = self._endian
                unpack2 = struct.Struct(e + "II").unpack_from
                dt = np.dtype(e + "u4")
            if blen < 12 or blen % 4:
                fault = (
                    f"{self.name}: block at byte {pos} (type {btype:#x}) has invalid length {blen}"
                )
                break
            if pos + blen > end:
                fault = (
                    f"{self.name}: block at byte {pos} (type {btype:#x}) claims {blen} bytes, "
                    f"only {end - pos} remain (file truncated)"
                )
                break
            if btype == 1:
                self._parse_idb(pos, blen)
            elif btype in (2, 3, 6):
                offs.append(pos)
                count += 1
                if btype == 6 and blen == last:
                    same += 1
                else:
                    same, last = 0, (blen if btype == 6 else -1)
                if same >= _SPECULATE_AFTER:
                    same = 0
                    pos += blen
                    checks = ((0, 6), (4, blen))  # more EPBs of the same length
                    found = self._uniform_run(dt, pos, blen, checks, limit - count, chunks, offs)
                    count += found
                    pos += found * blen
                    continue
            pos += blen
        self._pos = pos
        self._defer(fault, count)
        if offs:
            chunks.append(np.asarray(offs, dtype=np.int64))
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _next_pcapng(self) -> PacketBatch | None:
        blocks = self._walk_pcapng(self.batch_size)
        if blocks.size == 0:
            return None
        e = self._endian
        m = self._mem
        hdr = np.stack([m.read(e + "u4", blocks + 4 * k) for k in range(7)], axis=1).astype(
            np.int64
        )
        btype, blen = hdr[:, 0], hdr[:, 1]
        is_spb = btype == 3
        is_pb = btype == 2
        iface = np.where(is_spb, 0, hdr[:, 2])
        if is_pb.any():  # obsolete Packet Block: 16-bit interface id, then drops count
            iface = np.where(is_pb, m.read(e + "u2", blocks + 8).astype(np.int64), iface)
        nif = len(self._interfaces)
        data_start = np.where(is_spb, blocks + 12, blocks + 28)
        caplen = np.where(is_spb, hdr[:, 2], hdr[:, 5])
        room = blen - np.where(is_spb, 16, 32)
        badif = iface >= nif
        badlen = ~is_spb & (caplen > room)
        bad = np.flatnonzero(badif | badlen)
        if bad.size:  # the blocks before the first bad one are delivered, then the fault
            i = int(bad[0])
            if badif[i]:
                msg = (
                    f"{self.name}: packet block at byte {int(blocks[i])} refers to interface "
                    f"{int(iface[i])}, only {nif} defined"
                )
            else:
                msg = (
                    f"{self.name}: packet block at byte {int(blocks[i])} claims "
                    f"{int(caplen[i])} bytes, block holds {int(room[i])}"
                )
            self._fault = None
            self._defer(msg, i)
            blocks, hdr, btype, blen = blocks[:i], hdr[:i], btype[:i], blen[:i]
            is_spb, is_pb, iface = is_spb[:i], is_pb[:i], iface[:i]
            data_start, caplen, room = data_start[:i], caplen[:i], room[:i]
        if is_spb.any():
            snap0 = self._interfaces[0].snaplen or _MAX_RECORD
            caplen = np.where(is_spb, np.minimum(np.minimum(caplen, room), snap0), caplen)
        units = (hdr[:, 3].astype(np.uint64) << np.uint64(32)) | hdr[:, 4].astype(np.uint64)
        ts = np.zeros(blocks.shape[0], dtype=np.int64)
        for k in np.unique(iface[~is_spb]).tolist():
            sel = (iface == k) & ~is_spb
            ts[sel] = _units_to_ns(units[sel], self._interfaces[k])
        if is_spb.any():
            idx = np.where(is_spb, -1, np.arange(blocks.shape[0]))
            np.maximum.accumulate(idx, out=idx)
            ts = np.where(idx >= 0, ts[np.maximum(idx, 0)], self._last_ts)
        linktypes = np.asarray([f.linktype for f in self._interfaces], dtype=np.int64)[iface]
        return self._finish(data_start, caplen, ts, None, linktypes)

    # -- common -----------------------------------------------------------------------------

    def _finish(
        self,
        start: np.ndarray,
        caplen: np.ndarray,
        ts: np.ndarray,
        linktype: int | None,
        linktypes: np.ndarray | None,
    ) -> PacketBatch:
        n = start.shape[0]
        if fast.has_record_walk():
            lts = np.full(n, linktype, dtype=np.int64) if linktypes is None else linktypes
            found = (
                start.astype(np.int64),
                caplen.astype(np.int64),
                ts.astype(np.int64),
                lts.astype(np.int64),
            )
            batch = self._records_native(found)
            assert batch is not None
            return batch
        st = self.stats
        st.records += n
        if n:
            self._last_ts = int(ts[-1])
        if linktype is not None:
            dec = _decode_batch(self._mem, start, caplen, linktype)
        else:
            assert linktypes is not None
            parts = [
                (
                    np.flatnonzero(linktypes == lt),
                    _decode_batch(self._mem, start[linktypes == lt], caplen[linktypes == lt], lt),
                )
                for lt in np.unique(linktypes).tolist()
            ]
            dec = _Decoded(
                np.zeros(n, dtype=np.int8),
                np.zeros(n, dtype=np.int64),
                np.zeros(n, dtype=np.int64),
                np.zeros(n, dtype=bool),
                np.zeros((n, 5), dtype=np.uint64),
            )
            for idx, d in parts:
                dec.status[idx] = d.status
                dec.pay_off[idx] = d.pay_off
                dec.pay_len[idx] = d.pay_len
                dec.trunc[idx] = d.trunc
                dec.keys[idx] = d.keys
        status = dec.status
        counts = np.bincount(status, minlength=6)
        st.non_udp += int(counts[_NON_UDP])
        st.fragments += int(counts[_FRAG])
        st.malformed += int(counts[_MALFORMED])
        st.truncated += int(counts[_HDR_CUT])
        ok = status == _OK
        st.truncated += int(np.count_nonzero(ok & dec.trunc))
        if not self.include_truncated:
            ok &= ~dec.trunc
        keep = ok
        if self.dst_port is not None or self._dst_row is not None:
            match = ok.copy()
            if self.dst_port is not None:
                match &= (dec.keys[:, 0] & np.uint64(0xFFFF)) == np.uint64(self.dst_port)
            if self._dst_row is not None:
                ver, hi, lo = self._dst_row
                match &= (dec.keys[:, 0] >> np.uint64(32)) == np.uint64(ver)
                match &= (dec.keys[:, 3] == np.uint64(hi)) & (dec.keys[:, 4] == np.uint64(lo))
            st.filtered += int(np.count_nonzero(ok & ~match))
            keep = match
        sel = np.flatnonzero(keep)
        st.udp += int(sel.size)
        flow_ids = self._flows.assign(dec.keys[sel])
        return PacketBatch(
            data=self._u8,
            offsets=dec.pay_off[sel],
            lengths=dec.pay_len[sel].astype(np.int32),
            arrival_ns=ts[sel].astype(np.int64),
            flow_ids=flow_ids,
            flows=list(self._flows.flows),
        )

    def __iter__(self) -> Iterator[PacketBatch]:
        return self

    def _defer(self, fault: str | None, delivered: int) -> None:
        """A fault met after ``delivered`` records of the batch being made: raised now when
        there are none, else at the next call (the records before it are delivered first)."""
        if fault is None:
            return
        if not delivered:
            raise ValueError(fault)
        self._fault = ValueError(fault)

    def __next__(self) -> PacketBatch:
        if self._fault is not None:
            fault, self._fault = self._fault, None
            self._done = True
            raise fault
        while not self._done and self._mm is not None:
            try:
                batch = self._next_pcap() if self.format == "pcap" else self._next_pcapng()
            except ValueError:
                self._done = True  # a damaged file ends here
                raise
            if batch is None:
                self._done = True
                break
            if len(batch):
                return batch
        raise StopIteration

    @property
    def flows(self) -> list[FlowKey]:
        """All flows seen so far, indexed by flow id."""
        return list(self._flows.flows)

    def close(self) -> None:
        """Release the mapping (deferred to the garbage collector while batches use it)."""
        mm, self._mm = self._mm, None
        self._done = True
        if mm is not None:
            self._u8 = np.zeros(0, dtype=np.uint8)
            self._mem = _Mem(self._u8)
            try:
                mm.close()
            except BufferError:
                pass  # batches still reference the mapping; it goes when they do

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _units_to_ns(units: np.ndarray, iface: _Interface) -> np.ndarray:
    """Convert pcapng timestamp units of one interface to ns since the epoch."""
    exp = iface.res_exp
    off = iface.ts_offset_s * 1_000_000_000
    if not iface.res_pow2:
        if exp <= 9:
            ns = units.astype(np.int64) * (10 ** (9 - exp))
        else:
            ns = (units // np.uint64(10 ** (exp - 9))).astype(np.int64)
    elif exp <= 30:
        whole = (units >> np.uint64(exp)).astype(np.int64) * 1_000_000_000
        frac = units & np.uint64((1 << exp) - 1)
        ns = whole + ((frac * np.uint64(1_000_000_000)) >> np.uint64(exp)).astype(np.int64)
    else:
        ns = np.fromiter(
            ((int(u) * 1_000_000_000) >> exp for u in units.tolist()),
            dtype=np.int64,
            count=units.shape[0],
        )
    return ns + off


def read_pcap(
    path: str | os.PathLike[str],
    batch_size: int = 65536,
    dst_port: int | None = None,
    dst_addr: str | None = None,
    include_truncated: bool = True,
) -> PcapReader:
    """Open a pcap or pcapng capture; iterate the result for PacketBatch objects.

    The returned :class:`PcapReader` is an ``Iterator[PacketBatch]`` with a ``stats``
    attribute (:class:`PcapStats`). Only non-empty batches are yielded; each covers up to
    ``batch_size`` capture records. ``dst_port`` / ``dst_addr`` keep only datagrams sent to
    that port / address.
    """
    return PcapReader(path, batch_size, dst_port, dst_addr, include_truncated)
