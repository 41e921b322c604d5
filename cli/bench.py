"""`iec62379 bench`: benchmarks against the reference tools."""

from __future__ import annotations

import json
from pathlib import Path

import click

_REPO_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scale-100.toml"


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
    from iec62379.agent.bench_snmp import (
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
