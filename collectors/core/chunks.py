"""Per-chunk sums of a feed call (a chunk: the datagrams of one interval).

``rtp_rows_reference`` is the readable rule for the RTP side of a chunk: RFC 3550 loss,
reordering and duplicates (from ``SequenceTracker``), the TS packets the gaps stand for
(RFC 4445 MLR: each missing datagram counts the TS packets of the last datagram that had
any) and the EBU Tech 3337 TS-DF spread against the chunk's reference packet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .seq import SeqResult
from .tsdf import TsdfMeter


def seg_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of values[bounds[i] : bounds[i + 1]] (int64; bounds ascending), over the
    non-zero values only (these are counts of rare events)."""
    nz = values.nonzero()[0]
    c = np.zeros(nz.shape[0] + 1, dtype=np.int64)
    if nz.shape[0]:
        np.cumsum(values[nz], out=c[1:])
    cut = nz.searchsorted(bounds)
    return c[cut[1:]] - c[cut[:-1]]


def gap_ts_packets(gap: np.ndarray, nts: np.ndarray, usual_ts: int, default_ts: int) -> np.ndarray:
    """The TS packets each RTP datagram's gap (``SeqResult.gap``: datagrams lost before it)
    stands for: the gap times the TS packets of the last non-empty datagram up to it (the
    call's datagrams ``nts``; before the first, ``usual_ts``, else ``default_ts``)."""
    pos = np.where(nts > 0, np.arange(nts.shape[0]), -1)
    pos = np.maximum.accumulate(pos)
    usual = np.where(pos >= 0, nts[np.maximum(pos, 0)], usual_ts)
    usual = np.where(usual > 0, usual, default_ts)
    return gap * usual


def rtp_rows_reference(
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
    """Per chunk (the RTP datagrams rtp_idx[rb[c] : rb[c + 1]] of one source) one row:
    datagrams, lost, late, duplicates, sequence restarts, TS packets the gaps stand for,
    and TS-DF's reference arrival and timestamp, least and greatest delay against it. The
    reference is the chunk's first datagram, or the open period's (tsdf.ref_r, ref_s) for
    the first chunk when it ``continues`` that period. Advances tsdf's unwrap state; returns
    the rows and the usual TS packets per datagram after them."""
    m_rtp = rtp_idx.shape[0]
    nch = rb.shape[0] - 1
    nts = n_ts[rtp_idx]
    lost_rtp = seg_sums(res.gap, rb)
    late = seg_sums(res.late, rb)
    dups = seg_sums(res.dup, rb)
    restarts = np.zeros(nch, dtype=np.int64)
    if res.restart_at:
        np.add.at(restarts, rb.searchsorted(res.restart_at, side="right") - 1, 1)
    if res.gap.any():
        ts_lost = seg_sums(gap_ts_packets(res.gap, nts, usual_ts, default_ts), rb)
    else:
        ts_lost = np.zeros(nch, dtype=np.int64)
    nz = nts.nonzero()[0]
    if nz.size:
        usual_ts = int(nts[nz[-1]])
    arr_rtp = arrival[rtp_idx]
    ext = tsdf.unwrap(ts[rtp_idx])
    lens = np.diff(rb)
    first = np.minimum(rb[:-1], m_rtp - 1)
    ref_r = arr_rtp[first]
    ref_s = ext[first]
    if continues:
        ref_r[0] = tsdf.ref_r
        ref_s[0] = tsdf.ref_s
    dd = (arr_rtp - np.repeat(ref_r, lens)).astype(np.float64) - (
        ext - np.repeat(ref_s, lens)
    ) * tsdf.ns_per_tick
    full = lens.nonzero()[0]
    dmin = np.zeros(nch)
    dmax = np.zeros(nch)
    dmin[full] = np.minimum.reduceat(dd, rb[full])
    dmax[full] = np.maximum.reduceat(dd, rb[full])
    cols = (lens, lost_rtp, late, dups, restarts, ts_lost, ref_r, ref_s, dmin, dmax)
    return [list(r) for r in zip(*(c.tolist() for c in cols), strict=True)], usual_ts
