"""Benchmark of our agent as an AgentX subagent of net-snmp's snmpd, on loopback, in one run;
and the helpers that run snmpd as an AgentX master (the integration tests use them too).

What it measures (snmpbulkwalk -v2c -Cr50 by default): after one untimed warm-up walk of each,
`repeat` rounds of one timed walk of each in turn (so the walks compared share the moments of a
shared machine), as varbinds/s = varbinds returned / wall seconds, and the CPU time of each
answering process per varbind:

- `agentx`: our measurement tree (.1.0.62379.7.1) through snmpd, answered by our subagent,
  in turn with
- `snmpd`: snmpd's own hrSWInstalledTable in the same snmpd (the issue's reference: target
  >= 0.3x);
- with `floor`, once our subagent has gone: the same tree through snmpd answered by
  `agentx_floor`'s minimal subagent (one recv, one dict look-up, one send per GetNext), in turn
  with snmpd's own table again (`snmpd_with_floor`): what any Python subagent could reach;
- `standalone`: our own agent on its own port, on the same configuration.

`cpus` pins the bench's process before it starts anything, so every process (snmpd, the
subagents, the standalone agent, the walk clients) runs on those CPUs; the report says each
one's affinity and the load average. The walking and process helpers are `snmp`'s
(`run_walk`, `_process`, `wait_first_answer`).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from iec62379.cli.bench.snmp import (
    COMMUNITY,
    OUR_SUBTREE,
    SNMPD_SUBTREE,
    BenchError,
    _client_env,
    _process,
    _tail,
    _tool,
    free_udp_port,
    run_walk,
    snmpd_version,
    wait_first_answer,
)

#: snmpd.conf lines of a master with an AgentX socket, for `master_conf`. The v3 users are
#: the ones examples/static-blocks.toml declares, so clients use the same credentials on both.
MASTER_CONF = """\
master agentx
agentXSocket unix:{socket}
agentXPerms 0600 0700
agentXTimeout 5
agentXRetries 1
rocommunity {community} 127.0.0.1
rwcommunity {rw_community} 127.0.0.1
createUser monitor SHA example-monitor-auth AES example-monitor-priv
createUser supervisor SHA-256 example-auth-key AES example-priv-key
rouser monitor priv
rwuser supervisor priv
"""


@dataclass(frozen=True)
class Master:
    """A running snmpd master: its process, SNMP port and AgentX socket."""

    proc: Popen[bytes]
    port: int
    socket: Path
    log: Path

    @property
    def address(self) -> str:
        return f"unix:{self.socket}"


def master_conf(folder: Path, rw_community: str = "private", trap_sink: int | None = None) -> Path:
    """Write snmpd.conf for a master whose socket is folder/master; returns its path."""
    text = MASTER_CONF.format(socket=folder / "master", community=COMMUNITY,
                              rw_community=rw_community)
    if trap_sink is not None:
        text += f"trap2sink 127.0.0.1:{trap_sink} {COMMUNITY}\n"
    conf = folder / "snmpd.conf"
    conf.write_text(text)
    return conf


@contextmanager
def snmpd_master(folder: Path, port: int | None = None, trap_sink: int | None = None,
                 snmpd: str | None = None, timeout_s: float = 30.0) -> Iterator[Master]:
    """snmpd as an AgentX master on udp:127.0.0.1:PORT with its socket in `folder`, its
    persistent state in folder/persist; answers before this yields; stopped on exit (SIGTERM,
    then SIGKILL)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = _client_env(folder)
    (folder / "persist").mkdir(exist_ok=True)
    conf = master_conf(folder, trap_sink=trap_sink)
    port = port or free_udp_port()
    sock = folder / "master"
    argv = [snmpd or _tool("snmpd"), "-f", "-Lo", "-C", "-c", str(conf), "-p",
            str(folder / "snmpd.pid"), "-x", f"unix:{sock}", f"udp:127.0.0.1:{port}"]
    log = folder / "snmpd.log"
    with _process(argv, log, env) as (proc, t0):
        wait_first_answer(proc, port, t0, log, timeout_s)
        yield Master(proc, port, sock, log)


