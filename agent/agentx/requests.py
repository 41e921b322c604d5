"""The master's requests answered from the instrumentation the standalone responder uses.

Get, GetNext and GetBulk read the sorted instance index of `MeasurementInstrum` (one bisect per
search range) and one snapshot of the store per request, so an answer never waits for a
collector. Only instances under the registered subtrees are answered (the master's VACM has
already decided what the manager may see).

The SET phases (RFC 2741 7.2.4) map onto the standalone agent's SET: TestSet runs the same
checks (`MeasurementInstrum.check_set`) and keeps the checked plan per transaction; CommitSet
applies it in one store transaction with persistence (`commit_set`), so all or nothing holds
across the varbinds of a request; UndoSet puts the rows back as they were; CleanupSet forgets.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from typing import Any

from ..instrum import MeasurementInstrum, SetError, SetPlan, View
from ..tables import COMMIT_FAILED
from . import pdu
from .pdu import Oid, VarBind

log = logging.getLogger(__name__)

#: RFC 3416's undoFailed error-status.
UNDO_FAILED = 15
#: A GetBulk answer holds at most this many varbinds (the responder's cap).
MAX_BULK_VARBINDS = 1000


_VB_HEAD = struct.Struct(">HH")
_END_OF_VIEW = _VB_HEAD.pack(pdu.ber.END_OF_MIB_VIEW, 0)


def _decode_oid_be(field: bytes) -> tuple[Oid, bool]:
    """(arcs, include) of a whole Object Identifier field in network byte order."""
    k, prefix, include = field[0], field[1], field[2]
    arcs = struct.unpack_from(f">{k}I", field, 4)
    if prefix:
        arcs = (1, 3, 6, 1, prefix, *arcs)
    return arcs, include != 0


class RequestError(Exception):
    """A request answered with res.error `error` at 1-based varbind `index`."""

    def __init__(self, error: int, index: int = 0) -> None:
        super().__init__(f"res.error {error} at {index}")
        self.error = error
        self.index = index


class Requests:
    """Answers Get / GetNext / GetBulk and the SET phases for `subtrees`; see the module doc."""

    def __init__(self, instrum: MeasurementInstrum, subtrees: Sequence[Oid],
                 write_view: View) -> None:
        self.instrum = instrum
        self.view = View(tuple(subtrees))
        self.write_view = write_view
        self._plans: dict[int, SetPlan] = {}
        self._committed: dict[int, SetPlan] = {}
        self._names: list[bytes] = []
        self._heads: list[bytes] = []  # each instance's VarBind up to its value
        self._where: dict[bytes, int] = {}  # encoded name -> index position
        self._ends: dict[bytes, Oid] = {}  # SearchRange end fields seen -> decoded
        self._mask: list[bool] = []
        self._names_for: list[Oid] | None = None

    # --- reads --------------------------------------------------------------------------

    def _prepare(self) -> tuple[Any, list[bool], list[bytes]]:
        ins = self.instrum
        snap = ins.current()
        if self._names_for is not ins.oids:  # the index was rebuilt: encode its names again
            self._names = [pdu.encode_oid(o) for o in ins.oids]
            heads = zip(ins.tags, self._names, strict=True)
            self._heads = [_VB_HEAD.pack(t, 0) + e for t, e in heads]
            self._where = {e: i for i, e in enumerate(self._names)}
            self._mask = ins.readable_mask(self.view)
            self._names_for = ins.oids
        return snap, self._mask, self._names

    def get(self, names: Sequence[Oid]) -> bytes:
        snap, mask, enc = self._prepare()
        return b"".join(self._get_one(snap, mask, enc, oid) for oid in names)

    def _get_one(self, snap: Any, mask: list[bool], enc: list[bytes], oid: Oid) -> bytes:
        ins = self.instrum
        i = ins.position(oid)
        if i >= 0 and mask[i]:
            value = ins.getters[i](snap)
            if value is not None:
                return pdu.encode_varbind(enc[i], ins.tags[i], value)
        known = i >= 0 and mask[i] or (self.view.contains(oid) and ins.is_known_type(oid))
        tag = pdu.ber.NO_SUCH_INSTANCE if known else pdu.ber.NO_SUCH_OBJECT
        return pdu.encode_varbind(pdu.encode_oid(oid), tag, None)

    def get_be(self, buf: bytes, at: int) -> bytes | None:
        """`get` of the SearchRanges' starts in `buf` from `at` to its end, in network byte
        order (as `get_next_be`: the same answer; None when a field does not fit in `buf`)."""
        snap, mask, enc = self._prepare()
        ins = self.instrum
        getters, tags, heads, where = ins.getters, ins.tags, self._heads, self._where
        size = len(buf)
        out = []
        while at < size:
            k = buf[at]
            mid = at + 4 + 4 * k
            if k > 128 or mid >= size:
                return None
            field = buf[at:mid]
            k = buf[mid]
            at = mid + 4 + 4 * k
            if k > 128 or at > size:  # the end is not used, but must be there
                return None
            i = where.get(field, -1)
            if i >= 0 and mask[i]:
                value = getters[i](snap)
                if value is not None:
                    out.append(heads[i] + pdu.encode_value(tags[i], value))
                    continue
            out.append(self._get_one(snap, mask, enc, _decode_oid_be(field)[0]))
        return b"".join(out)

    def _first(self, snap: Any, mask: list[bool], pos: int, end: Oid) -> tuple[int, Any]:
        """From index position `pos`, the first instance in the view with a value and before
        `end` (no bound when empty): (position, value), or (-1, None)."""
        ins = self.instrum
        oids, getters = ins.oids, ins.getters
        n = len(oids)
        while pos < n:
            if end and oids[pos] >= end:
                break
            if mask[pos]:
                value = getters[pos](snap)
                if value is not None:
                    return pos, value
            pos += 1
        return -1, None

    def _start(self, start: Oid, include: bool) -> int:
        ins = self.instrum
        return ins.position(start) if include and ins.position(start) >= 0 else (
            ins.next_position(start))

    def _next_varbind(self, snap: Any, mask: list[bool], enc: list[bytes], pos: int,
                      start: Oid, end: Oid) -> tuple[bytes, int]:
        i, value = self._first(snap, mask, pos, end)
        if i < 0:
            return pdu.encode_varbind(pdu.encode_oid(start), pdu.ber.END_OF_MIB_VIEW, None), -1
        return pdu.encode_varbind(enc[i], self.instrum.tags[i], value), i

    def get_next(self, ranges: Sequence[tuple[Oid, bool, Oid]]) -> bytes:
        snap, mask, enc = self._prepare()
        return b"".join(
            self._next_varbind(snap, mask, enc, self._start(s, inc), s, e)[0]
            for s, inc, e in ranges
        )

    def get_next_be(self, buf: bytes, at: int) -> bytes | None:
        """`get_next` of the SearchRanges in `buf` from `at` to its end, in network byte order:
        the same answer, with less work on the common shape of a walk (a start that is the
        name of an instance, as the previous answer gave it, found in one dict look-up). None
        when a field does not fit in `buf` (the caller then parses it with `pdu.Reader`, which
        says what is wrong)."""
        snap, mask, _enc = self._prepare()
        ins = self.instrum
        oids, getters, tags = ins.oids, ins.getters, ins.tags
        heads, where, ends = self._heads, self._where, self._ends
        n = len(oids)
        size = len(buf)
        out = []
        while at < size:
            k = buf[at]
            mid = at + 4 + 4 * k
            if k > 128 or mid >= size:
                return None
            field = buf[at:mid]
            i = where.get(field, -1)
            if i >= 0:  # the start is instance i, not included (its field has include 0)
                pos, start_field = i + 1, field
            else:
                start, include = _decode_oid_be(field)
                pos, start_field = self._start(start, include), pdu.encode_oid(start)
            k = buf[mid]
            at = mid + 4 + 4 * k
            if k > 128 or at > size:
                return None
            field = buf[mid:at]
            end = ends.get(field)
            if end is None:
                if len(ends) >= 64:
                    ends.clear()
                end = ends[field] = _decode_oid_be(field)[0]
            found = False
            while pos < n:
                if end and oids[pos] >= end:
                    break
                if mask[pos]:
                    value = getters[pos](snap)
                    if value is not None:
                        out.append(heads[pos] + pdu.encode_value(tags[pos], value))
                        found = True
                        break
                pos += 1
            if not found:
                out.append(_END_OF_VIEW + start_field)
        return b"".join(out)

    def get_bulk(self, non_repeaters: int, max_repetitions: int,
                 ranges: Sequence[tuple[Oid, bool, Oid]]) -> bytes:
        """RFC 2741 7.2.3.3: the first `non_repeaters` ranges once, the others up to
        `max_repetitions` times, each repetition going on from the previous one's instance."""
        snap, mask, enc = self._prepare()
        non_repeaters = min(non_repeaters, len(ranges))
        out = [self._next_varbind(snap, mask, enc, self._start(s, inc), s, e)[0]
               for s, inc, e in ranges[:non_repeaters]]
        repeaters = ranges[non_repeaters:]
        if not repeaters:
            return b"".join(out)
        cursors = [self._start(s, inc) for s, inc, _e in repeaters]
        last = [s for s, _inc, _e in repeaters]
        ins = self.instrum
        for _ in range(max_repetitions):
            ended = 0
            for r, (_s, _inc, end) in enumerate(repeaters):
                pos = cursors[r]
                vb, i = (self._next_varbind(snap, mask, enc, pos, last[r], end) if pos >= 0
                         else (pdu.encode_varbind(pdu.encode_oid(last[r]),
                                                  pdu.ber.END_OF_MIB_VIEW, None), -1))
                out.append(vb)
                if i < 0:
                    cursors[r] = -1
                    ended += 1
                else:
                    cursors[r] = i + 1
                    last[r] = ins.oids[i]
                if len(out) >= MAX_BULK_VARBINDS:
                    return b"".join(out)
            if ended == len(repeaters):
                break
        return b"".join(out)

    # --- SET phases ---------------------------------------------------------------------

    def test_set(self, transaction_id: int, varbinds: Sequence[VarBind]) -> None:
        """Check a SET; raises RequestError with the error-status and 1-based index."""
        def may_write(_idx: int, oid: Oid) -> bool:
            return self.view.contains(oid) and self.write_view.contains(oid)

        try:
            plan = self.instrum.check_set(list(varbinds), may_write)
        except SetError as exc:
            raise RequestError(exc.status, exc.index + 1) from exc
        self._plans[transaction_id] = plan

    def commit_set(self, transaction_id: int) -> None:
        plan = self._plans.get(transaction_id)
        if plan is None:
            raise RequestError(COMMIT_FAILED)  # no TestSet succeeded in this transaction
        try:
            self.instrum.commit_set(plan)
        except SetError as exc:
            log.error("CommitSet failed: %s", exc)
            raise RequestError(COMMIT_FAILED) from exc
        self._committed[transaction_id] = plan

    def undo_set(self, transaction_id: int) -> None:
        plan = self._committed.pop(transaction_id, None)
        if plan is None:
            return  # nothing of ours was committed
        try:
            self.instrum.commit_set(plan.undo())
        except SetError as exc:
            log.error("UndoSet failed: %s", exc)
            raise RequestError(UNDO_FAILED) from exc

    def cleanup_set(self, transaction_id: int) -> None:
        self._plans.pop(transaction_id, None)
        self._committed.pop(transaction_id, None)

    def forget(self) -> None:
        """The session ended: no transaction goes on."""
        self._plans.clear()
        self._committed.clear()
