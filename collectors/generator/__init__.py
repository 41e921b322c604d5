"""The stream generator: an MPEG-TS file sent as paced RTP or UDP, with network impairments.

It is not a source (it sends) and not part of the measurement core, though it reads its input
with the core's parsers. ``pacing`` gives every TS packet its departure time from the PCRs;
``plan`` packetises, numbers and impairs (both pure); ``sender`` is the paced loop (socket and
clock). Used by `iec62379 generate`, the demo, the benchmarks and the tests' streams.

The planning API is re-exported here (``from iec62379.collectors import generator as g``).
"""

from .pacing import (
    MAX_PCR_GAP_TICKS,
    NULL_PID,
    PCR_HZ,
    PCR_MODULUS,
    TS_PACKET_SIZE,
    PcrSample,
    Schedule,
    TsFormatError,
    continuity_steps,
    find_pcr_pid,
    loop_packets,
    pmt_pcr_pid,
    read_pcrs,
    schedule,
    ts_headers,
    ts_packets,
)
from .plan import (
    MAX_TS_PER_DATAGRAM,
    RTP_PAYLOAD_TYPE_MP2T,
    Datagram,
    Destination,
    Impairments,
    Plan,
    PlanConfig,
    PlanStats,
    parse_destination,
    plan,
    rtp_header,
)

__all__ = [
    "MAX_PCR_GAP_TICKS",
    "MAX_TS_PER_DATAGRAM",
    "NULL_PID",
    "PCR_HZ",
    "PCR_MODULUS",
    "RTP_PAYLOAD_TYPE_MP2T",
    "TS_PACKET_SIZE",
    "Datagram",
    "Destination",
    "Impairments",
    "PcrSample",
    "Plan",
    "PlanConfig",
    "PlanStats",
    "Schedule",
    "TsFormatError",
    "continuity_steps",
    "find_pcr_pid",
    "loop_packets",
    "parse_destination",
    "plan",
    "pmt_pcr_pid",
    "read_pcrs",
    "rtp_header",
    "schedule",
    "ts_headers",
    "ts_packets",
]
