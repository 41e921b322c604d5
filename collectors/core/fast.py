"""The one door to the optional compiled kernels (``_kernels``, built from ``_kernels.c``).

Each function here does one hot loop: with the extension built it marshals its arguments
for the C kernel; without it (no C compiler at install, or ``kernels`` set to None by a
test) it runs the readable Python reference of the same rule, which lives with the rule's
module (cc.py, seq.py, buffer.py, mdi.py, datagrams.py, chunks.py, rare.py, interval.py;
the two short ones, pcr_pairs' selection and group_by_flow's sort, here) and is the oracle
the equality tests (tests/unit/core/test_native_kernels.py) compare the kernel with. No
other module imports ``_kernels``, looks at ``kernels`` or picks a backend by dtype.
Most reference modules import this one, so it imports them in the branch that calls them.

A kernel is kept only where it saves time on a whole run (``iec62379 bench pcap``; see
docs/benchmarks.md); the pcap reader's record walk (``record_walk``) has the record walk of
collectors/sources/pcap_file.py and ``decode_packet`` (pcap_decode.py) as the reference.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import mdi
from .errors import ErrorKind
from .mdi import PcrPairs
from .ts import HEAD_BYTES, TS_PACKET_SIZE, TS_SYNC_BYTE, TsHeaders, gather_pcr, parse_ts_headers

if TYPE_CHECKING:
    from .buffer import PlayoutBuffer
    from .cc import ContinuityChecker
    from .mdi import PcrRateMeter
    from .seq import SeqResult, SequenceTracker
    from .tsdf import TsdfMeter

kernels: ModuleType | None
try:
    from . import _kernels as kernels
except ImportError:  # not built (no compiler or Python headers): the Python references run
    kernels = None


def native() -> bool:
    """True when the compiled kernels are in use."""
    return kernels is not None


# ------------------------------------------------------------------ datagrams, intervals

_TRANSPORT_MODE = {"auto": 0, "rtp": 1, "udp": 2}


def datagram_fields(
    transport: str,
    data: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    pre: tuple[np.ndarray, ...] | None,
) -> tuple[np.ndarray, ...]:
    """``datagrams.fields_reference`` (int64 offsets and lengths)."""
    k = kernels
    if k is None or pre is None:
        from . import datagrams  # (it imports this module)

        return datagrams.fields_reference(transport, data, offsets, lengths, pre)
    n = offsets.shape[0]
    err = np.empty(n, dtype=np.uint8)
    rtp_ok = np.empty(n, dtype=bool)
    base = np.empty(n, dtype=np.int64)
    n_ts = np.empty(n, dtype=np.int64)
    ts_first = np.empty(n, dtype=np.int64)
    _, n_rtp = k.dgram_fields(
        _TRANSPORT_MODE[transport],
        ErrorKind.TS_LENGTH,
        pre[0],
        pre[1],
        pre[5].astype(np.int64, copy=False),
        pre[6].astype(np.int64, copy=False),
        offsets,
        lengths,
        n,
        err,
        rtp_ok,
        base,
        n_ts,
        ts_first,
    )
    if n_rtp == n:
        seq, ts, ssrc = pre[2:5]
    elif n_rtp == 0:
        seq = ts = ssrc = np.zeros(n, dtype=np.int64)
    else:
        is_rtp = (
            np.ones(n, dtype=bool)
            if transport == "rtp"
            else (lengths > 0) & (pre[0] != TS_SYNC_BYTE)
        )
        seq, ts, ssrc = (np.where(is_rtp, a, 0).astype(np.int64) for a in pre[2:5])
    return err, rtp_ok, seq, ts, ssrc, n_ts, ts_first, base


def ts_layout(
    n_ts: np.ndarray, ts_first: np.ndarray, base: np.ndarray, hfirst: np.ndarray | None, total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``datagrams.ts_layout_reference``."""
    k = kernels
    if k is None:
        from . import datagrams  # (it imports this module)

        return datagrams.ts_layout_reference(n_ts, ts_first, base, hfirst, total)
    dgram = np.empty(total, dtype=np.int64)
    ts_start = np.empty(total, dtype=np.int64)
    hst = None if hfirst is None else np.empty(total, dtype=np.int64)
    k.ts_layout(n_ts, base, hfirst, HEAD_BYTES, n_ts.shape[0], total, dgram, ts_start, hst)
    return dgram, ts_start, hst


