"""Routes the datagrams of a PacketBatch to one StreamAnalyzer per media flow.

A media flow is identified by its destination (address, port). SMPTE 2022-1 FEC travels on
the same destination address at the ports :func:`fec_ports` gives (media port + 2: column FEC,
+ 4: row FEC); such flows go to the media flow's analyzer as FEC (a flow that could be the FEC
of two media flows goes to the one whose column FEC it would be). With ``auto_create`` every
other flow becomes a new media stream, taking ports in ascending order so that port P is
created before P + 2 and P + 4 of the same batch are taken as its FEC. FEC datagrams of a
batch are fed before its media datagrams, so FEC state is current when media packets close an
interval.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .analyzer import StreamAnalyzer
from .batch import FlowKey, PacketBatch
from .report import AnalyzerConfig, IntervalReport
from .videoprobe import Inspector

StreamKey = tuple[bytes, int]  # (destination address, destination port)
FEC_PORT_OFFSETS = (2, 4)  # SMPTE 2022-1: column FEC on the media port + 2, row FEC on + 4


def fec_ports(media_port: int) -> tuple[int, ...]:
    """The UDP ports of a media stream's FEC flows, column first (those up to 65535): the one
    place of this rule, for the receivers that open them and for the demux that routes them."""
    return tuple(p for p in (media_port + off for off in FEC_PORT_OFFSETS) if p <= 65535)


class FlowDemux:
    def __init__(
        self,
        config: AnalyzerConfig | Callable[[FlowKey], AnalyzerConfig | None] | None = None,
        auto_create: bool = True,
        inspector: Inspector | None = None,
    ) -> None:
        """config: one config for every stream, or a function giving a flow's config (None
        to ignore the flow). auto_create: make analyzers for unknown flows."""
        self._config = config
        self.auto_create = auto_create
        self._inspector = inspector
        self.streams: dict[StreamKey, StreamAnalyzer] = {}
        # FEC flow -> (its media stream's analyzer, 0 for column or 1 for row FEC)
        self._fec: dict[StreamKey, tuple[StreamAnalyzer, int]] = {}
        self.ignored: set[StreamKey] = set()
        self.unrouted = 0  # datagrams of flows that went to no analyzer

    def add_stream(
        self, dst_addr: bytes, dst_port: int, config: AnalyzerConfig | None = None
    ) -> StreamAnalyzer:
        """Register a media stream explicitly; returns its analyzer."""
        key = (bytes(dst_addr), int(dst_port))
        if key not in self.streams:
            self._add(key, StreamAnalyzer(config or self._config_for(None), self._inspector))
        return self.streams[key]

    def _add(self, key: StreamKey, analyzer: StreamAnalyzer) -> StreamAnalyzer:
        """A new media stream, and the FEC flows that now go to it."""
        self.streams[key] = analyzer
        addr, port = key
        for rank, fec_port in enumerate(fec_ports(port)):
            held = self._fec.get((addr, fec_port))
            if held is None or rank < held[1]:
                self._fec[(addr, fec_port)] = (analyzer, rank)
        return analyzer

    def _config_for(self, flow: FlowKey | None) -> AnalyzerConfig | None:
        if callable(self._config):
            return self._config(flow) if flow is not None else AnalyzerConfig()
        return self._config or AnalyzerConfig()

    def _route(self, flow: FlowKey) -> tuple[StreamAnalyzer | None, bool]:
        """(analyzer, is_fec) for one flow; creates the analyzer when allowed."""
        key = (flow.dst_addr, flow.dst_port)
        if key in self.streams:
            return self.streams[key], False
        fec = self._fec.get(key)
        if fec is not None:
            return fec[0], True
        if not self.auto_create or key in self.ignored:
            return None, False
        cfg = self._config_for(flow)
        if cfg is None:
            self.ignored.add(key)
            return None, False
        return self._add(key, StreamAnalyzer(cfg, self._inspector)), False

    def feed_batch(self, batch: PacketBatch) -> None:
        if len(batch) == 0:
            return
        present = np.flatnonzero(np.bincount(batch.flow_ids, minlength=len(batch.flows)))
        flows = sorted(
            present.tolist(), key=lambda f: (batch.flows[f].dst_addr, batch.flows[f].dst_port)
        )
        media: list[tuple[StreamAnalyzer, int]] = []
        for f in flows:
            analyzer, is_fec = self._route(batch.flows[f])
            if analyzer is None:
                self.unrouted += int(np.count_nonzero(batch.flow_ids == f))
            elif is_fec:
                analyzer.feed_fec_batch(batch, f)
            else:
                media.append((analyzer, f))
        if len(present) == 1:
            for analyzer, _ in media:
                analyzer.feed_batch(batch)
        elif media:
            grouped, starts = batch.grouped()
            for analyzer, f in media:
                analyzer.feed_batch(grouped.rows(starts[f], starts[f + 1]))

    def close_until(self, now_ns: int) -> dict[StreamKey, IntervalReport | None]:
        """close_until(now_ns) of every stream: closes their intervals up to now_ns."""
        return {key: a.close_until(now_ns) for key, a in self.streams.items()}

    def close_at_end(self, end_ns: int) -> dict[StreamKey, IntervalReport | None]:
        """close_at_end(end_ns) of every stream: the end of a capture or of a run."""
        return {key: a.close_at_end(end_ns) for key, a in self.streams.items()}
