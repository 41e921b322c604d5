"""Flow ids of the pcap reader: each (source, destination) address and port pair gets a stable id.

A flow key is a row of five 64-bit words: family << 32 | source port << 16 | destination port,
then the source and the destination address as two words each (IPv4 right-aligned in 16 bytes).
The Python decode assigns ids with :meth:`FlowTable.assign`; the compiled record walk keeps its
own copy of the table (:meth:`FlowTable.compiled`) and reports the flows it added
(:meth:`FlowTable.add_compiled`), so both give the same ids in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from iec62379.collectors.core import fast
from iec62379.collectors.core.batch import FlowKey


def addr_words(addr: bytes) -> tuple[int, int]:
    """An IPv4 or IPv6 address as the two words of a flow key (IPv4 right-aligned)."""
    a = addr.rjust(16, b"\0")
    return int.from_bytes(a[:8], "big"), int.from_bytes(a[8:], "big")


def key_row(src: bytes, sport: int, dst: bytes, dport: int) -> list[int]:
    """The flow key of one datagram."""
    fam = 4 if len(src) == 4 else 6
    return [(fam << 32) | (sport << 16) | dport, *addr_words(src), *addr_words(dst)]


def flow_from_row(row: tuple[int, ...]) -> FlowKey:
    """The FlowKey a flow key row stands for."""
    fam = row[0] >> 32
    sport = (row[0] >> 16) & 0xFFFF
    dport = row[0] & 0xFFFF
    src = row[1].to_bytes(8, "big") + row[2].to_bytes(8, "big")
    dst = row[3].to_bytes(8, "big") + row[4].to_bytes(8, "big")
    if fam == 4:
        src, dst = src[12:], dst[12:]
    return FlowKey(src, sport, dst, dport)


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(rows, axis=0, return_inverse=True), faster for few distinct values per column:
    each column is coded on its own, then the codes are combined into one integer."""
    code = np.zeros(rows.shape[0], dtype=np.int64)
    radix = 1
    for col in range(rows.shape[1]):
        values, inv = np.unique(rows[:, col], return_inverse=True)
        radix *= values.shape[0]
        if radix >= 1 << 62:
            uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
            return uniq, inverse.reshape(-1)
        code = code * values.shape[0] + inv.reshape(-1)
    ucode, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1)


class FlowTable:
    """Maps 5-word flow keys to stable ids (in order of first appearance)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[int, ...], int] = {}
        self.flows: list[FlowKey] = []
        self._compiled: Any = None  # the compiled kernels' copy
        self._compiled_n = 0  # flows it holds

    def assign(self, keys: np.ndarray) -> np.ndarray:
        """The flow id of each key row (int32), adding new flows; works on runs of equal keys."""
        n = keys.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int32)
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.any(keys[1:] != keys[:-1], axis=1, out=change[1:])
        starts = np.flatnonzero(change)
        uniq, inverse = _unique_rows(keys[starts])
        gids = np.empty(uniq.shape[0], dtype=np.int32)
        for j, row in enumerate(map(tuple, uniq.tolist())):
            gid = self.ids.get(row)
            if gid is None:
                gid = len(self.flows)
                self.ids[row] = gid
                self.flows.append(flow_from_row(row))
            gids[j] = gid
        run = np.cumsum(change) - 1
        return gids[inverse][run]

    def compiled(self) -> Any:
        """The compiled kernels' copy of the table, given the flows assign added since."""
        if self._compiled is None:
            self._compiled = fast.flow_table()
            self._compiled_n = 0
        if self._compiled_n < len(self.flows):
            rows = np.asarray(list(self.ids)[self._compiled_n :], dtype=np.uint64)
            self._compiled_n = fast.flow_table_add(self._compiled, rows)
        return self._compiled

    def add_compiled(self, rows: np.ndarray) -> None:
        """Take the flows the compiled walk added to its copy (key rows, in id order)."""
        for row in map(tuple, rows.tolist()):
            self.ids[row] = len(self.flows)
            self.flows.append(flow_from_row(row))
        self._compiled_n += rows.shape[0]