def pid_rates(counts: np.ndarray, secs: float) -> dict[int, float]:
    """``interval.pid_rates_reference`` (zeroes counts)."""
    k = kernels
    if k is None or counts.dtype != np.int64:
        from . import interval  # (it imports this module)

        return interval.pid_rates_reference(counts, secs)
    return k.pid_rates(counts, TS_PACKET_SIZE * 8, secs)  # type: ignore[no-any-return]


def delay_factor(arrival_ns: np.ndarray, media_bytes: np.ndarray, rate_bps: float) -> float:
    """``mdi.delay_factor_ms``."""
    k = kernels
    n = arrival_ns.shape[0]
    if k is None or n == 0 or rate_bps <= 0 or media_bytes.dtype != np.int64:
        return mdi.delay_factor_ms(arrival_ns, media_bytes, rate_bps)
    return float(k.delay_factor(arrival_ns, media_bytes, n, float(rate_bps)))


def buffer_feed(
    buf: PlayoutBuffer, t: np.ndarray, media_bytes: np.ndarray, bps: float, cap: float
) -> None:
    """``PlayoutBuffer.feed_reference``: arrivals t (int64, in order) into the buffer."""
    k = kernels
    n = t.shape[0]
    if k is None or not n or media_bytes.dtype != np.int64:
        buf.feed_reference(t, media_bytes, bps, cap)
        return
    r = k.buffer_run(
        np.ascontiguousarray(t),
        np.ascontiguousarray(media_bytes),
        n,
        buf.level,
        buf.t or 0,
        buf.t is not None,
        buf.playing,
        bps,
        cap,
        cap / 2.0,
    )
    buf.level, tt, has_t, buf.playing = r[0], r[1], bool(r[2]), bool(r[3])
    buf.t = tt if has_t else None
    buf.underflows += r[4]
    buf.overflows += r[5]


# ------------------------------------------------------------------ TS headers, continuity


def _empty_headers(n: int) -> TsHeaders:
    return TsHeaders(
        error=np.empty(n, dtype=np.uint8),
        pid=np.empty(n, dtype=np.uint16),
        pusi=np.empty(n, dtype=bool),
        afc=np.empty(n, dtype=np.uint8),
        cc=np.empty(n, dtype=np.uint8),
        discontinuity=np.empty(n, dtype=bool),
        has_pcr=np.empty(n, dtype=bool),
        payload_offset=np.empty(n, dtype=np.int16),
    )


def _ts_kernel(
    k: ModuleType, data: np.ndarray, starts: np.ndarray, extra: tuple[np.ndarray, ...] | None
) -> tuple[TsHeaders, Any]:
    n = starts.shape[0]
    h = _empty_headers(n)
    r = k.ts_headers(
        np.ascontiguousarray(data),
        np.ascontiguousarray(starts, dtype=np.int64),
        n,
        h.error,
        h.pid,
        h.pusi,
        h.afc,
        h.cc,
        h.discontinuity,
        h.has_pcr,
        h.payload_offset,
        ErrorKind.TS_SYNC,
        ErrorKind.TS_TEI,
        ErrorKind.TS_AFC,
        ErrorKind.TS_AF_LENGTH,
        extra,
    )
    return h, r


