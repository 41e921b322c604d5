"""The pcap/pcapng reader against tshark, against its own slow path, and on damaged files."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from iec62379.cli.main import cli
from iec62379.collectors.sources.pcap import PcapReader, decode_packet, read_pcap

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PCAP_DIR = FIXTURES / "pcap"
FILES = sorted(p.name for p in PCAP_DIR.iterdir() if p.suffix in (".pcap", ".pcapng"))
TRUNCATING = {"snaplen_cut.pcap", "ipv6_ext_frag.pcap"}  # files with incomplete datagrams


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_pcaps", FIXTURES / "make_pcaps.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_pcaps"] = mod
    spec.loader.exec_module(mod)
    return mod


make_pcaps = _load_maker()


def _rows(path: Path, **kw) -> tuple[list[tuple[int, int, int]], PcapReader]:
    """(arrival ns, dst port, payload length) of every delivered datagram."""
    reader = read_pcap(path, **kw)
    rows = []
    for batch in reader:
        for i in range(len(batch)):
            flow = batch.flows[int(batch.flow_ids[i])]
            rows.append((int(batch.arrival_ns[i]), flow.dst_port, int(batch.lengths[i])))
    return rows, reader


@pytest.fixture(scope="module")
def tshark_rows() -> dict[str, list[tuple[int | None, int, int]]]:
    exe = shutil.which("tshark")
    assert exe, "tshark is needed for these tests (Debian package tshark)"
    out: dict[str, list[tuple[int | None, int, int]]] = {}
    for name in FILES:
        res = subprocess.run(
            [
                exe,
                "-r",
                str(PCAP_DIR / name),
                "-n",
                "-o",
                "ip.defragment:FALSE",
                "-o",
                "ipv6.defragment:FALSE",
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "udp.dstport",
                "-e",
                "udp.length",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        rows = []
        for line in res.stdout.splitlines():
            t, port, length = (line.split("\t") + ["", "", ""])[:3]
            if not port:
                continue
            ns = int(Decimal(t) * 1_000_000_000) if t else None
            rows.append((ns, int(port.split(",")[0]), int(length.split(",")[0])))
        out[name] = rows
    return out


def test_fixtures_are_reproducible(tmp_path: Path) -> None:
    make_pcaps.main(["make_pcaps", str(tmp_path)])
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (PCAP_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", FILES)
def test_matches_tshark(name: str, tshark_rows) -> None:
    ours, reader = _rows(PCAP_DIR / name)
    theirs = tshark_rows[name]
    assert len(ours) == len(theirs), (ours, theirs)
    for (ns, port, length), (tns, tport, tlen) in zip(ours, theirs, strict=True):
        if tns is not None:  # Simple Packet Blocks have no time
            assert ns == tns
        assert port == tport
        if name in TRUNCATING:
            assert length <= tlen - 8
        else:
            assert length == tlen - 8
    assert reader.stats.udp == len(ours)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("batch_size", [1, 3, 65536])
def test_fast_path_equals_slow_path(name: str, batch_size: int) -> None:
    """Every datagram the reader delivers (compiled walk or Python decode) equals decode_packet
    on the same record, walked independently."""
    path = PCAP_DIR / name
    data = path.read_bytes()
    reader = read_pcap(path, batch_size=batch_size)
    got = []
    for batch in reader:
        for i in range(len(batch)):
            f = batch.flows[int(batch.flow_ids[i])]
            got.append((batch.payload(i), f.src_addr, f.src_port, f.dst_addr, f.dst_port))
    expected = []
    for frame, linktype in make_pcaps.frames(data):
        d = decode_packet(frame, linktype)
        if d.status == "udp":
            pay = frame[d.payload_offset : d.payload_offset + d.payload_length]
            expected.append((pay, d.src_addr, d.src_port, d.dst_addr, d.dst_port))
    assert got == expected


def test_stats_and_rules() -> None:
    _, r = _rows(PCAP_DIR / "eth_us_le.pcap")
    assert (r.stats.records, r.stats.udp, r.stats.non_udp) == (40, 37, 3)
    assert r.format == "pcap"
    rows, r = _rows(PCAP_DIR / "ipv6_ext_frag.pcap")
    # 4 IPv6 with extension headers, first fragments (v6 and v4, truncated), one plain IPv6
    assert r.stats.fragments == 2 and r.stats.truncated == 2 and r.stats.udp == 7
    assert [p for _, p, _ in rows] == [3001, 3001, 3001, 3001, 3002, 3003, 3004]
    rows, r = _rows(PCAP_DIR / "ipv6_ext_frag.pcap", include_truncated=False)
    assert [p for _, p, _ in rows] == [3001, 3001, 3001, 3001, 3004]
    rows, r = _rows(PCAP_DIR / "snaplen_cut.pcap")
    assert r.stats.truncated == 5
    assert [n for _, _, n in rows] == [200 - 14 - 20 - 8] * 5 + [10]


def test_filters() -> None:
    rows, r = _rows(PCAP_DIR / "eth_us_le.pcap", dst_port=5006)
    assert rows and all(p == 5006 for _, p, _ in rows)
    assert r.stats.filtered + r.stats.udp == 37
    rows, _ = _rows(PCAP_DIR / "eth_ns_be_vlan.pcap", dst_addr="ff3e::1234")
    assert len(rows) == 6 and all(p == 6002 for _, p, _ in rows)
    rows, _ = _rows(PCAP_DIR / "eth_ns_be_vlan.pcap", dst_addr="239.1.1.1", dst_port=6000)
    assert len(rows) == 18
    with pytest.raises(ValueError, match="dst_addr"):
        read_pcap(PCAP_DIR / "eth_us_le.pcap", dst_addr="not-an-address")
    with pytest.raises(ValueError, match="dst_port"):
        read_pcap(PCAP_DIR / "eth_us_le.pcap", dst_port=70000)


def test_flow_ids_stable_across_batches() -> None:
    big = read_pcap(PCAP_DIR / "eth_us_le.pcap")
    b = next(big)
    keys_big = [b.flows[i] for i in b.flow_ids.tolist()]
    small = read_pcap(PCAP_DIR / "eth_us_le.pcap", batch_size=2)
    keys_small = []
    seen: list = []
    for batch in small:
        assert batch.flows[: len(seen)] == seen  # earlier ids keep their meaning
        seen = list(batch.flows)
        keys_small += [batch.flows[i] for i in batch.flow_ids.tolist()]
    assert keys_small == keys_big
    assert len(small.flows) == 3


def test_payload_bytes_are_the_sent_ones() -> None:
    rows = list(read_pcap(PCAP_DIR / "ng_multi.pcapng"))
    b = rows[0]
    assert b.payload(0) == make_pcaps.payload(100, 0)
    assert b.payload(1) == make_pcaps.payload(301, 1)
    assert b.flows[int(b.flow_ids[0])].dst_addr == make_pcaps.V6B


def _pcap_header(snaplen: int = 65535) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)


def test_garbage_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.pcap"
    p.write_bytes(b"this is not a capture at all")
    with pytest.raises(ValueError, match=r"junk.pcap: byte 0: not a pcap or pcapng"):
        read_pcap(p)
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="junk.pcap: file is empty"):
        read_pcap(p)
    p.write_bytes(_pcap_header()[:10])
    with pytest.raises(ValueError, match="file header needs 24 bytes"):
        read_pcap(p)


def test_record_larger_than_snaplen(tmp_path: Path) -> None:
    p = tmp_path / "capture.pcap"
    frame = make_pcaps.eth(make_pcaps.udp4(1, 2, 100, 0), 0x0800)
    good = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    bad = struct.pack("<IIII", 1, 0, 70000, 70000) + b"\0" * 100
    p.write_bytes(_pcap_header() + good + bad)
    reader = read_pcap(p)
    with pytest.raises(ValueError) as exc:
        list(reader)
    pos = 24 + len(good)
    assert (
        str(exc.value) == f"capture.pcap: record at byte {pos} claims 70000 bytes, snaplen is 65535"
    )


def test_truncated_pcap(tmp_path: Path) -> None:
    src = (PCAP_DIR / "eth_us_le.pcap").read_bytes()
    p = tmp_path / "cut.pcap"
    p.write_bytes(src[:1000])
    with pytest.raises(
        ValueError, match=r"cut.pcap: record at byte \d+ claims \d+ bytes, only \d+ remain"
    ):
        list(read_pcap(p))
    p.write_bytes(src[: 24 + 16 + 1358 + 8])  # one whole record, then half a header
    with pytest.raises(ValueError, match=r"record at byte 1398: header needs 16 bytes"):
        list(read_pcap(p))


def test_damaged_pcapng(tmp_path: Path) -> None:
    src = (PCAP_DIR / "ng_multi.pcapng").read_bytes()
    p = tmp_path / "cut.pcapng"
    p.write_bytes(src[:-30])
    with pytest.raises(
        ValueError,
        match=r"cut.pcapng: block at byte 6064 \(type 0x3\) claims 136 bytes, only 130 remain",
    ):
        list(read_pcap(p))
    bad = bytearray(src)
    struct.pack_into("<I", bad, 4, 13)  # SHB length not a multiple of 4
    p.write_bytes(bytes(bad))
    with pytest.raises(
        ValueError, match=r"block at byte 0 \(type 0xa0d0d0a\) has invalid length 13"
    ):
        list(read_pcap(p))
    e = "<"
    frame = make_pcaps.udp6(1, 2, 10, 0)
    p.write_bytes(make_pcaps.shb(e) + make_pcaps.idb(e, 101) + make_pcaps.epb(e, 3, 0, frame))
    with pytest.raises(ValueError, match=r"packet block at byte 48 refers to interface 3, only 1"):
        list(read_pcap(p))
    bad = bytearray(make_pcaps.shb(e))
    bad[8:12] = b"abcd"
    p.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="bad byte-order magic"):
        list(read_pcap(p))


def test_pcapng_power_of_two_and_offset() -> None:
    rows, _ = _rows(PCAP_DIR / "ng_pow2_be.pcapng")
    assert len(rows) == 12
    for i, (ns, _, _) in enumerate(rows):
        exact = make_pcaps._t(i, 1_048_576_000)
        assert 0 <= exact - ns < (1_000_000 if i % 3 == 0 else 1000)  # ms and 2^-20 s units


def _one_interface(path: Path, tsresol: int, tsoffset: int, *units: int) -> Path:
    e = "<"
    frame = make_pcaps.udp4(1, 2, 10, 0)
    blocks = [make_pcaps.shb(e), make_pcaps.idb(e, 101, tsresol, tsoffset)]
    blocks += [make_pcaps.epb(e, 0, u, frame) for u in units]
    path.write_bytes(b"".join(blocks))
    return path


@pytest.mark.parametrize(
    ("tsresol", "tsoffset", "units", "want_ns"),
    [
        (63, 5, [0, 2**64 - 1], [5 * 10**9] * 2),  # 10^-63 s: every count is under 1 ns
        (127, 0, [2**63], [0]),
        (0xFF, 7, [2**64 - 1], [7 * 10**9]),  # 2^-127 s
        (0x80 | 63, 0, [2**63 + 2**62], [1_500_000_000]),  # 2^-63 s
        (9, -9_300_000_000, [6_500_000_000_000_000_000], [6_500_000_000_000_000_000 - 93 * 10**17]),
        (0, -(2**33), [2**33 + 1], [10**9]),  # seconds, offset back to 1970
    ],
)
def test_pcapng_extreme_resolution_and_offset_exact(
    tmp_path: Path, tsresol: int, tsoffset: int, units: list[int], want_ns: list[int]
) -> None:
    """Any if_tsresol and if_tsoffset are taken exactly when the times fit 64-bit ns."""
    rows, _ = _rows(_one_interface(tmp_path / "x.pcapng", tsresol, tsoffset, *units))
    assert [ns for ns, _, _ in rows] == want_ns


@pytest.mark.parametrize(
    ("tsresol", "tsoffset", "units", "unit"),
    [
        (6, 2**62, [1], "10^-6"),
        (6, -(2**62), [1], "10^-6"),
        (0, 0, [10**10], "10^-0"),  # 10^10 s: after 2262
        (0x80, 0, [2**63], "2^-0"),
    ],
)
def test_pcapng_times_beyond_64_bit_ns_are_refused(
    tmp_path: Path, tsresol: int, tsoffset: int, units: list[int], unit: str
) -> None:
    """A time 64-bit ns cannot hold is refused with the interface block and its options, not
    an OverflowError; probe says so and stops without a traceback."""
    p = _one_interface(tmp_path / "far.pcapng", tsresol, tsoffset, 0, *units)
    message = (
        r"far.pcapng: interface block at byte 28: timestamp \d+ in units of "
        rf"{re.escape(unit)} s \(if_tsresol\) plus {tsoffset} s \(if_tsoffset\) is outside"
    )
    with pytest.raises(ValueError, match=message):
        list(read_pcap(p))
    result = CliRunner().invoke(cli, ["probe", str(p)])
    assert result.exit_code != 0 and not isinstance(result.exception, OverflowError)
    assert "interface block at byte 28" in result.output and "Traceback" not in result.output


def test_non_udp_and_unknown_link(tmp_path: Path) -> None:
    p = tmp_path / "other.pcap"
    frame = b"\x01\x02\x03"
    p.write_bytes(
        struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147)
        + struct.pack("<IIII", 1, 0, 3, 3)
        + frame
    )
    reader = read_pcap(p)
    assert list(reader) == []
    assert reader.stats.records == 1 and reader.stats.non_udp == 1


def test_speed_constant_and_mixed_sizes(tmp_path: Path) -> None:
    """A loose floor (shared CI machines): the target is >= 1e6 datagrams/s."""
    for sizes in ((1316,), (1316, 200, 1328)):
        p = tmp_path / "big.pcap"
        make_pcaps.write_large(p, 200_000, sizes)
        t = time.perf_counter()
        reader = read_pcap(p)
        n = sum(len(b) for b in reader)
        dt = time.perf_counter() - t
        assert n == 200_000
        assert reader.stats.udp == 200_000
        assert n / dt > 150_000, f"{n / dt:.0f} datagrams/s for sizes {sizes}"
        lengths = np.concatenate([b.lengths for b in read_pcap(p, batch_size=4096)])
        assert lengths[: len(sizes)].tolist() == list(sizes)


def _until_fault(path: Path, batch_size: int) -> tuple[int, int, str]:
    """(datagrams delivered, records counted, the fault's message) of a damaged capture; after
    the fault the reader is at its end."""
    reader = read_pcap(path, batch_size=batch_size)
    delivered = 0
    with pytest.raises(ValueError) as exc:
        for batch in reader:
            delivered += len(batch)
    with pytest.raises(StopIteration):
        next(reader)
    return delivered, reader.stats.records, str(exc.value)


@pytest.mark.parametrize("compiled", [True, False], ids=["kernels", "numpy"])
@pytest.mark.parametrize("batch_size", [1, 3, 65536])
def test_records_before_a_fault_are_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool, batch_size: int
) -> None:
    """Nothing before a fault is lost: the batch that meets it ends at the record before,
    whatever the batch size, with and without the compiled reader; the next call raises."""
    from iec62379.collectors.core import fast

    if compiled and fast.kernels is None:
        # CI requires the extension (.ci/run): there a missing build fails, not skips.
        if os.environ.get("IEC62379_REQUIRE_NATIVE") == "1":
            pytest.fail("the C extension is not built and IEC62379_REQUIRE_NATIVE=1")
        pytest.skip("the C extension is not built")
    if not compiled:
        monkeypatch.setattr(fast, "kernels", None)
    frames = [make_pcaps.eth(make_pcaps.udp4(1, 5000 + i, 100, i), 0x0800) for i in range(5)]
    good = b"".join(struct.pack("<IIII", 1, i, len(f), len(f)) + f for i, f in enumerate(frames))
    p = tmp_path / "cap.pcap"
    # cut inside the last record, inside a record header, a record over the snap length
    p.write_bytes(_pcap_header() + good[:-10])
    assert _until_fault(p, batch_size)[:2] == (4, 4)
    p.write_bytes(_pcap_header() + good + b"\0" * 9)
    d, r, msg = _until_fault(p, batch_size)
    assert (d, r) == (5, 5) and "header needs 16 bytes" in msg
    p.write_bytes(_pcap_header() + good + struct.pack("<IIII", 1, 0, 70000, 70000))
    d, r, msg = _until_fault(p, batch_size)
    assert (d, r) == (5, 5) and "snaplen is 65535" in msg
    # pcapng: cut in the last block; a block naming an interface not defined; a block whose
    # captured length is more than it holds
    e = "<"
    head = make_pcaps.shb(e) + make_pcaps.idb(e, 1)
    blocks = [make_pcaps.epb(e, 0, i, f) for i, f in enumerate(frames)]
    q = tmp_path / "cap.pcapng"
    q.write_bytes(head + b"".join(blocks)[:-6])
    d, r, msg = _until_fault(q, batch_size)
    assert (d, r) == (4, 4) and "file truncated" in msg
    q.write_bytes(head + b"".join(blocks[:3]) + make_pcaps.epb(e, 7, 0, frames[3]))
    d, r, msg = _until_fault(q, batch_size)
    assert (d, r) == (3, 3) and "refers to interface 7, only 1 defined" in msg
    bad = bytearray(blocks[2])
    struct.pack_into("<I", bad, 20, 5000)  # captured length past the block
    q.write_bytes(head + b"".join(blocks[:2]) + bytes(bad) + blocks[3])
    d, r, msg = _until_fault(q, batch_size)
    assert (d, r) == (2, 2) and "claims 5000 bytes, block holds" in msg
