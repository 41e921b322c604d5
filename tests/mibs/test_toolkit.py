"""`iec62379 mib ...`: compile (fresh, stale, broken), lint, tree, export, doc; bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, require_tool
from iec62379.agent.model import TABLES
from iec62379.agent.tables import served_tables
from iec62379.cli.main import cli
from iec62379.mibs import compiler, paths
from iec62379.mibs.docs import MARKER, render_reference
from iec62379.mibs.tree import load_nodes


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


BROKEN_LINE = 0


@pytest.fixture()
def broken_sources(tmp_path: Path) -> Path:
    """A copy of our sources with a syntax error in the SYNTAX of aMtAudioStatus."""
    global BROKEN_LINE
    src = tmp_path / "src"
    src.mkdir()
    for m in paths.OUR_MODULES:
        shutil.copyfile(paths.our_source(m), src / f"{m}.mib")
    f = src / "IEC62379-7-MEASUREMENT-MIB.mib"
    lines = f.read_text().splitlines()
    start = lines.index("aMtAudioStatus OBJECT-TYPE")
    idx = start + 1
    assert lines[idx].strip().startswith("SYNTAX")
    lines[idx] = "    SYNTAX  Bogus garbage here {"
    BROKEN_LINE = idx + 1
    f.write_text("\n".join(lines) + "\n")
    return src


def test_shipped_compiled_modules_are_up_to_date():
    assert compiler.stale_modules() == [], "run `iec62379 mib compile` and commit mibs/compiled"


def test_compile_check_cli_reports_up_to_date():
    r = run("mib", "compile", "--check")
    assert r.exit_code == 0 and "up to date" in r.output


def test_compile_into_a_folder_is_reproducible(tmp_path: Path):
    first = compiler.compile_ours(tmp_path / "a")
    second = compiler.compile_ours(tmp_path / "b")
    assert [f.read_text() for f in first] == [f.read_text() for f in second]
    text = first[-1].read_text()
    assert "Produced by" not in text and str(REPO) not in text


def test_broken_module_names_file_and_line_and_writes_nothing(broken_sources: Path, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.py").write_text("# earlier output\n")
    with pytest.raises(compiler.MibCompileError) as exc:
        compiler.compile_ours(out, sources=broken_sources)
    (finding,) = [f for f in exc.value.findings if "MEASUREMENT" in f.file]
    assert finding.file.endswith("IEC62379-7-MEASUREMENT-MIB.mib")
    assert finding.line == BROKEN_LINE
    assert sorted(p.name for p in out.iterdir()) == ["keep.py"]


def test_broken_module_cli_exits_nonzero(broken_sources: Path, tmp_path: Path):
    r = CliRunner().invoke(
        cli, ["mib", "compile", "--source", str(broken_sources), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 1
    assert f"IEC62379-7-MEASUREMENT-MIB.mib:{BROKEN_LINE}: error" in r.output
    assert not list((tmp_path / "o").glob("*.py"))


def test_shipped_package_is_untouched_by_a_failed_compile(broken_sources: Path):
    before = {p.name: p.read_bytes() for p in paths.compiled_dir().glob("*.py")}
    with pytest.raises(compiler.MibCompileError):
        compiler.compile_ours(sources=broken_sources)
    after = {p.name: p.read_bytes() for p in paths.compiled_dir().glob("*.py")}
    assert before == after


def test_missing_source_folder_is_a_clear_error():
    r = CliRunner().invoke(cli, ["mib", "compile", "--source", "/nonexistent/dir"])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_missing_base_modules_is_a_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("IEC62379_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("IEC62379_MIB_DIRS", raising=False)
    with pytest.raises(compiler.MibCompileError) as exc:
        compiler.compile_ours(tmp_path / "out")
    assert "fetch-base" in str(exc.value) and "IF-MIB" in str(exc.value)


def test_mib_dir_option_points_at_a_users_own_base_modules(tmp_path: Path, monkeypatch):
    own = tmp_path / "own"
    shutil.copytree(paths.base_source_cache(), own)
    monkeypatch.setenv("IEC62379_CACHE", str(tmp_path / "fresh-cache"))
    out = compiler.compile_ours(tmp_path / "out", mib_dirs=(str(own),))
    assert [f.name for f in out] == [f"{m}.py" for m in paths.OUR_MODULES]


def test_fetch_base_from_a_bad_directory(tmp_path: Path):
    r = CliRunner().invoke(cli, ["mib", "fetch-base", "--from", str(tmp_path)])
    assert r.exit_code == 1 and "lacks" in r.output


def test_tree_lists_every_column_with_syntax_and_access():
    r = run("mib", "tree")
    assert r.exit_code == 0
    line = next(ln for ln in r.output.splitlines() if "nMtTxRxPoint" in ln)
    assert line.startswith("1.0.62379.7.1.1.1.1.3")
    assert "TruthValue" in line and "read-write" in line
    assert "rxPointTSDF  CardinalNumber  read-only  [microseconds]" in r.output


def test_export_writes_both_sources(tmp_path: Path):
    r = run("mib", "export", str(tmp_path / "x"))
    assert r.exit_code == 0
    for m in paths.OUR_MODULES:
        assert (tmp_path / "x" / f"{m}.mib").read_bytes() == paths.our_source(m).read_bytes()


def test_docs_reference_is_up_to_date():
    doc = REPO / "docs" / "mib.md"
    generated = doc.read_text().split(MARKER, 1)[1]
    expected = render_reference(load_nodes(), served_tables(TABLES))
    assert generated == "\n" + expected, "run `iec62379 mib doc`"


def test_docs_cover_every_object():
    doc = (REPO / "docs" / "mib.md").read_text()
    for n in load_nodes():
        if n.kind in ("column", "identity"):
            assert f"`{n.name}`" in doc and n.dotted in doc, n.name


# --- smilint -----------------------------------------------------------------------------------


def test_smilint_level6_no_errors_and_every_warning_explained():
    require_tool("smilint")
    from iec62379.mibs.lint import run_smilint

    findings = run_smilint()
    assert [str(f) for f in findings if f.severity == "error"] == []
    unexplained = [str(f) for f in findings if f.severity == "warning" and not f.explanation]
    assert unexplained == []
    doc = (REPO / "docs" / "mib.md").read_text()
    for f in findings:
        if f.severity == "warning":
            assert f"`{f.explanation and f.subject or ''}`" in doc or f.tag in doc


def test_lint_cli_on_broken_module_reports_file_and_line(broken_sources: Path):
    require_tool("smilint")
    broken = broken_sources / "IEC62379-7-MEASUREMENT-MIB.mib"
    r = CliRunner().invoke(cli, ["mib", "lint", str(broken)])
    assert r.exit_code == 1
    assert f"IEC62379-7-MEASUREMENT-MIB.mib:{BROKEN_LINE}: error" in r.output


def test_lint_cli_on_missing_file():
    r = CliRunner().invoke(cli, ["mib", "lint", "/nonexistent.mib"])
    assert r.exit_code == 1 and "no such file" in r.output


def test_lint_cli_clean_on_ours():
    require_tool("smilint")
    r = CliRunner().invoke(cli, ["mib", "lint", "--strict"])
    assert r.exit_code == 0, r.output
    assert "0 error(s), 0 unexplained warning(s)" in r.output


# --- net-snmp's snmptranslate ------------------------------------------------------------------


def _translate(*args: str) -> list[str]:
    exe = require_tool("snmptranslate")
    mibdirs = f"{paths.source_dir()}:{paths.base_source_cache()}"
    proc = subprocess.run(
        [exe, "-M", mibdirs, "-m", ":".join(paths.OUR_MODULES), *args],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Cannot find module" not in proc.stderr, proc.stderr
    assert "Unlinked OID" not in proc.stderr, proc.stderr
    return [ln for ln in proc.stdout.splitlines() if ln.strip()]


def test_snmptranslate_names_to_oids_and_back():
    kinds = ("column", "table", "row", "identity", "node", "module", "group", "compliance")
    nodes = [n for n in load_nodes() if n.kind in kinds]
    names = [f"{n.module}::{n.name}" for n in nodes]
    assert _translate("-On", *names) == ["." + n.dotted for n in nodes]
    assert _translate("-OS", *["." + n.dotted for n in nodes]) == names


def test_export_into_a_folder_that_cannot_be_made_is_a_clear_error():
    r = CliRunner().invoke(cli, ["mib", "export", "/proc/nope"])
    assert r.exit_code == 1
    assert "Error: cannot write into /proc/nope" in r.output and "Traceback" not in r.output


def test_shipped_base_modules_carry_their_copyright_notice():
    for m in paths.BASE_MODULES:
        text = (paths.compiled_dir() / f"{m}.py").read_text()
        assert "Copyright (C) The Internet Society (2000)" in text
        assert f"ASN.1 source {m} (IETF)" in text and "/root/" not in text
