"""Stream generator planning: packetise an MPEG-TS file and schedule its datagrams.

This module is pure computation. It never opens a socket nor reads a clock: it turns the bytes
of a transport stream (and a seed) into a sequence of :class:`Datagram` records, each with a
departure time in nanoseconds relative to the start of sending and the UDP payload to send.
The paced sending loop lives in :mod:`iec62379.collectors.sources.sender`.

Timing follows the PCR (ISO/IEC 13818-1, 2.4.2.2): the departure time of every TS packet is
found by linear interpolation of its byte position between two consecutive PCRs of the PCR PID,
i.e. at the transport rate that those two PCRs define. PCR wrap (2^33 * 300) is unwrapped; at a
discontinuity (discontinuity_indicator set, or a jump that no plausible rate explains) the time
line continues at the previous rate so that departures stay monotonic.

RTP packetisation follows RFC 2250 / RFC 3551: payload type 33 (MP2T), 1 to 7 TS packets per
datagram, random initial sequence number and SSRC (seedable), marker bit 0, and a 90 kHz
timestamp that is the target transmission time of the first byte of the datagram, taken from the
PCR-derived time line (never from PES PTS, which repeats and goes backwards). The timestamp
origin is the PCR base (PCR / 300) of the first packet, so during the first pass of a file
without discontinuities the RTP timestamp equals the interpolated PCR at 90 kHz modulo 2^32.

Impairments (loss, Gilbert-Elliott burst loss, duplication, reordering, jitter) act on datagrams
after RTP numbering, so a lost datagram leaves a gap in the sequence numbers as on a network.

Looping: every further pass through the file is sent at ``duration_ns`` after the previous one,
RTP sequence numbers and timestamps continue, and so do the continuity counters (ISO/IEC
13818-1 2.4.3.3): without that, each PID's continuity_counter would jump back to the file's
first value at every seam and a receiver would count one CC error (and MLR) per PID per loop
although nothing was lost. Pass k >= 1 adds ``k * step[pid]`` (mod 16) to the counter of every
packet of the PID, where ``step[pid] = last + 1 - first`` (mod 16) with ``first`` and ``last``
the counters of the first and last packets *with payload* (adaptation_field_control 01 or 11)
of the PID in the file: the first payload packet of pass k then follows the last payload packet
of pass k - 1 by one, as the counter only increments on packets with payload. Packets without
payload (adaptation_field_control 10) do not take part in choosing the step, whether they come
first, last or in between, but get the same shift, so they keep their relation to the payload
packets around them within a pass; a PID that never carries a payload, and the null PID 0x1FFF
(not checked), are left as they are. A seam that the file itself makes discontinuous is made
continuous, which is the intent; discontinuities inside the file are kept. Pass 0 is the file
byte for byte. PCR values are not rewritten: the PCR PID's time base jumps back at each seam.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

TS_PACKET_SIZE = 188
TS_SYNC = 0x47
PCR_MODULUS = (1 << 33) * 300  # 27 MHz ticks before the PCR wraps
PCR_HZ = 27_000_000
RTP_CLOCK_HZ = 90_000
RTP_PAYLOAD_TYPE_MP2T = 33
RTP_HEADER_SIZE = 12
MAX_TS_PER_DATAGRAM = 7
NULL_PID = 0x1FFF
# Two consecutive PCRs further apart than this (after unwrapping) are not a plausible time
# step: ISO/IEC 13818-1 asks for at most 100 ms between PCRs; we tolerate ten seconds.
MAX_PCR_GAP_TICKS = 10 * PCR_HZ


class TsFormatError(ValueError):
    """The input is not a usable MPEG transport stream (message names the byte offset)."""


@dataclass(frozen=True, slots=True)
class PcrSample:
    """One PCR of the PCR PID: TS packet index, 27 MHz value, discontinuity_indicator."""

    index: int
    pcr: int
    discontinuity: bool


@dataclass(frozen=True, slots=True)
class Schedule:
    """Departure time of every TS packet of one pass through the file.

    times_ns:        int64 array, departure of each TS packet relative to the first (which is 0)
    duration_ns:     length of one pass (last departure plus one packet time at the last rate),
                     the offset added to each further loop
    pcr_pid:         PID whose PCRs paced the file, or None when a fixed bit rate was used
    pcr_count:       PCRs used
    discontinuities: PCR discontinuities met (flagged or implausible jumps)
    rtp_origin:      90 kHz RTP timestamp of the first packet (PCR base, or 0 with no PCR)
    bitrate:         mean transport rate of one pass in bit/s
    """

    times_ns: np.ndarray
    duration_ns: int
    pcr_pid: int | None
    pcr_count: int
    discontinuities: int
    rtp_origin: int
    bitrate: float


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
class RtpHeader:
    """The fixed RTP header fields (RFC 3550 5.1) the generator writes."""

    version: int
    padding: bool
    extension: bool
    csrc_count: int
    marker: bool
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send: host (IPv4, IPv6 without brackets, or a name), port, and the scheme."""

    host: str
    port: int
    scheme: str | None  # "rtp", "udp" or None when DEST had no scheme


