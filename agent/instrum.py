"""The MIB instrumentation controller: GET, GETNEXT (and so GETBULK) and SET over a sorted index.

pysnmp's own controller walks its MIB tree and runs the access check many times per varbind.
This one keeps a sorted list of every instance OID the agent serves, built from the store's
snapshot (rebuilt only when rows come or go) and from the other providers (system group,
ifTable, SNMP counters), and answers with one bisect per varbind. Values are read at request
time from the current snapshot. VACM still applies: each candidate instance is passed to the
access function pysnmp's command responders give (`acFun`), exactly as its own controller does.

The three methods take and return what pysnmp's command responders pass (varbinds of
(ObjectName, value)), so tests can call them in-process without UDP.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Protocol

from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

from .mibmap import WRITABLE, Column, MibMap
from .model import NetworkBlock, NetworkType, Snapshot, address_length
from .store import BlockStore, LinkError

log = logging.getLogger(__name__)

Getter = Callable[[], Any]


class Provider(Protocol):
    """Objects served beside the measurement tables (system group, ifTable, counters)."""

    version: int

    def objects(self) -> Iterable[tuple[tuple[int, ...], Getter]]:
        """(instance OID, getter returning the wire value) for every instance."""

    def object_types(self) -> Iterable[tuple[int, ...]]:
        """The OIDs of the object types (columns and scalars) it serves."""


class WriteHook(Protocol):
    def __call__(self, snapshot: Snapshot, blocks: list[NetworkBlock]) -> None:
        """Called inside the SET's transaction with the changed network blocks; raising aborts
        the SET (commitFailed) and nothing changes."""


class MeasurementInstrum:
    """Serves the store's tables and the providers' objects; see the module docstring."""

    def __init__(
        self,
        store: BlockStore,
        mibmap: MibMap,
        providers: list[Provider] | None = None,
        on_write: WriteHook | None = None,
    ) -> None:
        self.store = store
        self.map = mibmap
        self.providers = providers or []
        self.on_write = on_write
        self._oids: list[tuple[int, ...]] = []
        self._getters: list[Callable[[Snapshot], Any]] = []
        self._types: set[tuple[int, ...]] = set()
        self._built_snapshot: Snapshot | None = None
        self._built_provider_versions: tuple[int, ...] = ()
        self._column_by_oid: dict[tuple[int, ...], Column] = {
            c.oid: c for cols in mibmap.columns.values() for c in cols
        }
        self._writable = {self.map.by_name[n].oid: self.map.by_name[n] for n in WRITABLE}

    # --- the index --------------------------------------------------------------------------

    def _structure_changed(self, snap: Snapshot) -> bool:
        old = self._built_snapshot
        if old is None:
            return True
        if old is snap:
            return False
        return (
            old.network.keys() != snap.network.keys()
            or old.audio.keys() != snap.audio.keys()
            or old.video.keys() != snap.video.keys()
            or old.rx.keys() != snap.rx.keys()
            or old.temperature.keys() != snap.temperature.keys()
        )

    def _index(self) -> Snapshot:
        snap = self.store.snapshot
        versions = tuple(p.version for p in self.providers)
        if self._structure_changed(snap) or versions != self._built_provider_versions:
            self._rebuild(snap, versions)
        else:
            self._built_snapshot = snap
        return snap

    def _rebuild(self, snap: Snapshot, versions: tuple[int, ...]) -> None:
        items: list[tuple[tuple[int, ...], Callable[[Snapshot], Any]]] = []
        types: set[tuple[int, ...]] = set()
        fmt = self.map.format_oid
        for table, columns in self.map.columns.items():
            row_type = self.map.row_types[table]
            rows = snap.table(row_type)
            keys = sorted(rows)
            for col in columns:
                types.add(col.oid)
                for key in keys:
                    items.append((col.oid + key, _cell_getter(row_type, key, col, fmt)))
        for p in self.providers:
            types.update(p.object_types())
            for oid, getter in p.objects():
                items.append((oid, _wrap(getter)))
        items.sort(key=lambda it: it[0])
        self._oids = [it[0] for it in items]
        self._getters = [it[1] for it in items]
        self._types = types
        self._built_snapshot = snap
        self._built_provider_versions = versions

    def _is_known_type(self, oid: tuple[int, ...]) -> bool:
        return any(oid[:n] in self._types for n in range(1, len(oid)))

    # --- read -------------------------------------------------------------------------------

    def read_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        """GET: each name's value, noSuchInstance or noSuchObject."""
        snap = self._index()
        ac = context.get("acFun")
        out = []
        for idx, (name, _val) in enumerate(var_binds):
            oid = tuple(name)
            i = bisect_left(self._oids, oid)
            if i < len(self._oids) and self._oids[i] == oid:
                if ac and ac("read", (name, None), idx=idx, **_ctx(context)):
                    out.append((name, rfc1905.noSuchObject))
                    continue
                value = self._getters[i](snap)
                if value is None:
                    out.append((name, rfc1905.noSuchInstance))
                else:
                    out.append((name, value))
            elif self._is_known_type(oid):
                out.append((name, rfc1905.noSuchInstance))
            else:
                out.append((name, rfc1905.noSuchObject))
        return out

    def read_next_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        """GETNEXT: the next instance after each name that the caller's view lets it read."""
        snap = self._index()
        ac = context.get("acFun")
        out = []
        oids = self._oids
        n = len(oids)
        for idx, (name, _val) in enumerate(var_binds):
            i = bisect_right(oids, tuple(name))
            while i < n:
                candidate = rfc1902.ObjectName(oids[i])
                if ac and ac("read", (candidate, None), idx=idx, **_ctx(context)):
                    i += 1
                    continue
                value = self._getters[i](snap)
                if value is None:
                    i += 1
                    continue
                out.append((candidate, value))
                break
            else:
                out.append((name, rfc1905.endOfMibView))
        return out

    # --- write ------------------------------------------------------------------------------

    def write_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Any, Any]]:
        """SET, all or nothing (RFC 3416 4.2.5): every varbind is checked first; then all are
        applied in one store transaction, persisted, and published together."""
        snap = self._index()
        ac = context.get("acFun")
        changes: dict[int, NetworkBlock] = {}
        for idx, (name, value) in enumerate(var_binds):
            oid = tuple(name)
            if ac and ac("write", (name, value), idx=idx, **_ctx(context)):
                raise smi_error.NoAccessError(name=name, idx=idx)
            i = bisect_left(self._oids, oid)
            exists = i < len(self._oids) and self._oids[i] == oid
            col = self._writable.get(oid[:-1])
            if not exists:
                raise smi_error.NoCreationError(name=name, idx=idx)
            if col is None:
                raise smi_error.NotWritableError(name=name, idx=idx)
            block_id = oid[-1]
            block = changes.get(block_id) or snap.network[(block_id,)]
            changes[block_id] = _apply(col, block, value, name, idx)
        if not changes:
            return list(var_binds)
        try:
            with self.store.transaction() as txn:
                for block in changes.values():
                    txn.put(block)
                if self.on_write is not None:
                    # Persist inside the transaction: if it fails, nothing is published.
                    self.on_write(txn.build(snap.version + 1), list(changes.values()))
        except LinkError as exc:
            log.warning("SET refused: %s", exc)
            raise smi_error.InconsistentValueError(name=var_binds[0][0], idx=0) from exc
        except OSError as exc:
            log.error("SET not persisted, refused: %s", exc)
            raise smi_error.CommitFailedError(name=var_binds[0][0], idx=0) from exc
        return list(var_binds)


