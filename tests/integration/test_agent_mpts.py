"""A live multi-program TS end to end on loopback: `iec62379 generate` sends the two-program
fixture -> `iec62379 agent --config` -> net-snmp's snmpwalk of vMtBlockTable and aMtBlockTable:
a video block and an audio block per program, all linked to the stream's one network block,
the further program's at the configured programs_id."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from test_agent_streams import Proc, agent_config, cli, free_port, snmp_env, start_agent, wait_for

pytestmark = pytest.mark.integration

MPTS = REPO / "tests" / "fixtures" / "mpts" / "two_programs.ts"  # 1: H.264 + AAC, 2: MPEG-2 + MP2
NET, AUDIO, VIDEO, RX = 10, 11, 12, 13
P2_AUDIO, P2_VIDEO = 100, 101  # programs_id = 100: the first further program's slot


def snmpwalk(port: int, table: str) -> dict[str, str]:
    """object.index -> value (net-snmp's text, MIB names without the module)."""
    proc = subprocess.run(
        [require_tool("snmpwalk"), "-v2c", "-c", "public", "-t", "2", "-r", "1", "-Oqs",
         f"127.0.0.1:{port}", table],
        capture_output=True, text=True, env=snmp_env(), timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" ")
        out[name] = value
    return out


def test_live_mpts_has_a_video_and_audio_block_per_program(tmp_path: Path) -> None:
    agent_port, stream_port = free_port(), free_port()
    config = agent_config(tmp_path, agent_port, f"""
[[stream]]
url = "rtp://127.0.0.1:{stream_port}"
id = {NET}
programs_id = {P2_AUDIO}
max_programs = 4
presence_timeout_s = 2

[temperature_sensors]
enabled = false
""")
    agent = start_agent(config)
    gen = None
    try:
        gen = Proc(cli("generate", str(MPTS), f"rtp://127.0.0.1:{stream_port}", "--loop", "0",
                       "-q"))

        def both_formats() -> dict[str, str] | None:
            v = snmpwalk(agent_port, "vMtBlockTable")
            ok = all(f"vMtVideoSourceFormat.{b}" in v for b in (VIDEO, P2_VIDEO))
            return v if ok and f"vMtVideoCodingType.{P2_VIDEO}" in v else None

        video = wait_for(both_formats, 30, step=0.5)
        assert video[f"vMtVideoCodingType.{VIDEO}"].endswith("videoH264")
        assert video[f"vMtVideoCodingType.{P2_VIDEO}"].endswith("videoMpeg2")
        assert {k.split(".")[1] for k in video} == {str(VIDEO), str(P2_VIDEO)}
        assert video[f"vMtNetworkBlockId.{VIDEO}"] == video[f"vMtNetworkBlockId.{P2_VIDEO}"] == (
            str(NET))
        assert video[f"vMtAudioBlockId.{VIDEO}"] == str(AUDIO)
        assert video[f"vMtAudioBlockId.{P2_VIDEO}"] == str(P2_AUDIO)

        audio = wait_for(lambda: (a := snmpwalk(agent_port, "aMtBlockTable"))
                         and a.get(f"aMtAudioStatus.{P2_AUDIO}.1") == "true" and a, 30, step=0.5)
        assert {k.split(".", 1)[1] for k in audio} == {f"{AUDIO}.1", f"{P2_AUDIO}.1"}
        for block in (AUDIO, P2_AUDIO):
            assert audio[f"aMtNetworkBlockId.{block}.1"] == str(NET)
        assert audio[f"aMtAudioSignalFormat.{AUDIO}.1"].endswith("audioAacAdts")
        assert audio[f"aMtAudioSignalFormat.{P2_AUDIO}.1"].endswith("audioMpeg1")
        assert audio[f"aMtAudioPId.{P2_AUDIO}.1"] == str(0x201)
    finally:
        if gen is not None:
            gen.stop()
        assert agent.stop() == 0, agent.out