def ts_headers_cc(
    data: np.ndarray, starts: np.ndarray, checker: ContinuityChecker
) -> tuple[TsHeaders, np.ndarray, np.ndarray, int]:
    """In one pass: the TS headers of the packets at starts, the continuity check
    (``ContinuityChecker.errors_at``) with error positions among all the packets, and how
    many have a header error.

    The continuity check takes the packets without a header error and those whose only fault
    is an invalid adaptation_field_length: their header and counter are valid and they
    arrived, so skipping them would count a loss that did not happen."""
    k = kernels
    if k is None or data.dtype != np.uint8:
        h = parse_ts_headers(data, starts)
        err = h.error
        valid = err == 0
        nbad = int(starts.shape[0] - np.count_nonzero(valid))
        if not nbad:
            at, lost = checker.errors_at(h.pid, h.cc, h.afc, h.discontinuity)
            return h, at, lost, nbad
        v = (valid | (err == ErrorKind.TS_AF_LENGTH)).nonzero()[0]
        at, lost = checker.errors_at(h.pid[v], h.cc[v], h.afc[v], h.discontinuity[v])
        return h, v[at], lost, nbad
    m = starts.shape[0]
    at = np.empty(m, dtype=np.int64)
    lost = np.empty(m, dtype=np.int64)
    h, r = _ts_kernel(k, data, starts, (checker.last_cc, checker.last_dup, at, lost))
    nbad, count = r
    return h, at[:count], lost[:count], nbad


def pid_counts(
    pid: np.ndarray,
    arrival: np.ndarray,
    dgram: np.ndarray,
    counts: np.ndarray,
    last_seen: np.ndarray,
) -> None:
    """counts[p] += packets of PID p; last_seen[p] = the latest arrival[dgram] of PID p."""
    k = kernels
    if k is None or pid.dtype != np.uint16:
        counts += np.bincount(pid, minlength=counts.shape[0])
        np.maximum.at(last_seen, pid, arrival[dgram])
        return
    k.pid_counts(pid, arrival, pid.shape[0], counts, last_seen, dgram)


def rare_events(
    pid: np.ndarray,
    pusi: np.ndarray,
    pos: int,
    n: int,
    psi_lut: np.ndarray,
    probe_pid: int,
    probe_all: bool,
) -> np.ndarray:
    """``rare.rare_events_reference``: the positions (pos..n-1) of the packets of the PSI
    PIDs (psi_lut) and of the probed PID (probe_pid >= 0; every packet when probe_all, else
    the payload unit starts)."""
    k = kernels
    if (
        k is None
        or pid.dtype != np.uint16
        or pusi.dtype != np.bool_
        or psi_lut.dtype != np.bool_
        or psi_lut.shape != (8192,)
        or not 0 <= pos <= n <= min(pid.shape[0], pusi.shape[0])
    ):
        from . import rare  # (it imports this module)

        return rare.rare_events_reference(pid, pusi, pos, n, psi_lut, probe_pid, probe_all)
    out = np.empty(n - pos, dtype=np.int64)
    m = k.rare_events(
        _contiguous(pid), _contiguous(pusi), pos, n, _contiguous(psi_lut), probe_pid,
        bool(probe_all), out,
    )
    return out[:m]


# ------------------------------------------------------------------ RTP


def seq_run(
    tracker: SequenceTracker, s: np.ndarray, gap: np.ndarray, late: np.ndarray, dup: np.ndarray
) -> int:
    """``SequenceTracker.run_reference``: sequence numbers s up to a restart."""
    k = kernels
    if k is None:
        return tracker.run_reference(s, gap, late, dup)
    t = tracker
    state = np.array([t.last16, t.ext_last, t.ext_max, t.probation], dtype=np.int64)
    s = np.ascontiguousarray(s, dtype=np.int64)
    r = int(k.seq_run(s, s.shape[0], state, t.seen, gap, late, dup))
    t.last16, t.ext_last, t.ext_max, probation = state.tolist()
    t.probation = bool(probation)
    return r


