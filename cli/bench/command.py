"""`iec62379 bench`: benchmarks against the reference tools."""

from __future__ import annotations

import json
from pathlib import Path

import click

_REPO_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scale-100.toml"


@click.group()
def bench() -> None:
    """Benchmarks against the reference tools."""


@bench.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Agent configuration to serve (default: examples/scale-100.toml of the source "
    "tree, 100 streams).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Timed walks of each kind (bulkwalk, walk) per agent.",
)
@click.option(
    "--gets",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Sequential single-varbind GETs timed per agent.",
)
@click.option("--warmup-gets", type=click.IntRange(min=0), default=100, show_default=True)
@click.option(
    "--bulk-repetitions",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="snmpbulkwalk -Cr value (max-repetitions).",
)
@click.option(
    "--snmpd-subtree",
    default=None,
    metavar="OID",
    help="The snmpd subtree to walk (default: hrSWInstalledTable .1.3.6.1.2.1.25.6.3).",
)
@click.option(
    "--snmpd",
    "snmpd_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The snmpd binary (default: from PATH or /usr/sbin/snmpd).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def snmp(
    config_path: str | None,
    repeat: int,
    gets: int,
    warmup_gets: int,
    bulk_repetitions: int,
    snmpd_subtree: str | None,
    snmpd_path: str | None,
    as_json: bool,
) -> None:
    """Our agent against net-snmp's snmpd on loopback: start time, RSS, walk and bulkwalk
    throughput, GET latency; see docs/benchmarks.md."""
    from iec62379.cli.bench.snmp import (
        SNMPD_SUBTREE,
        BenchError,
        BenchSettings,
        format_report,
        run_bench,
    )

    config = Path(config_path) if config_path else _REPO_EXAMPLE
    if not config.is_file():
        raise click.ClickException(
            f"no configuration given and {config} does not exist; pass --config"
        )
    settings = BenchSettings(
        config=config.resolve(),
        repeat=repeat,
        gets=gets,
        warmup_gets=warmup_gets,
        bulk_repetitions=bulk_repetitions,
        snmpd_subtree=snmpd_subtree or SNMPD_SUBTREE,
        snmpd=snmpd_path,
    )
    try:
        report = run_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@bench.command()
@click.argument("capture", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--packets",
    type=click.IntRange(min=1000),
    default=300_000,
    show_default=True,
    help="Without CAPTURE: datagrams in the capture made (and cached) for the benchmark.",
)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs of each side (alternating); the fastest counts.")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.01), default=1.0,
              show_default=True, help="Our measurement interval in seconds.")
@click.option("--batch-size", type=click.IntRange(min=1), default=65536, show_default=True,
              help="pcap records per batch read.")
@click.option("--heuristic", is_flag=True,
              help="tshark finds RTP heuristically instead of by the RTP ports we found.")
@click.option("--cpu", type=click.IntRange(min=0), default=None,
              help="The CPU to pin both sides to (default: the first allowed one).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where the generated capture is kept (default ~/.cache/iec62379/bench).")
@click.option("--tshark", "tshark_path", type=click.Path(dir_okay=False), default=None)
@click.option("--no-tr101290", "no_tr101290", is_flag=True,
              help="Our analysis with the TR 101 290 checks off (what the checks cost).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def pcap(
    capture: str | None,
    packets: int,
    repeat: int,
    interval_s: float,
    batch_size: int,
    heuristic: bool,
    cpu: int | None,
    cache_dir: str | None,
    tshark_path: str | None,
    no_tr101290: bool,
    as_json: bool,
) -> None:
    """Our pcap analysis (all metrics, all streams) against `tshark -q -z rtp,streams` on
    the same file, packets/s on one core. Without CAPTURE a realistic multi-stream RTP
    capture is made from the media fixtures and cached; see docs/benchmarks.md."""
    from iec62379.cli.bench.capture import CaptureSpec, ensure_capture
    from iec62379.cli.bench.pcap import (
        BenchError,
        PcapBenchSettings,
        format_report,
        run_pcap_bench,
    )

    note = ""
    if capture is None:
        try:
            info = ensure_capture(
                CaptureSpec(packets=packets), Path(cache_dir) if cache_dir else None
            )
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot make the benchmark capture: {exc}") from exc
        path = info.path
        note = (
            f"{'cached' if info.reused else 'made now'}: {len(info.streams)} RTP streams, "
            f"{info.duration_s:.1f} s, generator impairments"
        )
    else:
        path = Path(capture)
    settings = PcapBenchSettings(
        capture=path.resolve(),
        repeat=repeat,
        interval_s=interval_s,
        batch_size=batch_size,
        tshark=tshark_path,
        heuristic=heuristic,
        cpu=cpu,
        tr101290=not no_tr101290,
    )
    try:
        report = run_pcap_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, ValueError) as exc:  # not a capture, unreadable, cut short ...
        raise click.ClickException(f"cannot analyse {path}: {exc}") from exc
    report["capture"]["note"] = note
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report, note))


