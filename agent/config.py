"""The agent's configuration, from TOML: listen addresses, system group, access, persistence
and static blocks; and the TOML reader every part's settings use.

Every error names the file, the key (dotted, with list positions), what was expected and what
was found, e.g. `agent.toml: network[2].port: expected an integer in 0..65535, found "x"`.

One file holds every part's settings. The agent reads its own sections; the sections of other
parts (the collectors' [[stream]] and [temperature_sensors]) are read by their owners, and the
program's entry point composes the parts (iec62379.collectors.settings.parse_settings): it
passes their section names here as ``sections`` so that the unknown-key check accepts them.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ber
from .agentx.address import AgentXAddress, parse_address
from .model import BLOCK_TABLES, NetworkType, Row, table_of
from .notify.config import NotifyTarget, notify_targets
from .store import LinkError, check_links
from .tables import REQUIRED, ConfigKey, KeyType, index_text

LEVELS = ("listener", "supervisor")
#: The largest response the agent sends, by default (docs/configuration.md, "Bounded answers").
DEFAULT_MAX_MESSAGE_SIZE = 4096
AUTH = ("none", "md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV = ("none", "des", "aes128", "aes192", "aes256")
DEFAULT_SYS_OBJECT_ID = "1.3.6.1.4.1.32473.62379"


class ConfigError(ValueError):
    """An invalid configuration; the message says where and what."""


@dataclass(frozen=True)
class Endpoint:
    family: str  # "udp" (IPv4) or "udp6"
    host: str
    port: int

    def __str__(self) -> str:
        if self.family == "udp6":
            return f"{self.family}:[{self.host}]:{self.port}"
        return f"udp:{self.host}:{self.port}"


@dataclass(frozen=True)
class Community:
    name: str
    level: str
    sources: tuple[str, ...] = ()  # CIDR prefixes the community may be used from (empty: any)


@dataclass(frozen=True)
class User:
    name: str
    level: str
    auth_protocol: str = "none"
    auth_key: str = ""
    priv_protocol: str = "none"
    priv_key: str = ""
    example_only: bool = False

    @property
    def security_level(self) -> str:
        if self.priv_protocol != "none":
            return "authPriv"
        return "authNoPriv" if self.auth_protocol != "none" else "noAuthNoPriv"


@dataclass(frozen=True)
class SystemGroup:
    description: str = "iec62379 IEC 62379-7 measurement agent"
    object_id: tuple[int, ...] = tuple(int(x) for x in DEFAULT_SYS_OBJECT_ID.split("."))
    contact: str = ""
    name: str = field(default_factory=socket.gethostname)
    location: str = ""


@dataclass(frozen=True)
class AgentConfig:
    source: str = "<embedded default>"
    listen: tuple[Endpoint, ...] = (Endpoint("udp", "127.0.0.1", 1161),)
    state_dir: Path | None = None
    system: SystemGroup = field(default_factory=SystemGroup)
    communities: tuple[Community, ...] = (
        Community("public", "listener", ("127.0.0.0/8", "::1/128")),
    )
    users: tuple[User, ...] = ()
    allow_community_write: bool = False
    engine_id: bytes | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    blocks: tuple[Row, ...] = ()
    host_refresh_s: float = 5.0
    agentx: AgentXAddress | None = None  # serve as an AgentX subagent of this master
    notify: tuple[NotifyTarget, ...] = ()  # the [[notify]] targets (agent.notify.config)
    enable_authen_traps: bool = False  # snmpEnableAuthenTraps: authenticationFailure sent


_MISSING = object()
_MISSING_DEFAULT = object()
#: A key as TOML writes it bare, possibly with a list position ("listen[0]", "[0]").
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\[[0-9]+\])?|\[[0-9]+\]")


def _shown(found: Any, limit: int = 200) -> str:
    """A value as an error message shows it: its repr, cut short when long."""
    if found is _MISSING:
        return "nothing"
    try:
        text = repr(found)
    except RecursionError:
        text = f"a {type(found).__name__} nested too deeply"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _Reader:
    """Typed access into a TOML table with precise errors."""

    def __init__(self, file: str, data: dict[str, Any], path: str = "") -> None:
        self.file, self.data, self.path = file, data, path

    def _key(self, key: str) -> str:
        if not _BARE_KEY.fullmatch(key):
            key = json.dumps(key)  # quoted as TOML does, so the message stays one line
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, expected: str, found: Any) -> ConfigError:
        return ConfigError(f"{self.file}: {self._key(key)}: expected {expected}, "
                           f"found {_shown(found)}")

    def unknown_keys(self, allowed: set[str]) -> None:
        for k in self.data:
            if k not in allowed:
                expected = ", ".join(sorted(allowed))
                raise ConfigError(
                    f"{self.file}: {self._key(k)}: unknown key (expected one of {expected})"
                )

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def _typed(self, key: str, expected: str, ok: Callable[[Any], bool], default: Any) -> Any:
        """The value at `key` if `ok` accepts it; `default` when absent (required when none)."""
        v = self.data.get(key, _MISSING)
        if v is _MISSING:
            if default is _MISSING_DEFAULT:
                raise self.fail(key, expected, v)
            return default
        if not ok(v):
            raise self.fail(key, expected, v)
        return v

    def str(self, key: str, default: Any = _MISSING_DEFAULT, choices: tuple[str, ...] = ()) -> Any:
        expected = f"one of {' | '.join(choices)}" if choices else "a string"
        return self._typed(key, expected,
                           lambda v: isinstance(v, str) and (not choices or v in choices), default)

    def int(self, key: str, low: int, high: int, default: Any = _MISSING_DEFAULT) -> Any:
        return self._typed(key, f"an integer in {low}..{high}",
                           lambda v: (isinstance(v, int) and not isinstance(v, bool)
                                      and low <= v <= high),
                           default)

    def float(self, key: str, low: float, high: float, default: Any = _MISSING_DEFAULT) -> Any:
        v = self._typed(key, f"a number in {low}..{high}",
                        lambda v: (isinstance(v, int | float) and not isinstance(v, bool)
                                   and low <= v <= high),
                        default)
        return None if v is None else float(v)

    def bool(self, key: str, default: Any = _MISSING_DEFAULT) -> Any:
        return self._typed(key, "true or false", lambda v: isinstance(v, bool), default)

    def table(self, key: str) -> _Reader:
        v = self.data.get(key, {})
        if not isinstance(v, dict):
            raise self.fail(key, "a table", v)
        return _Reader(self.file, v, self._key(key))

    def tables(self, key: str) -> list[_Reader]:
        v = self.data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.fail(key, f"an array of tables ([[{self._key(key)}]])", v)
        return [_Reader(self.file, x, f"{self._key(key)}[{i}]") for i, x in enumerate(v)]

    def str_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        v = self.data.get(key, _MISSING)
        if v is _MISSING:
            return default
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(key, "an array of strings", v)
        return tuple(v)


def _endpoint(r: _Reader, key: str, text: str) -> Endpoint:
    """'udp:127.0.0.1:1161', 'udp6:[::1]:1161', '127.0.0.1:1161' or '[::1]:1161'."""
    family = "udp"
    rest = text
    if text.startswith(("udp:", "udp6:")):
        family, rest = text.split(":", 1)
    try:
        if rest.startswith("["):
            host, _, port_s = rest[1:].partition("]:")
            family = "udp6"
        else:
            host, _, port_s = rest.rpartition(":")
        ip = ipaddress.ip_address(host)
        port = int(port_s)  # 0: any free port (the log line and Agent.endpoints say which)
        if not 0 <= port < 65536:
            raise ValueError
    except ValueError as exc:
        expected = "an endpoint like 'udp:127.0.0.1:1161' or 'udp6:[::1]:1161'"
        raise r.fail(key, expected, text) from exc
    if ip.version == 6:
        family = "udp6"
    elif family == "udp6":
        raise r.fail(key, "an IPv6 address for udp6", text)
    return Endpoint(family, str(ip), port)


def agentx_address(r: _Reader, key: str, text: str | None) -> AgentXAddress | None:
    """An AgentX master's address, 'unix:/var/agentx/master' or 'tcp:127.0.0.1:705'."""
    if text is None:
        return None
    try:
        return parse_address(text)
    except ValueError as exc:
        raise r.fail(key, "an AgentX address like 'unix:/var/agentx/master' or "
                          "'tcp:127.0.0.1:705'", text) from exc


