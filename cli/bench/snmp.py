"""Benchmark of our SNMP agent against net-snmp's snmpd, on loopback, in one run.

What it measures, for both agents (each started on a free 127.0.0.1 port, one after the other):

- start: wall time from just before the process is spawned to the first answer to a GET of
  sysUpTime.0 (polled from Python over a raw UDP socket every few ms, bounded);
- snmpbulkwalk -v2c -Cr50 and snmpwalk -v2c over the measured subtree, `repeat` times each after
  one untimed warm-up walk: varbinds/s = varbinds returned / wall seconds (client process
  included, the same client for both agents);
- GET latency: `gets` sequential single-varbind v2c GETs of one instance in the middle of the
  subtree, sent from Python over a connected UDP socket with a prebuilt request (BER encoded by
  hand here; only the request-id bytes are patched per request) and timed from send() to the
  matching recv() -> p50 and p99 in ms;
- RSS (VmRSS and VmHWM from /proc/PID/status) after the walks and the GETs;
- the same walks and GETs over SNMPv3 authPriv (SHA-256 / AES-128, user BENCH_USER): our
  agent gets the user appended to its configuration (so start and RSS are with v3 users),
  snmpd gets it with createUser in its temporary persistent folder. The GETs come from a
  Python client built on the agent's own message encoder (`v3.encode_message`), after one
  discovery exchange.

Our agent serves the IEC 62379-7 tables under .1.0.62379.7.1; snmpd has no such tables, so it
is measured on one of its own subtrees of similar size. The default is hrSWInstalledTable
(.1.3.6.1.2.1.25.6.3, one row per installed package: about 4,000 instances on a Debian host);
the instance counts of both subtrees are part of the report so the comparison can be judged.

This module only runs processes and parses their output: no pysnmp here.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iec62379.agent import ber
from iec62379.agent.usm import UsmUser

OUR_SUBTREE = ".1.0.62379.7.1"
SNMPD_SUBTREE = ".1.3.6.1.2.1.25.6.3"  # HOST-RESOURCES-MIB::hrSWInstalledTable
SYS_UPTIME_0 = ".1.3.6.1.2.1.1.3.0"
COMMUNITY = "public"

# The targets: (key in AgentFigures / ratios, label, comparison, bound)
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("bulkwalk_ratio", "snmpbulkwalk -Cr50 varbinds/s, ours / snmpd", ">=", 0.3),
    ("walk_ratio", "snmpwalk varbinds/s, ours / snmpd", ">=", 0.3),
    ("get_p50_ms", "GET p50 (ms)", "<=", 0.4),
    ("start_s", "start to first answer (s)", "<=", 0.5),
    ("rss_mib", "RSS after the walks, with v3 users (MiB)", "<=", 40.0),
    ("v3_bulkwalk_vs_v2c", "v3 authPriv snmpbulkwalk varbinds/s, ours v3 / ours v2c", ">=", 0.5),
    ("v3_bulkwalk_ratio", "v3 authPriv snmpbulkwalk varbinds/s, ours / snmpd", ">=", 0.3),
)
BENCH_USER, BENCH_AUTH, BENCH_PRIV = "benchuser", "bench-auth-key", "bench-priv-key"
V3_ARGS = ("-v3", "-l", "authPriv", "-u", BENCH_USER, "-a", "SHA-256", "-A", BENCH_AUTH,
           "-x", "AES", "-X", BENCH_PRIV)


class BenchError(RuntimeError):
    """A process did not start, answer or stop as expected."""


@dataclass
class AgentFigures:
    name: str
    subtree: str
    instances: int = 0
    start_s: float = 0.0
    bulkwalk_vbps: float = 0.0
    bulkwalk_s: list[float] = field(default_factory=list)
    walk_vbps: float = 0.0
    walk_s: list[float] = field(default_factory=list)
    get_oid: str = ""
    get_p50_ms: float = 0.0
    get_p99_ms: float = 0.0
    get_mean_ms: float = 0.0
    gets: int = 0
    rss_mib: float = 0.0
    hwm_mib: float = 0.0
    v3_bulkwalk_vbps: float = 0.0
    v3_walk_vbps: float = 0.0
    v3_get_p50_ms: float = 0.0
    v3_get_p99_ms: float = 0.0
    reported_start_ms: float | None = None  # our agent's own "started in N ms" (engine build)


@dataclass
class BenchSettings:
    config: Path
    repeat: int = 5
    gets: int = 2000
    warmup_gets: int = 100
    bulk_repetitions: int = 50
    our_subtree: str = OUR_SUBTREE
    snmpd_subtree: str = SNMPD_SUBTREE
    snmpd: str | None = None
    agent_command: tuple[str, ...] | None = None  # default: this interpreter + iec62379.cli.main
    start_timeout_s: float = 60.0
    walk_timeout_s: float = 600.0


# --- a v2c GET and its response (the agent's BER codec) ------------------------------------


class GetPacket:
    """A prebuilt SNMPv2c GetRequest for one OID; `packet(request_id)` patches 4 bytes."""

    def __init__(self, community: str, oid: str) -> None:
        arcs = tuple(int(a) for a in oid.strip(".").split("."))
        varbind = ber.varbind(ber.encode_oid(arcs), b"\x05\x00")
        # request-id as a 4-byte INTEGER (ids stay in 1..2**31-1, so always positive)
        sentinel = b"\x7f\xa5\x5a\x7e"
        rid = b"\x02\x04" + sentinel
        status = b"\x02\x01\x00" + b"\x02\x01\x00"  # error-status, error-index
        pdu = ber.tlv(ber.GET, rid + status + ber.tlv(ber.SEQUENCE, varbind))
        head = b"\x02\x01\x01" + ber.tlv(ber.OCTET_STRING, community.encode())  # v2c, community
        msg = ber.tlv(ber.SEQUENCE, head + pdu)
        self._template = bytearray(msg)
        self._rid_at = msg.index(b"\x02\x04" + sentinel, msg.index(b"\xa0")) + 2

    def packet(self, request_id: int) -> bytes:
        self._template[self._rid_at : self._rid_at + 4] = request_id.to_bytes(4, "big")
        return bytes(self._template)

    @staticmethod
    def parse(buf: bytes) -> tuple[int, int, int]:
        return parse_response(buf)


class V3Get:
    """SNMPv3 authPriv GETs of one OID as BENCH_USER (SHA-256 / AES-128) over a connected
    socket: discovery first (the agent's engine ID, boots and time), then each request is
    encrypted and authenticated like a real client's; `parse` decrypts the Response."""

    def __init__(self, sock: socket.socket, oid: str) -> None:
        from iec62379.agent import v3
        from iec62379.agent.hostmib import SnmpCounters

        self._v3, self._counters = v3, SnmpCounters()
        self._oid = tuple(int(a) for a in oid.strip(".").split("."))
        probe = v3.encode_message(1, 65507, v3.REPORTABLE, b"", 0, 0, b"", None,
                                  ber.encode_pdu(ber.GET, 1, 0, 0, []))
        sock.send(probe)
        m = v3.parse_header(sock.recv(65535), self._counters)
        self._engine, self._boots, self._time0 = m.engine_id, m.boots, m.time
        self._t0 = time.monotonic()
        self._user = UsmUser.make(BENCH_USER, m.engine_id, "sha256", BENCH_AUTH, "aes128",
                                  BENCH_PRIV)

    def packet(self, request_id: int) -> bytes:
        v3 = self._v3
        now = self._time0 + int(time.monotonic() - self._t0)
        vb = ber.varbind(ber.encode_oid(self._oid), b"\x05\x00")
        return v3.encode_message(request_id, 65507, v3.AUTH | v3.PRIV | v3.REPORTABLE,
                                 self._engine, self._boots, now, BENCH_USER.encode(), self._user,
                                 ber.encode_pdu(ber.GET, request_id, 0, 0, [vb]))

    def parse(self, buf: bytes) -> tuple[int, int, int]:
        """(msgID = request-id, error-status, first value's tag) of a Response."""
        m = self._v3.parse_header(buf, self._counters)
        s, e = m.data
        plain = self._user.cipher.decrypt(buf[s:e], m.priv_params, m.boots, m.time)
        _t, cs, ce = ber.read_tlv(plain, 0, len(plain))
        _s, at = ber.read_expected(plain, cs, ce, ber.OCTET_STRING, "contextEngineID")
        _s, at = ber.read_expected(plain, at, ce, ber.OCTET_STRING, "contextName")
        tag, ps, pe = ber.read_tlv(plain, at, ce)
        r = ber.decode_pdu(plain, tag, ps, pe, ber.V3)
        if tag != ber.RESPONSE:
            raise ValueError(f"not a Response-PDU (tag 0x{tag:02x})")
        return m.msg_id, r.error_status, r.varbinds[0][1] if r.varbinds else -1


def parse_response(buf: bytes) -> tuple[int, int, int]:
    """(request-id, error-status, tag of the first varbind's value) of a v2c Response."""
    m = ber.decode_message(buf)
    if m.pdu_type != ber.RESPONSE:
        raise ValueError(f"not a Response-PDU (tag 0x{m.pdu_type:02x})")
    return m.request_id, m.error_status, m.varbinds[0][1] if m.varbinds else -1


# --- processes ----------------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@contextmanager
def _process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Spawn argv (stdout and stderr to `log`); yields (process, spawn time); always stops it."""
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            yield proc, t0
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)
    except ProcessLookupError:
        pass


def wait_first_answer(
    proc: subprocess.Popen[bytes], port: int, t0: float, log: Path, timeout_s: float
) -> float:
    """Seconds from t0 to the first Response to a GET of sysUpTime.0 (raw UDP, polled)."""
    get = GetPacket(COMMUNITY, SYS_UPTIME_0)
    deadline = t0 + timeout_s
    rid = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(0.01)
        while True:
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(
                    f"no answer on udp:127.0.0.1:{port} within {timeout_s} s:\n{_tail(log)}"
                )
            if proc.poll() is not None:
                raise BenchError(f"{proc.args[0]} exited with {proc.returncode}:\n{_tail(log)}")
            rid += 1
            try:
                sock.send(get.packet(rid))
                while True:
                    data = sock.recv(65535)
                    if parse_response(data)[0] == rid:
                        return time.perf_counter() - t0
            except (TimeoutError, ConnectionRefusedError, ValueError, IndexError):
                time.sleep(0.002)  # not bound yet (ICMP port unreachable) or still loading


def read_rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


# "OID = value" lines of -On output; not the "No Such Object/Instance" line a walk of an empty
# subtree prints (continuation lines of long values do not start with ".digit").
_VARBIND = re.compile(rb"^(\.\d+(?:\.\d+)*) = (?!No Such (?:Object|Instance))", re.MULTILINE)


def _client_env(tmp: Path) -> dict[str, str]:
    """net-snmp clients and snmpd without MIB files: numeric OIDs, no parsing cost, no noise."""
    mibdir = tmp / "no-mibs"
    mibdir.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        MIBS="",
        MIBDIRS=str(mibdir),
        SNMPCONFPATH=str(tmp),
        SNMP_PERSISTENT_DIR=str(tmp / "persist"),
    )
    return env


def run_walk(
    tool: str, port: int, subtree: str, env: dict[str, str], timeout_s: float,
    repetitions: int = 50, security: tuple[str, ...] = ("-v2c", "-c", COMMUNITY),
) -> tuple[float, int, list[str]]:
    """(wall seconds, varbinds, OIDs) of one walk with snmpwalk or snmpbulkwalk."""
    argv = [tool, *security, "-On", "-t", "5", "-r", "1"]
    if tool.endswith("snmpbulkwalk"):
        argv.append(f"-Cr{repetitions}")
    argv += [f"127.0.0.1:{port}", subtree]
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, env=env, timeout=timeout_s, check=False)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        err = res.stderr.decode(errors="replace")[-500:]
        raise BenchError(f"{' '.join(argv)} failed ({res.returncode}): {err}")
    oids = [m.group(1).decode() for m in _VARBIND.finditer(res.stdout)]
    if not oids:
        raise BenchError(f"{' '.join(argv)} returned no varbinds")
    return wall, len(oids), oids


def measure_gets(port: int, oid: str, count: int, warmup: int, v3: bool = False) -> list[float]:
    """Latencies in ms of `count` sequential GETs of `oid` (after `warmup` untimed ones), over
    v2c, or over v3 authPriv as BENCH_USER."""
    lat: list[float] = []
    clock = time.perf_counter_ns
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(2.0)
        get: Any = V3Get(sock, oid) if v3 else GetPacket(COMMUNITY, oid)
        parse_response = get.parse
        send, recv = sock.send, sock.recv
        for rid in range(1, warmup + count + 1):
            pkt = get.packet(rid)
            t0 = clock()
            send(pkt)
            data = recv(65535)
            t1 = clock()
            while parse_response(data)[0] != rid:  # a late answer to an earlier request
                data = recv(65535)
                t1 = clock()
            if rid > warmup:
                lat.append((t1 - t0) / 1e6)
            _rid, status, value_tag = parse_response(data)
            if status != 0 or value_tag in (0x80, 0x81, 0x82):
                raise BenchError(
                    f"GET {oid} failed: error-status {status}, value tag 0x{value_tag:02x}"
                )
    return lat


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _tool(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if path is None:
        raise BenchError(f"{name} is not installed (net-snmp)")
    return path


def measure_agent(
    fig: AgentFigures,
    proc: subprocess.Popen[bytes],
    t0: float,
    port: int,
    log: Path,
    env: dict[str, str],
    s: BenchSettings,
) -> None:
    """Everything after the spawn: start time, walks, GETs, RSS."""
    fig.start_s = wait_first_answer(proc, port, t0, log, s.start_timeout_s)
    bulk, walk = _tool("snmpbulkwalk"), _tool("snmpwalk")
    # Untimed warm-up: fills the agents' caches/indexes, and gives the instance list.
    _wall, fig.instances, oids = run_walk(
        bulk, port, fig.subtree, env, s.walk_timeout_s, s.bulk_repetitions
    )
    fig.get_oid = oids[len(oids) // 2]
    for attr_s, attr_v, tool in (
        ("bulkwalk_s", "bulkwalk_vbps", bulk),
        ("walk_s", "walk_vbps", walk),
    ):
        total_vb = 0
        times: list[float] = getattr(fig, attr_s)
        for _ in range(s.repeat):
            wall, n, _ = run_walk(
                tool, port, fig.subtree, env, s.walk_timeout_s, s.bulk_repetitions
            )
            times.append(wall)
            total_vb += n
        setattr(fig, attr_v, total_vb / sum(times))
    lat = measure_gets(port, fig.get_oid, s.gets, s.warmup_gets)
    fig.gets = len(lat)
    fig.get_p50_ms = statistics.median(lat)
    fig.get_p99_ms = percentile(lat, 99)
    fig.get_mean_ms = statistics.fmean(lat)
    for attr, tool in (("v3_bulkwalk_vbps", bulk), ("v3_walk_vbps", walk)):
        walls, total_vb = 0.0, 0
        for _ in range(s.repeat):
            wall, n, _ = run_walk(tool, port, fig.subtree, env, s.walk_timeout_s,
                                  s.bulk_repetitions, V3_ARGS)
            walls += wall
            total_vb += n
        setattr(fig, attr, total_vb / walls)
    lat = measure_gets(port, fig.get_oid, s.gets, s.warmup_gets, v3=True)
    fig.v3_get_p50_ms = statistics.median(lat)
    fig.v3_get_p99_ms = percentile(lat, 99)
    fig.rss_mib, fig.hwm_mib = read_rss(proc.pid)


def bench_ours(s: BenchSettings, tmp: Path, env: dict[str, str]) -> AgentFigures:
    fig = AgentFigures("ours", s.our_subtree)
    port = free_udp_port()
    cmd = list(
        s.agent_command or (sys.executable, "-c", "from iec62379.cli.main import main; main()")
    )
    config = tmp / f"with-v3-user-{s.config.name}"
    config.write_text(
        s.config.read_text() + f'\n[[access.user]]\nname = "{BENCH_USER}"\nlevel = "listener"\n'
        f'auth_protocol = "sha256"\nauth_key = "{BENCH_AUTH}"\npriv_protocol = "aes128"\n'
        f'priv_key = "{BENCH_PRIV}"\n'
    )
    argv = cmd + [
        "agent",
        "--config",
        str(config),
        "--listen",
        f"udp:127.0.0.1:{port}",
        "--state-dir",
        str(tmp / "agent-state"),
    ]
    log = tmp / "agent.log"
    with _process(argv, log) as (proc, t0):
        measure_agent(fig, proc, t0, port, log, env, s)
    m = re.search(r"started in (\d+) ms", log.read_text(errors="replace"))
    fig.reported_start_ms = float(m.group(1)) if m else None
    return fig


def bench_snmpd(s: BenchSettings, tmp: Path, env: dict[str, str]) -> AgentFigures:
    fig = AgentFigures("snmpd", s.snmpd_subtree)
    port = free_udp_port()
    conf = tmp / "snmpd.conf"
    # createUser in the configuration itself: snmpd -C reads no other file (its persistent
    # folder is the temporary one, so the user's localised keys are written there).
    conf.write_text(f"rocommunity {COMMUNITY} 127.0.0.1\nrouser {BENCH_USER} priv\n"
                    f'createUser {BENCH_USER} SHA-256 "{BENCH_AUTH}" AES "{BENCH_PRIV}"\n')
    (tmp / "persist").mkdir(exist_ok=True)
    argv = [s.snmpd or _tool("snmpd"), "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}"]
    log = tmp / "snmpd.log"
    with _process(argv, log, env) as (proc, t0):
        measure_agent(fig, proc, t0, port, log, env, s)
    return fig


def snmpd_version(snmpd: str | None) -> str:
    try:
        out = subprocess.run(
            [snmpd or _tool("snmpd"), "-v"], capture_output=True, timeout=10, check=False
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired, BenchError):
        return "unknown"
    m = re.search(r"NET-SNMP version:\s*(\S+)", out)
    return m.group(1) if m else "unknown"


def run_bench(s: BenchSettings) -> dict[str, Any]:
    """Run both agents one after the other; the report as a JSON-able dict."""
    if s.repeat < 1 or s.gets < 1:
        raise BenchError("repeat and gets must be at least 1")
    if not s.config.is_file():
        raise BenchError(f"no such configuration: {s.config}")
    with tempfile.TemporaryDirectory(prefix="iec62379-bench-") as d:
        tmp = Path(d)
        env = _client_env(tmp)
        ours = bench_ours(s, tmp, env)
        ref = bench_snmpd(s, tmp, env)
    ratios = {
        "bulkwalk_ratio": ours.bulkwalk_vbps / ref.bulkwalk_vbps,
        "walk_ratio": ours.walk_vbps / ref.walk_vbps,
        "get_p50_ratio": ours.get_p50_ms / ref.get_p50_ms,
        "v3_bulkwalk_ratio": ours.v3_bulkwalk_vbps / ref.v3_bulkwalk_vbps,
        "v3_walk_ratio": ours.v3_walk_vbps / ref.v3_walk_vbps,
        "v3_bulkwalk_vs_v2c": ours.v3_bulkwalk_vbps / ours.bulkwalk_vbps,
    }
    values = {
        **ratios,
        "get_p50_ms": ours.get_p50_ms,
        "start_s": ours.start_s,
        "rss_mib": ours.rss_mib,
    }
    targets = []
    for key, label, op, bound in TARGETS:
        v = values[key]
        targets.append(
            {
                "key": key,
                "label": label,
                "target": f"{op} {bound:g}",
                "value": v,
                "met": v >= bound if op == ">=" else v <= bound,
            }
        )
    return {
        "settings": {
            "config": str(s.config),
            "repeat": s.repeat,
            "gets": s.gets,
            "warmup_gets": s.warmup_gets,
            "bulk_repetitions": s.bulk_repetitions,
        },
        "ours": asdict(ours),
        "snmpd": asdict(ref),
        "ratios": ratios,
        "targets": targets,
        "environment": {
            "python": platform.python_version(),
            "snmpd": snmpd_version(s.snmpd),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def format_report(r: dict[str, Any]) -> str:
    o, d, q = r["ours"], r["snmpd"], r["ratios"]
    st = r["settings"]
    rows: list[tuple[str, str, str, str]] = [
        ("", "ours", "snmpd", "ours/snmpd"),
        ("subtree", o["subtree"], d["subtree"], ""),
        ("instances in the subtree", f"{o['instances']:,}", f"{d['instances']:,}", ""),
        ("start to first answer (s)", f"{o['start_s']:.3f}", f"{d['start_s']:.3f}", ""),
        (
            f"snmpbulkwalk -Cr{st['bulk_repetitions']} (varbinds/s)",
            f"{o['bulkwalk_vbps']:,.0f}",
            f"{d['bulkwalk_vbps']:,.0f}",
            f"{q['bulkwalk_ratio']:.3f}x",
        ),
        (
            "snmpwalk (varbinds/s)",
            f"{o['walk_vbps']:,.0f}",
            f"{d['walk_vbps']:,.0f}",
            f"{q['walk_ratio']:.3f}x",
        ),
        (
            "GET p50 (ms)",
            f"{o['get_p50_ms']:.3f}",
            f"{d['get_p50_ms']:.3f}",
            f"{q['get_p50_ratio']:.1f}x",
        ),
        ("GET p99 (ms)", f"{o['get_p99_ms']:.3f}", f"{d['get_p99_ms']:.3f}", ""),
        (
            f"v3 authPriv snmpbulkwalk -Cr{st['bulk_repetitions']} (varbinds/s)",
            f"{o['v3_bulkwalk_vbps']:,.0f}",
            f"{d['v3_bulkwalk_vbps']:,.0f}",
            f"{q['v3_bulkwalk_ratio']:.3f}x",
        ),
        (
            "v3 authPriv snmpwalk (varbinds/s)",
            f"{o['v3_walk_vbps']:,.0f}",
            f"{d['v3_walk_vbps']:,.0f}",
            f"{q['v3_walk_ratio']:.3f}x",
        ),
        ("v3 authPriv GET p50 (ms)", f"{o['v3_get_p50_ms']:.3f}", f"{d['v3_get_p50_ms']:.3f}", ""),
        ("v3 authPriv GET p99 (ms)", f"{o['v3_get_p99_ms']:.3f}", f"{d['v3_get_p99_ms']:.3f}", ""),
        ("v3 bulkwalk / v2c bulkwalk", f"{q['v3_bulkwalk_vs_v2c']:.3f}x", "", ""),
        ("RSS after the walks (MiB)", f"{o['rss_mib']:.1f}", f"{d['rss_mib']:.1f}", ""),
        ("peak RSS (MiB)", f"{o['hwm_mib']:.1f}", f"{d['hwm_mib']:.1f}", ""),
    ]
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"SNMP agent benchmark: {st['config']}, {st['repeat']} walks of each kind, "
        f"{st['gets']} GETs; snmpd {r['environment']['snmpd']}",
        "",
    ]
    for row in rows:
        lines.append(
            f"{row[0]:<{w[0]}}  {row[1]:>{w[1]}}  {row[2]:>{w[2]}}  {row[3]:>{w[3]}}".rstrip()
        )
    if o.get("reported_start_ms") is not None:
        lines.append(f"(our agent's own log: engine started in {o['reported_start_ms']:.0f} ms)")
    lines += ["", "targets:"]
    for t in r["targets"]:
        met = "met    " if t["met"] else "NOT met"
        lines.append(f"  {met}  {t['label']}: {t['value']:.3f} (target {t['target']})")
    return "\n".join(lines)
