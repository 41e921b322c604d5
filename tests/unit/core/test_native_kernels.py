"""The compiled kernels (collectors/core/_kernels.c) give exactly what the numpy code gives.

Each test runs the same work twice, with ``fast.kernels`` as built and set to None (the
numpy fallback), and compares the results exactly: TS header parsing and the continuity check
on the media fixtures with impairments and bit errors, whole analyzer reports, and the pcap
reader on every pcap fixture, large files and damaged files (same faults, same messages).
Skipped when the extension is not built (no C compiler or Python headers at install).
"""

from __future__ import annotations

import importlib.util
import os
import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from iec62379.collectors.core import cc as cc_mod
from iec62379.collectors.core import fast
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.report import AnalyzerConfig
from iec62379.collectors.core.ts import HEAD_BYTES
from iec62379.collectors.sources.pcap import read_pcap
from test_analyzer_real_streams import _comparable, _datagrams

BUILT = fast.kernels
# The extension is optional for users (no compiler: the numpy path runs). CI installs gcc and
# sets IEC62379_REQUIRE_NATIVE=1 (.ci/run), so there a missing build fails instead of skipping.
if BUILT is None and os.environ.get("IEC62379_REQUIRE_NATIVE") == "1":
    raise ImportError("the C extension iec62379.collectors.core._kernels is not built, and "
                      "IEC62379_REQUIRE_NATIVE=1 requires it (see setup.py, .ci/setup)")
pytestmark = pytest.mark.skipif(BUILT is None, reason="the C extension is not built")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MEDIA = FIXTURES / "media"
PCAP_DIR = FIXTURES / "pcap"
NAMES = sorted(p.name for p in MEDIA.glob("*.ts"))


def test_head_bytes_agree() -> None:
    """The extension copies as many bytes of each TS packet as the analyzer expects."""
    assert BUILT.HEAD_BYTES == HEAD_BYTES


def test_ts_layout_as_numpy() -> None:
    """ts_layout gives what _parse's numpy code gives (datagrams of 0..7 packets), and
    refuses counts that do not add up."""
    rng = np.random.default_rng(5)
    n = 500
    n_ts = rng.integers(0, 8, n).astype(np.int64)
    base = rng.integers(0, 10**6, n).astype(np.int64)
    hfirst = rng.integers(0, 10**5, n).astype(np.int64)
    total = int(n_ts.sum())
    first = np.cumsum(n_ts) - n_ts
    dgram = np.repeat(np.arange(n, dtype=np.int64), n_ts)
    within = np.arange(total, dtype=np.int64) - first[dgram]
    out = [np.empty(total, dtype=np.int64) for _ in range(3)]
    BUILT.ts_layout(n_ts, base, hfirst, HEAD_BYTES, n, total, *out)
    assert np.array_equal(out[0], dgram)
    assert np.array_equal(out[1], base[dgram] + 188 * within)
    assert np.array_equal(out[2], (hfirst[dgram] + within) * HEAD_BYTES)
    BUILT.ts_layout(n_ts, base, None, HEAD_BYTES, n, total, out[0], out[1], None)
    assert np.array_equal(out[1], base[dgram] + 188 * within)
    with pytest.raises(ValueError, match="add up"):
        BUILT.ts_layout(n_ts, base, None, HEAD_BYTES, n, total - 1, *out[:2], None)
    big = [np.empty(total + 1, dtype=np.int64) for _ in range(2)]
    with pytest.raises(ValueError, match="add up"):
        BUILT.ts_layout(n_ts, base, None, HEAD_BYTES, n, total + 1, *big, None)


