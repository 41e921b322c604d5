"""The five IEC 62379-7 measurement tables: typed rows, the rules they obey, declarations.

Records are immutable. Rules the standard states as "shall be returned" values (the asi(3)
rules, noAudio when audio status is false, FEC extent 0 without FEC, bit rate 0 when its type
is unspecified, occupancy percent within 1..100, a temperature below 0 reported as 0) are
applied when a record is made, so a row can never hold a value the standard forbids; values that
no rule can repair (out of range, wrong length) raise ValueError with a precise message.
Links between blocks are checked by the store, which sees all rows.

Each record is followed by its table's declaration (NETWORK, AUDIO, VIDEO, RX_POINT,
TEMPERATURE; see `tables`): the columns in MIB order, how each is read, set from a static row
and written. `TABLES` lists them; the store, the responder, SET handling, persistence, the
[[<table>]] sections of the config and the MIB reference all derive from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from iec62379.mibs.vocabulary import (
    AspectRatio,
    AudioFormat,
    BitRateType,
    FecType,
    NetworkType,
    SourceFormat,
    TemperatureStatus,
    TransportType,
    VideoCoding,
    temperature_trend,
)

from .alarms import ALARM_ACTIVE, ALARM_LOG, ActiveAlarm, AlarmLogEntry
from .dvb import (  # the DVB measurement MIB's tables; names the producers use, re-exported
    DVB_TABLES,
    FAIL_TRAP_ENABLE,
    PID_TESTS,
    PREFERENCES,
    RATE_ENABLED,
    TEST_ENABLE,
    RfSystem,
    TestPid,
    TestPreferences,
    TestSummary,
    TrapControl,
    TsCapability,
    TsInput,
    normal_float,
)
from .notify.table import NOTIFY_TARGETS, NotifyTargetRow
from .tables import (
    I32_MAX,
    ID_KEY,
    IF_INDEX_KEYS,
    INCONSISTENT_VALUE,
    TRUTH,
    U32_MAX,
    WRONG_LENGTH,
    Augment,
    ColumnSpec,
    ConfigKey,
    KeyType,
    Refused,
    Table,
    WriteRule,
    bool_key,
    decode_truth,
    enum_key,
    format_key,
    int_key,
    link_key,
)

#: A MediaFormat value: an identity name of IEC62379-MEDIA-FORMATS-MIB ("noAudio", ...), or an
#: OBJECT IDENTIFIER (tuple of ints) of an identity defined elsewhere.
Format = str | tuple[int, ...]


def _check_block_id(what: str, value: int, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= U32_MAX:
        raise ValueError(f"{what} must be an integer in {low}..{U32_MAX}, got {value!r}")


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{what} must be an integer in {low}..{high}, got {value!r}")


def format_name(value: Format) -> bytes:
    """A MediaFormat value as IEC62379-EXT-MIB's name columns show it: the identity's
    descriptor, or an OID given as such in dotted decimal."""
    text = value if isinstance(value, str) else ".".join(map(str, value))
    return text.encode()[:255]  # DisplayString (SIZE (0..255))


def _check_format(what: str, value: Format) -> None:
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{what} must be a format identity name or an OID, got ''")
    elif isinstance(value, tuple):
        if len(value) < 2 or not all(isinstance(x, int) and 0 <= x <= U32_MAX for x in value):
            raise ValueError(
                f"{what} must be an OBJECT IDENTIFIER of 2 or more arcs, got {value!r}"
            )
    else:
        raise ValueError(f"{what} must be a format identity name or an OID tuple, got {value!r}")


def address_length(network_type: NetworkType) -> int:
    """Octets of a TAddress for a network type (0 for asi: NULL)."""
    return {NetworkType.IPV4: 4, NetworkType.IPV6: 16, NetworkType.ASI: 0}[network_type]


def check_address(what: str, network_type: NetworkType, value: bytes) -> None:
    """An address is NULL (b"") or 4 / 16 octets as the network type says."""
    if not isinstance(value, bytes):
        raise ValueError(f"{what} must be bytes, got {type(value).__name__}")
    want = address_length(network_type)
    if len(value) not in (0, want):
        raise ValueError(
            f"{what} must be 0 or {want} octets for {network_type.name.lower()}, got {len(value)}"
        )


def fec_extent(l_columns: int, d_rows: int) -> int:
    """The xxyy value this implementation reports for an L x D FEC matrix: L * 100 + D."""
    _check_range("FEC L", l_columns, 0, 99)
    _check_range("FEC D", d_rows, 0, 99)
    return l_columns * 100 + d_rows


@dataclass(frozen=True, slots=True)
class NetworkBlock:
    """A row of nMtBlockTable."""

    block_id: int
    if_index: int
    rx_point: bool
    network_type: NetworkType
    transport_type: TransportType = TransportType.NOT_APPLICABLE
    address: bytes = b""
    port: int = 0
    igmp_version: int = 0
    sip_server: bytes = b""

    def __post_init__(self) -> None:
        _check_block_id("nMtBlockId", self.block_id)
        _check_range("nMtIfIndex", self.if_index, 1, I32_MAX)
        object.__setattr__(self, "network_type", NetworkType(self.network_type))
        object.__setattr__(self, "transport_type", TransportType(self.transport_type))
        object.__setattr__(self, "rx_point", bool(self.rx_point))
        if self.network_type is NetworkType.ASI:
            # IEC 62379-7 6.3.7-6.3.12: for ASI the other columns carry fixed values.
            object.__setattr__(self, "transport_type", TransportType.NOT_APPLICABLE)
            object.__setattr__(self, "address", b"")
            object.__setattr__(self, "port", 0)
            object.__setattr__(self, "igmp_version", 0)
            object.__setattr__(self, "sip_server", b"")
        check_address("nMtTxRxAddr", self.network_type, self.address)
        check_address("nMtSIPServerAddr", self.network_type, self.sip_server)
        _check_range("nMtPortNumber", self.port, 0, 65535)
        _check_range("nMtIGMPVersion", self.igmp_version, 0, 3)
        if self.network_type is NetworkType.IPV6 and self.igmp_version:
            raise ValueError("nMtIGMPVersion must be 0 for ipv6 (IGMP is not used), "
                             f"got {self.igmp_version}")

    @property
    def index(self) -> tuple[int, ...]:
        return (self.block_id,)


def _set_address(row: NetworkBlock, value: Any) -> bytes:
    """A TAddress SET: NULL (empty), or an address of the block's network type."""
    raw = bytes(value)
    if len(raw) not in (0, 4, 16):
        raise Refused(WRONG_LENGTH, "an address is 0, 4 or 16 octets")
    if raw and (row.network_type is NetworkType.ASI
                or len(raw) != address_length(row.network_type)):
        raise Refused(INCONSISTENT_VALUE, "address length does not match the network type")
    return raw


