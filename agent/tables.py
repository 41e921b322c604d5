"""The five IEC 62379-7 measurement tables, each declared once.

A `Table` lists its columns in MIB order, index columns first. A `ColumnSpec` names the MIB
object (its OID, syntax, wire tag and access are looked up in the compiled MIB by `mibmap`,
never typed here) and says how a value is read from a row (`get`), how a static row sets it
from the agent's TOML file (`keys`), how a manager writes it (`write`, read-write columns only)
and which block type it links to (`links_to`). Everything that needs "every table" iterates
`TABLES`: the store (links, snapshots), the responder (served instances, SET), persistence of
written values, the [[<table>]] sections of the config, and the MIB reference doc.

The row records themselves, and the standard's rules they apply when made, are in `model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from operator import attrgetter
from typing import Any

from iec62379.mibs.docs import ServedTable

from .model import (
    I32_MAX,
    U32_MAX,
    AudioComponent,
    BitRateType,
    FecType,
    NetworkBlock,
    NetworkType,
    Row,
    RxPoint,
    Temperature,
    TemperatureStatus,
    TransportType,
    VideoBlock,
    address_length,
    snapshot_field,
)

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
    enum: type[Enum] | None = None  # ENUM: the enumeration (names match without case and _)
    after: str = ""  # ADDRESS: the field holding the network type
    what: str = ""  # how the docs name the type, when not the KeyType's words

    @property
    def target(self) -> str:
        return self.field or self.name

    def describe(self, with_default: bool = True) -> str:
        """Type, range and default, as the docs show them."""
        if self.type is KeyType.ENUM and self.enum is not None:
            what = " \\| ".join(m.name.lower() for m in self.enum)
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


def _int(name: str, low: int, high: int, default: Any = REQUIRED, field: str = "") -> ConfigKey:
    return ConfigKey(name, KeyType.INT, field, low, high, default)


def _enum(name: str, enum: type[Enum], default: str, field: str = "") -> ConfigKey:
    return ConfigKey(name, KeyType.ENUM, field, default=default, enum=enum)


def _format(name: str, default: str, field: str = "") -> ConfigKey:
    """A MediaFormat column: an identity name of IEC62379-MEDIA-FORMATS-MIB."""
    return ConfigKey(name, KeyType.STR, field, default=default,
                     what="an identity of IEC62379-MEDIA-FORMATS-MIB")


def _block_id(name: str, field: str) -> ConfigKey:
    """A link to another block: 0 names none."""
    return _int(name, 0, U32_MAX, 0, field)


_ID = _int("id", 1, U32_MAX, field="block_id")
_IF_INDEX = (
    ConfigKey("interface", KeyType.INTERFACE, "if_index"),
    _int("if_index", 1, I32_MAX, 1),
)
_THRESHOLD = (-I32_MAX - 1, I32_MAX, 0)


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


def _decode_truth(row: Any, value: Any) -> bool:
    if value not in (1, 2):
        raise Refused(WRONG_VALUE, "TruthValue is 1 or 2")
    return value == 1


def _decode_address(row: NetworkBlock, value: Any) -> bytes:
    """A TAddress of the block: NULL (empty), or an address of the block's network type."""
    raw = bytes(value)
    if len(raw) not in (0, 4, 16):
        raise Refused(WRONG_LENGTH, "an address is 0, 4 or 16 octets")
    if raw and (row.network_type is NetworkType.ASI
                or len(raw) != address_length(row.network_type)):
        raise Refused(INCONSISTENT_VALUE, "address length does not match the network type")
    return raw


# --- declarations -------------------------------------------------------------------------------

