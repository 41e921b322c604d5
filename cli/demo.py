"""`iec62379 demo`: the agent and the stream generator on loopback, every table live.

The demo makes a short MPEG-TS with ffmpeg (H.264 1280x720p25 with two audio components,
MPEG-1 Layer II and AC-3, constant 3 Mbit/s; kept in the user cache, made once), starts the
agent on 127.0.0.1 with one configured stream at rtp://127.0.0.1:STREAM-PORT and the host's
temperature sensors, and runs ``iec62379 generate`` in a child process sending the file there
in a loop, PCR-paced. It prints the net-snmp commands to look at the tables and, every few
seconds, one line with what the agent serves for the stream.

Without ffmpeg the demo cannot make its stream: it says so and stops, unless ``--file`` names
an MPEG-TS file to send instead.

Ctrl-C or SIGTERM stops the generator and the agent; the exit status is 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from iec62379.agent.store import BlockStore

#: Bump when the demo stream's recipe changes, so an old cached file is not reused.
DEMO_MEDIA_VERSION = 1
DEMO_SECONDS = 30
MIBS = "IEC62379-7-MEASUREMENT-MIB:IEC62379-MEDIA-FORMATS-MIB"


class DemoError(click.ClickException):
    exit_code = 2


def ffmpeg_command(ffmpeg: str, out: Path, seconds: int = DEMO_SECONDS) -> list[str]:
    """The ffmpeg command that makes the demo stream (lavfi test sources, nothing fetched)."""
    # fmt: off
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-t", str(seconds), "-i", "testsrc2=size=1280x720:rate=25",
        "-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=1000:sample_rate=48000",
        "-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=440:sample_rate=48000",
        "-map", "0:v", "-map", "1:a", "-map", "2:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high",
        "-x264-params", "nal-hrd=cbr:force-cfr=1:sar=1/1",
        "-b:v", "2000k", "-maxrate", "2000k", "-minrate", "2000k", "-bufsize", "2000k",
        "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a:0", "mp2", "-b:a:0", "128k", "-ac:a:0", "2",
        "-c:a:1", "ac3", "-b:a:1", "128k", "-ac:a:1", "2",
        "-streamid", "0:256", "-streamid", "1:257", "-streamid", "2:258",
        "-f", "mpegts", "-muxrate", "3000000", "-mpegts_flags", "+pat_pmt_at_frames",
        "-pcr_period", "20",
        str(out),
    ]
    # fmt: on


def demo_media(cache: Path, ffmpeg: str | None) -> Path:
    """The demo stream in ``cache``, made with ffmpeg when missing (written to a temporary
    name, then renamed, so an interrupted run never leaves half a file)."""
    path = cache / f"demo-v{DEMO_MEDIA_VERSION}.ts"
    if path.is_file() and path.stat().st_size > 0:
        return path
    if ffmpeg is None:
        raise DemoError(
            "the demo makes its stream with ffmpeg, which is not installed "
            "(apt install ffmpeg), or give an MPEG-TS file to send with --file FILE.ts"
        )
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".ts", prefix=".demo-", dir=cache)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        proc = subprocess.run(ffmpeg_command(ffmpeg, tmp), capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0 or tmp.stat().st_size == 0:
            raise DemoError(f"ffmpeg could not make the demo stream: {proc.stderr.strip()[-500:]}")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the demo dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def snmp_hints(port: int) -> str:
    from iec62379.mibs import paths

    mdirs = f"+{paths.source_dir()}:{paths.base_source_cache()}"
    head = f"-v2c -c public -M {mdirs} -m {MIBS} 127.0.0.1:{port}"
    lines = [
        "Look at it from another terminal:",
        f"  snmpwalk {head} measurementMIB",
        *(f"  snmptable -Ci {head} {t}" for t in (
            "nMtBlockTable", "aMtBlockTable", "vMtBlockTable", "rxPointTable",
            "temperatureTable")),
        f"  snmpget -v2c -c public 127.0.0.1:{port} 1.0.62379.7.1.4.1.1.6.4 "
        "1.0.62379.7.1.4.1.1.7.4     # rxPointMDI, rxPointTSDF (numeric)",
    ]
    if not (paths.base_source_cache() / "IF-MIB").exists() and not any(
        paths.base_source_cache().glob("IF-MIB*")
    ):
        lines.append("  (the names need the IETF base MIBs: iec62379 mib fetch-base)")
    return "\n".join(lines)


def status_line(store: BlockStore, network_id: int) -> str:
    """One line on what the agent serves for the demo stream now."""
    from iec62379.agent.model import AudioComponent, RxPoint, VideoBlock

    snap = store.snapshot
    rx = next((r for r in snap.rx.values() if r.network_block_id == network_id), None)
    video = next((v for v in snap.video.values() if v.network_block_id == network_id), None)
    audio = [a for a in snap.audio.values() if a.network_block_id == network_id]
    parts = []
    if isinstance(rx, RxPoint):
        parts.append(f"MDI {rx.mdi}  TS-DF {rx.tsdf_us} us  buffer {rx.occupancy_ms} ms "
                     f"({rx.occupancy_percent} %)")
    if isinstance(video, VideoBlock):
        state = "present" if video.status else "absent"
        parts.append(f"video {state} {video.coding_type} {video.source_format} "
                     f"{video.bit_rate_kbps} kbit/s")
    else:
        parts.append("video -")
    texts = [f"{a.component}:{a.signal_format}" for a in audio if isinstance(a, AudioComponent)]
    parts.append("audio " + (" ".join(texts) or "-"))
    parts.append(f"{len(snap.temperature)} temperature row(s)")
    return "  ".join(parts)


@click.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=1161, show_default=True,
              help="UDP port of the agent on 127.0.0.1.")
@click.option("--stream-port", type=click.IntRange(1, 65530), default=5004, show_default=True,
              help="UDP port of the demo stream on 127.0.0.1.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Send this MPEG-TS file instead of the stream ffmpeg makes.")
@click.option("--loss", type=click.FloatRange(0.0, 100.0), default=0.0,
              help="Random datagram loss of the generator, percent (MDI's MLR rises).")
@click.option("--jitter-ms", type=click.FloatRange(0.0, 1000.0), default=0.0,
              help="Random extra delay per datagram, 0..N ms (DF and TS-DF rise).")
@click.option("--duration", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Stop by itself after this many seconds.")
@click.option("--status-every", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between status lines.")
def demo(port: int, stream_port: int, file: Path | None, loss: float, jitter_ms: float,
         duration: float | None, status_every: float) -> None:
    """The agent plus a generated stream on loopback: all five tables with live values."""
    import logging

    from iec62379.agent.config import AgentConfig, Community, ConfigError, Endpoint
    from iec62379.collectors.compose import build_agent
    from iec62379.collectors.settings import Settings, StreamSettings
    from iec62379.collectors.sources.url import parse_stream_url
    from iec62379.mibs import paths
    from iec62379.mibs.compiler import MibCompileError

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    media = file if file is not None else demo_media(paths.cache_dir() / "demo",
                                                      shutil.which("ffmpeg"))
    url = f"rtp://127.0.0.1:{stream_port}"
    stream = StreamSettings(url=parse_stream_url(url), name="demo", block_id=1,
                            buffer_ms=1000, fade_out_s=30.0)
    config = AgentConfig(
        source="iec62379 demo",
        listen=(Endpoint("udp", "127.0.0.1", port),),
        communities=(Community("public", "listener", ("127.0.0.0/8",)),),
    )
    try:
        agent, collectors = build_agent(Settings(agent=config, streams=(stream,)))
    except (ConfigError, MibCompileError) as exc:
        raise DemoError(str(exc)) from exc
    generate = [sys.executable, "-m", "iec62379.cli.main", "generate", str(media), url,
                "--loop", "0", "-q"]
    if loss:
        generate += ["--loss", f"{loss:g}"]
    if jitter_ms:
        generate += ["--jitter-ms", f"{jitter_ms:g}"]

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await agent.start()
        gen = subprocess.Popen(generate, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=_die_with_parent)
        rc = 0
        try:
            click.echo(
                f"iec62379 demo: agent on udp:127.0.0.1:{port} (community public, read-only), "
                f"stream {url} = network block 1, audio 2, video 3, receiver point 4;\n"
                f"sending {media} in a loop (pid {gen.pid})"
                + (f" with {loss:g} % loss" if loss else "")
                + (f" with 0..{jitter_ms:g} ms jitter" if jitter_ms else "")
                + ". Ctrl-C stops.\n" + snmp_hints(port),
            )
            if collectors is None or collectors.sensors is None or not len(
                agent.store.snapshot.temperature
            ):
                click.echo("This host shows no temperature sensor (hwmon, thermal zones, "
                           "psutil): temperatureTable stays empty.")
            deadline = None if duration is None else loop.time() + duration
            while not stop.is_set():
                wait = status_every
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - loop.time()))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if gen.poll() is not None:
                    err = gen.stderr.read().strip() if gen.stderr else ""
                    click.echo(f"the generator stopped (status {gen.returncode}): {err[-500:]}",
                               err=True)
                    rc = 1
                    break
                if not stop.is_set():
                    click.echo(status_line(agent.store, 1))
                if deadline is not None and loop.time() >= deadline:
                    break
        finally:
            if gen.poll() is None:
                gen.terminate()
                try:
                    gen.wait(5)
                except subprocess.TimeoutExpired:
                    gen.kill()
                    gen.wait(5)
            if gen.stderr:
                gen.stderr.close()
            await agent.stop()
        return rc

    try:
        rc = asyncio.run(main())
    except OSError as exc:
        raise click.ClickException(str(exc)) from exc
    if rc:
        sys.exit(rc)
