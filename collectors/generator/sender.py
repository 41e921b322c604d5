"""The paced sending loop of the stream generator: its sockets and its clock live here.

The planner (:mod:`.plan`) says what to send and when, relative to the
start; this module opens a UDP socket (IPv4 or IPv6, unicast or multicast) and sends each
datagram at its absolute deadline on ``time.monotonic_ns``: it sleeps until shortly before the
deadline and spins for the last fraction of a millisecond, so the Linux timer slack does not
turn into jitter. Datagrams whose deadline has passed go out at once, and the worst lateness is
reported.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .plan import Datagram, Destination

# Errors that hit one datagram (full socket buffer, ICMP feedback) but not the whole run.
_TRANSIENT_ERRNOS = frozenset(
    {errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED, errno.EHOSTUNREACH}
)


@dataclass(slots=True)
class SendReport:
    """What the sending loop did.

    sent:            datagrams handed to the kernel
    payload_bytes:   UDP payload bytes sent
    first_ns/last_ns: clock readings at the first and last send
    max_lateness_ns: worst delay of a send after its deadline
    sum_lateness_ns: sum of the delays (for the mean)
    late_1ms:        sends more than 1 ms after their deadline
    send_errors:     datagrams the kernel refused with a transient error
    interrupted:     stopped by Ctrl-C
    stopped_by_duration: stopped because the next departure lay beyond the duration
    """

    sent: int = 0
    payload_bytes: int = 0
    first_ns: int = 0
    last_ns: int = 0
    last_payload: int = 0
    max_lateness_ns: int = 0
    sum_lateness_ns: int = 0
    late_1ms: int = 0
    send_errors: int = 0
    interrupted: bool = False
    stopped_by_duration: bool = False

    @property
    def elapsed_ns(self) -> int:
        """Time between the first and the last send."""
        return self.last_ns - self.first_ns if self.sent else 0

    @property
    def achieved_bitrate(self) -> float:
        """UDP payload bit rate over the send span (the last datagram closes the span)."""
        if self.sent < 2 or self.elapsed_ns <= 0:
            return 0.0
        return (self.payload_bytes - self.last_payload) * 8 * 1e9 / self.elapsed_ns

    @property
    def mean_lateness_ns(self) -> float:
        """Mean delay of a send after its deadline."""
        return self.sum_lateness_ns / self.sent if self.sent else 0.0


@dataclass(frozen=True, slots=True)
class OpenedSocket:
    """A UDP socket ready to send, and the resolved socket address of the destination."""

    sock: socket.socket
    address: tuple
    multicast: bool


def open_socket(
    dest: Destination, ttl: int | None = None, iface: str | None = None
) -> OpenedSocket:
    """Resolve dest and open a UDP socket for it, with TTL / hop limit and multicast interface.

    iface (multicast only) is an interface name (eth0) or, for IPv4, a local address.
    Raises ValueError with a clear message for unresolvable hosts or bad interfaces.
    """
    try:
        infos = socket.getaddrinfo(dest.host, dest.port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve destination host {dest.host!r}: {exc.strerror}") from exc
    family, _, proto, _, address = infos[0]
    ip = ipaddress.ip_address(address[0].split("%")[0])
    multicast = ip.is_multicast
    if iface is not None and not multicast:
        raise ValueError(f"--iface applies to multicast destinations only; {ip} is unicast")
    sock = socket.socket(family, socket.SOCK_DGRAM, proto)
    try:
        if family == socket.AF_INET6:
            if ttl is not None:
                opt = socket.IPV6_MULTICAST_HOPS if multicast else socket.IPV6_UNICAST_HOPS
                sock.setsockopt(socket.IPPROTO_IPV6, opt, ttl)
            if iface is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, _ifindex(iface))
        else:
            if ttl is not None:
                opt = socket.IP_MULTICAST_TTL if multicast else socket.IP_TTL
                sock.setsockopt(socket.IPPROTO_IP, opt, ttl)
            if iface is not None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _ipv4_mreqn(iface))
    except (OSError, ValueError):
        sock.close()
        raise
    return OpenedSocket(sock, address, multicast)


def _ifindex(iface: str) -> int:
    try:
        return socket.if_nametoindex(iface)
    except OSError as exc:
        raise ValueError(f"no network interface named {iface!r}") from exc


def _ipv4_mreqn(iface: str) -> bytes:
    """struct ip_mreqn selecting the outgoing interface by address or by index."""
    try:
        local = socket.inet_aton(str(ipaddress.IPv4Address(iface)))
        return struct.pack("4s4si", b"\0" * 4, local, 0)
    except ValueError:
        return struct.pack("4s4si", b"\0" * 4, b"\0" * 4, _ifindex(iface))


def send_paced(
    datagrams: Iterable[Datagram],
    sock: socket.socket,
    address: tuple,
    *,
    duration_ns: int | None = None,
    start_delay_ns: int = 20_000_000,
    spin_ns: int = 200_000,
    clock: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[SendReport], None] | None = None,
    progress_every_ns: int = 1_000_000_000,
    stop: Callable[[], bool] | None = None,
) -> SendReport:
    """Send each datagram at start + departure_ns; return what happened.

    The loop stops at the end of datagrams, before the first departure beyond duration_ns, or
    on Ctrl-C (KeyboardInterrupt is caught and reported as ``interrupted``), or when stop()
    says so before a datagram (``interrupted`` too: a signal handler that sets a flag stops
    the loop between datagrams, so the counts stay exact). Transient send errors are
    counted; other OSErrors propagate.
    """
    report = SendReport()
    start = clock() + start_delay_ns
    next_progress = start + progress_every_ns
    try:
        for dg in datagrams:
            if stop is not None and stop():
                report.interrupted = True
                break
            if duration_ns is not None and dg.departure_ns > duration_ns:
                report.stopped_by_duration = True
                break
            deadline = start + dg.departure_ns
            remaining = deadline - clock()
            if remaining > spin_ns:
                sleep((remaining - spin_ns) / 1e9)
            while clock() < deadline:
                pass
            now = clock()
            try:
                sock.sendto(dg.payload, address)
            except OSError as exc:
                if exc.errno not in _TRANSIENT_ERRNOS:
                    raise
                report.send_errors += 1
                continue
            lateness = now - deadline
            if report.sent == 0:
                report.first_ns = now
            report.last_ns = now
            report.sent += 1
            report.payload_bytes += len(dg.payload)
            report.last_payload = len(dg.payload)
            report.sum_lateness_ns += lateness
            report.max_lateness_ns = max(report.max_lateness_ns, lateness)
            if lateness > 1_000_000:
                report.late_1ms += 1
            if on_progress is not None and now >= next_progress:
                on_progress(report)
                next_progress += progress_every_ns
    except KeyboardInterrupt:
        report.interrupted = True
    return report