NETWORK = Table("nMtBlockTable", NetworkBlock, "network", (
    ColumnSpec("nMtBlockId", "block_id", keys=(ID_KEY,)),
    ColumnSpec("nMtIfIndex", "if_index", keys=IF_INDEX_KEYS),
    ColumnSpec("nMtTxRxPoint", get=lambda r: TRUTH[r.rx_point],
               keys=(bool_key("rx", field="rx_point"),),
               write=WriteRule("rx_point", decode_truth, bool, bool)),
    ColumnSpec("nMtNetworkType", get=lambda r: int(r.network_type),
               keys=(enum_key("network_type", NetworkType, "ipv4"),)),
    ColumnSpec("nMtTransportType", get=lambda r: int(r.transport_type),
               keys=(ConfigKey("transport", KeyType.ENUM, "transport_type", enum=TransportType,
                               default_from=lambda f: "notapplicable"
                               if f["network_type"] is NetworkType.ASI else "rtp",
                               default_doc='"rtp" ("not_applicable" for asi)'),)),
    ColumnSpec("nMtTxRxAddr", "address",
               keys=(ConfigKey("address", KeyType.ADDRESS, after="network_type", default=""),)),
    ColumnSpec("nMtPortNumber", "port", keys=(int_key("port", 0, 65535, 0),)),
    ColumnSpec("nMtIGMPVersion", "igmp_version", keys=(int_key("igmp_version", 0, 3, 0),)),
    ColumnSpec("nMtSIPServerAddr", "sip_server",
               keys=(ConfigKey("sip_server", KeyType.ADDRESS, after="network_type", default=""),),
               write=WriteRule("sip_server", _set_address, bytes.hex, bytes.fromhex)),
))


