"""Crafted transport streams for the TR 101 290 tests: a clean CBR stream on a timeline whose
parts (PAT, PMT, PCRs, PTSs, the audio PID, null packets) can be moved, removed or broken."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport, Tr101290Limits
from packets import TsMux, pat_section, pmt_section, ts_packet

MS = 1_000_000  # ns
PMT_PID = 0x1000
VIDEO = 0x100
AUDIO = 0x101
T0 = 10_000 * MS  # the first packet's arrival
SLOT = MS  # one packet a millisecond: 1,504,000 bit/s
RATE_BPS = 188 * 8 * 1000


def pes_header(pts_90k: int | None, stream_id: int = 0xE0) -> bytes:
    """A PES header (with a PTS when given) and a few payload bytes."""
    if pts_90k is None:
        return b"\x00\x00\x01" + bytes([stream_id]) + b"\x00\x00\x80\x00\x00" + b"\x00" * 8
    p = pts_90k & ((1 << 33) - 1)
    pts = bytes(
        [
            0x21 | ((p >> 29) & 0x0E),
            (p >> 22) & 0xFF,
            0x01 | ((p >> 14) & 0xFE),
            (p >> 7) & 0xFF,
            0x01 | ((p << 1) & 0xFE),
        ]
    )
    return b"\x00\x00\x01" + bytes([stream_id]) + b"\x00\x00\x80\x80\x05" + pts + b"\x00" * 8


@dataclass
class Plan:
    """When each part is sent, in ms from the start (one packet a millisecond, null packets
    in the free slots; a slot taken by a part listed before moves to the next free one).
    ``edit`` may replace any packet: (slot ms, packet) -> packet, or None to leave the slot
    empty (nothing is sent)."""

    duration_ms: int = 3000
    pat_ms: list[int] = field(default_factory=list)
    pmt_ms: list[int] = field(default_factory=list)
    pcr_ms: list[int] = field(default_factory=list)
    pts_ms: list[int] = field(default_factory=list)
    audio_ms: list[int] = field(default_factory=list)
    pcr_offset_ticks: dict[int, int] = field(default_factory=dict)  # slot -> PCR error
    edit: Callable[[int, bytes], bytes | None] | None = None
    pmt: bytes = b""

    @classmethod
    def clean(cls, duration_ms: int = 3000) -> Plan:
        d = duration_ms
        return cls(
            duration_ms=d,
            pat_ms=list(range(0, d, 100)),
            pmt_ms=list(range(1, d, 100)),
            pcr_ms=list(range(2, d, 20)),
            pts_ms=list(range(3, d, 40)),
            audio_ms=list(range(4, d, 24)),
            pmt=pmt_section(1, VIDEO, [(0x1B, VIDEO, b""), (0x03, AUDIO, b"")]),
        )

    def packets(self) -> list[tuple[int, bytes]]:
        """(arrival ns, packet) in order."""
        mux = TsMux()
        kinds: dict[int, str] = {}
        for name, slots in (
            ("pat", self.pat_ms),
            ("pmt", self.pmt_ms),
            ("pcr", self.pcr_ms),
            ("pts", self.pts_ms),
            ("audio", self.audio_ms),
        ):
            for s in slots:  # a slot taken by an earlier kind: the next free one
                while s in kinds:
                    s += 1
                kinds[s] = name
        pat = b"\x00" + pat_section({1: PMT_PID})
        pmt = b"\x00" + self.pmt
        out = []
        for s in range(self.duration_ms):
            kind = kinds.get(s)
            if kind == "pat":
                pkt = mux.packet(0, pat, pusi=True)
            elif kind == "pmt":
                pkt = mux.packet(PMT_PID, pmt, pusi=True)
            elif kind == "pcr":
                pcr = s * 27_000 + self.pcr_offset_ticks.get(s, 0)
                pkt = mux.packet(VIDEO, b"\x00" * 8, pcr=pcr)
            elif kind == "pts":
                pkt = mux.packet(VIDEO, pes_header(s * 90), pusi=True)
            elif kind == "audio":
                pkt = mux.packet(AUDIO, pes_header(s * 90, 0xC0), pusi=True)
            else:
                pkt = ts_packet(0x1FFF, 0, b"")
            if self.edit is not None:
                edited = self.edit(s, pkt)
                if edited is None:
                    continue
                pkt = edited
            out.append((T0 + s * SLOT, pkt))
        return out


def run(
    plan: Plan,
    limits: Tr101290Limits | None = None,
    per_datagram: int = 1,
    end_ms: int | None = None,
    **config: object,
) -> list[IntervalReport]:
    """The reports of the plan's stream fed in one batch (per_datagram packets a datagram,
    arriving with the last of them), closed at end_ms (default: the plan's end)."""
    config.setdefault("transport", "udp")
    cfg = AnalyzerConfig(tr101290=limits or Tr101290Limits(), **config)  # type: ignore[arg-type]
    a = StreamAnalyzer(cfg)
    pk = plan.packets()
    payloads, times = [], []
    for i in range(0, len(pk), per_datagram):
        group = pk[i : i + per_datagram]
        payloads.append(b"".join(p for _, p in group))
        times.append(group[-1][0])
    if payloads:
        a.feed_batch(PacketBatch.from_payloads(payloads, times))
    end = T0 + (plan.duration_ms if end_ms is None else end_ms) * SLOT
    a.close_until(end)
    return a.pop_reports()


def scrambled(pkt: bytes) -> bytes:
    """pkt with transport_scrambling_control '10'."""
    return pkt[:3] + bytes([pkt[3] | 0x80]) + pkt[4:]


def with_pcr_value(pkt: bytes, pcr: int) -> bytes:
    """pkt (which carries a PCR) with another PCR value."""
    base, ext = divmod(pcr, 300)
    return pkt[:6] + struct.pack(">IH", base >> 1, ((base & 1) << 15) | 0x7E00 | ext) + pkt[12:]