def wait_walk(port: int, subtree: str, env: dict[str, str], timeout_s: float) -> float:
    """Seconds until a walk of `subtree` through the agent on `port` returns varbinds (the
    subagent has registered), polling every 50 ms; raises BenchError at the timeout."""
    t0 = time.perf_counter()
    bulk = _tool("snmpbulkwalk")
    while True:
        try:
            run_walk(bulk, port, subtree, env, 10.0)
            return time.perf_counter() - t0
        except BenchError as exc:
            if time.perf_counter() - t0 > timeout_s:
                raise BenchError(f"nothing under {subtree} within {timeout_s} s: {exc}") from exc
            time.sleep(0.05)


def agent_argv(config: Path, state_dir: Path, *options: str) -> list[str]:
    """`iec62379 agent` with this interpreter; `options` e.g. ("--agentx", ADDRESS)."""
    return [sys.executable, "-c", "from iec62379.cli.main import main; main()", "agent",
            "--config", str(config), "--state-dir", str(state_dir), *options]


@dataclass
class WalkFigures:
    name: str
    subtree: str
    instances: int = 0
    vbps: float = 0.0
    walls_s: list[float] = field(default_factory=list)
    # CPU time per varbind returned during the timed walks, of each process that answers
    cpu_us_per_varbind: dict[str, float] = field(default_factory=dict)


def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class AgentXSettings:
    config: Path
    repeat: int = 5
    tool: str = "snmpbulkwalk"
    bulk_repetitions: int = 50
    snmpd_subtree: str = SNMPD_SUBTREE
    snmpd: str | None = None
    timeout_s: float = 600.0
    #: Also walk through the master to `agentx_floor`'s minimal subagent (pre-made answers).
    floor: bool = False
    #: Pin every process of the bench (snmpd, the subagent, the standalone agent, the walk
    #: clients) to these CPUs; None: wherever the scheduler puts them.
    cpus: tuple[int, ...] | None = None


def parse_cpus(text: str) -> tuple[int, ...]:
    """CPU numbers as `taskset -c` takes them: "0", "0,1", "0-3" (sorted, without repeats);
    ValueError with what is wrong, or when a CPU is not one this process may run on."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.strip().partition("-")
        if not _number(first) or (sep and not _number(last)):
            raise ValueError(f"{text!r}: expected CPU numbers such as 0 or 0,1 or 0-3")
        lo, hi = int(first), int(last) if sep else int(first)
        if hi < lo or hi - lo > 4096:
            raise ValueError(f"{text!r}: {part.strip()} is not a range of CPUs")
        cpus.update(range(lo, hi + 1))
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        raise ValueError(f"CPU {min(cpus - allowed)} is not one of this machine's allowed CPUs "
                         f"({','.join(map(str, sorted(allowed)))})")
    return tuple(sorted(cpus))


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


@contextmanager
def pinned(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """This process (and so every process it starts meanwhile) on `cpus`; put back on exit."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _affinity(pid: int) -> list[int]:
    return sorted(os.sched_getaffinity(pid))


@dataclass
class Walk:
    """One kind of walk: `name`'s figures, of `subtree` on `port`; `procs` are the processes
    whose CPU time is read around each of its walks."""

    name: str
    port: int
    subtree: str
    procs: dict[str, Popen[bytes]]