@dataclass(frozen=True, slots=True)
class AudioComponent:
    """A row of aMtBlockTable: one audio component of an audio block."""

    block_id: int
    component: int
    network_block_id: int
    status: bool
    signal_format: Format = AudioFormat.NO_AUDIO.value
    pid: int = 0
    if_index: int = 1
    fec_type: FecType = FecType.NONE
    fec_length_dimension: int = 0

    def __post_init__(self) -> None:
        _check_block_id("aMtBlockId", self.block_id)
        _check_range("aMtAudioComponentNumber", self.component, 1, I32_MAX)
        _check_block_id("aMtNetworkBlockId", self.network_block_id, allow_zero=True)
        object.__setattr__(self, "status", bool(self.status))
        fmt = self.signal_format
        if isinstance(fmt, AudioFormat):
            fmt = fmt.value
        _check_format("aMtAudioSignalFormat", fmt)
        # IEC 62379-7 6.4.8: noAudio when absent; unspecifiedAudio when present but unknown.
        if not self.status:
            fmt = AudioFormat.NO_AUDIO.value
        elif fmt == AudioFormat.NO_AUDIO.value:
            fmt = AudioFormat.UNSPECIFIED.value
        object.__setattr__(self, "signal_format", fmt)
        _check_range("aMtAudioPId", self.pid, 0, 8191)
        _check_range("aMtIfIndex", self.if_index, 1, I32_MAX)
        object.__setattr__(self, "fec_type", FecType(self.fec_type))
        _check_range("aMtFECLengthDimension", self.fec_length_dimension, -I32_MAX - 1, I32_MAX)
        if self.fec_type is FecType.NONE:
            object.__setattr__(self, "fec_length_dimension", 0)  # 6.4.12

    @property
    def index(self) -> tuple[int, ...]:
        return (self.block_id, self.component)


