"""`iec62379 generate FILE.ts DEST`: send an MPEG-TS file as PCR-paced RTP or UDP.

Planning (packetising, PCR pacing, RTP numbering, impairments) is done by
:mod:`iec62379.collectors.generator`; the paced loop is
:mod:`iec62379.collectors.generator.sender`. This module only maps options onto them and prints
the report. Bad input exits with status 2 and a one-line message.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import click
from iec62379.collectors.generator import (
    TS_PACKET_SIZE,
    Impairments,
    Plan,
    PlanConfig,
    parse_destination,
)
from iec62379.collectors.generator.sender import SendReport, open_socket, send_paced


class GenerateError(click.ClickException):
    """An input error reported as `Error: ...` with exit status 2, without a traceback."""

    exit_code = 2


_RATE_RE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgG]?)(?:bit/s|bps|b/s)?\s*$"
)
_RATE_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


class BitRate(click.ParamType):
    """A bit rate in bit/s, with an optional k / M / G suffix (2M, 1500k, 2000000)."""

    name = "RATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)):
            rate = float(value)
        else:
            m = _RATE_RE.match(str(value))
            if m is None:
                self.fail(f"{value!r} is not a bit rate (examples: 2M, 1500k, 2000000)", param, ctx)
            rate = float(m.group(1)) * _RATE_UNITS[m.group(2).lower()]
        if not rate > 0:
            self.fail(f"bit rate must be positive, got {value!r}", param, ctx)
        return rate


_PCT = click.FloatRange(0.0, 100.0)


@click.command("generate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest")
@click.option("--rtp/--udp", "rtp", default=None,
              help="RTP (payload type 33, the default) or bare TS in UDP; "
                   "default from DEST's scheme.")
@click.option("--ts-per-packet", type=click.IntRange(1, 7), default=7, show_default=True,
              help="TS packets per datagram.")
@click.option("--loop", "loops", type=click.IntRange(min=0), default=None,
              help="Passes through the file; 0 = for ever (until Ctrl-C or --duration). "
                   "Default 1, or for ever when --duration is given.")
@click.option("--duration", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Stop after this many seconds of stream.")
@click.option("--ttl", type=click.IntRange(1, 255), default=None,
              help="IP TTL / hop limit (multicast or unicast).")
@click.option("--iface", default=None, help="Outgoing interface for multicast (name or IPv4).")
@click.option("--seed", type=int, default=None,
              help="Seed for sequence number, SSRC and impairments (repeatable runs).")
@click.option("--rate-scale", type=click.FloatRange(min=0.0, min_open=True), default=1.0,
              show_default=True, help="Speed factor relative to the PCRs (2 = twice as fast).")
@click.option("--bitrate", type=BitRate(), default=None,
              help="Fixed transport rate (e.g. 2M) instead of PCR pacing; "
                   "needed for files without PCR.")
@click.option("--loss", type=_PCT, default=0.0, help="Random datagram loss, percent.")
@click.option("--burst-loss", type=click.FloatRange(0.0, 100.0, max_open=True), default=0.0,
              help="Long-run loss of a Gilbert-Elliott burst channel, percent.")
@click.option("--burst-length", type=click.FloatRange(min=1.0), default=3.0, show_default=True,
              help="Mean loss burst length in datagrams (with --burst-loss).")
@click.option("--jitter-ms", type=click.FloatRange(0.0, 10_000.0), default=0.0,
              help="Random extra delay per datagram, 0..N ms (order kept unless --reorder).")
@click.option("--reorder", type=_PCT, default=0.0,
              help="Percent of datagrams swapped with the next one.")
@click.option("--duplicate", type=_PCT, default=0.0, help="Percent of datagrams sent twice.")
@click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def generate(
    file: Path,
    dest: str,
    rtp: bool | None,
    ts_per_packet: int,
    loops: int | None,
    duration: float | None,
    ttl: int | None,
    iface: str | None,
    seed: int | None,
    rate_scale: float,
    bitrate: float | None,
    loss: float,
    burst_loss: float,
    burst_length: float,
    jitter_ms: float,
    reorder: float,
    duplicate: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Send FILE (MPEG-TS) to DEST paced by its PCR, as RTP or plain UDP.

    DEST is rtp://HOST:PORT, udp://HOST:PORT or HOST:PORT; IPv6 in brackets
    (rtp://[::1]:5004). Impairments act on datagrams after RTP numbering, so a lost datagram
    leaves a gap in the sequence numbers.
    """
    try:
        destination = parse_destination(dest)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DEST") from None
    if rtp is None:
        rtp = destination.scheme != "udp"
    elif destination.scheme is not None and rtp != (destination.scheme == "rtp"):
        flag = "--rtp" if rtp else "--udp"
        raise click.UsageError(f"{flag} contradicts the scheme of DEST {dest!r}")
    if loops is None:
        loops = 0 if duration is not None else 1
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise GenerateError(f"cannot read {file}: {exc.strerror}") from None
    try:
        config = PlanConfig(
            rtp=rtp,
            ts_per_packet=ts_per_packet,
            loops=loops or None,
            seed=seed,
            rate_scale=rate_scale,
            bitrate=bitrate,
            impairments=Impairments(
                loss_pct=loss,
                burst_loss_pct=burst_loss,
                burst_length=burst_length,
                jitter_ms=jitter_ms,
                reorder_pct=reorder,
                duplicate_pct=duplicate,
            ),
        )
        plan = Plan(data, config)
    except ValueError as exc:
        raise GenerateError(f"{file}: {exc}") from None
    try:
        opened = open_socket(destination, ttl=ttl, iface=iface)
    except ValueError as exc:
        raise GenerateError(str(exc)) from None
    except OSError as exc:
        raise GenerateError(f"cannot open a socket for {dest}: {exc.strerror}") from None

    sched = plan.schedule
    pacing = (
        f"PCR PID {sched.pcr_pid} (0x{sched.pcr_pid:04x})"
        if sched.pcr_pid is not None
        else "fixed bit rate"
    )
    if not quiet:
        click.echo(
            f"sending {file.name} to {dest} as {'RTP' if rtp else 'UDP'}: {pacing}, "
            f"{sched.bitrate / 1e6:.3f} Mbit/s, {sched.duration_ns / 1e9:.3f} s per loop, "
            f"{plan.datagrams_per_loop} datagrams per loop, "
            f"{'for ever' if config.loops is None else f'{config.loops} loop(s)'}",
            err=True,
        )

    def progress(r: SendReport) -> None:
        click.echo(
            f"  {r.elapsed_ns / 1e9:8.1f} s  {r.sent} datagrams  "
            f"{r.achieved_bitrate / 1e6:.3f} Mbit/s  max late {r.max_lateness_ns / 1e6:.3f} ms",
            err=True,
        )

    duration_ns = int(duration * 1e9) if duration is not None else None
    # Ctrl-C stops the loop between two datagrams, with a report. The handler is installed
    # whatever the inherited disposition: Python leaves SIGINT ignored when it was inherited
    # ignored (a background job of a shell), which would make --loop 0 endless.
    interrupted: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    with opened.sock:
        report = send_paced(
            plan,
            opened.sock,
            opened.address,
            duration_ns=duration_ns,
            on_progress=None if quiet else progress,
            stop=lambda: bool(interrupted),
        )
    stats = plan.stats
    ts_packets = (report.payload_bytes - (12 * report.sent if rtp else 0)) // TS_PACKET_SIZE
    ts_rate = (
        report.achieved_bitrate * ts_packets * TS_PACKET_SIZE / report.payload_bytes
        if report.payload_bytes
        else 0.0
    )
    summary = {
        "file": str(file),
        "destination": dest,
        "protocol": "rtp" if rtp else "udp",
        "pcr_pid": sched.pcr_pid,
        "pcr_discontinuities": sched.discontinuities,
        "file_bitrate": sched.bitrate,
        "file_duration_s": sched.duration_ns / 1e9,
        "initial_seq": plan.initial_seq if rtp else None,
        "ssrc": plan.ssrc if rtp else None,
        "datagrams_planned": stats.datagrams,
        "datagrams_sent": report.sent,
        "ts_packets_sent": ts_packets,
        "lost": stats.total_lost,
        "lost_random": stats.lost,
        "lost_burst": stats.burst_lost,
        "duplicated": stats.duplicated,
        "reordered": stats.reordered,
        "jitter_reordered": stats.jitter_reordered,
        "send_errors": report.send_errors,
        "elapsed_s": report.elapsed_ns / 1e9,
        "achieved_bitrate": report.achieved_bitrate,
        "achieved_ts_bitrate": ts_rate,
        "max_lateness_ms": report.max_lateness_ns / 1e6,
        "mean_lateness_ms": report.mean_lateness_ns / 1e6,
        "late_over_1ms": report.late_1ms,
        "interrupted": report.interrupted,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(
            f"sent {report.sent} datagrams ({ts_packets} TS packets) in "
            f"{report.elapsed_ns / 1e9:.3f} s, {ts_rate / 1e6:.3f} Mbit/s of TS "
            f"({report.achieved_bitrate / 1e6:.3f} Mbit/s UDP payload)"
            f"{' - interrupted' if report.interrupted else ''}\n"
            f"impairments: lost {stats.total_lost} (random {stats.lost}, burst "
            f"{stats.burst_lost}), duplicated {stats.duplicated}, reordered {stats.reordered}"
            f" (+{stats.jitter_reordered} by jitter)\n"
            f"pacing: max lateness {report.max_lateness_ns / 1e6:.3f} ms, mean "
            f"{report.mean_lateness_ns / 1e6:.3f} ms, {report.late_1ms} sends over 1 ms late"
            + (f"\nsend errors: {report.send_errors}" if report.send_errors else "")
        )
    if report.interrupted:
        sys.exit(130)
