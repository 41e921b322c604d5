"""How the store's rows become SNMP objects: columns by name from the compiled MIB.

Every OID comes from the compiled modules (IEC62379-7-MEASUREMENT-MIB, IEC62379-MEDIA-FORMATS-MIB,
SNMPv2-MIB, IF-MIB), never typed here. Each column has a getter that turns a row into a plain
Python value, and the BER tag of the column's base SMI type, with which that value goes on the
wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysnmp.proto import rfc1902

from . import ber
from .model import AudioComponent, NetworkBlock, RxPoint, Temperature, VideoBlock

MEASUREMENT_MIB = "IEC62379-7-MEASUREMENT-MIB"
FORMATS_MIB = "IEC62379-MEDIA-FORMATS-MIB"

_TRUTH = {True: 1, False: 2}


def _truth(v: bool) -> int:
    return _TRUTH[v]


# table symbol -> (row type, [(column symbol, getter)])
TABLE_COLUMNS: dict[str, tuple[type, list[tuple[str, Callable[[Any], Any]]]]] = {
    "nMtBlockTable": (
        NetworkBlock,
        [
            ("nMtIfIndex", lambda r: r.if_index),
            ("nMtTxRxPoint", lambda r: _truth(r.rx_point)),
            ("nMtNetworkType", lambda r: int(r.network_type)),
            ("nMtTransportType", lambda r: int(r.transport_type)),
            ("nMtTxRxAddr", lambda r: r.address),
            ("nMtPortNumber", lambda r: r.port),
            ("nMtIGMPVersion", lambda r: r.igmp_version),
            ("nMtSIPServerAddr", lambda r: r.sip_server),
        ],
    ),
    "aMtBlockTable": (
        AudioComponent,
        [
            ("aMtNetworkBlockId", lambda r: r.network_block_id),
            ("aMtAudioStatus", lambda r: _truth(r.status)),
            ("aMtAudioSignalFormat", lambda r: r.signal_format),
            ("aMtAudioPId", lambda r: r.pid),
            ("aMtIfIndex", lambda r: r.if_index),
            ("aMtFECType", lambda r: int(r.fec_type)),
            ("aMtFECLengthDimension", lambda r: r.fec_length_dimension),
        ],
    ),
    "vMtBlockTable": (
        VideoBlock,
        [
            ("vMtAudioBlockId", lambda r: r.audio_block_id),
            ("vMtNetworkBlockId", lambda r: r.network_block_id),
            ("vMtVideoStatus", lambda r: _truth(r.status)),
            ("vMtVideoSourceFormat", lambda r: r.source_format),
            ("vMtVideoCodingType", lambda r: r.coding_type),
            ("vMtVideoBitRateType", lambda r: int(r.bit_rate_type)),
            ("vMtVideoBitRate", lambda r: r.bit_rate_kbps),
            ("vMtAspectRatio", lambda r: r.aspect_ratio),
            ("vMtFECType", lambda r: int(r.fec_type)),
            ("vMtFECLengthDimension", lambda r: r.fec_length_dimension),
            ("vMtTrickModeSupport", lambda r: _truth(r.trick_mode_support)),
        ],
    ),
    "rxPointTable": (
        RxPoint,
        [
            ("rxPointNetworkBlockId", lambda r: r.network_block_id),
            ("rxPointBufferSize", lambda r: r.buffer_size_ms),
            ("rxPointBufferOcpancyTime", lambda r: r.occupancy_ms),
            ("rxPointBufferOcpncyPcnt", lambda r: r.occupancy_percent),
            ("rxPointMDI", lambda r: r.mdi.encode()),
            ("rxPointTSDF", lambda r: r.tsdf_us),
        ],
    ),
    "temperatureTable": (
        Temperature,
        [
            ("temperatureLocation", lambda r: r.location.encode()),
            ("temperatureTrend", lambda r: r.trend),
            ("temperatureStatus", lambda r: int(r.status)),
            ("temperatureLowWarning", lambda r: r.low_warning),
            ("temperatureHighWarning", lambda r: r.high_warning),
            ("temperatureLowCritical", lambda r: r.low_critical),
            ("temperatureHighCritical", lambda r: r.high_critical),
        ],
    ),
}

#: Columns a supervisor may write (IEC 62379-7 Table 1).
WRITABLE = ("nMtTxRxPoint", "nMtSIPServerAddr")


def wire_tag(syntax: Any) -> int:
    """The BER tag of the base SMI type the column's syntax is built on (values are plain Python
    values with this tag: a TC's own constraints were applied by the model, and TAddress's NULL
    is the empty string)."""
    tag = syntax.getTagSet()
    for cls, number in (
        (rfc1902.Integer32, ber.INTEGER),
        (rfc1902.Gauge32, ber.GAUGE32),
        (rfc1902.Counter32, ber.COUNTER32),
        (rfc1902.Counter64, ber.COUNTER64),
        (rfc1902.TimeTicks, ber.TIMETICKS),
        (rfc1902.IpAddress, ber.IP_ADDRESS),
        (rfc1902.OctetString, ber.OCTET_STRING),
        (rfc1902.ObjectIdentifier, ber.OBJECT_IDENTIFIER),
    ):
        if cls.tagSet == tag:
            return number
    raise TypeError(f"no wire type for syntax {type(syntax).__name__}")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a served table."""

    table: str
    name: str
    oid: tuple[int, ...]
    access: str
    syntax: Any  # the compiled MIB's syntax object (with its constraints), for SET checks
    tag: int  # BER tag of the values on the wire (see ber)
    get: Callable[[Any], Any]  # row -> plain value


class MibMap:
    """Resolves our tables' columns and the format identities from a pysnmp MibBuilder."""

    def __init__(self, mib_builder: Any) -> None:
        self.builder = mib_builder
        mib_builder.load_modules(MEASUREMENT_MIB, FORMATS_MIB)
        self.columns: dict[str, list[Column]] = {}
        self.row_types: dict[str, type] = {}
        for table, (row_type, cols) in TABLE_COLUMNS.items():
            self.row_types[table] = row_type
            out = []
            for name, getter in cols:
                (sym,) = mib_builder.import_symbols(MEASUREMENT_MIB, name)
                syntax = sym.getSyntax()
                out.append(
                    Column(
                        table=table,
                        name=name,
                        oid=tuple(sym.getName()),
                        access=sym.getMaxAccess(),
                        syntax=syntax,
                        tag=wire_tag(syntax),
                        get=getter,
                    )
                )
            self.columns[table] = out
        self.formats: dict[str, tuple[int, ...]] = {}
        for name, sym in mib_builder.mibSymbols[FORMATS_MIB].items():
            if type(sym).__name__ == "ObjectIdentity":
                self.formats[name] = tuple(sym.getName())
        self.by_name = {c.name: c for cols in self.columns.values() for c in cols}

    def format_oid(self, value: str | tuple[int, ...]) -> tuple[int, ...]:
        """A MediaFormat value: an identity name of our formats MIB, or an OID as given.
        An unknown name is reported as zeroDotZero (0.0), the SMI's 'no identity'."""
        if isinstance(value, tuple):
            return value
        return self.formats.get(value, (0, 0))

    def symbol_oid(self, module: str, name: str) -> tuple[int, ...]:
        (sym,) = self.builder.import_symbols(module, name)
        return tuple(sym.getName())