AUDIO = Table("aMtBlockTable", AudioComponent, "audio", (
    ColumnSpec("aMtBlockId", "block_id", keys=(ID_KEY,)),
    ColumnSpec("aMtAudioComponentNumber", "component",
               keys=(int_key("component", 1, I32_MAX, 1),)),
    ColumnSpec("aMtNetworkBlockId", "network_block_id",
               keys=(link_key("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("aMtAudioStatus", get=lambda r: TRUTH[r.status],
               keys=(bool_key("status"),)),
    ColumnSpec("aMtAudioSignalFormat", "signal_format",
               keys=(format_key("format", AudioFormat, "noAudio", "signal_format"),)),
    ColumnSpec("aMtAudioPId", "pid", keys=(int_key("pid", 0, 8191, 0),)),
    ColumnSpec("aMtIfIndex", "if_index", keys=IF_INDEX_KEYS),
    ColumnSpec("aMtFECType", get=lambda r: int(r.fec_type),
               keys=(enum_key("fec_type", FecType, "none"),)),
    ColumnSpec("aMtFECLengthDimension", "fec_length_dimension",
               keys=(int_key("fec_length_dimension", 0, 9999, 0),)),
), augments=(Augment("aMtExtTable", "IEC62379-EXT-MIB", (
    ColumnSpec("aMtExtAudioSignalFormatName", get=lambda r: format_name(r.signal_format)),
)),))


@dataclass(frozen=True, slots=True)
class VideoBlock:
    """A row of vMtBlockTable."""

    block_id: int
    audio_block_id: int
    network_block_id: int
    status: bool
    source_format: Format = SourceFormat.UNSPECIFIED.value
    coding_type: Format = VideoCoding.NO_VIDEO.value
    bit_rate_type: BitRateType = BitRateType.UNSPECIFIED
    bit_rate_kbps: int = 0
    aspect_ratio: Format = AspectRatio.UNSPECIFIED.value
    fec_type: FecType = FecType.NONE
    fec_length_dimension: int = 0
    trick_mode_support: bool = False

    def __post_init__(self) -> None:
        _check_block_id("vMtBlockId", self.block_id)
        _check_block_id("vMtAudioBlockId", self.audio_block_id, allow_zero=True)
        _check_block_id("vMtNetworkBlockId", self.network_block_id, allow_zero=True)
        object.__setattr__(self, "status", bool(self.status))
        for name in ("source_format", "coding_type", "aspect_ratio"):
            v = getattr(self, name)
            if isinstance(v, SourceFormat | VideoCoding | AspectRatio):
                v = v.value
                object.__setattr__(self, name, v)
            _check_format(f"video {name}", v)
        object.__setattr__(self, "bit_rate_type", BitRateType(self.bit_rate_type))
        _check_range("vMtVideoBitRate", self.bit_rate_kbps, 0, U32_MAX)
        if self.bit_rate_type is BitRateType.UNSPECIFIED:
            object.__setattr__(self, "bit_rate_kbps", 0)  # 6.5.11
        object.__setattr__(self, "fec_type", FecType(self.fec_type))
        _check_range("vMtFECLengthDimension", self.fec_length_dimension, -I32_MAX - 1, I32_MAX)
        if self.fec_type is FecType.NONE:
            object.__setattr__(self, "fec_length_dimension", 0)  # 6.5.14
        object.__setattr__(self, "trick_mode_support", bool(self.trick_mode_support))

    @property
    def index(self) -> tuple[int, ...]:
        return (self.block_id,)


VIDEO = Table("vMtBlockTable", VideoBlock, "video", (
    ColumnSpec("vMtBlockId", "block_id", keys=(ID_KEY,)),
    ColumnSpec("vMtAudioBlockId", "audio_block_id",
               keys=(link_key("audio", "audio_block_id"),), links_to=AudioComponent),
    ColumnSpec("vMtNetworkBlockId", "network_block_id",
               keys=(link_key("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("vMtVideoStatus", get=lambda r: TRUTH[r.status],
               keys=(bool_key("status"),)),
    ColumnSpec("vMtVideoSourceFormat", "source_format",
               keys=(format_key("source_format", SourceFormat, "unspecifiedSourceFormat"),)),
    ColumnSpec("vMtVideoCodingType", "coding_type",
               keys=(format_key("coding_type", VideoCoding, "noVideo"),)),
    ColumnSpec("vMtVideoBitRateType", get=lambda r: int(r.bit_rate_type),
               keys=(enum_key("bit_rate_type", BitRateType, "unspecified"),)),
    ColumnSpec("vMtVideoBitRate", "bit_rate_kbps", keys=(int_key("bit_rate_kbps", 0, U32_MAX, 0),)),
    ColumnSpec("vMtAspectRatio", "aspect_ratio",
               keys=(format_key("aspect_ratio", AspectRatio, "unspecifiedAspectRatio"),)),
    ColumnSpec("vMtFECType", get=lambda r: int(r.fec_type),
               keys=(enum_key("fec_type", FecType, "none"),)),
    ColumnSpec("vMtFECLengthDimension", "fec_length_dimension",
               keys=(int_key("fec_length_dimension", 0, 9999, 0),)),
    ColumnSpec("vMtTrickModeSupport", get=lambda r: TRUTH[r.trick_mode_support],
               keys=(bool_key("trick_mode_support"),)),
), augments=(Augment("vMtExtTable", "IEC62379-EXT-MIB", (
    ColumnSpec("vMtExtSourceFormatName", get=lambda r: format_name(r.source_format)),
    ColumnSpec("vMtExtCodingTypeName", get=lambda r: format_name(r.coding_type)),
    ColumnSpec("vMtExtAspectRatioName", get=lambda r: format_name(r.aspect_ratio)),
)),))


U64_MAX = 18446744073709551615


@dataclass(frozen=True, slots=True)
class RxCounters:
    """A receiver point's counters since `discontinuity_ticks` (IEC62379-EXT-MIB's
    rxPointExtTable): datagrams received, RTP packets lost, TS packets lost, continuity
    errors, RTP packets reordered and duplicated. `discontinuity_ticks` is the sysUpTime
    (hundredths of a second) at which they last started again from zero, 0 if never."""

    datagrams: int = 0
    rtp_lost: int = 0
    ts_lost: int = 0
    cc_errors: int = 0
    reordered: int = 0
    duplicated: int = 0
    discontinuity_ticks: int = 0

    def __post_init__(self) -> None:
        for name in ("datagrams", "rtp_lost", "ts_lost", "cc_errors", "reordered", "duplicated"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= U64_MAX:
                raise ValueError(f"{name} must be an integer in 0..{U64_MAX}, got {v!r}")
        _check_range("rxPointExtCounterDiscontinuityTime", self.discontinuity_ticks, 0, U32_MAX)


def hundredths(value: float) -> int:
    """A number as its hundredths, as rxPointMDI shows it with two decimals (so the numeric
    column and the text agree), at most the Unsigned32 maximum."""
    return min(U32_MAX, round(float(f"{value:.2f}") * 100))


@dataclass(frozen=True, slots=True)
class RxPoint:
    """A row of rxPointTable (and of rxPointExtTable, which augments it)."""

    block_id: int
    network_block_id: int
    buffer_size_ms: int = 0
    occupancy_ms: int = 0
    occupancy_percent: int = 1
    df_ms: float = 0.0
    mlr: float = 0.0
    tsdf_us: int = 0
    counters: RxCounters = RxCounters()

    def __post_init__(self) -> None:
        _check_block_id("rxPointBlockId", self.block_id)
        _check_block_id("rxPointNetworkBlockId", self.network_block_id, allow_zero=True)
        _check_range("rxPointBufferSize", self.buffer_size_ms, 0, U32_MAX)
        _check_range("rxPointBufferOcpancyTime", self.occupancy_ms, 0, U32_MAX)
        if not isinstance(self.occupancy_percent, int):
            raise ValueError(
                f"rxPointBufferOcpncyPcnt must be an integer, got {self.occupancy_percent!r}"
            )
        object.__setattr__(self, "occupancy_percent", min(100, max(1, self.occupancy_percent)))
        for name in ("df_ms", "mlr"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or math.isnan(v) or v < 0 or math.isinf(v):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        _check_range("rxPointTSDF", self.tsdf_us, 0, U32_MAX)

    @property
    def mdi(self) -> str:
        """rxPointMDI: "DF:MLR" with two decimals each (RFC 4445)."""
        return f"{self.df_ms:.2f}:{self.mlr:.2f}"

    @property
    def index(self) -> tuple[int, ...]:
        return (self.block_id,)


RX_POINT = Table("rxPointTable", RxPoint, "rx", (
    ColumnSpec("rxPointBlockId", "block_id", keys=(ID_KEY,)),
    ColumnSpec("rxPointNetworkBlockId", "network_block_id",
               keys=(link_key("network", "network_block_id"),), links_to=NetworkBlock),
    ColumnSpec("rxPointBufferSize", "buffer_size_ms",
               keys=(int_key("buffer_size_ms", 0, U32_MAX, 0),)),
    ColumnSpec("rxPointBufferOcpancyTime", "occupancy_ms",
               keys=(int_key("occupancy_ms", 0, U32_MAX, 0),)),
    ColumnSpec("rxPointBufferOcpncyPcnt", "occupancy_percent",
               keys=(int_key("occupancy_percent", 1, 100, 1),)),
    ColumnSpec("rxPointMDI", get=lambda r: r.mdi.encode(),
               keys=(ConfigKey("df_ms", KeyType.FLOAT, low=0, high=1e9, default=0.0),
                     ConfigKey("mlr", KeyType.FLOAT, low=0, high=1e9, default=0.0))),
    ColumnSpec("rxPointTSDF", "tsdf_us", keys=(int_key("tsdf_us", 0, U32_MAX, 0),)),
), augments=(Augment("rxPointExtTable", "IEC62379-EXT-MIB", (
    ColumnSpec("rxPointExtDelayFactor", get=lambda r: hundredths(r.df_ms)),
    ColumnSpec("rxPointExtMediaLossRate", get=lambda r: hundredths(r.mlr)),
    ColumnSpec("rxPointExtTSDF", "tsdf_us"),
    ColumnSpec("rxPointExtDatagrams", "counters.datagrams"),
    ColumnSpec("rxPointExtRtpLost", "counters.rtp_lost"),
    ColumnSpec("rxPointExtTsLost", "counters.ts_lost"),
    ColumnSpec("rxPointExtContinuityErrors", "counters.cc_errors"),
    ColumnSpec("rxPointExtReordered", "counters.reordered"),
    ColumnSpec("rxPointExtDuplicated", "counters.duplicated"),
    ColumnSpec("rxPointExtCounterDiscontinuityTime", "counters.discontinuity_ticks"),
)),))


@dataclass(frozen=True, slots=True)
class Temperature:
    """A row of temperatureTable. `celsius` is the true reading (None: unreadable)."""

    block_id: int
    location_number: int
    location: str
    celsius: float | None
    status: TemperatureStatus
    low_warning: int = 0
    high_warning: int = 0
    low_critical: int = 0
    high_critical: int = 0

    def __post_init__(self) -> None:
        _check_block_id("temperatureBlockId", self.block_id)
        _check_range("temperatureLocnNumber", self.location_number, 1, I32_MAX)
        if not isinstance(self.location, str) or len(self.location.encode()) > 80:
            raise ValueError(
                f"temperatureLocation must be text of at most 80 octets, got {self.location!r}"
            )
        c = self.celsius
        if c is not None and (not isinstance(c, int | float) or math.isnan(c)):
            raise ValueError(f"temperature must be a number or None, got {self.celsius!r}")
        object.__setattr__(self, "status", TemperatureStatus(self.status))
        for name in ("low_warning", "high_warning", "low_critical", "high_critical"):
            _check_range(f"temperature {name}", getattr(self, name), -I32_MAX - 1, I32_MAX)

    @property
    def trend(self) -> int:
        """temperatureTrend: whole degrees (halves away from zero, see mibs.vocabulary), 0 for
        readings below 0 (Gauge32) or unreadable."""
        return temperature_trend(self.celsius)

    @property
    def index(self) -> tuple[int, ...]:
        return (self.block_id, self.location_number)




def _threshold(name: str) -> ConfigKey:
    return int_key(name, -I32_MAX - 1, I32_MAX, 0)


TEMPERATURE = Table("temperatureTable", Temperature, "temperature", (
    ColumnSpec("temperatureBlockId", "block_id", keys=(ID_KEY,)),
    ColumnSpec("temperatureLocnNumber", "location_number",
               keys=(int_key("location_number", 1, I32_MAX, 1),)),
    ColumnSpec("temperatureLocation", get=lambda r: r.location.encode(),
               keys=(ConfigKey("location", KeyType.STR, default=""),)),
    ColumnSpec("temperatureTrend", get=lambda r: r.trend,
               keys=(ConfigKey("celsius", KeyType.FLOAT, low=-273.15, high=10000, default=None),)),
    ColumnSpec("temperatureStatus", get=lambda r: int(r.status),
               keys=(enum_key("status", TemperatureStatus, "undetermined"),)),
    ColumnSpec("temperatureLowWarning", "low_warning", keys=(_threshold("low_warning"),)),
    ColumnSpec("temperatureHighWarning", "high_warning", keys=(_threshold("high_warning"),)),
    ColumnSpec("temperatureLowCritical", "low_critical", keys=(_threshold("low_critical"),)),
    ColumnSpec("temperatureHighCritical", "high_critical",
               keys=(_threshold("high_critical"),)),
))


Row = (NetworkBlock | AudioComponent | VideoBlock | RxPoint | Temperature | TestSummary | TestPid
       | TestPreferences | RfSystem | TrapControl | TsCapability | TsInput | ActiveAlarm
       | AlarmLogEntry)

#: Every table, in MIB order.
TABLES: tuple[Table, ...] = (NETWORK, AUDIO, VIDEO, RX_POINT, TEMPERATURE, *DVB_TABLES)
TABLES += (ALARM_ACTIVE, ALARM_LOG)  # IEC62379-EXT-MIB's alarms (agent/alarms.py)
TABLES += (NOTIFY_TARGETS,)  # IEC62379-EXT-MIB: the [[notify]] targets' counters

#: The tables whose first index is a block id (`Table.block`).
BLOCK_TABLES: tuple[Table, ...] = tuple(t for t in TABLES if t.block)
_BY_ROW = {t.row: t for t in TABLES}


def table_of(row_type: type) -> Table:
    """The declaration of the table a row record belongs to."""
    return _BY_ROW[row_type]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every row of the unit at one moment, one dict per table (its field is the table's
    `key`) keyed by index; never changed once published."""

    version: int = 0
    network: dict[tuple[int, ...], NetworkBlock] = field(default_factory=dict)
    audio: dict[tuple[int, ...], AudioComponent] = field(default_factory=dict)
    video: dict[tuple[int, ...], VideoBlock] = field(default_factory=dict)
    rx: dict[tuple[int, ...], RxPoint] = field(default_factory=dict)
    temperature: dict[tuple[int, ...], Temperature] = field(default_factory=dict)
    dvb_rf_system: dict[tuple[int, ...], RfSystem] = field(default_factory=dict)
    dvb_trap_control: dict[tuple[int, ...], TrapControl] = field(default_factory=dict)
    dvb_capability: dict[tuple[int, ...], TsCapability] = field(default_factory=dict)
    dvb_summary: dict[tuple[int, ...], TestSummary] = field(default_factory=dict)
    dvb_pid: dict[tuple[int, ...], TestPid] = field(default_factory=dict)
    dvb_preferences: dict[tuple[int, ...], TestPreferences] = field(default_factory=dict)
    dvb_input: dict[tuple[int, ...], TsInput] = field(default_factory=dict)
    alarms: dict[tuple[int, ...], ActiveAlarm] = field(default_factory=dict)
    alarm_log: dict[tuple[int, ...], AlarmLogEntry] = field(default_factory=dict)
    notify_targets: dict[tuple[int, ...], NotifyTargetRow] = field(default_factory=dict)

    def table(self, row_type: type) -> dict[tuple[int, ...], Row]:
        return getattr(self, _BY_ROW[row_type].key)

    def block_ids(self) -> set[int]:
        ids: set[int] = set()
        for t in BLOCK_TABLES:
            ids.update(k[0] for k in getattr(self, t.key))
        return ids


__all__ = [
    "DVB_TABLES", "FAIL_TRAP_ENABLE", "PID_TESTS", "PREFERENCES", "RATE_ENABLED", "TEST_ENABLE",
    "RfSystem", "TestPid", "TestPreferences", "TestSummary", "TrapControl", "TsCapability",
    "TsInput", "ActiveAlarm", "AlarmLogEntry", "normal_float",
    "AUDIO", "BLOCK_TABLES", "NETWORK", "RX_POINT", "TABLES", "TEMPERATURE", "VIDEO",
    "AudioComponent", "BitRateType", "FecType", "Format", "NetworkBlock", "NetworkType", "Row",
    "RxCounters", "RxPoint", "Snapshot", "Temperature", "TemperatureStatus", "TransportType",
    "VideoBlock", "address_length", "check_address", "fec_extent", "replace", "table_of",
]
