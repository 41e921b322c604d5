"""The compiled kernels (collectors/core/_kernels.c) give exactly what the numpy code gives.

Each test runs the same work twice, with ``native.kernels`` as built and set to None (the
numpy fallback), and compares the results exactly: TS header parsing and the continuity check
on the media fixtures with impairments and bit errors, whole analyzer reports, and the pcap
reader on every pcap fixture, large files and damaged files (same faults, same messages).
Skipped when the extension is not built (no C compiler or Python headers at install).
"""

from __future__ import annotations

import importlib.util
import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from iec62379.collectors.core import cc as cc_mod
from iec62379.collectors.core import native
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.core.ts import parse_ts_headers
from iec62379.collectors.sources.pcap import read_pcap
from test_analyzer_real_streams import _comparable, _datagrams

BUILT = native.kernels
pytestmark = pytest.mark.skipif(BUILT is None, reason="the C extension is not built")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MEDIA = FIXTURES / "media"
PCAP_DIR = FIXTURES / "pcap"
NAMES = sorted(p.name for p in MEDIA.glob("*.ts"))


def _both(monkeypatch: pytest.MonkeyPatch, fn):
    """fn() with the kernels, then with numpy only."""
    monkeypatch.setattr(native, "kernels", BUILT)
    a = fn()
    monkeypatch.setattr(native, "kernels", None)
    b = fn()
    monkeypatch.setattr(native, "kernels", BUILT)
    return a, b


