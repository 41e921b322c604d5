"""A target's persisted outbox: a notification is on disk before it is sent and leaves only
when it is acknowledged (INFORM) or sent (trap), so neither a receiver's outage nor the agent's
restart (even SIGKILL) loses it.

One file per target in the agent's state folder, a journal of JSON lines: the first line is a
snapshot (the queued notifications in order with their per-target sequence numbers, the next
sequence number, the count of notifications dropped because the outbox was full), each further
line one change (`{"put": ...}`, `{"del": seq}`, `{"dropped": n}`), appended; a new
notification is fsync'd before it is queued (a removal is not: lost in a crash, it only makes
the notification go out once more, which at-least-once delivery allows). So queueing or
delivering a notification costs one short append, whatever the outbox holds. The journal is
compacted (a new snapshot written to a temporary file, fsync'd, renamed over the old one, the
folder fsync'd) when it has grown to twice the outbox's contents, and after a failed write: a
crash leaves the old or the new file, never a torn snapshot. A last line cut short by a crash
is the change that was being written when the process died (its caller had not gone on): it is
ignored; any other unreadable line stops the agent at start with the file's path, and the file
is left as it is.

The outbox is bounded (`size`): a notification that finds it full is dropped, counted and
logged, and an extNotifyOverflow notification (carrying the count) is queued in its place, at
most one per minute, past the bound, so that the receiver learns of the loss in order. When the
disk refuses a write (full, read-only), the notification is still queued and sent from memory;
the failure is logged and counted (`persist_errors`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iec62379.mibs.vocabulary import Severity

from .. import ber
from ..notification import Notification, VarBind
from ..persist import StateError, atomic_write_bytes, write_all

log = logging.getLogger("iec62379.agent.notify")

_SEQ_MAX = 4294967295
FORMAT = 1
OVERFLOW_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued notification and its sequence number for the target."""

    seq: int
    notification: Notification


def _value_to_json(tag: int, value: Any) -> Any:
    if tag in ber.OCTETS or isinstance(value, bytes):
        return bytes(value).hex()
    if tag == ber.OBJECT_IDENTIFIER:
        return ".".join(map(str, value))
    return value


def _value_from_json(tag: int, value: Any) -> Any:
    if tag in ber.OCTETS:
        return bytes.fromhex(value)
    if tag == ber.OBJECT_IDENTIFIER:
        return tuple(int(x) for x in value.split("."))
    if tag in (ber.INTEGER, *ber.UNSIGNED):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        return value
    if isinstance(value, str):
        return bytes.fromhex(value)
    return value


def _oid_text(oid: tuple[int, ...]) -> str:
    return ".".join(map(str, oid))


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def entry_to_json(e: Entry) -> dict[str, Any]:
    n = e.notification
    return {
        "seq": e.seq,
        "trap_oid": _oid_text(n.trap_oid),
        "varbinds": [[_oid_text(o), t, _value_to_json(t, v)] for o, t, v in n.varbinds],
        "severity": int(n.severity),
        "alarm_id": n.alarm_id,
        "name": n.name,
    }


def entry_from_json(d: dict[str, Any]) -> Entry:
    varbinds: list[VarBind] = [(_oid(o), int(t), _value_from_json(int(t), v))
                               for o, t, v in d["varbinds"]]
    seq = d["seq"]
    if not isinstance(seq, int) or not 1 <= seq <= _SEQ_MAX:
        raise ValueError(f"sequence number {seq!r}")
    alarm_id = d.get("alarm_id")
    if alarm_id is not None and not isinstance(alarm_id, int):
        raise ValueError(f"alarm id {alarm_id!r}")
    return Entry(seq, Notification(_oid(d["trap_oid"]), tuple(varbinds),
                                   Severity(d.get("severity", 2)), alarm_id,
                                   str(d.get("name", ""))))


