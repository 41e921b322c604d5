"""The open interval's accumulators, and closing an interval into its report.

Interval k covers [t0 + k*I, t0 + (k+1)*I) where t0 is the first packet's arrival. Closing
it computes, from its accumulators and the stream state: the media rate (configured, else
from this interval's PCRs, else the last PCR rate, else measured), the MDI delay factor
(RFC 4445 4.1) and MLR (4.2: with RTP, the TS packets the RTP gaps stand for, i.e. loss and
reordering counted once in RTP order; without RTP, those the continuity-counter steps say are
missing; per second), TS-DF (EBU Tech 3337), the
per-PID rates, CBR/VBR, PID presence, the FEC status and the playout buffer model.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator

import numpy as np

from . import fast
from .cc import PID_COUNT
from .errors import ERROR_KIND_COUNT, error_counts_dict
from .fec import fec_length_dimension
from .formats import FecType
from .programs import ProgramView  # noqa: F401  (re-exported: analyzer.py)
from .report import AudioStatus, BufferStatus, FecStatus, IntervalReport
from .tr101290 import close_checks
from .ts import NULL_PID, TS_PACKET_SIZE

NEVER = np.iinfo(np.int64).min
_NONE = np.zeros(0, dtype=np.int64)


def interval_cuts(
    arrival: np.ndarray, last: int | None, t0: int, interval_ns: int, k0: int
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Arrivals made monotonic (one before the previous packet's, or before last, the
    previous call's, is taken as that one), each one's interval (at least k0, the open one)
    and where the interval changes (indices)."""
    arr = arrival.astype(np.int64, copy=True)
    if last is not None:
        arr[0] = max(int(arr[0]), last)
    np.maximum.accumulate(arr, out=arr)
    k = (arr - t0) // interval_ns
    np.maximum(k, k0, out=k)
    if k[0] == k[-1]:  # k never decreases: one interval
        return arr, k, []
    return arr, k, ((k[1:] != k[:-1]).nonzero()[0] + 1).tolist()


def pid_rates_reference(counts: np.ndarray, secs: float) -> dict[int, float]:
    """Bit rate of every PID with packets in counts over secs (PID order); zeroes counts."""
    used = (counts != 0).nonzero()[0]  # (a bool array: four times faster here)
    # float(count * 188 * 8) / secs, as numpy computes it for the used PIDs at once
    rates = dict(
        zip(used.tolist(), (counts[used] * (TS_PACKET_SIZE * 8) / secs).tolist(), strict=True)
    )
    counts[used] = 0
    return rates


class Interval:
    """Accumulators of the open interval (pid_packets: a zeroed array to reuse, or None)."""

    __slots__ = (
        "datagrams",
        "ts_packets",
        "arrivals",
        "media_bytes",
        "rtp_datagrams",
        "rtp_lost",
        "rtp_late",
        "rtp_dup",
        "ssrc_changes",
        "seq_restarts",
        "ts_lost_rtp",
        "cc_errors",
        "cc_lost",
        "cc_per_pid",
        "pid_packets",
        "errors",
        "fec_column",
        "fec_row",
    )

    def __init__(self, pid_packets: np.ndarray | None = None) -> None:
        self.datagrams = 0
        self.ts_packets = 0
        self.arrivals: list[np.ndarray] = []
        self.media_bytes: list[np.ndarray] = []
        self.rtp_datagrams = 0
        self.rtp_lost = 0
        self.rtp_late = 0
        self.rtp_dup = 0
        self.ssrc_changes = 0
        self.seq_restarts = 0
        self.ts_lost_rtp = 0
        self.cc_errors = 0
        self.cc_lost = 0
        self.cc_per_pid: dict[int, int] | None = None  # made at the first continuity error
        self.pid_packets = (
            np.zeros(PID_COUNT, dtype=np.int64) if pid_packets is None else pid_packets
        )
        self.errors = [0] * ERROR_KIND_COUNT
        self.fec_column = 0
        self.fec_row = 0

    def is_empty(self) -> bool:
        """Nothing arrived in the interval: every accumulator as a new one has it."""
        return (
            self.datagrams == self.ts_packets == self.fec_column == self.fec_row == 0
            and not self.arrivals
            and self.rtp_lost == self.rtp_late == self.rtp_dup == 0
            and self.ssrc_changes == self.seq_restarts == self.ts_lost_rtp == 0
            and self.cc_errors == self.cc_lost == 0
            and self.cc_per_pid is None
            and not any(self.errors)
        )

    def add_cc_per_pid(self, per_pid: dict[int, int]) -> None:
        mine = self.cc_per_pid
        if mine is None:
            self.cc_per_pid = dict(per_pid)
            return
        for p, n in per_pid.items():
            mine[p] = mine.get(p, 0) + n


NO_FEC = FecStatus(
    fec_type=FecType.NONE, l_cols=0, d_rows=0, length_dimension=0, column_packets=0, row_packets=0
)


