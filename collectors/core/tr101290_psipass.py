"""The PSI side of the TR 101 290 checks (a mixin of ``Tr101290Checker``): CAT_error's
scrambled packets, and the PAT, PMT, CAT and SI sections of PAT_error_2, PMT_error_2,
CRC_error and CAT_error, with repeated packets taken in bulk."""

from __future__ import annotations

import numpy as np
from iec62379.mibs.vocabulary import TsTest

from . import fast
from .rare import repeats, same_packet
from .tr101290_psi import PAT_PID, PsiEvents, PsiWatch
from .tr101290_watch import (
    _PES,
    _PSI,
    _REF,
    Fault,
)
from .ts import TS_PACKET_SIZE, TsHeaders


def psi_repeats_reference(
    data: np.ndarray, starts: np.ndarray, at: np.ndarray, pid: np.ndarray
) -> np.ndarray:
    """eq[j]: the PSI packet at data[starts[at[j]]] equals the one before it in at on the same
    PID (pid[at[j]]) apart from its continuity counter (``rare.repeats``); the first packet
    of each PID: False. The rule of ``fast.psi_repeats``' kernel."""
    pids_at = pid[at]
    eq = np.zeros(at.shape[0], dtype=bool)
    for p in np.unique(pids_at).tolist():
        k = np.flatnonzero(pids_at == p)
        eq[k] = repeats(data, starts[at[k]])
    return eq