@pytest.mark.parametrize("seed", range(6))
def test_pcr_pairs_as_numpy(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """rare.pcr_pairs with the kernel gives what its numpy code gives: the PCR PID
    chosen (or kept), the PCR packets of that PID among lo..hi, their PCRs read from the data
    or from the copied heads, and the running sums of the pairs (discontinuities, wraps,
    gaps over 1 s, a meter with or without a PCR before)."""
    from iec62379.collectors.core.datagrams import Packets
    from iec62379.collectors.core.rare import pcr_pairs

    rng = np.random.default_rng(seed)
    n = 3000
    pid = rng.choice(np.array([0x100, 0x101, 0x1FFF], dtype=np.uint16), n)
    has_pcr = rng.random(n) < 0.2
    disc = rng.random(n) < 0.03
    index = np.cumsum(rng.integers(1, 4, n)).astype(np.int64)
    data = rng.integers(0, 256, n * 188, dtype=np.uint8)
    st = np.arange(n, dtype=np.int64) * 188
    pcr = (np.cumsum(rng.choice([0, 300, 270_000, 28_000_000], n)) + (1 << 33) * 300 - 10**6) % (
        (1 << 33) * 300
    )
    for i in range(n):  # PCR fields in each packet (bytes 6..11)
        base, ext = divmod(int(pcr[i]), 300)
        data[st[i] + 6 : st[i] + 12] = np.frombuffer(
            ((base << 15) | (0x3F << 9) | ext).to_bytes(6, "big"), dtype=np.uint8
        )
    heads = np.ascontiguousarray(data.reshape(n, 188)[:, :HEAD_BYTES]).ravel()
    hst = np.arange(n, dtype=np.int64) * HEAD_BYTES
    for copied in (False, True):
        pk = Packets(
            data,
            pid,
            has_pcr,
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=np.uint8),
            disc,
            np.full(n, 4, dtype=np.int16),
            st,
            index,
            heads if copied else None,
            hst if copied else None,
        )
        for lo, hi in ((0, n), (17, 1000), (500, 500), (2999, 3000)):
            for start_pid, last in ((None, None), (0x101, None), (0x100, (3, int(pcr[0])))):

                def run(pk=pk, lo=lo, hi=hi, start_pid=start_pid, last=last):
                    a = StreamAnalyzer()
                    if start_pid is not None:
                        a._pcr.set_pid(start_pid)
                    if last is not None:
                        a._pcr.last_index, a._pcr.last_pcr = last
                    p = pcr_pairs(a, pk, lo, hi)
                    cuts = [lo + (hi - lo) // 3, hi]
                    seen = []
                    for cut in cuts:
                        a._pcr.take(p, cut)
                        m = a._pcr
                        seen.append((m.pid, m.bytes, m.ticks, m.last_index, m.last_pcr))
                    return (
                        p.at.tolist(),
                        p.index.tolist(),
                        p.pcr.tolist(),
                        p.cum_steps.tolist(),
                        p.cum_ticks.tolist(),
                        seen,
                    )

                got, want = _both(monkeypatch, run)
                assert got == want
                assert want[2] == [int(pcr[i]) for i in want[0]]


def _both(monkeypatch: pytest.MonkeyPatch, fn):
    """fn() with the kernels, then with numpy only."""
    monkeypatch.setattr(fast, "kernels", BUILT)
    a = fn()
    monkeypatch.setattr(fast, "kernels", None)
    b = fn()
    monkeypatch.setattr(fast, "kernels", BUILT)
    return a, b


@pytest.mark.parametrize("seed", range(6))
def test_psi_links_repeats_as_numpy(seed: int) -> None:
    """psi_links finds the copies _repeats' numpy comparison finds: only the continuity
    counter (and byte 2, the PID's low byte) may differ in a repeat; a changed byte anywhere
    else, the PUSI / TEI bits or the scrambling / adaptation bits, breaks it. With a memo, the
    first packet is compared with it; the counters' steps and the next events come out too."""
    from iec62379.collectors.core.rare import repeats as _repeats

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=188, dtype=np.uint8)
    base[0] = 0x47
    rows = []
    for _ in range(300):
        row = base.copy() if rng.random() < 0.6 else rows[-1].copy() if rows else base.copy()
        row[3] = (row[3] & 0xF0) | rng.integers(0, 16)  # the counter never matters
        row[2] = rng.integers(0, 256)
        r = rng.random()
        if r < 0.1:
            row[rng.integers(4, 188)] ^= 1 << int(rng.integers(0, 8))
        elif r < 0.15:
            row[1] ^= 1 << int(rng.integers(0, 8))
        elif r < 0.2:
            row[3] ^= 0x10 << int(rng.integers(0, 4))
        rows.append(row)
    gap = rng.integers(0, 5, size=len(rows))  # packets not always back to back
    data = np.zeros(int((188 + gap).sum()) + 7, dtype=np.uint8)
    starts = np.cumsum(np.concatenate(([3], 188 + gap[:-1]))).astype(np.int64)
    for st, row in zip(starts, rows, strict=True):
        data[st : st + 188] = row
    n = len(rows)
    want = _repeats(data, starts)
    assert 20 < int(want.sum()) < 280
    pid = np.zeros(n, dtype=np.uint16)  # one PSI PID: every event is compared with the last
    cc = (data[starts + 3] & 0x0F).astype(np.uint8)
    ev = np.arange(n, dtype=np.int64)
    for memo in (None, bytes(data[starts[0] : starts[0] + 188]), bytes(base)):
        outs = (np.empty(n, np.int64), np.empty(n, bool), np.empty(n, np.int64),
                np.empty(n, np.int64), np.empty(n, bool))
        groups = BUILT.psi_links(ev, n, pid, cc, data, starts, [(0, memo, 5)], False, *outs)
        next_psi, member, mem_at, mem_cc, mem_new = outs
        first = memo is not None and memo[1] == rows[0][1] and (memo[3] & 0xF0) == (
            rows[0][3] & 0xF0) and memo[4:] == bytes(rows[0][4:])
        assert member.tolist() == [first, *want[1:].tolist()]
        k = int(member.sum())
        assert groups == ([(0, 0, k)] if k else [])
        assert mem_at[:k].tolist() == member.nonzero()[0].tolist()
        prev = np.concatenate(([5], cc[:-1]))
        assert mem_cc[:k].tolist() == cc[member].tolist()
        assert mem_new[:k].tolist() == (cc != prev)[member].tolist()
        assert next_psi.tolist() == [*range(1, n), -1]
    with pytest.raises(IndexError):
        BUILT.psi_links(ev[:1], 1, pid[:1], cc[:1], data, np.array([data.size - 187], np.int64),
                        [(0, None, -1)], False, *outs)