# ---------------------------------------------------------------------------------------------
# TS parsing


def ts_packets(data: bytes) -> np.ndarray:
    """View the file as an (N, 188) uint8 array after checking sync bytes and length.

    Raises TsFormatError naming the byte offset of the first bad sync byte or of a truncated
    last packet.
    """
    if len(data) == 0:
        raise TsFormatError("empty file: no MPEG-TS packet")
    count, rest = divmod(len(data), TS_PACKET_SIZE)
    arr = np.frombuffer(data, dtype=np.uint8)
    if count:
        sync = arr[: count * TS_PACKET_SIZE : TS_PACKET_SIZE]
        bad = np.flatnonzero(sync != TS_SYNC)
        if bad.size:
            offset = int(bad[0]) * TS_PACKET_SIZE
            raise TsFormatError(
                f"not an MPEG-TS file: no sync byte 0x47 at offset {offset} "
                f"(found 0x{int(arr[offset]):02x}; packets are 188 bytes)"
            )
    if rest:
        offset = count * TS_PACKET_SIZE
        if arr[offset] != TS_SYNC:
            raise TsFormatError(
                f"not an MPEG-TS file: no sync byte 0x47 at offset {offset} "
                f"(found 0x{int(arr[offset]):02x}; packets are 188 bytes)"
            )
        raise TsFormatError(
            f"truncated MPEG-TS packet at offset {offset}: {rest} bytes instead of 188"
        )
    return arr.reshape(count, TS_PACKET_SIZE)


def _pids(packets: np.ndarray) -> np.ndarray:
    return ((packets[:, 1].astype(np.int32) & 0x1F) << 8) | packets[:, 2].astype(np.int32)


def continuity_steps(packets: np.ndarray) -> np.ndarray:
    """Per TS packet, the continuity_counter shift (0..15) that each further loop adds.

    uint8 array, one value per packet: ``(last + 1 - first) % 16`` of the packet's PID, with
    ``first`` / ``last`` the counters of the PID's first / last packets with a payload; 0 for
    the null PID and for PIDs without any payload packet (see the module docstring).
    """
    pids = _pids(packets)
    cc = (packets[:, 3] & 0x0F).astype(np.int16)
    has_payload = (packets[:, 3] & 0x10) != 0  # adaptation_field_control 01 or 11
    sel = np.flatnonzero(has_payload & (pids != NULL_PID))
    step_of_pid = np.zeros(NULL_PID + 1, dtype=np.uint8)
    if sel.size:
        p = pids[sel]
        uniq, first = np.unique(p, return_index=True)
        _, from_end = np.unique(p[::-1], return_index=True)  # same sorted PIDs
        last = p.size - 1 - from_end
        step_of_pid[uniq] = (cc[sel[last]] + 1 - cc[sel[first]]) & 0x0F
    return step_of_pid[pids]


def loop_packets(data: bytes, loop: int, steps: np.ndarray | None = None) -> bytes:
    """The bytes of pass ``loop`` (0-based) of a looped TS file: continuity counters shifted so
    that every PID continues from the previous pass (module docstring). Pass 0, and any pass
    whose shifts are all 0 mod 16, is ``data`` itself. ``steps`` is ``continuity_steps`` of
    the file's packets, when already computed."""
    packets = ts_packets(data)
    if steps is None:
        steps = continuity_steps(packets)
    shift = (steps.astype(np.int64) * loop) & 0x0F
    if loop == 0 or not shift.any():
        return data
    out = packets.copy()
    head = out[:, 3]
    out[:, 3] = (head & 0xF0) | ((head + shift.astype(np.uint8)) & 0x0F)
    return out.tobytes()


def _pcr_mask(packets: np.ndarray) -> np.ndarray:
    """Packets whose adaptation field carries a PCR."""
    afc = (packets[:, 3] >> 4) & 0x3
    has_af = (afc & 0x2) != 0
    af_len = packets[:, 4]
    flags = packets[:, 5]
    return has_af & (af_len >= 7) & ((flags & 0x10) != 0)


def _section_payload(packet: np.ndarray) -> bytes | None:
    """Section bytes of a packet that starts a PSI section (pointer field skipped)."""
    if not packet[1] & 0x40:  # payload_unit_start_indicator
        return None
    afc = (int(packet[3]) >> 4) & 0x3
    if not afc & 0x1:
        return None
    pos = 4
    if afc & 0x2:
        pos += 1 + int(packet[4])
    if pos >= TS_PACKET_SIZE:
        return None
    pointer = int(packet[pos])
    start = pos + 1 + pointer
    if start >= TS_PACKET_SIZE:
        return None
    return packet[start:].tobytes()


