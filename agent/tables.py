"""How a measurement table is declared: `Table`, `ColumnSpec`, their config keys and SET rules.

The five declarations themselves are in `model`, each beside the row record it serves
(`model.TABLES`). A `Table` lists its columns in MIB order, index columns first. A `ColumnSpec`
names the MIB object (its OID, syntax, wire tag and access are looked up in the compiled MIB by
`mibmap`, never typed here) and says how a value is read from a row (`get`), how a static row
sets it from the agent's TOML file (`keys`), how a manager writes it (`write`, read-write
columns only) and which block type it links to (`links_to`). Everything that needs "every
table" iterates `model.TABLES`: the store (links, snapshots), the responder (served instances,
SET), persistence of written values, the [[<table>]] sections of the config, and the MIB
reference doc (`served_tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import Any

from iec62379.mibs.docs import ServedTable

#: The module of the five block tables (the default of `Table.module`).
MEASUREMENT_MIB = "IEC62379-7-MEASUREMENT-MIB"

U32_MAX = 4294967295
I32_MAX = 2147483647

# RFC 3416 error-status values (the SET rules below raise some; the request path uses all).
NO_ERROR, TOO_BIG, NO_SUCH_NAME, BAD_VALUE, READ_ONLY, GEN_ERR = 0, 1, 2, 3, 4, 5
NO_ACCESS, WRONG_TYPE, WRONG_LENGTH, WRONG_ENCODING, WRONG_VALUE = 6, 7, 8, 9, 10
NO_CREATION, INCONSISTENT_VALUE, RESOURCE_UNAVAILABLE, COMMIT_FAILED = 11, 12, 13, 14
UNDO_FAILED, AUTHORIZATION_ERROR, NOT_WRITABLE, INCONSISTENT_NAME = 15, 16, 17, 18


class Refused(Exception):
    """A SET rule refuses a value with an RFC 3416 error-status."""

    def __init__(self, status: int, why: str = "") -> None:
        super().__init__(why)
        self.status = status
        self.why = why


# --- static rows in the config ------------------------------------------------------------------


class KeyType(Enum):
    """How a TOML key of a static row is read (see config._read_key)."""

    INT = "an integer"
    FLOAT = "a number"
    BOOL = "true or false"
    STR = "a string"
    ENUM = "a name"
    FORMAT = "an identity of IEC62379-MEDIA-FORMATS-MIB"  # a value of its vocabulary enum
    ADDRESS = "an IP address of the network type"  # read before it; "" = NULL
    INTERFACE = "a network interface of this host"  # its ifIndex


class _Required:
    def __repr__(self) -> str:
        return "required"


#: The default of a key that must be given.
REQUIRED: Any = _Required()


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """A key of a static row's TOML table, and the row field it sets.

    Keys of one column that set the same field are alternatives: the first one present is read,
    and when none is, the last one gives the default.
    """

    name: str
    type: KeyType
    field: str = ""  # the row field (constructor argument); "" = the key's name
    low: float | None = None  # INT and FLOAT: the accepted range
    high: float | None = None
    default: Any = REQUIRED
    default_from: Callable[[dict[str, Any]], Any] | None = None  # from fields read before it
    default_doc: str = ""  # how the docs show a `default_from` default
    enum: type[Enum] | None = None  # ENUM: the enumeration (names match without case and _);
    # FORMAT: the vocabulary's enumeration of the identity names the key takes
    after: str = ""  # ADDRESS: the field holding the network type
    what: str = ""  # how the docs name the type, when not the KeyType's words

    @property
    def target(self) -> str:
        return self.field or self.name

    def describe(self, with_default: bool = True) -> str:
        """Type, range and default, as the docs show them."""
        if self.type is KeyType.ENUM and self.enum is not None:
            what = " | ".join(m.name.lower() for m in self.enum)
        elif self.low is not None:
            what = f"{self.type.value} in {_num(self.low)}..{_num(self.high)}"
        else:
            what = self.what or self.type.value
        if not with_default:
            return what
        if self.default_doc:
            return f"{what}; default {self.default_doc}"
        if self.default is REQUIRED:
            return f"{what}; required"
        if self.default is None:
            return f"{what}; default none"
        if isinstance(self.default, bool):
            return f"{what}; default {str(self.default).lower()}"
        if isinstance(self.default, str):
            return f'{what}; default "{self.default}"'
        return f"{what}; default {self.default}"


def _num(v: float | None) -> str:
    return str(int(v)) if v is not None and float(v).is_integer() else str(v)


def int_key(name: str, low: int, high: int, default: Any = REQUIRED, field: str = "") -> ConfigKey:
    return ConfigKey(name, KeyType.INT, field, low, high, default)


def enum_key(name: str, enum: type[Enum], default: str, field: str = "") -> ConfigKey:
    return ConfigKey(name, KeyType.ENUM, field, default=default, enum=enum)


def bool_key(name: str, default: bool = False, field: str = "") -> ConfigKey:
    return ConfigKey(name, KeyType.BOOL, field, default=default)


def format_key(name: str, family: type[Enum], default: str, field: str = "") -> ConfigKey:
    """A MediaFormat column: an identity name of IEC62379-MEDIA-FORMATS-MIB, one of those of
    the column's `family` (the vocabulary's enumeration, e.g. AudioFormat)."""
    return ConfigKey(name, KeyType.FORMAT, field, default=default, enum=family)


def link_key(name: str, field: str) -> ConfigKey:
    """A link to another block: 0 names none."""
    return int_key(name, 0, U32_MAX, 0, field)


#: The block id, first index of every table.
ID_KEY = int_key("id", 1, U32_MAX, field="block_id")
#: An ifIndex: by interface name, or the number.
IF_INDEX_KEYS = (
    ConfigKey("interface", KeyType.INTERFACE, "if_index"),
    int_key("if_index", 1, I32_MAX, 1),
)


# --- SET rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteRule:
    """How a read-write column is SET and persisted: `decode(row, value)` turns the plain wire
    value (already of the column's tag) into the field's value or raises Refused; the row's own
    checks then apply (a ValueError there refuses with inconsistentValue)."""

    field: str
    decode: Callable[[Any, Any], Any]
    to_json: Callable[[Any], Any]
    from_json: Callable[[Any], Any]


def decode_truth(row: Any, value: Any) -> bool:
    """A TruthValue SET: true(1) or false(2)."""
    if value not in (1, 2):
        raise Refused(WRONG_VALUE, "TruthValue is 1 or 2")
    return value == 1


#: TRUTH[flag]: the TruthValue of a bool.
TRUTH = {True: 1, False: 2}


# --- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a table; see the module docstring. `field` names the row attribute the
    value is read from when no `get` is given. Index columns (not-accessible in the MIB) name
    the row attribute of their part of the index; they are not served."""

    name: str
    field: str = ""
    get: Callable[[Any], Any] | None = None
    keys: tuple[ConfigKey, ...] = ()
    write: WriteRule | None = None
    links_to: type | None = None

    def __post_init__(self) -> None:
        if self.get is None and self.field:
            object.__setattr__(self, "get", attrgetter(self.field))


@dataclass(frozen=True, slots=True)
class Augment:
    """A table of another module that AUGMENTS a measurement table: the same rows (and index),
    more columns, read from the same row records. Its columns are read-only and have no keys
    in the config."""

    name: str
    module: str
    columns: tuple[ColumnSpec, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """One measurement table: its MIB name, the row record that holds a row, its columns, and
    the tables that augment it."""

    name: str
    row: type
    #: The Snapshot field holding its rows; also its [[key]] sections in the config and its
    #: section in the written-values file.
    key: str
    columns: tuple[ColumnSpec, ...]
    augments: tuple[Augment, ...] = ()
    #: The MIB module that defines the table.
    module: str = MEASUREMENT_MIB
    #: True for the block tables: the first index is a block id (unique across them, the
    #: target of links), and static rows come from [[key]] sections of the config. False for a
    #: table of its own (alarms, TR 101 290 tests): rows only from its producer.
    block: bool = True

    @property
    def writable(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.write is not None)

    @property
    def links(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.links_to is not None)

    def config_keys(self) -> Iterator[ConfigKey]:
        for c in self.columns:
            yield from c.keys

    def config_fields(self) -> list[tuple[str, tuple[ConfigKey, ...]]]:
        """(row field, its alternative keys) in declaration order."""
        out: dict[str, list[ConfigKey]] = {}
        for k in self.config_keys():
            out.setdefault(k.target, []).append(k)
        return [(f, tuple(ks)) for f, ks in out.items()]


def index_text(index: tuple[int, ...]) -> str:
    """An index as messages and the written-values file show it: "2.1"."""
    return ".".join(map(str, index))


def served_tables(tables: Iterable[Table]) -> dict[str, ServedTable]:
    """What the MIB reference (docs/mib.md) shows of the declarations: per table, the row
    record, the static-row section and each column's keys with type, range and default."""
    out = {}
    for t in tables:
        keys = {}
        for c in t.columns:
            # Keys that set one field are alternatives; only the last one has a default.
            by_field: dict[str, list[str]] = {}
            for k in c.keys:
                last = k is [o for o in c.keys if o.target == k.target][-1]
                what = k.describe(last).replace("|", "\\|")  # inside a markdown table
                by_field.setdefault(k.target, []).append(f"`{k.name}` ({what})")
            keys[c.name] = ", ".join(" or ".join(alts) for alts in by_field.values())
        out[t.name] = ServedTable(row=t.row.__name__, section=t.key if t.block else "",
                                  keys=keys)
    return out


__all__ = [
    "ID_KEY", "IF_INDEX_KEYS", "REQUIRED", "TRUTH", "Augment", "ColumnSpec", "ConfigKey", "KeyType",
    "Refused", "Table", "WriteRule", "bool_key", "decode_truth", "enum_key", "format_key",
    "MEASUREMENT_MIB", "index_text", "int_key", "link_key", "served_tables",
]
