"""TR 101 290 on a multi-programme transport stream: PID_error (1.6), the PCR checks (2.3)
and PTS_error (2.5) watch every programme of the PAT (each program_map_PID's PMT), not only
the first one. Each test breaks the second programme only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport, Tr101290Limits
from iec62379.mibs.vocabulary import TestState, TsTest
from packets import TsMux, pat_section, pmt_section, ts_packet
from tr101290_streams import MS, T0, pes_header

PMT1, VIDEO1, AUDIO1 = 0x1000, 0x100, 0x101
PMT2, VIDEO2, AUDIO2 = 0x1010, 0x200, 0x201


def _slot_kind(s: int) -> tuple[str, int] | None:
    """What slot s (one packet a millisecond) carries in the clean MPTS."""
    if s % 100 == 0:
        return "pat", 0
    if s % 100 == 1:
        return "pmt", PMT1
    if s % 100 == 2:
        return "pmt", PMT2
    if s % 20 == 3:
        return "pcr", VIDEO1
    if s % 20 == 5:
        return "pcr", VIDEO2
    for pid, phase in ((VIDEO1, 7), (AUDIO1, 9), (VIDEO2, 11), (AUDIO2, 13)):
        if s % 40 == phase:
            return "pes", pid
    return None


def mpts(duration_ms: int, skip: Callable[[int, str, int], bool] = lambda s, k, p: False,
         pcr_jump: dict[int, int] | None = None) -> list[tuple[int, bytes]]:
    """A clean two-programme stream (arrival ns, packet), without the parts skip names
    (slot, kind, PID) (so that no continuity error follows); pcr_jump: slot -> PCR offset."""
    mux = TsMux()
    pat = b"\x00" + pat_section({1: PMT1, 2: PMT2})
    pmts = {
        PMT1: b"\x00" + pmt_section(1, VIDEO1, [(0x1B, VIDEO1, b""), (0x03, AUDIO1, b"")]),
        PMT2: b"\x00" + pmt_section(2, VIDEO2, [(0x1B, VIDEO2, b""), (0x0F, AUDIO2, b"")]),
    }
    jumps = pcr_jump or {}
    out = []
    for s in range(duration_ms):
        kind = _slot_kind(s)
        if kind is not None and skip(s, *kind):
            kind = None
        if kind is None:
            pkt = ts_packet(0x1FFF, 0, b"")
        elif kind[0] == "pat":
            pkt = mux.packet(0, pat, pusi=True)
        elif kind[0] == "pmt":
            pkt = mux.packet(kind[1], pmts[kind[1]], pusi=True)
        elif kind[0] == "pcr":
            pkt = mux.packet(kind[1], b"\x00" * 8, pcr=s * 27_000 + jumps.get(s, 0))
        else:
            sid = 0xE0 if kind[1] in (VIDEO1, VIDEO2) else 0xC0
            pkt = mux.packet(kind[1], pes_header(s * 90, sid), pusi=True)
        out.append((T0 + s * MS, pkt))
    return out


def run(packets: list[tuple[int, bytes]], end_ms: int,
        limits: Tr101290Limits | None = None) -> list[IntervalReport]:
    a = StreamAnalyzer(AnalyzerConfig(transport="udp", tr101290=limits or Tr101290Limits()))
    a.feed_batch(PacketBatch.from_payloads([p for _, p in packets], [t for t, _ in packets]))
    a.close_until(T0 + end_ms * MS)
    return a.pop_reports()


def errors(reports: list[IntervalReport], test: TsTest) -> tuple[int, dict[int, int]]:
    n, per = 0, {}
    for r in reports:
        o = r.tr101290[test]
        n += o.errors
        for p, c in o.pids.items():
            per[p] = per.get(p, 0) + c
    return n, per


def test_a_clean_mpts_passes_every_programme():
    reports = run(mpts(3000), 3000)
    assert len(reports) == 3
    for r in reports:
        bad = {t.name: o for t, o in r.tr101290.items() if o.state != TestState.PASS or o.errors}
        assert bad == {}, r.index


@pytest.mark.parametrize(("gap_ms", "tripped"), [(4000, False), (6000, True)])
def test_a_missing_pid_of_the_second_programme_is_a_pid_error(gap_ms, tripped):
    cut = range(1000, 1000 + gap_ms)
    pk = mpts(8000, lambda s, kind, pid: pid == AUDIO2 and s in cut)
    reports = run(pk, 8000, Tr101290Limits(pts_interval_max_s=10.0))
    assert errors(reports, TsTest.pidError) == ((1, {AUDIO2: 1}) if tripped else (0, {}))
    assert errors(reports, TsTest.ptsError) == (0, {})


def test_the_second_programmes_pts_gap_is_a_pts_error():
    # VIDEO2's PES packets stop for 1 s (its PCR packets go on: no PID error)
    pk = mpts(3000, lambda s, kind, pid: pid == VIDEO2 and kind == "pes" and 1000 < s < 2000)
    reports = run(pk, 3000)
    assert errors(reports, TsTest.ptsError) == (1, {VIDEO2: 1})
    assert errors(reports, TsTest.pidError) == (0, {})


def test_the_second_programmes_pcr_gap_and_jump_are_pcr_errors():
    pk = mpts(
        3000,
        # two PCRs of VIDEO2 left out: 60 ms between two (the limit is 40 ms)
        lambda s, kind, pid: pid == VIDEO2 and kind == "pcr" and s in (1205, 1225),
        # VIDEO2's PCRs 200 ms forward from 2005 on (VIDEO1's, at 20 k + 3, unchanged)
        pcr_jump={s: 27_000 * 200 for s in range(2005, 3000, 20)},
    )
    reports = run(pk, 3000)
    assert errors(reports, TsTest.pcrRepetitionError) == (1, {VIDEO2: 1})
    assert errors(reports, TsTest.pcrDiscontinuityError) == (1, {VIDEO2: 1})
    assert errors(reports, TsTest.pcrRepetitionError)[1].get(VIDEO1) is None


def test_a_programme_dropped_from_the_pat_is_no_longer_watched():
    """The PAT's next version names only programme 1: programme 2's PIDs stop without
    error (PID_error and PTS_error watch the programmes of the current PAT)."""
    one = b"\x00" + pat_section({1: PMT1}, version=1)
    pk = mpts(8000, lambda s, kind, pid: pid in (PMT2, VIDEO2, AUDIO2) and s >= 1000)
    mux_cc = 0
    out = []
    for t, pkt in pk:
        s = (t - T0) // MS
        if s >= 1000 and s % 100 == 0:  # the PAT's new version
            pkt = ts_packet(0, (10 + mux_cc) & 0x0F, one, pusi=True)
            mux_cc += 1
        out.append((t, pkt))
    reports = run(out, 8000)
    for test in (TsTest.pidError, TsTest.ptsError, TsTest.pcrRepetitionError,
                 TsTest.pmtError2):
        assert errors(reports, test) == (0, {}), test


def test_the_second_programmes_pcr_inaccuracy_is_a_pcr_accuracy_error():
    # one PCR of VIDEO2 10 us off (the limit is 500 ns): the pairs before and after it fail
    reports = run(mpts(3000, pcr_jump={1205: 270}), 3000)
    assert errors(reports, TsTest.pcrAccuracyError) == (2, {VIDEO2: 2})
    assert [r.tr101290[TsTest.pcrAccuracyError].state for r in reports] == [
        TestState.PASS, TestState.FAIL, TestState.PASS
    ]
    # and one of each programme's in the same interval: counted per PID
    both = run(mpts(3000, pcr_jump={1203: 270, 1205: 270, 1403: -270}), 3000)
    assert errors(both, TsTest.pcrAccuracyError) == (6, {VIDEO1: 4, VIDEO2: 2})
