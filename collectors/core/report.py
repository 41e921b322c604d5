"""Records the analyzer produces: configuration, one report per measurement interval."""

from __future__ import annotations

from dataclasses import dataclass, field

from iec62379.mibs.vocabulary import TestState, TsTest

from .bitrate import BitRateType
from .formats import AudioFormat, FecType, VideoCoding, VideoFormat
from .psi import ProgramInfo


@dataclass(frozen=True, slots=True)
class Tr101290Limits:
    """The TR 101 290 limits of one stream, in seconds, with TR 101 290's values (and the DVB
    MIB's DEFVALs, tsTestsPreferencesTable) as defaults; `enabled` the tests that run."""

    pat_interval_max_s: float = 0.5  # 1.3.a, tsTestsPrefPATSectionIntervalMax
    pmt_interval_max_s: float = 0.5  # 1.5.a, tsTestsPrefPMTSectionIntervalMax
    referred_interval_max_s: float = 5.0  # 1.6, tsTestsPrefReferredIntervalMax
    pcr_interval_max_s: float = 0.04  # 2.3.a, tsTestsPrefPCRIntervalMax
    pcr_discontinuity_max_s: float = 0.1  # 2.3.b, tsTestsPrefPCRDiscontinuityMax
    pcr_inaccuracy_max_s: float = 500e-9  # 2.4, tsTestsPrefPCRInaccuracyMax
    pts_interval_max_s: float = 0.7  # 2.5, tsTestsPrefPTSIntervalMax
    transition_duration_s: float = 0.5  # 2.6 (CAT), tsTestsPrefTransitionDuration
    enabled: frozenset[TsTest] = frozenset(TsTest)


