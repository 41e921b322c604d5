"""The embedding API: examples/embed.py as a subprocess (asyncio and thread modes, values that
change every second, clean exit on SIGTERM / SIGINT / --once), and Agent.start_in_thread
in-process, read with net-snmp's snmpget."""

from __future__ import annotations

import ipaddress
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.agent.config import AgentConfig, Community, Endpoint
from iec62379.agent.model import (
    NetworkBlock,
    NetworkType,
    RxPoint,
    Temperature,
    TemperatureStatus,
    TransportType,
)
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from procs import popen

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples" / "embed.py"
RX_MDI = "1.0.62379.7.1.4.1.1.6"  # rxPointMDI
TEMPERATURE_TREND = "1.0.62379.7.1.5.1.1.4"  # temperatureTrend
EXAMPLE_RX_ID = 2
EXAMPLE_TEMPERATURE_ID = 3


def snmpget(port: int, *oids: str, timeout_s: float = 0.5) -> subprocess.CompletedProcess[str]:
    """One snmpget (v2c, public), values only; bounded by net-snmp's timeout and ours."""
    exe = require_tool("snmpget")
    return subprocess.run(
        [exe, "-v2c", "-c", "public", "-On", "-Oqv", "-t", str(timeout_s), "-r", "0",
         f"127.0.0.1:{port}", *oids],
        capture_output=True, text=True, timeout=timeout_s + 10,
    )


def poll_value(port: int, oid: str, seconds: float = 20.0) -> str:
    """snmpget until `oid` answers with a value (bounded in tries and time)."""
    deadline = time.monotonic() + seconds
    last = None
    for _ in range(200):
        r = snmpget(port, oid)
        last = r
        out = r.stdout.strip()
        if r.returncode == 0 and out and "No Such" not in out:
            return out
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert last is not None
    pytest.fail(f"{oid} did not answer on port {port} within {seconds} s: "
                f"rc={last.returncode} out={last.stdout!r} err={last.stderr!r}")


