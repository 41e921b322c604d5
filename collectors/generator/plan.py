"""Stream generator planning: packetise an MPEG-TS file and schedule its datagrams.

This module is pure computation. It never opens a socket nor reads a clock: it turns the bytes
of a transport stream (and a seed) into a sequence of :class:`Datagram` records, each with a
departure time in nanoseconds relative to the start of sending and the UDP payload to send.
The departure times come from :mod:`.pacing` (PCR pacing and looping); the paced sending loop
lives in :mod:`.sender`.

RTP packetisation follows RFC 2250 / RFC 3551: payload type 33 (MP2T), 1 to 7 TS packets per
datagram, random initial sequence number and SSRC (seedable), marker bit 0, and a 90 kHz
timestamp that is the target transmission time of the first byte of the datagram, taken from the
PCR-derived time line (never from PES PTS, which repeats and goes backwards). The timestamp
origin is the PCR base (PCR / 300) of the first packet, so during the first pass of a file
without discontinuities the RTP timestamp equals the interpolated PCR at 90 kHz modulo 2^32.
Looped passes continue the RTP sequence numbers and timestamps.

Impairments (loss, Gilbert-Elliott burst loss, duplication, reordering, jitter) act on datagrams
after RTP numbering, so a lost datagram leaves a gap in the sequence numbers as on a network.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .pacing import TS_PACKET_SIZE, continuity_steps, loop_packets, schedule, ts_packets

RTP_PAYLOAD_TYPE_MP2T = 33
MAX_TS_PER_DATAGRAM = 7


@dataclass(frozen=True, slots=True)
class Impairments:
    """Network impairments applied to datagrams after RTP numbering.

    Applied in this order: loss, burst loss, reordering, duplication, jitter.

    loss_pct:        independent random loss, percent of datagrams
    burst_loss_pct:  long-run loss of a Gilbert-Elliott channel (lose every datagram in the bad
                     state, none in the good one), percent; must be below 100
    burst_length:    mean number of datagrams in a loss burst (mean stay in the bad state)
    jitter_ms:       each datagram is delayed by a uniform random 0..jitter_ms; departures stay
                     in order unless reorder_pct > 0, in which case jitter may reorder them
    reorder_pct:     percent of datagrams swapped with the datagram that follows them
    duplicate_pct:   percent of datagrams sent twice (the copy right after the original)
    """

    loss_pct: float = 0.0
    burst_loss_pct: float = 0.0
    burst_length: float = 3.0
    jitter_ms: float = 0.0
    reorder_pct: float = 0.0
    duplicate_pct: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss_pct", "reorder_pct", "duplicate_pct"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be within 0..100 percent, got {value}")
        if not 0.0 <= self.burst_loss_pct < 100.0:
            raise ValueError(
                f"burst_loss_pct must be within 0..100 percent (100 excluded), "
                f"got {self.burst_loss_pct}"
            )
        if self.burst_length < 1.0:
            raise ValueError(f"burst_length must be at least 1 datagram, got {self.burst_length}")
        if not 0.0 <= self.jitter_ms <= 10_000.0:
            raise ValueError(f"jitter_ms must be within 0..10000 ms, got {self.jitter_ms}")

    @property
    def active(self) -> bool:
        """True when any impairment is switched on."""
        return bool(
            self.loss_pct or self.burst_loss_pct or self.jitter_ms or self.reorder_pct
            or self.duplicate_pct
        )


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """How to turn a TS file into datagrams.

    rtp:           RTP (payload type 33) when True, bare TS packets in UDP when False
    ts_per_packet: TS packets per datagram, 1..7
    loops:         passes through the file; None repeats forever (the sender bounds it)
    seed:          seed of every random choice (sequence number, SSRC, impairments)
    rate_scale:    speed factor: 2.0 sends twice as fast as the PCRs say
    bitrate:       fixed transport rate in bit/s instead of the PCRs (files without PCR)
    impairments:   what to do to the datagrams after numbering
    initial_seq:   first RTP sequence number (default: random from the seed)
    ssrc:          RTP SSRC (default: random from the seed)
    """

    rtp: bool = True
    ts_per_packet: int = MAX_TS_PER_DATAGRAM
    loops: int | None = 1
    seed: int | None = None
    rate_scale: float = 1.0
    bitrate: float | None = None
    impairments: Impairments = field(default_factory=Impairments)
    initial_seq: int | None = None
    ssrc: int | None = None

    def __post_init__(self) -> None:
        if self.initial_seq is not None and not 0 <= self.initial_seq <= 0xFFFF:
            raise ValueError(f"initial_seq must be within 0..65535, got {self.initial_seq}")
        if self.ssrc is not None and not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError(f"ssrc must be within 0..2^32-1, got {self.ssrc}")
        if not 1 <= self.ts_per_packet <= MAX_TS_PER_DATAGRAM:
            raise ValueError(
                f"ts_per_packet must be within 1..{MAX_TS_PER_DATAGRAM}, got {self.ts_per_packet}"
            )
        if self.loops is not None and self.loops < 1:
            raise ValueError(f"loops must be at least 1 (or None for ever), got {self.loops}")
        if not self.rate_scale > 0.0:
            raise ValueError(f"rate_scale must be positive, got {self.rate_scale}")
        if self.bitrate is not None and not self.bitrate > 0.0:
            raise ValueError(f"bitrate must be positive, got {self.bitrate}")


@dataclass(frozen=True, slots=True)
class Datagram:
    """One datagram to send.

    departure_ns: when to send it, ns after the start of sending
    payload:      the UDP payload (RTP header + TS packets, or TS packets only)
    number:       position in the stream before impairments (0-based, counts across loops)
    seq:          RTP sequence number, or None for plain UDP
    duplicate:    this is the extra copy of a duplicated datagram
    reordered:    this datagram was swapped with its neighbour by the reorder impairment
    """

    departure_ns: int
    payload: bytes = field(repr=False)
    number: int
    seq: int | None = None
    duplicate: bool = False
    reordered: bool = False


@dataclass(slots=True)
class PlanStats:
    """What the planner did, filled in while the datagram iterator is consumed.

    lost_numbers keeps the numbers of lost datagrams only for the first 100000 losses.
    """

    datagrams: int = 0
    lost: int = 0
    burst_lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    jitter_reordered: int = 0
    lost_numbers: list[int] = field(default_factory=list)

    @property
    def total_lost(self) -> int:
        """Datagrams dropped by random and burst loss together."""
        return self.lost + self.burst_lost

    @property
    def sent(self) -> int:
        """Datagrams that leave the planner (after loss and duplication)."""
        return self.datagrams - self.total_lost + self.duplicated



@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send: host (IPv4, IPv6 without brackets, or a name), port, and the scheme."""

    host: str
    port: int
    scheme: str | None  # "rtp", "udp" or None when DEST had no scheme



