"""The TR 101 290 checks' kernels (tr_scan, psi_repeats, gap_scan, rare_events in _kernels.c) give
exactly what their Python references give, on crafted and recorded inputs, and the checks'
outcomes over whole recorded streams are the same with the kernels and without."""

from __future__ import annotations

import random

import numpy as np
import pytest
from iec62379.collectors.core import fast
from iec62379.collectors.core.rare import rare_events_reference
from iec62379.collectors.core.tr101290_psipass import psi_repeats_reference
from iec62379.collectors.core.tr101290_watch import gap_scan_reference, scan_reference
from iec62379.collectors.core.ts import HEAD_BYTES, parse_ts_headers
from test_native_kernels import (
    MEDIA,
    NAMES,
    _both,
    _damaged_ts,
    fed_in_odd_calls,
    header_damaged,
)

BUILT = fast.kernels
pytestmark = pytest.mark.skipif(BUILT is None, reason="the C extension is not built")


def _packets(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.frombuffer((MEDIA / name).read_bytes(), dtype=np.uint8)
    starts = np.arange(0, data.size - 187, 188, dtype=np.int64)
    return data, starts, parse_ts_headers(data, starts).pid


def _same(a: tuple, b: tuple) -> None:
    assert a[0] == b[0]
    for x, y in zip(a[1:], b[1:], strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_psi_repeats_on_recorded_streams(name: str) -> None:
    """The recorded PSI packets (PIDs 0, 1, 0x10-0x14 and the PMTs), as they are and with
    copies altered: one byte anywhere but the PID's low byte and the counter breaks a repeat."""
    data, starts, pid = _packets(name)
    psi_pids = [0, 1, *range(0x10, 0x15)]
    pmts = [int(p) for p in np.unique(pid) if 0x20 <= p < 0x1FFF][:6]
    at = np.flatnonzero(np.isin(pid, psi_pids + pmts)).astype(np.int64)
    assert at.size > 10
    got = fast.psi_repeats(data, starts, at, pid)
    want = psi_repeats_reference(data, starts, at, pid)
    assert got.dtype == want.dtype == np.bool_ and np.array_equal(got, want)
    assert got.any() and not got.all()
    rnd = random.Random(len(name))
    changed = bytearray(data.tobytes())
    for i in rnd.sample(at.tolist(), min(40, at.size)):
        k = rnd.choice([1, 3, *range(4, 188)])
        changed[i * 188 + k] ^= 0x10 if k == 3 else 1 << rnd.randrange(8)
    d2 = np.frombuffer(bytes(changed), dtype=np.uint8)
    got2 = fast.psi_repeats(d2, starts, at, pid)
    assert np.array_equal(got2, psi_repeats_reference(d2, starts, at, pid))
    assert got2.sum() < got.sum()


@pytest.mark.parametrize("seed", range(8))
def test_psi_repeats_on_crafted_packets(seed: int) -> None:
    """Few distinct packets on a few PIDs in random order, the counter and byte 2 changing."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 256, (4, 188), dtype=np.uint8)
    n = 400
    rows = kinds[rng.integers(0, 4, n)].copy()
    rows[:, 3] = (rows[:, 3] & 0xF0) | rng.integers(0, 16, n, dtype=np.uint8)
    rows[:, 2] = rng.integers(0, 256, n, dtype=np.uint8)
    data = rows.reshape(-1)
    starts = np.arange(n, dtype=np.int64) * 188
    pid = rng.integers(0, 3, n).astype(np.uint16) * 0x800
    at = np.flatnonzero(rng.random(n) < 0.7).astype(np.int64)
    got = fast.psi_repeats(data, starts, at, pid)
    assert np.array_equal(got, psi_repeats_reference(data, starts, at, pid))
    empty = np.zeros(0, dtype=np.int64)
    assert fast.psi_repeats(data, starts, empty, pid).shape == (0,)


def test_psi_repeats_refuses_bad_positions() -> None:
    data = np.zeros(188 * 3, dtype=np.uint8)
    starts = np.array([0, 188, 376], dtype=np.int64)
    pid = np.zeros(3, dtype=np.uint16)
    eq = np.zeros(3, dtype=bool)
    for at, err in (([2, 1], IndexError), ([0, 3], IndexError), ([-1], IndexError)):
        a = np.asarray(at, dtype=np.int64)
        with pytest.raises(err):
            BUILT.psi_repeats(data, starts, a, pid, a.size, eq)
    with pytest.raises(IndexError):  # a start too near the end of the data
        BUILT.psi_repeats(data, np.array([0, 188, 400], np.int64), np.array([2], np.int64), pid,
                          1, eq)
    with pytest.raises(ValueError):
        BUILT.psi_repeats(data, starts, np.zeros(2, np.int64), pid, 5, eq)
    with pytest.raises(ValueError):
        BUILT.psi_repeats(data, starts, np.zeros(2, np.int64), pid, -1, eq)


@pytest.mark.parametrize("seed", range(10))
def test_gap_scan_on_crafted_packets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    pid = rng.choice([0, 0x100, 0x101, 0x102, 0x1FFF], n).astype(np.uint16)
    t = np.cumsum(rng.choice([1, 2, 50, 400, 5000], n, p=[0.5, 0.3, 0.1, 0.07, 0.03])).astype(
        np.int64
    ) - int(rng.integers(0, 10**6))
    err = (rng.random(n) < 0.05).astype(np.uint8) * 3
    lut = np.zeros(8192, dtype=np.uint8)
    lut[[0x100, 0x101]] = 4
    lut[0x102] = 2
    lut[0x1FFF] = 6
    at = np.flatnonzero(rng.random(n) < 0.3).astype(np.int64)
    for e in (None, err):
        for a in (None, at):
            for flag, limit in ((4, 1000), (2, 10), (6, 0), (1, 100)):
                got = fast.gap_scan(pid, t, e, lut, flag, a, limit)
                want = gap_scan_reference(pid, t, e, lut, flag, a, limit)
                _same(got, want)
    if n > 100:
        seen = fast.gap_scan(pid, t, None, lut, 4, None, 1000)
        assert seen[0] == [0x100, 0x101, 0x1FFF] and seen[3].size > 0


@pytest.mark.parametrize("name", NAMES)
def test_gap_scan_on_recorded_streams(name: str) -> None:
    data, starts, pid = _packets(name)
    n = pid.size
    t = (np.arange(n, dtype=np.int64) * 37_000) // 7
    t[n // 2 :] += 3_000_000_000  # a silence of 3 s in the middle
    lut = np.zeros(8192, dtype=np.uint8)
    present = np.unique(pid)
    lut[present[present < 0x1FFF]] = 4
    pusi = np.flatnonzero(parse_ts_headers(data, starts).pusi).astype(np.int64)
    for a, limit in ((None, 500_000_000), (pusi, 100_000_000)):
        _same(fast.gap_scan(pid, t, None, lut, 4, a, limit),
              gap_scan_reference(pid, t, None, lut, 4, a, limit))


def test_gap_scan_refuses_bad_input() -> None:
    pid = np.zeros(4, dtype=np.uint16)
    t = np.arange(4, dtype=np.int64)
    lut = np.zeros(8192, dtype=np.uint8)
    outs = [np.zeros(8192, np.uint8), np.zeros(8192, np.int64), np.zeros(8192, np.int64)]
    g = [np.zeros(8, np.int64) for _ in range(3)]
    with pytest.raises(IndexError):
        BUILT.gap_scan(pid, t, None, lut, 1, np.array([1, 0], np.int64), 2, 5, *outs, *g)
    with pytest.raises(IndexError):
        BUILT.gap_scan(pid, t, None, lut, 1, np.array([9], np.int64), 1, 5, *outs, *g)
    with pytest.raises(ValueError):
        BUILT.gap_scan(pid, t, None, lut, 1, None, 8, 5, *outs, *g)  # more packets than PIDs
    with pytest.raises(ValueError):
        BUILT.gap_scan(pid, t, None, np.zeros(10, np.uint8), 1, None, 4, 5, *outs, *g)
    with pytest.raises(ValueError):
        BUILT.gap_scan(pid, t, None, lut, 1, None, -1, 5, *outs, *g)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", [False, True])
def test_checks_outcomes_with_and_without_kernels(
    monkeypatch: pytest.MonkeyPatch, name: str, damage: bool
) -> None:
    """Whole recorded streams (losses, reordering, damaged headers) in calls of every size:
    every TR 101 290 outcome the same with the kernels and without."""
    pay, arr = header_damaged(name, 3, 11, damage)

    def run():
        return [(r.index, r.tr101290) for r in fed_in_odd_calls(pay, arr).pop_reports()]

    a, b = _both(monkeypatch, run)
    assert len(a) > 5 and all(len(x[1]) == 13 for x in a)
    assert a == b


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", [False, True])
def test_tr_scan_on_recorded_streams(name: str, damage: bool) -> None:
    """The PSI, PES start, PCR and scrambled packets of recorded streams (with header damage
    and scrambling bits set on some), from any position on, with copied heads."""
    if damage:
        data = _damaged_ts(name, seed=3).copy()
    else:
        data = np.frombuffer((MEDIA / name).read_bytes(), dtype=np.uint8).copy()
    starts = np.arange(0, data.size - 187, 188, dtype=np.int64)
    rng = np.random.default_rng(len(name))
    scr = rng.choice(starts, starts.size // 30, replace=False)
    data[scr + 3] |= rng.choice([0x40, 0x80, 0xC0], scr.size).astype(np.uint8)
    h = parse_ts_headers(data, starts)
    heads = data[starts[:, None] + np.arange(HEAD_BYTES)].reshape(-1)
    hstarts = np.arange(starts.size, dtype=np.int64) * HEAD_BYTES
    kept = starts.copy()
    kept[rng.random(starts.size) < 0.2] = -1  # (packets whose bytes were not kept)
    psi_lut = np.zeros(8192, dtype=bool)
    psi_lut[[0, 1, 0x11, *np.unique(h.pid)[1:3].tolist()]] = True
    lut = np.zeros(8192, dtype=np.uint8)
    lut[np.unique(h.pid)[:-1]] = 2
    err = h.error if h.error.any() else None
    assert damage == (err is not None)
    for begin in (0, 1, starts.size // 2, starts.size):
        for what in (15, 1, 2, 4, 8, 6):
            got = fast.tr_scan(h, err, heads, hstarts, kept, psi_lut, lut, 2, begin, what)
            want = scan_reference(h, err, heads, hstarts, kept, psi_lut, lut, 2, begin, what)
            for x, y in zip(got, want, strict=True):
                assert x.dtype == y.dtype == np.int64 and np.array_equal(x, y)
            if begin == 0 and what == 15:
                assert all(x.size for x in got)


def test_tr_scan_refuses_bad_input() -> None:
    n = 4
    pid = np.zeros(n, dtype=np.uint16)
    flags = np.zeros(n, dtype=bool)
    heads = np.zeros(n * 12, dtype=np.uint8)
    hst = np.arange(n, dtype=np.int64) * 12
    lut = np.zeros(8192, dtype=np.uint8)
    o = [np.zeros(n, np.int64) for _ in range(5)]

    def call(*, begin=0, count=n, hs=hst, lut_=lut, err=None, pcr=flags):
        return BUILT.tr_scan(pid, err, flags, pcr, heads, hs, hst, lut_, lut, 2, begin, count,
                             15, *o)

    assert call() == (0, 0, 0, 0)
    with pytest.raises(ValueError):
        call(begin=5)
    with pytest.raises(ValueError):
        call(begin=-1)
    with pytest.raises(ValueError):
        call(count=9)  # more packets than the arrays hold
    with pytest.raises(ValueError):
        call(lut_=np.zeros(10, np.uint8))
    with pytest.raises(ValueError):
        call(err=np.zeros(2, np.uint8))
    with pytest.raises(IndexError):
        call(hs=np.array([0, 12, 24, 46], np.int64))  # a head past the end of hdata
    with pytest.raises(IndexError):  # a PCR whose head is cut short
        call(hs=np.array([0, 12, 24, 40], np.int64), pcr=np.array([0, 0, 0, 1], bool))
    heads[6:12] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  # the largest PCR
    assert call(pcr=np.array([1, 0, 0, 0], bool))[2] == 1
    assert o[4][0] == ((1 << 33) - 1) * 300 + 511


@pytest.mark.parametrize("seed", range(4))
def test_rare_events_on_crafted_packets(seed: int) -> None:
    """The positions of the PSI and probed packets: every PID, a few PSI PIDs, a probed PID
    (its payload unit starts or all its packets) or none, from any position to any end."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(0, 400))
        pid = rng.integers(0, 8192, n).astype(np.uint16)
        few = rng.random(n) < 0.6
        pid[few] = rng.integers(0, 40, int(few.sum()))
        pusi = rng.random(n) < 0.3
        lut = np.zeros(8192, dtype=bool)
        lut[rng.integers(0, 40, int(rng.integers(0, 6)))] = True
        pos = int(rng.integers(0, n + 1))
        end = int(rng.integers(pos, n + 1))
        probe, every = int(rng.integers(-1, 40)), bool(rng.integers(0, 2))
        got = fast.rare_events(pid, pusi, pos, end, lut, probe, every)
        want = rare_events_reference(pid, pusi, pos, end, lut, probe, every)
        assert got.dtype == want.dtype == np.int64 and np.array_equal(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_rare_events_on_recorded_streams(name: str) -> None:
    data, starts, pid = _packets(name)
    pusi = parse_ts_headers(data, starts).pusi
    lut = np.zeros(8192, dtype=bool)
    lut[[0, 1, 0x10, 0x11]] = True
    lut[np.unique(pid)[:3]] = True
    for probe in (-1, int(pid[len(pid) // 2])):
        for every in (False, True):
            got = fast.rare_events(pid, pusi, 7, pid.size, lut, probe, every)
            want = rare_events_reference(pid, pusi, 7, pid.size, lut, probe, every)
            assert got.size and np.array_equal(got, want)


def test_rare_events_refuses_bad_input() -> None:
    pid = np.zeros(4, dtype=np.uint16)
    pusi = np.zeros(4, dtype=bool)
    lut = np.zeros(8192, dtype=bool)
    out = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError):
        BUILT.rare_events(pid, pusi, 0, 8, lut, -1, False, np.zeros(8, np.int64))  # short pid
    with pytest.raises(ValueError):
        BUILT.rare_events(pid, pusi, 3, 2, lut, -1, False, out)  # not a range
    with pytest.raises(ValueError):
        BUILT.rare_events(pid, pusi, -1, 4, lut, -1, False, out)
    with pytest.raises(ValueError):
        BUILT.rare_events(pid, pusi, 0, 4, np.zeros(10, bool), -1, False, out)  # short lut
    with pytest.raises(ValueError):
        BUILT.rare_events(pid, pusi, 0, 4, lut, -1, False, np.zeros(2, np.int64))  # short out
    with pytest.raises(BufferError):
        BUILT.rare_events(pid, pusi, 0, 4, lut, -1, False, b"12345678" * 4)  # not writable
    with pytest.raises(TypeError):
        BUILT.rare_events("pid", pusi, 0, 4, lut, -1, False, out)
    # (the wrapper: other dtypes and ranges go to the reference, which gives the same)
    lut[0] = True
    assert np.array_equal(fast.rare_events(pid.astype(np.int64), pusi, 1, 4, lut, -1, False),
                          np.array([1, 2, 3]))
    assert fast.rare_events(pid, pusi, 3, 9, lut, -1, False).tolist() == [3]
