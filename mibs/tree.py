"""Loading the compiled modules with pysnmp's MIB builder, and listing their objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .index import KINDS
from .paths import OUR_MODULES, compiled_dir


@dataclass(frozen=True)
class MibNode:
    """One node of a loaded module, as `iec62379 mib tree` and the docs show it."""

    oid: tuple[int, ...]
    name: str
    module: str
    kind: str  # table, row, column, scalar, identity, node, group, compliance, module
    syntax: str = ""
    access: str = ""
    units: str = ""
    description: str = ""
    indices: tuple[str, ...] = field(default=())

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.oid))


def mib_builder(mib_dirs: list[str] | tuple[str, ...] = (), texts: bool = True):  # noqa: ANN201
    """A pysnmp MibBuilder that loads our compiled modules and the compiled base modules (shipped
    beside ours); with `texts`, their DESCRIPTIONs too (the docs need them, the agent does not)."""
    from pysnmp.smi import builder

    from .compiler import ensure_base_compiled, shipped_base_dir

    mb = builder.MibBuilder()
    if shipped_base_dir() is None:  # a source tree whose base modules are not compiled yet
        mb.add_mib_sources(builder.DirMibSource(str(ensure_base_compiled(mib_dirs))))
    mb.add_mib_sources(builder.DirMibSource(str(compiled_dir())))
    mb.loadTexts = texts
    return mb


def cached_bytecode_sources(mib_builder: Any) -> Any:
    """`mib_builder` with each of its MIB folders read through Python's bytecode cache.

    pysnmp looks for a module's bytecode only as a `.pyc` beside its `.py` (which nothing
    writes) and otherwise compiles the source at every load. Read through importlib's
    SourceFileLoader, a compiled MIB module comes from __pycache__ (written by pip at install,
    or at the first load where the folder is writable), checked against the source's mtime
    like any module: a faster load with a lower memory peak."""
    import importlib.machinery
    import os

    from pysnmp.smi import builder

    class Cached(builder.DirMibSource):
        def read(self, f: str) -> tuple[Any, str]:
            path = os.path.join(self._srcName, f + ".py")
            if not os.path.isfile(path):
                return super().read(f)
            return importlib.machinery.SourceFileLoader(f, path).get_code(f), ".py"

    sources = [Cached(s.full_path()) if type(s) is builder.DirMibSource else s
               for s in mib_builder.get_mib_sources()]
    mib_builder.set_mib_sources(*sources)
    return mib_builder


def _syntax_name(obj) -> str:  # noqa: ANN001
    syntax = obj.getSyntax() if hasattr(obj, "getSyntax") else None
    if syntax is None:
        return ""
    name = type(syntax).__name__
    if name == "ObjectIdentifier":
        return "OBJECT IDENTIFIER"
    if name == "OctetString":
        return "OCTET STRING"
    return name


def load_nodes(
    modules: tuple[str, ...] = OUR_MODULES, mib_dirs: tuple[str, ...] = ()
) -> list[MibNode]:
    """All named nodes of `modules`, sorted by OID."""
    from pysnmp.smi.rfc1902 import ObjectIdentity  # noqa: F401  (ensures pysnmp SMI is set up)

    mb = mib_builder(mib_dirs)
    mb.load_modules(*modules)
    nodes = []
    for module in modules:
        for name, obj in mb.mibSymbols[module].items():
            if not hasattr(obj, "getName") or not isinstance(obj.getName(), tuple):
                continue
            cls = type(obj).__name__
            kind = KINDS.get(cls, cls)
            access = obj.getMaxAccess() if hasattr(obj, "getMaxAccess") else ""
            units = obj.getUnits() if hasattr(obj, "getUnits") else ""
            desc = obj.getDescription() if hasattr(obj, "getDescription") else ""
            if kind == "identity" and not desc:
                kind = "node"  # a plain OBJECT IDENTIFIER value, not an OBJECT-IDENTITY
            indices: tuple[str, ...] = ()
            if kind == "row":
                indices = tuple(spec[2] for spec in obj.getIndexNames())
            nodes.append(
                MibNode(
                    oid=tuple(obj.getName()),
                    name=name,
                    module=module,
                    kind=kind,
                    syntax=_syntax_name(obj) if kind in ("column", "scalar") else "",
                    access=str(access or ""),
                    units=str(units or ""),
                    description=" ".join(str(desc or "").split()),
                    indices=indices,
                )
            )
    nodes.sort(key=lambda n: n.oid)
    return nodes
