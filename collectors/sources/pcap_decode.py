"""One captured frame to its UDP datagram: :func:`decode_packet`, the readable reference.

It follows the link, IP and UDP headers one field at a time. The pcap reader decodes every
record with it when the compiled kernels are not built; the compiled record walk
(collectors/core/fast.py) follows its rules, and the tests compare the two.

Link types: Ethernet (1, any number of 802.1Q/802.1ad tags), Linux cooked SLL (113) and SLL2
(276), raw IP (101, and the DLT values 12 and 14 some writers put in files), IPv4 (228), IPv6
(229), BSD loopback null (0, host byte order) and loop (108, network byte order). IPv6
extension headers are walked (at most 16).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
RAW_TYPES = (12, 14, LINKTYPE_RAW)  # DLT_RAW is 12 on most systems, 14 on OpenBSD
SUPPORTED_LINKTYPES = frozenset(
    (
        LINKTYPE_NULL,
        LINKTYPE_ETHERNET,
        LINKTYPE_LOOP,
        LINKTYPE_LINUX_SLL,
        LINKTYPE_LINUX_SLL2,
        LINKTYPE_IPV4,
        LINKTYPE_IPV6,
        *RAW_TYPES,
    )
)
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
AF_INET6_VALUES = (10, 24, 28, 30)  # Linux, NetBSD/OpenBSD, FreeBSD, macOS
IPV6_EXT = (0, 43, 60, 44, 51)  # hop-by-hop, routing, destination options, fragment, AH


@dataclass(frozen=True, slots=True)
class DecodedPacket:
    """One decoded record. ``payload_offset`` is relative to the record data.

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


def _ip_version(ethertype: int) -> int:
    """4 or 6 for the IP ethertypes, 0 for anything else."""
    return 4 if ethertype == ETHERTYPE_IPV4 else 6 if ethertype == ETHERTYPE_IPV6 else 0


def decode_packet(data: bytes, linktype: int) -> DecodedPacket:
    """Decode one captured frame (link layer included)."""
    n = len(data)
    ip_ver = 0
    pos = 0
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return DecodedPacket("header_cut")
        et = int.from_bytes(data[12:14], "big")
        pos = 14
        while et in VLAN_TPIDS:
            if n < pos + 4:
                return DecodedPacket("header_cut")
            et = int.from_bytes(data[pos + 2 : pos + 4], "big")
            pos += 4
        ip_ver = _ip_version(et)
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return DecodedPacket("header_cut")
        ip_ver = _ip_version(int.from_bytes(data[14:16], "big"))
        pos = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return DecodedPacket("header_cut")
        ip_ver = _ip_version(int.from_bytes(data[0:2], "big"))
        pos = 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if n < 4:
            return DecodedPacket("header_cut")
        order = "little" if linktype == LINKTYPE_NULL else "big"
        fam = int.from_bytes(data[0:4], order)
        if linktype == LINKTYPE_NULL and fam > 0xFFFF:  # written on a big-endian host
            fam = int.from_bytes(data[0:4], "big")
        ip_ver = 4 if fam == 2 else 6 if fam in AF_INET6_VALUES else 0
        pos = 4
    elif linktype in RAW_TYPES:
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
        if nh not in IPV6_EXT:
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
