import numpy as np
import pytest
from iec62379.collectors.core.bitrate import BitRateType, RateClassifier
from iec62379.collectors.core.buffer import PlayoutBuffer
from iec62379.collectors.core.cc import ContinuityChecker
from iec62379.collectors.core.chunks import rtp_rows_reference
from iec62379.collectors.core.mdi import PcrRateMeter, delay_factor_ms
from iec62379.collectors.core.seq import SeqResult, SequenceTracker
from iec62379.collectors.core.ts import PCR_MODULUS
from iec62379.collectors.core.tsdf import TsdfMeter


def seq_counts(seqs, splits=()):
    t = SequenceTracker()
    parts = np.split(np.array(seqs), list(splits))
    gap = late = dup = restarts = 0
    for p in parts:
        if p.size:
            r = t.process(p)
            gap += int(r.gap.sum())
            late += int(r.late.sum())
            dup += int(r.dup.sum())
            restarts += r.restarts
    return gap, late, dup, restarts


@pytest.mark.parametrize("splits", [(), (1,), (2, 3), (1, 2, 3, 4, 5, 6)])
def test_seq_loss_reorder_dup(splits):
    # 10 11 [12 lost] 13 15 14 14 16: 12 missing, 14 late (reordered), second 14 duplicate
    assert seq_counts([10, 11, 13, 15, 14, 14, 16], splits) == (2, 1, 1, 0)


def test_seq_wrap():
    assert seq_counts([65533, 65534, 65535, 0, 2, 3]) == (1, 0, 0, 0)
    assert seq_counts([65535, 1, 0]) == (1, 1, 0, 0)


def test_seq_restart():
    assert seq_counts([5000, 5001, 100, 101]) == (0, 0, 0, 1)


@pytest.mark.parametrize("splits", [(), (1000,), (1001,), (999, 1000, 1001, 1002)])
def test_seq_restart_with_the_same_numbers(splits):
    """A sender restarted with the same SSRC and numbers (RFC 3550 A.1 probation): the packet
    far behind is counted as the duplicate it looks like; the one that follows it restarts
    the tracking, and the rest are neither duplicates nor late."""
    run = list(range(100, 1100))
    assert seq_counts(run + run, splits) == (0, 0, 1, 1)


def test_seq_far_late_packet_alone_is_not_a_restart():
    # 600 comes late, more than REORDER_WINDOW behind, but the next packet does not follow it
    assert seq_counts([*range(600), *range(601, 1000), 600, 1000, 1001]) == (1, 1, 0, 0)
    # within the window, late packets that follow each other are late, not a restart
    assert seq_counts([*range(950), *range(952, 1000), 950, 951, 1000]) == (2, 2, 0, 0)


def _seq_stream(rng: np.random.Generator, n: int) -> np.ndarray:
    """RTP sequence numbers with runs in order, losses, duplicates (also 65,536 numbers
    later: the same key), reordering, wraps and the odd restart."""
    out, s = [], int(rng.integers(0, 65536))
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            run = int(rng.integers(1, 3000))
            out.extend((s + np.arange(run)) & 0xFFFF)
            s += run
        elif r < 0.75:
            s += int(rng.integers(1, 50))  # loss
        elif r < 0.85 and out:
            out.append(out[-int(rng.integers(1, min(len(out), 40) + 1))])  # dup / late
        elif r < 0.9 and len(out) > 2:
            out[-1], out[-2] = out[-2], out[-1]
        elif r < 0.93:
            s += 65536 * int(rng.integers(1, 3))  # a whole cycle later: same 16-bit values
        elif r < 0.95:
            s -= int(rng.integers(4000, 30000))  # far behind: a restart
        elif r < 0.96:
            s -= int(rng.integers(101, 3000))  # the same numbers again: a restart on probation
        else:
            out.append(s & 0xFFFF)
    return np.array(out[:n], dtype=np.int64)


