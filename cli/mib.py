"""`iec62379 mib ...`: compile, lint, browse, export and document the MIB modules."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from iec62379.mibs import base, compiler, paths

_mib_dir_option = click.option(
    "--mib-dir",
    "mib_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A directory with the IETF base MIB sources (SNMPv2-SMI, IF-MIB ...); repeatable. "
    "Also taken from IEC62379_MIB_DIRS; the cache filled by `mib fetch-base` comes last.",
)


@click.group()
def mib() -> None:
    """Compile, lint, browse and export the IEC 62379-7 MIB modules."""


@mib.command("fetch-base")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    help="Copy the base modules from this MIB directory instead of fetching them with npm.",
)
@click.option("--force", is_flag=True, help="Fetch even if the cache already holds them.")
def fetch_base(from_dir: str | None, force: bool) -> None:
    """Put the IETF base MIB sources into the user cache (they are not shipped)."""
    cache = paths.base_source_cache()
    if not force and not from_dir and not base.missing_base_sources([cache]):
        click.echo(f"base MIB sources present in {cache}")
        return
    try:
        dest = base.copy_from_dir(Path(from_dir)) if from_dir else base.fetch_from_npm()
    except base.BaseMibError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"base MIB sources installed in {dest}")


@mib.command("compile")
@_mib_dir_option
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Write the compiled modules here instead of the package's compiled folder.",
)
@click.option(
    "--source",
    type=click.Path(file_okay=False, exists=True),
    help="Compile the modules from this folder instead of the package's mibs folder.",
)
@click.option("--check", is_flag=True,
              help="Only check that the shipped modules and the agent's index are up to date.")
def compile_cmd(
    mib_dirs: tuple[str, ...], out: str | None, source: str | None, check: bool
) -> None:
    """Compile the SMIv2 sources into pysnmp modules (local sources only), and the IETF base
    modules the agent loads (IF-MIB, IANAifType-MIB) from the sources `mib fetch-base` put in
    the cache; then write the agent's MIB index of them (agent_index.py). All are shipped in
    the package."""
    try:
        if check:
            stale = compiler.stale_modules(mib_dirs)
            if stale:
                click.echo(
                    f"out of date: {', '.join(stale)}; run `iec62379 mib compile`", err=True
                )
                sys.exit(1)
            click.echo("compiled modules are up to date")
            return
        written = compiler.compile_ours(
            Path(out) if out else None, mib_dirs, Path(source) if source else None
        ) + compiler.compile_base(Path(out) if out else None, mib_dirs)
        written.append(compiler.compile_index(Path(out) if out else None))
    except compiler.MibCompileError as exc:
        for finding in exc.findings:
            click.echo(str(finding), err=True)
        sys.exit(1)
    for f in written:
        click.echo(f"wrote {f}")


@mib.command()
@_mib_dir_option
@click.option("--level", default=6, show_default=True, type=click.IntRange(0, 6))
@click.option("--strict", is_flag=True, help="Fail on warnings not explained in docs/mib.md too.")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
def lint(mib_dirs: tuple[str, ...], level: int, strict: bool, files: tuple[str, ...]) -> None:
    """Run smilint on the modules (default: ours) and report each finding with file and line.

    Exits 1 when smilint reports an error (levels 0-3), or, with --strict, a warning that
    docs/mib.md does not explain.
    """
    from iec62379.mibs import lint as lint_mod

    try:
        findings = lint_mod.run_smilint([Path(f) for f in files] or None, mib_dirs, level)
    except lint_mod.LintUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    errors = unexplained = 0
    for f in findings:
        note = ""
        if f.severity == "error":
            errors += 1
        elif f.severity == "warning":
            why = f.explanation
            if why:
                note = f"  (explained in docs/mib.md: {why})"
            else:
                unexplained += 1
        click.echo(f"{f}{note}")
    click.echo(
        f"{len(findings)} finding(s): {errors} error(s), {unexplained} unexplained warning(s)",
        err=True,
    )
    if errors or (strict and unexplained):
        sys.exit(1)


@mib.command()
@_mib_dir_option
@click.option("--all", "show_all", is_flag=True, help="Also list groups and compliances.")
def tree(mib_dirs: tuple[str, ...], show_all: bool) -> None:
    """Print the OID tree of our modules: OID, name, syntax, access."""
    from iec62379.mibs.tree import load_nodes

    try:
        nodes = load_nodes(mib_dirs=mib_dirs)
    except compiler.MibCompileError as exc:
        raise click.ClickException(str(exc)) from exc
    base_len = min(len(n.oid) for n in nodes)
    for n in nodes:
        if not show_all and n.kind in ("group", "compliance"):
            continue
        indent = "  " * (len(n.oid) - base_len)
        extra = ""
        if n.kind in ("column", "scalar"):
            extra = f"  {n.syntax}  {n.access}" + (f"  [{n.units}]" if n.units else "")
        elif n.kind == "row":
            extra = f"  INDEX {{ {', '.join(n.indices)} }}"
        click.echo(f"{n.dotted:<28} {indent}{n.name}{extra}")


@mib.command()
@click.argument("directory", type=click.Path(file_okay=False))
def export(directory: str) -> None:
    """Copy our SMIv2 source modules into DIRECTORY, for an NMS to import."""
    try:
        written = compiler.copy_sources(Path(directory))
    except OSError as exc:
        raise click.ClickException(
            f"cannot write into {directory}: {exc.strerror or exc}"
        ) from exc
    for f in written:
        click.echo(f"wrote {f}")


@mib.command()
@_mib_dir_option
@click.argument("path", type=click.Path(dir_okay=False), default="docs/mib.md")
def doc(mib_dirs: tuple[str, ...], path: str) -> None:
    """Regenerate the object reference in PATH (docs/mib.md) from the compiled modules."""
    from iec62379.agent.model import TABLES
    from iec62379.agent.tables import served_tables
    from iec62379.mibs.docs import update_doc

    try:
        changed = update_doc(Path(path), mib_dirs, served_tables(TABLES))
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}: {'updated' if changed else 'up to date'}")
