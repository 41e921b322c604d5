"""The `iec62379` console command: a click group whose subcommands load on demand.

Each subcommand lives in its own module of this package; it is imported only when it is run
(or when --help lists it), so `iec62379 mib tree` does not pay for importing pysnmp's engine.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# name -> (module in iec62379.cli, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "agent": ("agent", "agent", "Run the SNMP agent serving the measurement tables."),
    "mib": ("mib", "mib", "Compile, lint, browse and export the IEC 62379-7 MIB modules."),
    "probe": ("probe", "probe", "Analyse an RTP / MPEG-TS stream (live or pcap) per second."),
    "generate": ("generate", "generate", "Send an MPEG-TS file as paced RTP or UDP."),
    "demo": ("demo", "demo", "Agent plus a generated stream on loopback, all tables live."),
    "bench": ("bench.command", "bench", "Benchmarks against the reference tools."),
}


class LazyGroup(click.Group):
    """A group that lists and loads only the subcommands whose module is installed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [n for n, (mod, _, _) in _COMMANDS.items() if _module_exists(mod)]
        return sorted(set(names) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = _COMMANDS.get(cmd_name)
        if entry is None or not _module_exists(entry[0]):
            return None
        module = importlib.import_module(f"{__package__}.{entry[0]}")
        command = getattr(module, entry[1])
        if not isinstance(command, click.Command):
            raise TypeError(f"{module.__name__}.{entry[1]} is not a click command")
        return command


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.{name}") is not None


@click.group(cls=LazyGroup)
@click.version_option(package_name="iec62379")
def cli() -> None:
    """SNMP agent and MIB toolkit for IEC 62379-7 measurement blocks."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