@dataclass(frozen=True, slots=True)
class AnalyzerConfig:
    """How one stream is analysed. Invalid values raise ValueError naming the field.

    interval_s:          measurement interval (RFC 4445 / EBU Tech 3337 use 1 s)
    transport:           "auto" (a datagram starting with 0x47 is plain TS, else RTP),
                         "rtp" or "udp"
    media_rate_bps:      configured nominal media (TS) rate; wins over the PCR-derived one
    rtp_clock_hz:        RTP timestamp clock (90 kHz for MPEG-TS, RFC 3551)
    presence_timeout_s:  a PID (or the FEC) is absent after this long without packets
    buffer_size_ms:      size of the modelled receiver buffer (rxPointBufferSize)
    program_number:      the program of the report's program / video / audio in an MPTS
                         (None: the first in the PAT); IntervalReport.programs has them all
    rate_window:         intervals in the CBR/VBR window; cbr_tolerance its CV limit
    default_ts_per_datagram: TS packets a lost datagram counts for before one arrived (7 is
                         the usual MPEG-TS-over-IP packing, SMPTE 2022-2)
    max_reports:         completed reports kept until pop_reports()
    video_probe_bytes:   bytes of one PES handed to the video ES inspector at most
                         (the sequence header / SPS opens the PES; at most 256 KiB is useful)
    video_probe_max_pes: PES packets of the video PID inspected before giving up
    """

    interval_s: float = 1.0
    transport: str = "auto"
    media_rate_bps: float | None = None
    rtp_clock_hz: int = 90_000
    presence_timeout_s: float = 1.0
    buffer_size_ms: float = 1000.0
    program_number: int | None = None
    rate_window: int = 10
    cbr_tolerance: float = 0.02
    default_ts_per_datagram: int = 7
    max_reports: int = 3600
    video_probe_bytes: int = 32 * 1024
    video_probe_max_pes: int = 600
    tr101290: Tr101290Limits | None = Tr101290Limits()  # None: the checks are off

    def __post_init__(self) -> None:
        checks = [
            ("interval_s", self.interval_s > 0, "a positive number of seconds"),
            ("transport", self.transport in ("auto", "rtp", "udp"), '"auto", "rtp" or "udp"'),
            (
                "media_rate_bps",
                self.media_rate_bps is None or self.media_rate_bps > 0,
                "None or a positive rate",
            ),
            ("rtp_clock_hz", self.rtp_clock_hz > 0, "a positive clock rate"),
            ("presence_timeout_s", self.presence_timeout_s > 0, "a positive number of seconds"),
            ("buffer_size_ms", self.buffer_size_ms > 0, "a positive number of milliseconds"),
            ("rate_window", self.rate_window >= 1, "at least 1"),
            ("cbr_tolerance", self.cbr_tolerance >= 0, "a non-negative fraction"),
            ("default_ts_per_datagram", 1 <= self.default_ts_per_datagram <= 7 * 50, "1..350"),
            ("max_reports", self.max_reports >= 1, "at least 1"),
            ("video_probe_bytes", self.video_probe_bytes >= 188, "at least 188"),
            ("video_probe_max_pes", self.video_probe_max_pes >= 0, "0 or more"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(
                    f"AnalyzerConfig.{name} = {getattr(self, name)!r}: expected {expected}"
                )


@dataclass(frozen=True, slots=True)
class VideoStatus:
    pid: int
    stream_type: int
    coding: VideoCoding
    format: VideoFormat | None  # from the sequence header / SPS, once seen
    present: bool
    bitrate_bps: float
    bitrate_type: BitRateType
    bitrate_max_bps: float  # maximum of the rate window (the "advertised maximum" for VBR)
    bitrate_mean_bps: float = 0.0  # mean of the rate window (the constant rate for CBR)


@dataclass(frozen=True, slots=True)
class AudioStatus:
    component: int  # 1-based position among the PMT's audio streams (aMtAudioComponentNumber)
    pid: int
    stream_type: int
    format: AudioFormat
    present: bool
    bitrate_bps: float

    @property
    def mib_format(self) -> AudioFormat:
        """aMtAudioSignalFormat: noAudio when absent (seed 6.4.8)."""
        return self.format if self.present else AudioFormat.NO_AUDIO


@dataclass(frozen=True, slots=True)
class ProgramReport:
    """One program of the PAT over one interval: what its PMT says, its video status (None
    when the PMT lists no video of a known coding) and its audio statuses (PMT order)."""

    info: ProgramInfo
    video: VideoStatus | None
    audio: tuple[AudioStatus, ...]

    @property
    def program_number(self) -> int:
        return self.info.program_number


@dataclass(frozen=True, slots=True)
class FecStatus:
    fec_type: FecType
    l_cols: int  # 0 when unknown
    d_rows: int  # 0 when unknown (only row FEC seen)
    length_dimension: int  # xxyy, see fec.fec_length_dimension; 0 when fec_type is NONE
    column_packets: int  # in the interval
    row_packets: int


@dataclass(frozen=True, slots=True)
class BufferStatus:
    size_ms: float
    occupancy_ms: int  # BufferOcpncyTime
    occupancy_percent: int  # BufferOcpncyPercent, 1..100
    playing: bool
    underflows: int  # since the start
    overflows: int


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One TR 101 290 test over one interval (the DVB MIB's status / event rules are applied
    by whoever keeps the history: the counters, LatestError and the event persistence)."""

    __test__ = False  # not a pytest class

    state: TestState  # at the end of the interval: PASS, FAIL or UNKNOWN (DISABLED: not run)
    errors: int  # events (event tests) or entries into fail (status tests) in the interval
    last_error_ns: int | None = None  # arrival time of the latest error in the interval
    pids: dict[int, int] = field(default_factory=dict)  # errors per PID (tests with PID rows)


@dataclass(frozen=True, slots=True)
class IntervalReport:
    """Everything measured over one interval [start_ns, start_ns + interval)."""

    index: int
    interval_start_s: float  # since the first packet's arrival
    interval_s: float
    start_ns: int  # on the arrival clock
    datagrams: int
    ts_packets: int
    df_ms: float | None  # MDI delay factor, None without a media rate
    mlr: float  # media (TS) packets lost or out of order per second
    tsdf_us: int | None  # None without RTP
    rtp_lost: int  # sequence numbers missing when a later one arrived
    rtp_reordered: int
    rtp_duplicates: int
    ssrc: int | None
    ssrc_changes: int
    seq_restarts: int
    ts_lost_rtp: int  # TS packets the RTP gaps stand for
    ts_lost_cc: int  # TS packets the continuity-counter steps say are missing
    cc_errors: int
    cc_errors_per_pid: dict[int, int]
    bitrate_bps: float
    pid_bitrate_bps: dict[int, float]
    bitrate_type: BitRateType
    bitrate_max_bps: float
    null_packets: bool
    pcr_pid: int | None
    pcr_rate_bps: float | None  # from this interval's PCRs
    media_rate_bps: float | None  # the rate DF and the buffer used
    media_rate_source: str  # "configured", "pcr", "measured" or "none"
    program: ProgramInfo | None
    video: VideoStatus | None
    audio: tuple[AudioStatus, ...]
    pid_present: dict[int, bool]
    fec: FecStatus
    buffer: BufferStatus | None
    errors: dict[str, int] = field(default_factory=dict)
    # TR 101 290 priority 1 and 2, keyed by test (empty when the checks are off)
    tr101290: dict[TsTest, TestOutcome] = field(default_factory=dict)
    # every program of the PAT whose PMT has been seen, PAT order (program, video and audio
    # above are the selected one's: AnalyzerConfig.program_number, else the PAT's first)
    programs: tuple[ProgramReport, ...] = ()

    @property
    def mdi(self) -> str | None:
        """rxPointMDI: "DF:MLR" with two decimals (RFC 4445), None without a DF."""
        if self.df_ms is None:
            return None
        return f"{self.df_ms:.2f}:{self.mlr:.2f}"


@dataclass(frozen=True, slots=True)
class StreamTotals:
    """Counters since the analyzer started."""

    datagrams: int
    ts_packets: int
    rtp_lost_net: int  # RFC 3550 cumulative loss: missing - late arrivals
    rtp_reordered: int
    rtp_duplicates: int
    ssrc_changes: int
    cc_errors: int
    errors: dict[str, int]