def rtp_chunks(
    rtp_idx: np.ndarray,
    rb: np.ndarray,
    res: SeqResult,
    n_ts: np.ndarray,
    arrival: np.ndarray,
    ts: np.ndarray,
    usual_ts: int,
    default_ts: int,
    tsdf: TsdfMeter,
    continues: bool,
) -> tuple[list[list[Any]], int]:
    """``chunks.rtp_rows_reference``: per chunk rtp_idx[rb[c] : rb[c + 1]], one row."""
    k = kernels
    if k is None or not (n_ts.dtype == arrival.dtype == ts.dtype == np.int64):
        from . import chunks  # (it imports this module)

        return chunks.rtp_rows_reference(
            rtp_idx, rb, res, n_ts, arrival, ts, usual_ts, default_ts, tsdf, continues
        )
    nch = rb.shape[0] - 1
    rows = np.empty((nch, 8), dtype=np.int64)
    delays = np.empty((nch, 2), dtype=np.float64)
    uw = np.array([tsdf.unwrap_started, tsdf.last_raw, tsdf.last_ext], dtype=np.int64)
    ref = np.array([continues, tsdf.ref_r if continues else 0, tsdf.ref_s], dtype=np.int64)
    usual_ts = k.rtp_chunks(
        rtp_idx,
        rtp_idx.shape[0],
        rb,
        nch,
        res.gap,
        res.late,
        res.dup,
        n_ts,
        arrival,
        ts,
        usual_ts,
        default_ts,
        uw,
        ref,
        tsdf.ns_per_tick,
        rows,
        delays,
    )
    tsdf.unwrap_started = True
    tsdf.last_raw, tsdf.last_ext = int(uw[1]), int(uw[2])
    if res.restart_at:
        np.add.at(rows[:, 4], rb.searchsorted(res.restart_at, side="right") - 1, 1)
    return [r + f for r, f in zip(rows.tolist(), delays.tolist(), strict=True)], usual_ts


# ------------------------------------------------------------------ PCR, PSI, rare packets


