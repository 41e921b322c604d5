"""Closing an interval of the TR 101 290 checks (a mixin of ``Tr101290Checker``): the
outcome of every test from the faults, the events' buckets and the PCR pairs."""

from __future__ import annotations

from typing import Any

import numpy as np
from iec62379.mibs.vocabulary import TestState, TsTest

from .report import TestOutcome
from .tr101290_watch import (
    _PASS,
    _UNKNOWN,
    PCR_HZ,
    PID_TESTS,
    SYNC_ACQUIRE,
    Fault,
)
from .ts import TS_PACKET_SIZE

_ORDER = tuple(TsTest)


class ClosingChecks:
    """Tr101290Checker's interval close (the state is the checker's)."""

    def close(
        self, start: int, end: int, had_packets: bool, rate_bps: float | None, cbr: bool
    ) -> dict[TsTest, TestOutcome]:
        """The outcomes of the interval [start, end) (every packet before end fed)."""
        self.flush()
        lim = self.limits
        if self._t_first is not None:
            self._pat.due(end, self._pat_ns, self._faults[TsTest.patError2])
            self._pmt.due(end, self._pmt_ns, self._faults[TsTest.pmtError2])
            self._ref.due(end, self._ref_ns, self._faults[TsTest.pidError])
            # (a PCR PID that stops: by the arrival clock, with the limit again for jitter)
            pcr_f = self._faults[TsTest.pcrRepetitionError]
            watch = self._pcr
            for p, late in self._pcr_late.items():
                if late is not None and late < end and p not in watch.open and p in watch.last:
                    f = Fault(late, None, p)  # (from the packet that showed it)
                    watch.open[p] = f
                    pcr_f.append(f)
            self._pts.due(end, self._pts_ns, self._faults[TsTest.ptsError])
        out: dict[TsTest, TestOutcome] = {}
        origin = self._origin if self._origin is not None else self._t_first
        k = -1 if origin is None else (start - origin) // self._interval_ns
        for test, faults in self._faults.items():
            if test is not TsTest.tsSyncLoss:
                out[test] = self._status(faults, end, test in PID_TESTS, k) if faults else _PASS
        for test, buckets in self._events.items():
            if test is not TsTest.pcrAccuracyError:
                quiet = not buckets and (test is not TsTest.catError or not self._scrambled_k)
                out[test] = _PASS if quiet else self._events_until(test, k)
        out[TsTest.pcrAccuracyError] = self._accuracy(k, rate_bps if cbr else None)
        out[TsTest.tsSyncLoss] = self._sync_outcome(start, end, had_packets)
        if self._t_first is None or not had_packets:
            out = {
                k: (v if k is TsTest.tsSyncLoss else TestOutcome(TestState.UNKNOWN, 0))
                for k, v in out.items()
            }
        else:
            since = self._since
            for test in (
                TsTest.pmtError2,
                TsTest.pidError,
                TsTest.pcrRepetitionError,
                TsTest.pcrDiscontinuityError,
                TsTest.ptsError,
            ):
                at = since.get(test)
                if (at is None or at >= end) and out[test].errors == 0:
                    out[test] = TestOutcome(TestState.UNKNOWN, 0)
        if not lim.enabled.issuperset(_ORDER):
            for test in _ORDER:
                if test not in lim.enabled:
                    out[test] = TestOutcome(TestState.DISABLED, 0)
        return {test: out[test] for test in _ORDER}

    def _status(
        self, faults: list[Fault], end: int, per_pid: bool = True, k: int | None = None
    ) -> TestOutcome:
        """A status test's outcome at end from its faults. With k (the interval closing): a
        fault that began in an earlier interval without packets counts as that interval's
        (whose report is unknown, with no errors), whether or not that interval was closed
        one by one (a silence's steady intervals are queued as one run, not closed)."""
        if not faults:
            return _PASS
        errors = 0
        last: int | None = None
        failing = False
        pids: dict[int, int] = {}
        keep: list[Fault] = []
        busy = self._busy
        for f in faults:
            if f.start >= end:
                keep.append(f)
                continue
            if not f.counted:
                f.counted = True
                fk = None if k is None else (f.start - self._origin_now()) // self._interval_ns
                if fk is None or fk >= k or fk in busy:
                    errors += 1
                    last = f.start if last is None else max(last, f.start)
                    if f.pid is not None and per_pid:
                        pids[f.pid] = pids.get(f.pid, 0) + 1
            if f.end is None or f.end > end:
                failing = True
            if f.end is None or f.end >= end:
                keep.append(f)
        faults[:] = keep
        return TestOutcome(TestState.FAIL if failing else TestState.PASS, errors, last, pids)

    def _take(self, buckets: dict[int, Any], k: int) -> list[Any]:
        """The buckets of intervals k and before (taken out)."""
        if not buckets:
            return []
        keys = [x for x in buckets if x <= k]
        return [buckets.pop(x) for x in keys]

    def _events_until(self, test: TsTest, k: int) -> TestOutcome:
        got = self._take(self._events[test], k)
        if test is TsTest.catError:
            scr = self._take(self._scrambled_k, k)
            if scr:  # scrambled packets without a CAT: one event per interval
                got.append([1, max(scr), {}])
        if not got:
            return _PASS
        n = sum(b[0] for b in got)
        last = max(b[1] for b in got)
        per: dict[int, int] = {}
        for b in got:
            for p, c in b[2].items():
                per[p] = per.get(p, 0) + c
        return TestOutcome(TestState.FAIL, n, last, per)

    def _accuracy(self, k: int, rate_bps: float | None) -> TestOutcome:
        now = [x for chunks in self._take(self._acc, k) for x in chunks]
        if not now or not rate_bps:
            return _UNKNOWN
        if len(now) == 1:
            tt, _p, dv, di = now[0]
        else:
            tt = np.concatenate([x[0] for x in now])
            dv = np.concatenate([x[2] for x in now])
            di = np.concatenate([x[3] for x in now])
        # seconds the PCRs say minus seconds the bytes between them take at the rate
        off = dv * (1 / PCR_HZ) - di * ((TS_PACKET_SIZE * 8) / rate_bps)
        bad = np.abs(off) > self.limits.pcr_inaccuracy_max_s
        n = int(np.count_nonzero(bad))
        if not n:
            return _PASS
        pids: dict[int, int] = {}
        if all(x[1] == now[0][1] for x in now):  # (the usual: one PCR PID)
            pids[now[0][1]] = n
        else:
            ends = np.cumsum([x[0].shape[0] for x in now])
            per = np.diff(np.concatenate(([0], np.cumsum(bad, dtype=np.int64)[ends - 1])))
            for x, c in zip(now, per.tolist(), strict=True):
                if c:
                    pids[x[1]] = pids.get(x[1], 0) + c
            pids = dict(sorted(pids.items()))
        return TestOutcome(TestState.FAIL, n, int(tt[bad].max()), pids)

    def _sync_outcome(self, start: int, end: int, had_packets: bool) -> TestOutcome:
        faults = self._faults[TsTest.tsSyncLoss]
        if not had_packets:
            # no packets in the interval: sync is lost (entered once per silence)
            entered = self._last_sync_state is not TestState.FAIL
            self._status(faults, end)
            self._last_sync_state = TestState.FAIL
            return TestOutcome(TestState.FAIL, int(entered), start if entered else None)
        r = self._status(faults, end)
        if r.state is TestState.PASS and self._sync == 0 and self._last_t is not None:
            if self._good < SYNC_ACQUIRE and r.errors == 0:
                r = TestOutcome(TestState.UNKNOWN, 0)
        self._last_sync_state = r.state
        return r