@pytest.mark.parametrize("seed", range(6))
def test_seq_run_as_numpy(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """SequenceTracker with seq_run gives the numpy code's per-packet results and state, in
    one call and in random pieces (losses, duplicates also a whole cycle later, reordering,
    wraps, restarts); a short state or seen array is refused."""
    from iec62379.collectors.core.seq import SequenceTracker
    from test_core_metrics import _seq_stream

    rng = np.random.default_rng(seed)
    seqs = _seq_stream(rng, 150_000)
    cuts = np.sort(rng.choice(seqs.size, 200, replace=False))

    def run(pieces):
        t = SequenceTracker()
        out = []
        for part in np.split(seqs, pieces):
            if part.size:
                r = t.process(part)
                out.append((r.gap.tolist(), r.late.tolist(), r.dup.tolist(), r.restart_at))
        state = (t.started, t.last16, t.ext_last, t.ext_max, t.probation)
        return out, state, t.seen.tolist()

    for pieces in ([], cuts):
        a, b = _both(monkeypatch, lambda p=pieces: run(p))
        assert a == b
    whole = run([])[0][0]
    assert sum(map(bool, whole[0])) > 5 and sum(whole[1]) > 2 and sum(whole[2]) > 2 and whole[3]
    one = np.zeros(1, dtype=np.int64)
    flag = np.zeros(1, dtype=bool)
    with pytest.raises(ValueError, match="state"):
        BUILT.seq_run(one, 1, np.zeros(3, np.int64), np.zeros(65536, np.int64), one, flag, flag)
    with pytest.raises(ValueError, match="seen"):
        BUILT.seq_run(one, 1, np.zeros(4, np.int64), np.zeros(100, np.int64), one, flag, flag)


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
        h = fast.ts_headers_cc(data, starts, cc_mod.ContinuityChecker())[0]
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
    disc = (rng.random(n) < 0.01) & (afc >= 2)  # the flag is in the adaptation field
    cuts = [0, *sorted(rng.integers(0, n, 5).tolist()), n]

    # the packets themselves: header, and an adaptation field (discontinuity flag) when afc
    # says there is one (all of the packet without payload, two bytes with)
    data = np.zeros((n, 188), dtype=np.uint8)
    data[:, 0] = 0x47
    data[:, 1] = pid >> 8
    data[:, 2] = pid & 0xFF
    data[:, 3] = (afc << 4) | cc
    data[:, 4] = np.where(afc == 2, 183, np.where(afc == 3, 1, 0))
    data[:, 5] = np.where((afc >= 2) & disc, 0x80, 0)
    # an invalid adaptation_field_length (afc 3, 183 or 250) on some packets: a header error
    # whose counter is still checked; a sync error on others: not checked
    af_bad = (rng.random(n) < 0.02) & (afc == 3) & ~disc
    data[af_bad, 4] = rng.choice(np.array([183, 250], dtype=np.uint8), int(af_bad.sum()))
    sync_bad = (rng.random(n) < 0.01) & ~af_bad
    data[sync_bad, 0] = 0x46
    data = data.ravel()
    starts = np.arange(n, dtype=np.int64) * 188

    def run():
        chk = cc_mod.ContinuityChecker()
        out = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            h, at, lost, bad = fast.ts_headers_cc(data, starts[a:b], chk)
            assert bad == int(af_bad[a:b].sum() + sync_bad[a:b].sum())
            assert h.discontinuity.tolist() == disc[a:b].tolist()
            out.append((at.tolist(), lost.tolist(), at.dtype, lost.dtype))
        return out, chk.last_cc.tolist(), chk.last_dup.tolist()

    a, b = _both(monkeypatch, run)
    assert a == b
    assert sum(len(x[0]) for x in a[0]) > 100
    # the reference takes bool payload flags as well as afc values; positions are among all
    # the packets, those with a sync error left out of the check
    ok = ~sync_bad
    chk = cc_mod.ContinuityChecker()
    want = []
    for a_, b_ in zip(cuts[:-1], cuts[1:], strict=True):
        v = a_ + np.flatnonzero(ok[a_:b_])
        want.append((v[chk.errors_at(pid[v], cc[v], afc[v], disc[v])[0]] - a_).tolist())
    chk = cc_mod.ContinuityChecker()
    got = []
    for a_, b_ in zip(cuts[:-1], cuts[1:], strict=True):
        v = a_ + np.flatnonzero(ok[a_:b_])
        got.append((v[chk.errors_at(pid[v], cc[v], (afc[v] & 1) != 0, disc[v])[0]] - a_).tolist())
    assert got == want == [x[0] for x in a[0]]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("damage", [False, True])
def test_analyzer_reports(monkeypatch: pytest.MonkeyPatch, name: str, damage: bool) -> None:
    pay, arr = header_damaged(name, 5, 9, damage)

    def run():
        a = fed_in_odd_calls(pay, arr)
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


# --------------------------------------------------------------------------- odd captures
#
# Random captures of every link type the reader knows (and one it does not), with frames that
# are fine, odd (VLAN tags up to three, IPv4 options, IPv6 extension headers, fragments, non-UDP,
# RTP with CSRCs, extensions and padding, plain TS) or damaged (cut anywhere, bytes flipped,
# garbage): the compiled pass (walk, decode, filters, flow ids, RTP headers) must give what the
# Python reader (pcap_file walk, decode_packet per record) gives, and both what decode_packet
# gives on an independent walk.

_LINKTYPES = (1, 1, 113, 276, 0, 108, 101, 12, 14, 228, 229, 147)


def _rtp_payload(rnd: random.Random) -> bytes:
    kind = rnd.randrange(6)
    if kind == 0:  # plain TS
        return (
            bytes([0x47])
            + bytes(rnd.randrange(256) for _ in range(3))
            + b"\xff" * (188 * rnd.randrange(1, 4) - 4)
        )
    if kind == 1:  # garbage of any length, empty included
        return bytes(rnd.randrange(256) for _ in range(rnd.choice((0, 1, 5, 11, 12, 13, 40))))
    cc = rnd.choice((0, 0, 1, 15))
    ext = rnd.random() < 0.3
    pad = rnd.random() < 0.3
    ver = 2 if rnd.random() < 0.9 else rnd.randrange(4)
    head = bytes([(ver << 6) | (pad << 5) | (ext << 4) | cc, rnd.randrange(256)])
    head += struct.pack("!HII", rnd.randrange(65536), rnd.getrandbits(32), rnd.getrandbits(32))
    head += b"\x01\x02\x03\x04" * cc
    if ext:
        head += struct.pack("!HH", 0xBEDE, rnd.choice((0, 1, 3, 400)))
        head += b"\0" * 4 * rnd.choice((0, 1, 3))
    body = bytes([0x47, 0x01, 0x00, 0x10]) + b"\xaa" * 184
    body *= rnd.choice((0, 1, 7))
    if pad:
        body += b"\0" * rnd.randrange(4) + bytes([rnd.choice((0, 1, 3, 200))])
    return head + body


def _l3(rnd: random.Random, mp) -> tuple[bytes, int]:
    """(network-layer packet, 4 or 6)."""
    kind = rnd.randrange(10)
    ports = (rnd.choice((4000, 4001)), rnd.choice((5000, 5002, 5004, 6000)))
    srcs4 = (mp.V4A, mp.V4C)
    dsts4 = (mp.V4B, bytes([239, 10, 0, rnd.randrange(1, 4)]))
    if kind <= 3:
        s, d = rnd.choice(srcs4), rnd.choice(dsts4)
        u = mp.udp(s, d, *ports, _rtp_payload(rnd))
        opts = b"\x01\x01\x01\x01" * rnd.choice((0, 0, 1, 3))
        frag = rnd.choice((0, 0, 0, 0x2000, 0x0010, 0x2010))
        pkt = mp.ipv4(s, d, 17, u, options=opts, frag=frag)
        return pkt, 4
    if kind <= 5:
        u = mp.udp(mp.V6A, mp.V6B, *ports, _rtp_payload(rnd))
        nh, body = 17, u
        for _ in range(rnd.choice((0, 0, 1, 2))):
            e = rnd.choice((0, 60, 43, 44, 51))
            if e == 44:
                off = rnd.choice((0, 0, 1, 8, 9))
                body = struct.pack("!BBHI", nh, 0, off, 7) + body
            elif e == 51:
                body = bytes([nh, 1]) + b"\0" * 6 + body
            else:
                body = mp.ext(nh, b"\0" * 6) + body
            nh = e
        return mp.ipv6(mp.V6A, mp.V6B, nh, body), 6
    if kind == 6:
        return mp.TCP4, 4
    if kind == 7:
        return mp.ICMP4, 4
    if kind == 8:  # a UDP length beyond the IP length, or below 8
        u = bytearray(mp.udp(mp.V4A, mp.V4B, *ports, _rtp_payload(rnd)))
        u[4:6] = struct.pack("!H", rnd.choice((0, 7, len(u) + 9)))
        return mp.ipv4(mp.V4A, mp.V4B, 17, bytes(u)), 4
    # bad version / IHL
    pkt = bytearray(mp.udp4(4000, 5000, 50, 1))
    pkt[0] = rnd.choice((0x44, 0x65, 0x15, 0x4F))
    return bytes(pkt), 4


def _frame(rnd: random.Random, mp, linktype: int) -> bytes:
    l3, ver = _l3(rnd, mp)
    et = 0x0800 if ver == 4 else 0x86DD
    if rnd.random() < 0.05:
        et = 0x0806
    if linktype == 1:
        vlans = [
            (rnd.choice((0x8100, 0x88A8, 0x9100)), 5) for _ in range(rnd.choice((0, 0, 1, 2, 3)))
        ]
        f = mp.eth(l3, et, vlans)
    elif linktype == 113:
        f = mp.sll(l3, et)
    elif linktype == 276:
        f = mp.sll2(l3, et)
    elif linktype == 0:
        fam = 2 if ver == 4 else rnd.choice((10, 24, 28, 30))
        f = struct.pack(rnd.choice(("<I", ">I")), rnd.choice((fam, fam, 17))) + l3
    elif linktype == 108:
        f = struct.pack(">I", 2 if ver == 4 else 30) + l3
    else:
        f = l3
    if rnd.random() < 0.1:  # damage
        b = bytearray(f)
        for _ in range(rnd.randrange(1, 4)):
            if b:
                b[rnd.randrange(min(len(b), 80))] = rnd.randrange(256)
        f = bytes(b)
    if rnd.random() < 0.03:
        f = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 70)))
    return f


