"""From a stream's interval report to the rows of its four linked blocks. Pure, no I/O.

A received stream is four blocks with consecutive ids
(:class:`~iec62379.collectors.settings.StreamBlockIds`):

    network  = id        nMtBlockTable row: rx = true, the address and port received
    audio    = id + 1    aMtBlockTable: one row per audio component (1, 2, ...)
    video    = id + 2    vMtBlockTable row, linked to the audio block and the network block
    rx       = id + 3    rxPointTable row (MDI, TS-DF, buffer), linked to the network block

linked as the digest's worked example: video -> audio -> network, receiver point -> network.
When no id is configured the network block id is derived from the stream's address
(:func:`~iec62379.collectors.settings.derive_block_id`), so the ids stay the same across
restarts and do not move when other streams are added to or removed from the configuration.

The standard's rules are applied by the model's records (noAudio when status is false, FEC
length 0 without FEC, bit rate 0 when its type is unspecified, occupancy percent 1..100); this
module decides what the measurements mean for each column:

* video status = the video PID was seen within the presence timeout; audio status likewise
  per audio PID. A stream whose program (PAT/PMT) is not known yet has a video row with status
  false and coding noVideo, and one audio component with status false (noAudio, PID 0).
* vMtVideoBitRateType / vMtVideoBitRate: the video PID's rate classification; CBR reports the
  interval's rate, VBR the maximum of the classifier's window (the "advertised maximum" a probe
  can know), unspecified reports 0. A video that is not present has type unspecified.
* FEC type and xxyy extent from the SMPTE 2022-1 FEC seen beside the stream; the FEC protects
  the whole transport stream, so the audio and video rows both carry it.
* rxPointMDI "DF:MLR": DF of the interval (0 when no media rate is known or no packet came),
  MLR in media packets per second; rxPointTSDF in microseconds (0 without RTP); the buffer
  occupancy of the modelled playout buffer (0 ms, 1 % before the buffer model has a rate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from iec62379.agent.model import (
    U32_MAX,
    U64_MAX,
    AudioComponent,
    NetworkBlock,
    Row,
    RxCounters,
    RxPoint,
    VideoBlock,
)
from iec62379.collectors.core.report import AudioStatus, IntervalReport, VideoStatus
from iec62379.collectors.settings import StreamBlockIds
from iec62379.collectors.sources.netfacts import NetworkFacts
from iec62379.mibs.vocabulary import (
    AspectRatio,
    AudioFormat,
    BitRateType,
    FecType,
    SourceFormat,
    TransportType,
    VideoCoding,
)


def network_row(
    ids: StreamBlockIds,
    facts: NetworkFacts,
    report: IntervalReport | None = None,
    sip_server: bytes = b"",
) -> NetworkBlock:
    """The stream's network block. nMtTransportType is rtp when the URL says rtp:// or when
    RTP has been seen on a udp:// stream (a receiver that found RTP headers knows);
    nMtSIPServerAddr is the configured one (NULL when none)."""
    transport = facts.transport
    if report is not None and report.ssrc is not None:
        transport = TransportType.RTP
    return NetworkBlock(
        block_id=ids.network,
        if_index=facts.if_index,
        rx_point=True,
        network_type=facts.network_type,
        transport_type=transport,
        address=facts.address,
        port=facts.port,
        igmp_version=facts.igmp_version,
        sip_server=sip_server,
    )


#: A receiver point's counters before anything was counted.
NO_COUNTERS = RxCounters()


def count_reports(counters: RxCounters, reports: Iterable[IntervalReport]) -> RxCounters:
    """`counters` with the closed intervals `reports` added (rxPointExtTable's Counter64s).
    TS packets lost per interval: the larger of what the RTP gaps stand for and what the
    continuity counters say is missing (both see the same loss when both can)."""
    datagrams, rtp_lost, ts_lost = counters.datagrams, counters.rtp_lost, counters.ts_lost
    cc_errors, reordered, duplicated = counters.cc_errors, counters.reordered, counters.duplicated
    for r in reports:
        datagrams += r.datagrams
        rtp_lost += r.rtp_lost
        ts_lost += max(r.ts_lost_rtp, r.ts_lost_cc)
        cc_errors += r.cc_errors
        reordered += r.rtp_reordered
        duplicated += r.rtp_duplicates
    wrap = U64_MAX + 1  # Counter64 wraps (RFC 2578 7.1.10)
    return RxCounters(
        datagrams=datagrams % wrap, rtp_lost=rtp_lost % wrap, ts_lost=ts_lost % wrap,
        cc_errors=cc_errors % wrap, reordered=reordered % wrap, duplicated=duplicated % wrap,
        discontinuity_ticks=counters.discontinuity_ticks,
    )


def rx_row(
    ids: StreamBlockIds,
    buffer_ms: int,
    report: IntervalReport | None,
    counters: RxCounters = NO_COUNTERS,
) -> RxPoint:
    """The receiver point; with no report (nothing received yet, or faded out) the buffer is
    empty and MDI and TS-DF are 0. `counters` (see `count_reports`) are served as they are."""
    if report is None:
        return RxPoint(block_id=ids.rx, network_block_id=ids.network, buffer_size_ms=buffer_ms,
                       counters=counters)
    buf = report.buffer
    return RxPoint(
        block_id=ids.rx,
        network_block_id=ids.network,
        buffer_size_ms=buffer_ms,
        occupancy_ms=min(U32_MAX, max(0, buf.occupancy_ms)) if buf is not None else 0,
        occupancy_percent=buf.occupancy_percent if buf is not None else 1,
        df_ms=float(report.df_ms) if report.df_ms is not None else 0.0,
        mlr=float(report.mlr),
        tsdf_us=min(U32_MAX, max(0, report.tsdf_us)) if report.tsdf_us is not None else 0,
        counters=counters,
    )


def _fec(report: IntervalReport) -> tuple[FecType, int]:
    fec = report.fec
    kind = FecType(fec.fec_type)
    return kind, (fec.length_dimension if kind is not FecType.NONE else 0)


def video_row(ids: StreamBlockIds, report: IntervalReport) -> VideoBlock:
    """The video block from the report (status false, noVideo when the program has none)."""
    return program_video_row(ids.video, ids.audio, ids.network, report.video, report)


def program_video_row(
    video_id: int, audio_id: int, network_id: int, v: VideoStatus | None, report: IntervalReport
) -> VideoBlock:
    """A program's video block (video status v; the FEC from the report), linked to its
    audio block and the stream's network block."""
    fec_type, fec_extent = _fec(report)
    if v is None:
        return VideoBlock(
            block_id=video_id,
            audio_block_id=audio_id,
            network_block_id=network_id,
            status=False,
            coding_type=VideoCoding.NO_VIDEO.value,
            fec_type=fec_type,
            fec_length_dimension=fec_extent,
        )
    rate_type = BitRateType(v.bitrate_type) if v.present else BitRateType.UNSPECIFIED
    if rate_type is BitRateType.CBR:  # the constant rate: the window's mean when known
        kbps = (v.bitrate_mean_bps or v.bitrate_bps) / 1000.0
    elif rate_type is BitRateType.VBR:
        kbps = v.bitrate_max_bps / 1000.0
    else:
        kbps = 0.0
    fmt = v.format
    return VideoBlock(
        block_id=video_id,
        audio_block_id=audio_id,
        network_block_id=network_id,
        status=v.present,
        source_format=(fmt.source_format if fmt is not None else SourceFormat.UNSPECIFIED).value,
        coding_type=v.coding.value,
        bit_rate_type=rate_type,
        bit_rate_kbps=min(U32_MAX, int(round(kbps))),
        aspect_ratio=(fmt.aspect_ratio if fmt is not None else AspectRatio.UNSPECIFIED).value,
        fec_type=fec_type,
        fec_length_dimension=fec_extent,
    )


def audio_rows(ids: StreamBlockIds, if_index: int, report: IntervalReport) -> list[AudioComponent]:
    """One row per audio component of the program; a single absent component (noAudio, PID
    0) when the program has no audio or is not known yet, so the video row's link to the audio
    block always holds."""
    return program_audio_rows(ids.audio, ids.network, if_index, report.audio, report)


def program_audio_rows(
    audio_id: int,
    network_id: int,
    if_index: int,
    audio: tuple[AudioStatus, ...],
    report: IntervalReport,
) -> list[AudioComponent]:
    """A program's audio block: one row per component (a single absent one when none)."""
    fec_type, fec_extent = _fec(report)
    rows = [
        AudioComponent(
            block_id=audio_id,
            component=a.component,
            network_block_id=network_id,
            status=a.present,
            signal_format=a.format.value,
            pid=a.pid,
            if_index=if_index,
            fec_type=fec_type,
            fec_length_dimension=fec_extent,
        )
        for a in audio
    ]
    if not rows:
        rows.append(
            AudioComponent(
                block_id=audio_id,
                component=1,
                network_block_id=network_id,
                status=False,
                signal_format=AudioFormat.NO_AUDIO.value,
                pid=0,
                if_index=if_index,
            )
        )
    return rows


def absent_row(row: Row) -> Row:
    """A video or audio row with no signal (a stream that stopped, a program that left the
    PAT): status false, a video bit rate type unspecified."""
    if isinstance(row, VideoBlock):
        return dataclasses.replace(row, status=False, bit_rate_type=BitRateType.UNSPECIFIED)
    if isinstance(row, AudioComponent):
        return dataclasses.replace(row, status=False)
    return row


def stream_rows(
    ids: StreamBlockIds,
    facts: NetworkFacts,
    buffer_ms: int,
    report: IntervalReport | None,
    media: bool,
    sip_server: bytes = b"",
    counters: RxCounters = NO_COUNTERS,
) -> list[Row]:
    """All rows of a stream. ``media`` False (never received, or faded out) leaves out the
    audio and video blocks: only the network block and its receiver point remain."""
    rows: list[Row] = [
        network_row(ids, facts, report, sip_server),
        rx_row(ids, buffer_ms, report, counters),
    ]
    if media and report is not None:
        rows.append(video_row(ids, report))
        rows.extend(audio_rows(ids, facts.if_index, report))
    return rows


__all__ = [
    "absent_row",
    "audio_rows",
    "count_reports",
    "network_row",
    "program_audio_rows",
    "program_video_row",
    "rx_row",
    "stream_rows",
    "video_row",
]
