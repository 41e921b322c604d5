"""Unit tests of the stream generator planner (and of the pacing loop with a fake clock)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from iec62379.collectors import generator as g
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.cc import ContinuityChecker
from iec62379.collectors.core.psi import crc32_mpeg
from iec62379.collectors.core.rtp import parse_rtp
from iec62379.collectors.generator.sender import send_paced

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"
MS = 1_000_000  # ns
TICKS_PER_MS = 27_000


# ---------------------------------------------------------------------------------------------
# crafted transport streams


def ts_packet(
    pid: int,
    *,
    pcr: int | None = None,
    discontinuity: bool = False,
    cc: int = 0,
    pusi: bool = False,
    payload: bytes = b"",
) -> bytes:
    """One 188-byte TS packet; with pcr, an adaptation field carrying it (and stuffing)."""
    header = bytes(
        (0x47, (0x40 if pusi else 0) | (pid >> 8) & 0x1F, pid & 0xFF, 0)
    )
    if pcr is None:
        body = payload.ljust(184, b"\xff")
        return header[:3] + bytes((0x10 | (cc & 0xF),)) + body
    base, ext = divmod(pcr, 300)
    pcr_bytes = bytes(
        (
            (base >> 25) & 0xFF,
            (base >> 17) & 0xFF,
            (base >> 9) & 0xFF,
            (base >> 1) & 0xFF,
            ((base & 1) << 7) | 0x7E | ((ext >> 8) & 1),
            ext & 0xFF,
        )
    )
    flags = 0x10 | (0x80 if discontinuity else 0)
    af_body = bytes((flags,)) + pcr_bytes
    af_len = 183 - len(payload)
    af = bytes((af_len,)) + af_body.ljust(af_len, b"\xff")
    afc = 0x30 if payload else 0x20
    return header[:3] + bytes((afc | (cc & 0xF),)) + af + payload


def stream(n: int, pcrs: dict[int, int], pid: int = 0x100, disc: set[int] | None = None) -> bytes:
    """n packets on pid, with a PCR at the given packet indexes."""
    disc = disc or set()
    return b"".join(
        ts_packet(pid, pcr=pcrs.get(i), discontinuity=i in disc, cc=i) for i in range(n)
    )


def psi(pid: int, section: bytes) -> bytes:
    """A packet starting a PSI section (pointer field 0), with its CRC_32."""
    crc = crc32_mpeg(section).to_bytes(4, "big")
    return ts_packet(pid, pusi=True, payload=b"\x00" + section + crc)


def pat(pmt_pid: int, program: int = 1) -> bytes:
    body = bytes((0x00, 0x01, 0xC1, 0x00, 0x00)) + bytes(
        (program >> 8, program & 0xFF, 0xE0 | (pmt_pid >> 8), pmt_pid & 0xFF)
    )
    length = len(body) + 4
    return psi(0, bytes((0x00, 0xB0 | (length >> 8), length & 0xFF)) + body)


def pmt(pmt_pid: int, pcr_pid: int, streams: list[tuple[int, int]]) -> bytes:
    body = bytes((0x00, 0x01, 0xC1, 0x00, 0x00, 0xE0 | (pcr_pid >> 8), pcr_pid & 0xFF, 0xF0, 0))
    for stype, spid in streams:
        body += bytes((stype, 0xE0 | (spid >> 8), spid & 0xFF, 0xF0, 0))
    length = len(body) + 4
    return psi(pmt_pid, bytes((0x02, 0xB0 | (length >> 8), length & 0xFF)) + body)


# ---------------------------------------------------------------------------------------------
# input checks


def test_empty_file_is_refused() -> None:
    with pytest.raises(g.TsFormatError, match="empty"):
        g.ts_packets(b"")


def test_bad_sync_names_the_offset() -> None:
    data = bytearray(stream(5, {}))
    data[2 * 188] = 0x00
    with pytest.raises(g.TsFormatError, match=r"offset 376 \(found 0x00"):
        g.ts_packets(bytes(data))


def test_garbage_is_not_ts() -> None:
    with pytest.raises(g.TsFormatError, match="offset 0"):
        g.schedule(b"hello, this is not a transport stream" * 20)


def test_truncated_last_packet_names_the_offset() -> None:
    data = stream(3, {}) + b"\x47" + b"\x00" * 99
    with pytest.raises(g.TsFormatError, match="truncated MPEG-TS packet at offset 564: 100 bytes"):
        g.ts_packets(data)


def test_file_without_pcr_needs_a_bitrate() -> None:
    with pytest.raises(g.TsFormatError, match="--bitrate"):
        g.schedule(stream(20, {}))


def test_single_pcr_needs_a_bitrate() -> None:
    with pytest.raises(g.TsFormatError, match="only one PCR on PID 256"):
        g.schedule(stream(20, {3: 1000}))


# ---------------------------------------------------------------------------------------------
# PCR PID and PCR reading


def test_pcr_pid_from_pmt_wins_over_first_pcr() -> None:
    # PID 0x101 carries the first PCR, but the PMT names 0x100 as PCR_PID.
    data = (
        pat(0x1000)
        + pmt(0x1000, 0x100, [(0x1B, 0x100), (0x03, 0x101)])
        + ts_packet(0x101, pcr=5 * 27_000_000)
        + ts_packet(0x100, pcr=1000)
        + ts_packet(0x100, pcr=1000 + 27_000)
    )
    assert g.pmt_pcr_pid(data) == 0x100
    assert g.find_pcr_pid(data) == 0x100


def test_pcr_pid_falls_back_to_first_pid_with_pcr() -> None:
    data = ts_packet(0x44, payload=b"x") + ts_packet(0x101, pcr=7) + ts_packet(0x100, pcr=8)
    assert g.pmt_pcr_pid(data) is None
    assert g.find_pcr_pid(data) == 0x101
    assert g.find_pcr_pid(stream(4, {})) is None


def test_pcr_pid_ignores_a_pmt_with_a_bad_crc() -> None:
    # The PAT and PMT are read by the core's PSI parser, which checks CRC_32 (ISO/IEC 13818-1
    # Annex A): a damaged PMT names no PCR_PID, and the first PID with a PCR paces.
    good = pmt(0x1000, 0x100, [(0x1B, 0x100), (0x03, 0x101)])
    damaged = good[:8] + bytes((good[8] ^ 0x01,)) + good[9:]  # program_number, CRC kept
    pcrs = ts_packet(0x101, pcr=5 * 27_000_000) + ts_packet(0x100, pcr=1000)
    assert g.pmt_pcr_pid(pat(0x1000) + good + pcrs) == 0x100
    assert g.pmt_pcr_pid(pat(0x1000) + damaged + pcrs) is None
    assert g.find_pcr_pid(pat(0x1000) + damaged + pcrs) == 0x101


def test_read_pcrs_decodes_base_extension_and_discontinuity() -> None:
    value = ((1 << 33) - 1) * 300 + 299  # largest PCR
    data = stream(4, {1: value, 3: 12345}, disc={3})
    assert g.read_pcrs(data, 0x100) == [
        g.PcrSample(1, value, False),
        g.PcrSample(3, 12345, True),
    ]


# ---------------------------------------------------------------------------------------------
# scheduling


def test_linear_interpolation_between_pcrs() -> None:
    # PCRs at packets 2, 12, 22: 1 ms per packet, then 0.5 ms per packet.
    base = 1_000 * TICKS_PER_MS
    data = stream(
        26, {2: base, 12: base + 10 * TICKS_PER_MS, 22: base + 15 * TICKS_PER_MS}
    )
    s = g.schedule(data)
    expected = [i * MS for i in range(13)]  # head (0, 1) extrapolated at the first rate
    expected += [12 * MS + (i - 12) * MS // 2 for i in range(13, 26)]
    assert s.times_ns.tolist() == expected
    assert s.pcr_pid == 0x100 and s.pcr_count == 3 and s.discontinuities == 0
    # one pass = last departure + one packet at the last rate
    assert s.duration_ns == 19 * MS  # packet 25 at 18.5 ms, plus 0.5 ms
    # RTP origin: PCR base of packet 0 (2 ms before the first PCR)
    assert s.rtp_origin == (base - 2 * TICKS_PER_MS) // 300


def test_pcr_wrap_is_unwrapped() -> None:
    start = g.PCR_MODULUS - 5 * TICKS_PER_MS
    data = stream(21, {0: start, 10: (start + 10 * TICKS_PER_MS) % g.PCR_MODULUS,
                       20: (start + 20 * TICKS_PER_MS) % g.PCR_MODULUS})
    s = g.schedule(data)
    assert s.times_ns.tolist() == [i * MS for i in range(21)]
    assert s.discontinuities == 0


def test_discontinuity_continues_at_previous_rate() -> None:
    # Third PCR jumps back with discontinuity_indicator set; fourth follows the new time base.
    data = stream(
        31,
        {0: 0, 10: 10 * TICKS_PER_MS, 20: 5 * TICKS_PER_MS, 30: 10 * TICKS_PER_MS},
        disc={20},
    )
    s = g.schedule(data)
    times = s.times_ns.tolist()
    assert s.discontinuities == 1
    assert times[:21] == [i * MS for i in range(21)]  # 10..20 at the previous 1 ms rate
    assert times[30] == 20 * MS + 5 * MS  # then 0.5 ms per packet from the new base
    assert all(b >= a for a, b in itertools.pairwise(times))


def test_implausible_jump_without_flag_counts_as_discontinuity() -> None:
    data = stream(21, {0: 0, 10: 10 * TICKS_PER_MS, 20: 10 * TICKS_PER_MS + 3600 * 27_000_000})
    s = g.schedule(data)
    assert s.discontinuities == 1
    assert s.times_ns[20] == 20 * MS


def test_fixed_bitrate_and_rate_scale() -> None:
    data = stream(10, {})
    s = g.schedule(data, bitrate=188 * 8 * 1000)  # 1000 packets/s
    assert s.times_ns.tolist() == [i * MS for i in range(10)]
    assert s.duration_ns == 10 * MS and s.pcr_pid is None
    fast = g.schedule(stream(21, {0: 0, 20: 20 * TICKS_PER_MS}), rate_scale=2.0)
    assert fast.times_ns[20] == 10 * MS


def test_fixture_schedule_matches_its_mux_rate() -> None:
    data = (MEDIA / "h264_mp2.ts").read_bytes()  # CBR 1.5 Mbit/s, PCR on PID 0x100
    s = g.schedule(data)
    assert s.pcr_pid == 0x100
    assert s.bitrate == pytest.approx(1_500_000, rel=1e-3)
    assert all(b >= a for a, b in itertools.pairwise(s.times_ns.tolist()))


# ---------------------------------------------------------------------------------------------
# RTP packetisation


def test_rtp_header_fields_and_payload() -> None:
    base = 7_000 * TICKS_PER_MS
    data = stream(40, {0: base, 39: base + 39 * TICKS_PER_MS})
    out, _ = g.plan(data, g.PlanConfig(seed=1, initial_seq=65533, ssrc=0xDEADBEEF))
    assert len(out) == 6  # 5 x 7 + 1 x 5
    seqs = []
    for i, dg in enumerate(out):
        h = parse_rtp(dg.payload)
        assert (h.version, h.padding, h.extension, h.csrc_count, h.marker) == (2, 0, 0, 0, 0)
        assert h.payload_type == 33 and h.ssrc == 0xDEADBEEF
        # 90 kHz of the PCR time of the first TS packet of the datagram (1 ms per packet)
        assert h.timestamp == (base // 300 + i * 7 * 90) % 2**32
        assert dg.departure_ns == i * 7 * MS
        assert dg.payload[12:] == data[i * 7 * 188 : (i + 1) * 7 * 188]
        seqs.append(h.sequence)
    assert seqs == [65533, 65534, 65535, 0, 1, 2]
    assert len(out[-1].payload) == 12 + 5 * 188


def test_rtp_timestamp_wraps_at_32_bits() -> None:
    base = (2**32 + 5) * 300  # PCR base beyond 32 bits
    data = stream(14, {0: base, 13: base + 13 * TICKS_PER_MS})
    out, _ = g.plan(data, g.PlanConfig(seed=2))
    assert [parse_rtp(d.payload).timestamp for d in out] == [5, 5 + 630]


def test_udp_mode_and_ts_per_packet() -> None:
    data = stream(10, {0: 0, 9: 9 * TICKS_PER_MS})
    out, _ = g.plan(data, g.PlanConfig(rtp=False, ts_per_packet=3))
    assert [len(d.payload) for d in out] == [564, 564, 564, 188]
    assert b"".join(d.payload for d in out) == data
    assert [d.departure_ns for d in out] == [0, 3 * MS, 6 * MS, 9 * MS]
    assert all(d.seq is None for d in out)


def test_loops_continue_time_sequence_and_timestamps() -> None:
    data = stream(14, {0: 0, 13: 13 * TICKS_PER_MS})
    out, _ = g.plan(data, g.PlanConfig(loops=3, seed=4, initial_seq=10))
    assert [d.departure_ns for d in out] == [0, 7 * MS, 14 * MS, 21 * MS, 28 * MS, 35 * MS]
    headers = [parse_rtp(d.payload) for d in out]
    assert [h.sequence for h in headers] == list(range(10, 16))
    assert [h.timestamp for h in headers] == [i * 630 for i in range(6)]


def test_endless_plan_is_lazy() -> None:
    p = g.Plan(stream(14, {0: 0, 13: 13 * TICKS_PER_MS}), g.PlanConfig(loops=None))
    first = list(itertools.islice(p, 1000))
    assert first[-1].number == 999 and first[-1].departure_ns == 999 * 7 * MS
    with pytest.raises(ValueError, match="endless"):
        p.datagrams()


def test_seed_fixes_sequence_and_ssrc() -> None:
    data = stream(14, {0: 0, 13: 13 * TICKS_PER_MS})
    a, b, c = (g.Plan(data, g.PlanConfig(seed=s)) for s in (9, 9, 10))
    assert (a.initial_seq, a.ssrc) == (b.initial_seq, b.ssrc)
    assert (a.initial_seq, a.ssrc) != (c.initial_seq, c.ssrc)


# ---------------------------------------------------------------------------------------------
# continuity counters across loops


def af_only(pid: int, cc: int) -> bytes:
    """A packet with an adaptation field and no payload (adaptation_field_control 10)."""
    return bytes((0x47, (pid >> 8) & 0x1F, pid & 0xFF, 0x20 | cc)) + bytes((183, 0)) + b"\xff" * 182


def multi_pid_stream() -> bytes:
    """A few PIDs whose counters do not continue from the last packet to the first.

    0x100: PCR PID, PCR-only packets (no payload) at the ends, payload packets CC 1..12;
    0x101: payload CC 5..11 (step 7); 0x102: starts and ends with packets without payload;
    0x103: never a payload (CC 9 throughout); 0x104: CC 0..15, a seam that already continues;
    0x105: ends with a legal duplicate (3, 4, 4); 0x1FFF: null packets, CC 0.
    """
    out = [ts_packet(0x100, pcr=0, cc=0)]
    per: dict[int, list[bytes]] = {
        0x101: [ts_packet(0x101, cc=5 + i) for i in range(7)],
        0x102: [
            af_only(0x102, 2),
            *(ts_packet(0x102, cc=3 + i) for i in range(4)),
            af_only(0x102, 6),
        ],
        0x103: [af_only(0x103, 9) for _ in range(3)],
        0x104: [ts_packet(0x104, cc=i) for i in range(16)],
        0x105: [ts_packet(0x105, cc=c) for c in (3, 4, 4)],
        0x1FFF: [ts_packet(0x1FFF, cc=0) for _ in range(4)],
    }
    video = [ts_packet(0x100, cc=1 + i) for i in range(12)]
    while any(per.values()) or video:  # interleave the PIDs
        for pid in list(per):
            if per[pid]:
                out.append(per[pid].pop(0))
        if video:
            out.append(video.pop(0))
    out.append(ts_packet(0x100, pcr=len(out) * TICKS_PER_MS, cc=12))
    return b"".join(out)


def cc_errors(payloads: list[bytes], header: int = 12) -> dict[int, int]:
    """CC errors per PID of the TS packets of the datagrams, checked in order."""
    ts = np.frombuffer(b"".join(p[header:] for p in payloads), dtype=np.uint8).reshape(-1, 188)
    pid = (((ts[:, 1] & 0x1F).astype(np.uint16) << 8) | ts[:, 2]).astype(np.uint16)
    afc = (ts[:, 3] >> 4) & 3
    disc = ((afc & 2) != 0) & (ts[:, 4] > 0) & ((ts[:, 5] & 0x80) != 0)
    result = ContinuityChecker().process(pid, ts[:, 3] & 0x0F, (afc & 1) != 0, disc)
    return result.per_pid


def test_continuity_steps_per_pid() -> None:
    packets = g.ts_packets(multi_pid_stream())
    steps = g.continuity_steps(packets)
    pids = (packets[:, 1].astype(int) & 0x1F) << 8 | packets[:, 2]
    by_pid = {int(p): set(steps[pids == p].tolist()) for p in np.unique(pids)}
    assert by_pid == {
        0x100: {(12 + 1 - 1) % 16},  # payload packets only: 1 .. 12
        0x101: {(11 + 1 - 5) % 16},
        0x102: {(6 + 1 - 3) % 16},  # first / last payload 3 / 6, not the AF-only 2 / 6
        0x103: {0},  # no payload: never checked, left alone
        0x104: {0},  # 15 -> 0 already continues
        0x105: {(4 + 1 - 3) % 16},
        0x1FFF: {0},
    }


def test_looping_keeps_continuity_counters_continuous() -> None:
    data = multi_pid_stream()
    out, _ = g.plan(data, g.PlanConfig(loops=3, seed=3))
    payloads = [d.payload for d in out]
    assert cc_errors(payloads) == {}
    # The file alone, sent three times as it is, has one error per seam on four PIDs.
    raw = [b"\0" * 12 + data] * 3
    assert cc_errors(raw) == {0x100: 2, 0x101: 2, 0x102: 2, 0x105: 2}
    # Loop 0 is the file byte for byte; the other loops only differ in the CC nibble.
    per_loop = len(out) // 3
    loops = [
        b"".join(p[12:] for p in payloads[i * per_loop : (i + 1) * per_loop]) for i in range(3)
    ]
    assert loops[0] == data
    for k in (1, 2):
        a = np.frombuffer(loops[k], dtype=np.uint8).reshape(-1, 188)
        b = g.ts_packets(data)
        assert np.array_equal(np.delete(a, 3, axis=1), np.delete(b, 3, axis=1))
        assert np.array_equal(a[:, 3] & 0xF0, b[:, 3] & 0xF0)
        assert np.array_equal(a[:, 3] & 0x0F, (b[:, 3] + k * g.continuity_steps(b)) & 0x0F)


def test_loop_packets_of_loop_zero_and_of_a_whole_cycle_is_the_file() -> None:
    data = multi_pid_stream()
    assert g.loop_packets(data, 0) is data
    assert g.loop_packets(data, 16) is data  # every shift is a multiple of 16
    assert g.loop_packets(data, 1) != data


def test_looping_plain_udp_and_odd_datagram_sizes() -> None:
    data = multi_pid_stream()
    out, _ = g.plan(data, g.PlanConfig(rtp=False, loops=5, ts_per_packet=3))
    assert cc_errors([d.payload for d in out], header=0) == {}


@pytest.mark.parametrize("name", ["h264i_mp2_ac3.ts", "mpeg2_eac3_s302m.ts"])
def test_looped_fixture_has_no_cc_error_in_the_analyzer(name: str) -> None:
    data = (MEDIA / name).read_bytes()
    analyzer = StreamAnalyzer()
    for dg in g.Plan(data, g.PlanConfig(loops=3, seed=5)):
        analyzer.feed(dg.payload, 1_000 * 1_000_000_000 + dg.departure_ns)
    totals = analyzer.totals()
    assert totals.cc_errors == 0


def test_loss_still_shows_as_cc_errors_when_looping() -> None:
    data = big_stream(700)  # one PID, counters continuous within the file
    clean, _ = g.plan(data, g.PlanConfig(loops=3, seed=2, ts_per_packet=1))
    assert cc_errors([d.payload for d in clean]) == {}
    imp = g.Impairments(loss_pct=5)
    out, stats = g.plan(data, g.PlanConfig(loops=3, seed=2, ts_per_packet=1, impairments=imp))
    assert stats.total_lost > 0
    # One TS packet per datagram: every lost payload packet is one CC error (or none, for the
    # two PCR-only packets of each loop, or when losses add up to 16 in a row).
    errors = sum(cc_errors([d.payload for d in out]).values())
    assert 0.8 * stats.total_lost <= errors <= stats.total_lost


# ---------------------------------------------------------------------------------------------
# impairments


def big_stream(n: int = 7000) -> bytes:
    return stream(n, {0: 0, n - 1: (n - 1) * TICKS_PER_MS})


def impaired(imp: g.Impairments, seed: int = 1, ts_per_packet: int = 7) -> tuple[
    list[g.Datagram], g.PlanStats
]:
    return g.plan(big_stream(), g.PlanConfig(seed=seed, ts_per_packet=ts_per_packet,
                                             initial_seq=0, impairments=imp))


def seqs(out: list[g.Datagram]) -> list[int]:
    return [parse_rtp(d.payload).sequence for d in out]


def test_no_impairment_sends_everything_in_order() -> None:
    out, stats = impaired(g.Impairments())
    assert seqs(out) == list(range(1000))
    assert (stats.datagrams, stats.total_lost, stats.sent) == (1000, 0, 1000)


def test_random_loss_leaves_sequence_gaps() -> None:
    out, stats = impaired(g.Impairments(loss_pct=5.0), seed=1)
    assert stats.lost == 36 and stats.burst_lost == 0  # fixed by the seed
    sent = seqs(out)
    missing = sorted(set(range(1000)) - set(sent))
    assert missing == stats.lost_numbers
    assert missing[:5] == [31, 32, 97, 104, 173]
    assert len(sent) == 1000 - 36 and sent == sorted(sent)
    # the survivors keep their original schedule
    assert all(d.departure_ns == parse_rtp(d.payload).sequence * 7 * MS for d in out)
    again, _ = impaired(g.Impairments(loss_pct=5.0), seed=1)
    assert seqs(again) == sent
    other, _ = impaired(g.Impairments(loss_pct=5.0), seed=2)
    assert seqs(other) != sent


def test_total_loss_and_no_loss() -> None:
    out, stats = impaired(g.Impairments(loss_pct=100.0))
    assert out == [] and stats.lost == 1000


def test_gilbert_elliott_burst_loss() -> None:
    out, stats = g.plan(
        stream(20_000, {0: 0, 19_999: 19_999 * TICKS_PER_MS // 10}),
        g.PlanConfig(seed=3, ts_per_packet=1, initial_seq=0,
                     impairments=g.Impairments(burst_loss_pct=10.0, burst_length=4.0)),
    )
    assert stats.lost == 0 and stats.burst_lost == 2008  # fixed by the seed
    lost = stats.lost_numbers
    runs = [len(list(grp)) for _, grp in itertools.groupby(
        enumerate(lost), key=lambda p: p[1] - p[0])]
    assert sum(runs) == len(lost)
    assert len(lost) / 20_000 == pytest.approx(0.10, abs=0.02)
    assert sum(runs) / len(runs) == pytest.approx(4.0, rel=0.25)  # mean burst length
    assert len(out) == 20_000 - 2008


def test_duplication_repeats_the_datagram_right_after() -> None:
    out, stats = impaired(g.Impairments(duplicate_pct=10.0), seed=5)
    assert stats.duplicated == 94  # fixed by the seed
    assert len(out) == 1094 and stats.sent == 1094
    dups = [i for i, d in enumerate(out) if d.duplicate]
    assert len(dups) == 94
    for i in dups:
        assert out[i].payload == out[i - 1].payload
        assert out[i].departure_ns == out[i - 1].departure_ns
    assert sorted(set(seqs(out))) == list(range(1000))


def test_reorder_swaps_with_the_next_datagram() -> None:
    out, stats = impaired(g.Impairments(reorder_pct=5.0), seed=6)
    assert stats.reordered == 36  # fixed by the seed
    s = seqs(out)
    assert sorted(s) == list(range(1000))
    swaps = [i for i in range(999) if s[i] > s[i + 1]]
    assert len(swaps) == 36
    for i in swaps:
        assert s[i] == s[i + 1] + 1  # neighbours exchanged
        assert out[i].reordered and out[i + 1].reordered
    # departure slots stay in schedule order
    deps = [d.departure_ns for d in out]
    assert deps == sorted(deps) == [i * 7 * MS for i in range(1000)]


def test_jitter_delays_without_reordering() -> None:
    out, stats = impaired(g.Impairments(jitter_ms=20.0), seed=7)
    assert seqs(out) == list(range(1000))
    deps = [d.departure_ns for d in out]
    assert deps == sorted(deps)
    delays = [d.departure_ns - i * 7 * MS for i, d in enumerate(out)]
    assert min(delays) >= 0 and max(delays) <= 20 * MS
    assert max(delays) > 15 * MS  # the jitter is really there
    assert stats.jitter_reordered == 0


def test_jitter_may_reorder_when_reordering_is_allowed() -> None:
    out, stats = impaired(g.Impairments(jitter_ms=20.0, reorder_pct=0.1), seed=8)
    deps = [d.departure_ns for d in out]
    assert deps == sorted(deps)  # sent in departure order ...
    s = seqs(out)
    assert sorted(s) == list(range(1000))
    assert s != sorted(s)  # ... which is no longer sequence order
    assert stats.jitter_reordered > 0


def test_impairments_compose_and_count() -> None:
    imp = g.Impairments(loss_pct=3, burst_loss_pct=2, burst_length=2, duplicate_pct=2,
                        reorder_pct=2)
    out, stats = impaired(imp, seed=11)
    assert len(out) == stats.sent == 1000 - stats.total_lost + stats.duplicated
    assert stats.lost > 0 and stats.burst_lost > 0 and stats.duplicated > 0
    assert stats.reordered > 0
    assert set(seqs(out)) == set(range(1000)) - set(stats.lost_numbers)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss_pct": 101}, "loss_pct must be within 0..100"),
        ({"loss_pct": -1}, "loss_pct"),
        ({"burst_loss_pct": 100}, "burst_loss_pct"),
        ({"burst_length": 0.5}, "burst_length"),
        ({"jitter_ms": -2}, "jitter_ms"),
        ({"reorder_pct": 200}, "reorder_pct"),
        ({"duplicate_pct": 100.5}, "duplicate_pct"),
    ],
)
def test_out_of_range_impairments(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        g.Impairments(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ts_per_packet": 0}, "ts_per_packet"),
        ({"ts_per_packet": 8}, "ts_per_packet"),
        ({"loops": 0}, "loops"),
        ({"rate_scale": 0}, "rate_scale"),
        ({"bitrate": -1.0}, "bitrate"),
        ({"initial_seq": 70000}, "initial_seq"),
    ],
)
def test_out_of_range_config(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        g.PlanConfig(**kwargs)


# ---------------------------------------------------------------------------------------------
# destinations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp://239.1.2.3:5000", g.Destination("239.1.2.3", 5000, "udp")),
        ("rtp://127.0.0.1:5004", g.Destination("127.0.0.1", 5004, "rtp")),
        ("RTP://[ff15::1]:1234/", g.Destination("ff15::1", 1234, "rtp")),
        ("[::1]:9", g.Destination("::1", 9, None)),
        ("localhost:5004", g.Destination("localhost", 5004, None)),
    ],
)
def test_parse_destination(text: str, expected: g.Destination) -> None:
    assert g.parse_destination(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "expected udp://HOST:PORT"),
        ("::1:5000", "IPv6 in brackets"),
        ("srt://1.2.3.4:5", "scheme must be udp or rtp"),
        ("1.2.3.4:0", "port 0"),
        ("1.2.3.4:70000", "port 70000"),
        ("udp://:5000", "expected"),
    ],
)
def test_bad_destination(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        g.parse_destination(text)


# ---------------------------------------------------------------------------------------------
# the pacing loop, with a fake clock and a fake socket


class FakeClock:
    """A clock that advances only when slept on, or a little on each reading (a spin)."""

    def __init__(self) -> None:
        self.now = 1_000_000_000
        self.sleeps: list[float] = []

    def clock(self) -> int:
        self.now += 10_000  # every reading costs 10 us
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += int(seconds * 1e9) + 50_000  # timer slack: wake 50 us late


class FakeSocket:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, bytes]] = []

    def sendto(self, payload: bytes, address: tuple) -> int:
        self.sent.append((self.clock.now, payload))
        return len(payload)


def test_send_paced_meets_deadlines_and_reports() -> None:
    clk = FakeClock()
    sock = FakeSocket(clk)
    dgs = [g.Datagram(i * 5 * MS, bytes(100), i) for i in range(20)]
    start = clk.now
    report = send_paced(dgs, sock, ("127.0.0.1", 9), start_delay_ns=0, spin_ns=200_000,
                        clock=clk.clock, sleep=clk.sleep)
    assert report.sent == 20 and report.payload_bytes == 2000
    for i, (t, _) in enumerate(sock.sent):
        deadline = start + 10_000 + i * 5 * MS
        assert 0 <= t - deadline <= 30_000  # spun to the deadline, sent on the next reading
    assert report.max_lateness_ns <= 30_000 and report.late_1ms == 0
    assert report.achieved_bitrate == pytest.approx(19 * 800 / (95e-3), rel=1e-3)
    assert len(clk.sleeps) >= 19


def test_send_paced_stops_at_duration_and_counts_lateness() -> None:
    clk = FakeClock()
    sock = FakeSocket(clk)
    dgs = [g.Datagram(0, b"a", 0), g.Datagram(0, b"b", 1), g.Datagram(3 * MS, b"c", 2)]
    report = send_paced(dgs, sock, ("::1", 9), duration_ns=2 * MS, start_delay_ns=0,
                        clock=clk.clock, sleep=clk.sleep)
    assert [p for _, p in sock.sent] == [b"a", b"b"]
    assert report.stopped_by_duration and report.sent == 2


def test_send_paced_reports_ctrl_c() -> None:
    clk = FakeClock()

    class Interrupting(FakeSocket):
        def sendto(self, payload: bytes, address: tuple) -> int:
            if len(self.sent) == 3:
                raise KeyboardInterrupt
            return super().sendto(payload, address)

    sock = Interrupting(clk)
    dgs = (g.Datagram(i * MS, b"x", i) for i in itertools.count())
    report = send_paced(dgs, sock, ("127.0.0.1", 9), start_delay_ns=0,
                        clock=clk.clock, sleep=clk.sleep)
    assert report.interrupted and report.sent == 3