def _odd_frames(rnd: random.Random, mp, linktype: int, n: int) -> list[tuple[int, bytes, int]]:
    """(ns, captured bytes, original length) records; some cut short."""
    out = []
    t = mp.T0 * 1_000_000_000 + rnd.randrange(10**9)
    for _ in range(n):
        f = _frame(rnd, mp, linktype)
        cap = f
        if rnd.random() < 0.1:
            cap = f[: rnd.randrange(len(f) + 1)]
        t += rnd.randrange(0, 3_000_000)
        out.append((t, cap, len(f)))
    return out


def _odd_pcap(path: Path, seed: int) -> None:
    mp = _load_maker()
    rnd = random.Random(seed)
    linktype = _LINKTYPES[seed % len(_LINKTYPES)]
    endian = rnd.choice("<>")
    nanos = seed % 2 == 0
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, rnd.choice((0, 65535)), linktype)]
    for ts, cap, orig in _odd_frames(rnd, mp, linktype, 400):
        sec, ns = divmod(ts, 1_000_000_000)
        out.append(struct.pack(endian + "IIII", sec, ns if nanos else ns // 1000, len(cap), orig))
        out.append(cap)
    path.write_bytes(b"".join(out))


def _odd_pcapng(path: Path, seed: int) -> None:
    """Two sections (byte orders differ), several interfaces of different link types and
    resolutions; EPB, SPB and obsolete PB records."""
    mp = _load_maker()
    rnd = random.Random(seed)
    out = []
    for e in ("<", ">"):
        out.append(mp.shb(e))
        ifaces = [(rnd.choice(_LINKTYPES), rnd.choice((None, 9, 0x94))) for _ in range(3)]
        for lt, res in ifaces:
            out.append(mp.idb(e, lt, res, snap=rnd.choice((0, 65535))))
        t = mp.T0 * 1_000_000_000
        for _ in range(300):
            i = rnd.randrange(3)
            lt, res = ifaces[i]
            f = _frame(rnd, mp, lt)
            t += rnd.randrange(3_000_000)
            kind = rnd.random()
            if kind < 0.1 and i == 0:
                out.append(mp.spb(e, f))
            elif kind < 0.15:
                body = struct.pack(
                    e + "HHIIII", i, 0, 0, mp.units_for(t, res) & 0xFFFFFFFF, len(f), len(f)
                )
                out.append(mp._block(e, 2, body + f + b"\0" * (-len(f) % 4)))
            else:
                out.append(mp.epb(e, i, mp.units_for(t, res), f))
    path.write_bytes(b"".join(out))


def _read_full(path: Path, batch_size: int, **kw):
    """Everything a reader gives, and (compiled) its RTP fields checked against
    parse_rtp_headers."""
    from iec62379.collectors.core.rtp import parse_rtp_headers

    out = []
    reader = read_pcap(path, batch_size=batch_size, **kw)
    for b in reader:
        out.append(
            (
                b.offsets.tolist(),
                b.lengths.tolist(),
                b.arrival_ns.tolist(),
                b.flow_ids.tolist(),
                b.flows,
                b.offsets.dtype,
                b.lengths.dtype,
                b.arrival_ns.dtype,
                b.flow_ids.dtype,
            )
        )
        if b.rtp is not None:
            h = parse_rtp_headers(b.data, b.offsets, b.lengths)
            for key in h.__slots__:
                x, y = getattr(b.rtp, key), getattr(h, key)
                assert x.dtype == y.dtype and np.array_equal(x, y), key
            first = b.data[np.clip(b.offsets, 0, b.data.shape[0] - 1)]
            assert np.array_equal(b.first_byte, first)
            _check_ts_heads(b)
    return out, reader.stats


def _check_ts_heads(b) -> None:
    """The batch's copied TS headers are, datagram by datagram, bytes 0..11 of the TS packets
    the analyzer finds in it ("auto": sync byte first = plain TS, else a good RTP header's
    payload; whole packets only), each datagram's at its ts_first; grouped by flow: the
    flows one after another in id order, each flow's packets in one run in batch order."""
    assert b.ts_heads is not None and b.ts_first is not None
    assert b.ts_heads.dtype == np.uint8 and b.ts_first.dtype == np.int64
    heads = b.ts_heads.tobytes()
    per_flow: dict[int, list[bytes]] = {}
    for i in range(len(b)):
        p = b.payload(i)
        if p and p[0] == 0x47:
            ts = p
        elif b.rtp.error[i] == 0:
            off = int(b.rtp.payload_offset[i])
            ts = p[off : off + int(b.rtp.payload_length[i])]
        else:
            ts = b""
        mine = [ts[j : j + HEAD_BYTES] for j in range(0, len(ts), 188)]
        if not ts or len(ts) % 188:
            mine = []
        flow = per_flow.setdefault(int(b.flow_ids[i]), [])
        at = int(b.ts_first[i]) * HEAD_BYTES
        assert heads[at : at + HEAD_BYTES * len(mine)] == b"".join(mine), i
        flow.extend(mine)
    assert heads == b"".join(b"".join(per_flow[f]) for f in sorted(per_flow))


def _reference(path: Path) -> list[tuple[bytes, tuple]]:
    """decode_packet on every record (an independent walk): the datagrams."""
    from iec62379.collectors.sources.pcap import decode_packet

    out = []
    for frame, linktype in _load_maker().frames(path.read_bytes()):
        d = decode_packet(frame, linktype)
        if d.status == "udp":
            pay = frame[d.payload_offset : d.payload_offset + d.payload_length]
            out.append((pay, (d.src_addr, d.src_port, d.dst_addr, d.dst_port)))
    return out


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_odd_captures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int, fmt: str) -> None:
    p = tmp_path / f"odd.{fmt}"
    (_odd_pcap if fmt == "pcap" else _odd_pcapng)(p, seed)
    for batch_size in (1, 37, 65536):
        a, b = _both(monkeypatch, lambda bs=batch_size: _read_full(p, bs))
        assert a == b
    ref = _reference(p)
    for kernels in (BUILT, None):
        monkeypatch.setattr(fast, "kernels", kernels)
        got = []
        for batch in read_pcap(p, batch_size=50):
            for i in range(len(batch)):
                f = batch.flows[int(batch.flow_ids[i])]
                got.append((batch.payload(i), (f.src_addr, f.src_port, f.dst_addr, f.dst_port)))
        assert got == ref
    monkeypatch.setattr(fast, "kernels", BUILT)
    filters = [
        {"dst_port": 5000},
        {"dst_addr": "239.1.1.1"},
        {"dst_addr": "ff3e::1234", "dst_port": 5004},
        {"include_truncated": False},
    ]
    for kw in filters:
        a, b = _both(monkeypatch, lambda kw=kw: _read_full(p, 64, **kw))
        assert a == b


def test_odd_captures_cover_every_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The random captures above do reach every status and both RTP outcomes."""
    tot = {"udp": 0, "non_udp": 0, "fragments": 0, "truncated": 0, "malformed": 0}
    errors = set()
    for seed in range(24):
        p = tmp_path / f"odd{seed}.pcap"
        _odd_pcap(p, seed)
        reader = read_pcap(p)
        for b in reader:
            errors.update(np.unique(b.rtp.error).tolist())
        for k in tot:
            tot[k] += getattr(reader.stats, k)
    assert all(v > 20 for v in tot.values()), tot
    assert errors >= {0, 1, 2, 3, 4}


def test_flow_table_switching(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Flow ids stay those of the Python reader when the kernels come and go between batches,
    and after a fault (the faulty batch's new flows are forgotten)."""
    p = tmp_path / "odd.pcap"
    _odd_pcap(p, 0)

    def run(pattern):
        out = []
        reader = read_pcap(p, batch_size=23)
        for i, b in enumerate(reader):
            out.append((b.flow_ids.tolist(), b.flows))
            monkeypatch.setattr(fast, "kernels", BUILT if pattern[i % len(pattern)] else None)
        monkeypatch.setattr(fast, "kernels", BUILT)
        return out

    monkeypatch.setattr(fast, "kernels", BUILT)
    a = run([True])
    monkeypatch.setattr(fast, "kernels", None)
    b = run([False])
    monkeypatch.setattr(fast, "kernels", BUILT)
    c = run([True, False, False, True])
    assert a == b == c
    # A cut capture: the records before the cut one are delivered (the faulty pass's new
    # flows are forgotten and found again by the pass that delivers them), then the fault.
    src = p.read_bytes()
    q = tmp_path / "cut.pcap"
    q.write_bytes(src[: len(src) - 7])

    def cut(batch_size: int):
        reader = read_pcap(q, batch_size=batch_size)
        out = []
        with pytest.raises(ValueError, match="file truncated"):
            for b in reader:
                out.append((b.offsets.tolist(), b.flow_ids.tolist(), b.flows))
        with pytest.raises(StopIteration):
            next(reader)
        return out, reader.stats.records

    whole = read_pcap(p, batch_size=10**6)
    full = next(whole)
    for size in (10**6, 23):
        got, want = _both(monkeypatch, lambda size=size: cut(size))
        assert got == want
        batches, records = got
        assert records == whole.stats.records - 1
        offsets = [o for b in batches for o in b[0]]
        # every datagram of the whole file but (at most) the cut record's
        assert len(offsets) >= len(full) - 1
        assert offsets == full.offsets.tolist()[: len(offsets)]
    one, _records = cut(10**6)
    assert len(one) == 1 and one[0][2] == full.flows[: len(one[0][2])]


def test_analysis_of_a_capture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The benchmark's analysis (reader, demux, every metric) on a small generated capture:
    every report identical with the RTP headers parsed in the walk and by the analyzer."""
    from iec62379.cli.bench.capture import CaptureSpec, ensure_capture
    from iec62379.cli.bench.pcap import analyse

    info = ensure_capture(CaptureSpec(packets=12_000, copies=1, seed=3), tmp_path)

    def run(batch_size: int, interval_s: float):
        reports = []
        records, demux, detail = analyse(info.path, interval_s, batch_size)
        for key, a in sorted(demux.streams.items()):
            reports.append((key, repr(a.pop_reports()), repr(a.latest), repr(a.totals())))
        return records, detail, reports

    for batch_size, interval_s in ((65536, 1.0), (701, 0.37)):
        a, b = _both(monkeypatch, lambda bs=batch_size, iv=interval_s: run(bs, iv))
        assert a == b
        assert a[1].datagrams > 10_000


@pytest.mark.parametrize("seed", range(8))
def test_delay_factor_and_buffer(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """fast.delay_factor and PlayoutBuffer.run (state over many intervals: filling, playing,
    overflows, underflows, silences) equal to the bit."""
    from iec62379.collectors.core.buffer import PlayoutBuffer

    rng = np.random.default_rng(seed)
    intervals = []
    t = 1_700_000_000_000_000_000 + int(rng.integers(10**9))
    for _ in range(60):
        n = int(rng.choice((0, 1, 2, 50, 600)))
        gaps = rng.exponential(rng.choice((2e5, 1e6, 3e6)), n).astype(np.int64)
        if n and rng.random() < 0.2:
            gaps[rng.integers(n)] += int(rng.integers(10**8, 10**9))  # a stall
        arr = t + np.cumsum(gaps)
        mb = rng.choice(np.array([188, 1316, 0, 940], dtype=np.int64), n)
        end = int(arr[-1]) + 1000 if n else t + 10**6
        t = end
        rate = float(rng.choice((1e6, 5e6, 1.2e7, 8e7)))
        intervals.append((arr, mb, rate, end))

    def run(size_ms: float):
        buf = PlayoutBuffer(size_ms)
        out = []
        for arr, mb, rate, end in intervals:
            df = fast.delay_factor(arr, mb, rate) if arr.size else None
            buf.run(arr, mb, rate, end)
            out.append((df, buf.level, buf.t, buf.playing, buf.underflows, buf.overflows))
        return out

    for size_ms in (40.0, 200.0, 1000.0):
        a, b = _both(monkeypatch, lambda s=size_ms: run(s))
        assert a == b
    assert a[-1][4] > 0 and a[-1][5] > 0


def _batch_rows(b, sel) -> list:
    """Every per-datagram field of batch b at rows sel, as lists."""
    from dataclasses import fields

    out = [getattr(b, k)[sel].tolist() for k in ("offsets", "lengths", "arrival_ns", "flow_ids")]
    out += [None if x is None else x[sel].tolist() for x in (b.first_byte, b.ts_first)]
    if b.rtp is not None:
        out += [getattr(b.rtp, f.name)[sel].tolist() for f in fields(b.rtp)]
    return out


@pytest.mark.parametrize("seed", range(3))
def test_grouped_batches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int) -> None:
    """PacketBatch.grouped gives, for each flow, exactly the rows a per-flow selection gives,
    in the same order, with and without the kernel (and the same dtypes); a flow id out of
    range is refused."""
    p = tmp_path / "odd.pcap"
    _odd_pcap(p, seed)
    batches = list(read_pcap(p, batch_size=97))
    assert any(len(set(b.flow_ids.tolist())) > 2 for b in batches)

    def run():
        out = []
        for b in batches:
            g, starts = b.grouped()
            assert len(starts) == len(b.flows) + 1 and starts[-1] == len(b)
            for f in range(len(b.flows)):
                part = g.rows(starts[f], starts[f + 1])
                sel = (b.flow_ids == f).nonzero()[0]
                assert _batch_rows(part, slice(None)) == _batch_rows(b, sel)
                assert part.data is b.data and part.ts_heads is b.ts_heads
                assert [a.dtype for a in (part.offsets, part.lengths, part.arrival_ns)] == [
                    b.offsets.dtype, b.lengths.dtype, b.arrival_ns.dtype]
                out.append(_batch_rows(part, slice(None)))
        return out

    a, b = _both(monkeypatch, run)
    assert a == b
    ids = np.array([0, 2], dtype=np.int32)
    with pytest.raises(ValueError, match="flow id 2 out of range"):
        BUILT.group_by_flow(ids, 2, 2, np.zeros(3, np.int64), (ids,), (ids.copy(),))
    with pytest.raises(ValueError, match="bytes for"):
        BUILT.group_by_flow(ids[:1] * 0, 1, 1, np.zeros(2, np.int64), (np.zeros(3, np.uint8),),
                            (np.zeros(3, np.uint8),))


def test_ts_scan_and_pid_counts_refuse_bad_input() -> None:
    """ts_headers with its extra arguments (the analyzer's one-pass scan) refuses short state
    arrays, and pid_counts a datagram index outside the arrival array, with a clear error;
    pid_counts by datagram gives what it gives with each packet's arrival."""
    from iec62379.collectors.core.fast import _ts_kernel

    def compiled_ts_headers(data, starts, extra):
        return _ts_kernel(BUILT, data, starts, extra)

    data = np.zeros(188 * 2, dtype=np.uint8)
    data[0] = data[188] = 0x47
    data[3], data[188 + 3] = 0x10, 0x15  # payload only; counters 0 then 5
    starts = np.array([0, 188], dtype=np.int64)
    out = [np.empty(2, dtype=np.int64) for _ in range(2)]
    last_cc, last_dup = np.full(8192, -1, dtype=np.int64), np.zeros(8192, dtype=bool)
    h, r = compiled_ts_headers(data, starts, (last_cc, last_dup, *out))
    assert r == (0, 1) and h.pid.tolist() == [0, 0] and out[0][0] == 1 and out[1][0] == 4
    with pytest.raises(ValueError, match="last_cc"):
        compiled_ts_headers(data, starts, (last_cc[:5], last_dup, *out))
    pid = np.array([1, 2, 1], dtype=np.uint16)
    arrival = np.array([10, 20], dtype=np.int64)
    dg = np.array([0, 1, 1], dtype=np.int64)
    res = []
    for args in ((arrival[dg],), (arrival, dg)):
        counts, last = np.zeros(8192, np.int64), np.full(8192, -1, np.int64)
        BUILT.pid_counts(pid, args[0], 3, counts, last, *args[1:])
        res.append((counts[:3].tolist(), last[:3].tolist()))
    assert res[0] == res[1] == ([0, 2, 1], [-1, 20, 20])
    with pytest.raises(IndexError, match="datagram 2 out of range"):
        BUILT.pid_counts(pid, arrival, 3, counts, last, np.array([0, 1, 2], dtype=np.int64))


def _table_stream(seed: int) -> tuple[list[bytes], list[int]]:
    """RTP datagrams of 7 TS packets, 1 ms apart, nearly all of them PSI: PAT and PMT
    repeated with the next counter, each repeated again with the same counter now and then (a
    duplicate packet), a PMT with a bad CRC repeated for stretches (a copy adds its error
    again), a new PMT version now and then, and payload packets with a PCR between them."""
    sys.path.insert(0, str(Path(__file__).parent))
    from packets import TsMux, pat_section, pmt_section, rtp

    rng = random.Random(seed)
    pat = pat_section({1: 0x1000})
    pmts = [pmt_section(1, 0x100, [(0x1B, 0x100, b""), (0x0F, 0x101, b"")], version=v)
            for v in range(4)]
    mux = TsMux()
    pay, arr = [], []
    version, bad = 0, False
    for i in range(3000):
        if rng.random() < 0.004:
            version = (version + 1) % 4
        if rng.random() < 0.01:
            bad = not bad
        pmt = bytearray(pmts[version])
        if bad:
            pmt[-1] ^= 0x5A
        pk = []
        for _ in range(7):
            r = rng.random()
            if r < 0.3:
                pk.append(mux.packet(0, b"\x00" + pat, pusi=True))
            elif r < 0.75:
                pk.append(mux.packet(0x1000, b"\x00" + bytes(pmt), pusi=True))
            elif r < 0.8 and pk:
                pk.append(pk[-1])  # the same packet again, same counter
            else:
                pk.append(mux.packet(0x100, pcr=i * 27_000, pusi=True))
        pay.append(rtp(i, i * 90, b"".join(pk)))
        arr.append(i * 1_000_000)
    return pay, arr


@pytest.mark.parametrize("seed", range(4))
def test_repeated_tables_as_numpy(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """The repeated-table bookkeeping with psi_links gives the numpy code's reports, and
    both give what feeding one datagram at a time gives, on a stream of repeated, duplicated,
    bad and changing tables over many short intervals and feed calls of any size."""
    pay, arr = _table_stream(seed)
    end = arr[-1] + 2_000_000_000
    cfg = AnalyzerConfig(interval_s=0.05)

    def run(sizes: tuple[int, ...]):
        a = StreamAnalyzer(cfg)
        rnd = random.Random(seed)
        i = 0
        while i < len(pay):
            j = i + rnd.choice(sizes)
            a.feed_batch(PacketBatch.from_payloads(pay[i:j], arr[i:j]))
            i = j
        a.close_until(end)
        return _comparable(a.pop_reports()), a.totals()

    one = run((1,))
    a, b = _both(monkeypatch, lambda: run((1, 50, 700, 3000)))
    assert a == b == one
    assert one[1].errors.get("psi_crc", 0) > 100
    assert len(one[0]) > 50


def test_psi_links_refuses_bad_input() -> None:
    """psi_links refuses events out of order or range, PSI packets past the data, PIDs out of
    range, too many PSI PIDs and short memos, with a clear error."""
    data = np.zeros(188 * 4, dtype=np.uint8)
    pid = np.zeros(4, dtype=np.uint16)
    cc = np.zeros(4, dtype=np.uint8)
    st = np.arange(4, dtype=np.int64) * 188
    outs = (np.empty(4, np.int64), np.empty(4, bool), np.empty(4, np.int64),
            np.empty(4, np.int64), np.empty(4, bool))

    def call(ev, entries, starts=st):
        ev = np.asarray(ev, dtype=np.int64)
        return BUILT.psi_links(ev, ev.size, pid, cc, data, starts, entries, False, *outs)

    assert call([0, 1, 2, 3], [(0, None, -1)]) == [(0, 0, 3)]
    assert outs[0].tolist() == [1, 2, 3, -1] and outs[1].tolist() == [False, True, True, True]
    with pytest.raises(IndexError, match="out of order or range"):
        call([1, 0], [(0, None, -1)])
    with pytest.raises(IndexError, match="out of order or range"):
        call([4], [(0, None, -1)])
    with pytest.raises(IndexError, match="TS packet start"):
        call([3], [(0, None, -1)], np.array([0, 0, 0, 188 * 3 + 1], dtype=np.int64))
    with pytest.raises(ValueError, match="PID 8192 out of range"):
        call([0], [(8192, None, -1)])
    with pytest.raises(ValueError, match="at most 16"):
        call([0], [(p, None, -1) for p in range(17)])
    with pytest.raises(ValueError, match="memo"):
        call([0], [(0, b"\x47" * 100, -1)])
    with pytest.raises(TypeError):
        call([0], [(0, None)])


@pytest.mark.parametrize("seed", range(8))
def test_rtp_chunks_as_numpy(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """fast.rtp_chunks with the kernel gives the numpy code's rows (an empty chunk's unused TS-DF
    reference aside), unwrap state and TS packets per datagram, over losses, late and
    duplicate packets, restarts, timestamp wraps, empty datagrams and empty chunks, whether
    or not the first chunk continues an open period; and refuses bad bounds and indices."""
    from iec62379.collectors.core.datagrams import Datagrams as _Datagrams
    from iec62379.collectors.core.seq import SequenceTracker

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    seq = (np.cumsum(rng.choice([1, 1, 1, 2, 5, -3, 0], n)) + int(rng.integers(0, 65536)))
    if rng.random() < 0.5:
        seq[n // 2 :] += 20000  # a restart
    seq &= 0xFFFF
    ts = (np.cumsum(rng.integers(-500, 3000, n)) + int(rng.integers(0, 2**32))) % 2**32
    arrival = np.cumsum(rng.integers(0, 2_000_000, n)).astype(np.int64) + 10**12
    n_ts = rng.choice([0, 7, 7, 7, 3], n).astype(np.int64)
    zeros = np.zeros(n, dtype=np.int64)
    d = _Datagrams(np.zeros(1, np.uint8), arrival, zeros.astype(np.uint8), zeros == 0,
                   seq.astype(np.int64), ts.astype(np.int64), zeros, n_ts, zeros, zeros, zeros)
    rtp_idx = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    cuts = np.sort(rng.integers(0, rtp_idx.size + 1, int(rng.integers(0, 6))))
    rb = np.concatenate(([0], cuts, [rtp_idx.size])).astype(np.int64)
    continues = bool(rng.random() < 0.5)
    res = SequenceTracker().process(d.seq[rtp_idx])

    def run():
        a = StreamAnalyzer()
        a._usual_ts = int(rng.choice([0, 7]))
        a._tsdf.ref_r, a._tsdf.ref_s = 10**12 - 5_000_000, int(ts[0]) - 77
        if rng.random() < 0.5:
            a._tsdf.unwrap(np.array([int(ts[0]) + 2**31 - 10], dtype=np.int64))
        t = a._tsdf
        rows, usual = fast.rtp_chunks(rtp_idx, rb, res, d.n_ts, d.arrival, d.ts, a._usual_ts,
                                      7, t, continues)
        return rows, (t.unwrap_started, t.last_raw, t.last_ext, usual)

    state = rng.bit_generator.state
    a = run()
    monkeypatch.setattr(fast, "kernels", None)
    rng.bit_generator.state = state
    b = run()
    monkeypatch.setattr(fast, "kernels", BUILT)
    assert a[1] == b[1]
    assert len(a[0]) == len(b[0]) == rb.size - 1
    for ra, rb_ in zip(a[0], b[0], strict=True):
        assert ra[:6] == rb_[:6] and ra[8:] == rb_[8:]
        if ra[0]:
            assert ra == rb_
    assert sum(r[1] for r in a[0]) == int(res.gap.sum())

    rows, delays = np.empty((1, 8), np.int64), np.empty((1, 2))
    args = [res.gap, res.late, res.dup, n_ts, arrival, d.ts, 0, 7,
            np.zeros(3, np.int64), np.zeros(3, np.int64), 1e9 / 90000, rows, delays]
    m = rtp_idx.size
    with pytest.raises(ValueError, match="bounds"):
        BUILT.rtp_chunks(rtp_idx, m, np.array([0, m + 1], np.int64), 1, *args)
    with pytest.raises(IndexError, match="out of range"):
        BUILT.rtp_chunks(rtp_idx + n, m, np.array([0, m], np.int64), 1, *args)
    with pytest.raises(ValueError, match="no datagrams"):
        BUILT.rtp_chunks(rtp_idx, 0, np.array([0, 0], np.int64), 1, *args)
    with pytest.raises(ValueError, match="out_i"):
        BUILT.rtp_chunks(rtp_idx, m, np.array([0, 0, m], np.int64), 2, *args)


@pytest.mark.parametrize("transport", ["auto", "rtp", "udp"])
@pytest.mark.parametrize("seed", range(3))
def test_parse_with_source_headers_as_numpy(
    monkeypatch: pytest.MonkeyPatch, transport: str, seed: int
) -> None:
    """parse_datagrams with the source's RTP headers (dgram_fields, ts_layout) gives the
    numpy code's datagram fields on batches mixing RTP, plain TS, empty, short and
    odd-length payloads; dgram_fields refuses a bad mode with a clear error."""
    sys.path.insert(0, str(Path(__file__).parent))
    from packets import rtp, ts_packet

    rng = random.Random(seed)
    pay = []
    for i in range(400):
        ts = b"".join(ts_packet(0x100 + (i % 3), i) for _ in range(rng.choice((1, 7))))
        pay.append(rng.choice([
            rtp(i, i * 90, ts), rtp(i, i * 90, ts), ts, b"", rtp(i, 0, ts[:100]), b"\x80\x21",
            rtp(i, i, ts, version=1), ts[:188 * 2 - 1], rtp(i, i * 90, b""),
        ]))
    from iec62379.collectors.core.datagrams import parse_datagrams
    from iec62379.collectors.core.rtp import parse_rtp_headers

    batch = PacketBatch.from_payloads(pay, list(range(len(pay))))
    h = parse_rtp_headers(batch.data, batch.offsets, batch.lengths)
    first = batch.data[np.clip(batch.offsets, 0, batch.data.size - 1)]
    pre = (first, h.error, h.sequence, h.timestamp, h.ssrc, h.payload_offset, h.payload_length)

    def run():
        d = parse_datagrams(transport, batch.data, batch.offsets, batch.lengths,
                            batch.arrival_ns, pre)
        return [
            (f, getattr(d, f).dtype.str, getattr(d, f).tolist())
            for f in ("error", "rtp_ok", "seq", "ts", "ssrc", "n_ts", "ts_first", "ts_start",
                      "ts_dgram")
        ]

    a, b = _both(monkeypatch, run)
    assert a == b
    assert 0 < sum(a[5][2]) < 7 * len(pay)
    with pytest.raises(ValueError, match="bad mode"):
        BUILT.dgram_fields(3, 5, *([np.zeros(1, np.uint8)] * 6), 1, *([np.zeros(1)] * 5))


def test_pid_rates_as_numpy() -> None:
    """pid_rates gives the numpy code's per-PID rates (same keys in the same order, equal to
    the bit) and leaves the counts zeroed; it refuses a short counts array."""
    rng = np.random.default_rng(3)
    for secs in (1.0, 0.37, 2.5):
        counts = np.zeros(8192, dtype=np.int64)
        at = rng.choice(8192, 40, replace=False)
        counts[at] = rng.integers(1, 10**7, 40)
        used = (counts != 0).nonzero()[0]
        want = dict(zip(used.tolist(), (counts[used] * 1504 / secs).tolist(), strict=True))
        got = BUILT.pid_rates(counts, 1504, secs)
        assert list(got.items()) == list(want.items())
        assert not counts.any()
    with pytest.raises(ValueError, match="counts"):
        BUILT.pid_rates(np.zeros(100, dtype=np.int64), 1504, 1.0)


def header_damaged(name: str, seed: int, damage_seed: int,
                   damage: bool) -> tuple[list[bytes], list[int]]:
    """A recorded stream's datagrams (`_datagrams`); with `damage`, its impairments and a bit
    flipped in the header of a TS packet of one datagram in 40."""
    pay, arr = _datagrams(name, seed=seed, damage=damage)
    if damage:
        rnd = random.Random(damage_seed)
        for i in rnd.sample(range(len(pay)), len(pay) // 40):
            b = bytearray(pay[i])
            at = 12 + 188 * rnd.randrange((len(b) - 12) // 188)
            b[at + rnd.randrange(6)] ^= 1 << rnd.randrange(8)
            pay[i] = bytes(b)
    return pay, arr


def fed_in_odd_calls(pay: list[bytes], arr: list[int]) -> StreamAnalyzer:
    """An analyzer (0.3 s intervals) fed the datagrams in calls of 1, 9, 200 and 3000 in a
    seeded order, then closed 2 s after the last arrival."""
    a = StreamAnalyzer(AnalyzerConfig(interval_s=0.3))
    rnd = random.Random(4)
    i = 0
    while i < len(pay):
        j = i + rnd.choice((1, 9, 200, 3000))
        a.feed_batch(PacketBatch.from_payloads(pay[i:j], arr[i:j]))
        i = j
    a.close_until(arr[-1] + 2_000_000_000)
    return a
