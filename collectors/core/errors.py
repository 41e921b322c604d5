"""Kinds of malformed input the measurement core counts instead of raising.

The parsers (``parse_rtp``, ``parse_ts_packet`` ...) raise ``ValueError`` with a precise
message; the analyzer never raises on bad packets: it counts each one under one of these kinds
and carries on. The numeric codes index count arrays in the vectorised path.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorKind(IntEnum):
    """One kind of malformed packet; ``name.lower()`` is the key used in reports."""

    NONE = 0
    RTP_SHORT = 1  # datagram shorter than the fixed RTP header (+ CSRCs)
    RTP_VERSION = 2  # RTP version field is not 2
    RTP_EXTENSION = 3  # header extension runs past the end of the datagram
    RTP_PADDING = 4  # padding count is 0 or larger than the payload
    TS_LENGTH = 5  # (RTP) payload is empty or not a multiple of 188 bytes
    TS_SYNC = 6  # a 188-byte TS packet does not start with 0x47
    TS_TEI = 7  # transport_error_indicator set
    TS_AFC = 8  # adaptation_field_control '00' (reserved)
    TS_AF_LENGTH = 9  # adaptation_field_length too large for the packet
    PSI_CRC = 10  # PAT/PMT section with a wrong CRC_32
    PSI_SECTION = 11  # PAT/PMT section malformed (lengths, pointer_field ...)
    PES = 12  # PES header of the video PID malformed
    FEC_SHORT = 13  # FEC datagram shorter than RTP + FEC header
    FEC_HEADER = 14  # SMPTE 2022-1 FEC header with invalid field values
    VIDEO_ES = 15  # the video elementary-stream inspector failed


ERROR_KIND_COUNT = len(ErrorKind)


_KEYS = tuple(kind.name.lower() for kind in ErrorKind)


def error_counts_dict(counts: list[int] | tuple[int, ...]) -> dict[str, int]:
    """Turn a count array indexed by ErrorKind into {kind name: count}, non-zero kinds only."""
    return {_KEYS[i]: int(c) for i, c in enumerate(counts) if i != 0 and int(c) != 0}
