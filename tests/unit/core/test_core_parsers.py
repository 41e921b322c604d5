import numpy as np
import pytest
from iec62379.collectors.core.errors import ErrorKind
from iec62379.collectors.core.fec import (
    FecType,
    fec_length_dimension,
    parse_fec_headers,
    parse_fec_packet,
)
from iec62379.collectors.core.formats import AudioFormat, VideoCoding
from iec62379.collectors.core.psi import (
    CrcError,
    SectionAssembler,
    crc32_mpeg,
    parse_pat,
    parse_pmt,
    program_info_from_pmt,
)
from iec62379.collectors.core.rtp import parse_rtp, parse_rtp_headers
from iec62379.collectors.core.ts import parse_ts_headers, parse_ts_packet, split_ts
from packets import (
    descriptor,
    fec_packet,
    pat_section,
    pmt_section,
    rtp,
    section_packets,
    ts_packet,
)


def test_rtp_fields():
    p = rtp(0xABCD, 0x01020304, b"x" * 188, ssrc=0xDEADBEEF, pt=33, marker=True)
    h = parse_rtp(p)
    assert (h.version, h.marker, h.payload_type, h.sequence) == (2, True, 33, 0xABCD)
    assert (h.timestamp, h.ssrc, h.payload_offset, h.payload_length) == (
        0x01020304,
        0xDEADBEEF,
        12,
        188,
    )


def test_rtp_csrc_extension_padding():
    p = rtp(1, 2, b"y" * 188, csrcs=(5, 6), ext=b"\x00" * 8, padding=4)
    h = parse_rtp(p)
    assert h.csrcs == (5, 6)
    assert h.extension_profile == 0xBEDE and len(h.extension_data) == 8
    assert h.payload_offset == 12 + 8 + 4 + 8
    assert h.payload_length == 188 and h.padding_length == 4
    assert h.payload(p) == b"y" * 188


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x80" * 7, "RTP packet too short: 7 bytes, need at least 12"),
        (rtp(1, 2, b"", version=1), "RTP version is 1, expected 2"),
        (rtp(1, 2, b"", csrcs=(1, 2))[:16], "too short for 2 CSRCs: 16 bytes, need at least 20"),
        (rtp(1, 2, b"", ext=b"\x00" * 8)[:20], "header extension of 2 words runs past the end"),
        (bytes([0xA0]) + rtp(1, 2, b"ab\x09")[1:], "padding count 9 invalid"),
    ],
)
def test_rtp_errors(data, message):
    with pytest.raises(ValueError, match=message):
        parse_rtp(data)


def _vector_kinds(payloads):
    data = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    lengths = np.array([len(p) for p in payloads])
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return parse_rtp_headers(data, offsets, lengths)


def test_rtp_vectorised_matches_scalar():
    payloads = [
        rtp(7, 8, b"z" * 376, csrcs=(1,), ext=b"\x01" * 4, padding=2),
        b"\x80\x21",
        rtp(1, 2, b"", version=3),
        bytes([0xA0]) + rtp(1, 2, b"ab\x09")[1:],
        rtp(1, 2, b"", ext=b"\x00" * 8)[:20],
        rtp(65535, 2**32 - 1, b"q" * 188, ssrc=1),
    ]
    h = _vector_kinds(payloads)
    assert h.error.tolist() == [
        0,
        ErrorKind.RTP_SHORT,
        ErrorKind.RTP_VERSION,
        ErrorKind.RTP_PADDING,
        ErrorKind.RTP_EXTENSION,
        0,
    ]
    for i in (0, 5):
        s = parse_rtp(payloads[i])
        assert h.sequence[i] == s.sequence and h.timestamp[i] == s.timestamp
        assert h.payload_offset[i] == s.payload_offset and h.payload_length[i] == s.payload_length


def test_ts_packet_fields_and_pcr():
    pcr = (2**33 - 1) * 300 + 299
    p = parse_ts_packet(ts_packet(0x1FF0, 9, b"abc", pusi=True, pcr=pcr, discontinuity=True))
    assert (p.pid, p.continuity_counter, p.payload_unit_start) == (0x1FF0, 9, True)
    assert p.pcr == pcr and p.discontinuity and p.adaptation_field_length == 7
    assert p.payload_offset == 12


