"""`iec62379 probe rtp://...` takes SMPTE 2022-1 FEC from port + 2 (columns) and + 4 (rows).

The media stream is a fixture planned by the generator; the FEC streams are built here as a
2022-1 sender would: for an L x D matrix over consecutive media packets, a column FEC packet
protects the D packets SNBase, SNBase + L, ... (Offset = L, NA = D) and a row FEC packet the L
packets SNBase .. SNBase + L - 1 (Offset = 1, NA = L). Each carries the 16-byte FEC header
(SMPTE 2022-1 clause 8: SNBase, length recovery, E = 1, PT recovery, mask 0, TS recovery, D bit,
type 0 = XOR, Offset, NA) and the XOR of the protected RTP payloads, after an RTP header of its
own (payload type 96, its own sequence numbers). Everything is sent on loopback, in send order
(media, then the FEC packets a matrix row or column completes), paced by the plan.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from iec62379.collectors import generator as g
from procs import popen

pytestmark = pytest.mark.integration

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media" / "h264_mp2.ts"
CLI = Path(sys.executable).with_name("iec62379")
L_COLS, D_ROWS = 5, 6


def free_port_triple() -> int:
    """A port P with P, P + 2 and P + 4 free on 127.0.0.1."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 4 > 65535:
            continue
        socks = []
        try:
            for off in (0, 2, 4):
                t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(t)
                t.bind(("127.0.0.1", port + off))
            return port
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free port triple")


def _xor(chunks: list[bytes]) -> bytes:
    size = max(len(c) for c in chunks)
    acc = np.zeros(size, dtype=np.uint8)
    for c in chunks:
        acc[: len(c)] ^= np.frombuffer(c, dtype=np.uint8)
    return acc.tobytes()


def fec_packet(fec_seq: int, media: list[bytes], *, row: bool, ssrc: int) -> bytes:
    """One SMPTE 2022-1 FEC packet over the RTP media packets given (in order)."""
    seqs = [struct.unpack_from(">H", m, 2)[0] for m in media]
    payloads = [m[12:] for m in media]
    length_rec = 0
    pt_rec = 0
    ts_rec = 0
    for m, p in zip(media, payloads, strict=True):
        length_rec ^= len(p)
        pt_rec ^= m[1] & 0x7F
        ts_rec ^= struct.unpack_from(">I", m, 4)[0]
    offset, na = (1, L_COLS) if row else (L_COLS, D_ROWS)
    header = struct.pack(
        ">HHB3sIBBBB",
        seqs[0],  # SNBase low bits
        length_rec,
        0x80 | pt_rec,  # E = 1, PT recovery
        b"\0\0\0",  # mask
        ts_rec,
        (0x40 if row else 0) | (0 << 3),  # X = 0, D, type 0 (XOR), index 0
        offset,
        na,
        0,  # SNBase extension bits
    )
    rtp = struct.pack(">BBHII", 0x80, 96, fec_seq & 0xFFFF, ts_rec, ssrc)
    return rtp + header + _xor(payloads)


def send_with_fec(port: int, seconds: float) -> tuple[int, int, int]:
    """Media to port, column FEC to port + 2, row FEC to port + 4; (media, columns, rows)."""
    plan = g.Plan(MEDIA.read_bytes(), g.PlanConfig(seed=4, loops=None))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    matrix: list[bytes] = []
    col_seq = row_seq = 0
    sent = cols = rows = 0
    start = time.monotonic()
    try:
        for dg in plan:
            if dg.departure_ns / 1e9 > seconds:
                break
            delay = start + dg.departure_ns / 1e9 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            tx.sendto(dg.payload, ("127.0.0.1", port))
            sent += 1
            matrix.append(dg.payload)
            if len(matrix) % L_COLS == 0:  # a row is complete
                tx.sendto(fec_packet(row_seq, matrix[-L_COLS:], row=True, ssrc=0x2022),
                          ("127.0.0.1", port + 4))
                row_seq += 1
                rows += 1
            if len(matrix) == L_COLS * D_ROWS:  # the matrix is complete: its columns
                for c in range(L_COLS):
                    tx.sendto(fec_packet(col_seq, matrix[c::L_COLS], row=False, ssrc=0x2022),
                              ("127.0.0.1", port + 2))
                    col_seq += 1
                    cols += 1
                matrix = []
    finally:
        tx.close()
    return sent, cols, rows