def _damaged_ts(name: str, seed: int) -> np.ndarray:
    """The fixture's TS packets with header damage: wrong sync bytes, TEI, afc 00, adaptation
    lengths too large, PCR flags on short adaptation fields, random header bytes."""
    data = bytearray((MEDIA / name).read_bytes())
    rnd = random.Random(seed)
    n = len(data) // 188
    for _ in range(max(50, n // 50)):
        at = rnd.randrange(n) * 188
        kind = rnd.randrange(6)
        if kind == 0:
            data[at] = rnd.randrange(256)
        elif kind == 1:
            data[at + 1] |= 0x80
        elif kind == 2:
            data[at + 3] &= 0xCF
        elif kind == 3:
            data[at + 3] |= 0x20
            data[at + 4] = rnd.choice((0, 1, 6, 182, 183, 184, 255))
            data[at + 5] = rnd.randrange(256)
        elif kind == 4:
            data[at + 3] = (data[at + 3] & 0x0F) | rnd.choice((0x20, 0x30))
            data[at + 4] = rnd.randrange(8)
            data[at + 5] = 0x10 | rnd.randrange(256)
        else:
            for k in range(1, 6):
                data[at + k] = rnd.randrange(256)
    return np.frombuffer(bytes(data), dtype=np.uint8)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", [False, True])
def test_ts_headers(monkeypatch: pytest.MonkeyPatch, name: str, damage: bool) -> None:
    if damage:
        data = _damaged_ts(name, seed=len(name))
    else:
        data = np.frombuffer((MEDIA / name).read_bytes(), dtype=np.uint8)
    starts = np.arange(0, data.size - 187, 188, dtype=np.int64)
    starts = starts[np.random.default_rng(1).permutation(starts.size)]  # any order

    def run():
        h = parse_ts_headers(data, starts)
        return {k: getattr(h, k) for k in h.__slots__}

    a, b = _both(monkeypatch, run)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key
    if damage:
        assert np.count_nonzero(a["error"]) > 10


@pytest.mark.parametrize("seed", range(6))
def test_continuity(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Several calls (state carried), losses, duplicates, repeated duplicates,
    discontinuities, packets without payload, the null PID."""
    rng = np.random.default_rng(seed)
    n = 20_000
    pid = rng.choice(np.array([0, 0x100, 0x101, 0x1FFF, 7000], dtype=np.uint16), n)
    cc = np.zeros(n, dtype=np.uint8)
    nxt = {}
    for i, p in enumerate(pid.tolist()):
        c = nxt.get(p, 0)
        r = rng.random()
        if r < 0.03:
            c = (c + int(rng.integers(1, 16))) % 16  # a jump
        elif r < 0.06:
            c = (c - 1) % 16  # a repeat
        cc[i] = c
        nxt[p] = (c + 1) % 16
    afc = rng.choice(np.array([1, 2, 3], dtype=np.uint8), n, p=[0.8, 0.05, 0.15])
    disc = rng.random(n) < 0.01
    cuts = [0, *sorted(rng.integers(0, n, 5).tolist()), n]

    def run():
        chk = cc_mod.ContinuityChecker()
        out = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            at, lost = chk.errors_at(pid[a:b], cc[a:b], afc[a:b], disc[a:b])
            out.append((at.tolist(), lost.tolist(), at.dtype, lost.dtype))
            bool_at, _ = cc_mod.ContinuityChecker().errors_at(
                pid[a:b], cc[a:b], (afc[a:b] & 1) != 0, disc[a:b]
            )
            out.append(bool_at.tolist())
        return out, chk.last_cc.tolist(), chk.last_dup.tolist()

    a, b = _both(monkeypatch, run)
    assert a == b
    assert sum(len(x[0]) for x in a[0][::2]) > 100


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", [False, True])
def test_analyzer_reports(monkeypatch: pytest.MonkeyPatch, name: str, damage: bool) -> None:
    pay, arr = _datagrams(name, seed=5, damage=damage)
    if damage:  # header damage too, in datagrams' TS packets
        rnd = random.Random(9)
        for i in rnd.sample(range(len(pay)), len(pay) // 40):
            b = bytearray(pay[i])
            at = 12 + 188 * rnd.randrange((len(b) - 12) // 188)
            b[at + rnd.randrange(6)] ^= 1 << rnd.randrange(8)
            pay[i] = bytes(b)
    end = arr[-1] + 2_000_000_000

    def run():
        a = StreamAnalyzer(AnalyzerConfig(interval_s=0.3))
        rnd = random.Random(4)
        i = 0
        while i < len(pay):
            j = i + rnd.choice((1, 9, 200, 3000))
            a.feed_batch(PacketBatch.from_payloads(pay[i:j], arr[i:j]))
            i = j
        a.snapshot(end)
        return _comparable(a.pop_reports()), a.totals()

    a, b = _both(monkeypatch, run)
    assert len(a[0]) > 5
    assert a == b


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_pcaps", FIXTURES / "make_pcaps.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_pcaps", mod)
    spec.loader.exec_module(mod)
    return mod


def _read(path: Path, batch_size: int):
    out = []
    reader = read_pcap(path, batch_size=batch_size)
    for b in reader:
        out.append(
            (
                b.offsets.tolist(),
                b.lengths.tolist(),
                b.arrival_ns.tolist(),
                b.flow_ids.tolist(),
                b.flows,
            )
        )
    return out, reader.stats


@pytest.mark.parametrize(
    "name", sorted(p.name for p in PCAP_DIR.iterdir() if p.suffix in (".pcap", ".pcapng"))
)
@pytest.mark.parametrize("batch_size", [1, 5, 65536])
def test_pcap_fixtures(monkeypatch: pytest.MonkeyPatch, name: str, batch_size: int) -> None:
    a, b = _both(monkeypatch, lambda: _read(PCAP_DIR / name, batch_size))
    assert a == b


def test_pcap_large_and_damaged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    make_pcaps = _load_maker()
    p = tmp_path / "big.pcap"
    make_pcaps.write_large(p, 30_000, (1316, 200, 1328))
    a, b = _both(monkeypatch, lambda: _read(p, 4096))
    assert a == b
    assert sum(len(x[0]) for x in a[0]) == 30_000
    src = p.read_bytes()

    def fault():
        try:
            _read(q, 1000)
        except ValueError as exc:
            return str(exc)
        return None

    header = struct.pack("<IIII", 1, 0, 70000, 70000)
    edge = 24
    while edge < 50_000:  # a record boundary
        edge += 16 + struct.unpack_from("<I", src, edge + 8)[0]
    cases = [
        src[:100_000],  # a record runs past the end
        src[: 24 + 16 + 1358 + 8],  # half a header
        src[:edge] + header + b"\0" * 100,  # larger than the snap length
    ]
    for i, data in enumerate(cases):
        q = tmp_path / f"cut{i}.pcap"
        q.write_bytes(data)
        a, b = _both(monkeypatch, fault)
        assert a is not None and a == b
    assert "snaplen" in a