@pytest.mark.parametrize(
    "pkt, message",
    [
        (b"\x47" + b"\x00" * 186, "TS packet is 187 bytes"),
        (b"\x48" + b"\x00" * 187, "sync byte is 0x48"),
        (b"\x47\x00\x00\x00" + b"\x00" * 184, "adaptation_field_control is '00'"),
        (b"\x47\x00\x00\x30\xb8" + b"\x00" * 183, "adaptation_field_length 184 exceeds 182"),
        (
            b"\x47\x00\x00\x30\x02\x10" + b"\x00" * 182,
            "PCR_flag set but adaptation_field_length is 2",
        ),
        # with the transport_error_indicator set the same faults are found
        (b"\x47\x80\x00\x00" + b"\x00" * 184, "adaptation_field_control is '00'"),
        (b"\x47\x80\x00\x20\xb8" + b"\x00" * 183, "adaptation_field_length 184 exceeds 183"),
    ],
)
def test_ts_errors(pkt, message):
    with pytest.raises(ValueError, match=message):
        parse_ts_packet(pkt)


def test_ts_packet_with_transport_error_is_parsed():
    """For one packet the transport_error_indicator is a field (the batch rule counts it as
    the packet's error)."""
    p = parse_ts_packet(ts_packet(0x123, 5, b"x", tei=True, pcr=27_000_000))
    assert (p.transport_error, p.pid, p.continuity_counter, p.pcr) == (True, 0x123, 5, 27_000_000)


def test_split_ts():
    assert split_ts(b"\x47" * 376) == 2
    with pytest.raises(ValueError, match="MPEG-TS payload of 200 bytes"):
        split_ts(b"\x47" * 200)


def test_ts_vectorised_matches_scalar():
    pkts = [
        ts_packet(0x100, 3, b"x", pcr=123456789),
        ts_packet(0x101, 4, has_payload=False),
        b"\x48" + b"\x00" * 187,
        ts_packet(0x102, 1, tei=True),
        b"\x47\x00\x00\x00" + b"\x00" * 184,
        b"\x47\x00\x00\x30\xb8" + b"\x00" * 183,
    ]
    data = np.frombuffer(b"".join(pkts), dtype=np.uint8)
    h = parse_ts_headers(data, np.arange(len(pkts)) * 188)
    assert h.error.tolist() == [
        0,
        0,
        ErrorKind.TS_SYNC,
        ErrorKind.TS_TEI,
        ErrorKind.TS_AFC,
        ErrorKind.TS_AF_LENGTH,
    ]
    assert h.pid[:2].tolist() == [0x100, 0x101] and h.has_pcr[:2].tolist() == [True, False]
    assert h.payload_offset[:2].tolist() == [12, 188]


def test_crc32_mpeg_check_value():
    assert crc32_mpeg(b"123456789") == 0x0376E6E7  # CRC-32/MPEG-2 catalogue check value


def test_pat_and_pmt():
    pat = parse_pat(pat_section({0: 0x10, 1: 0x1000, 2: 0x1100}, tsid=7, version=3))
    assert pat.transport_stream_id == 7 and pat.version == 3
    assert pat.programs == {0: 0x10, 1: 0x1000, 2: 0x1100}
    pmt = parse_pmt(
        pmt_section(1, 0x100, [(0x1B, 0x100, b""), (0x0F, 0x101, descriptor(0x0A, b"eng\x00"))])
    )
    assert pmt.pcr_pid == 0x100 and [s.pid for s in pmt.streams] == [0x100, 0x101]
    assert pmt.streams[1].descriptors[0].tag == 0x0A


def test_bad_crc_raises_crc_error():
    sec = bytearray(pat_section({1: 0x1000}))
    sec[-1] ^= 1
    with pytest.raises(CrcError, match="PAT CRC_32 mismatch"):
        parse_pat(bytes(sec))


REG = 0x05