class PsiPasses:
    """Tr101290Checker's PSI passes (the state is the checker's)."""

    _memo: dict[int, bytes]
    _memo_ev: dict[int, PsiEvents]
    _psi: PsiWatch
    _faults: dict[TsTest, list[Fault]]
    _lut: np.ndarray
    _psi_lut: np.ndarray
    _tables_version: int

    def _scrambled(self, sc: np.ndarray, t: np.ndarray, cat_at: int | None) -> None:
        """CAT_error: the scrambled packets at sc (without a header error) before any CAT,
        the first of each interval."""
        if sc.size == 0:
            return
        times = t[sc]
        if cat_at is not None:
            times = times[times < cat_at]
            if times.size == 0:
                return
        k = self._k(times)
        first = np.flatnonzero(np.diff(k, prepend=np.int64(-(1 << 62))))
        seen = self._scrambled_k
        for kk, tt in zip(k[first].tolist(), times[first].tolist(), strict=True):
            seen.setdefault(kk, tt)

    def _psi_pass(
        self, data: np.ndarray, starts: np.ndarray, t: np.ndarray, h: TsHeaders, at: np.ndarray
    ) -> int | None:
        """The PSI packets at (stream order); the position after a packet that changed the
        tables (the rest is not looked at), else None.

        A packet identical to the one before it on its PID (but for the continuity counter),
        when that one's feed was repeatable (one whole section, nothing pending), shows the
        same again: such copies are taken in bulk, the others one by one."""
        copy = fast.psi_repeats(data, starts, at, h.pid)
        memos = self._memo
        u, first = np.unique(h.pid[at], return_index=True)
        for p, j in zip(u.tolist(), first.tolist(), strict=True):
            m = memos.get(p)
            copy[j] = m is not None and same_packet(m, data, int(starts[at[j]]))
        crc_t: list[np.ndarray] = []
        cat_t: list[int] = []
        restart: int | None = None
        prev = 0
        for head in np.flatnonzero(~copy).tolist():
            if head > prev:
                self._copies(data, starts, t, h, at[prev:head], crc_t, cat_t)
            prev = head + 1
            i = int(at[head])
            if self._psi_one(data, int(starts[i]), int(t[i]), h, i, crc_t, cat_t):
                restart = i + 1
                break
        else:
            if prev < at.size:
                self._copies(data, starts, t, h, at[prev:], crc_t, cat_t)
        if crc_t:
            self._event(TsTest.crcError, np.sort(np.concatenate(crc_t)))
        if cat_t:
            self._event(TsTest.catError, np.asarray(sorted(cat_t), dtype=np.int64))
        return restart

    def _copies(
        self,
        data: np.ndarray,
        starts: np.ndarray,
        t: np.ndarray,
        h: TsHeaders,
        pos: np.ndarray,
        crc_t: list[np.ndarray],
        cat_t: list[int],
    ) -> None:
        """Packets at pos, each a copy of the packet before it on its PID."""
        pids = h.pid[pos]
        for p in np.unique(pids).tolist():
            sel = pos[pids == p]
            ev = self._memo_ev.get(p) if p in self._memo else None
            if ev is None:  # the feed before was not repeatable: one by one
                for i in sel.tolist():
                    self._psi_one(data, int(starts[i]), int(t[i]), h, i, crc_t, cat_t)
                continue
            asm_cc = self._psi.last_cc(p)
            cs = h.cc[sel].astype(np.int16)
            before = np.empty_like(cs)
            before[0] = asm_cc
            before[1:] = cs[:-1]
            times = t[sel][cs != before]  # a repeated counter: a duplicate, ignored
            self._psi.set_last_cc(p, int(cs[-1]))
            if times.size == 0:
                continue
            if ev.pat:
                self._pat.occur_many(PAT_PID, times, self._pat_ns, self._faults[TsTest.patError2])
            if ev.pmt:
                self._pmt.occur_many(p, times, self._pmt_ns, self._faults[TsTest.pmtError2])
            if ev.cat and self._cat_at is None:
                self._cat_at = int(times[0])
            if ev.crc_errors:
                crc_t.append(np.repeat(times, ev.crc_errors))
            if ev.pat_wrong_table:
                self._faults[TsTest.patError2].extend(Fault(x, x) for x in times.tolist())
            if ev.cat_wrong_table:
                cat_t.extend(times.tolist())

    def _psi_one(
        self,
        data: np.ndarray,
        s: int,
        tt: int,
        h: TsHeaders,
        i: int,
        crc_t: list[np.ndarray],
        cat_t: list[int],
    ) -> bool:
        """One PSI packet (packet i, at s in data, arrived at tt); True if the tables changed."""
        psi = self._psi
        p = int(h.pid[i])
        if data[s + 3] & 0xC0:  # scrambled: PAT_error_2 / PMT_error_2 on those PIDs
            self._memo.pop(p, None)
            if p == PAT_PID:
                self._faults[TsTest.patError2].append(Fault(tt, tt))
            elif p in psi.pmt_pids:
                self._faults[TsTest.pmtError2].append(Fault(tt, tt, p))
            return False
        off = int(h.payload_offset[i])
        if off >= TS_PACKET_SIZE:
            self._memo.pop(p, None)
            return False
        payload = data[s + off : s + TS_PACKET_SIZE].tobytes()
        ev = psi.feed(p, payload, bool(h.pusi[i]), int(h.cc[i]))
        if ev.pat:
            self._pat.occur(PAT_PID, tt, self._pat_ns, self._faults[TsTest.patError2])
        if ev.pat_wrong_table:
            self._faults[TsTest.patError2].append(Fault(tt, tt))
        if ev.pmt:
            self._pmt.occur(p, tt, self._pmt_ns, self._faults[TsTest.pmtError2])
        if ev.cat and self._cat_at is None:
            self._cat_at = tt
        if ev.cat_wrong_table:
            cat_t.append(tt)
        if ev.crc_errors:
            crc_t.append(np.full(ev.crc_errors, tt, dtype=np.int64))
        if ev.tables_changed:
            self._tables_changed(tt)
            return True
        if ev.repeatable:
            self._memo[p] = data[s : s + TS_PACKET_SIZE].tobytes()
            self._memo_ev[p] = ev
        else:
            self._memo.pop(p, None)
        return False

    def _tables_changed(self, t: int) -> None:
        """The PAT or a PMT changed at t: what is watched follows."""
        psi = self._psi
        self._tables_version += 1
        self._memo.clear()
        if psi.pmt_pids:
            self._since.setdefault(TsTest.pmtError2, t)
        if psi.programs:
            self._since.setdefault(TsTest.pidError, t)
        lut = self._lut
        lut[:] = 0
        for p in psi.watched():
            lut[p] |= _PSI
        pes = psi.pes_pids()
        for p in pes:
            lut[p] |= _PES
        refs = psi.referred()
        for p in refs:
            lut[p] |= _REF
        self._refs = sorted(refs)
        np.not_equal(lut & _PSI, 0, out=self._psi_lut)
        for watch, keys in (
            (self._pmt, set(psi.pmt_pids)),
            (self._ref, refs),
        ):
            for k in list(watch.last):
                if k not in keys:
                    watch.drop(k)
            for k in keys:
                watch.arm(k, t)
        for k in list(self._pts.last):
            if k not in pes:
                self._pts.drop(k)
        self._pcr_known = psi.pcr_pids()
        if psi.programs:
            for k in list(self._pcr.last):
                if k not in self._pcr_known:
                    self._pcr.drop(k)