def report_at(r: IntervalReport, k: int, t0: int, interval_ns: int) -> IntervalReport:
    """r as the report of interval k (the fields that tell which interval it is)."""
    return dataclasses.replace(
        r, index=k, interval_start_s=k * interval_ns / 1e9, start_ns=t0 + k * interval_ns
    )


@dataclasses.dataclass(slots=True)
class _EmptyRun:
    """count reports alike but for their interval: template as intervals k, k+1, ..."""

    template: IntervalReport
    k: int
    count: int
    t0: int
    interval_ns: int

    def reports(self) -> Iterator[IntervalReport]:
        for k in range(self.k, self.k + self.count):
            yield report_at(self.template, k, self.t0, self.interval_ns)


class ReportQueue:
    """Completed reports not yet taken, oldest first, the newest maxlen of them. A run of
    empty intervals that report alike is held as one entry and made into reports when
    taken, so closing a long silence costs the same whatever its length."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._items: deque[IntervalReport | _EmptyRun] = deque()
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[IntervalReport]:
        for item in self._items:
            if isinstance(item, _EmptyRun):
                yield from item.reports()
            else:
                yield item

    def runs(self) -> Iterator[tuple[IntervalReport, int]]:
        """(report, count): count reports alike but for their interval, from this one on."""
        for item in self._items:
            if isinstance(item, _EmptyRun):
                yield report_at(item.template, item.k, item.t0, item.interval_ns), item.count
            else:
                yield item, 1

    def append(self, report: IntervalReport) -> None:
        self._items.append(report)
        self._n += 1
        self._trim()

    def append_run(self, run: _EmptyRun) -> None:
        self._items.append(run)
        self._n += run.count
        self._trim()

    def clear(self) -> None:
        self._items.clear()
        self._n = 0

    def _trim(self) -> None:
        while self._n > self.maxlen:
            head, extra = self._items[0], self._n - self.maxlen
            if isinstance(head, _EmptyRun) and head.count > extra:
                head.k += extra
                head.count -= extra
                self._n -= extra
            else:
                self._items.popleft()
                self._n -= head.count if isinstance(head, _EmptyRun) else 1


class IntervalClosing:
    """StreamAnalyzer's interval close (a mixin: the state is the analyzer's)."""

    def _advance(self, k_new: int) -> None:
        """Close intervals up to (not including) k_new, keeping at most max_reports.

        Once closing an empty interval changes no state and its report shows nothing
        present, every later empty interval reports the same but for its index: the rest of
        the silence is queued as one run (O(1), however long the gap)."""
        steady: IntervalReport | None = None
        while self._k < k_new:
            left = k_new - self._k
            if steady is not None and left < self.config.max_reports:
                run = _EmptyRun(steady, self._k, left, self._t0, self._interval_ns)
                self._reports.append_run(run)
                self._latest = report_at(steady, k_new - 1, self._t0, self._interval_ns)
                self._k = k_new
                return
            before = self._idle_state() if self._iv.is_empty() else None
            previous = self._latest
            self._close()
            self._k += 1
            # a long silence: the interval closed first and the last max_reports - 1 are
            # reported, max_reports in all, so that none of them pushes out another
            skip = k_new - self._k - (self.config.max_reports - 1)
            if skip > 0:
                self._buffer.empty()
                self._k += skip
            elif before is not None and before == self._idle_state():
                steady = self._steady_report(previous)

    def _idle_state(self) -> tuple:
        """What closing an empty interval may change."""
        b = self._buffer
        rates = (tuple(self._rate_all.rates), self._statuses.idle_state())
        return (*rates, self._pcr.last_rate, b.level, b.playing, b.underflows, b.overflows)

    def _steady_report(self, previous: IntervalReport | None) -> IntervalReport | None:
        """The report just made, if every later empty interval reports the same: nothing
        present or about to time out, and the same as the one before (then an empty one too)."""
        r = self._latest
        assert r is not None
        if any(r.pid_present.values()) or r.fec.fec_type != FecType.NONE or previous is None:
            return None
        same = report_at(previous, r.index, self._t0, self._interval_ns) == r
        return r if same else None

    def _close_partial(self, end_ns: int) -> None:
        """The stream ended at end_ns: close the open interval, if it began before, as a
        partial one of its real length (bit rates and MLR are per second of that length)."""
        assert self._t0 is not None
        if self._t0 + self._k * self._interval_ns < end_ns:
            self._close(end_ns)
            self._k += 1

    def _close(self, end_ns: int | None = None) -> None:
        """Close the open interval: the full one, or, given end_ns, one that ends there."""
        c, iv = self.config, self._iv
        assert self._t0 is not None
        k = self._k
        start = self._t0 + k * self._interval_ns
        if end_ns is None:
            end, secs = start + self._interval_ns, self._secs
        else:
            end = min(end_ns, start + self._interval_ns)
            secs = (end - start) / 1e9
        pcr = self._pcr
        pcr_rate = pcr.take_interval()
        ts_packets = iv.ts_packets
        total_bytes = ts_packets * TS_PACKET_SIZE
        if c.media_rate_bps is not None:
            rate, source = c.media_rate_bps, "configured"
        elif pcr_rate is not None:
            rate, source = pcr_rate, "pcr"
        elif pcr.last_rate is not None:
            rate, source = pcr.last_rate, "pcr"
        elif total_bytes:
            rate, source = total_bytes * 8 / secs, "measured"
        else:
            rate, source = None, "none"
        arrivals = iv.arrivals
        if len(arrivals) == 1:
            arr, mb = arrivals[0], iv.media_bytes[0]
        elif arrivals:
            arr = np.concatenate(arrivals)
            mb = np.concatenate(iv.media_bytes)
        else:
            arr = mb = _NONE
        df = fast.delay_factor(arr, mb, rate) if rate and arr.size else None
        buffer = None
        if rate:
            buf = self._buffer
            buf.run(arr, mb, rate, end)
            buffer = BufferStatus(
                size_ms=c.buffer_size_ms,
                occupancy_ms=int(round(buf.occupancy_ms(rate))),
                occupancy_percent=buf.occupancy_percent(rate),
                playing=buf.playing,
                underflows=buf.underflows,
                overflows=buf.overflows,
            )
        counts = iv.pid_packets  # zeroed here for the next interval
        pid_rates = fast.pid_rates(counts, secs)
        bitrate = total_bytes * 8 / secs
        null = NULL_PID in pid_rates
        rate_type = self._rate_all.add(bitrate, null)
        tsdf = self._tsdf.value_us()
        self._tsdf.start_period()
        limit = end - self._timeout_ns
        info = self._program.program
        programs, pid_present = self._statuses.close(
            self._program.programs, pid_rates, self._last_seen, limit, self._probes
        )
        selected = next((p for p in programs if p.info is info), None)
        video = None if selected is None else selected.video
        audio: tuple[AudioStatus, ...] = () if selected is None else selected.audio
        fec_last = self._fec_last_ns
        if fec_last is None and not (iv.fec_column or iv.fec_row):
            fec = NO_FEC
        else:
            fec_on = fec_last is not None and fec_last >= limit and self._fec_l > 0
            fec = FecStatus(
                fec_type=FecType.SMPTE_2022_1 if fec_on else FecType.NONE,
                l_cols=self._fec_l if fec_on else 0,
                d_rows=self._fec_d if fec_on else 0,
                length_dimension=fec_length_dimension(self._fec_l, self._fec_d) if fec_on else 0,
                column_packets=iv.fec_column,
                row_packets=iv.fec_row,
            )
        errors = iv.errors
        has_errors = any(errors)
        cc_pid = iv.cc_per_pid
        report = IntervalReport(
            index=k,
            interval_start_s=k * self._interval_ns / 1e9,
            interval_s=secs,
            start_ns=start,
            datagrams=iv.datagrams,
            ts_packets=ts_packets,
            df_ms=df,
            # RTP accounts for loss and reordering once, in sequence order; the continuity
            # check would count a reordered datagram again (as gaps in arrival order)
            mlr=(iv.ts_lost_rtp if iv.rtp_datagrams else iv.cc_lost) / secs,
            tsdf_us=tsdf,
            rtp_lost=iv.rtp_lost,
            rtp_reordered=iv.rtp_late,
            rtp_duplicates=iv.rtp_dup,
            ssrc=self._ssrc,
            ssrc_changes=iv.ssrc_changes,
            seq_restarts=iv.seq_restarts,
            ts_lost_rtp=iv.ts_lost_rtp,
            ts_lost_cc=iv.cc_lost,
            cc_errors=iv.cc_errors,
            cc_errors_per_pid=dict(sorted(cc_pid.items())) if cc_pid else {},
            bitrate_bps=bitrate,
            pid_bitrate_bps=pid_rates,
            bitrate_type=rate_type,
            bitrate_max_bps=self._rate_all.maximum,
            null_packets=null,
            pcr_pid=pcr.pid,
            pcr_rate_bps=pcr_rate,
            media_rate_bps=rate,
            media_rate_source=source,
            program=info,
            video=video,
            audio=audio,
            pid_present=pid_present,
            fec=fec,
            buffer=buffer,
            errors=error_counts_dict(errors) if has_errors else {},
            programs=programs,
            tr101290=close_checks(self, start, end, ts_packets > 0, rate, rate_type),
        )
        self._reports.append(report)
        self._latest = report
        t = self._tot
        t[0] += iv.datagrams
        t[1] += ts_packets
        t[2] += iv.rtp_lost
        t[3] += iv.rtp_late
        t[4] += iv.rtp_dup
        t[5] += iv.ssrc_changes
        t[6] += iv.cc_errors
        if has_errors:
            self._tot_errors = [x + y for x, y in zip(self._tot_errors, errors, strict=True)]
        self._iv = Interval(counts)