def psi_links(
    ev: np.ndarray,
    ev_psi: np.ndarray,
    pid: np.ndarray,
    ccv: np.ndarray,
    data: np.ndarray,
    st: np.ndarray,
    entries: list[tuple[int, bytes | None, int]],
    exact: bool,
) -> tuple[np.ndarray, np.ndarray, dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """``rare.links_reference``."""
    k = kernels
    if k is None or pid.dtype != np.uint16 or ccv.dtype != np.uint8:
        from . import rare  # (it imports this module)

        return rare.links_reference(ev, ev_psi, pid, ccv, data, st, entries, exact)
    m_ev = ev.size
    next_psi = np.empty(m_ev, dtype=np.int64)
    member = np.empty(m_ev, dtype=bool)
    mem_at = np.empty(m_ev, dtype=np.int64)
    mem_cc = np.empty(m_ev, dtype=np.int64)
    mem_new = np.empty(m_ev, dtype=bool)
    groups = k.psi_links(
        ev, m_ev, pid, ccv, data, st, entries, exact, next_psi, member, mem_at, mem_cc, mem_new
    )
    members = {p: (mem_at[a:b], mem_cc[a:b], mem_new[a:b]) for p, a, b in groups}
    return next_psi, member, members



def pcr_pairs(
    meter: PcrRateMeter,
    has_pcr: np.ndarray,
    pid: np.ndarray,
    disc: np.ndarray,
    index: np.ndarray,
    src: np.ndarray,
    starts: np.ndarray,
    lo: int,
    hi: int,
) -> PcrPairs:
    """The PCRs of the meter's PCR PID among packets lo..hi-1 (with none chosen yet, the
    first PCR's PID is chosen), as ``PcrRateMeter.pairs`` gives them; PCRs are read from
    src at starts."""

    k = kernels
    if k is None or pid.dtype != np.uint16:
        sel = has_pcr[lo:hi].nonzero()[0]
        if sel.size:
            sel += lo
            if meter.pid is None:
                meter.set_pid(int(pid[sel[0]]))
            sel = sel[pid[sel] == meter.pid]
        return meter.pairs(sel, index[sel], gather_pcr(src, starts[sel]), disc[sel])
    cap = int(np.count_nonzero(has_pcr[lo:hi]))
    out = [np.empty(cap + (i >= 3), dtype=np.int64) for i in range(7)]
    last = meter.last_index
    m, chosen = k.pcr_pairs(
        has_pcr,
        pid,
        disc,
        index,
        src,
        starts,
        lo,
        hi,
        -1 if meter.pid is None else meter.pid,
        last is not None,
        0 if last is None else last,
        meter.last_pcr,
        *out,
    )
    if meter.pid is None and chosen >= 0:
        meter.set_pid(chosen)
    at, idx, pcr, steps, ticks, steps_all, ticks_all = out
    return PcrPairs(
        at[:m], idx[:m], pcr[:m], steps[: m + 1], ticks[: m + 1], steps_all[: m + 1],
        ticks_all[: m + 1],
    )


# ------------------------------------------------------------------ flows, pcap


def group_by_flow(
    flow_ids: np.ndarray, nf: int, arrays: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The rows of arrays grouped by flow id (stable), and where each flow's rows start."""
    k = kernels
    if k is None:
        order = np.argsort(flow_ids, kind="stable")
        starts = np.zeros(nf + 1, dtype=np.int64)
        np.cumsum(np.bincount(flow_ids, minlength=nf), out=starts[1:])
        return starts, [a[order] for a in arrays]
    starts = np.empty(nf + 1, dtype=np.int64)
    out = [np.empty_like(a) for a in arrays]
    k.group_by_flow(flow_ids, flow_ids.shape[0], nf, starts, tuple(arrays), tuple(out))
    return starts, out


def has_record_walk() -> bool:
    """Whether the pcap reader's one-pass record walk (``record_walk``) is built; without
    it the reader walks records in pcap_file.py and decodes each with ``decode_packet``."""
    return kernels is not None


def flow_table() -> Any:
    """A new compiled flow table (record walk only)."""
    assert kernels is not None
    return kernels.flow_table()


def flow_table_add(table: Any, rows: np.ndarray) -> int:
    """Add flow keys (rows of 5 uint64) to a compiled flow table; its new size."""
    assert kernels is not None
    return int(kernels.flow_table_add(table, rows, rows.shape[0]))


def record_outputs(limit: int) -> tuple[np.ndarray, ...]:
    """The output arrays of one record walk of at most limit records."""
    return (
        np.empty(limit, dtype=np.int64),  # offsets
        np.empty(limit, dtype=np.int32),  # lengths
        np.empty(limit, dtype=np.int64),  # arrival
        np.empty(limit, dtype=np.int32),  # flow ids
        np.empty(limit, dtype=np.uint8),  # first byte
        np.empty(limit, dtype=np.uint8),  # RTP error
        *(np.empty(limit, dtype=np.int64) for _ in range(4)),  # seq, ts, ssrc, pt
        np.empty(limit, dtype=bool),  # marker
        np.empty(limit, dtype=np.int64),  # payload offset
        np.empty(limit, dtype=np.int64),  # payload length
        np.empty((limit, 5), dtype=np.uint64),  # keys of new flows
        np.empty(limit, dtype=np.int64),  # index of the first TS header
    )


def record_walk(
    u8: np.ndarray,
    found: tuple[np.ndarray, ...] | None,
    walk: tuple[int, int, bool, int, int, int] | None,
    limit: int,
    table: Any,
    filt: tuple[Any, ...],
    rtp_codes: tuple[int, ...],
    outs: tuple[np.ndarray, ...],
) -> tuple[Any, ...]:
    """One compiled pass over pcap records: walked from walk = (pos, size, ..., linktype)
    when found is None, else the records found (pcapng). See ``_kernels.c``."""
    k = kernels
    assert k is not None
    if found is None:
        assert walk is not None
        return k.pcap_records(u8, *walk[:2], limit, *walk[2:], table, filt, rtp_codes, outs)
    return k.packet_records(u8, *found, limit, table, filt, rtp_codes, outs)


# ------------------------------------------------------------------ TR 101 290 checks


def psi_repeats(
    data: np.ndarray, starts: np.ndarray, at: np.ndarray, pid: np.ndarray
) -> np.ndarray:
    """``tr101290_psipass.psi_repeats_reference``: eq[j], the PSI packet at starts[at[j]]
    repeats the one before it in at on its PID (at increasing; the first of a PID: False)."""
    k = kernels
    if (
        k is None
        or pid.dtype != np.uint16
        or data.dtype != np.uint8
        or starts.dtype != np.int64
        or at.dtype != np.int64
    ):
        from . import tr101290_psipass  # (it imports this module)

        return tr101290_psipass.psi_repeats_reference(data, starts, at, pid)
    eq = np.empty(at.shape[0], dtype=bool)
    k.psi_repeats(
        _contiguous(data), _contiguous(starts), _contiguous(at), _contiguous(pid), at.shape[0], eq
    )
    return eq


def tr_scan(
    h: TsHeaders,
    err: np.ndarray | None,
    hdata: np.ndarray,
    hstarts: np.ndarray,
    starts: np.ndarray,
    psi_lut: np.ndarray,
    lut: np.ndarray,
    pes_flag: int,
    begin: int,
    what: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``tr101290_watch.scan_reference``: the positions (from begin on) of the PSI packets
    (what & 1), the PES packet starts (& 2), the PCRs (& 4), the scrambled packets (& 8);
    and the PCR values (& 4)."""
    k = kernels
    n = h.pid.shape[0]
    if (
        k is None
        or h.pid.dtype != np.uint16
        or (err is not None and err.dtype != np.uint8)
        or hdata.dtype != np.uint8
        or hstarts.dtype != np.int64
        or starts.dtype != np.int64
        or lut.dtype != np.uint8
    ):
        from . import tr101290_watch  # (it imports this module)

        return tr101290_watch.scan_reference(
            h, err, hdata, hstarts, starts, psi_lut, lut, pes_flag, begin, what
        )
    m = max(n - begin, 0)
    o = np.empty((5, m), dtype=np.int64)
    c = k.tr_scan(
        h.pid, _contiguous(err), _contiguous(h.pusi), _contiguous(h.has_pcr),
        _contiguous(hdata), _contiguous(hstarts), _contiguous(starts),
        psi_lut.view(np.uint8), lut, pes_flag, begin, n, what, o[0], o[1], o[2], o[3], o[4],
    )
    return o[0, : c[0]], o[1, : c[1]], o[2, : c[2]], o[3, : c[3]], o[4, : c[2]]


def gap_scan(
    pid: np.ndarray,
    t: np.ndarray,
    err: np.ndarray | None,
    lut: np.ndarray,
    flag: int,
    at: np.ndarray | None,
    limit: int,
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``tr101290_watch.gap_scan_reference``: over the packets (all, or at) of the PIDs with
    lut[p] & flag, without a header error (err None: none has one): (the PIDs seen, sorted;
    first and last time per PID, int64[8192]; the gaps longer than limit as PID, from, to)."""
    k = kernels
    if (
        k is None
        or pid.dtype != np.uint16
        or t.dtype != np.int64
        or lut.dtype != np.uint8
        or (err is not None and err.dtype != np.uint8)
        or (at is not None and at.dtype != np.int64)
    ):
        from . import tr101290_watch  # (it imports this module)

        return tr101290_watch.gap_scan_reference(pid, t, err, lut, flag, at, limit)
    n = pid.shape[0] if at is None else at.shape[0]
    seen = np.zeros(8192, dtype=np.uint8)
    first = np.empty(8192, dtype=np.int64)
    last = np.empty(8192, dtype=np.int64)
    g = np.empty((3, n), dtype=np.int64)
    m = k.gap_scan(
        _contiguous(pid), _contiguous(t), _contiguous(err), _contiguous(lut), flag,
        _contiguous(at), n, limit, seen, first, last, g[0], g[1], g[2],
    )
    pids = np.flatnonzero(seen)
    return pids.tolist(), first[pids], last[pids], g[0, :m], g[1, :m], g[2, :m]


def _contiguous(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(a)
