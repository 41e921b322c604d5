"""The collectors' settings: received streams ([[stream]]) and host temperature sensors
([temperature_sensors]), their block ids, and the composition of the whole configuration file.

One TOML file configures the program. :func:`parse_settings` reads it: the agent's sections
with the agent's parser (:func:`iec62379.agent.config.agent_config`, told which sections are
the collectors'), [[stream]] and [temperature_sensors] here, then checks that no block id is
used twice between the static blocks, the streams and the sensors' block. Errors name the file,
the key, what was expected and what was found, as the agent's do (the same reader).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iec62379.agent.config import (
    AgentConfig,
    ConfigError,
    _address,
    _Reader,
    agent_config,
    read_file,
    read_toml,
)
from iec62379.agent.model import I32_MAX, U32_MAX, NetworkBlock, Row
from iec62379.collectors.core.alarms import (
    DEFAULT_LIMITS,
    DEFAULT_TEMPERATURE_LIMITS,
    AlarmLimits,
    Limit,
)
from iec62379.collectors.core.report import Tr101290Limits
from iec62379.collectors.sources.url import StreamUrl, parse_stream_url
from iec62379.mibs.vocabulary import AlarmCondition, NetworkType, Severity, TsTest

#: The top-level sections the collectors read.
SECTIONS = frozenset({"stream", "temperature_sensors"})

#: Blocks per stream: network, audio, video, receiver point.
BLOCKS_PER_STREAM = 4
#: Derived network block ids lie in DERIVED_BASE .. DERIVED_BASE + 4 * DERIVED_SLOTS - 1.
DERIVED_BASE = 10_000_000
DERIVED_SLOTS = 10_000_000
#: A stream serves at most this many programs of an MPTS as blocks (max_programs' limit).
MAX_PROGRAMS = 64
#: The programs after the first take two ids each (audio, video) from a stream's programs_id;
#: derived programs_ids lie in PROGRAMS_BASE .. PROGRAMS_BASE + PROGRAMS_STRIDE *
#: PROGRAMS_SLOTS - 1, each stream's range the same size whatever its max_programs.
PROGRAMS_BASE = 100_000_000
PROGRAMS_STRIDE = 2 * (MAX_PROGRAMS - 1)
PROGRAMS_SLOTS = 30_000_000


@dataclass(frozen=True, slots=True)
class StreamBlockIds:
    """The four block ids of one stream."""

    network: int

    def __post_init__(self) -> None:
        if not 1 <= self.network <= U32_MAX - (BLOCKS_PER_STREAM - 1):
            raise ValueError(
                f"a stream's network block id must be in 1..{U32_MAX - BLOCKS_PER_STREAM + 1}, "
                f"got {self.network}"
            )

    @property
    def audio(self) -> int:
        return self.network + 1

    @property
    def video(self) -> int:
        return self.network + 2

    @property
    def rx(self) -> int:
        return self.network + 3

    def all(self) -> tuple[int, int, int, int]:
        return (self.network, self.audio, self.video, self.rx)


def stream_identity(source: str | None, address: str, port: int, iface: str | None) -> str:
    """The text a derived id is computed from: what tells two received streams apart (the
    scheme and the receive buffer size are not part of it)."""
    return f"{source or ''}@{address}:{port}%{iface or ''}"


def derive_block_id(identity: str) -> int:
    """A stable network block id for a stream: DERIVED_BASE + 4 * (SHA-256 of the identity
    modulo DERIVED_SLOTS). The same address gives the same id on every start and machine."""
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    return DERIVED_BASE + BLOCKS_PER_STREAM * (int.from_bytes(digest[:8], "big") % DERIVED_SLOTS)

def derive_programs_id(identity: str) -> int:
    """A stable first block id for a stream's further programs: PROGRAMS_BASE +
    PROGRAMS_STRIDE * (SHA-256 of "programs " + the identity modulo PROGRAMS_SLOTS)."""
    digest = hashlib.sha256(f"programs {identity}".encode()).digest()
    slot = int.from_bytes(digest[:8], "big") % PROGRAMS_SLOTS
    return PROGRAMS_BASE + PROGRAMS_STRIDE * slot


@dataclass(frozen=True)
class ThresholdOverride:
    """Thresholds set in the config for one location, whole °C; ``None`` keeps the sensor's."""

    low_warning: int | None = None
    high_warning: int | None = None
    low_critical: int | None = None
    high_critical: int | None = None

    def __post_init__(self) -> None:
        for name in ("low_warning", "high_warning", "low_critical", "high_critical"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be an integer number of °C, not {value!r}")
        ordered = [
            ("low_critical", self.low_critical),
            ("low_warning", self.low_warning),
            ("high_warning", self.high_warning),
            ("high_critical", self.high_critical),
        ]
        present = [(n, v) for n, v in ordered if v is not None]
        for (lower_name, lower), (upper_name, upper) in zip(present, present[1:], strict=False):
            if lower > upper:  # type: ignore[operator]
                raise ValueError(
                    f"{lower_name} ({lower} °C) must not be above {upper_name} ({upper} °C)"
                )



@dataclass(frozen=True)
class StreamSettings:
    """A received stream ([[stream]]): measured live and served as four linked blocks.

    block_id is the network block's id; the audio, video and receiver-point blocks take the
    next three (see StreamBlockIds). id_derived says it came from the address.
    """

    url: StreamUrl
    name: str
    block_id: int
    id_derived: bool = False
    rate_bps: float | None = None  # nominal media rate for DF; None: from the PCR
    buffer_ms: int = 1000  # rxPointBufferSize
    interval_s: float = 1.0
    presence_timeout_s: float = 1.0
    fade_out_s: float = 60.0
    program: int | None = None  # program_number in an MPTS; None: the first in the PAT
    sip_server: bytes = b""  # nMtSIPServerAddr at start (4 or 16 octets; b"": NULL)
    max_programs: int = 8  # programs served as blocks (the stream's own and max - 1 more)
    programs_id: int | None = None  # first id of the further programs' blocks; None: derived
    # [stream.tr101290]: the TR 101 290 limits and tests; None: checks = false
    tr101290: Tr101290Limits | None = Tr101290Limits()

    #: The DVB measurement MIB's InputNumber of the stream (TR 101 290 tables); by default
    #: its network block id (see `dvb_input_default`).
    dvb_input: int = 0
    alarms: AlarmLimits = field(default_factory=AlarmLimits)  # [stream.alarms]

    def __post_init__(self) -> None:
        if self.dvb_input == 0:
            object.__setattr__(self, "dvb_input", dvb_input_default(self.block_id))

    @property
    def ids(self) -> StreamBlockIds:
        return StreamBlockIds(self.block_id)

    def program_ids(self) -> tuple[int, ...]:
        """The (audio, video) block ids of the further programs of an MPTS, flat: slot i
        (1-based) has audio programs_id + 2 (i - 1) and video the next id."""
        base = self.programs_id
        if base is None:
            u = self.url
            base = derive_programs_id(stream_identity(u.source, u.address, u.port, u.iface))
        return tuple(range(base, base + 2 * (self.max_programs - 1)))


#: The temperature block id of the host sensors when none is configured.
DEFAULT_SENSOR_BLOCK_ID = 1000


@dataclass(frozen=True)
class SensorSettings:
    """Host temperature sensors ([temperature_sensors]) as one temperature block.

    thresholds: (location, override) pairs; location "*" applies to every location, a named
    location's own values win over it.
    """

    enabled: bool = True
    sysfs_root: Path = Path("/sys")
    block_id: int = DEFAULT_SENSOR_BLOCK_ID
    refresh_s: float = 10.0
    hysteresis: int = 0
    thresholds: tuple[tuple[str, ThresholdOverride], ...] = ()
    alarms: AlarmLimits = field(
        default_factory=lambda: AlarmLimits(dict(DEFAULT_TEMPERATURE_LIMITS))
    )  # [temperature_sensors.alarms]

    def override_for(self, location: str) -> ThresholdOverride | None:
        """The thresholds configured for a location: its own entry over the "*" entry."""
        table = dict(self.thresholds)
        own, default = table.get(location), table.get("*")
        if own is None or default is None:
            return own or default
        fields = ("low_warning", "high_warning", "low_critical", "high_critical")
        return ThresholdOverride(**{
            f: getattr(own, f) if getattr(own, f) is not None else getattr(default, f)
            for f in fields
        })



def dvb_input_default(block_id: int) -> int:
    """A stream's InputNumber when [[stream]] has no dvb_input: its network block id, which is
    stable (configured, or derived from the address) and unique; 0 when that does not fit
    InputNumber (1..2147483647), and then dvb_input must be given."""
    return block_id if 1 <= block_id <= I32_MAX else 0


# --- alarms ------------------------------------------------------------------------------

C = AlarmCondition
#: [stream.alarms] keys with thresholds: key -> (condition, the range of its values)
STREAM_LIMIT_KEYS: dict[str, tuple[AlarmCondition, float, float]] = {
    "df_ms": (C.dfHigh, 0, 1e6),
    "mlr": (C.mlrHigh, 0, 1e9),
    "tsdf_us": (C.tsdfHigh, 0, 4294967295),
    "rtp_loss": (C.rtpLoss, 0, 1e9),
    "bitrate_low_bps": (C.bitRateLow, 0, 1e12),
    "bitrate_high_bps": (C.bitRateHigh, 0, 1e12),
}
#: [stream.alarms] keys of the conditions without thresholds (a severity only)
STREAM_FLAG_KEYS: dict[str, tuple[AlarmCondition, ...]] = {
    "video_lost": (C.videoLost,),
    "audio_lost": (C.audioLost,),
    "stream_lost": (C.streamLost,),
    "tr101290": tuple(c for c in C if c.ts_test is not None),
}
#: [temperature_sensors.alarms] keys
TEMPERATURE_FLAG_KEYS: dict[str, tuple[AlarmCondition, ...]] = {
    "warning": (C.temperatureWarning,),
    "critical": (C.temperatureCritical,),
}
_SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")  # X.733, worst first


def _severity(r: _Reader, default: Severity) -> Severity:
    name = r.str("severity", default.name.lower(), choices=_SEVERITIES)
    return Severity[name.upper()]


def parse_alarm_limits(
    parent: _Reader,
    defaults: dict[AlarmCondition, Limit],
    limit_keys: dict[str, tuple[AlarmCondition, float, float]],
    flag_keys: dict[str, tuple[AlarmCondition, ...]],
) -> AlarmLimits:
    """An `alarms` sub-table: persistence_s, off = [condition names], and per condition a
    table {raise, clear, severity} (thresholds) or {severity} (flags). A threshold given
    without `clear` clears at the same value (no hysteresis); a condition without default
    limits (bitrate_*) needs `raise`."""
    if "alarms" not in parent.data:
        return AlarmLimits(dict(defaults))
    r = parent.table("alarms")
    conditions = {c for cs in flag_keys.values() for c in cs} | {
        c for c, _, _ in limit_keys.values()}
    r.unknown_keys({"persistence_s", "off", *limit_keys, *flag_keys})
    limits = {c: lim for c, lim in defaults.items() if c in conditions}
    for key, (condition, low, high) in limit_keys.items():
        if key not in r.data:
            continue
        t = r.table(key)
        t.unknown_keys({"raise", "clear", "severity"})
        base = defaults.get(condition)
        if base is None:  # no default limits: raise is required
            raise_at = t.float("raise", low, high)
        else:
            raise_at = t.float("raise", low, high, base.raise_at)
        keep_clear = base is not None and "raise" not in t.data
        clear_at = t.float("clear", low, high, base.clear_at if keep_clear else raise_at)
        limit = Limit(raise_at, clear_at,
                      _severity(t, base.severity if base is not None else Severity.MINOR))
        try:
            limit.check(condition.name == "bitRateLow")
        except ValueError as exc:
            raise t.fail("clear", "a falling threshold on the clearing side of raise "
                         f"({exc})", clear_at) from exc
        limits[condition] = limit
    for key, group in flag_keys.items():
        if key not in r.data:
            continue
        t = r.table(key)
        t.unknown_keys({"severity"})
        for condition in group:
            default = defaults.get(condition, Limit(1, 0, Severity.MAJOR))
            limits[condition] = Limit(1, 0, _severity(t, default.severity))
    names = {c.name: c for c in conditions}
    for name in r.str_list("off"):
        if name not in names:
            raise r.fail("off", "condition names among " + ", ".join(sorted(names)), name)
        limits.pop(names[name], None)
    persistence = r.float("persistence_s", 0, 86400, AlarmLimits().persistence_s)
    return AlarmLimits(limits, persistence)


def parse_streams(root: _Reader) -> list[StreamSettings]:
    streams: list[StreamSettings] = []
    seen: dict[str, str] = {}
    inputs: dict[int, str] = {}
    for r in root.tables("stream"):
        r.unknown_keys({"url", "name", "id", "rate_bps", "buffer_ms", "interval_s",
                        "presence_timeout_s", "fade_out_s", "program", "sip_server",
                        "max_programs", "programs_id", "tr101290", "dvb_input", "alarms"})
        text = r.str("url")
        try:
            url = parse_stream_url(text)
        except ValueError as exc:
            raise r.fail("url", f"a stream URL like rtp://239.1.1.1:5004, "
                                f"udp://[source@]group:port[?iface=NAME] ({exc})", text) from exc
        if url.iface is not None:
            try:
                socket.if_nametoindex(url.iface)
            except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
                raise r.fail("url", f"an iface that is a network interface of this host "
                                    f"(no interface {url.iface!r})", text) from exc
        identity = stream_identity(url.source, url.address, url.port, url.iface)
        if identity in seen:
            raise r.fail("url", "a stream not already declared (same address and port as "
                                f"{seen[identity]})", text)
        seen[identity] = r.path
        explicit = r.int("id", 1, U32_MAX - BLOCKS_PER_STREAM + 1, None)
        block_id = explicit if explicit is not None else derive_block_id(identity)
        dvb_input = r.int("dvb_input", 1, I32_MAX, None)
        if dvb_input is None:
            dvb_input = dvb_input_default(block_id)
            if dvb_input == 0:
                raise r.fail("id", f"an id in 1..{I32_MAX} or a dvb_input (the stream's "
                                   f"InputNumber, by default its id)", block_id)
            key = "id"
        else:
            key = "dvb_input"
        if dvb_input in inputs:
            raise r.fail(key, "an InputNumber (dvb_input) not used by another stream "
                              f"({inputs[dvb_input]} has it)", dvb_input)
        inputs[dvb_input] = r.path
        max_programs = r.int("max_programs", 1, MAX_PROGRAMS, 8)
        programs_id = r.int("programs_id", 1, U32_MAX - 2 * (max_programs - 1) + 1, None)
        streams.append(StreamSettings(
            url=url,
            name=r.str("name", str(url)),
            block_id=block_id,
            id_derived=explicit is None,
            rate_bps=r.float("rate_bps", 1000, 100_000_000_000, None),
            buffer_ms=r.int("buffer_ms", 1, 600_000, 1000),
            interval_s=r.float("interval_s", 0.1, 60, 1.0),
            presence_timeout_s=r.float("presence_timeout_s", 0.05, 3600, 1.0),
            fade_out_s=r.float("fade_out_s", 0, 7 * 86400, 60.0),
            program=r.int("program", 1, 65535, None),
            sip_server=_address(r, "sip_server", NetworkType.IPV6 if url.family == socket.AF_INET6
                                else NetworkType.IPV4),
            dvb_input=dvb_input,
            max_programs=max_programs,
            programs_id=programs_id,
            tr101290=parse_tr101290(r.table("tr101290")),
            alarms=parse_alarm_limits(r, DEFAULT_LIMITS, STREAM_LIMIT_KEYS, STREAM_FLAG_KEYS),
        ))
    return streams


#: [stream.tr101290] limit keys: (Tr101290Limits field, lowest, highest), in seconds
TR101290_LIMITS = {
    "pat_interval_max_s": (0.001, 3600.0),
    "pmt_interval_max_s": (0.001, 3600.0),
    "referred_interval_max_s": (0.001, 3600.0),
    "pcr_interval_max_s": (0.001, 60.0),
    "pcr_discontinuity_max_s": (0.001, 60.0),
    "pcr_inaccuracy_max_s": (1e-9, 1.0),
    "pts_interval_max_s": (0.001, 3600.0),
}


def parse_tr101290(r: _Reader) -> Tr101290Limits | None:
    """[stream.tr101290]: checks = false turns the TR 101 290 checks off; enabled = [test
    names] (the DVB MIB's, e.g. "patError2") runs only those; the limits in seconds, TR 101
    290's (and the DVB MIB's DEFVALs) by default."""
    r.unknown_keys({"checks", "enabled", *TR101290_LIMITS})
    if not r.bool("checks", True):
        return None
    names = {t.name: t for t in TsTest}
    enabled = frozenset(TsTest)
    if "enabled" in r.data:
        listed = r.str_list("enabled")
        for name in listed:
            if name not in names:
                raise r.fail("enabled", f"test names among {', '.join(names)}", name)
        enabled = frozenset(names[n] for n in listed)
    defaults = Tr101290Limits()
    limits = {
        key: r.float(key, low, high, getattr(defaults, key))
        for key, (low, high) in TR101290_LIMITS.items()
    }
    return Tr101290Limits(enabled=enabled, **limits)


def parse_sensors(root: _Reader) -> SensorSettings:
    r = root.table("temperature_sensors")
    r.unknown_keys({"enabled", "sysfs_root", "id", "refresh_s", "hysteresis", "threshold",
                    "alarms"})
    sysfs_root = Path(r.str("sysfs_root", "/sys"))
    enabled = r.bool("enabled", True)
    if enabled and not sysfs_root.is_dir():
        raise r.fail("sysfs_root", "an existing directory (a sysfs mount or a copy of one)",
                     str(sysfs_root))
    thresholds: list[tuple[str, ThresholdOverride]] = []
    for t in r.tables("threshold"):
        t.unknown_keys({"location", "low_warning", "high_warning", "low_critical", "high_critical"})
        location = t.str("location")
        if not location or len(location.encode()) > 80:
            raise t.fail("location", 'a location name of 1 to 80 octets (or "*" for all)', location)
        if location in dict(thresholds):
            raise t.fail("location", "a location without another threshold entry", location)
        values = {k: t.int(k, -273, 1000, None)
                  for k in ("low_warning", "high_warning", "low_critical", "high_critical")}
        try:
            thresholds.append((location, ThresholdOverride(**values)))
        except ValueError as exc:
            raise ConfigError(f"{t.file}: {t.path}: {exc}") from exc
    settings = SensorSettings(
        enabled=enabled,
        sysfs_root=sysfs_root,
        block_id=r.int("id", 1, U32_MAX, DEFAULT_SENSOR_BLOCK_ID),
        refresh_s=r.float("refresh_s", 0.5, 3600, 10.0),
        hysteresis=r.int("hysteresis", 0, 100, 0),
        thresholds=tuple(thresholds),
        alarms=parse_alarm_limits(r, DEFAULT_TEMPERATURE_LIMITS, {}, TEMPERATURE_FLAG_KEYS),
    )
    tables = r.tables("threshold")
    for t, (location, _) in zip(tables, thresholds, strict=True):
        try:
            settings.override_for(location)
        except ValueError as exc:  # a location's own values against the "*" entry's
            raise ConfigError(f"{t.file}: {t.path}: with the \"*\" entry: {exc}") from exc
    return settings


def check_ids(root: _Reader, blocks: Sequence[Row], streams: Sequence[StreamSettings],
              sensors: SensorSettings) -> None:
    """No block id is used twice between static blocks, streams and the sensors' block."""
    owner: dict[int, str] = {}
    for row in blocks:
        owner.setdefault(row.index[0], f"a static {type(row).__name__} block")
    for i, s in enumerate(streams):
        where = f"stream[{i}]"
        for bid in s.ids.all():
            if bid in owner:
                how = "derived from its url" if s.id_derived else "from its id"
                hint = "; set stream ids explicitly" if s.id_derived else ""
                raise ConfigError(f"{root.file}: {where}.id: block {bid} ({how}; the stream uses "
                                  f"{s.block_id}..{s.block_id + BLOCKS_PER_STREAM - 1}) is already "
                                  f"used by {owner[bid]}{hint}")
            owner[bid] = where
    for i, s in enumerate(streams):
        where = f"stream[{i}]"
        ids = s.program_ids()
        for bid in ids:
            if bid in owner:
                how = "derived from its url" if s.programs_id is None else "from its programs_id"
                raise ConfigError(f"{root.file}: {where}.programs_id: block {bid} ({how}; its "
                                  f"further programs use {ids[0]}..{ids[-1]}) is already used "
                                  f"by {owner[bid]}; set programs_id (or max_programs = 1)")
            owner[bid] = f"{where} (its further programs)"
    if sensors.enabled and sensors.block_id in owner:
        raise ConfigError(f"{root.file}: temperature_sensors.id: block {sensors.block_id} is "
                          f"already used by {owner[sensors.block_id]}; set another id")



@dataclass(frozen=True)
class Settings:
    """The whole configuration: the agent's and the collectors'."""

    agent: AgentConfig = field(default_factory=AgentConfig)
    streams: tuple[StreamSettings, ...] = ()
    sensors: SensorSettings = field(default_factory=SensorSettings)


def parse_settings(text: str, source: str = "<string>") -> Settings:
    """Parse and check a whole TOML configuration; raises ConfigError."""
    root = read_toml(text, source)
    streams = parse_streams(root)
    # A stream's network block is in the store before the static rows load: they may link to it.
    agent = agent_config(root, SECTIONS, {NetworkBlock: [s.ids.network for s in streams]})
    sensors = parse_sensors(root)
    check_ids(root, agent.blocks, streams, sensors)
    return Settings(agent=agent, streams=tuple(streams), sensors=sensors)


def load_settings(path: str | Path) -> Settings:
    """The whole configuration from a file; raises ConfigError."""
    return parse_settings(read_file(path), str(path))


__all__ = [
    "BLOCKS_PER_STREAM",
    "DEFAULT_SENSOR_BLOCK_ID",
    "DERIVED_BASE",
    "DERIVED_SLOTS",
    "SECTIONS",
    "SensorSettings",
    "Settings",
    "StreamBlockIds",
    "StreamSettings",
    "ThresholdOverride",
    "check_ids",
    "derive_block_id",
    "derive_programs_id",
    "parse_alarm_limits",
    "load_settings",
    "parse_sensors",
    "parse_settings",
    "parse_streams",
    "stream_identity",
]
