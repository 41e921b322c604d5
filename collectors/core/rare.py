"""The rare-packet pass: PCRs, PSI sections and the video probe's packets, in stream order.

Most TS packets only need array work (headers, continuity, per-PID counts). A few need a
look one by one: PSI packets (PAT, PMT: ISO/IEC 13818-1 2.4.4) go to the program tracker,
the video PID's packets go to the video probe while its format is unknown, and the PCRs of
the PCR PID feed the media-rate meter (2.4.2.2) in vectorised runs between them.

Repeated tables: a PSI packet identical (apart from its continuity counter) to the previous
packet of its PID, when that one's feed was repeatable (``ProgramTracker.repeatable``), is
not fed again: such copies are counted in bulk, each adding the error counts the first feed
added (none for a good table), or nothing when its counter repeats (a duplicate packet).
When a feed turns out not to be repeatable while identical copies follow, the rest is done
packet by packet (``exact``). The PCRs up to each PSI packet that is fed are taken first,
since a new PMT may move the PCR PID.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import fast
from .datagrams import Packets
from .errors import ErrorKind
from .mdi import PcrPairs
from .ts import TS_PACKET_SIZE

if TYPE_CHECKING:
    from .analyzer import StreamAnalyzer

_REST = np.dtype(f"V{TS_PACKET_SIZE - 4}")
_REST_WORDS = (TS_PACKET_SIZE - 4) // 8

Members = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _packet_keys(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TS packets at starts in two parts comparable by row: header bytes 1 and 3 without
    the continuity counter (a PSI packet repeated with the next counter is the same table;
    callers compare packets of one PID, so byte 2 and the sync byte are left out), uint16,
    and bytes 4..187 as rows of 23 uint64 words."""
    head = (data[starts + 1].astype(np.uint16) << 8) | (data[starts + 3] & 0xF0)
    count = data.shape[0] - TS_PACKET_SIZE + 1
    if data.dtype == np.uint8 and data.flags.c_contiguous and count > 0:
        view = np.ndarray((count + 4,), dtype=_REST, buffer=data, offset=0, strides=(1,))
        rest = view[starts + 4].view(np.uint64).reshape(-1, _REST_WORDS)
    else:
        rows = data[(starts + 4)[:, None] + np.arange(TS_PACKET_SIZE - 4)]
        rest = np.ascontiguousarray(rows, dtype=np.uint8).view(np.uint64)
    return head, rest


def _packet_key(data: np.ndarray, start: int) -> tuple[int, bytes]:
    """The packet at start as ``_packet_keys`` compares it: (header key, bytes 4..187)."""
    return (int(data[start + 1]) << 8) | (int(data[start + 3]) & 0xF0), data[
        start + 4 : start + TS_PACKET_SIZE
    ].tobytes()


def same_packet(packet: bytes, data: np.ndarray, start: int) -> bool:
    """The 188 bytes of packet equal the packet at start as ``repeats`` compares them."""
    return _packet_key(np.frombuffer(packet, dtype=np.uint8), 0) == _packet_key(data, start)


