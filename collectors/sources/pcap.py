"""Read pcap and pcapng captures into :class:`PacketBatch` objects.

The file is memory-mapped; a batch's ``data`` is the whole mapped file and its ``offsets`` point
at the UDP payloads inside it, so no payload byte is copied. The reader is made of:

* pcap_file.py: the file formats; walks the records (data start, captured length, time, link
  type), vectorised over runs of equal-sized records, and words the faults;
* pcap_decode.py: :func:`decode_packet`, the readable decode of the link, IP and UDP headers
  of one record (the reference);
* pcap_flows.py: the flow table that gives each flow a stable id.

With the optional compiled kernels (``collectors/core/fast.py``) all of this after the pcapng
block walk (for classic pcap the record walk too) is one C loop per record that follows
``decode_packet``'s rules, gives the same flow ids and also parses each delivered datagram's
RTP header (``PacketBatch.rtp``). Without them each record goes through ``decode_packet``
(slower, the same batches).

Rules for what is delivered:

* Only UDP over IPv4 or IPv6 is delivered. Everything else is counted in ``stats.non_udp``.
* IP fragments: a non-first fragment (offset > 0) is skipped and counted in
  ``stats.fragments``; a first fragment with more-fragments set carries the UDP header but not
  the whole datagram, so it is treated like a datagram cut by the snap length: counted in
  ``stats.truncated`` and delivered with the bytes present (unless ``include_truncated`` is
  false). Fragments are never reassembled.
* A datagram whose payload is not wholly in the capture (snap length) is counted in
  ``stats.truncated``; a record whose IP or UDP header is itself cut off is counted there too
  and never delivered.
* Inconsistent headers (IHL < 5, UDP length < 8 or beyond the IP length, IP version not
  matching the link-layer protocol) are counted in ``stats.malformed``.
* Datagrams not matching ``dst_addr`` / ``dst_port`` are counted in ``stats.filtered``.

Arrival time is the record timestamp in ns since the epoch (see pcap_file.py for blocks
without one).

Damaged files raise :class:`ValueError` naming the file, the byte offset and the fault. Faults
are found while reading, and every record before the fault is delivered first: the batch that
meets a fault ends at the record before it, and the next call raises (a capture cut off by a
killed capture tool loses nothing but its cut record).

Flow ids are stable for the life of a reader: ``batch.flows`` is the reader's flow list at the
time of the batch, and later batches only append to it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from iec62379.collectors.core import fast
from iec62379.collectors.core.batch import FlowKey, PacketBatch
from iec62379.collectors.core.errors import ErrorKind
from iec62379.collectors.core.rtp import RtpHeaders
from iec62379.collectors.sources.pcap_decode import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    DecodedPacket,
    decode_packet,
)
from iec62379.collectors.sources.pcap_file import CaptureFile, Records
from iec62379.collectors.sources.pcap_flows import FlowTable, addr_words, key_row

__all__ = [
    "PcapStats",
    "PcapReader",
    "DecodedPacket",
    "read_pcap",
    "decode_packet",
    "LINKTYPE_NULL",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "LINKTYPE_LOOP",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
]

_RTP_CODES = (
    int(ErrorKind.RTP_SHORT),
    int(ErrorKind.RTP_VERSION),
    int(ErrorKind.RTP_EXTENSION),
    int(ErrorKind.RTP_PADDING),
)


@dataclass(slots=True)
class PcapStats:
    """Counters of one reader. Every record lands in exactly one of udp, non_udp, fragments,
    malformed, filtered or (header cut) truncated; ``truncated`` also counts delivered
    datagrams whose payload is incomplete."""

    records: int = 0
    udp: int = 0
    non_udp: int = 0
    fragments: int = 0
    truncated: int = 0
    filtered: int = 0
    malformed: int = 0


class PcapReader:
    """Iterate over the UDP datagrams of a capture file in batches.

    Use as an iterator (``for batch in reader``); ``stats`` is updated as batches are read.
    The reader is also a context manager; :meth:`close` releases the file (batches already
    returned keep the mapping alive until they are dropped).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        batch_size: int = 65536,
        dst_port: int | None = None,
        dst_addr: str | None = None,
        include_truncated: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if dst_port is not None and not 0 <= dst_port <= 65535:
            raise ValueError(f"dst_port out of range 0..65535: {dst_port}")
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self.batch_size = batch_size
        self.dst_port = dst_port
        self.dst_addr = dst_addr
        self.include_truncated = include_truncated
        self.stats = PcapStats()
        self._dst_row: tuple[int, int, int] | None = None
        if dst_addr is not None:
            try:
                ip = ipaddress.ip_address(dst_addr)
            except ValueError as exc:
                raise ValueError(f"dst_addr is not an IP address: {dst_addr!r}") from exc
            self._dst_row = (ip.version, *addr_words(ip.packed))
        self._flows = FlowTable()
        self._key_rows: dict[tuple[bytes, int, bytes, int], list[int]] = {}  # flow key rows
        self._file = CaptureFile(self.path)
        self.format = self._file.format
        if self.format == "pcap":
            self.linktype = self._file.linktype
        self._done = False

    def __iter__(self) -> Iterator[PacketBatch]:
        return self

    def __next__(self) -> PacketBatch:
        f = self._file
        if f.fault is not None:
            fault, f.fault = f.fault, None
            self._done = True
            raise fault
        while not self._done and f.mm is not None:
            try:
                batch = self._next_batch()
            except ValueError:
                self._done = True  # a damaged file ends here
                raise
            if batch is None:
                self._done = True
                break
            if len(batch):
                return batch
        raise StopIteration

    def _next_batch(self) -> PacketBatch | None:
        """The next batch (possibly empty), None at the end of the file."""
        f = self._file
        if f.format == "pcap":
            if fast.has_record_walk():
                return self._records_native(None)
            records = f.next_pcap(self.batch_size)
        else:
            records = f.next_pcapng(self.batch_size)
        if records is None:
            return None
        if fast.has_record_walk():
            return self._records_native(records)
        return self._records_reference(records)

    def _records_native(
        self, found: Records | None, at_most: int | None = None
    ) -> PacketBatch | None:
        """The compiled kernels' one pass per record: the next classic pcap records
        (``found`` None: walked from the file's position, at most batch_size), or the records
        found (pcapng), decoded by ``decode_packet``'s rules, filtered, given flow ids as
        ``FlowTable.assign`` gives them, and each delivered datagram's RTP header parsed as
        ``parse_rtp_headers`` does (``PacketBatch.rtp``); the same batches, statistics,
        faults and messages as the Python walk and :meth:`_records_reference`."""
        f = self._file
        assert f.mm is not None
        walk = None
        records = None
        if found is None:
            limit = min(at_most or self.batch_size, (f.size - f.pos) // 16 + 1)
            walk = (f.pos, f.size, f.endian == ">", f.max_incl, f.frac_ns, f.linktype)
        else:
            limit = int(found.start.shape[0])
            lts = found.linktypes
            if lts is None:
                lts = np.full(limit, found.linktype, dtype=np.int64)
            records = (
                found.start.astype(np.int64),
                found.caplen.astype(np.int64),
                found.ts.astype(np.int64),
                lts.astype(np.int64),
            )
        table = self._flows.compiled()
        outs = fast.record_outputs(limit)
        port = -1 if self.dst_port is None else self.dst_port
        ver, hi, lo = self._dst_row or (0, 0, 0)
        filt = (port, ver, hi, lo, self.include_truncated)
        r = fast.record_walk(f.u8, records, walk, limit, table, filt, _RTP_CODES, outs)
        count, pos, fault, at, value, kept, nnew = r[:7]
        if fault:
            # Nothing of a faulty pass counts: walk the records before the fault again, as a
            # batch of their own, and raise at the next call.
            f.defer(f.record_fault(fault, at, value), count)
            return self._records_native(None, count) if count else None
        if found is None:
            f.pos = pos
            if count == 0:
                return None
        st = self.stats
        st.records += count
        st.non_udp += r[7]
        st.fragments += r[8]
        st.malformed += r[9]
        st.truncated += r[10]
        st.filtered += r[11]
        st.udp += kept
        if nnew:
            self._flows.add_compiled(outs[13][:nnew])
        first, err, seq, ts, ssrc, pt, marker, poff, plen = (a[:kept] for a in outs[4:13])
        return PacketBatch(
            ts_heads=np.frombuffer(r[13], dtype=np.uint8),
            ts_first=outs[14][:kept],
            data=f.u8,
            offsets=outs[0][:kept],
            lengths=outs[1][:kept],
            arrival_ns=outs[2][:kept],
            flow_ids=outs[3][:kept],
            flows=list(self._flows.flows),
            rtp=RtpHeaders(err, seq, ts, ssrc, pt, marker, poff, plen),
            first_byte=first,
        )

    def _records_reference(self, found: Records) -> PacketBatch:
        """The records found, each decoded by :func:`decode_packet`, counted, filtered and
        given flow ids."""
        f = self._file
        assert f.mm is not None
        mm = f.mm
        st = self.stats
        n = int(found.start.shape[0])
        st.records += n
        lts = [found.linktype] * n if found.linktypes is None else found.linktypes.tolist()
        sel: list[int] = []
        offsets: list[int] = []
        lengths: list[int] = []
        keys: list[list[int]] = []
        rows = self._key_rows
        starts, caplens = found.start.tolist(), found.caplen.tolist()
        for i, (s, cap, lt) in enumerate(zip(starts, caplens, lts, strict=True)):
            d = decode_packet(mm[s : s + cap], lt)
            if d.status != "udp":
                if d.status == "non_udp":
                    st.non_udp += 1
                elif d.status == "fragment":
                    st.fragments += 1
                elif d.status == "malformed":
                    st.malformed += 1
                else:  # header cut
                    st.truncated += 1
                continue
            if d.truncated:
                st.truncated += 1
                if not self.include_truncated:
                    continue
            addrs = (d.src_addr, d.src_port, d.dst_addr, d.dst_port)
            key = rows.get(addrs)
            if key is None:
                key = rows[addrs] = key_row(*addrs)
            if (self.dst_port is not None and d.dst_port != self.dst_port) or (
                self._dst_row is not None
                and (key[0] >> 32, key[3], key[4]) != self._dst_row
            ):
                st.filtered += 1
                continue
            sel.append(i)
            offsets.append(s + d.payload_offset)
            lengths.append(d.payload_length)
            keys.append(key)
        st.udp += len(sel)
        flow_ids = self._flows.assign(np.asarray(keys, dtype=np.uint64).reshape(-1, 5))
        return PacketBatch(
            data=f.u8,
            offsets=np.asarray(offsets, dtype=np.int64),
            lengths=np.asarray(lengths, dtype=np.int32),
            arrival_ns=found.ts[np.asarray(sel, dtype=np.int64)].astype(np.int64),
            flow_ids=flow_ids,
            flows=list(self._flows.flows),
        )

    @property
    def flows(self) -> list[FlowKey]:
        """All flows seen so far, indexed by flow id."""
        return list(self._flows.flows)

    def close(self) -> None:
        """Release the mapping (deferred to the garbage collector while batches use it)."""
        self._done = True
        self._file.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_pcap(
    path: str | os.PathLike[str],
    batch_size: int = 65536,
    dst_port: int | None = None,
    dst_addr: str | None = None,
    include_truncated: bool = True,
) -> PcapReader:
    """Open a pcap or pcapng capture; iterate the result for PacketBatch objects.

    The returned :class:`PcapReader` is an ``Iterator[PacketBatch]`` with a ``stats``
    attribute (:class:`PcapStats`). Only non-empty batches are yielded; each covers up to
    ``batch_size`` capture records. ``dst_port`` / ``dst_addr`` keep only datagrams sent to
    that port / address.
    """
    return PcapReader(path, batch_size, dst_port, dst_addr, include_truncated)
