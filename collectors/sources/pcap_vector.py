"""The link, IP and UDP headers of many records at once, with numpy: the pcap reader's decode
when the compiled record walk is not built.

It follows :func:`~iec62379.collectors.sources.pcap_decode.decode_packet`'s rules and hands that
function, one at a time, the records it does not handle: IPv6 extension headers, more than two
VLAN tags, a cut link header, a BSD loopback header written in the other byte order, an IP
version the link layer did not announce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from iec62379.collectors.sources.pcap_decode import (
    AF_INET6_VALUES,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    IPV6_EXT,
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    RAW_TYPES,
    SUPPORTED_LINKTYPES,
    VLAN_TPIDS,
    decode_packet,
)
from iec62379.collectors.sources.pcap_file import Mem
from iec62379.collectors.sources.pcap_flows import key_row

# Decode status of a record (Decoded.status); 4 is not used.
OK, NON_UDP, FRAG, MALFORMED, HDR_CUT = 0, 1, 2, 3, 5
STATUS_COUNT = 6  # bins of np.bincount(status)

_STATUS_NAMES = {
    "udp": OK,
    "non_udp": NON_UDP,
    "fragment": FRAG,
    "malformed": MALFORMED,
    "header_cut": HDR_CUT,
}


@dataclass(slots=True)
class Decoded:
    """Per record: status, UDP payload (absolute offset in the file, length), whether the
    datagram is incomplete, and its flow key (pcap_flows.py)."""

    status: np.ndarray  # int8
    pay_off: np.ndarray  # int64, absolute offset in the file
    pay_len: np.ndarray  # int64
    trunc: np.ndarray  # bool
    keys: np.ndarray  # (n, 5) uint64: family|ports, src hi, src lo, dst hi, dst lo

    @classmethod
    def empty(cls, n: int, status: int) -> Decoded:
        """n records, all of the given status."""
        return cls(
            np.full(n, status, dtype=np.int8),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=bool),
            np.zeros((n, 5), dtype=np.uint64),
        )


def _be16(m: Mem, idx: np.ndarray) -> np.ndarray:
    return m.read(">u2", idx).astype(np.int64)


def _be32(m: Mem, idx: np.ndarray) -> np.ndarray:
    return m.read(">u4", idx).astype(np.uint64)


def _byte(m: Mem, idx: np.ndarray) -> np.ndarray:
    return m.read("u1", idx).astype(np.int64)


def _ip_version(et: np.ndarray) -> np.ndarray:
    """4 or 6 for the IP ethertypes, 0 for anything else."""
    return np.where(et == ETHERTYPE_IPV4, 4, np.where(et == ETHERTYPE_IPV6, 6, 0))


def _link_layer(
    m: Mem, start: np.ndarray, caplen: np.ndarray, linktype: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network-layer offset, IP version expected (4, 6, 0 = not IP) and a slow-path mask."""
    n = start.shape[0]
    slow = np.zeros(n, dtype=bool)
    if linktype == LINKTYPE_ETHERNET:
        et = _be16(m, start + 12)
        l3 = start + 14
        for _ in range(2):
            tagged = np.isin(et, VLAN_TPIDS)
            if not tagged.any():
                break
            et = np.where(tagged, _be16(m, l3 + 2), et)
            l3 = np.where(tagged, l3 + 4, l3)
        slow |= np.isin(et, VLAN_TPIDS)
        slow |= caplen < (l3 - start)  # link header cut: let the slow path say so
        ver = _ip_version(et)
    elif linktype in (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
        sll2 = linktype == LINKTYPE_LINUX_SLL2
        et = _be16(m, start if sll2 else start + 14)
        l3 = start + (20 if sll2 else 16)
        slow |= caplen < (20 if sll2 else 16)
        ver = _ip_version(et)
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        fam = m.read("<u4" if linktype == LINKTYPE_NULL else ">u4", start).astype(np.int64)
        l3 = start + 4
        slow |= (fam > 0xFFFF) | (caplen < 4)
        ver = np.where(fam == 2, 4, np.where(np.isin(fam, AF_INET6_VALUES), 6, 0))
    elif linktype in RAW_TYPES:
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


def decode_batch(m: Mem, start: np.ndarray, caplen: np.ndarray, linktype: int) -> Decoded:
    """Decode Ethernet/IP/UDP headers of many records of one link type at once."""
    n = start.shape[0]
    end = start + caplen
    dec = Decoded.empty(n, NON_UDP)
    if linktype not in SUPPORTED_LINKTYPES:
        return dec
    status, pay_off, pay_len, trunc, keys = (
        dec.status, dec.pay_off, dec.pay_len, dec.trunc, dec.keys
    )
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
        st = np.where(bad, MALFORMED, np.where(cut, HDR_CUT, NON_UDP)).astype(np.int8)
        isudp = ok & (proto == 17)
        st[isudp & ((frag & 0x1FFF) != 0)] = FRAG
        cand = isudp & ((frag & 0x1FFF) == 0)
        st[cand] = OK
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
        st = np.where(bad, MALFORMED, np.where(cut, HDR_CUT, NON_UDP)).astype(np.int8)
        ok = ~bad & ~cut
        st[ok & (nh == 17)] = OK
        slow[v6[ok & np.isin(nh, IPV6_EXT)]] = True
        status[v6] = st
        udp[v6] = a + 40
        ip_plen[v6] = _be16(m, a + 4)
        for w in range(4):
            keys[v6, 1 + w] = m.read(">u8", a + 8 + 8 * w)
        keys[v6, 0] = np.uint64(6 << 32)

    # IP version the link layer did not announce: let the slow path decide.
    slow |= (ver != 0) & (ver != 4) & (ver != 6)

    # UDP header
    cand = np.flatnonzero((status == OK) & ~slow)
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
        st = np.where(cut, HDR_CUT, np.where(bad, MALFORMED, OK)).astype(np.int8)
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
            keys[i] = key_row(d.src_addr, d.src_port, d.dst_addr, d.dst_port)
    return dec


def decode_records(
    m: Mem,
    start: np.ndarray,
    caplen: np.ndarray,
    linktype: int | None,
    linktypes: np.ndarray | None,
) -> Decoded:
    """Decode records of one link type (``linktype``) or of one link type each (``linktypes``)."""
    if linktype is not None:
        return decode_batch(m, start, caplen, linktype)
    assert linktypes is not None
    dec = Decoded.empty(start.shape[0], OK)
    for lt in np.unique(linktypes).tolist():
        idx = np.flatnonzero(linktypes == lt)
        d = decode_batch(m, start[idx], caplen[idx], lt)
        dec.status[idx] = d.status
        dec.pay_off[idx] = d.pay_off
        dec.pay_len[idx] = d.pay_len
        dec.trunc[idx] = d.trunc
        dec.keys[idx] = d.keys
    return dec
