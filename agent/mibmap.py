"""How the store's rows become SNMP objects: columns by name from the compiled MIB.

Every OID comes from the compiled modules (IEC62379-7-MEASUREMENT-MIB, IEC62379-MEDIA-FORMATS-MIB,
SNMPv2-MIB, IF-MIB), never typed here. The columns are those declared in `tables`: each has
a getter that turns a row into a plain Python value, and here gets the BER tag of the column's
base SMI type, with which that value goes on the wire.
"""

from __future__ import annotations

import importlib.machinery
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysnmp.proto import rfc1902

from . import ber
from .model import TABLES
from .tables import MEASUREMENT_MIB, ColumnSpec, Table

FORMATS_MIB = "IEC62379-MEDIA-FORMATS-MIB"


def cached_bytecode_sources(mib_builder: Any) -> Any:
    """`mib_builder` with each of its MIB folders read through Python's bytecode cache.

    pysnmp looks for a module's bytecode only as a `.pyc` beside its `.py` (which nothing
    writes) and otherwise compiles the source at every start. Read through
    importlib's SourceFileLoader, a compiled MIB module comes from __pycache__ (written by
    pip at install, or at the first start where the folder is writable), checked against the
    source's mtime like any module: a faster start with a lower memory peak."""
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


def wire_tag(syntax: Any) -> int:
    """The BER tag of the base SMI type the column's syntax is built on (values are plain Python
    values with this tag: a TC's own constraints were applied by the model, and TAddress's NULL
    is the empty string)."""
    tag = syntax.getTagSet()
    for cls, number in (
        (rfc1902.Integer32, ber.INTEGER),
        (rfc1902.Gauge32, ber.GAUGE32),
        (rfc1902.Counter32, ber.COUNTER32),
        (rfc1902.Counter64, ber.COUNTER64),
        (rfc1902.TimeTicks, ber.TIMETICKS),
        (rfc1902.IpAddress, ber.IP_ADDRESS),
        (rfc1902.OctetString, ber.OCTET_STRING),
        (rfc1902.ObjectIdentifier, ber.OBJECT_IDENTIFIER),
    ):
        if cls.tagSet == tag:
            return number
    raise TypeError(f"no wire type for syntax {type(syntax).__name__}")


@dataclass(frozen=True, slots=True)
class Column:
    """One served column: its declaration resolved against the compiled MIB."""

    table: Table
    spec: ColumnSpec
    name: str
    oid: tuple[int, ...]
    access: str
    syntax: Any  # the compiled MIB's syntax object (with its constraints)
    tag: int  # BER tag of the values on the wire (see ber)
    get: Callable[[Any], Any]  # row -> plain value


class MibMap:
    """Resolves the declared tables' columns and the format identities from a pysnmp
    MibBuilder. A declaration that does not match the MIB (a column missing on either side, a
    read-write column without a SET rule or a SET rule on a read-only one) raises ValueError."""

    def __init__(self, mib_builder: Any) -> None:
        self.builder = mib_builder
        modules = {a.module for t in TABLES for a in t.augments} | {t.module for t in TABLES}
        mib_builder.load_modules(MEASUREMENT_MIB, FORMATS_MIB, *sorted(modules))
        #: table name -> its served (accessible) columns, in MIB order; a table's augmenting
        #: tables' columns follow its own (they are served from its rows).
        self.columns: dict[str, list[Column]] = {}
        for table in TABLES:
            self.columns[table.name] = self._resolve(table, mib_builder.mibSymbols[table.module])
            for aug in table.augments:
                self.columns[table.name] += self._resolve(
                    table, mib_builder.mibSymbols[aug.module], aug.name, aug.columns
                )
        self.formats: dict[str, tuple[int, ...]] = {}
        for name, sym in mib_builder.mibSymbols[FORMATS_MIB].items():
            if type(sym).__name__ == "ObjectIdentity":
                self.formats[name] = tuple(sym.getName())
        self.by_name = {c.name: c for cols in self.columns.values() for c in cols}

    @staticmethod
    def _resolve(table: Table, symbols: dict[str, Any], name: str = "",
                 columns: tuple[ColumnSpec, ...] | None = None) -> list[Column]:
        """The served columns of `table`, or of the table `name` of `symbols` that augments it
        with `columns`."""
        name = name or table.name
        columns = table.columns if columns is None else columns
        entry = tuple(symbols[name].getName()) + (1,)
        in_mib = [n for n, sym in sorted(
            ((n, s) for n, s in symbols.items() if type(s).__name__ == "MibTableColumn"),
            key=lambda item: tuple(item[1].getName()),
        ) if tuple(sym.getName())[:-1] == entry]
        declared = [c.name for c in columns]
        if declared != in_mib:
            raise ValueError(f"{name}: declared columns {declared} "
                             f"are not the MIB's {in_mib}")
        out = []
        for spec in columns:
            sym = symbols[spec.name]
            access = str(sym.getMaxAccess())
            if access in ("not-accessible", "accessible-for-notify"):
                continue  # an index column (its values are the instance's index), or a
                # notification's varbind only
            if spec.get is None:
                raise ValueError(f"{spec.name}: a served column needs a getter")
            if (access == "read-write") != (spec.write is not None):
                raise ValueError(f"{spec.name}: {access} in the MIB; SET rule declared: "
                                 f"{spec.write is not None}")
            syntax = sym.getSyntax()
            out.append(Column(table=table, spec=spec, name=spec.name, oid=tuple(sym.getName()),
                              access=access, syntax=syntax, tag=wire_tag(syntax), get=spec.get))
        return out

    def format_oid(self, value: str | tuple[int, ...]) -> tuple[int, ...]:
        """A MediaFormat value: an identity name of our formats MIB, or an OID as given.
        An unknown name is reported as zeroDotZero (0.0), the SMI's 'no identity'."""
        if isinstance(value, tuple):
            return value
        return self.formats.get(value, (0, 0))

    def symbol_oid(self, module: str, name: str) -> tuple[int, ...]:
        (sym,) = self.builder.import_symbols(module, name)
        return tuple(sym.getName())
