"""The packet batch: how sources hand datagrams to the measurement core.

A source (pcap reader, UDP receiver) fills one contiguous byte buffer with the UDP payloads of
many datagrams and describes each with an offset, a length, an arrival time and a flow id. The
core can then work on whole batches with numpy instead of one Python call per packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from . import fast
from .rtp import RtpHeaders


@dataclass(frozen=True, slots=True)
class FlowKey:
    """One UDP flow: addresses are the packed network-order bytes (4 or 16 octets)."""

    src_addr: bytes
    src_port: int
    dst_addr: bytes
    dst_port: int


@dataclass(slots=True)
class PacketBatch:
    """UDP payloads of consecutive datagrams, in arrival order.

    data:       1-D uint8 array holding the payloads (and possibly other bytes between them)
    offsets:    int64, start of each payload in data
    lengths:    int32, length of each payload
    arrival_ns: int64, arrival time of each datagram in ns (kernel or capture timestamp)
    flow_ids:   int32, index into flows for each datagram
    flows:      the distinct flows that flow_ids refer to
    rtp:        optional: every payload's RTP header as ``parse_rtp_headers`` gives it (whether
                or not the stream is RTP), when the source parsed it while the datagram was in
                the cache (the pcap reader's compiled walk); the analyzer parses when absent
    first_byte: optional, with rtp: uint8, each payload's first byte (plain TS or RTP)
    ts_heads:   optional, with rtp: uint8, bytes 0..11 of every TS packet the datagrams
                carry (``ts.HEAD_BYTES`` a packet: header, adaptation field flags, PCR), in
                any order that keeps each datagram's packets together and in order (the
                compiled reader groups them by flow, so that an analyzer reads its stream's
                in one run), as the analyzer finds the packets when its transport is "auto"
                or "rtp" (a payload starting with the sync byte is plain TS, else the RTP
                payload when its header is good; a whole number of packets, else none),
                copied by the source while the datagram was in the cache
    ts_first:   optional, with ts_heads: int64, per datagram, the index (in packets) in
                ts_heads of its first TS packet
    """

    data: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    arrival_ns: np.ndarray
    flow_ids: np.ndarray
    flows: list[FlowKey] = field(default_factory=list)
    rtp: RtpHeaders | None = None
    first_byte: np.ndarray | None = None
    ts_heads: np.ndarray | None = None
    ts_first: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def grouped(self) -> tuple[PacketBatch, list[int]]:
        """The same datagrams grouped by flow (flows in id order, each flow's datagrams in
        their order here) and where each flow's rows start: flow f is rows
        starts[f]..starts[f + 1] - 1 of the grouped batch (``rows``). One pass over the
        per-datagram arrays, instead of one selection per flow; data and ts_heads are
        shared."""
        nf = max(len(self.flows), 1)
        arrays = [self.offsets, self.lengths, self.arrival_ns, self.flow_ids]
        optional = [self.first_byte, self.ts_first]
        arrays += [a for a in optional if a is not None]
        if self.rtp is not None:
            arrays += [getattr(self.rtp, f.name) for f in fields(RtpHeaders)]
        arrays = [np.ascontiguousarray(a) for a in arrays]
        starts, out = fast.group_by_flow(self.flow_ids, nf, arrays)
        it = iter(out)
        offsets, lengths, arrival, flow_ids = (next(it) for _ in range(4))
        first, ts_first = (next(it) if a is not None else None for a in optional)
        rtp = RtpHeaders(*it) if self.rtp is not None else None
        g = replace(
            self,
            offsets=offsets,
            lengths=lengths,
            arrival_ns=arrival,
            flow_ids=flow_ids,
            rtp=rtp,
            first_byte=first,
            ts_first=ts_first,
        )
        return g, starts.tolist()

    def rows(self, a: int, b: int) -> PacketBatch:
        """Datagrams a..b-1 (views of this batch's arrays)."""
        rtp = self.rtp
        if rtp is not None:
            rtp = RtpHeaders(*(getattr(rtp, f.name)[a:b] for f in fields(RtpHeaders)))
        return PacketBatch(
            self.data,
            self.offsets[a:b],
            self.lengths[a:b],
            self.arrival_ns[a:b],
            self.flow_ids[a:b],
            self.flows,
            rtp,
            None if self.first_byte is None else self.first_byte[a:b],
            self.ts_heads,
            None if self.ts_first is None else self.ts_first[a:b],
        )

    def payload(self, i: int) -> bytes:
        """The payload of datagram i as bytes (slow path; for tests and odd packets)."""
        start = int(self.offsets[i])
        return self.data[start : start + int(self.lengths[i])].tobytes()

    @classmethod
    def from_payloads(
        cls,
        payloads: list[bytes],
        arrival_ns: list[int],
        flow: FlowKey | None = None,
    ) -> PacketBatch:
        """Build a batch from a list of payloads of one flow (tests, slow sources)."""
        if len(payloads) != len(arrival_ns):
            raise ValueError(
                f"payloads and arrival_ns differ in length: {len(payloads)} != {len(arrival_ns)}"
            )
        lengths = np.fromiter((len(p) for p in payloads), dtype=np.int32, count=len(payloads))
        offsets = np.zeros(len(payloads), dtype=np.int64)
        if len(payloads) > 1:
            np.cumsum(lengths[:-1], out=offsets[1:])
        data = np.frombuffer(b"".join(payloads), dtype=np.uint8)
        key = flow or FlowKey(b"\x7f\x00\x00\x01", 0, b"\x7f\x00\x00\x01", 0)
        return cls(
            data=data,
            offsets=offsets,
            lengths=lengths,
            arrival_ns=np.asarray(arrival_ns, dtype=np.int64),
            flow_ids=np.zeros(len(payloads), dtype=np.int32),
            flows=[key],
        )
