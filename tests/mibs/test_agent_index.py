"""The agent's MIB index (mibs/index.py): what `mib compile` writes is what pysnmp loads from the
modules, the agent resolves its tables from it alone (no pysnmp or pyasn1 in its process), a
stale index fails `mib compile --check`, and anything that is not an index is refused."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO
from iec62379.agent import ber
from iec62379.agent.mibmap import MibMap
from iec62379.cli.main import cli
from iec62379.mibs import compiler
from iec62379.mibs import index as index_mod
from iec62379.mibs.index import (
    INDEX_MODULES,
    KINDS,
    MibIndex,
    MibIndexError,
    index_path,
    load_index,
    load_index_file,
)
from iec62379.mibs.index_build import build_index, index_source
from iec62379.mibs.paths import compiled_dir
from iec62379.mibs.tree import mib_builder
from pysnmp.proto import rfc1902

#: The base types the agent sends: pysnmp's class -> the agent's BER tag.
WIRE = ((rfc1902.Integer32, ber.INTEGER), (rfc1902.Gauge32, ber.GAUGE32),
        (rfc1902.Counter32, ber.COUNTER32), (rfc1902.Counter64, ber.COUNTER64),
        (rfc1902.TimeTicks, ber.TIMETICKS), (rfc1902.IpAddress, ber.IP_ADDRESS),
        (rfc1902.OctetString, ber.OCTET_STRING),
        (rfc1902.ObjectIdentifier, ber.OBJECT_IDENTIFIER))
SENT = {tag for _, tag in WIRE}


@pytest.fixture(scope="module")
def loaded():
    mb = mib_builder(texts=False)
    mb.load_modules(*INDEX_MODULES)
    return mb


@pytest.fixture(scope="module")
def shipped() -> MibIndex:
    return load_index()


def _named(mb, module: str) -> dict:
    return {n: s for n, s in mb.mibSymbols[module].items()
            if not isinstance(s, type) and hasattr(s, "getName")
            and isinstance(s.getName(), tuple)}


def test_the_shipped_index_is_the_one_of_the_shipped_modules():
    assert index_source([compiled_dir()]) == index_path().read_text(), \
        "run `iec62379 mib compile` and commit mibs/compiled"


def test_every_object_pysnmp_loads_is_in_the_index_as_pysnmp_has_it(loaded, shipped):
    assert shipped.modules == INDEX_MODULES
    for module in INDEX_MODULES:
        named = _named(loaded, module)
        assert sorted(shipped.symbols(module)) == sorted(named), module
        for name, sym in named.items():
            obj = shipped.get(module, name)
            assert obj.oid == tuple(sym.getName()), name
            assert obj.kind == KINDS[type(sym).__name__], name
            access = str(sym.getMaxAccess()) if hasattr(sym, "getMaxAccess") else ""
            assert obj.access == access, name
            if obj.kind in ("column", "scalar"):
                tag_set = sym.getSyntax().getTagSet()
                assert obj.tag == next((t for c, t in WIRE if c.tagSet == tag_set), 0), name
            else:
                assert obj.tag == 0, name


def test_tables_list_their_columns_in_oid_order(loaded, shipped):
    tables = 0
    for module in INDEX_MODULES:
        named = _named(loaded, module)
        for name, sym in named.items():
            if type(sym).__name__ != "MibTable":
                continue
            tables += 1
            entry = tuple(sym.getName()) + (1,)
            columns = sorted((s.getName(), n) for n, s in named.items()
                             if type(s).__name__ == "MibTableColumn"
                             and tuple(s.getName())[:-1] == entry)
            assert shipped.columns(module, name) == tuple(n for _, n in columns), name
            assert columns, name
    assert tables > 20


def test_the_agent_resolves_the_same_from_the_index_as_from_pysnmp(shipped):
    ours, fresh = MibMap(shipped), MibMap(build_index())

    def view(m: MibMap):
        return ({t: [(c.name, c.oid, c.access, c.tag) for c in cols]
                 for t, cols in m.columns.items()}, m.formats)

    assert view(ours) == view(fresh)
    assert all(c.tag in SENT for c in ours.by_name.values())
    assert ours.formats["videoH264"][:8] == (1, 3, 6, 1, 4, 1, 32473, 62379)
    assert ours.symbol_oid("IF-MIB", "ifTable") == (1, 3, 6, 1, 2, 1, 2, 2)


def test_a_missing_index_is_built_with_pysnmp_and_said(monkeypatch, tmp_path, caplog, shipped):
    monkeypatch.setattr(index_mod, "index_path", lambda folder=None: tmp_path / "none.py")
    with caplog.at_level(logging.WARNING, logger="iec62379.mibs"):
        built = load_index()
    assert "building the MIB index with pysnmp" in caplog.text
    for module in INDEX_MODULES:
        assert built.symbols(module) == shipped.symbols(module)


@pytest.mark.parametrize(("modules", "tables"), [
    (None, {}),
    ({}, None),
    ({"X": [("a", (1,), "table", "", 0)]}, {}),  # a list, not a tuple
    ({1: ()}, {}),
    ({"X": ()}, {"Y": {}}),  # tables of a module not indexed
    ({"X": ()}, {"X": {"t": ["a"]}}),
    ({"X": ()}, {"X": {"t": (1,)}}),
])
def test_an_index_of_the_wrong_shape_is_refused(modules, tables):
    with pytest.raises(MibIndexError):
        MibIndex(modules, tables)


@pytest.mark.parametrize("entry", [
    ("a", (1, 3)),
    ("", (1, 3), "scalar", "read-only", 2),
    ("a", (), "scalar", "read-only", 2),
    ("a", (1, -3), "scalar", "read-only", 2),
    ("a", (1, "3"), "scalar", "read-only", 2),
    ("a", [1, 3], "scalar", "read-only", 2),
    ("a", (1, 3), "thing", "read-only", 2),
    ("a", (1, 3), "scalar", None, 2),
    ("a", (1, 3), "scalar", "read-only", 256),
    ("a", (1, 3), "scalar", "read-only", True),
    "garbage",
])
def test_a_bad_entry_is_refused_when_its_module_is_looked_up(entry):
    index = MibIndex({"X-MIB": (("ok", (1, 3, 6), "node", "", 0), entry)}, {})
    with pytest.raises(MibIndexError, match="X-MIB"):
        index.symbol_oid("X-MIB", "ok")


def test_unknown_modules_objects_and_tables_are_clear_errors(shipped):
    with pytest.raises(MibIndexError, match="HOST-RESOURCES-MIB is not in the agent's MIB index"):
        shipped.symbol_oid("HOST-RESOURCES-MIB", "hrSystem")
    with pytest.raises(MibIndexError, match="no object ifNothing in IF-MIB"):
        shipped.symbol_oid("IF-MIB", "ifNothing")
    with pytest.raises(MibIndexError, match="not a table"):
        shipped.columns("IF-MIB", "ifNumber")
    index = MibIndex({"X": (("t", (1, 3), "table", "not-accessible", 0),)}, {})
    with pytest.raises(MibIndexError, match="no columns"):
        index.columns("X", "t")


def test_index_files_that_are_not_one_are_refused(tmp_path: Path, shipped):
    with pytest.raises(MibIndexError, match="no such index file"):
        load_index_file(tmp_path / "missing.py")
    bad = tmp_path / "bad.py"
    for text, message in [
        ("MODULES = {\n", "not an agent MIB index"),
        ("raise SystemExit(3)\n", "not an agent MIB index"),
        ("MODULES = {}\nTABLES = {}\n", "layout"),
        ("LAYOUT = 99\nMODULES = {}\nTABLES = {}\n", "layout"),
        ("LAYOUT = 1\nMODULES = 5\nTABLES = {}\n", "mapping"),
        ("\x00\xff", "not an agent MIB index"),
    ]:
        bad.write_bytes(text.encode("latin-1"))
        with pytest.raises(MibIndexError, match=message):
            load_index_file(bad)
    copy = tmp_path / "copy.py"
    shutil.copy(index_path(), copy)
    assert load_index_file(copy).symbols("IF-MIB") == shipped.symbols("IF-MIB")


def test_the_agent_command_refuses_a_broken_index_clearly(monkeypatch, tmp_path: Path):
    import iec62379.mibs.compiled as package

    for bogus in (types.SimpleNamespace(LAYOUT=99, MODULES={}, TABLES={}),
                  types.SimpleNamespace(LAYOUT=1, MODULES={"IF-MIB": ()}, TABLES={})):
        monkeypatch.setattr(package, "agent_index", bogus, raising=False)
        r = CliRunner().invoke(cli, ["agent", "--listen", "udp:127.0.0.1:0", "--state-dir",
                                     str(tmp_path / "state")])
        assert r.exit_code == 1, r.output
        assert "Error: " in r.output and ("layout" in r.output or "not in the agent's MIB index"
                                          in r.output), r.output


def test_a_stale_index_fails_the_check(tmp_path: Path, monkeypatch):
    folder = tmp_path / "compiled"
    shutil.copytree(compiled_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = index_path(folder).read_text()
    assert "'ifTable', (1, 3, 6, 1, 2, 1, 2, 2)," in text
    index_path(folder).write_text(text.replace("'ifTable', (1, 3, 6, 1, 2, 1, 2, 2),",
                                               "'ifTable', (1, 3, 6, 1, 2, 1, 2, 9),"))
    monkeypatch.setattr(compiler, "compiled_dir", lambda: folder)
    r = CliRunner().invoke(cli, ["mib", "compile", "--check"])
    assert r.exit_code == 1 and "out of date: agent_index" in r.output
    index_path(folder).unlink()
    assert compiler.stale_modules() == ["agent_index"]


def test_the_agent_command_imports_neither_pysnmp_nor_pyasn1(tmp_path: Path):
    """`iec62379 agent` with v3 users, run to the point where it serves, then stopped by its
    own SIGTERM: its process has no pysnmp or pyasn1 module."""
    code = (
        "import logging, os, signal, sys\n"
        "from iec62379.cli.main import main\n"
        "class Served(logging.Handler):\n"
        "    def emit(self, record):\n"
        "        if record.getMessage().startswith('serving'):\n"
        "            found = sorted(m for m in sys.modules\n"
        "                           if m.split('.')[0] in ('pysnmp', 'pyasn1'))\n"
        "            print('modules', found, 'v3' if 'iec62379.agent.v3' in sys.modules else '',\n"
        "                  flush=True)\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "logging.getLogger('iec62379.agent').addHandler(Served())\n"
        "sys.argv = ['iec62379', 'agent', '--config', sys.argv[1], '--listen',\n"
        "            'udp:127.0.0.1:0', '--state-dir', sys.argv[2]]\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "examples" / "static-blocks.toml"),
         str(tmp_path / "state")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "modules [] v3", out.stdout + out.stderr
    assert "Traceback" not in out.stderr