@pytest.mark.parametrize(
    "stype, desc, kind, expected",
    [
        (0x02, b"", "video", VideoCoding.MPEG2),
        (0x1B, b"", "video", VideoCoding.H264),
        (0x24, b"", "video", VideoCoding.HEVC),
        (0x21, b"", "video", VideoCoding.JPEG2000),
        (0x03, b"", "audio", AudioFormat.MPEG1),
        (0x04, b"", "audio", AudioFormat.MPEG2),
        (0x0F, b"", "audio", AudioFormat.AAC_ADTS),
        (0x11, b"", "audio", AudioFormat.AAC_LATM),
        (0x81, b"", "audio", AudioFormat.AC3),
        (0x06, descriptor(0x6A, b"\x00"), "audio", AudioFormat.AC3),
        (0x87, b"", "audio", AudioFormat.EAC3),
        (0x06, descriptor(0x7A, b"\x00"), "audio", AudioFormat.EAC3),
        (0x06, descriptor(REG, b"BSSD"), "audio", AudioFormat.SMPTE302M),
        (0x06, descriptor(REG, b"Opus"), "audio", AudioFormat.OPUS),
        (0x06, descriptor(0x59, b"eng\x10\x00\x01\x00\x01"), "other", None),
    ],
)
def test_codec_mapping(stype, desc, kind, expected):
    info = program_info_from_pmt(parse_pmt(pmt_section(1, 0x100, [(stype, 0x100, desc)])), 0x1000)
    s = info.streams[0]
    assert s.kind == kind
    assert (s.video_coding if kind == "video" else s.audio_format) == expected


def test_section_reassembly_across_packets():
    many = [(0x06, 0x200 + i, descriptor(0x0A, b"eng\x00") * 4) for i in range(20)]
    sec = pmt_section(1, 0x100, many)
    assert len(sec) > 184 * 2
    pkts = section_packets(0x1000, sec)
    asm = SectionAssembler()
    out = []
    for p in pkts:
        t = parse_ts_packet(p)
        got, bad = asm.feed(p[t.payload_offset :], t.payload_unit_start, t.continuity_counter)
        assert bad == 0
        out += got
    assert out == [sec]
    assert len(parse_pmt(out[0]).streams) == 20
    # a lost middle packet: the section is dropped, not mis-assembled
    asm = SectionAssembler()
    got = []
    for p in pkts[:1] + pkts[2:]:
        t = parse_ts_packet(p)
        got += asm.feed(p[t.payload_offset :], t.payload_unit_start, t.continuity_counter)[0]
    assert got == []


def test_fec_header_column_and_row():
    col = parse_fec_packet(fec_packet(1, row=False, l_cols=10, d_rows=5, sn_base=0x123456))
    assert (col.row, col.l, col.d, col.sn_base) == (False, 10, 5, 0x123456)
    row = parse_fec_packet(fec_packet(2, row=True, l_cols=10, d_rows=5))
    assert (row.row, row.l, row.d) == (True, 10, None)
    assert fec_length_dimension(10, 5) == 1005 and fec_length_dimension(4, None) == 400
    assert FecType.SMPTE_2022_1.mib_name == "smpte2022Dash1" and int(FecType.SMPTE_2022_1) == 3


@pytest.mark.parametrize(
    "pkt, message",
    [
        (rtp(1, 0, b"\x00" * 10), "FEC header too short: 10 bytes"),
        (fec_packet(1, row=False, l_cols=10, d_rows=5, e_bit=False), "E = 0"),
        (fec_packet(1, row=False, l_cols=21, d_rows=5), "L=21 D=5"),
        (fec_packet(1, row=False, l_cols=20, d_rows=6), "L=20 D=6"),
        (fec_packet(1, row=False, l_cols=5, d_rows=5, fec_type=1), "FEC type is 1"),
    ],
)
def test_fec_errors(pkt, message):
    with pytest.raises(ValueError, match=message):
        parse_fec_packet(pkt)
    data = np.frombuffer(pkt, dtype=np.uint8)
    f = parse_fec_headers(data, np.array([0]), np.array([len(pkt)]))
    assert f.error[0] in (ErrorKind.FEC_SHORT, ErrorKind.FEC_HEADER)