@pytest.mark.parametrize("seed", range(8))
def test_seq_calls_of_any_size_agree(seed):
    """The tracker gives the same per-packet results (and state) whatever the calls' sizes:
    one packet at a time, random pieces, one call (runs over 65,536 numbers included)."""
    rng = np.random.default_rng(seed)
    seqs = _seq_stream(rng, 150_000)

    def run(cuts):
        t = SequenceTracker()
        gap, late, dup, restarts = [], [], [], 0
        for part in np.split(seqs, cuts):
            if part.size:
                r = t.process(part)
                gap += r.gap.tolist()
                late += r.late.tolist()
                dup += r.dup.tolist()
                restarts += r.restarts
        return gap, late, dup, restarts, t.ext_max, t.seen.copy()

    whole = run([])
    pieces = run(np.sort(rng.choice(seqs.size, 400, replace=False)))
    first = 3000  # one at a time is slow: the first packets, against the whole call's
    single = SequenceTracker()
    got = [single.process(seqs[i : i + 1]) for i in range(first)]
    assert [int(r.gap[0]) for r in got] == whole[0][:first]
    assert [bool(r.dup[0]) for r in got] == whole[2][:first]
    assert whole[:5] == pieces[:5]
    assert np.array_equal(whole[5], pieces[5])
    assert sum(whole[2]) > 10 and sum(whole[1]) >= 3 and whole[3] > 0


def cc_run(packets, splits=()):
    """packets: (pid, cc, has_payload, discontinuity)."""
    c = ContinuityChecker()
    arr = np.array(packets, dtype=np.int64)
    errors = lost = 0
    for part in np.split(arr, list(splits)):
        if part.size:
            r = c.process(part[:, 0], part[:, 1], part[:, 2] != 0, part[:, 3] != 0)
            errors += r.errors
            lost += r.lost
    return errors, lost


@pytest.mark.parametrize("splits", [(), (1,), (3,), (1, 2, 3, 4)])
def test_cc_duplicate_once_is_legal(splits):
    assert cc_run([(1, 5, 1, 0), (1, 5, 1, 0), (1, 6, 1, 0)], splits) == (0, 0)
    assert cc_run([(1, 5, 1, 0), (1, 5, 1, 0), (1, 5, 1, 0), (1, 6, 1, 0)], splits) == (1, 0)


def test_cc_gap_discontinuity_and_no_payload():
    assert cc_run([(1, 5, 1, 0), (1, 8, 1, 0)]) == (1, 2)
    assert cc_run([(1, 5, 1, 0), (1, 8, 1, 1)]) == (0, 0)
    assert cc_run([(1, 5, 1, 0), (1, 5, 0, 0), (1, 5, 0, 0), (1, 6, 1, 0)]) == (0, 0)
    assert cc_run([(1, 15, 1, 0), (1, 0, 1, 0), (0x1FFF, 3, 1, 0), (0x1FFF, 9, 1, 0)]) == (0, 0)
    # interleaved PIDs are checked separately
    assert cc_run([(1, 0, 1, 0), (2, 7, 1, 0), (1, 1, 1, 0), (2, 9, 1, 0)]) == (1, 1)


def test_delay_factor_hand_computed():
    rate = 1_000_000.0  # bit/s = 125 bytes/ms
    # 3 packets of 125 bytes at 0, 1 ms, 3 ms: VB pre 0, 0, -125; post 125, 125, 0
    arr = np.array([0, 1_000_000, 3_000_000])
    assert delay_factor_ms(arr, np.array([125, 125, 125]), rate) == pytest.approx(2.0)
    # a burst: all three at t=0 -> VB 0..375 bytes = 3 ms
    assert delay_factor_ms(np.zeros(3, np.int64), np.array([125] * 3), rate) == pytest.approx(3.0)


def _tsdf_feed(m: TsdfMeter, arrival: list[int], ts: list[int]) -> None:
    """Packets into the meter's period as the analyzer adds them (one chunk, no losses)."""
    n = len(arrival)
    none = np.zeros(n, dtype=bool)
    res = SeqResult(np.zeros(n, dtype=np.int64), none, none, 0, [])
    rows, _ = rtp_rows_reference(
        np.arange(n), np.array([0, n]), res, np.full(n, 7), np.array(arrival, dtype=np.int64),
        np.array(ts, dtype=np.int64), 7, 7, m, m.ref_r is not None,
    )
    cnt, *_, ref_r, ref_s, dmin, dmax = rows[0]
    m.add_chunk(ref_r, ref_s, dmin, dmax, cnt)