@bench.command()
@click.option("--seconds", type=click.FloatRange(min=0.5), default=3.0, show_default=True,
              help="Length of each step.")
@click.option("--start-rate", type=click.FloatRange(min=1000), default=50_000, show_default=True,
              help="First rate tried, datagrams/s.")
@click.option("--factor", type=click.FloatRange(min=1.01), default=1.25, show_default=True,
              help="Rate increase between steps until one fails.")
@click.option("--bisect", type=click.IntRange(min=0), default=3, show_default=True,
              help="Bisection steps between the last pass and the first failure.")
@click.option("--max-rate", type=click.FloatRange(min=1000), default=2_000_000,
              show_default=True)
@click.option("--rcvbuf", type=click.IntRange(min=65536), default=32 << 20, show_default=True,
              help="Receive buffer asked for by both receivers (bytes).")
@click.option("--tries", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs of a rate before it counts as failed.")
@click.option("--receiver", "receivers", type=click.Choice(["ours", "bare"]), multiple=True,
              help="Only these receivers (default: both).")
@click.option("--media", type=click.Path(dir_okay=False, exists=True), default=None,
              help="MPEG-TS file sent (default: tests/fixtures/media/h264_mp2.ts).")
@click.option("--receiver-cpu", type=click.IntRange(min=0), default=None)
@click.option("--sender-cpu", type=click.IntRange(min=0), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def live(
    seconds: float,
    start_rate: float,
    factor: float,
    bisect: int,
    max_rate: float,
    rcvbuf: int,
    tries: int,
    receivers: tuple[str, ...],
    media: str | None,
    receiver_cpu: int | None,
    sender_cpu: int | None,
    as_json: bool,
) -> None:
    """Live receive + analysis on one core: the highest RTP rate on loopback with no kernel
    drop and no loss, ours (UdpSource + analyzer) against a bare recvmsg loop with
    SO_TIMESTAMPNS; see docs/benchmarks.md."""
    from iec62379.cli.bench.live import (
        DEFAULT_MEDIA,
        BenchError,
        LiveBenchSettings,
        format_report,
        run_live_bench,
    )

    settings = LiveBenchSettings(
        media=Path(media) if media else DEFAULT_MEDIA,
        seconds=seconds,
        start_rate=start_rate,
        factor=factor,
        bisect=bisect,
        max_rate=max_rate,
        rcvbuf=rcvbuf,
        tries=tries,
        receivers=receivers or ("ours", "bare"),
        receiver_cpu=receiver_cpu,
        sender_cpu=sender_cpu,
    )
    try:
        report = run_live_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@bench.command()
@click.option("--streams", type=click.IntRange(min=1, max=200), default=10, show_default=True,
              help="RTP streams the agent receives.")
@click.option("--rate", type=click.FloatRange(min=1), default=100_000, show_default=True,
              help="Datagrams per second sent, all streams together.")
@click.option("--gets", type=click.IntRange(min=1), default=3000, show_default=True,
              help="Sequential GETs timed, idle and while ingesting.")
@click.option("--send-seconds", type=click.FloatRange(min=0), default=0.0,
              help="How long the sender sends (default: long enough for the GETs).")
@click.option("--media", type=click.Path(dir_okay=False, exists=True), default=None,
              help="MPEG-TS file sent (default: tests/fixtures/media/h264_mp2.ts).")
@click.option("--alarm-thresholds", is_flag=True,
              help="Give every stream a [stream.alarms] table with a threshold on every "
                   "condition (the defaults apply without it).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def ingest(streams: int, rate: float, gets: int, send_seconds: float, media: str | None,
           alarm_thresholds: bool, as_json: bool) -> None:
    """SNMP GET latency (p50, p99) of the agent, idle and while it receives and analyses
    RATE datagrams/s of live RTP streams on loopback; see docs/benchmarks.md."""
    from iec62379.cli.bench.ingest import IngestSettings, format_report, run_ingest_bench
    from iec62379.cli.bench.ingest import as_json as to_json
    from iec62379.cli.bench.live import DEFAULT_MEDIA
    from iec62379.cli.bench.snmp import BenchError

    settings = IngestSettings(media=Path(media) if media else DEFAULT_MEDIA, streams=streams,
                              rate=rate, gets=gets, send_seconds=send_seconds,
                              alarm_thresholds=alarm_thresholds)
    try:
        figures = run_ingest_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(to_json(figures) if as_json else format_report(figures))


@bench.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Agent configuration to serve (default: examples/scale-100.toml of the "
              "source tree, 100 streams).")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed walks per subtree.")
@click.option("--tool", type=click.Choice(["snmpbulkwalk", "snmpwalk"]), default="snmpbulkwalk",
              show_default=True)
@click.option("--bulk-repetitions", type=click.IntRange(min=1), default=50, show_default=True,
              help="snmpbulkwalk -Cr value (max-repetitions).")
@click.option("--snmpd-subtree", default=None, metavar="OID",
              help="snmpd's own subtree to compare with (default: hrSWInstalledTable).")
@click.option("--snmpd", "snmpd_path", type=click.Path(dir_okay=False), default=None,
              help="The snmpd binary (default: from PATH or /usr/sbin/snmpd).")
@click.option("--cpus", default=None, metavar="LIST",
              help="Pin every process of the bench (snmpd, subagent, standalone agent, walk "
              "clients) to these CPUs, as taskset -c takes them: 0 or 0,1 or 0-3.")
@click.option("--floor", is_flag=True,
              help="Also walk through snmpd to a minimal Python subagent that answers each "
              "GetNext from a dict of answers made before: the floor of any Python subagent.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def agentx(config_path: str | None, repeat: int, tool: str, bulk_repetitions: int,
           snmpd_subtree: str | None, snmpd_path: str | None, cpus: str | None, floor: bool,
           as_json: bool) -> None:
    """Our agent as an AgentX subagent of snmpd: walks of our tree through snmpd against
    snmpd's own hrSWInstalledTable and against our standalone agent; see docs/benchmarks.md."""
    from iec62379.cli.bench.agentx import (
        AgentXSettings,
        format_agentx_report,
        parse_cpus,
        run_agentx_bench,
    )
    from iec62379.cli.bench.snmp import SNMPD_SUBTREE, BenchError

    config = Path(config_path) if config_path else _REPO_EXAMPLE
    try:
        pin = parse_cpus(cpus) if cpus is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cpus") from exc
    settings = AgentXSettings(config=config, repeat=repeat, tool=tool,
                              bulk_repetitions=bulk_repetitions,
                              snmpd_subtree=snmpd_subtree or SNMPD_SUBTREE, snmpd=snmpd_path,
                              cpus=pin, floor=floor)
    try:
        report = run_agentx_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report, indent=2) if as_json else format_agentx_report(report))


