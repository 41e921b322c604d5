"""The agent's MIB index: what the agent needs from the MIB modules, without pysnmp.

`iec62379 mib compile` loads the compiled modules with pysnmp (`mibs.index_build`) and writes
what the agent uses of them into the `compiled` package beside them, as a Python module of
literal data (INDEX_FILE): for each module of INDEX_MODULES, its named objects (name, OID, kind,
max-access and the BER tag of the base type of a column's or scalar's syntax, 0 where there is
none), and its tables' columns in OID order. The agent reads that module through Python's
import (so its bytecode cache makes loading it cheap) and never imports pysnmp or pyasn1.
`iec62379 mib compile --check` fails when the shipped index differs from a fresh one.

Nothing here imports pysnmp; building the index from the modules does (`mibs.index_build`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import OUR_MODULES, compiled_dir

log = logging.getLogger("iec62379.mibs")

#: The modules whose objects the agent looks up: ours, and the base modules of the objects it
#: serves beside them (system group, interfaces, engine and SNMPv3 counters).
INDEX_MODULES: tuple[str, ...] = OUR_MODULES + (
    "SNMPv2-MIB",
    "IF-MIB",
    "SNMP-FRAMEWORK-MIB",
    "SNMP-MPD-MIB",
    "SNMP-TARGET-MIB",
    "SNMP-USER-BASED-SM-MIB",
)
#: The index's module in the `compiled` package (a valid Python name, unlike the MIB modules').
INDEX_NAME = "agent_index"
INDEX_FILE = INDEX_NAME + ".py"
#: The layout of the index's data; a file of another layout is refused.
INDEX_LAYOUT = 1

#: pysnmp's class of a named object -> its kind in the index.
KINDS: dict[str, str] = {
    "MibTable": "table",
    "MibTableRow": "row",
    "MibTableColumn": "column",
    "MibScalar": "scalar",
    "ObjectIdentity": "identity",
    "MibIdentifier": "node",
    "ObjectGroup": "group",
    "NotificationGroup": "group",
    "ModuleCompliance": "compliance",
    "ModuleIdentity": "module",
    "NotificationType": "notification",
    "AgentCapabilities": "capabilities",
}
_KIND_SET = frozenset(KINDS.values())


class MibIndexError(LookupError):
    """The index lacks a module or object, or the index file is not one."""


@dataclass(frozen=True, slots=True)
class MibObject:
    """One named object of a module, as the agent needs it."""

    module: str
    name: str
    oid: tuple[int, ...]
    kind: str  # a value of KINDS
    access: str  # MAX-ACCESS ("read-only" ...); "" for objects without one
    tag: int  # BER tag of the base type of a column's or scalar's syntax (agent.ber); else 0


Entry = tuple[str, tuple[int, ...], str, str, int]  # name, OID, kind, access, tag


def _check_entry(module: str, entry: Any) -> MibObject:
    if not (isinstance(entry, tuple) and len(entry) == 5):
        raise MibIndexError(f"{module}: an index entry is not (name, oid, kind, access, tag): "
                            f"{entry!r:.80}")
    name, oid, kind, access, tag = entry
    if not (isinstance(name, str) and name and isinstance(oid, tuple) and oid
            and all(type(a) is int and a >= 0 for a in oid) and kind in _KIND_SET
            and isinstance(access, str) and type(tag) is int and 0 <= tag <= 0xFF):
        raise MibIndexError(f"{module}: not a valid index entry: {entry!r:.80}")
    return MibObject(module, name, oid, kind, access, tag)


class MibIndex:
    """The objects of INDEX_MODULES by module and name, and their tables' columns.

    `modules` maps a module to its entries (name, OID, kind, access, tag); `tables` maps a
    module to {table: its column names in OID order}. Entries are checked when a module is
    first looked up; anything that is not an index raises MibIndexError."""

    def __init__(self, modules: Mapping[str, tuple[Entry, ...]],
                 tables: Mapping[str, Mapping[str, tuple[str, ...]]]) -> None:
        if not isinstance(modules, Mapping) or not isinstance(tables, Mapping):
            raise MibIndexError("an index needs a mapping of modules and one of tables")
        for module, entries in modules.items():
            if not isinstance(module, str) or not isinstance(entries, tuple):
                raise MibIndexError(f"{module!r:.40}: a module's entries must be a tuple")
        for module, columns in tables.items():
            if module not in modules or not isinstance(columns, Mapping) or not all(
                    isinstance(t, str) and isinstance(c, tuple)
                    and all(isinstance(n, str) for n in c) for t, c in columns.items()):
                raise MibIndexError(f"{module!r:.40}: tables must map a table to column names "
                                    "of an indexed module")
        self._entries = modules
        self._tables = tables
        self._modules: dict[str, dict[str, MibObject]] = {}

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def symbols(self, module: str) -> dict[str, MibObject]:
        """The named objects of `module` by name."""
        found = self._modules.get(module)
        if found is None:
            entries = self._entries.get(module)
            if entries is None:
                raise MibIndexError(f"module {module} is not in the agent's MIB index (it has "
                                    f"{', '.join(self._entries)})")
            found = {}
            for entry in entries:
                obj = _check_entry(module, entry)
                found[obj.name] = obj
            self._modules[module] = found
        return found

    def get(self, module: str, name: str) -> MibObject:
        obj = self.symbols(module).get(name)
        if obj is None:
            raise MibIndexError(f"no object {name} in {module}")
        return obj

    def symbol_oid(self, module: str, name: str) -> tuple[int, ...]:
        """The OID of the object `name` of `module`."""
        return self.get(module, name).oid

    def columns(self, module: str, table: str) -> tuple[str, ...]:
        """The column names of the table `table` of `module`, in OID order (index columns
        included)."""
        if self.get(module, table).kind != "table":
            raise MibIndexError(f"{module}::{table} is not a table")
        found = self._tables.get(module, {}).get(table)
        if found is None:
            raise MibIndexError(f"the index lists no columns for {module}::{table}")
        return found


def index_path(folder: Path | None = None) -> Path:
    """The index file in `folder` (default: the shipped `compiled` package)."""
    return (folder or compiled_dir()) / INDEX_FILE


def _from_namespace(data: Any, where: str) -> MibIndex:
    if getattr(data, "LAYOUT", None) != INDEX_LAYOUT:
        raise MibIndexError(f"{where}: not an agent MIB index of layout {INDEX_LAYOUT}; "
                            "run `iec62379 mib compile`")
    return MibIndex(getattr(data, "MODULES", None), getattr(data, "TABLES", None))


def load_index_file(path: Path) -> MibIndex:
    """The index in the file `path` (written by `iec62379 mib compile`)."""
    import importlib.util  # here: the agent imports the shipped index as a module

    spec = importlib.util.spec_from_file_location(f"_iec62379_mib_index_{abs(hash(path))}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise MibIndexError(f"{path}: no such index file; run `iec62379 mib compile`")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure means: not an index
        raise MibIndexError(f"{path}: not an agent MIB index: {exc}") from exc
    return _from_namespace(module, str(path))


def load_index(mib_dirs: tuple[str, ...] | list[str] = ()) -> MibIndex:
    """The shipped index (imported, so read from its bytecode cache).

    Without one (a source tree where `iec62379 mib compile` has not run since the index was
    introduced), it is built here from the compiled modules with pysnmp, `mib_dirs` naming the
    base modules' sources if those need compiling too, as the agent loaded its MIBs before:
    slower, and logged as a warning."""
    if not index_path().is_file():
        from .index_build import build_index

        log.warning("%s is missing: building the MIB index with pysnmp; run `iec62379 mib "
                    "compile` to ship it", index_path())
        return build_index(mib_dirs)
    try:
        from .compiled import agent_index  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - a broken file: not an index
        raise MibIndexError(f"{index_path()}: not an agent MIB index: {exc}") from exc
    return _from_namespace(agent_index, str(index_path()))