def test_tsdf_hand_computed():
    m = TsdfMeter(90_000)
    # RTP timestamps 1 ms apart (90 ticks), arrivals 0, 1.5, 2, 3.2 ms: D = 0, .5, 0, .2 ms
    _tsdf_feed(m, [0, 1_500_000], [2**32 - 90, 0])
    _tsdf_feed(m, [2_000_000, 3_200_000], [90, 180])
    assert m.value_us() == 500
    m.start_period()
    assert m.value_us() is None


def _pcr_add(p: PcrRateMeter, index: int, pcr: int, disc: bool) -> None:
    pairs = p.pairs(np.array([0]), np.array([index]), np.array([pcr]), np.array([disc]))
    p.take(pairs, 1)


def test_pcr_rate():
    p = PcrRateMeter()
    p.set_pid(0x100)
    _pcr_add(p, 0, 0, False)
    _pcr_add(p, 100, 27_000_000 // 100, False)  # 100 packets in 10 ms
    assert p.take_interval() == pytest.approx(100 * 188 * 8 * 100)
    _pcr_add(p, 150, 27_000_000 // 100 + 10, True)  # discontinuity: no pair
    assert p.take_interval() is None and p.last_rate is not None


class _OnePcrAtATime:
    """The PCR rate rule (ISO/IEC 13818-1 2.4.2.2) one PCR at a time, as the test's oracle."""

    def __init__(self) -> None:
        self.last_index: int | None = None
        self.last_pcr = self.bytes = self.ticks = 0

    def add(self, index: int, pcr: int, disc: bool) -> None:
        if self.last_index is not None and not disc:
            delta = (pcr - self.last_pcr) % PCR_MODULUS
            if 0 < delta <= 27_000_000 and index > self.last_index:
                self.bytes += (index - self.last_index) * 188
                self.ticks += delta
        self.last_index, self.last_pcr = index, pcr

    def take_interval(self) -> float | None:
        rate = self.bytes * 8 * 27_000_000 / self.ticks if self.ticks > 0 else None
        self.bytes = self.ticks = 0
        return rate


def test_pcr_pairs_taken_in_pieces_equal_add():
    """PcrRateMeter.pairs + take, in random pieces with intervals taken between them, change
    the meter as adding each PCR in turn does: pairs across a discontinuity, with a delta of 0
    or over 1 s, or going back are skipped; the PCR wraps at 2^33 * 300."""
    rng = np.random.default_rng(3)
    for trial in range(40):
        m = int(rng.integers(0, 60))
        index = np.cumsum(rng.integers(0, 40, m)).astype(np.int64) + 7
        step = rng.choice([0, 1, 270_000, 540_000, 26_999_999, 27_000_001, -5], m)
        pcr = (np.cumsum(step) + PCR_MODULUS - 3_000_000) % PCR_MODULUS
        disc = rng.random(m) < 0.1
        at = np.sort(rng.choice(10_000, m, replace=False)).astype(np.int64)
        a, b = _OnePcrAtATime(), PcrRateMeter()
        if trial % 2:  # a meter with a PCR already
            a.add(3, int(pcr[0]) if m else 0, False)
            _pcr_add(b, 3, int(pcr[0]) if m else 0, False)
        pairs = b.pairs(at, index, pcr, disc)
        cuts = sorted(rng.integers(0, 10_001, 5).tolist()) + [10_001]
        done = 0
        for cut in cuts:
            while done < m and at[done] < cut:
                a.add(int(index[done]), int(pcr[done]), bool(disc[done]))
                done += 1
            b.take(pairs, cut)
            assert (a.bytes, a.ticks, a.last_index, a.last_pcr) == (
                b.bytes,
                b.ticks,
                b.last_index,
                b.last_pcr,
            )
            assert a.take_interval() == b.take_interval()


def test_rate_classifier():
    c = RateClassifier(window=5, tolerance=0.02)
    assert c.add(1e6) == BitRateType.UNSPECIFIED
    assert c.add(1e6, null_packets=True) == BitRateType.CBR
    assert c.add(1.01e6) == BitRateType.CBR
    assert c.add(2e6) == BitRateType.VBR
    assert c.maximum == 2e6


def test_buffer_fills_to_half_then_drains():
    b = PlayoutBuffer(100.0)  # 100 ms at 1 Mbit/s = 12500 bytes, half = 6250
    rate = 1e6
    t = np.arange(50, dtype=np.int64) * 1_000_000  # 125 bytes every ms: exactly the rate
    b.run(t, np.full(50, 125), rate, 50_000_000)
    assert b.playing and b.occupancy_ms(rate) == pytest.approx(49.0)
    assert b.occupancy_percent(rate) == 49
    b.run(np.zeros(0, np.int64), np.zeros(0, np.int64), rate, 150_000_000)  # stream stops
    assert not b.playing and b.underflows == 1 and b.occupancy_percent(rate) == 1


def test_buffer_overflow_clamps_to_size():
    b = PlayoutBuffer(10.0)  # 1250 bytes at 1 Mbit/s
    b.run(np.zeros(20, np.int64), np.full(20, 1000), 1e6, 0)
    assert b.level == pytest.approx(1250) and b.overflows >= 1
    assert b.occupancy_percent(1e6) == 100


@pytest.mark.parametrize("window", [3, 7, 8, 10, 17, 40])
def test_rate_classes_as_numpy(window: int) -> None:
    """RateClassifier's plain-Python mean and deviation equal numpy's mean() and std() to the
    bit, so its classes are numpy's, on random, constant, zero and nearly constant rates."""
    from collections import deque

    from iec62379.collectors.core.bitrate import RateClassifier

    rng = np.random.default_rng(window)
    rates = np.concatenate(
        [
            rng.uniform(1e6, 2e7, 50),
            np.full(15, 5e6),
            np.zeros(12),
            5e6 * (1 + rng.normal(0, 0.02, 60)),  # near the 2 % tolerance
        ]
    ).tolist()
    c = RateClassifier(window, 0.02)
    win: deque[float] = deque(maxlen=window)
    got, want = [], []
    for i, r in enumerate(rates):
        null = i % 23 == 0
        got.append(c.add(r, null_packets=null))
        win.append(r)
        a = np.array(win)
        if null:
            want.append(BitRateType.CBR)
        elif len(win) < 3 or a.mean() <= 0:
            want.append(BitRateType.UNSPECIFIED)
        else:
            cv = float(a.std()) / float(a.mean())
            want.append(BitRateType.CBR if cv <= 0.02 else BitRateType.VBR)
    assert got == want
    assert len(set(got)) == 3


def test_rate_classifier_hysteresis_keeps_a_steady_stream_in_one_class():
    # steady streams whose interval rates vary by about the 2 % tolerance (GOP structure):
    # without hysteresis the class flips from interval to interval, with it it stays CBR
    # (one of the ten starts with a pair of rates 4.9 % apart: VBR, then CBR for good)
    flips_plain, flips_stable = [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        rates = (2.36e6 * (1 + rng.normal(0, 0.02, 200))).tolist()
        plain = RateClassifier(10, 0.02)
        stable = RateClassifier(10, 0.02, min_intervals=1, hysteresis=2.0)
        a = [plain.add(r) for r in rates][3:]
        b = [stable.add(r) for r in rates]
        flips_plain.append(sum(x != y for x, y in zip(a[:-1], a[1:], strict=True)))
        flips_stable.append(sum(x != y for x, y in zip(b[:-1], b[1:], strict=True)))
        assert b[-150:] == [BitRateType.CBR] * 150
        assert stable.mean == pytest.approx(np.mean(rates[-10:]))
    assert min(flips_plain) > 10 and sum(flips_stable) <= 2
    # a real change still shows: the rate doubles every other interval -> VBR, and back
    for r in [2e6, 4e6] * 5:
        t = stable.add(r)
    assert t is BitRateType.VBR
    for _ in range(10):
        t = stable.add(3e6)
    assert t is BitRateType.CBR


def test_rate_classifier_hysteresis_bands():
    c = RateClassifier(2, 0.02, min_intervals=1, hysteresis=2.0)
    assert c.add(100.0) is BitRateType.CBR  # one rate: no variation yet
    assert c.add(106.0) is BitRateType.CBR  # CV 2.9 %: inside the 4 % band of a CBR stream
    assert c.add(116.0) is BitRateType.VBR  # CV 4.5 %
    assert c.add(121.0) is BitRateType.VBR  # CV 2.1 %: a VBR stream needs <= 2 %
    assert c.add(125.0) is BitRateType.CBR  # CV 1.6 %
