"""A capture file mapped into memory and walked record by record: where each record's data
starts, its captured length, its time and its link type.

Formats: classic pcap (both byte orders, microsecond magic ``a1b2c3d4`` and nanosecond magic
``a1b23c4d``) and pcapng (SHB, IDB with ``if_tsresol`` including power-of-2 resolutions and
``if_tsoffset``, EPB, SPB, the obsolete Packet Block, several interfaces and sections; other
blocks are skipped).

Record headers are walked in a tight loop that switches to numpy strided views for runs of
equal-sized records (the common case for media streams: every packet of a 7 x 188 byte TS
stream has the same length). Times are ns since the epoch. Simple Packet Blocks have none; they
take the time of the previous timestamped packet (0 before the first one).

Damaged files raise :class:`ValueError` naming the file, the byte offset and the fault. A fault
met after some records of a walk is deferred (:meth:`CaptureFile.defer`): those records are
delivered first, and the next call raises.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass

import numpy as np

MAX_RECORD = 262144  # largest record any capture tool writes (Wireshark's limit)

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_SHB = 0x0A0D0D0A

_SPECULATE_AFTER = 8  # equal-sized records in a row before trying a strided run
_FIRST_PROBE = 256


class Mem:
    """The mapped file with overlapping strided views, so that reading a 2, 4 or 8 byte field
    at many arbitrary byte offsets is one fancy-indexing operation."""

    def __init__(self, u8: np.ndarray) -> None:
        self.u8 = u8
        self.size = int(u8.shape[0])
        self._views: dict[str, np.ndarray] = {}

    def read(self, dtype: str, idx: np.ndarray) -> np.ndarray:
        """Field of type dtype (e.g. ">u2", "<u4") at each byte offset in idx.

        Offsets too close to the end of the file read the last whole field instead; callers
        only use such values for records whose captured length rules them out anyway.
        """
        view = self._views.get(dtype)
        if view is None:
            width = np.dtype(dtype).itemsize
            count = max(self.size - width + 1, 1)
            if self.size >= width:
                view = np.ndarray((count,), dtype=dtype, buffer=self.u8, offset=0, strides=(1,))
            else:
                view = np.zeros(1, dtype=dtype)
            self._views[dtype] = view
        if idx.size and int(idx.max()) >= view.shape[0]:
            idx = np.minimum(idx, view.shape[0] - 1)
        return view[idx]


@dataclass(slots=True)
class Records:
    """Records found by a walk: data start (byte offset in the file), captured length and time
    (ns) of each, and one link type for all (classic pcap) or one each (pcapng)."""

    start: np.ndarray
    caplen: np.ndarray
    ts: np.ndarray
    linktype: int | None
    linktypes: np.ndarray | None


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    at: int = 0  # the byte of its interface description block
    res_pow2: bool = False
    res_exp: int = 6
    ts_offset_s: int = 0


class CaptureFile:
    """A pcap or pcapng file, mapped; ``format`` is "pcap" or "pcapng".

    :meth:`next_pcap` and :meth:`next_pcapng` walk the next records from ``pos``. For classic
    pcap ``endian``, ``frac_ns``, ``max_incl`` and ``linktype`` describe the records, so that
    the compiled record walk can walk them itself (it reports faults by
    :meth:`record_fault`'s codes).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.fault: ValueError | None = None  # met after the records delivered last
        self.last_ts = 0  # time of the last timestamped packet walked (pcapng)
        self._interfaces: list[_Interface] = []
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise ValueError(f"{self.name}: file is empty, not a pcap or pcapng capture")
            self.mm: mmap.mmap | None = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mmap, "MADV_SEQUENTIAL"):
            self.mm.madvise(mmap.MADV_SEQUENTIAL)
        self.u8 = np.frombuffer(self.mm, dtype=np.uint8)
        self.mem = Mem(self.u8)
        self.size = size
        head = bytes(self.mm[:4])
        if head in _PCAP_MAGICS:
            self.format = "pcap"
            self._init_pcap(head)
        elif len(head) == 4 and struct.unpack("<I", head)[0] == _SHB:
            self.format = "pcapng"
            self.endian = "<"
            self.pos = 0
        else:
            self.close()
            raise ValueError(
                f"{self.name}: byte 0: not a pcap or pcapng file (magic {head.hex() or 'none'})"
            )

    def close(self) -> None:
        """Release the mapping (deferred to the garbage collector while batches use it)."""
        mm, self.mm = self.mm, None
        if mm is not None:
            self.u8 = np.zeros(0, dtype=np.uint8)
            self.mem = Mem(self.u8)
            try:
                mm.close()
            except BufferError:
                pass  # batches still reference the mapping; it goes when they do

    def defer(self, fault: str | None, delivered: int) -> None:
        """A fault met after ``delivered`` records of the batch being made: raised now when
        there are none, else at the next call (the records before it are delivered first)."""
        if fault is None:
            return
        if not delivered:
            raise ValueError(fault)
        self.fault = ValueError(fault)

    def _walked(
        self, pos: int, fault: str | None, count: int, chunks: list[np.ndarray], offs: list[int]
    ) -> np.ndarray:
        """End of a walk that stopped at pos after count records (``fault`` met there, if
        any): the offsets it found, in order (runs found in strides and one by one)."""
        self.pos = pos
        self.defer(fault, count)
        if offs:
            chunks.append(np.asarray(offs, dtype=np.int64))
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    # -- classic pcap ---------------------------------------------------------------------

    def _init_pcap(self, magic: bytes) -> None:
        self.endian, self.frac_ns = _PCAP_MAGICS[magic]
        if self.size < 24:
            raise ValueError(
                f"{self.name}: byte 0: file header needs 24 bytes, file has {self.size}"
            )
        assert self.mm is not None
        major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
            self.endian + "HHiIII", self.mm, 4
        )
        if major != 2:
            raise ValueError(f"{self.name}: byte 4: unsupported pcap version {major}.{minor}")
        self.snaplen = snaplen
        self.max_incl = snaplen if 0 < snaplen <= MAX_RECORD else MAX_RECORD
        self.linktype = network & 0xFFFF
        self.pos = 24

    def record_fault(self, code: int, at: int, value: int) -> str:
        """The message of a classic pcap record fault at byte ``at``: 1 header cut, 2 length
        ``value`` over the snap length, 3 record of length ``value`` cut (the compiled walk's
        codes)."""
        if code == 1:
            return (
                f"{self.name}: record at byte {at}: header needs 16 bytes, "
                f"only {self.size - at} remain (file truncated)"
            )
        if code == 2:
            return (
                f"{self.name}: record at byte {at} claims {value} bytes, snaplen is {self.snaplen}"
            )
        return (
            f"{self.name}: record at byte {at} claims {value} bytes, "
            f"only {self.size - at - 16} remain (file truncated)"
        )

    def _uniform_run(
        self,
        dt: np.dtype,
        pos: int,
        stride: int,
        checks: tuple[tuple[int, int], ...],
        room: int,
        chunks: list[np.ndarray],
        offs: list[int],
    ) -> int:
        """After a run of records of one length: how many more (at most ``room``) follow from
        pos on, ``stride`` bytes apart, each with the words (dtype dt) at the given offsets
        holding the given values, found in vectorised probes of growing size. Their offsets
        go to chunks (after the offsets collected one by one in offs, which is emptied); the
        records are checked one by one again where the run ends."""
        mm, end = self.mm, self.size
        found = 0
        probe = _FIRST_PROBE
        while found < room:
            k = min(room - found, (end - pos) // stride, probe)
            if k <= 0:
                break
            bad = np.zeros(k, dtype=bool)
            for off, value in checks:
                view = np.ndarray((k,), dtype=dt, buffer=mm, offset=pos + off, strides=(stride,))
                bad |= view != value
            at = np.flatnonzero(bad)
            run = int(at[0]) if at.size else k
            if run:
                if offs:
                    chunks.append(np.asarray(offs, dtype=np.int64))
                    offs.clear()
                chunks.append(pos + stride * np.arange(run, dtype=np.int64))
                found += run
                pos += run * stride
            if run < k:
                break
            probe *= 4
        return found

    def _walk_pcap(self, limit: int) -> np.ndarray:
        """Offsets of the next (up to limit) record headers; advances self.pos."""
        mm, end, pos = self.mm, self.size, self.pos
        assert mm is not None
        unpack = struct.Struct(self.endian + "I").unpack_from
        dt = np.dtype(self.endian + "u4")
        chunks: list[np.ndarray] = []
        offs: list[int] = []
        count = 0
        same = 0
        last = -1
        fault = None
        while count < limit and pos < end:
            if pos + 16 > end:
                fault = self.record_fault(1, pos, 0)
                break
            incl = unpack(mm, pos + 8)[0]
            if incl > self.max_incl:
                fault = self.record_fault(2, pos, incl)
                break
            nxt = pos + 16 + incl
            if nxt > end:
                fault = self.record_fault(3, pos, incl)
                break
            offs.append(pos)
            count += 1
            pos = nxt
            if incl != last:
                last, same = incl, 0
                continue
            same += 1
            if same < _SPECULATE_AFTER:
                continue
            same = 0
            found = self._uniform_run(dt, pos, 16 + incl, ((8, incl),), limit - count, chunks, offs)
            count += found
            pos += found * (16 + incl)
        return self._walked(pos, fault, count, chunks, offs)

    def next_pcap(self, limit: int) -> Records | None:
        """The next (up to limit) classic pcap records, None at the end."""
        hdrs = self._walk_pcap(limit)
        if hdrs.size == 0:
            return None
        u4 = self.endian + "u4"
        sec = self.mem.read(u4, hdrs).astype(np.int64)
        frac = self.mem.read(u4, hdrs + 4).astype(np.int64)
        incl = self.mem.read(u4, hdrs + 8).astype(np.int64)
        ts = sec * 1_000_000_000 + frac * self.frac_ns
        return Records(hdrs + 16, incl, ts, self.linktype, None)

    # -- pcapng -----------------------------------------------------------------------------

    def _parse_shb(self, pos: int) -> int:
        mm, end = self.mm, self.size
        assert mm is not None
        if pos + 28 > end:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: needs 28 bytes, "
                f"only {end - pos} remain (file truncated)"
            )
        bom = bytes(mm[pos + 8 : pos + 12])
        if bom == b"\x4d\x3c\x2b\x1a":
            self.endian = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            self.endian = ">"
        else:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: bad byte-order magic {bom.hex()}"
            )
        blen, _bom, major = struct.unpack_from(self.endian + "IIH", mm, pos + 4)
        if major != 1:
            raise ValueError(
                f"{self.name}: section header at byte {pos}: unsupported pcapng version {major}"
            )
        self._interfaces = []
        return blen

    def _parse_idb(self, pos: int, blen: int) -> None:
        mm = self.mm
        assert mm is not None
        e = self.endian
        if blen < 20:
            raise ValueError(
                f"{self.name}: interface block at byte {pos} is {blen} bytes, needs at least 20"
            )
        linktype, _res, snaplen = struct.unpack_from(e + "HHI", mm, pos + 8)
        iface = _Interface(linktype, snaplen, pos)
        p, stop = pos + 16, pos + blen - 4
        while p + 4 <= stop:
            code, olen = struct.unpack_from(e + "HH", mm, p)
            if code == 0:
                break
            if p + 4 + olen > stop:
                raise ValueError(
                    f"{self.name}: interface block at byte {pos}: option {code} at byte {p} "
                    f"runs past the block end"
                )
            if code == 9 and olen >= 1:  # if_tsresol
                v = mm[p + 4]
                iface.res_pow2 = bool(v & 0x80)
                iface.res_exp = v & 0x7F
            elif code == 14 and olen >= 8:  # if_tsoffset, seconds
                iface.ts_offset_s = struct.unpack_from(e + "q", mm, p + 4)[0]
            p += 4 + ((olen + 3) & ~3)
        self._interfaces.append(iface)

    def _walk_pcapng(self, limit: int) -> np.ndarray:
        """Offsets of the next packet blocks (EPB, SPB, PB) of one section."""
        mm, end, pos = self.mm, self.size, self.pos
        assert mm is not None
        e = self.endian
        unpack2 = struct.Struct(e + "II").unpack_from
        dt = np.dtype(e + "u4")
        chunks: list[np.ndarray] = []
        offs: list[int] = []
        count = 0
        same = 0
        last = -1
        fault = None
        while count < limit and pos < end:
            if pos + 12 > end:
                fault = (
                    f"{self.name}: block at byte {pos}: header needs 12 bytes, "
                    f"only {end - pos} remain (file truncated)"
                )
                break
            btype, blen = unpack2(mm, pos)
            if btype == _SHB:
                if count:  # a new section ends the batch: byte order and interfaces change
                    break
                blen = self._parse_shb(pos)
                e = self.endian
                unpack2 = struct.Struct(e + "II").unpack_from
                dt = np.dtype(e + "u4")
            if blen < 12 or blen % 4:
                fault = (
                    f"{self.name}: block at byte {pos} (type {btype:#x}) has invalid length {blen}"
                )
                break
            if pos + blen > end:
                fault = (
                    f"{self.name}: block at byte {pos} (type {btype:#x}) claims {blen} bytes, "
                    f"only {end - pos} remain (file truncated)"
                )
                break
            if btype == 1:
                self._parse_idb(pos, blen)
            elif btype in (2, 3, 6):
                offs.append(pos)
                count += 1
                if btype == 6 and blen == last:
                    same += 1
                else:
                    same, last = 0, (blen if btype == 6 else -1)
                if same >= _SPECULATE_AFTER:
                    same = 0
                    pos += blen
                    checks = ((0, 6), (4, blen))  # more EPBs of the same length
                    found = self._uniform_run(dt, pos, blen, checks, limit - count, chunks, offs)
                    count += found
                    pos += found * blen
                    continue
            pos += blen
        return self._walked(pos, fault, count, chunks, offs)

    def next_pcapng(self, limit: int) -> Records | None:
        """The next (up to limit) packet blocks of one section, None at the end."""
        blocks = self._walk_pcapng(limit)
        if blocks.size == 0:
            return None
        e = self.endian
        m = self.mem
        hdr = np.stack([m.read(e + "u4", blocks + 4 * k) for k in range(7)], axis=1).astype(
            np.int64
        )
        btype, blen = hdr[:, 0], hdr[:, 1]
        is_spb = btype == 3
        is_pb = btype == 2
        iface = np.where(is_spb, 0, hdr[:, 2])
        if is_pb.any():  # obsolete Packet Block: 16-bit interface id, then drops count
            iface = np.where(is_pb, m.read(e + "u2", blocks + 8).astype(np.int64), iface)
        nif = len(self._interfaces)
        data_start = np.where(is_spb, blocks + 12, blocks + 28)
        caplen = np.where(is_spb, hdr[:, 2], hdr[:, 5])
        room = blen - np.where(is_spb, 16, 32)
        badif = iface >= nif
        badlen = ~is_spb & (caplen > room)
        bad = np.flatnonzero(badif | badlen)
        if bad.size:  # the blocks before the first bad one are delivered, then the fault
            i = int(bad[0])
            if badif[i]:
                msg = (
                    f"{self.name}: packet block at byte {int(blocks[i])} refers to interface "
                    f"{int(iface[i])}, only {nif} defined"
                )
            else:
                msg = (
                    f"{self.name}: packet block at byte {int(blocks[i])} claims "
                    f"{int(caplen[i])} bytes, block holds {int(room[i])}"
                )
            self.fault = None
            self.defer(msg, i)
            blocks, hdr, is_spb, iface = blocks[:i], hdr[:i], is_spb[:i], iface[:i]
            data_start, caplen, room = data_start[:i], caplen[:i], room[:i]
        if is_spb.any():
            snap0 = self._interfaces[0].snaplen or MAX_RECORD
            caplen = np.where(is_spb, np.minimum(np.minimum(caplen, room), snap0), caplen)
        units = (hdr[:, 3].astype(np.uint64) << np.uint64(32)) | hdr[:, 4].astype(np.uint64)
        ts = np.zeros(blocks.shape[0], dtype=np.int64)
        for k in np.unique(iface[~is_spb]).tolist():
            sel = (iface == k) & ~is_spb
            try:
                ts[sel] = _units_to_ns(units[sel], self._interfaces[k])
            except ValueError as exc:
                raise ValueError(f"{self.name}: {exc}") from None
        if is_spb.any():
            idx = np.where(is_spb, -1, np.arange(blocks.shape[0]))
            np.maximum.accumulate(idx, out=idx)
            ts = np.where(idx >= 0, ts[np.maximum(idx, 0)], self.last_ts)
        self.last_ts = int(ts[-1])
        linktypes = np.asarray([f.linktype for f in self._interfaces], dtype=np.int64)[iface]
        return Records(data_start, caplen, ts, None, linktypes)