def outbox_path(state_dir: Path, target: str) -> Path:
    """The outbox file of `target` in `state_dir`: readable and unique per target text."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "_", target).strip("_")[:60]
    digest = hashlib.sha256(target.encode()).hexdigest()[:8]
    return state_dir / "notify" / f"{safe}-{digest}.json"


class Outbox:
    """See the module docstring. Thread-safe: producers `put` from any thread, the target's
    sender reads `head` and calls `remove` from the agent's loop."""

    def __init__(self, path: Path | None, size: int, target: str = "",
                 overflow: Any = None, clock: Any = time.monotonic) -> None:
        self.path, self.size, self.target = path, size, target
        #: Builds the extNotifyOverflow notification from the dropped count (None: none sent).
        self._overflow = overflow
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self.next_seq = 1
        self.dropped = 0
        self.persist_errors = 0
        self._overflow_at: float | None = None
        self._journal = 0  # changes appended since the snapshot
        self._rewrite = False  # the next change rewrites the file (after a failed write)
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        try:
            text = path.read_text()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"{path}: unreadable outbox: {exc}") from exc
        lines = text.split("\n")
        complete = text.endswith("\n")
        if complete:
            lines.pop()
        try:
            data = json.loads(lines[0])
            if not isinstance(data, dict):
                raise ValueError("the first line is not a snapshot")
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            entries = deque(entry_from_json(d) for d in data["entries"])
            next_seq, dropped = data["next_seq"], data["dropped"]
            for i, line in enumerate(lines[1:], 2):
                try:
                    change = json.loads(line)
                except ValueError:
                    if i == len(lines) and not complete:
                        self._rewrite = True  # cut short by a crash: not a change made
                        break
                    raise ValueError(f"line {i} is not JSON") from None
                if "put" in change:
                    entries.append(entry_from_json(change["put"]))
                    next_seq = change["next_seq"]
                elif "del" in change:
                    if entries and entries[0].seq == change["del"]:
                        entries.popleft()
                elif "dropped" in change:
                    dropped = change["dropped"]
                else:
                    raise ValueError(f"line {i}: unknown change")
                self._journal += 1
            if not isinstance(next_seq, int) or not 1 <= next_seq <= _SEQ_MAX:
                raise ValueError(f"next_seq {next_seq!r}")
            if not isinstance(dropped, int) or dropped < 0:
                raise ValueError(f"dropped {dropped!r}")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{path}: not an outbox file: {exc}") from exc
        self._entries = entries
        self.next_seq, self.dropped = next_seq, dropped

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def put(self, n: Notification) -> Entry | None:
        """Queue `n` with the next sequence number and persist; None when the outbox is full
        (`n` is dropped and counted, and an overflow notification may be queued instead)."""
        with self._lock:
            if len(self._entries) >= self.size:
                self.dropped += 1
                log.warning("notify %s: outbox full (%d), notification %s dropped (%d so far)",
                            self.target, self.size, n.name or _oid_text(n.trap_oid),
                            self.dropped)
                now = self._clock()
                self._save({"dropped": self.dropped})
                if self._overflow is not None and (
                        self._overflow_at is None
                        or now - self._overflow_at >= OVERFLOW_INTERVAL_S):
                    self._overflow_at = now
                    notice = self._append(self._overflow(self.dropped))
                    self._save({"put": entry_to_json(notice), "next_seq": self.next_seq})
                return None
            entry = self._append(n)
            self._save({"put": entry_to_json(entry), "next_seq": self.next_seq})
            return entry

    def _append(self, n: Notification) -> Entry:
        entry = Entry(self.next_seq, n)
        self.next_seq = self.next_seq % _SEQ_MAX + 1
        self._entries.append(entry)
        return entry

    def head(self) -> Entry | None:
        with self._lock:
            return self._entries[0] if self._entries else None

    def remove(self, seq: int) -> None:
        """Remove the head once it is delivered (if it is still `seq`) and persist."""
        with self._lock:
            if self._entries and self._entries[0].seq == seq:
                self._entries.popleft()
                # Not fsync'd: a removal lost in a crash only sends the notification again
                # (at least once; the receiver sees its sequence number twice). The next
                # fsync'd change or snapshot makes it durable.
                self._save({"del": seq}, sync=False)

    def _save(self, change: dict[str, Any], sync: bool = True) -> None:
        """Append `change` to the journal and fsync it, or write a new snapshot when the
        journal is long or the last write failed. A failure is logged and counted; the
        change stays in memory and the next one rewrites the file."""
        if self.path is None:
            return
        try:
            if self._rewrite or self._journal >= 64 + 2 * len(self._entries):
                self._snapshot()
            else:
                self._append_line(json.dumps(change, separators=(",", ":")) + "\n", sync)
                self._journal += 1
        except OSError as exc:
            self._rewrite = True
            self.persist_errors += 1
            log.error("notify %s: cannot write the outbox %s: %s (kept in memory)",
                      self.target, self.path, exc)

    def _append_line(self, line: str, sync: bool = True) -> None:
        assert self.path is not None
        if not self.path.exists():
            self._snapshot()
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            write_all(fd, line.encode())
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _snapshot(self) -> None:
        """Replace the file with one snapshot line, durably (or raise OSError and leave it)."""
        assert self.path is not None
        data = {"format": FORMAT, "target": self.target, "next_seq": self.next_seq,
                "dropped": self.dropped, "entries": [entry_to_json(e) for e in self._entries]}
        payload = (json.dumps(data, separators=(",", ":")) + "\n").encode()
        atomic_write_bytes(self.path, payload)
        self._journal = 0
        self._rewrite = False


__all__ = ["Entry", "Outbox", "entry_from_json", "entry_to_json", "outbox_path"]