def _measure(walks: list[Walk], env: dict[str, str], s: AgentXSettings) -> list[WalkFigures]:
    """One untimed warm-up walk of each, then `repeat` rounds of one timed walk of each in
    turn, so that the walks compared share the machine's moments (it is shared: a busy second
    would otherwise fall on one side only)."""
    tool = _tool(s.tool)
    figs = [WalkFigures(w.name, w.subtree) for w in walks]
    totals = [0] * len(walks)
    cpu = [dict.fromkeys(w.procs, 0.0) for w in walks]
    for w, fig in zip(walks, figs, strict=True):
        _wall, fig.instances, _ = run_walk(tool, w.port, w.subtree, env, s.timeout_s,
                                           s.bulk_repetitions)
    for _ in range(s.repeat):
        for k, (w, fig) in enumerate(zip(walks, figs, strict=True)):
            cpu0 = {name: cpu_s(p.pid) for name, p in w.procs.items()}
            wall, n, _ = run_walk(tool, w.port, w.subtree, env, s.timeout_s, s.bulk_repetitions)
            for name, p in w.procs.items():
                cpu[k][name] += cpu_s(p.pid) - cpu0[name]
            fig.walls_s.append(wall)
            totals[k] += n
    for k, fig in enumerate(figs):
        fig.vbps = totals[k] / sum(fig.walls_s)
        fig.cpu_us_per_varbind = {name: t / totals[k] * 1e6 for name, t in cpu[k].items()}
    return figs


def run_agentx_bench(s: AgentXSettings) -> dict[str, Any]:
    """Subagent through snmpd, snmpd's own table, our standalone agent; the report as a dict."""
    if s.repeat < 1:
        raise BenchError("repeat must be at least 1")
    if not s.config.is_file():
        raise BenchError(f"no such configuration: {s.config}")
    if s.cpus is not None:
        allowed = os.sched_getaffinity(0)
        if not s.cpus or not set(s.cpus) <= allowed:
            raise BenchError(f"cpus {list(s.cpus)}: not a non-empty set of the allowed CPUs "
                             f"{sorted(allowed)}")
    with pinned(s.cpus):
        return _run(s)


def _run(s: AgentXSettings) -> dict[str, Any]:
    affinity: dict[str, list[int]] = {"bench": _affinity(0)}
    load_before = _loadavg()
    with tempfile.TemporaryDirectory(prefix="iec62379-bench-agentx-") as d:
        tmp = Path(d)
        env = _client_env(tmp)
        with snmpd_master(tmp / "master", snmpd=s.snmpd) as master:
            argv = agent_argv(s.config, tmp / "sub-state", "--agentx", master.address)
            with _process(argv, tmp / "subagent.log") as (proc, _t0):
                try:
                    registered_s = wait_walk(master.port, OUR_SUBTREE, env, 60.0)
                except BenchError as exc:
                    raise BenchError(f"{exc}\n{_tail(tmp / 'subagent.log')}") from exc
                if proc.poll() is not None:
                    raise BenchError(f"the subagent exited:\n{_tail(tmp / 'subagent.log')}")
                affinity["snmpd"] = _affinity(master.proc.pid)
                affinity["subagent"] = _affinity(proc.pid)
                through, own = _measure([
                    Walk("agentx", master.port, OUR_SUBTREE,
                         {"snmpd": master.proc, "subagent": proc}),
                    Walk("snmpd", master.port, s.snmpd_subtree, {"snmpd": master.proc}),
                ], env, s)
            floor = _measure_floor(s, master, env, tmp) if s.floor else None
        port = free_udp_port()
        argv = agent_argv(s.config, tmp / "own-state", "--listen", f"udp:127.0.0.1:{port}")
        with _process(argv, tmp / "agent.log") as (proc, t0):
            wait_first_answer(proc, port, t0, tmp / "agent.log", 60.0)
            affinity["standalone"] = _affinity(proc.pid)
            (alone,) = _measure([Walk("standalone", port, OUR_SUBTREE, {"agent": proc})], env, s)
    ratio = through.vbps / own.vbps
    report: dict[str, Any] = {
        "settings": {"config": str(s.config), "repeat": s.repeat, "tool": s.tool,
                     "bulk_repetitions": s.bulk_repetitions,
                     "cpus": list(s.cpus) if s.cpus is not None else None},
        "agentx": asdict(through),
        "snmpd": asdict(own),
        "standalone": asdict(alone),
        "registered_s": registered_s,
        "ratios": {"agentx_over_snmpd": ratio, "agentx_over_standalone": through.vbps / alone.vbps},
        "target": {"label": "AgentX varbinds/s / snmpd's own", "target": ">= 0.3",
                   "value": ratio, "met": ratio >= 0.3},
        "environment": {"python": platform.python_version(), "snmpd": snmpd_version(s.snmpd),
                        "platform": platform.platform(), "cpus": os.cpu_count(),
                        "affinity": affinity,
                        "loadavg": {"before": load_before, "after": _loadavg()}},
    }
    if floor is not None:
        report["floor"], report["snmpd_with_floor"] = asdict(floor[0]), asdict(floor[1])
        report["ratios"]["floor_over_snmpd"] = floor[0].vbps / floor[1].vbps
    return report


