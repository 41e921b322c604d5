"""Multi-program transport streams: every program of the PAT is reported (issue #14, 6)."""

from pathlib import Path

import pytest
from iec62379.collectors import generator as g
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.formats import AudioFormat, VideoCoding
from iec62379.collectors.core.program import ProgramTracker
from iec62379.collectors.core.report import AnalyzerConfig
from unit.core.packets import TsMux, pat_section, pmt_section, section_packets

MS = 1_000_000

# program number -> (PMT PID, video (stream_type, PID), audio [(stream_type, PID)])
THREE = {
    1: (0x1000, (0x1B, 0x100), [(0x0F, 0x101)]),
    2: (0x1010, (0x02, 0x200), [(0x03, 0x201), (0x81, 0x202)]),
    5: (0x1020, (0x24, 0x300), []),
}


def pmt_of(number, spec, version=0):
    _, (vtype, vpid), audio = spec
    streams = [(vtype, vpid, b"")] + [(t, p, b"") for t, p in audio]
    return pmt_section(number, vpid, streams, version=version)


def make_mpts(programs, n=2000, period_ns=MS, pat=None, pmts=None, switch_at=None, later=None):
    """Plain-UDP datagrams of 7 TS packets, one per period: the PAT and each PMT every 100
    datagrams, then the programs' video and audio PIDs in turn. From datagram switch_at on,
    ``later`` (programs, pat, pmts) replaces them. Returns (payloads, arrivals)."""
    mux = TsMux()
    pay, arr = [], []
    cur = (programs, pat, pmts)
    for i in range(n):
        if switch_at is not None and i == switch_at:
            cur = later
        progs, pat_sec, pmt_secs = cur
        pat_sec = pat_sec or pat_section({k: v[0] for k, v in progs.items()})
        pmt_secs = pmt_secs or {k: pmt_of(k, v) for k, v in progs.items()}
        pk = []
        if i % 100 == 0:
            pk.append(mux.packet(0, b"\x00" + pat_sec, pusi=True))
            for k, v in progs.items():
                pk.append(mux.packet(v[0], b"\x00" + pmt_secs[k], pusi=True))
        es = [v[1][1] for v in progs.values()] + [p for v in progs.values() for _, p in v[2]]
        j = 0
        while len(pk) < 7:
            pk.append(mux.packet(es[(i + j) % len(es)], b"x"))
            j += 1
        pay.append(b"".join(pk[:7]))
        arr.append(i * period_ns)
    return pay, arr


def analyse(pay, arr, end_ns, **config):
    a = StreamAnalyzer(AnalyzerConfig(transport="udp", **config), inspector=lambda c, b: None)
    a.feed_batch(PacketBatch.from_payloads(pay, arr))
    a.close_until(end_ns)
    return a.pop_reports()


def summary(report):
    return [
        (
            p.program_number,
            p.info.pmt_pid,
            None if p.video is None else (p.video.pid, p.video.coding, p.video.present),
            [(x.component, x.pid, x.format, x.present) for x in p.audio],
        )
        for p in report.programs
    ]


def test_two_programs_each_with_video_and_audio():
    two = {k: THREE[k] for k in (1, 2)}
    x = analyse(*make_mpts(two), 2_000 * MS)[-1]
    assert summary(x) == [
        (1, 0x1000, (0x100, VideoCoding.H264, True), [(1, 0x101, AudioFormat.AAC_ADTS, True)]),
        (
            2,
            0x1010,
            (0x200, VideoCoding.MPEG2, True),
            [(1, 0x201, AudioFormat.MPEG1, True), (2, 0x202, AudioFormat.AC3, True)],
        ),
    ]
    # the selected program's fields are the first program's, as before
    assert x.program.program_number == 1 and x.video.pid == 0x100
    assert [a.pid for a in x.audio] == [0x101]
    assert x.programs[0].video == x.video and x.programs[0].audio == x.audio
    # each program's video rate is its PID's
    assert x.programs[1].video.bitrate_bps == pytest.approx(x.pid_bitrate_bps[0x200])
    assert x.programs[1].video.bitrate_bps > 0
    # every program's PIDs have a presence
    assert {0x100, 0x101, 0x200, 0x201, 0x202} <= set(x.pid_present)


def test_three_programs_in_pat_order_and_the_configured_one_selected():
    x = analyse(*make_mpts(THREE), 2_000 * MS, program_number=2)[-1]
    assert [p.program_number for p in x.programs] == [1, 2, 5]
    assert x.programs[2].video.coding == VideoCoding.HEVC and x.programs[2].audio == ()
    assert x.program.program_number == 2
    assert x.video.pid == 0x200 and [a.pid for a in x.audio] == [0x201, 0x202]
    assert x.programs[1].video == x.video