def test_fec_packet_builder_round_trips() -> None:
    from iec62379.collectors.core.fec import parse_fec_packet

    media = [g.rtp_header(100 + i, 9000 * i, 7) + bytes([i]) * 1316 for i in range(L_COLS)]
    h = parse_fec_packet(fec_packet(3, media, row=True, ssrc=1))
    assert h.row and h.l == L_COLS and h.offset == 1 and h.sn_base == 100
    assert h.extended and h.fec_type == 0 and h.pt_recovery == 33  # 5 x PT 33, XORed
    col = parse_fec_packet(fec_packet(4, media[:1] * D_ROWS, row=False, ssrc=1))
    assert not col.row and (col.l, col.d) == (L_COLS, D_ROWS)


def test_probe_reports_fec_from_port_plus_2_and_4() -> None:
    port = free_port_triple()
    probe = popen(
        [str(CLI), "probe", f"rtp://127.0.0.1:{port}", "--json", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert probe.stderr is not None
        ready, _, _ = select.select([probe.stderr], [], [], 20)
        if not ready:
            pytest.fail("probe did not start receiving within 20 s")
        banner = probe.stderr.readline()
        assert banner.startswith(f"receiving rtp://127.0.0.1:{port}"), banner
        assert f"FEC on ports {port + 2}, {port + 4}" in banner, banner
        sent, cols, rows = send_with_fec(port, 2.5)
        # stopped once all is sent (loopback: it is in the sockets), not after a time a busy
        # machine could overrun
        probe.send_signal(signal.SIGTERM)
        out, err = probe.communicate(timeout=30)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
    assert probe.returncode == 0, err
    reports = [json.loads(line) for line in out.splitlines()]
    # one stream only: the FEC flows are not streams of their own
    assert {r["stream"] for r in reports} == {f"127.0.0.1:{port}"}
    assert sum(r["datagrams"] for r in reports) == sent  # FEC is not counted as media
    assert sum(r["rtp_lost"] for r in reports) == 0
    details = [r["fec_detail"] for r in reports]
    assert sum(d["column_packets"] for d in details) == cols > 0
    assert sum(d["row_packets"] for d in details) == rows > 0
    full = [r for r in reports if r["datagrams"] and not r["partial"]]
    assert full
    for r in full:
        assert r["fec"] == "smpte_2022_1"
        assert r["fec_detail"]["type"] == "smpte2022Dash1"
        assert (r["fec_detail"]["l_cols"], r["fec_detail"]["d_rows"]) == (L_COLS, D_ROWS)
        assert r["fec_detail"]["length_dimension"] == L_COLS * 100 + D_ROWS


def test_probe_without_fec_reports_none() -> None:
    """udp:// does not listen for FEC; an rtp:// stream without FEC reports none."""
    port = free_port_triple()
    probe = popen(
        [str(CLI), "probe", f"udp://127.0.0.1:{port}", "--json", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert probe.stderr is not None
        select.select([probe.stderr], [], [], 20)
        banner = probe.stderr.readline()
        assert "FEC" not in banner
        plan = g.Plan(MEDIA.read_bytes(), g.PlanConfig(seed=4))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for dg in plan.datagrams()[:200]:
                tx.sendto(dg.payload, ("127.0.0.1", port))
                time.sleep(0.001)
        probe.send_signal(signal.SIGTERM)
        out, err = probe.communicate(timeout=30)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait(timeout=10)
    assert probe.returncode == 0, err
    reports = [json.loads(line) for line in out.splitlines()]
    assert reports and all(r["fec"] == "none" for r in reports)
    assert all(r["fec_detail"]["l_cols"] == 0 for r in reports)
