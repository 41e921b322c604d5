"""`iec62379 demo`'s stream: made once with ffmpeg, reused, and a clear refusal without it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.cli.demo import DEMO_MEDIA_VERSION, DemoError, demo_media


def test_without_ffmpeg_the_demo_says_what_to_do(tmp_path: Path):
    with pytest.raises(DemoError) as exc:
        demo_media(tmp_path, None)
    assert "ffmpeg" in str(exc.value) and "--file" in str(exc.value)
    assert not any(tmp_path.iterdir())


def test_a_made_stream_is_reused_without_ffmpeg(tmp_path: Path):
    made = tmp_path / f"demo-v{DEMO_MEDIA_VERSION}.ts"
    made.write_bytes(b"\x47" + bytes(187))
    assert demo_media(tmp_path, None) == made


@pytest.mark.integration
def test_the_stream_ffmpeg_makes(tmp_path: Path):
    path = demo_media(tmp_path, require_tool("ffmpeg"))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    probe = subprocess.run(
        [require_tool("ffprobe"), "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True)
    streams = json.loads(probe.stdout)["streams"]
    assert [(s["codec_name"], int(s["id"], 16)) for s in streams] == [
        ("h264", 0x100), ("mp2", 0x101), ("ac3", 0x102)]
    assert (streams[0]["width"], streams[0]["height"]) == (1280, 720)