def test_a_program_removed_from_the_pat_goes_from_the_reports():
    two = {k: THREE[k] for k in (1, 2)}
    r = analyse(*make_mpts(THREE, n=3000, switch_at=1500, later=(two, None, None)), 3_000 * MS)
    assert [p.program_number for p in r[0].programs] == [1, 2, 5]
    assert [p.program_number for p in r[2].programs] == [1, 2]
    assert 0x300 not in r[2].pid_present


def test_a_pmt_change_shows_in_its_program():
    two = {k: THREE[k] for k in (1, 2)}
    changed = dict(two)
    changed[2] = (0x1010, (0x1B, 0x200), [(0x0F, 0x202)])  # new version: H.264, one AAC
    pmts = {1: pmt_of(1, two[1]), 2: pmt_of(2, changed[2], version=1)}
    r = analyse(
        *make_mpts(two, n=3000, switch_at=1500, later=(changed, None, pmts)), 3_000 * MS
    )
    assert r[0].programs[1].info.version == 0
    p2 = r[2].programs[1]
    assert p2.info.version == 1
    assert p2.video.coding == VideoCoding.H264
    assert [(a.component, a.pid, a.format) for a in p2.audio] == [
        (1, 0x202, AudioFormat.AAC_ADTS)
    ]
    assert r[2].programs[0].info == r[0].programs[0].info  # the other program unchanged


def test_programs_sharing_one_pmt_pid():
    shared = {1: (0x1000, (0x1B, 0x100), []), 2: (0x1000, (0x02, 0x200), [])}
    x = analyse(*make_mpts(shared), 2_000 * MS)[-1]
    assert [(p.program_number, p.info.pmt_pid, p.video.pid) for p in x.programs] == [
        (1, 0x1000, 0x100),
        (2, 0x1000, 0x200),
    ]


def test_single_program_stream_reports_one_program():
    one = {1: THREE[1]}
    x = analyse(*make_mpts(one), 2_000 * MS)[-1]
    assert len(x.programs) == 1 and x.programs[0].video == x.video


def test_tracker_keeps_its_state_on_a_pat_without_programs_or_the_wanted_one():
    t = ProgramTracker(program_number=2)
    errors = [0] * 16
    pat = pat_section({1: 0x1000, 2: 0x1010})
    (pkt,) = section_packets(0, pat)
    assert t.feed(0, pkt[4:], True, 0, errors) is True
    assert t.psi_pids == (0, 0x1000, 0x1010) and t.pmt_pid == 0x1010
    (pkt,) = section_packets(0, pat_section({1: 0x1000}, version=1), cc=1)
    assert t.feed(0, pkt[4:], True, 1, errors) is False  # the wanted one is not listed
    assert t.psi_pids == (0, 0x1000, 0x1010)
    assert not any(errors)


MPTS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "mpts" / "two_programs.ts"


def test_ffmpeg_mpts_every_program_has_its_video_format_and_audio():
    plan = g.Plan(MPTS_FILE.read_bytes(), g.PlanConfig(loops=2, seed=1, rate_scale=4.0))
    pay, arr = [], []
    for dg in plan:
        pay.append(dg.payload)
        arr.append(dg.departure_ns)
    end = arr[-1] + 1_000_000_000
    cfg = AnalyzerConfig(interval_s=0.25)
    whole = StreamAnalyzer(cfg)
    whole.feed_batch(PacketBatch.from_payloads(pay, arr))
    whole.close_until(end)
    one = StreamAnalyzer(cfg)
    for p, t in zip(pay, arr, strict=True):
        one.feed(p, t)
    one.close_until(end)
    reports = whole.pop_reports()
    assert [r.programs for r in reports] == [r.programs for r in one.pop_reports()]
    x = next(r for r in reports if len(r.programs) == 2 and r.programs[1].video.format)
    p1, p2 = x.programs
    assert (p1.program_number, p1.info.pmt_pid, p2.program_number, p2.info.pmt_pid) == (
        1, 0x1000, 2, 0x1001,
    )
    assert p1.video.coding == VideoCoding.H264 and p2.video.coding == VideoCoding.MPEG2
    assert (p1.video.format.width, p1.video.format.height) == (320, 240)
    assert (p2.video.format.width, p2.video.format.height) == (352, 288)
    assert [(a.pid, a.format) for a in p1.audio] == [(0x101, AudioFormat.AAC_ADTS)]
    assert [(a.pid, a.format) for a in p2.audio] == [(0x201, AudioFormat.MPEG1)]
    assert p1.video.present and p2.video.present and p2.audio[0].present
    assert x.video == p1.video  # the selected (first) program's