def _apply(col: Column, block: NetworkBlock, value: Any, name: Any, idx: int) -> NetworkBlock:
    if value is None or value.getTagSet() != col.syntax.getTagSet():
        raise smi_error.WrongTypeError(name=name, idx=idx)
    if col.name == "nMtTxRxPoint":
        v = int(value)
        if v not in (1, 2):
            raise smi_error.WrongValueError(name=name, idx=idx)
        return replace(block, rx_point=(v == 1))
    # nMtSIPServerAddr: NULL (empty), or an address of the block's network type.
    raw = bytes(value.asOctets())
    if len(raw) not in (0, 4, 16):
        raise smi_error.WrongLengthError(name=name, idx=idx)
    if raw and (block.network_type is NetworkType.ASI or len(raw) != address_length(block.network_type)):
        raise smi_error.InconsistentValueError(name=name, idx=idx)
    try:
        return replace(block, sip_server=raw)
    except ValueError as exc:
        raise smi_error.InconsistentValueError(name=name, idx=idx) from exc


def _ctx(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if k != "idx"}


def _wrap(getter: Getter) -> Callable[[Snapshot], Any]:
    return lambda _snap: getter()


def _cell_getter(
    row_type: type, key: tuple[int, ...], col: Column, fmt: Callable[[Any], tuple[int, ...]]
) -> Callable[[Snapshot], Any]:
    attr = {
        "NetworkBlock": "network",
        "AudioComponent": "audio",
        "VideoBlock": "video",
        "RxPoint": "rx",
        "Temperature": "temperature",
    }[row_type.__name__]
    get, make = col.get, col.make
    if make is rfc1902.ObjectIdentifier:

        def cell(snap: Snapshot) -> Any:
            row = getattr(snap, attr).get(key)
            return None if row is None else make(fmt(get(row)))

    else:

        def cell(snap: Snapshot) -> Any:
            row = getattr(snap, attr).get(key)
            return None if row is None else make(get(row))

    return cell


__all__ = ["MeasurementInstrum", "Provider", "univ"]
