"""A multi-program TS is served as a video block and an audio block per program, all linked to
the stream's network block, with ids stable over the stream's life and across restarts."""

from __future__ import annotations

from pathlib import Path

from iec62379.agent.model import AudioComponent, NetworkBlock, RxPoint, VideoBlock
from iec62379.agent.store import check_links
from iec62379.collectors.publish.programs import ProgramBlocks
from iec62379.collectors.publish.streams import StreamCollector, StreamState
from iec62379.collectors.settings import derive_programs_id, stream_identity
from iec62379.collectors.sources.netfacts import network_facts
from iec62379.collectors.sources.netinfo import NetInfo
from streamdata import T0, batches, datagrams, settings
from unit.core.test_programs import THREE, analyse, make_mpts

MS = 1_000_000
S = 1_000_000_000
MPTS = Path(__file__).resolve().parents[2] / "fixtures" / "mpts" / "two_programs.ts"


def run_mpts(**kw) -> tuple[StreamCollector, list]:
    st = settings(**{"presence_timeout_s": 1.0, "fade_out_s": 5.0, **kw})
    c = StreamCollector(st, network_facts(st.url, NetInfo()))
    last = 0
    for b in batches(datagrams(str(MPTS), loops=2)):
        c.feed_batch(b)
        last = int(b.arrival_ns.max())
    return c, c.update(last)


def blocks(rows):
    video = {r.block_id: r for r in rows if isinstance(r, VideoBlock)}
    audio = {r.index: r for r in rows if isinstance(r, AudioComponent)}
    return video, audio


def test_mpts_fixture_has_a_video_and_audio_block_per_program_linked_to_one_network_block():
    c, rows = run_mpts(programs_id=100)
    check_links(rows)  # the store's link rules hold
    video, audio = blocks(rows)
    assert sorted(video) == [12, 101]
    v1, v2 = video[12], video[101]
    assert (v1.coding_type, v1.audio_block_id, v1.network_block_id, v1.status) == (
        "videoH264", 11, 10, True)
    assert (v2.coding_type, v2.audio_block_id, v2.network_block_id, v2.status) == (
        "videoMpeg2", 100, 10, True)
    assert audio[(11, 1)].signal_format == "audioAacAdts" and audio[(11, 1)].pid == 0x101
    assert audio[(100, 1)].signal_format == "audioMpeg1" and audio[(100, 1)].pid == 0x201
    assert audio[(100, 1)].network_block_id == 10
    assert len([r for r in rows if isinstance(r, NetworkBlock)]) == 1
    assert len([r for r in rows if isinstance(r, RxPoint)]) == 1


def test_the_configured_program_takes_the_streams_own_blocks():
    _, rows = run_mpts(programs_id=100, program=2)
    video, _ = blocks(rows)
    assert video[12].coding_type == "videoMpeg2" and video[101].coding_type == "videoH264"


def test_ids_are_the_same_on_every_start_and_derived_from_the_address():
    _, a = run_mpts()
    _, b = run_mpts()
    assert sorted(r.index for r in a) == sorted(r.index for r in b)
    st = settings()
    first = derive_programs_id(stream_identity(None, "127.0.0.1", 5004, None))
    assert st.program_ids()[:2] == (first, first + 1)
    video, _ = blocks(a)
    assert sorted(video) == [12, first + 1]
    assert derive_programs_id("other@239.1.1.1:5000%") != first


def test_max_programs_one_serves_the_selected_program_only():
    _, rows = run_mpts(max_programs=1)
    video, _ = blocks(rows)
    assert sorted(video) == [12]


def test_a_program_that_leaves_the_pat_fades_and_frees_its_slot():
    two = {k: THREE[k] for k in (1, 2)}
    r = analyse(*make_mpts(THREE, n=3000, switch_at=1500, later=(two, None, None)), 3_000 * MS)
    pb = ProgramBlocks(10, tuple(range(100, 106)), fade_ns=5 * S)
    video, audio = blocks(pb.rows(r[0], 1, T0))
    assert sorted(video) == [101, 103]  # programs 2 and 5, in PAT order
    assert video[103].coding_type == "videoHevc" and video[103].status
    assert audio[(102, 1)].signal_format == "noAudio"  # program 5 has no audio
    assert [a.pid for k, a in sorted(audio.items()) if k[0] == 100] == [0x201, 0x202]
    # program 5 leaves the PAT: its rows stay with status false for the fade-out time
    video, _ = blocks(pb.rows(r[2], 1, T0 + 2 * S))
    assert video[101].status and not video[103].status
    video, _ = blocks(pb.rows(r[2], 1, T0 + 8 * S))
    assert sorted(video) == [101]
    # a new program takes the free slot; the others keep theirs
    assert pb.ids_of(2) == (102, 103)


def test_a_stream_that_fades_out_takes_its_programs_rows_with_it():
    c, rows = run_mpts(programs_id=100)
    last = c.last_packet_ns
    assert c.state(last + 7 * S) is StreamState.FADED
    rows = c.update(last + 7 * S)
    assert not [r for r in rows if isinstance(r, (VideoBlock, AudioComponent))]
    # stopped (between the timeout and the fade): status false on every program's rows
    c, _ = run_mpts(programs_id=100)
    video, audio = blocks(c.update(c.last_packet_ns + 2 * S))
    assert sorted(video) == [12, 101] and not any(v.status for v in video.values())
    assert not any(a.status for a in audio.values())
