"""Persisted agent state: the values managers wrote, and the SNMP engine's identity.

Files are JSON, replaced atomically: write all of a temporary file in the same folder, fsync it,
rename it over the old one, fsync the folder. A crash at any point leaves either the old or the
new file, never a torn one; a write that fails at any step (a full disk, a read-only folder)
raises OSError and leaves the old file, so a SET is acknowledged only once its new state is on
disk (the instrumentation answers commitFailed otherwise, and nothing changes). A file that
cannot be parsed stops the agent at start with its path and the reason; it is left as it is for
a person to look at, never overwritten. Temporary files left by a process killed mid-write are
removed when the state is loaded.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .model import TABLES, Row, Snapshot, table_of
from .tables import index_text


class StateError(RuntimeError):
    """A state file exists but is not valid."""


def atomic_write_json(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON, durably (see `atomic_write_bytes`)."""
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload`, durably: when this returns, the whole new file and its
    name are on disk. Otherwise it raises OSError (a full disk, a read-only folder ...),
    `path` is as it was and no temporary file is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    old = path.with_name(f".{path.name}.{os.getpid()}.old.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        # A second name for the old file, to put it back if the rename cannot be made durable
        # (None: there was no old file; False: the file system has no hard links).
        kept = _second_name(path, old)
        os.replace(tmp, path)
        try:
            _fsync_dir(path.parent)
        except OSError:
            if kept:
                os.replace(old, path)
            elif kept is None:
                path.unlink()
            _fsync_dir(path.parent)
            raise
    finally:
        for leftover in (tmp, old):
            with contextlib.suppress(OSError):
                leftover.unlink()


def write_all(fd: int, payload: bytes) -> None:
    """os.write until every octet is written (a write may take only part of it)."""
    view = memoryview(payload)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.EIO, f"write took {n} octets")
        view = view[n:]


def _second_name(path: Path, name: Path) -> bool | None:
    """Hard-link `name` to `path`: True when made, None when `path` does not exist, False when
    the file system cannot (then a failed rename is not undone)."""
    with contextlib.suppress(FileNotFoundError):
        name.unlink()
    try:
        os.link(path, name)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _remove_stale_temporaries(path: Path) -> None:
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def _read_json(path: Path) -> Any:
    if path.parent.is_dir():
        _remove_stale_temporaries(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: unreadable state file: {exc}") from exc


#: The tables with read-write columns; each has a section in the written-values file.
_WRITTEN_TABLES = tuple(t for t in TABLES if t.writable)


@dataclass
class WrittenValues:
    """What managers wrote: the read-write columns' values (nMtTxRxPoint and nMtSIPServerAddr)
    per row, as {(table key, index): {field: value}}; the file holds them as
    {"format": 1, "network": {"1": {"rx_point": true, "sip_server": "0a000001"}}}; and the
    writable scalars providers serve (controlEventPersistence), by name, in its "scalars"
    section (JSON values as the providers' rules make them)."""

    path: Path | None
    values: dict[tuple[str, tuple[int, ...]], dict[str, Any]] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> WrittenValues:
        if path is None:
            return cls(None)
        data = _read_json(path)
        if data is None:
            return cls(path)
        try:
            if data.get("format") != 1:
                raise ValueError(f"unknown format {data.get('format')!r}")
            values = {}
            for table in _WRITTEN_TABLES:
                rules = [c.write for c in table.writable if c.write is not None]
                # a file written before a table existed has no section for it
                for key, v in data.get(table.key, {}).items():
                    index = tuple(int(x) for x in key.split("."))
                    values[(table.key, index)] = {
                        r.field: r.from_json(v[r.field]) for r in rules if r.field in v
                    }
            scalars = data.get("scalars", {})
            if not isinstance(scalars, dict):
                raise ValueError(f"scalars is not an object: {scalars!r}")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{path}: not a written-values file: {exc}") from exc
        return cls(path, values, dict(scalars))

    def apply(self, row: Row) -> Row:
        """The row with the written values that apply to it."""
        v = self.values.get((table_of(type(row)).key, row.index))
        if not v:
            return row
        try:
            return replace(row, **v)
        except ValueError:
            return row  # the block changed type (e.g. now asi); the old value no longer fits

    def record(self, snapshot: Snapshot, rows: list[Row],
               scalars: dict[str, Any] | None = None) -> None:
        """Persist the written columns of `rows` and the written `scalars` (called inside the
        SET's transaction)."""
        new = dict(self.values)
        new_scalars = {**self.scalars, **(scalars or {})}
        for row in rows:
            table = table_of(type(row))
            new[(table.key, row.index)] = {
                c.write.field: getattr(row, c.write.field) for c in table.writable if c.write
            }
        if self.path is not None:
            data: dict[str, Any] = {"format": 1, "saved": time.time()}
            for table in _WRITTEN_TABLES:
                rules = {c.write.field: c.write for c in table.writable if c.write}
                data[table.key] = {
                    index_text(index): {f: rules[f].to_json(x) for f, x in v.items()}
                    for (key, index), v in sorted(new.items())
                    if key == table.key
                }
            data["scalars"] = new_scalars
            atomic_write_json(self.path, data)
        self.values = new
        self.scalars = new_scalars


@dataclass
class EngineState:
    """snmpEngineID and snmpEngineBoots (RFC 3414: boots rises at every start)."""

    engine_id: bytes
    boots: int

    @classmethod
    def start(cls, path: Path | None, configured_id: bytes | None = None) -> EngineState:
        """`next_start`, counted at once (`count_boot`)."""
        state = cls.next_start(path, configured_id)
        state.count_boot(path)
        return state

    @classmethod
    def next_start(cls, path: Path | None, configured_id: bytes | None = None) -> EngineState:
        """The identity and boots of this start (one more than the last counted), not yet
        recorded: the agent calls `count_boot` once it serves, so that a start that fails
        (e.g. a port in use) does not count a boot."""
        data = _read_json(path) if path is not None else None
        if data is not None:
            try:
                engine_id = bytes.fromhex(data["engine_id"])
                boots = int(data["boots"])
            except (KeyError, TypeError, ValueError) as exc:
                raise StateError(f"{path}: not an engine state file: {exc}") from exc
        else:
            # RFC 3411 format 5 (octets, administratively assigned) with enterprise 32473.
            engine_id = bytes.fromhex("80007ed905") + secrets.token_bytes(12)
            boots = 0
        if configured_id is not None:
            engine_id = configured_id
        return cls(engine_id, min(boots + 1, 2147483647))

    def count_boot(self, path: Path | None) -> None:
        """Record this start's identity and boots (raises OSError when it cannot)."""
        if path is not None:
            atomic_write_json(path, {"engine_id": self.engine_id.hex(), "boots": self.boots})