_TRUTH = {True: 1, False: 2}


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a table; see the module docstring. `field` names the row attribute the
    value is read from when no `get` is given. Index columns (not-accessible in the MIB) are
    declared for their config keys and are not served."""

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
class Table:
    """One measurement table: its MIB name, the row record that holds a row, its columns."""

    name: str
    row: type
    columns: tuple[ColumnSpec, ...]
    #: The Snapshot attribute holding its rows; also its [[key]] section in the config and its
    #: section in the written-values file.
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", snapshot_field(self.row))

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


NETWORK = Table("nMtBlockTable", NetworkBlock, (
    ColumnSpec("nMtBlockId", keys=(_ID,)),
    ColumnSpec("nMtIfIndex", "if_index", keys=_IF_INDEX),
    ColumnSpec("nMtTxRxPoint", get=lambda r: _TRUTH[r.rx_point],
               keys=(ConfigKey("rx", KeyType.BOOL, "rx_point", default=False),),
               write=WriteRule("rx_point", _decode_truth, bool, bool)),
    ColumnSpec("nMtNetworkType", get=lambda r: int(r.network_type),
               keys=(_enum("network_type", NetworkType, "ipv4"),)),
    ColumnSpec("nMtTransportType", get=lambda r: int(r.transport_type),
               keys=(ConfigKey("transport", KeyType.ENUM, "transport_type", enum=TransportType,
                               default_from=lambda f: "notapplicable"
                               if f["network_type"] is NetworkType.ASI else "rtp",
                               default_doc='"rtp" ("not_applicable" for asi)'),)),
    ColumnSpec("nMtTxRxAddr", "address",
               keys=(ConfigKey("address", KeyType.ADDRESS, after="network_type", default=""),)),
    ColumnSpec("nMtPortNumber", "port", keys=(_int("port", 0, 65535, 0),)),
    ColumnSpec("nMtIGMPVersion", "igmp_version", keys=(_int("igmp_version", 0, 3, 0),)),
    ColumnSpec("nMtSIPServerAddr", "sip_server",
               keys=(ConfigKey("sip_server", KeyType.ADDRESS, after="network_type", default=""),),
               write=WriteRule("sip_server", _decode_address, bytes.hex, bytes.fromhex)),
))

AUDIO = Table("aMtBlockTable", AudioComponent, (
    ColumnSpec("aMtBlockId", keys=(_ID,)),
    ColumnSpec("aMtAudioComponentNumber", keys=(_int("component", 1, I32_MAX, 1),)),
    ColumnSpec("aMtNetworkBlockId", "network_block_id",
               keys=(_block_id("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("aMtAudioStatus", get=lambda r: _TRUTH[r.status],
               keys=(ConfigKey("status", KeyType.BOOL, default=False),)),
    ColumnSpec("aMtAudioSignalFormat", "signal_format",
               keys=(_format("format", "noAudio", "signal_format"),)),
    ColumnSpec("aMtAudioPId", "pid", keys=(_int("pid", 0, 8191, 0),)),
    ColumnSpec("aMtIfIndex", "if_index", keys=_IF_INDEX),
    ColumnSpec("aMtFECType", get=lambda r: int(r.fec_type),
               keys=(_enum("fec_type", FecType, "none"),)),
    ColumnSpec("aMtFECLengthDimension", "fec_length_dimension",
               keys=(_int("fec_length_dimension", 0, 9999, 0),)),
))

VIDEO = Table("vMtBlockTable", VideoBlock, (
    ColumnSpec("vMtBlockId", keys=(_ID,)),
    ColumnSpec("vMtAudioBlockId", "audio_block_id",
               keys=(_block_id("audio", "audio_block_id"),), links_to=AudioComponent),
    ColumnSpec("vMtNetworkBlockId", "network_block_id",
               keys=(_block_id("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("vMtVideoStatus", get=lambda r: _TRUTH[r.status],
               keys=(ConfigKey("status", KeyType.BOOL, default=False),)),
    ColumnSpec("vMtVideoSourceFormat", "source_format",
               keys=(_format("source_format", "unspecifiedSourceFormat"),)),
    ColumnSpec("vMtVideoCodingType", "coding_type",
               keys=(_format("coding_type", "noVideo"),)),
    ColumnSpec("vMtVideoBitRateType", get=lambda r: int(r.bit_rate_type),
               keys=(_enum("bit_rate_type", BitRateType, "unspecified"),)),
    ColumnSpec("vMtVideoBitRate", "bit_rate_kbps", keys=(_int("bit_rate_kbps", 0, U32_MAX, 0),)),
    ColumnSpec("vMtAspectRatio", "aspect_ratio",
               keys=(_format("aspect_ratio", "unspecifiedAspectRatio"),)),
    ColumnSpec("vMtFECType", get=lambda r: int(r.fec_type),
               keys=(_enum("fec_type", FecType, "none"),)),
    ColumnSpec("vMtFECLengthDimension", "fec_length_dimension",
               keys=(_int("fec_length_dimension", 0, 9999, 0),)),
    ColumnSpec("vMtTrickModeSupport", get=lambda r: _TRUTH[r.trick_mode_support],
               keys=(ConfigKey("trick_mode_support", KeyType.BOOL, default=False),)),
))

RX_POINT = Table("rxPointTable", RxPoint, (
    ColumnSpec("rxPointBlockId", keys=(_ID,)),
    ColumnSpec("rxPointNetworkBlockId", "network_block_id",
               keys=(_block_id("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("rxPointBufferSize", "buffer_size_ms",
               keys=(_int("buffer_size_ms", 0, U32_MAX, 0),)),
    ColumnSpec("rxPointBufferOcpancyTime", "occupancy_ms",
               keys=(_int("occupancy_ms", 0, U32_MAX, 0),)),
    ColumnSpec("rxPointBufferOcpncyPcnt", "occupancy_percent",
               keys=(_int("occupancy_percent", 1, 100, 1),)),
    ColumnSpec("rxPointMDI", get=lambda r: r.mdi.encode(),
               keys=(ConfigKey("df_ms", KeyType.FLOAT, low=0, high=1e9, default=0.0),
                     ConfigKey("mlr", KeyType.FLOAT, low=0, high=1e9, default=0.0))),
    ColumnSpec("rxPointTSDF", "tsdf_us", keys=(_int("tsdf_us", 0, U32_MAX, 0),)),
))

TEMPERATURE = Table("temperatureTable", Temperature, (
    ColumnSpec("temperatureBlockId", keys=(_ID,)),
    ColumnSpec("temperatureLocnNumber", keys=(_int("location_number", 1, I32_MAX, 1),)),
    ColumnSpec("temperatureLocation", get=lambda r: r.location.encode(),
               keys=(ConfigKey("location", KeyType.STR, default=""),)),
    ColumnSpec("temperatureTrend", get=lambda r: r.trend,
               keys=(ConfigKey("celsius", KeyType.FLOAT, low=-273.15, high=10000, default=None),)),
    ColumnSpec("temperatureStatus", get=lambda r: int(r.status),
               keys=(_enum("status", TemperatureStatus, "undetermined"),)),
    ColumnSpec("temperatureLowWarning", "low_warning", keys=(_int("low_warning", *_THRESHOLD),)),
    ColumnSpec("temperatureHighWarning", "high_warning", keys=(_int("high_warning", *_THRESHOLD),)),
    ColumnSpec("temperatureLowCritical", "low_critical", keys=(_int("low_critical", *_THRESHOLD),)),
    ColumnSpec("temperatureHighCritical", "high_critical",
               keys=(_int("high_critical", *_THRESHOLD),)),
))

#: Every table, in MIB order.
TABLES: tuple[Table, ...] = (NETWORK, AUDIO, VIDEO, RX_POINT, TEMPERATURE)

_BY_ROW = {t.row: t for t in TABLES}


def table_of(row_type: type) -> Table:
    """The declaration of the table a row record belongs to."""
    return _BY_ROW[row_type]


def index_text(index: tuple[int, ...]) -> str:
    """An index as messages and the written-values file show it: "2.1"."""
    return ".".join(map(str, index))


def served_tables() -> dict[str, ServedTable]:
    """What the MIB reference (docs/mib.md) shows of the declarations: per table, the row
    record, the static-row section and each column's keys with type, range and default."""
    out = {}
    for t in TABLES:
        keys = {}
        for c in t.columns:
            # Keys that set one field are alternatives; only the last one has a default.
            by_field: dict[str, list[str]] = {}
            for k in c.keys:
                last = k is [o for o in c.keys if o.target == k.target][-1]
                by_field.setdefault(k.target, []).append(f"`{k.name}` ({k.describe(last)})")
            keys[c.name] = ", ".join(" or ".join(alts) for alts in by_field.values())
        out[t.name] = ServedTable(row=t.row.__name__, section=t.key, keys=keys)
    return out


__all__ = [
    "AUDIO", "NETWORK", "REQUIRED", "RX_POINT", "TABLES", "TEMPERATURE", "VIDEO", "ColumnSpec",
    "ConfigKey", "KeyType", "Refused", "Row", "Table", "WriteRule", "index_text",
    "served_tables", "table_of",
]
