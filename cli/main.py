"""The `iec62379` console command."""
import click


@click.group()
@click.version_option(package_name="iec62379")
def cli() -> None:
    """SNMP agent and MIB toolkit for IEC 62379-7 measurement blocks."""


def main() -> None:
    cli()