# ---------------------------------------------------------------------------------------------
# RTP


def rtp_header(
    seq: int, timestamp: int, ssrc: int, payload_type: int = RTP_PAYLOAD_TYPE_MP2T
) -> bytes:
    """A 12-byte RTP header (RFC 3550 5.1): version 2, no padding, extension or CSRC, marker 0."""
    return bytes(
        (
            0x80,
            payload_type & 0x7F,
            (seq >> 8) & 0xFF,
            seq & 0xFF,
        )
    ) + (timestamp & 0xFFFFFFFF).to_bytes(4, "big") + (ssrc & 0xFFFFFFFF).to_bytes(4, "big")


# ---------------------------------------------------------------------------------------------
# Planning


class Plan:
    """Iterate over the datagrams of a TS file, paced and impaired.

    Build it from the file bytes and a PlanConfig; the schedule is computed at once (so errors
    surface before sending), datagrams are produced lazily by iterating, which allows endless
    loops. ``stats`` is updated as the iterator is consumed. Iterating again starts afresh with
    the same seed and gives the same datagrams.
    """

    def __init__(self, data: bytes, config: PlanConfig | None = None) -> None:
        self.config = config or PlanConfig()
        self.data = data
        self.schedule = schedule(
            data, bitrate=self.config.bitrate, rate_scale=self.config.rate_scale
        )
        rng = random.Random(self.config.seed)
        seq, ssrc = rng.getrandbits(16), rng.getrandbits(32)
        self.initial_seq = seq if self.config.initial_seq is None else self.config.initial_seq
        self.ssrc = ssrc if self.config.ssrc is None else self.config.ssrc
        self._impair_seed = rng.getrandbits(64)
        # Continuity counter shift per packet and loop (computed once; loops >= 1 use it).
        self._cc_steps = continuity_steps(ts_packets(data))
        if self.schedule.pcr_pid is None:
            self.rtp_origin = rng.getrandbits(32)
        else:
            self.rtp_origin = self.schedule.rtp_origin
        self.stats = PlanStats()

    @property
    def datagrams_per_loop(self) -> int:
        """Datagrams in one pass (the last may hold fewer TS packets)."""
        n = self.schedule.times_ns.shape[0]
        return -(-n // self.config.ts_per_packet)

    def __iter__(self) -> Iterator[Datagram]:
        self.stats = PlanStats()
        rng = random.Random(self._impair_seed)
        return _impair(self._numbered(), self.config.impairments, rng, self.stats)

    def _numbered(self) -> Iterator[Datagram]:
        """Datagrams before impairments, numbered, with RTP header if configured."""
        cfg = self.config
        times = self.schedule.times_ns
        n = times.shape[0]
        k = cfg.ts_per_packet
        starts = list(range(0, n, k))
        first_times = [int(t) for t in times[starts]]
        loop = 0
        number = 0
        while cfg.loops is None or loop < cfg.loops:
            base_ns = loop * self.schedule.duration_ns
            data = loop_packets(self.data, loop, self._cc_steps)
            for start, t in zip(starts, first_times, strict=True):
                chunk = data[start * TS_PACKET_SIZE : (start + k) * TS_PACKET_SIZE]
                departure = base_ns + t
                if cfg.rtp:
                    seq = (self.initial_seq + number) & 0xFFFF
                    # 90 kHz from the scheduled time; ns * 9 / 100000 exactly in integers.
                    stamp = (self.rtp_origin + departure * 9 // 100_000) & 0xFFFFFFFF
                    payload = rtp_header(seq, stamp, self.ssrc) + chunk
                    yield Datagram(departure, payload, number, seq)
                else:
                    yield Datagram(departure, chunk, number)
                number += 1
            loop += 1

    def datagrams(self) -> list[Datagram]:
        """All datagrams as a list (finite loops only)."""
        if self.config.loops is None:
            raise ValueError("cannot list the datagrams of an endless loop")
        return list(self)


def _impair(
    source: Iterator[Datagram], imp: Impairments, rng: random.Random, stats: PlanStats
) -> Iterator[Datagram]:
    """Apply loss, burst loss, reordering, duplication and jitter, in that order.

    The stages are chained generators drawing from one seeded generator, so a seed gives one
    outcome. Duplication comes after reordering so that a swap always exchanges two different
    datagrams; the copy of a datagram follows it directly.
    """
    loss_p = imp.loss_pct / 100.0
    # Gilbert-Elliott (simple Gilbert): bad state loses all. Mean burst L -> r = 1/L;
    # stationary loss pi = p / (p + r) -> p = r * pi / (1 - pi).
    burst_pi = imp.burst_loss_pct / 100.0
    r_bad_to_good = 1.0 / imp.burst_length
    p_good_to_bad = r_bad_to_good * burst_pi / (1.0 - burst_pi) if burst_pi else 0.0
    bad = False
    dup_p = imp.duplicate_pct / 100.0
    reorder_p = imp.reorder_pct / 100.0

    def survivors() -> Iterator[Datagram]:
        nonlocal bad
        for dg in source:
            stats.datagrams += 1
            lost_random = loss_p > 0.0 and rng.random() < loss_p
            lost_burst = False
            if p_good_to_bad:
                bad = (rng.random() >= r_bad_to_good) if bad else (rng.random() < p_good_to_bad)
                lost_burst = bad
            if lost_random or lost_burst:
                if lost_random:
                    stats.lost += 1
                else:
                    stats.burst_lost += 1
                if len(stats.lost_numbers) < 100_000:
                    stats.lost_numbers.append(dg.number)
                continue
            yield dg

    def duplicated(items: Iterator[Datagram]) -> Iterator[Datagram]:
        for dg in items:
            yield dg
            if dup_p and rng.random() < dup_p:
                stats.duplicated += 1
                yield _with(dg, duplicate=True)

    def reordered(items: Iterator[Datagram]) -> Iterator[Datagram]:
        held: Datagram | None = None
        for dg in items:
            if held is not None:
                # Swap: dg takes the held one's departure slot and vice versa.
                stats.reordered += 1
                yield _with(dg, departure_ns=held.departure_ns, reordered=True)
                yield _with(held, departure_ns=dg.departure_ns, reordered=True)
                held = None
                continue
            if reorder_p and rng.random() < reorder_p:
                held = dg
                continue
            yield dg
        if held is not None:  # nothing left to swap with: send it last, unswapped
            yield held

    def jittered(items: Iterator[Datagram]) -> Iterator[Datagram]:
        jitter_ns = imp.jitter_ms * 1e6
        if not jitter_ns:
            yield from items
            return
        if not reorder_p:
            last = 0
            for dg in items:
                t = max(dg.departure_ns + int(rng.random() * jitter_ns), last)
                last = t
                yield _with(dg, departure_ns=t)
            return
        # Jitter may reorder: hold datagrams in a heap until no later one can overtake them
        # (every later datagram departs at or after its own nominal time).
        # Count a datagram as jitter-reordered when one that came after it went out first.
        heap: list[tuple[int, int, Datagram]] = []
        order = 0
        max_order = -1

        def pop() -> Datagram:
            nonlocal max_order
            _, k, out = heapq.heappop(heap)
            if k < max_order:
                stats.jitter_reordered += 1
            max_order = max(max_order, k)
            return out

        for dg in items:
            while heap and heap[0][0] <= dg.departure_ns:
                yield pop()
            t = dg.departure_ns + int(rng.random() * jitter_ns)
            heapq.heappush(heap, (t, order, _with(dg, departure_ns=t)))
            order += 1
        while heap:
            yield pop()

    return jittered(duplicated(reordered(survivors())))


def _with(dg: Datagram, **changes: object) -> Datagram:
    values = {
        "departure_ns": dg.departure_ns,
        "payload": dg.payload,
        "number": dg.number,
        "seq": dg.seq,
        "duplicate": dg.duplicate,
        "reordered": dg.reordered,
    }
    values.update(changes)
    return Datagram(**values)  # type: ignore[arg-type]


def plan(data: bytes, config: PlanConfig | None = None) -> tuple[list[Datagram], PlanStats]:
    """Plan a finite send: every datagram (departure_ns, payload, ...) and the impairment counts."""
    p = Plan(data, config)
    out = p.datagrams()
    return out, p.stats


# ---------------------------------------------------------------------------------------------
# Destination


_DEST_RE = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/\[\]@]+)):(?P<port>[0-9]+)/?$"
)


def parse_destination(text: str) -> Destination:
    """Parse udp://host:port, rtp://host:port or host:port; IPv6 in brackets ([::1]:5000).

    Raises ValueError with a message that says what was expected.
    """
    m = _DEST_RE.match(text.strip())
    if m is None:
        raise ValueError(
            f"bad destination {text!r}: expected udp://HOST:PORT, rtp://HOST:PORT or "
            "HOST:PORT (IPv6 in brackets, e.g. rtp://[::1]:5004)"
        )
    scheme = m.group("scheme")
    if scheme is not None:
        scheme = scheme.lower()
        if scheme not in ("udp", "rtp"):
            raise ValueError(f"bad destination {text!r}: scheme must be udp or rtp, not {scheme}")
    port = int(m.group("port"))
    if not 1 <= port <= 65535:
        raise ValueError(f"bad destination {text!r}: port {port} is not within 1..65535")
    host = m.group("v6") or m.group("host")
    return Destination(host=host, port=port, scheme=scheme)