def repeats(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """eq[i] for i >= 1: the packet at starts[i] equals the one at starts[i - 1] apart from
    its continuity counter (packets of one PID); eq[0] is False."""
    n = starts.shape[0]
    eq = np.zeros(n, dtype=bool)
    if n < 2:
        return eq
    head, rest = _packet_keys(data, starts)
    eq[1:] = (head[1:] == head[:-1]) & (rest[1:] == rest[:-1]).all(axis=1)
    return eq


def rare_events_reference(
    pid: np.ndarray,
    pusi: np.ndarray,
    pos: int,
    n: int,
    psi_lut: np.ndarray,
    probe_pid: int,
    probe_all: bool,
) -> np.ndarray:
    """``rare_events`` in numpy (what ``fast.rare_events`` runs without the extension)."""
    pid_r = pid[pos:n]
    mask = psi_lut[pid_r]
    if probe_pid >= 0:
        vid = pid_r == probe_pid
        mask |= vid if probe_all else vid & pusi[pos:n]
    return mask.nonzero()[0] + pos


def links_reference(
    ev: np.ndarray,
    ev_psi: np.ndarray,
    pid: np.ndarray,
    ccv: np.ndarray,
    data: np.ndarray,
    st: np.ndarray,
    entries: list[tuple[int, bytes | None, int]],
    exact: bool,
) -> tuple[np.ndarray, np.ndarray, Members]:
    """For the events ev (ev_psi: which are PSI packets) and entries (per PSI PID: the last
    packet fed when repeatable, else None; its last continuity counter): next_psi, the next
    event of the same PID (-1 for none); member, the event is an identical copy of its
    PID's packet before it (never when exact); members, per PID the (events, counters,
    counter steps) of those copies."""
    member = np.zeros(ev.size, dtype=bool)
    next_psi = np.full(ev.size, -1, dtype=np.int64)
    members: Members = {}
    psi_at = ev_psi.nonzero()[0]
    psi_pid = pid[ev[psi_at]]
    for p, memo, last_cc in entries if psi_at.size else ():
        k = (psi_pid == p).nonzero()[0]
        if k.size == 0:
            continue
        at = psi_at[k]
        next_psi[at[:-1]] = at[1:]
        if exact:
            continue
        s_at = st[ev[at]]
        eq = repeats(data, s_at)
        eq[0] = memo is not None and same_packet(memo, data, int(s_at[0]))
        if eq.any():
            c = ccv[ev[at]].astype(np.int16)
            prev = np.empty_like(c)
            prev[0] = last_cc
            prev[1:] = c[:-1]
            member[at] = eq
            members[p] = (at[eq], c[eq], c[eq] != prev[eq])
    return next_psi, member, members


class Segments:
    """The chunks (intervals) of a feed call's valid TS packets, for the rare-packet pass:
    chunk c is packets bounds[c]..bounds[c + 1] - 1; ``enter(c)`` moves to chunk c (closing
    the intervals before it); ``cur`` is the chunk entered last."""

    __slots__ = ("bounds", "enter", "cur")

    def __init__(self, bounds: list[int], enter: Callable[[int], None] | None = None) -> None:
        self.bounds = bounds
        self.enter = enter
        self.cur = 0


def pcr_pairs(a: StreamAnalyzer, pk: Packets, lo: int, hi: int) -> PcrPairs:
    """The PCRs of the PCR PID among packets lo..hi-1, for the meter to take in pieces (the
    PCR PID cannot change within them; with none yet, the first PCR's PID)."""
    src, starts = pk.pcr_source()
    return fast.pcr_pairs(a._pcr, pk.has_pcr, pk.pid, pk.disc, pk.index, src, starts, lo, hi)


class RarePass:
    """One run of the rare-packet pass over packets pos..n-1 of a feed call (``run``).

    With ``seg``, the packets may span several chunks (intervals) of the call: before the
    first packet of a later chunk, the copies and PCRs of the chunk before are accounted and
    the next chunk entered (``seg.enter``), so that errors, PCR pairs and program changes
    land in the interval of their packet."""

    def __init__(
        self, a: StreamAnalyzer, pk: Packets, pos: int, n: int, exact: bool, seg: Segments | None
    ) -> None:
        self.a = a
        self.pk = pk
        self.pos = pos
        self.n = n
        self.exact = exact
        self.seg = seg if seg is not None else Segments([pos, n])
        self.ev = np.zeros(0, dtype=np.int64)
        self.members: Members = {}
        self.done: dict[int, int] = {}  # PID -> members before this ev index are accounted
        self.pairs: PcrPairs | None = None

    def take(self, upto: int) -> None:
        """The PCRs of the run's pairs before packet upto."""
        assert self.pairs is not None
        self.a._pcr.take(self.pairs, upto)

    def skip_copies(self, p: int, upto: int) -> None:
        """Account PID p's identical copies among the events before upto."""
        entry = self.members.get(p)
        if entry is None:
            return
        at, counters, new = entry
        a = self.done.get(p, 0)
        b = int(at.searchsorted(upto))
        if b <= a:
            return
        self.done[p] = b
        copies = int(np.count_nonzero(new[a:b]))
        memo = self.a._psi_memo[p]
        if copies:
            errors = self.a._iv.errors
            for kind, count in memo[1]:
                errors[kind] += count * copies
        self.a._program.skip_repeat(p, int(counters[b - 1]))

    def goto(self, target: int) -> None:
        """Account chunk seg.cur's copies and PCRs, enter the next, up to target. Copies
        whose feed added no error counts are left for later: accounting them only sets their
        PID's continuity counter, and the last one wins."""
        seg, memos = self.seg, self.a._psi_memo
        assert seg.enter is not None
        while seg.cur < target:
            edge = seg.bounds[seg.cur + 1]
            e_edge = -1
            for q in self.members:
                memo = memos.get(q)
                if memo is None or memo[1]:
                    if e_edge < 0:
                        e_edge = int(self.ev.searchsorted(edge))
                    self.skip_copies(q, e_edge)
            self.take(edge)
            seg.cur += 1
            seg.enter(seg.cur)

    def run(self) -> int | None:
        """The pass; the position to restart from when the set of interesting PIDs changed
        (a new program or a finished probe), else None."""
        a, pk, pos, n, seg = self.a, self.pk, self.pos, self.n, self.seg
        bounds = seg.bounds
        exact = self.exact
        probe = a._probe
        probing = probe is not None and not probe.done
        if probing:
            assert probe is not None
            exact = exact or bool(a._psi_lut[probe.pid])
            p_pid, p_all = probe.pid, probe.collecting
        else:
            p_pid, p_all = -1, False
        ev = self.ev = fast.rare_events(pk.pid, pk.pusi, pos, n, a._psi_lut, p_pid, p_all)
        self.pairs = pcr_pairs(a, pk, pos, n)
        if ev.size == 0:
            if seg.enter is not None:
                self.goto(bisect_right(bounds, n - 1) - 1)
            self.take(n)
            return None
        ev_pid = pk.pid[ev]
        ev_psi = a._psi_lut[ev_pid]
        program, memos = a._program, a._psi_memo
        entries = []
        for p in program.psi_pids:
            memo = memos.get(p)
            entries.append((p, None if memo is None else memo[0], program.last_cc(p)))
        next_psi, member, self.members = fast.psi_links(
            ev, ev_psi, pk.pid, pk.cc, pk.data, pk.st, entries, exact
        )
        restart, stop_at, exact = self._visit(ev, ev_pid, ev_psi, member, next_psi, probing, exact)
        if restart is None and seg.enter is not None:
            self.goto(bisect_right(bounds, n - 1) - 1)
        for p in self.members:
            self.skip_copies(p, stop_at)
        self.take(n if restart is None else restart)
        if restart is not None and exact:
            a._exact_next = True
        return restart

    def _visit(
        self,
        ev: np.ndarray,
        ev_pid: np.ndarray,
        ev_psi: np.ndarray,
        member: np.ndarray,
        next_psi: np.ndarray,
        probing: bool,
        exact: bool,
    ) -> tuple[int | None, int, bool]:
        """Feed the events that are not copies, in order: (restart position or None, the
        event index the copies are accounted up to, whether to go on exactly)."""
        a, pk, seg = self.a, self.pk, self.seg
        data, pusi, ccv, po, st = pk.data, pk.pusi, pk.cc, pk.po, pk.st
        probe = a._probe
        memos = a._psi_memo
        visit = (~member).nonzero()[0]
        multi = seg.enter is not None and self.n > seg.bounds[seg.cur + 1]
        if multi:
            ev_chunk = (np.searchsorted(seg.bounds, ev[visit], side="right") - 1).tolist()
        else:
            ev_chunk = itertools.repeat(seg.cur, visit.size)
        for ch, e, j, p, is_psi, pu, c, off, s0, nxt in zip(
            ev_chunk,
            visit.tolist(),
            ev[visit].tolist(),
            ev_pid[visit].tolist(),
            ev_psi[visit].tolist(),
            pusi[ev[visit]].tolist(),
            ccv[ev[visit]].tolist(),
            po[ev[visit]].tolist(),
            st[ev[visit]].tolist(),
            next_psi[visit].tolist(),
            strict=True,
        ):
            if ch > seg.cur:
                self.goto(ch)
            if is_psi:
                # every PID's copies before this packet first: its feed may change the
                # program, which forgets the memos the copies are counted by
                for q in self.members:
                    self.skip_copies(q, e)
                self.take(j + 1)
                if off < TS_PACKET_SIZE:
                    changed = feed_psi(a, data, p, pu, c, off, s0)
                else:
                    changed = False
                    memos.pop(p, None)
                if changed or (nxt >= 0 and member[nxt] and p not in memos):
                    return j + 1, e + 1, exact or not changed
            if probing and probe is not None and not probe.done and p == probe.pid:
                if off < TS_PACKET_SIZE:
                    payload = data[s0 + off : s0 + TS_PACKET_SIZE].tobytes()
                    if probe.feed(payload, pu, a._iv.errors):
                        return j + 1, e + 1, exact
        return None, ev.size, exact


def feed_psi(
    a: StreamAnalyzer, data: np.ndarray, pid: int, pusi: bool, cc: int, off: int, start: int
) -> bool:
    """Feed one PSI packet to the program tracker; True when the program changed."""
    errors = a._iv.errors
    before = (errors[ErrorKind.PSI_SECTION], errors[ErrorKind.PSI_CRC])
    payload = data[start + off : start + TS_PACKET_SIZE].tobytes()
    if a._program.feed(pid, payload, pusi, cc, errors):
        a._on_program_change()
        return True
    if a._program.repeatable:
        added = tuple(
            (kind, errors[kind] - b)
            for kind, b in zip((ErrorKind.PSI_SECTION, ErrorKind.PSI_CRC), before, strict=True)
            if errors[kind] != b
        )
        a._psi_memo[pid] = (data[start : start + TS_PACKET_SIZE].tobytes(), added)
    else:
        a._psi_memo.pop(pid, None)
    return False
