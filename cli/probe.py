"""`iec62379 probe SOURCE`: measure RTP / MPEG-TS streams from a capture file or a live socket.

SOURCE is a pcap / pcapng file, or a stream URL ``udp://[source@]group:port[?iface=NAME]`` /
``rtp://...``. Every media flow (destination address and port) is one stream, analysed by the
measurement core (:class:`~iec62379.collectors.core.analyzer.StreamAnalyzer` behind a
:class:`~iec62379.collectors.core.demux.FlowDemux`); this module only reads the source, hands
the packets and the time to the core, and prints the interval reports.

For an ``rtp://`` source the probe also listens on the port + 2 and the port + 4 of the same
address, where SMPTE 2022-1 sends column and row FEC; their datagrams go to the media stream's
analyzer, which reports the FEC type, L and D (``fec`` / ``fec_detail`` in the JSON). The
sockets are opened and drained by :mod:`~iec62379.collectors.wiring`, as in the agent.

Time comes from the packets: the record time of a capture, the kernel receive time of a live
datagram. A live source with no traffic uses the wall clock (the kernel stamps datagrams with
the same real-time clock) so that silent intervals are reported too. Interval k of a stream
covers [t0 + k*I, t0 + (k+1)*I) where t0 is the stream's first packet; the last interval, cut
short by the end of the capture or of the run, is reported with ``"partial": true``.

Output: one line per stream per interval, a table for a person or (``--json``) one JSON object
per line and nothing else on stdout. Without ``--json`` a summary per stream follows at the
end. Alarms (default limits, :mod:`~iec62379.cli.probe_alarms`): under each interval's line,
and as ``"alarms"`` in its JSON object. Bad input exits with status 2 and a one-line message.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click
import numpy as np
from iec62379.collectors.core.batch import PacketBatch
from iec62379.collectors.core.demux import FlowDemux, StreamKey
from iec62379.collectors.core.report import AnalyzerConfig, IntervalReport
from iec62379.collectors.runtime import keep_freed_memory
from iec62379.mibs.vocabulary import TestState

from .probe_alarms import ProbeAlarms, transition_dict, transition_line
from .probe_programs import (
    audio_dicts,
    audio_texts,
    codecs_text,
    programs_list,
    video_dict,
    video_text,
)
from .probe_tr101290 import failing_tests, tr101290_dict

_LIVE_POLL_S = 0.1  # longest wait for datagrams before looking at the clock again
_LIVE_GRACE_NS = 50_000_000  # idle: close intervals that ended this long ago (late datagrams)
_PROGRESS_EVERY_S = 0.5
# Capture records a batch: the fastest of 8,192 .. 262,144 on the benchmark capture (0.38 s at
# 8,192, 0.27 s at 65,536; docs/benchmarks.md). Records before a damaged one are delivered
# whatever the size.
_PCAP_BATCH = 65536


class ProbeError(click.ClickException):
    """An input error reported as `Error: ...` with exit status 2, without a traceback."""

    exit_code = 2


# --------------------------------------------------------------------------- option parsing

_NUMBER_RE = re.compile(
    r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgG]?)(?:bit/s|bps|b/s)?\s*$"
)
_TRANSPORTS = ("auto", "rtp", "udp")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_rate(text: str) -> float:
    """A positive bit rate in bit/s, with an optional k / M / G suffix (2M, 1500k, 2e6)."""
    m = _NUMBER_RE.match(text)
    if m is None:
        raise ProbeError(f"--rate {text!r} is not a bit rate (examples: 2M, 1500k, 2000000)")
    rate = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not (math.isfinite(rate) and rate > 0):
        raise ProbeError(f"--rate must be a positive bit rate, got {text!r}")
    return rate


def parse_seconds(text: str, option: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise ProbeError(f"{option} {text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise ProbeError(f"{option} must be a positive number of seconds, got {text!r}")
    return value


# --------------------------------------------------------------------------- formatting


def stream_name(key: StreamKey) -> str:
    """'239.1.1.1:5000' or '[ff3e::1234]:5000' for a (packed address, port) key."""
    addr, port = key
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return f"{addr.hex()}:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _video_text(r: IntervalReport) -> str | None:
    return video_text(r.video)


def _audio_texts(r: IntervalReport) -> list[str]:
    return audio_texts(r.audio)


def report_dict(name: str, r: IntervalReport, partial: bool) -> dict[str, Any]:
    """The JSON object of one interval of one stream (the programs: probe_programs.py)."""
    return {
        "stream": name,
        "interval_start": round(r.interval_start_s, 9),
        "interval_s": r.interval_s,
        "time": r.start_ns / 1e9,
        "partial": partial,
        "df_ms": r.df_ms,
        "mlr": r.mlr,
        "mdi": r.mdi,
        "tsdf_us": r.tsdf_us,
        "rtp_lost": r.rtp_lost,
        "rtp_reordered": r.rtp_reordered,
        "rtp_duplicates": r.rtp_duplicates,
        "ssrc": r.ssrc,
        "ts_lost_rtp": r.ts_lost_rtp,
        "ts_lost_cc": r.ts_lost_cc,
        "cc_errors": r.cc_errors,
        "cc_errors_per_pid": {str(p): n for p, n in r.cc_errors_per_pid.items()},
        "datagrams": r.datagrams,
        "ts_packets": r.ts_packets,
        "bitrate_bps": r.bitrate_bps,
        "bitrate_type": getattr(r.bitrate_type, "name", str(r.bitrate_type)).lower(),
        "media_rate_bps": r.media_rate_bps,
        "media_rate_source": r.media_rate_source,
        "pcr_pid": r.pcr_pid,
        "pid_bitrate_bps": {str(p): b for p, b in r.pid_bitrate_bps.items()},
        "video": video_dict(r.video),
        "audio": audio_dicts(r.audio),
        "fec": r.fec.fec_type.name.lower() if hasattr(r.fec.fec_type, "name") else None,
        "fec_detail": {
            "type": r.fec.fec_type.mib_name,
            "l_cols": r.fec.l_cols,
            "d_rows": r.fec.d_rows,
            "length_dimension": r.fec.length_dimension,
            "column_packets": r.fec.column_packets,
            "row_packets": r.fec.row_packets,
        },
        "errors": r.errors,
        "programs": programs_list(r),
        "tr101290": tr101290_dict(r),
    }


_TABLE_HEAD = (
    f"{'stream':<24} {'start s':>9} {'DF:MLR':>15} {'TS-DF us':>9} {'RTP lost':>8} "
    f"{'CC err':>6} {'Mbit/s':>8}  codecs"
)


def _table_tail(r: IntervalReport) -> str:
    """A table line after the start time and the partial mark."""
    mdi = r.mdi if r.mdi is not None else f"-:{r.mlr:.2f}"
    tsdf = "-" if r.tsdf_us is None else str(r.tsdf_us)
    codecs = codecs_text(r)
    failing = failing_tests(r)
    return (
        f" {mdi:>15} {tsdf:>9} {r.rtp_lost:>8} "
        f"{r.cc_errors:>6} {r.bitrate_bps / 1e6:>8.3f}  {codecs or '-'}"
        + (f"  TR 101 290 fail: {' '.join(failing)}" if failing else "")
    )


def table_line(name: str, r: IntervalReport, partial: bool, tail: str | None = None) -> str:
    mark = "*" if partial else " "
    tail = _table_tail(r) if tail is None else tail
    return f"{name:<24} {r.interval_start_s:>8.3f}{mark}{tail}".rstrip()


class _RunLines:
    """The lines of a run of reports alike but for their interval (a silence): the first
    report's line, made once, with the interval's start, time and partial mark put in."""

    _HOLES = ("interval_start", "time", "partial")

    def __init__(self, name: str, r: IntervalReport, interval_ns: int, as_json: bool) -> None:
        self.name, self.first, self.interval_ns, self.as_json = name, r, interval_ns, as_json
        self.t0 = r.start_ns - r.index * interval_ns
        if as_json:
            d = report_dict(name, r, False)
            d["alarms"] = []
            for i, hole in enumerate(self._HOLES):
                d[hole] = f"\0{i}"
            text = json.dumps(d, allow_nan=False)
            self.parts = [text]
            for i in range(len(self._HOLES)):
                head, tail = self.parts[-1].split(json.dumps(f"\0{i}"), 1)
                self.parts[-1:] = [head, tail]
        else:
            self.tail = _table_tail(r)

    def line(self, k: int, partial: bool) -> str:
        """The line of interval k (k >= the first report's index)."""
        start_s = k * self.interval_ns / 1e9  # as the core's report_at has it
        if not self.as_json:
            return f"{self.name:<24} {start_s:>8.3f}{'*' if partial else ' '}{self.tail}".rstrip()
        p = self.parts
        time_s = (self.t0 + k * self.interval_ns) / 1e9
        return (
            f"{p[0]}{float.__repr__(round(start_s, 9))}{p[1]}{float.__repr__(time_s)}{p[2]}"
            f"{'true' if partial else 'false'}{p[3]}"
        )


# --------------------------------------------------------------------------- per-stream summary


@dataclass(slots=True)
class _Summary:
    intervals: int = 0
    max_df_ms: float | None = None
    max_tsdf_us: int | None = None
    rtp_lost: int = 0
    cc_errors: int = 0
    video: str | None = None
    audio: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    programs: str | None = None  # every program's codecs, in an MPTS
    tr101290: dict[str, int] = field(default_factory=dict)  # test -> errors

    def add(self, r: IntervalReport, count: int = 1) -> None:
        """count intervals that report as r (but for their start)."""
        self.intervals += count
        if r.df_ms is not None:
            self.max_df_ms = r.df_ms if self.max_df_ms is None else max(self.max_df_ms, r.df_ms)
        if r.tsdf_us is not None:
            self.max_tsdf_us = (
                r.tsdf_us if self.max_tsdf_us is None else max(self.max_tsdf_us, r.tsdf_us)
            )
        self.rtp_lost += r.rtp_lost * count
        self.cc_errors += r.cc_errors * count
        self.video = _video_text(r) or self.video
        self.audio = _audio_texts(r) or self.audio
        if len(r.programs) > 1:
            self.programs = codecs_text(r)
        self.pids.update(r.pid_bitrate_bps)
        tr = self.tr101290
        for t, o in r.tr101290.items():
            if o.state is not TestState.DISABLED:
                tr[t.name] = tr.get(t.name, 0) + o.errors * count


# --------------------------------------------------------------------------- the run


class _Printer:
    """Turns the reports of the demux's streams into output lines."""

    def __init__(
        self, demux: FlowDemux, as_json: bool, interval_ns: int, max_reports: int, out: TextIO
    ) -> None:
        self.demux = demux
        self.as_json = as_json
        self.interval_ns = interval_ns
        self.max_reports = max_reports
        self.out = out
        self.summaries: dict[StreamKey, _Summary] = {}
        self._head_done = False
        self.alarms = ProbeAlarms()

    def flush(self, partial_after_ns: int | None = None) -> None:
        """Print the completed reports of every stream, oldest first. A report whose interval
        ends after partial_after_ns is marked partial."""
        # (start, stream, the report or run, its interval): a run of a silence's empty
        # intervals is one report, and its lines are made from the first one's
        rows: list[tuple[int, str, IntervalReport | _RunLines, int]] = []
        iv = self.interval_ns
        for key, analyzer in self.demux.streams.items():
            name = stream_name(key)
            summary = self.summaries.setdefault(key, _Summary())
            for r, count in analyzer.pop_report_runs():
                summary.add(r, count)
                rows.append((r.start_ns, name, r, r.index))
                if count > 1:
                    run = _RunLines(name, r, iv, self.as_json)
                    rows.extend(
                        (r.start_ns + i * iv, name, run, r.index + i) for i in range(1, count)
                    )
        rows.sort(key=lambda x: (x[0], x[1]))
        lines = []
        if rows and not self.as_json and not self._head_done:
            lines.append(_TABLE_HEAD)
            self._head_done = True
        for start, name, r, k in rows:
            partial = partial_after_ns is not None and start + iv > partial_after_ns
            report = r.first if isinstance(r, _RunLines) else r
            alarms = self.alarms.interval(name, report, start, start + iv)
            if isinstance(r, _RunLines):
                line = r.line(k, partial)
                if alarms and self.as_json:  # rare: a run's line made again with its alarms
                    d = json.loads(line)
                    d["alarms"] = [transition_dict(t) for t in alarms]
                    line = json.dumps(d, allow_nan=False)
                lines.append(line)
            elif self.as_json:
                d = report_dict(name, r, partial)
                d["alarms"] = [transition_dict(t) for t in alarms]
                lines.append(json.dumps(d, allow_nan=False))
            else:
                lines.append(table_line(name, r, partial))
            if alarms and not self.as_json:
                lines.extend(transition_line(t) for t in alarms)
        if lines:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()

    def summary(self, source_note: str) -> None:
        if self.as_json:
            return
        out = self.out
        if not self.demux.streams:
            out.write(f"no UDP media stream found{source_note}\n")
            return
        out.write("\nsummary\n")
        for key, analyzer in sorted(self.demux.streams.items(), key=lambda kv: stream_name(kv[0])):
            s = self.summaries.get(key, _Summary())
            t = analyzer.totals()
            df = "-" if s.max_df_ms is None else f"{s.max_df_ms:.2f} ms"
            tsdf = "-" if s.max_tsdf_us is None else f"{s.max_tsdf_us} us"
            codecs = s.programs or ", ".join(x for x in [s.video, *s.audio] if x) or "-"
            pids = " ".join(f"0x{p:04x}" for p in sorted(s.pids)) or "-"
            out.write(
                f"{stream_name(key)}: {s.intervals} intervals, {t.datagrams} datagrams, "
                f"{t.ts_packets} TS packets, RTP lost {t.rtp_lost_net} "
                f"(reordered {t.rtp_reordered}, duplicates {t.rtp_duplicates}), "
                f"CC errors {t.cc_errors}, max DF {df}, max TS-DF {tsdf}\n"
                f"    codecs: {codecs}; PIDs: {pids}"
                + (
                    "; malformed: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(t.errors.items()))
                    if t.errors
                    else ""
                )
                + "\n"
                + (
                    "    TR 101 290 errors: "
                    + ", ".join(f"{k} {v}" for k, v in s.tr101290.items())
                    + "\n"
                    if s.tr101290
                    else ""
                )
                + f"    {self.alarms.summary(stream_name(key))}\n"
            )
        out.flush()


def _clip_batch(batch: PacketBatch, end_ns: int) -> PacketBatch:
    """The datagrams of batch that arrived before end_ns."""
    keep = np.flatnonzero(batch.arrival_ns < end_ns)
    return PacketBatch(
        data=batch.data,
        offsets=batch.offsets[keep],
        lengths=batch.lengths[keep],
        arrival_ns=batch.arrival_ns[keep],
        flow_ids=batch.flow_ids[keep],
        flows=batch.flows,
    )


def _feed(
    batch: PacketBatch, last: int | None, demux: FlowDemux, printer: _Printer, close_last: bool
) -> int:
    """Feed a batch, closing the intervals it ends and printing their reports; returns the
    latest arrival. A stream keeps max_reports reports until they are printed, so a batch
    that spans more intervals (a sparse stream, silences) is fed in pieces that each end
    fewer than max_reports intervals after the previous one (or hold one datagram: a long
    silence is reported by the analyzer's own rule, within max_reports)."""
    arr = np.maximum.accumulate(batch.arrival_ns)
    start = int(arr[0]) if last is None else max(last, int(arr[0]))
    span = (printer.max_reports - 1) * printer.interval_ns
    n = len(batch)
    i = 0
    while i < n:
        j = n if int(arr[-1]) - start <= span else int(arr.searchsorted(start + span, "right"))
        j = max(j, i + 1)
        piece = batch if i == 0 and j == n else batch.rows(i, j)
        demux.feed_batch(piece)
        now = int(arr[j - 1])
        last = now if last is None else max(last, now)
        if j < n or close_last:
            demux.close_until(last)
            printer.flush()
        start, i = last, j
    assert last is not None
    return last


def _run_pcap(
    path: str, demux: FlowDemux, printer: _Printer, duration: float | None, err: TextIO
) -> str | None:
    """Analyse a capture file; returns an error message when the file is damaged midway."""
    from iec62379.collectors.sources.pcap import read_pcap

    p = Path(path)
    if not p.exists():
        raise ProbeError(f"{path}: no such file")
    if p.is_dir():
        raise ProbeError(f"{path}: is a directory, not a capture file")
    try:
        reader = read_pcap(p, batch_size=_PCAP_BATCH)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror}") from None
    progress = err.isatty()
    size = max(p.stat().st_size, 1)
    first: int | None = None
    last: int | None = None
    limit: int | None = None
    fault: str | None = None
    next_progress = time.monotonic() + _PROGRESS_EVERY_S
    try:
        batches: Iterator[PacketBatch] = iter(reader)
        for _ in range(1 << 62):
            try:
                batch = next(batches)
            except StopIteration:
                break
            except ValueError as exc:
                fault = str(exc)
                break
            if first is None:
                first = int(batch.arrival_ns[0])
                if duration is not None:
                    limit = first + int(round(duration * 1e9))
            if limit is not None and int(batch.arrival_ns.max()) >= limit:
                batch = _clip_batch(batch, limit)
                if len(batch):
                    last = _feed(batch, last, demux, printer, close_last=False)
                break
            last = _feed(batch, last, demux, printer, close_last=True)
            if progress and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + _PROGRESS_EVERY_S
                pos = getattr(reader, "_pos", None)
                pct = f"{100 * pos / size:5.1f}%  " if isinstance(pos, int) else ""
                err.write(
                    f"\r{pct}{reader.stats.records} records, "
                    f"{(last - first) / 1e9:.1f} s of capture"
                )
                err.flush()
    finally:
        if progress:
            err.write("\r\033[K")
            err.flush()
        reader.close()
    if last is not None:
        demux.close_at_end(last)  # the interval holding the end, of its real length
        printer.flush(partial_after_ns=last)
    return fault