def pmt_pcr_pid(data: bytes) -> int | None:
    """PCR_PID of the first program in the PAT, read from its PMT; None if not found.

    A small reader: it looks at sections that start and end within one TS packet, which is the
    case for the PAT and PMT of ordinary single-program files.
    """
    packets = ts_packets(data)
    pids = _pids(packets)
    pmt_pid: int | None = None
    for i in np.flatnonzero(pids == 0)[:64]:
        sec = _section_payload(packets[i])
        if sec is None or len(sec) < 12 or sec[0] != 0x00:
            continue
        length = ((sec[1] & 0x0F) << 8) | sec[2]
        end = min(3 + length - 4, len(sec))  # stop before CRC
        for pos in range(8, end - 3, 4):
            program = (sec[pos] << 8) | sec[pos + 1]
            if program != 0:
                pmt_pid = ((sec[pos + 2] & 0x1F) << 8) | sec[pos + 3]
                break
        if pmt_pid is not None:
            break
    if pmt_pid is None:
        return None
    for i in np.flatnonzero(pids == pmt_pid)[:64]:
        sec = _section_payload(packets[i])
        if sec is None or len(sec) < 12 or sec[0] != 0x02:
            continue
        pcr_pid = ((sec[8] & 0x1F) << 8) | sec[9]
        return None if pcr_pid == NULL_PID else pcr_pid
    return None


def find_pcr_pid(data: bytes) -> int | None:
    """The PID to pace by: the PMT's PCR_PID if it carries PCRs, else the first PID with a PCR."""
    packets = ts_packets(data)
    mask = _pcr_mask(packets)
    if not mask.any():
        return None
    pids = _pids(packets)
    declared = pmt_pcr_pid(data)
    if declared is not None and bool(np.any(mask & (pids == declared))):
        return declared
    return int(pids[int(np.flatnonzero(mask)[0])])