def _address(r: _Reader, key: str, network_type: NetworkType) -> bytes:
    v = r.get(key, "")
    if v == "":
        return b""
    if not isinstance(v, str):
        raise r.fail(key, "an IP address as a string (or \"\" for NULL)", v)
    try:
        ip = ipaddress.ip_address(v)
    except ValueError as exc:
        raise r.fail(key, "an IP address", v) from exc
    want = {NetworkType.IPV4: 4, NetworkType.IPV6: 6}.get(network_type)
    if want is None:
        raise r.fail(key, "no address for network_type asi", v)
    if ip.version != want:
        raise r.fail(key, f"an IPv{want} address (network_type is {network_type.name.lower()})", v)
    return ip.packed


def _enum(r: _Reader, key: str, enum: type, default: str | None = None) -> Any:
    names = {m.name.lower().replace("_", ""): m for m in enum}
    v = r.get(key, _MISSING)
    if v is _MISSING:
        if default is None:
            raise r.fail(key, " | ".join(names), v)
        v = default
    if isinstance(v, str) and v.lower().replace("_", "").replace("-", "") in names:
        return names[v.lower().replace("_", "").replace("-", "")]
    raise r.fail(key, " | ".join(names), v)


def _interface(r: _Reader, key: str) -> int:
    name = r.str(key)
    try:
        return socket.if_nametoindex(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise r.fail(key, "the name of a network interface of this host", name) from exc


def _read_key(r: _Reader, k: ConfigKey, fields: dict[str, Any]) -> Any:
    """One key of a static row, as its declaration (agent.tables) says."""
    default = k.default_from(fields) if k.default_from is not None else k.default
    if default is REQUIRED:
        default = _MISSING_DEFAULT
    if k.type is KeyType.INT:
        return r.int(k.name, k.low, k.high, default)
    if k.type is KeyType.FLOAT:
        return r.float(k.name, k.low, k.high, default)
    if k.type is KeyType.BOOL:
        return r.bool(k.name, default)
    if k.type is KeyType.STR:
        return r.str(k.name, default)
    if k.type is KeyType.ENUM:
        return _enum(r, k.name, k.enum, None if default is _MISSING_DEFAULT else default)
    if k.type is KeyType.FORMAT:
        names = tuple(m.value for m in k.enum)
        return r.str(k.name, default, names)
    if k.type is KeyType.ADDRESS:
        return _address(r, k.name, fields[k.after])
    return _interface(r, k.name)


def _build(r: _Reader, cls: type, **kwargs: Any) -> Row:
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{r.file}: {r.path}: {exc}") from exc


def _blocks(root: _Reader, elsewhere: Mapping[type, Iterable[int]]) -> list[Row]:
    """Static rows: [[network]], [[audio]], ... one section per declared table. No index is
    used twice, and every link names a block among them or `elsewhere` (see agent_config)."""
    rows: list[Row] = []
    readers: list[_Reader] = []
    for table in BLOCK_TABLES:
        allowed = {k.name for k in table.config_keys()}
        for r in root.tables(table.key):
            r.unknown_keys(allowed)
            fields: dict[str, Any] = {}
            for name, keys in table.config_fields():
                # Alternatives: the first key present is read, else the last gives the default.
                k = next((k for k in keys if k.name in r.data), keys[-1])
                fields[name] = _read_key(r, k, fields)
            rows.append(_build(r, table.row, **fields))
            readers.append(r)
    _check_unique(rows, readers)
    try:
        check_links(rows, elsewhere)
    except LinkError as exc:
        r = readers[rows.index(exc.row)] if exc.row in rows else root
        if exc.column is None or not exc.column.keys:
            raise ConfigError(f"{r.file}: {r.path}: {exc}") from exc
        target = table_of(exc.column.links_to).key
        raise r.fail(exc.column.keys[0].name, f"0 (none) or the id of one of the {target} "
                     "blocks", exc.column.get(exc.row)) from exc
    return rows


def _check_unique(rows: list[Row], readers: list[_Reader]) -> None:
    """No two static rows of a table have one index; no block id is in two tables."""
    seen: dict[tuple[str, tuple[int, ...]], str] = {}
    block_table: dict[int, tuple[str, str]] = {}
    for row, r in zip(rows, readers, strict=True):
        key = table_of(type(row)).key
        index = row.index
        if (key, index) in seen:
            if len(index) == 1:
                raise r.fail("id", f"a block id not already used by {seen[key, index]}", index[0])
            raise r.fail("id", f"an index not already used by {seen[key, index]}",
                         index_text(index))
        seen[key, index] = r.path
        other = block_table.setdefault(index[0], (key, r.path))
        if other[0] != key:
            raise r.fail("id", f"a block id not already used by a {other[0]} block ({other[1]})",
                         index[0])


def _unique(r: _Reader, key: str, what: str, name: str, earlier: list[str]) -> None:
    """Refuse a second declaration of a name (the last one would silently win)."""
    if name in earlier:
        section = r.path.rpartition("[")[0]
        raise r.fail(key, f"a {what} name not already declared "
                          f"({section}[{earlier.index(name)}])", name)


_DOTTED = re.compile(r"\.?[0-9]{1,10}(?:\.[0-9]{1,10})+")


def _object_identifier(r: _Reader, key: str, text: str) -> tuple[int, ...]:
    """A dotted OBJECT IDENTIFIER ("1.3.6.1.4.1.32473", a leading dot allowed) that SNMP can
    carry: see ber.oid_problem."""
    if not _DOTTED.fullmatch(text):
        raise r.fail(key, "a dotted OBJECT IDENTIFIER", text)
    oid = tuple(int(x) for x in text.lstrip(".").split("."))
    why = ber.oid_problem(oid)
    if why is not None:
        raise r.fail(key, f"a dotted OBJECT IDENTIFIER ({why})", text)
    return oid


#: The top-level sections the agent reads.
SECTIONS = frozenset({"agent", "system", "access", "notify",
                      *(t.key for t in BLOCK_TABLES)})


def read_toml(text: str, source: str = "<string>") -> _Reader:
    """The root of a TOML document; raises ConfigError when it is not valid TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{source}: not a configuration: arrays or tables nested too deeply"
                          ) from exc
    return _Reader(source, data)


def read_file(path: str | Path) -> str:
    """A configuration file's text; raises ConfigError when it cannot be read as UTF-8."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text: {exc}") from exc


def parse_config(text: str, source: str = "<string>", sections: Iterable[str] = ()) -> AgentConfig:
    """Parse and check the agent's part of a TOML configuration; raises ConfigError.

    ``sections``: top-level sections other parts read (accepted here, not read)."""
    return agent_config(read_toml(text, source), sections)


def agent_config(root: _Reader, sections: Iterable[str] = (),
                 elsewhere: Mapping[type, Iterable[int]] | None = None) -> AgentConfig:
    """The agent's configuration from a parsed document; raises ConfigError.

    ``elsewhere``: per row type, the ids of blocks other parts put into the store before the
    static rows are loaded (e.g. the collectors' streams), which static rows may link to."""
    root.unknown_keys(SECTIONS | set(sections))
    a = root.table("agent")
    a.unknown_keys({"listen", "state_dir", "engine_id", "host_refresh_s", "max_message_size",
                    "agentx", "enable_authen_traps"})
    listen = tuple(_endpoint(a, f"listen[{i}]", s)
                   for i, s in enumerate(a.str_list("listen", ("udp:127.0.0.1:1161",))))
    if not listen:
        raise a.fail("listen", "at least one endpoint", [])
    engine_id = None
    if "engine_id" in a.data:
        hexid = a.str("engine_id")
        try:
            engine_id = bytes.fromhex(hexid.replace(":", ""))
            if not 5 <= len(engine_id) <= 32:
                raise ValueError
        except ValueError as exc:
            raise a.fail("engine_id", "5 to 32 octets in hex", hexid) from exc
    s = root.table("system")
    s.unknown_keys({"description", "object_id", "contact", "name", "location"})
    oid = _object_identifier(s, "object_id", s.str("object_id", DEFAULT_SYS_OBJECT_ID))
    system = SystemGroup(
        description=s.str("description", SystemGroup.description),
        object_id=oid,
        contact=s.str("contact", ""),
        name=s.str("name", socket.gethostname()),
        location=s.str("location", ""),
    )
    for key, value in (("description", system.description), ("contact", system.contact),
                       ("name", system.name), ("location", system.location)):
        if len(value.encode()) > 255:
            raise s.fail(key, "at most 255 octets", value)
    acc = root.table("access")
    acc.unknown_keys({"community", "user", "allow_community_write"})
    allow_write = acc.bool("allow_community_write", False)
    communities = []
    for r in acc.tables("community"):
        r.unknown_keys({"name", "level", "sources"})
        level = r.str("level", "listener", LEVELS)
        if level == "supervisor" and not allow_write:
            raise r.fail("level", "listener (a writing community needs "
                                  "access.allow_community_write = true)", level)
        sources = r.str_list("sources", ())
        for i, src in enumerate(sources):
            try:
                ipaddress.ip_network(src, strict=False)
            except ValueError as exc:
                raise r.fail(f"sources[{i}]", "an address or CIDR prefix", src) from exc
        name = r.str("name")
        if not name or len(name) > 32:
            raise r.fail("name", "a community of 1 to 32 characters", name)
        _unique(r, "name", "community", name, [c.name for c in communities])
        communities.append(Community(name, level, sources))
    users = []
    for r in acc.tables("user"):
        r.unknown_keys({"name", "level", "auth_protocol", "auth_key", "priv_protocol", "priv_key",
                        "example_only"})
        u = User(
            name=r.str("name"),
            level=r.str("level", "listener", LEVELS),
            auth_protocol=r.str("auth_protocol", "sha256", AUTH),
            auth_key=r.str("auth_key", ""),
            priv_protocol=r.str("priv_protocol", "aes128", PRIV),
            priv_key=r.str("priv_key", ""),
            example_only=r.bool("example_only", False),
        )
        if not 1 <= len(u.name) <= 32:
            raise r.fail("name", "a user name of 1 to 32 characters", u.name)
        _unique(r, "name", "user", u.name, [x.name for x in users])
        if u.auth_protocol != "none" and len(u.auth_key) < 8:
            raise r.fail("auth_key", "a key of at least 8 characters", u.auth_key)
        if u.priv_protocol != "none":
            if u.auth_protocol == "none":
                raise r.fail("priv_protocol", "none (privacy needs authentication)",
                             u.priv_protocol)
            if len(u.priv_key) < 8:
                raise r.fail("priv_key", "a key of at least 8 characters", u.priv_key)
        users.append(u)
    state_dir = a.str("state_dir", None)
    if state_dir is not None and "\0" in state_dir:
        raise a.fail("state_dir", "a folder name (without NUL characters)", state_dir)
    blocks = _blocks(root, elsewhere or {})
    return AgentConfig(
        source=root.file,
        listen=listen,
        state_dir=Path(state_dir) if state_dir else None,
        system=system,
        communities=tuple(communities),
        users=tuple(users),
        allow_community_write=allow_write,
        engine_id=engine_id,
        blocks=tuple(blocks),
        host_refresh_s=a.float("host_refresh_s", 0.1, 3600, 5.0),
        max_message_size=a.int("max_message_size", 484, 65507, DEFAULT_MAX_MESSAGE_SIZE),
        agentx=agentx_address(a, "agentx", a.str("agentx", None)),
        notify=notify_targets(root, tuple(users)),
        enable_authen_traps=a.bool("enable_authen_traps", False),
    )


def load_config(path: str | Path, sections: Iterable[str] = ()) -> AgentConfig:
    """The agent's configuration from a file (see parse_config); raises ConfigError."""
    return parse_config(read_file(path), str(path), sections)