def _run_live(
    url_text: str, demux: FlowDemux, printer: _Printer, duration: float | None, err: TextIO
) -> None:
    from iec62379.collectors.sources.udp import parse_stream_url
    from iec62379.collectors.wiring import DemuxSink, StreamInput

    try:
        url = parse_stream_url(url_text)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None

    def no_fec(port: int, reason: str) -> None:
        err.write(f"not receiving FEC on port {port}: {reason}\n")

    # An rtp:// stream's SMPTE 2022-1 FEC (port + 2, port + 4) goes to the analyzer of the
    # media stream; until that stream has been seen it is not fed, so that it never becomes a
    # stream of its own.
    try:
        sources = StreamInput.open(url, fec=url.scheme == "rtp", on_fec_error=no_fec)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    except OSError as exc:
        raise ProbeError(f"cannot receive {url}: {exc.strerror or exc}") from None
    sink = DemuxSink(demux, sources.media_key)
    stop = {"flag": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["flag"] = True

    old_term: Callable[..., Any] | int | None = None
    try:
        old_term = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        old_term = None
    fec_note = ""
    if sources.fec:
        ports = ", ".join(str(p) for p in sources.fec_ports)
        fec_note = f", SMPTE 2022-1 FEC on port{'s' if len(sources.fec) > 1 else ''} {ports}"
    local = sources.media.local_address
    err.write(
        f"receiving {url} on {local[0]} port {local[1]}"
        f"{fec_note}{'' if duration is None else f' for {duration:g} s'} (Ctrl-C to stop)\n"
    )
    err.flush()
    deadline = None if duration is None else time.monotonic() + duration
    try:
        with sources:
            while not stop["flag"]:
                wait = _LIVE_POLL_S
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait = min(wait, left)
                fed = sources.drain(sink) if sources.wait(wait) else 0
                if fed and sink.newest_ns is not None:
                    demux.close_until(sink.newest_ns)
                else:
                    demux.close_until(time.time_ns() - _LIVE_GRACE_NS)
                printer.flush()
            if stop["flag"]:  # SIGTERM: what arrived before it is measured too
                sources.drain(sink)
    except KeyboardInterrupt:
        pass
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    if demux.streams:
        end = max(time.time_ns(), sink.newest_ns or 0)
        demux.close_until(end)
        printer.flush()
        demux.close_at_end(end)
        printer.flush(partial_after_ns=end)


@click.command("probe")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per stream per interval on stdout, nothing else.")
@click.option("--rate", "rate_text", metavar="BPS", default=None,
              help="Nominal media (TS) rate for the delay factor, e.g. 1.5M "
                   "(default: from the PCRs).")
@click.option("--interval", "interval_text", metavar="S", default="1", show_default=True,
              help="Measurement interval in seconds.")
@click.option("--duration", "duration_text", metavar="S", default=None,
              help="Stop after this many seconds (live: of running; capture: of capture "
                   "time from the first packet).")
@click.option("--transport", metavar="auto|rtp|udp", default="auto", show_default=True,
              help="auto: a datagram starting with 0x47 is plain TS in UDP, otherwise RTP.")
def probe(
    source: str,
    as_json: bool,
    rate_text: str | None,
    interval_text: str,
    duration_text: str | None,
    transport: str,
) -> None:
    """Measure the RTP / MPEG-TS streams in SOURCE, one line per stream per interval.

    SOURCE is a pcap or pcapng file, or udp://[SRC@]GROUP:PORT[?iface=NAME] or rtp://...
    for a live stream (until Ctrl-C or --duration); rtp:// also takes SMPTE 2022-1 FEC on
    PORT+2 (columns) and PORT+4 (rows). Columns: DF:MLR (RFC 4445 delay factor
    in ms : media packets lost per second), TS-DF (RTP timestamp-based delay factor), RTP
    sequence losses, continuity-counter errors, TS bit rate and the codecs. A '*' after the
    start time marks an interval cut short by the end of the input.
    """
    if transport not in _TRANSPORTS:
        raise ProbeError(f"--transport {transport!r}: expected one of {', '.join(_TRANSPORTS)}")
    rate = parse_rate(rate_text) if rate_text is not None else None
    interval = parse_seconds(interval_text, "--interval")
    duration = parse_seconds(duration_text, "--duration") if duration_text is not None else None
    try:
        config = AnalyzerConfig(interval_s=interval, transport=transport, media_rate_bps=rate)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    keep_freed_memory()  # batches reuse freed arrays (collectors/runtime.py)
    demux = FlowDemux(config)
    out = sys.stdout
    err = sys.stderr
    printer = _Printer(demux, as_json, int(round(interval * 1e9)), config.max_reports, out)
    live = "://" in source
    fault: str | None = None
    try:
        if live:
            _run_live(source, demux, printer, duration, err)
        else:
            fault = _run_pcap(source, demux, printer, duration, err)
        printer.summary("" if live else f" in {os.path.basename(source)}")
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    if fault is not None:
        raise ProbeError(f"capture damaged, stopped early: {fault}")