@bench.command()
@click.option("--count", type=click.IntRange(min=1, max=1_000_000), default=2000,
              show_default=True, help="INFORMs timed per version.")
@click.option("--version", "versions", type=click.Choice(["v2c", "v3"]), multiple=True,
              help="Only these SNMP versions (default: both; v3 is authPriv SHA-256/AES).")
@click.option("--in-memory", is_flag=True,
              help="No state folder: the outbox is not written to disk (shows what fsync costs).")
@click.option("--repeat", type=click.IntRange(min=1, max=100), default=3, show_default=True,
              help="Runs per version (the median is reported).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def notify(count: int, versions: tuple[str, ...], in_memory: bool, repeat: int,
           as_json: bool) -> None:
    """Acknowledged INFORMs per second from our agent to net-snmp's snmptrapd on loopback,
    one in flight at a time, through the persisted outbox; see docs/benchmarks.md."""
    from dataclasses import asdict

    from iec62379.cli.bench.notify import NotifySettings, format_report, run_notify_bench
    from iec62379.cli.bench.snmp import BenchError

    settings = NotifySettings(count=count, versions=versions or ("v2c", "v3"),
                              persist=not in_memory, repeat=repeat)
    try:
        report = run_notify_bench(settings)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(asdict(report), indent=2) if as_json else format_report(report))


@bench.command()
@click.option("--streams", type=click.IntRange(min=1, max=10000), default=100, show_default=True,
              help="Streams whose conditions are evaluated.")
@click.option("--seconds", type=click.IntRange(min=1, max=3600), default=60, show_default=True,
              help="Simulated seconds (1 s intervals).")
@click.option("--media", type=click.Path(dir_okay=False, exists=True), default=None,
              help="MPEG-TS file measured for the reports (default: "
                   "tests/fixtures/media/h264_mp2.ts).")
def alarms(streams: int, seconds: int, media: str | None) -> None:
    """CPU cost of the alarm conditions (thresholds, persistence, the AlarmBook), in process,
    as a share of one core; see docs/benchmarks.md."""
    from iec62379.cli.bench.alarms import format_report, run_alarm_bench
    from iec62379.cli.bench.live import DEFAULT_MEDIA

    click.echo(format_report(run_alarm_bench(Path(media) if media else DEFAULT_MEDIA, streams,
                                             seconds)))