class Example:
    """examples/embed.py in a subprocess; its stdout lines are read by a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = popen(
            [sys.executable, str(EXAMPLE), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def port(self, seconds: float = 30.0) -> int:
        """The port from the `listening on udp:127.0.0.1:PORT` line."""
        deadline = time.monotonic() + seconds
        for _ in range(100):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("listening on udp:127.0.0.1:"):
                return int(line.strip().rsplit(":", 1)[1].split(",")[0])
        self.kill()
        pytest.fail(f"embed.py did not report its port within {seconds} s; "
                    f"stderr:\n{self.stderr()}")

    def wait(self, seconds: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"embed.py did not exit within {seconds} s; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def example_factory():
    started: list[Example] = []

    def make(*args: str) -> Example:
        ex = Example(*args)
        started.append(ex)
        return ex

    yield make
    for ex in started:
        ex.kill()


@pytest.mark.parametrize(
    "mode,sig",
    [("async", signal.SIGTERM), ("thread", signal.SIGTERM), ("async", signal.SIGINT)],
    ids=["async-SIGTERM", "thread-SIGTERM", "async-SIGINT"],
)
def test_example_serves_changing_rows_and_stops_cleanly(
    example_factory, mode: str, sig: int
) -> None:
    ex = example_factory(*(["--thread"] if mode == "thread" else []), "0")
    port = ex.port()
    assert port > 0
    mdi_oid = f"{RX_MDI}.{EXAMPLE_RX_ID}"
    first = poll_value(port, mdi_oid)
    t_first = time.monotonic()
    assert first.startswith('"') and ":" in first, first  # "DF:MLR"
    df, mlr = (float(x) for x in first.strip('"').split(":"))
    assert df > 0 and mlr >= 0
    trend = poll_value(port, f"{TEMPERATURE_TREND}.{EXAMPLE_TEMPERATURE_ID}.1")
    assert 30 <= int(trend) <= 70, trend  # the simulated board: 48 +- 6 C

    time.sleep(1.3)
    second = poll_value(port, mdi_oid)
    assert time.monotonic() - t_first > 1.0
    assert second != first, "rxPointMDI did not change: the example's feeder is not publishing"

    assert ex.proc.poll() is None, "embed.py exited by itself"
    ex.proc.send_signal(sig)
    rc = ex.wait()
    err = ex.stderr()
    assert rc == 0, f"exit status {rc} after {signal.Signals(sig).name}; stderr:\n{err}"
    assert "Traceback" not in err, err
    assert "stopped" in err, f"the agent did not stop cleanly; stderr:\n{err}"
    # The port is free again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_example_once_stops_by_itself(example_factory) -> None:
    t0 = time.monotonic()
    ex = example_factory("--once", "2", "0")
    port = ex.port()
    poll_value(port, f"{RX_MDI}.{EXAMPLE_RX_ID}")
    rc = ex.wait(20)
    assert rc == 0, ex.stderr()
    assert 1.5 < time.monotonic() - t0 < 20


def test_example_port_in_use_fails_clearly(example_factory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        busy = s.getsockname()[1]
        ex = example_factory("--once", "5", str(busy))
        rc = ex.wait(30)
        err = ex.stderr()
    assert rc != 0
    assert f"127.0.0.1:{busy}" in err, err


# --- Agent.start_in_thread in-process -----------------------------------------------------------


def _config() -> AgentConfig:
    return AgentConfig(
        source="test_embed",
        listen=(Endpoint("udp", "127.0.0.1", 0),),
        communities=(Community("public", "listener", ("127.0.0.0/8",)),),
    )


def _agent_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "iec62379-agent"]


def test_thread_mode_in_process() -> None:
    store = BlockStore()
    with store.transaction() as t:
        t.put(
            NetworkBlock(10, 1, True, NetworkType.IPV4, TransportType.RTP,
                         ipaddress.ip_address("239.2.2.2").packed, 5004, 2),
            RxPoint(11, 10, buffer_size_ms=100, df_ms=1.5, mlr=0.25),
            Temperature(12, 1, "psu", 41.6, TemperatureStatus.OK),
        )
    before = len(_agent_threads())
    agent = Agent(_config(), store)
    agent.start_in_thread()
    try:
        assert len(_agent_threads()) == before + 1
        (ep,) = agent.endpoints
        assert ep.host == "127.0.0.1" and ep.port > 0
        assert poll_value(ep.port, f"{RX_MDI}.11") == '"1.50:0.25"'
        assert poll_value(ep.port, f"{TEMPERATURE_TREND}.12.1") == "42"

        # Feed from this (another) thread while the agent serves: the next GET sees it.
        with store.transaction() as t:
            t.put(RxPoint(11, 10, buffer_size_ms=100, df_ms=7.25, mlr=3.0))
            t.put(Temperature(12, 1, "psu", 39.2, TemperatureStatus.OK))
        r = snmpget(ep.port, f"{RX_MDI}.11", f"{TEMPERATURE_TREND}.12.1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ['"7.25:3.00"', "39"], r.stdout
    finally:
        agent.stop_thread()
    assert len(_agent_threads()) == before, "the agent's thread is still running after stop_thread"
    # The socket is closed: the port can be bound again, and nothing answers there.
    r = snmpget(ep.port, f"{RX_MDI}.11", timeout_s=0.3)
    assert r.returncode != 0 and "Timeout" in (r.stderr + r.stdout), (r.stdout, r.stderr)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", ep.port))


def test_thread_mode_start_failure_is_raised() -> None:
    """A port in use: start_in_thread raises the bind error in the caller's thread, and leaves
    no agent thread behind."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        busy = s.getsockname()[1]
        cfg = AgentConfig(source="test_embed", listen=(Endpoint("udp", "127.0.0.1", busy),))
        before = len(_agent_threads())
        agent = Agent(cfg, BlockStore())
        with pytest.raises(OSError, match=f"127.0.0.1:{busy}"):
            agent.start_in_thread()
    deadline = time.monotonic() + 5
    while len(_agent_threads()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_agent_threads()) == before


def test_thread_mode_stop_after_failed_start_is_harmless() -> None:
    """The usual `try: agent.start_in_thread() ... finally: agent.stop_thread()` must not turn
    a failed start into a second error from stop_thread."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        busy = s.getsockname()[1]
        cfg = AgentConfig(source="test_embed", listen=(Endpoint("udp", "127.0.0.1", busy),))
        agent = Agent(cfg, BlockStore())
        with pytest.raises(OSError, match=f"127.0.0.1:{busy}"):
            agent.start_in_thread()
    # Let the failed thread finish (it closes its loop on the way out), as it will have in a
    # real program by the time its error is handled.
    deadline = time.monotonic() + 5
    while _agent_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    agent.stop_thread()  # must neither raise nor hang


def test_example_file_is_where_the_docs_say() -> None:
    assert EXAMPLE.is_file()
    text = Path(EXAMPLE).read_text()
    assert "embedding API" in text.split('"""')[1]