def _measure_floor(s: AgentXSettings, master: Master, env: dict[str, str],
                   tmp: Path) -> tuple[WalkFigures, WalkFigures]:
    """Our subtree through the master again, answered by `agentx_floor` (started once our
    subagent has gone), in turn with snmpd's own table: both figures."""
    argv = [sys.executable, "-c", "from iec62379.cli.bench.agentx_floor import main; main()",
            str(s.config), str(master.socket), OUR_SUBTREE]
    with _process(argv, tmp / "floor.log") as (proc, _t0):
        try:
            wait_walk(master.port, OUR_SUBTREE, env, 60.0)
        except BenchError as exc:
            raise BenchError(f"{exc}\n{_tail(tmp / 'floor.log')}") from exc
        floor, own = _measure([
            Walk("floor", master.port, OUR_SUBTREE, {"snmpd": master.proc, "floor": proc}),
            Walk("snmpd", master.port, s.snmpd_subtree, {"snmpd": master.proc}),
        ], env, s)
    return floor, own


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def format_agentx_report(r: dict[str, Any]) -> str:
    st = r["settings"]
    tool = st["tool"] + (f" -Cr{st['bulk_repetitions']}" if st["tool"] == "snmpbulkwalk" else "")
    env = r["environment"]
    where = ("pinned to CPUs " + ",".join(map(str, st["cpus"])) if st.get("cpus") is not None
             else "not pinned")
    lines = [f"AgentX benchmark: {st['config']}, {st['repeat']} x {tool}; snmpd "
             f"{env['snmpd']}; {where}; load average "
             f"{env['loadavg']['before']} before, {env['loadavg']['after']} after", ""]
    rows = [("", "subtree", "instances", "varbinds/s", "CPU us/varbind")]
    for key, label in (("agentx", "ours through snmpd (AgentX)"),
                       ("snmpd", "snmpd's own table, same snmpd"),
                       ("floor", "minimal subagent (--floor)"),
                       ("snmpd_with_floor", "snmpd's own table, in turn with it"),
                       ("standalone", "our standalone agent")):
        if key not in r:
            continue
        f = r[key]
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in f["cpu_us_per_varbind"].items())
        rows.append((label, f["subtree"], f"{f['instances']:,}", f"{f['vbps']:,.0f}", cpu))
    w = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append(f"{row[0]:<{w[0]}}  {row[1]:<{w[1]}}  {row[2]:>{w[2]}}  {row[3]:>{w[3]}}  "
                     f"{row[4]}".rstrip())
    q = r["ratios"]
    t = r["target"]
    lines += ["", f"AgentX / snmpd's own: {q['agentx_over_snmpd']:.3f}x "
              f"({'met' if t['met'] else 'NOT met'}: target {t['target']})",
              f"AgentX / standalone: {q['agentx_over_standalone']:.3f}x",
              *([f"minimal subagent (--floor) / snmpd's own: {q['floor_over_snmpd']:.3f}x"]
                if "floor_over_snmpd" in q else []),
              f"registered and walkable {r['registered_s']:.2f} s after the subagent started"]
    return "\n".join(lines)

