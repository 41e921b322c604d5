"""Benchmark of [[notify]] delivery: acknowledged INFORMs per second from our agent to net-snmp's
snmptrapd on loopback (v2c and v3 authPriv), one INFORM in flight at a time, each one written
to the target's persisted outbox (fsync'd) before it is sent and removed (fsync'd) when its
Response arrives.

For each version: the agent runs in this process (start_in_thread) with one INFORM target;
once its coldStart is acknowledged, `count` notifications are submitted at once and the clock
runs until the last is acknowledged (INFORMs/s = count / that time; queueing, with one fsync
per notification, overlaps the delivery). snmptrapd logs every notification to a file; the run
fails unless it logged each one. Each version runs `repeat` times (alternating); the report
gives every run and the median: fsync latency on a shared disk varies from run to run.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iec62379.cli.bench.snmp import BenchError, _process, _tail, _tool, free_udp_port

ENGINE_ID = "80007ed905b0b1b2b3b4b5"
USER, AUTH_KEY, PRIV_KEY = "bench", "bench-auth-key", "bench-priv-key"
TRAP = (1, 3, 6, 1, 4, 1, 32473, 99, 0, 1)


@dataclass
class NotifySettings:
    count: int = 2000
    versions: tuple[str, ...] = ("v2c", "v3")
    persist: bool = True
    repeat: int = 3
    timeout_s: float = 120.0


@dataclass
class NotifyFigures:
    version: str
    count: int
    submit_s: float = 0.0  # queueing all `count` (outbox writes included)
    deliver_s: float = 0.0  # from the first submit to the last acknowledgement
    acked_per_s: float = 0.0
    retried: int = 0
    logged: int = 0  # notifications snmptrapd logged


@dataclass
class NotifyReport:
    settings: dict[str, Any]
    host: dict[str, Any] = field(default_factory=dict)
    runs: list[NotifyFigures] = field(default_factory=list)


def _trapd_conf(folder: Path) -> Path:
    conf = folder / "snmptrapd.conf"
    conf.write_text(f"authCommunity log traps\ncreateUser {USER} SHA-256 {AUTH_KEY} AES "
                    f"{PRIV_KEY}\nauthUser log {USER} priv\nformat2 N %v\\n\n")
    return conf


def _agent_text(folder: Path, version: str, port: int, count: int, persist: bool) -> str:
    who = f"user = '{USER}'" if version == "v3" else "community = 'traps'"
    state = f"state_dir = '{folder / ('state-' + version)}'\n" if persist else ""
    return (f"[agent]\nlisten = ['udp:127.0.0.1:{free_udp_port()}']\n"
            f"engine_id = '{ENGINE_ID}'\n{state}"
            f"[[access.user]]\nname = '{USER}'\nauth_key = '{AUTH_KEY}'\n"
            f"priv_key = '{PRIV_KEY}'\n"
            f"[[notify]]\ntarget = 'udp:127.0.0.1:{port}'\nkind = 'inform'\n{who}\n"
            f"outbox_size = {count + 10}\nrate_per_minute = 60000\n")


def _wait(pred: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out: {what}")
        time.sleep(0.002)


def run_one(folder: Path, version: str, s: NotifySettings) -> NotifyFigures:
    from iec62379.agent.ber import OCTET_STRING
    from iec62379.agent.config import parse_config
    from iec62379.agent.runner import Agent

    port = free_udp_port()
    log = folder / f"traps-{version}.log"
    persist = folder / f"trapd-{version}"
    persist.mkdir()
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(persist), MIBS="")
    argv = [_tool("snmptrapd"), "-f", "-C", "-c", str(_trapd_conf(folder)), "-Lf", str(log),
            "-On", f"udp:127.0.0.1:{port}"]
    fig = NotifyFigures(version, s.count)
    with _process(argv, folder / f"snmptrapd-{version}.out", env) as (proc, _t0):
        _wait(lambda: log.exists() and "NET-SNMP version" in log.read_text(errors="replace"),
              20, "snmptrapd start: " + _tail(folder / f"snmptrapd-{version}.out"))
        agent = Agent(parse_config(_agent_text(folder, version, port, s.count, s.persist),
                                   "bench-notify.toml"))
        agent.start_in_thread()
        try:
            key = f"udp:127.0.0.1:{port}"
            _wait(lambda: agent.notifier.counters()[key]["acknowledged"] >= 1, 20,
                  "the coldStart INFORM acknowledged")
            vbs = [((1, 3, 6, 1, 2, 1, 1, 5, 0), OCTET_STRING, b"bench")]
            t0 = time.perf_counter()
            for _ in range(s.count):
                agent.notify(TRAP, vbs, name="bench")
            fig.submit_s = time.perf_counter() - t0
            _wait(lambda: agent.notifier.counters()[key]["acknowledged"] >= s.count + 1,
                  s.timeout_s, f"{s.count} INFORMs acknowledged")
            fig.deliver_s = time.perf_counter() - t0
            fig.retried = agent.notifier.counters()[key]["retried"]
        finally:
            agent.stop_thread()
        if proc.poll() is not None:
            raise BenchError("snmptrapd exited: " + _tail(folder / f"snmptrapd-{version}.out"))
    fig.logged = log.read_text(errors="replace").count("\nN ") + \
        log.read_text(errors="replace").startswith("N ")
    if fig.logged < s.count + 1:
        raise BenchError(f"snmptrapd logged {fig.logged} notifications, not {s.count + 1}")
    fig.acked_per_s = s.count / fig.deliver_s
    return fig


def run_notify_bench(s: NotifySettings) -> NotifyReport:
    proc = subprocess.run([_tool("snmptrapd"), "--version"], capture_output=True, text=True)
    version = (proc.stdout + proc.stderr).split("\n")
    report = NotifyReport(settings=asdict(s), host={
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "snmptrapd": next((ln.split(":", 1)[1].strip() for ln in version
                           if "net-snmp version" in ln.lower()), "?")})
    with tempfile.TemporaryDirectory(prefix="iec62379-bench-notify-") as tmp:
        for i in range(s.repeat):
            for v in s.versions:
                folder = Path(tmp) / f"{v}-{i}"
                folder.mkdir()
                report.runs.append(run_one(folder, v, s))
    return report


def format_report(r: NotifyReport) -> str:
    outbox = "persisted" if r.settings["persist"] else "in memory"
    out = [f"acknowledged INFORMs to snmptrapd {r.host['snmptrapd']} on loopback "
           f"({r.settings['count']} per run, outbox {outbox}; "
           f"Python {r.host['python']}, {r.host['cpus']} CPUs)",
           f"{'version':8} {'INFORMs/s':>10} {'deliver s':>10} {'submit s':>9} {'retried':>8}"]
    for f in r.runs:
        out.append(f"{f.version:8} {f.acked_per_s:10.0f} {f.deliver_s:10.2f} {f.submit_s:9.3f} "
                   f"{f.retried:8d}")
    for v in dict.fromkeys(f.version for f in r.runs):
        rates = sorted(f.acked_per_s for f in r.runs if f.version == v)
        out.append(f"{v}: median {statistics.median(rates):.0f} INFORMs/s, best {rates[-1]:.0f} "
                   f"({len(rates)} runs)")
    return "\n".join(out)


__all__ = ["NotifyFigures", "NotifyReport", "NotifySettings", "format_report",
           "run_notify_bench"]
