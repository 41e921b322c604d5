"""The block store: the one object producers (collectors, an embedding product) and the agent
share.

Readers take `store.snapshot`, an immutable Snapshot, and never lock. Writers open a
transaction, put and remove rows, and commit: the store checks the links between blocks and
publishes a whole new snapshot with one reference assignment, so a walk never sees half an
update.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from .model import BLOCK_TABLES, TABLES, NetworkBlock, Row, RxPoint, Snapshot, table_of
from .tables import ColumnSpec, index_text


class LinkError(ValueError):
    """A row names a block that does not exist, or a block id is used by two block types.
    `row` is the row at fault; `column` its link column (None for a block id used twice)."""

    def __init__(self, message: str, row: Row | None = None,
                 column: ColumnSpec | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


class Transaction:
    """Changes collected for one atomic commit."""

    def __init__(self, base: Snapshot) -> None:
        self._base = base
        self._tables = {t.row: dict(getattr(base, t.key)) for t in TABLES}

    @property
    def base(self) -> Snapshot:
        return self._base

    def get(self, row_type: type, index: tuple[int, ...]) -> Row | None:
        return self._tables[row_type].get(index)

    def rows(self, row_type: type) -> list[Row]:
        return list(self._tables[row_type].values())

    def put(self, *rows: Row) -> None:
        for row in rows:
            if type(row) not in self._tables:
                raise TypeError(f"not a measurement row: {row!r}")
            self._tables[type(row)][row.index] = row

    def remove(self, row_type: type, index: tuple[int, ...]) -> None:
        self._tables[row_type].pop(index, None)

    def remove_block(self, block_id: int) -> None:
        """Remove every row of block `block_id`, in any table."""
        for table in self._tables.values():
            for idx in [i for i in table if i[0] == block_id]:
                del table[idx]

    def replace_all(self, row_type: type, rows: list[Row]) -> None:
        self._tables[row_type] = {r.index: r for r in rows}

    def build(self, version: int) -> Snapshot:
        t = self._tables
        _ensure_rx_rows(t)
        _check_links(t)
        return Snapshot(version=version, **{table.key: t[table.row] for table in TABLES})


def _ensure_rx_rows(t: dict[type, dict]) -> None:
    """IEC 62379-7 6.3.6: an Rx network block has an rxPointTable row. Create one where missing,
    with the next free block id."""
    served = {r.network_block_id for r in t[RxPoint].values()}
    missing = [b for b in t[NetworkBlock].values() if b.rx_point and b.block_id not in served]
    if not missing:
        return
    used = set()
    for table in t.values():
        used.update(i[0] for i in table)
    next_id = max(used, default=0) + 1
    for block in sorted(missing, key=lambda b: b.block_id):
        t[RxPoint][(next_id,)] = RxPoint(block_id=next_id, network_block_id=block.block_id)
        next_id += 1


def check_links(rows: Iterable[Row], elsewhere: Mapping[type, Iterable[int]] | None = None) -> None:
    """The store's rules for links between blocks, applied to `rows` before they are stored
    (e.g. a configuration's static rows), given the block ids of each row type that will be
    in the store besides them (`elsewhere`). Raises LinkError."""
    t: dict[type, dict] = {table.row: {} for table in TABLES}
    for row in rows:
        t[type(row)][row.index] = row
    _check_links(t, elsewhere or {})


def _check_links(t: dict[type, dict], elsewhere: Mapping[type, Iterable[int]] | None = None
                 ) -> None:
    owner: dict[int, str] = {}
    for table in BLOCK_TABLES:
        name = table.row.__name__
        for idx, row in t[table.row].items():
            other = owner.setdefault(idx[0], name)
            if other != name:
                raise LinkError(f"block id {idx[0]} is used by a {other} and a {name}", row)
    for table in TABLES:
        for col in table.links:
            target = table_of(col.links_to).key
            pool = {i[0] for i in t[col.links_to]}
            if elsewhere:
                pool.update(elsewhere.get(col.links_to, ()))
            for row in t[table.row].values():
                value = col.get(row)
                if value and value not in pool:
                    raise LinkError(f"{col.name} of {table.key} {index_text(row.index)} = "
                                    f"{value}: no {target} block {value}", row, col)


class BlockStore:
    """Holds the current Snapshot; see the module docstring."""

    def __init__(self) -> None:
        self._snapshot = Snapshot()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Snapshot], None]] = []

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """`with store.transaction() as t: t.put(...)`: commits at the end of the block, or
        changes nothing if the block or the checks raise."""
        with self._lock:
            txn = Transaction(self._snapshot)
            yield txn
            snap = txn.build(self._snapshot.version + 1)
            self._snapshot = snap
        for listener in list(self._listeners):
            listener(snap)

    def put(self, *rows: Row) -> Snapshot:
        with self.transaction() as t:
            t.put(*rows)
        return self._snapshot

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Call `listener(snapshot)` after every commit (from the committing thread)."""
        self._listeners.append(listener)


__all__ = ["BlockStore", "LinkError", "Transaction", "check_links", "replace"]
