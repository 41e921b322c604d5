"""Stream generator pacing: read an MPEG-TS file and give every packet its departure time.

Pure computation (no socket, no clock). The file's packets are parsed by the measurement core
(:mod:`iec62379.collectors.core.ts` for the headers and PCRs, :mod:`~iec62379.collectors.core.
psi` for the PAT and PMT); what is the generator's own is the pacing and the looping.

Timing follows the PCR (ISO/IEC 13818-1, 2.4.2.2): the departure time of every TS packet is
found by linear interpolation of its byte position between two consecutive PCRs of the PCR PID,
i.e. at the transport rate that those two PCRs define. PCR wrap (2^33 * 300) is unwrapped; at a
discontinuity (discontinuity_indicator set, or a jump that no plausible rate explains) the time
line continues at the previous rate so that departures stay monotonic.

Looping: every further pass through the file is sent at ``duration_ns`` after the previous one,
and the continuity counters continue (ISO/IEC 13818-1 2.4.3.3): without that, each PID's
continuity_counter would jump back to the file's first value at every seam and a receiver would
count one CC error (and MLR) per PID per loop although nothing was lost. Pass k >= 1 adds
``k * step[pid]`` (mod 16) to the counter of every packet of the PID, where
``step[pid] = last + 1 - first`` (mod 16) with ``first`` and ``last`` the counters of the first
and last packets *with payload* (adaptation_field_control 01 or 11) of the PID in the file: the
first payload packet of pass k then follows the last payload packet of pass k - 1 by one, as the
counter only increments on packets with payload. Packets without payload (adaptation_field_
control 10) do not take part in choosing the step, whether they come first, last or in between,
but get the same shift, so they keep their relation to the payload packets around them within a
pass; a PID that never carries a payload, and the null PID 0x1FFF (not checked), are left as
they are. A seam that the file itself makes discontinuous is made continuous, which is the
intent; discontinuities inside the file are kept. Pass 0 is the file byte for byte. PCR values
are not rewritten: the PCR PID's time base jumps back at each seam.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from iec62379.collectors.core.psi import PAT_PID, SectionAssembler, parse_pat, parse_pmt
from iec62379.collectors.core.ts import (
    NULL_PID,
    PCR_HZ,
    PCR_MODULUS,
    TS_PACKET_SIZE,
    TS_SYNC_BYTE,
    TsHeaders,
    gather_pcr,
    parse_ts_headers,
)

__all__ = [
    "MAX_PCR_GAP_TICKS",
    "NULL_PID",
    "PCR_HZ",
    "PCR_MODULUS",
    "TS_PACKET_SIZE",
    "PcrSample",
    "Schedule",
    "TsFormatError",
    "continuity_steps",
    "find_pcr_pid",
    "loop_packets",
    "pmt_pcr_pid",
    "read_pcrs",
    "schedule",
    "ts_headers",
    "ts_packets",
]

# Two consecutive PCRs further apart than this (after unwrapping) are not a plausible time
# step: ISO/IEC 13818-1 asks for at most 100 ms between PCRs; we tolerate ten seconds.
MAX_PCR_GAP_TICKS = 10 * PCR_HZ
# PSI packets of one PID looked at for the PAT and for the PMT
_PSI_PACKETS = 64

_Section = TypeVar("_Section")


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


# ---------------------------------------------------------------------------------------------
# The file's packets (parsed by the core)


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
        bad = np.flatnonzero(sync != TS_SYNC_BYTE)
        if bad.size:
            offset = int(bad[0]) * TS_PACKET_SIZE
            raise TsFormatError(
                f"not an MPEG-TS file: no sync byte 0x47 at offset {offset} "
                f"(found 0x{int(arr[offset]):02x}; packets are 188 bytes)"
            )
    if rest:
        offset = count * TS_PACKET_SIZE
        if arr[offset] != TS_SYNC_BYTE:
            raise TsFormatError(
                f"not an MPEG-TS file: no sync byte 0x47 at offset {offset} "
                f"(found 0x{int(arr[offset]):02x}; packets are 188 bytes)"
            )
        raise TsFormatError(
            f"truncated MPEG-TS packet at offset {offset}: {rest} bytes instead of 188"
        )
    return arr.reshape(count, TS_PACKET_SIZE)



def ts_headers(packets: np.ndarray) -> TsHeaders:
    """The header fields of every packet of ``ts_packets(...)``, parsed by the core."""
    starts = np.arange(packets.shape[0], dtype=np.int64) * TS_PACKET_SIZE
    return parse_ts_headers(packets.reshape(-1), starts)


def continuity_steps(packets: np.ndarray) -> np.ndarray:
    """Per TS packet, the continuity_counter shift (0..15) that each further loop adds.

    uint8 array, one value per packet: ``(last + 1 - first) % 16`` of the packet's PID, with
    ``first`` / ``last`` the counters of the PID's first / last packets with a payload; 0 for
    the null PID and for PIDs without any payload packet (see the module docstring).
    """
    h = ts_headers(packets)
    pids = h.pid
    cc = h.cc.astype(np.int16)
    has_payload = (h.afc & 1) != 0  # adaptation_field_control 01 or 11
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


def _first_section(
    packets: np.ndarray, h: TsHeaders, pid: int, parse: Callable[[bytes], _Section]
) -> _Section | None:
    """The first section on ``pid`` that ``parse`` (psi.parse_pat / parse_pmt) accepts, from
    the first packets of the PID with a payload, reassembled by the core."""
    assembler = SectionAssembler()
    carries = (h.pid == pid) & (h.error == 0) & ((h.afc & 1) != 0)
    for i in np.flatnonzero(carries)[:_PSI_PACKETS].tolist():
        payload = packets[i, int(h.payload_offset[i]) :].tobytes()
        sections, _ = assembler.feed(payload, bool(h.pusi[i]), int(h.cc[i]))
        for section in sections:
            try:
                return parse(section)
            except ValueError:  # another table, or a bad CRC
                continue
    return None


def pmt_pcr_pid(data: bytes) -> int | None:
    """PCR_PID of the first program in the PAT, read from its PMT; None if not found.

    Sections are reassembled and parsed by the core (CRC_32 checked) from the first 64 packets
    of PID 0 and of the PMT PID.
    """
    packets = ts_packets(data)
    h = ts_headers(packets)
    pat = _first_section(packets, h, PAT_PID, parse_pat)
    if pat is None:
        return None
    pmt_pid = next((pid for number, pid in pat.programs.items() if number != 0), None)
    if pmt_pid is None:
        return None
    pmt = _first_section(packets, h, pmt_pid, parse_pmt)
    if pmt is None or pmt.pcr_pid == NULL_PID:
        return None
    return pmt.pcr_pid


def find_pcr_pid(data: bytes) -> int | None:
    """The PID to pace by: the PMT's PCR_PID if it carries PCRs, else the first PID with a PCR."""
    h = ts_headers(ts_packets(data))
    if not h.has_pcr.any():
        return None
    declared = pmt_pcr_pid(data)
    if declared is not None and bool(np.any(h.has_pcr & (h.pid == declared))):
        return declared
    return int(h.pid[int(np.flatnonzero(h.has_pcr)[0])])


def read_pcrs(data: bytes, pid: int) -> list[PcrSample]:
    """All PCRs carried on pid, in file order."""
    packets = ts_packets(data)
    h = ts_headers(packets)
    idx = np.flatnonzero(h.has_pcr & (h.pid == pid))
    pcr = gather_pcr(packets.reshape(-1), idx * TS_PACKET_SIZE)
    disc = h.discontinuity[idx]
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
