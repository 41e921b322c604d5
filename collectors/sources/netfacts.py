"""The network block's facts for a received stream, from the host (NetInfo reads /sys, /proc).

A source: it reads the host (through :class:`NetInfo`, which can be swapped for a fixture tree)
and yields a :class:`NetworkFacts` record; the publishing step
(:func:`iec62379.collectors.publish.blocks.network_row`) turns it into the nMtBlockTable row.

* nMtIfIndex: the interface named in the URL (``?iface=``); else the interface the routing
  table gives for the address (loopback addresses: the loopback interface); for a socket bound
  to any address, or when nothing can be found, the loopback interface's index, else 1 (the
  digest allows "a stable positive number").
* nMtNetworkType: ipv4 or ipv6 from the address family.
* nMtTxRxAddr: the group (multicast) or unicast address received on; NULL when bound to any.
* nMtIGMPVersion: the version the kernel speaks on the interface for an IPv4 multicast
  group; 0 for unicast and IPv6 (IGMP not used).
* nMtTransportType: rtp for rtp:// URLs, notApplicable for udp:// (the rows module turns it to
  rtp when RTP is seen).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from iec62379.collectors.sources.netinfo import NetInfo
from iec62379.collectors.sources.url import StreamUrl
from iec62379.mibs.vocabulary import NetworkType, TransportType

log = logging.getLogger("iec62379.collectors")


@dataclass(frozen=True, slots=True)
class NetworkFacts:
    """What the host says about the interface a stream is received on (nMtBlockTable)."""

    if_index: int
    network_type: NetworkType
    address: bytes  # the group or unicast address received, b"" (NULL) when bound to any
    port: int
    igmp_version: int
    transport: TransportType  # from the URL's scheme (rtp:// or udp://)


def network_facts(url: StreamUrl, netinfo: NetInfo) -> NetworkFacts:
    """What nMtBlockTable says about a stream received at ``url``. Never raises for a host
    that lacks a file: the columns fall back as the module docstring says."""
    v6 = ipaddress.ip_address(url.address or url.source or "0.0.0.0").version == 6
    address = ipaddress.ip_address(url.address).packed if url.address else b""
    iface = url.iface
    if iface is None and url.address:
        try:
            iface = netinfo.route_interface(url.address).interface
        except (ValueError, OSError) as exc:
            log.debug("%s: no interface from the routing table: %s", url, exc)
    if iface is None:
        try:
            iface = netinfo.loopback_interface()
        except OSError:
            iface = None
    if_index = 1
    igmp = 0
    if iface is not None:
        try:
            if_index = netinfo.ifindex(iface)
        except (ValueError, OSError) as exc:
            log.debug("%s: no ifIndex for %s: %s", url, iface, exc)
        if url.address:
            try:
                igmp = netinfo.nmt_igmp_version(iface, url.address)
            except (ValueError, OSError) as exc:
                log.debug("%s: no IGMP version for %s: %s", url, iface, exc)
    return NetworkFacts(
        if_index=if_index,
        network_type=NetworkType.IPV6 if v6 else NetworkType.IPV4,
        address=address,
        port=url.port,
        igmp_version=igmp if not v6 else 0,
        transport=TransportType.RTP if url.scheme == "rtp" else TransportType.NOT_APPLICABLE,
    )


__all__ = ["NetworkFacts", "network_facts"]
