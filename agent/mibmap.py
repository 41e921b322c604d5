"""How the store's rows become SNMP objects: columns by name from the agent's MIB index.

Every OID comes from the MIB modules (IEC62379-7-MEASUREMENT-MIB, IEC62379-MEDIA-FORMATS-MIB,
SNMPv2-MIB, IF-MIB ...) through the index `iec62379 mib compile` derives from them
(`mibs.index`), never typed here. The columns are those declared in `tables`: each has a getter
that turns a row into a plain Python value, and here gets the BER tag of the column's base SMI
type, with which that value goes on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iec62379.mibs.index import MibIndex, load_index

from .model import TABLES
from .tables import ColumnSpec, Table

FORMATS_MIB = "IEC62379-MEDIA-FORMATS-MIB"


@dataclass(frozen=True, slots=True)
class Column:
    """One served column: its declaration resolved against the MIB index."""

    table: Table
    spec: ColumnSpec
    name: str
    oid: tuple[int, ...]
    access: str
    tag: int  # BER tag of the values on the wire (see ber): the column's base SMI type
    get: Callable[[Any], Any]  # row -> plain value


class MibMap:
    """Resolves the declared tables' columns and the format identities from the agent's MIB
    index (`mibs.index`; default: the shipped one). A declaration that does not match the MIB
    (a column missing on either side, a read-write column without a SET rule or a SET rule on
    a read-only one) raises ValueError."""

    def __init__(self, index: MibIndex | None = None) -> None:
        self.index = index if index is not None else load_index()
        #: table name -> its served (accessible) columns, in MIB order; a table's augmenting
        #: tables' columns follow its own (they are served from its rows).
        self.columns: dict[str, list[Column]] = {}
        for table in TABLES:
            self.columns[table.name] = self._resolve(table, table.module)
            for aug in table.augments:
                self.columns[table.name] += self._resolve(table, aug.module, aug.name,
                                                          aug.columns)
        self.formats: dict[str, tuple[int, ...]] = {
            o.name: o.oid for o in self.index.symbols(FORMATS_MIB).values()
            if o.kind == "identity"
        }
        self.by_name = {c.name: c for cols in self.columns.values() for c in cols}

    def _resolve(self, table: Table, module: str, name: str = "",
                 columns: tuple[ColumnSpec, ...] | None = None) -> list[Column]:
        """The served columns of `table` (of `module`), or of the table `name` of `module`
        that augments it with `columns`."""
        name = name or table.name
        columns = table.columns if columns is None else columns
        in_mib = list(self.index.columns(module, name))
        declared = [c.name for c in columns]
        if declared != in_mib:
            raise ValueError(f"{name}: declared columns {declared} "
                             f"are not the MIB's {in_mib}")
        out = []
        for spec in columns:
            obj = self.index.get(module, spec.name)
            access = obj.access
            if access in ("not-accessible", "accessible-for-notify"):
                continue  # an index column (its values are the instance's index), or a
                # notification's varbind only
            if spec.get is None:
                raise ValueError(f"{spec.name}: a served column needs a getter")
            if (access == "read-write") != (spec.write is not None):
                raise ValueError(f"{spec.name}: {access} in the MIB; SET rule declared: "
                                 f"{spec.write is not None}")
            if not obj.tag:
                raise TypeError(f"{spec.name}: no wire type for its syntax")
            out.append(Column(table=table, spec=spec, name=spec.name, oid=obj.oid,
                              access=access, tag=obj.tag, get=spec.get))
        return out

    def format_oid(self, value: str | tuple[int, ...]) -> tuple[int, ...]:
        """A MediaFormat value: an identity name of our formats MIB, or an OID as given.
        An unknown name is reported as zeroDotZero (0.0), the SMI's 'no identity'."""
        if isinstance(value, tuple):
            return value
        return self.formats.get(value, (0, 0))

    def symbol_oid(self, module: str, name: str) -> tuple[int, ...]:
        """The OID of the object `name` of `module` (MibIndexError if the index lacks it)."""
        return self.index.symbol_oid(module, name)
