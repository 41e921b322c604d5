"""`iec62379 agent`: run the SNMP agent, with the collectors its configuration asks for."""

from __future__ import annotations

import logging
import signal
import sys
from types import ModuleType

import click


def _asyncio_without_tls() -> ModuleType:
    """asyncio, imported without its TLS support when nothing imported it yet. The agent speaks
    SNMP over UDP and AgentX over a unix or TCP stream, never TLS, but asyncio imports `ssl`
    (libssl and the module: 1.1 MiB of RSS, docs/benchmarks.md) only to offer it. Imported
    while `ssl` is unavailable, asyncio keeps its TLS support off in this process (it refuses an
    ssl= argument with a clear RuntimeError); a later `import ssl` still works."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        import asyncio

        return asyncio
    sys.modules["ssl"] = None  # type: ignore[assignment]  # makes `import ssl` fail
    try:
        import asyncio
    finally:
        del sys.modules["ssl"]
    return asyncio


def _check_port_range(text: str) -> None:
    """Refuse an endpoint whose port is a number outside 0..65535, saying so (the endpoint
    parser only says that the endpoint is not one)."""
    port = text.rpartition(":")[2]
    if port.isdigit() and int(port) > 65535:
        raise click.BadParameter(
            f"{text!r}: port {int(port)} is out of range (0..65535)", param_hint="'--listen'"
        )


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML configuration (default: the embedded one: 127.0.0.1:1161, read-only "
                   "community 'public' from loopback, the host's interfaces).")
@click.option("--listen", multiple=True, metavar="ENDPOINT",
              help="Override the listen endpoints, e.g. udp:127.0.0.1:1161 or udp6:[::1]:1161.")
@click.option("--agentx", "agentx", metavar="ADDRESS",
              help="Serve as an AgentX subagent of the master at ADDRESS (unix:/var/agentx/master "
                   "or tcp:127.0.0.1:705) instead of opening an SNMP port.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where written values and the engine's ID and boots are kept (overrides the "
              "config; default: $XDG_STATE_HOME/iec62379/<config name>, ~/.local/state if unset).")
@click.option("--mib-dir", "mib_dirs", multiple=True, type=click.Path(file_okay=False),
              help="A directory with the IETF base MIB sources (read only where the package "
                   "ships no MIB index, to build one).")
@click.option("-v", "--verbose", count=True, help="Debug logging.")
def agent(config_path: str | None, listen: tuple[str, ...], agentx: str | None,
          state_dir: str | None, mib_dirs: tuple[str, ...], verbose: int) -> None:
    """Run the SNMP agent serving the IEC 62379-7 measurement tables."""
    asyncio = _asyncio_without_tls()  # before the agent's modules import it
    import dataclasses
    from pathlib import Path

    from iec62379.agent.config import ConfigError, _endpoint, _Reader, agentx_address
    from iec62379.agent.persist import StateError
    from iec62379.agent.runner import state_dir_default
    from iec62379.collectors.compose import build_agent
    from iec62379.collectors.settings import Settings, load_settings
    from iec62379.mibs.compiler import MibCompileError
    from iec62379.mibs.index import MibIndexError

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        settings = load_settings(config_path) if config_path else Settings()
        cfg = settings.agent
        if listen:
            for text in listen:
                _check_port_range(text)
            r = _Reader("--listen", {})
            endpoints = tuple(_endpoint(r, f"[{i}]", e) for i, e in enumerate(listen))
            cfg = dataclasses.replace(cfg, listen=endpoints)
        if agentx:
            cfg = dataclasses.replace(
                cfg, agentx=agentx_address(_Reader("command line", {}), "--agentx", agentx))
        if state_dir:
            cfg = dataclasses.replace(cfg, state_dir=Path(state_dir))
        elif cfg.state_dir is None:
            cfg = dataclasses.replace(cfg, state_dir=state_dir_default(config_path))
        the_agent, _ = build_agent(dataclasses.replace(settings, agent=cfg), mib_dirs=mib_dirs)
    except (ConfigError, StateError, MibCompileError, MibIndexError) as exc:
        raise click.ClickException(str(exc)) from exc

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await the_agent.start()
        try:
            await stop.wait()
        finally:
            await the_agent.stop()

    try:
        asyncio.run(main())
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
