"""End to end on loopback: `iec62379 generate` -> `iec62379 agent --config` (a [[stream]]) ->
net-snmp's snmpget. rxPointMDI and rxPointTSDF are live and rise when the generator impairs the
stream; video and audio status go false(2) when it stops; the rows fade out, the ids survive a
restart; `iec62379 demo` starts, serves and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.cli.demo import demo_media
from iec62379.collectors.settings import derive_block_id, stream_identity
from iec62379.mibs import paths
from procs import popen

pytestmark = pytest.mark.integration

SYSFS = REPO / "tests" / "fixtures" / "sysfs" / "workstation"
MIBS = "IEC62379-7-MEASUREMENT-MIB:IEC62379-MEDIA-FORMATS-MIB"
NET, AUDIO, VIDEO, RX = 10, 11, 12, 13


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def snmp_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MIBDIRS"] = f"{paths.source_dir()}:{paths.base_source_cache()}"
    env["MIBS"] = MIBS
    return env


def snmpget(port: int, *objects: str) -> list[str]:
    """The values of the objects (net-snmp's text), one per object."""
    proc = subprocess.run(
        [require_tool("snmpget"), "-v2c", "-c", "public", "-t", "2", "-r", "1", "-Oqv",
         f"127.0.0.1:{port}", *objects],
        capture_output=True, text=True, env=snmp_env(), timeout=20,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    values = proc.stdout.splitlines()
    assert len(values) == len(objects), proc.stdout
    return values


def mdi(text: str) -> tuple[float, float]:
    m = re.fullmatch(r'"?(\d+\.\d\d):(\d+\.\d\d)"?', text.strip())
    assert m, text
    return float(m.group(1)), float(m.group(2))


def wait_for(predicate, timeout: float, step: float = 0.25):
    """Poll predicate() until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    pytest.fail(f"condition not met within {timeout} s (last: {last!r})")


class Proc:
    """A child process with its output collected, stopped by SIGTERM (bounded)."""

    def __init__(self, args: list[str], ready: str | None = None, timeout: float = 30) -> None:
        self.p = popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=snmp_env())
        self.out = ""
        if ready is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                line = self.p.stdout.readline()
                if not line:
                    break
                self.out += line
                if ready in line:
                    return
            self.stop()
            pytest.fail(f"{args[:4]} did not start:\n{self.out}")

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.out += self.p.stdout.read() or ""
        self.p.stdout.close()
        return self.p.returncode


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "iec62379.cli.main", *args]


def agent_config(tmp_path: Path, agent_port: int, body: str, access: str = "") -> Path:
    """tmp_path/agent.toml of an agent on udp:127.0.0.1:agent_port with its state in
    tmp_path/state, read by the community "public" from loopback, then `access` (more
    [[access.community]] tables or [access] keys) and `body` (streams, sensors ...)."""
    config = tmp_path / "agent.toml"
    config.write_text(f"""[agent]
listen = ["udp:127.0.0.1:{agent_port}"]
state_dir = "{tmp_path / 'state'}"

[[access.community]]
name = "public"
sources = ["127.0.0.0/8"]
{access}
{body}""")
    return config


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A 30 s stream without loop seams (the demo's recipe: H.264 + MP2 + AC-3, 3 Mbit/s)."""
    return demo_media(tmp_path_factory.mktemp("media"), require_tool("ffmpeg"))


@pytest.fixture()
def agent_setup(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    agent_port, stream_port = free_port(), free_port()
    spare = free_port()
    config = agent_config(tmp_path, agent_port, f"""
[[stream]]
url = "rtp://127.0.0.1:{stream_port}"
name = "under test"
id = {NET}
presence_timeout_s = 1
fade_out_s = 4

[[stream]]                 # no traffic: its id is derived from the address
url = "udp://127.0.0.1:{spare}"

[temperature_sensors]
sysfs_root = "{SYSFS}"
refresh_s = 1
""")
    yield agent_port, stream_port, config


def start_agent(config: Path) -> Proc:
    return Proc(cli("agent", "--config", str(config)), ready="serving")


def generator(media: Path, port: int, *impair: str) -> Proc:
    return Proc(cli("generate", str(media), f"rtp://127.0.0.1:{port}", "--loop", "0", "-q",
                    *impair))


def samples(port: int, count: int) -> list[tuple[float, float, int]]:
    """(DF, MLR, TS-DF) once per second."""
    out = []
    for _ in range(count):
        text_mdi, tsdf = snmpget(port, f"rxPointMDI.{RX}", f"rxPointTSDF.{RX}")
        out.append((*mdi(text_mdi), int(tsdf.split()[0])))  # "222 microseconds"
        time.sleep(1.0)
    return out


def test_live_stream_impairments_stop_fade_and_restart(agent_setup, media):
    agent_port, stream_port, config = agent_setup
    agent = start_agent(config)
    gen = None
    try:
        status = (f"vMtVideoStatus.{VIDEO}", f"aMtAudioStatus.{AUDIO}.1",
                  f"aMtAudioStatus.{AUDIO}.2")
        # before any packet: the network block and its receiver point are there
        assert snmpget(agent_port, f"nMtTxRxPoint.{NET}", f"rxPointMDI.{RX}") == [
            "true", "0.00:0.00"]

        gen = generator(media, stream_port)
        wait_for(lambda: snmpget(agent_port, *status) == ["true"] * 3, 15)
        assert snmpget(agent_port, f"vMtVideoCodingType.{VIDEO}", f"vMtVideoSourceFormat.{VIDEO}",
                       f"aMtAudioSignalFormat.{AUDIO}.1", f"aMtAudioSignalFormat.{AUDIO}.2",
                       f"nMtTransportType.{NET}", f"nMtPortNumber.{NET}") == [
            "IEC62379-MEDIA-FORMATS-MIB::videoH264", "IEC62379-MEDIA-FORMATS-MIB::src1280x720p25",
            "IEC62379-MEDIA-FORMATS-MIB::audioMpeg1", "IEC62379-MEDIA-FORMATS-MIB::audioAc3",
            "rtp", str(stream_port)]
        time.sleep(1.5)  # let a whole interval of steady stream close
        clean = samples(agent_port, 4)
        assert all(mlr == 0 for _, mlr, _ in clean), clean
        assert all(df > 0 for df, _, _ in clean), clean  # live values, not the empty row

        gen.stop()
        # impaired vs clean by what the generator does, by a margin scheduling cannot cross:
        # departures delayed by 0..1000 ms (free to reorder, so not held in order behind the
        # latest) spread TS-DF and DF over ~1 s; a busy machine gave a clean stream ~100 ms
        gen = generator(media, stream_port, "--loss", "5", "--jitter-ms", "1000", "--reorder",
                        "1", "--seed", "1")
        # the first impaired interval closes (however slowly a busy machine starts it)
        wait_for(lambda: samples(agent_port, 1)[0][1] > 0, 30)
        bad = samples(agent_port, 4)
        assert all(mlr > 0 for _, mlr, _ in bad), (clean, bad)
        assert max(t for _, _, t in clean) < 400_000 < min(t for _, _, t in bad), (clean, bad)
        assert max(df for df, _, _ in clean) < 400 < min(df for df, _, _ in bad), (clean, bad)

        gen.stop()
        gen = None
        wait_for(lambda: snmpget(agent_port, *status) == ["false"] * 3, 10)
        assert snmpget(agent_port, f"aMtAudioSignalFormat.{AUDIO}.1") == [
            "IEC62379-MEDIA-FORMATS-MIB::noAudio"]

        # fade-out (4 s): video and audio rows go; the configured network block stays
        wait_for(lambda: "No Such Instance" in snmpget(agent_port, f"vMtVideoStatus.{VIDEO}")[0],
                 10)
        assert "No Such Instance" in snmpget(agent_port, f"aMtAudioStatus.{AUDIO}.1")[0]
        assert snmpget(agent_port, f"nMtTxRxPoint.{NET}", f"rxPointMDI.{RX}") == [
            "true", "0.00:0.00"]
        # the sensors of the fixture tree, as one temperature block
        assert snmpget(agent_port, "temperatureTrend.1000.2", "temperatureLocation.1000.2") == [
            "47 degrees Celsius", "coretemp Package id 0"]
    finally:
        if gen is not None:
            gen.stop()
        rc = agent.stop()
    assert rc == 0, agent.out

    # a restart gives every block the same id (the derived one too)
    spare_port = int(re.search(r'url = "udp://127\.0\.0\.1:(\d+)"', config.read_text()).group(1))
    derived = derive_block_id(stream_identity(None, "127.0.0.1", spare_port, None))
    agent = start_agent(config)
    try:
        assert snmpget(agent_port, f"nMtTxRxPoint.{NET}", f"nMtPortNumber.{derived}",
                       f"rxPointNetworkBlockId.{derived + 3}") == [
            "true", str(spare_port), str(derived)]
    finally:
        assert agent.stop() == 0, agent.out


def test_demo_starts_serves_and_stops(tmp_path: Path):
    require_tool("ffmpeg")
    port, stream_port = free_port(), free_port()
    cache = tmp_path / "cache"  # a fresh cache: the demo makes its stream with ffmpeg
    cache.mkdir()
    for sub in ("mibs", "compiled"):  # the IETF base MIBs, as .ci/setup fetched them
        if (paths.cache_dir() / sub).exists():
            (cache / sub).symlink_to(paths.cache_dir() / sub)
    env = dict(os.environ, IEC62379_CACHE=str(cache))
    p = popen(
        cli("demo", "--port", str(port), "--stream-port", str(stream_port), "--status-every", "1",
            "--duration", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    out = ""
    try:
        deadline = time.monotonic() + 60  # includes making the stream with ffmpeg
        while time.monotonic() < deadline and "temperatureTable" not in out:
            line = p.stdout.readline()
            if not line:
                break
            out += line
        assert "Ctrl-C stops" in out and "snmptable" in out and "rxPointTable" in out, out
        assert (tmp_path / "cache" / "demo").is_dir()

        def live() -> bool:
            proc = subprocess.run(
                [require_tool("snmpget"), "-v2c", "-c", "public", "-t", "2", "-r", "1", "-Oqv",
                 f"127.0.0.1:{port}", "1.0.62379.7.1.3.1.1.4.3", "1.0.62379.7.1.4.1.1.6.4"],
                capture_output=True, text=True, timeout=20)
            lines = proc.stdout.splitlines()
            return proc.returncode == 0 and lines[:1] == ["1"] and lines[1] != '"0.00:0.00"'

        wait_for(live, 20)
        for _ in range(20):  # the status lines (every second)
            line = p.stdout.readline()
            out += line
            if line.startswith("MDI") and "video present videoH264" in line:
                break
        else:
            pytest.fail(f"no status line with live values:\n{out}")
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait(5)
        out += p.stdout.read()
        p.stdout.close()
    assert rc == 0, out
    # the generator child is gone with the demo
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"rtp://127.0.0.1:{stream_port}" not in ps, ps