_NS_MIN, _NS_MAX = -(1 << 63), (1 << 63) - 1


def _unit_ns(u: int, iface: _Interface) -> int:
    """One timestamp in ns since the epoch, exactly (Python integers)."""
    exp = iface.res_exp
    if iface.res_pow2:
        ns = (u * 1_000_000_000) >> exp
    elif exp <= 9:
        ns = u * 10 ** (9 - exp)
    else:
        ns = u // 10 ** (exp - 9)
    return ns + iface.ts_offset_s * 1_000_000_000


def _units_to_ns(units: np.ndarray, iface: _Interface) -> np.ndarray:
    """Convert pcapng timestamp units of one interface to ns since the epoch. Any if_tsresol
    and if_tsoffset are taken exactly; a time that 64-bit ns since 1970 cannot hold (before
    1678 or after 2262) is refused, naming the interface block and its options."""
    exp = iface.res_exp
    off = iface.ts_offset_s * 1_000_000_000
    if units.shape[0]:  # times grow with units: the ends bound them all
        for u in (int(units.min()), int(units.max())):
            if not _NS_MIN <= _unit_ns(u, iface) <= _NS_MAX:
                res = f"2^-{exp}" if iface.res_pow2 else f"10^-{exp}"
                raise ValueError(
                    f"interface block at byte {iface.at}: timestamp {u} in units of {res} s "
                    f"(if_tsresol) plus {iface.ts_offset_s} s (if_tsoffset) is outside the "
                    f"years 1678-2262 that 64-bit ns since 1970 hold"
                )
    if not iface.res_pow2:
        if exp <= 9:
            ns = units.astype(np.int64) * (10 ** (9 - exp))
        elif exp - 9 >= 20:  # 10^(exp-9) > 2^64 > every unit count
            ns = np.zeros(units.shape[0], dtype=np.int64)
        else:
            ns = (units // np.uint64(10 ** (exp - 9))).astype(np.int64)
    elif exp <= 30:
        whole = (units >> np.uint64(exp)).astype(np.int64) * 1_000_000_000
        frac = units & np.uint64((1 << exp) - 1)
        ns = whole + ((frac * np.uint64(1_000_000_000)) >> np.uint64(exp)).astype(np.int64)
    else:
        ns = np.fromiter(
            ((int(u) * 1_000_000_000) >> exp for u in units.tolist()),
            dtype=np.int64,
            count=units.shape[0],
        )
    if _NS_MIN <= off <= _NS_MAX:
        return ns + off
    half = off // 2  # each half fits in 64 bits, and so does every sum (checked above)
    return (ns + half) + (off - half)