def read_pcrs(data: bytes, pid: int) -> list[PcrSample]:
    """All PCRs carried on pid, in file order."""
    packets = ts_packets(data)
    mask = _pcr_mask(packets) & (_pids(packets) == pid)
    idx = np.flatnonzero(mask)
    p = packets[idx].astype(np.int64)
    base = (p[:, 6] << 25) | (p[:, 7] << 17) | (p[:, 8] << 9) | (p[:, 9] << 1) | (p[:, 10] >> 7)
    ext = ((p[:, 10] & 0x1) << 8) | p[:, 11]
    pcr = base * 300 + ext
    disc = (p[:, 5] & 0x80) != 0
    return [
        PcrSample(int(i), int(v), bool(d)) for i, v, d in zip(idx, pcr, disc, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Scheduling


def _ticks_to_ns(ticks: np.ndarray | float) -> np.ndarray | float:
    return ticks * (1e9 / PCR_HZ)


def schedule(
    data: bytes, *, bitrate: float | None = None, rate_scale: float = 1.0
) -> Schedule:
    """Departure time of every TS packet of data, from its PCRs or from a fixed bit rate.

    With bitrate given, packets leave at that constant rate and PCRs are ignored. Otherwise the
    file needs at least two PCRs on one PID. rate_scale divides all times (2.0 = twice as fast).
    Raises TsFormatError for a malformed file or a file that cannot be paced.
    """
    if not rate_scale > 0.0:
        raise ValueError(f"rate_scale must be positive, got {rate_scale}")
    packets = ts_packets(data)
    n = packets.shape[0]
    if bitrate is not None:
        if not bitrate > 0.0:
            raise ValueError(f"bitrate must be positive, got {bitrate}")
        step_ns = TS_PACKET_SIZE * 8 * 1e9 / bitrate / rate_scale
        times = np.round(np.arange(n, dtype=np.float64) * step_ns).astype(np.int64)
        return Schedule(
            times_ns=times,
            duration_ns=int(round(n * step_ns)),
            pcr_pid=None,
            pcr_count=0,
            discontinuities=0,
            rtp_origin=0,
            bitrate=bitrate * rate_scale,
        )
    pid = find_pcr_pid(data)
    if pid is None:
        raise TsFormatError("no PCR found in the file: give a fixed rate with --bitrate")
    samples = read_pcrs(data, pid)
    if len(samples) < 2:
        raise TsFormatError(
            f"only one PCR on PID {pid} (0x{pid:04x}): cannot derive a rate, give --bitrate"
        )
    return _schedule_from_pcrs(n, pid, samples, rate_scale)


def _schedule_from_pcrs(
    n: int, pid: int, samples: list[PcrSample], rate_scale: float
) -> Schedule:
    """Interpolate departure times between PCRs (see module docstring)."""
    pos = np.array([s.index for s in samples], dtype=np.int64)
    raw = np.array([s.pcr for s in samples], dtype=np.int64)
    # Continuous time line in 27 MHz ticks at each PCR sample.
    line = np.zeros(len(samples), dtype=np.float64)
    discontinuities = 0
    last_rate: float | None = None  # ticks per TS packet of the last valid segment
    pending: list[int] = []  # segments whose rate is not known yet (discontinuity before any)
    for k in range(1, len(samples)):
        dpos = int(pos[k] - pos[k - 1])
        delta = int(raw[k] - raw[k - 1]) % PCR_MODULUS  # unwraps one wrap
        valid = (
            not samples[k].discontinuity and dpos > 0 and 0 < delta <= MAX_PCR_GAP_TICKS
        )
        if valid:
            last_rate = delta / dpos
            line[k] = line[k - 1] + delta
            for j in pending:  # give earlier unknown segments this rate
                line[j:] += (pos[j] - pos[j - 1]) * last_rate
            pending = []
        else:
            discontinuities += 1
            if last_rate is None:
                pending.append(k)
                line[k] = line[k - 1]
            else:
                line[k] = line[k - 1] + dpos * last_rate
    if last_rate is None:
        raise TsFormatError(
            f"no two consecutive PCRs on PID {pid} (0x{pid:04x}) give a usable rate: "
            "give --bitrate"
        )
    # Per-packet interpolation; packets before the first / after the last PCR use the rate of
    # the first / last segment.
    idx = np.arange(n, dtype=np.float64)
    ticks = np.interp(idx, pos.astype(np.float64), line)
    first_rate = (line[1] - line[0]) / (pos[1] - pos[0]) if pos[1] > pos[0] else last_rate
    if first_rate <= 0:
        first_rate = last_rate
    head = idx < pos[0]
    ticks[head] = line[0] - (pos[0] - idx[head]) * first_rate
    tail = idx > pos[-1]
    ticks[tail] = line[-1] + (idx[tail] - pos[-1]) * last_rate
    ticks = np.maximum.accumulate(ticks)
    origin_ticks = ticks[0]
    rel = ticks - origin_ticks
    times = np.round(_ticks_to_ns(rel) / rate_scale).astype(np.int64)
    duration_ticks = float(rel[-1] + last_rate)
    duration_ns = int(round(float(_ticks_to_ns(duration_ticks)) / rate_scale))
    # PCR value of the first packet, as a 90 kHz base: the RTP timestamp origin.
    first_pcr = (int(raw[0]) - int(round(line[0] - origin_ticks))) % PCR_MODULUS
    rtp_origin = (first_pcr // 300) & 0xFFFFFFFF
    bitrate = n * TS_PACKET_SIZE * 8 / (duration_ns / 1e9) if duration_ns > 0 else 0.0
    return Schedule(
        times_ns=times,
        duration_ns=duration_ns,
        pcr_pid=pid,
        pcr_count=len(samples),
        discontinuities=discontinuities,
        rtp_origin=rtp_origin,
        bitrate=bitrate,
    )


# ---------------------------------------------------------------------------------------------
# RTP


def rtp_header(seq: int, timestamp: int, ssrc: int, payload_type: int = 33) -> bytes:
    """A 12-byte RTP header: version 2, no padding, extension or CSRC, marker 0."""
    return bytes(
        (
            0x80,
            payload_type & 0x7F,
            (seq >> 8) & 0xFF,
            seq & 0xFF,
        )
    ) + (timestamp & 0xFFFFFFFF).to_bytes(4, "big") + (ssrc & 0xFFFFFFFF).to_bytes(4, "big")


def parse_rtp_header(payload: bytes) -> RtpHeader:
    """Decode the fixed RTP header of payload; raises ValueError if it is too short."""
    if len(payload) < RTP_HEADER_SIZE:
        raise ValueError(f"RTP packet too short: {len(payload)} bytes, need {RTP_HEADER_SIZE}")
    b0, b1 = payload[0], payload[1]
    return RtpHeader(
        version=b0 >> 6,
        padding=bool(b0 & 0x20),
        extension=bool(b0 & 0x10),
        csrc_count=b0 & 0x0F,
        marker=bool(b1 & 0x80),
        payload_type=b1 & 0x7F,
        seq=int.from_bytes(payload[2:4], "big"),
        timestamp=int.from_bytes(payload[4:8], "big"),
        ssrc=int.from_bytes(payload[8:12], "big"),
    )


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
