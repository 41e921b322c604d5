"""Alarms end to end on loopback: `iec62379 generate` -> `iec62379 agent --config` -> net-snmp's
snmpwalk / snmptable of IEC62379-EXT-MIB's extAlarmActiveTable and extAlarmLogTable.

An impaired stream raises rtpLoss and mlrHigh and a clean one clears them; a stopped stream
raises streamLost and its return clears it; a temperature fixture crossing its thresholds
raises and clears; a short impairment is logged as an event only. At every sample the active
table equals what the log says was raised and not cleared. Waits are bounded and generous;
nothing asserts on timing."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from iec62379.mibs import paths
from test_agent_streams import (
    Proc,
    agent_config,
    cli,
    free_port,
    generator,
    media,
    snmp_env,
    wait_for,
)

pytestmark = pytest.mark.integration

__all__ = ["media"]  # the module-scoped fixture, shared

ALARMS = "1.3.6.1.4.1.32473.62380.1.4"  # extAlarms
ACTIVE, LOG = f"{ALARMS}.1.1", f"{ALARMS}.2.1"
NET, RX = 10, 13
CONDITION = {1: "dfHigh", 2: "mlrHigh", 3: "tsdfHigh", 4: "rtpLoss", 9: "streamLost",
             10: "temperatureWarning", 11: "temperatureCritical"}
CORETEMP = "devices/platform/coretemp.0/hwmon/hwmon3/temp1_input"  # location 2: max 80, crit 100


def walk(port: int, oid: str) -> dict[tuple[int, ...], str]:
    """(column, index...) -> value under a table entry OID."""
    proc = subprocess.run(
        [require_tool("snmpbulkwalk"), "-v2c", "-c", "public", "-t", "3", "-r", "2", "-On",
         "-Oq", "-Oe", f"127.0.0.1:{port}", oid],
        capture_output=True, text=True, timeout=30, env=snmp_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        if "No Such" in line or "No more variables" in line or not line.strip():
            continue
        name, _, value = line.partition(" ")
        suffix = tuple(int(x) for x in name.lstrip(".")[len(oid):].strip(".").split("."))
        out[suffix] = value.strip().strip('"')
    return out


def rows(cells: dict[tuple[int, ...], str]) -> dict[int, dict[int, str]]:
    by_index: dict[int, dict[int, str]] = {}
    for (column, index), value in cells.items():
        by_index.setdefault(index, {})[column] = value
    return by_index


def sample(port: int) -> tuple[dict[int, dict[int, str]], dict[int, dict[int, str]]]:
    """The active table and the log, read while the log did not change (so both are of one
    moment). Bounded retries."""
    for _ in range(20):
        before = walk(port, LOG)
        active = walk(port, ACTIVE)
        if walk(port, LOG) == before:
            return rows(active), rows(before)
        time.sleep(0.2)
    pytest.fail("the alarm log kept changing while it was read")


def check(port: int) -> set[tuple[int, int, str]]:
    """The active alarms as (block, component, condition), after checking that the table is
    what the log raised and did not clear."""
    active, log = sample(port)
    raised = {int(e[3]) for e in log.values() if e[2] == "1"}  # extAlarmLogType raised(1)
    cleared = {int(e[3]) for e in log.values() if e[2] == "2"}
    assert set(active) == raised - cleared, (active, log)
    for alarm_id, row in active.items():
        entry = next(e for e in log.values() if e[2] == "1" and int(e[3]) == alarm_id)
        assert (row[2], row[3], row[4], row[5]) == (entry[6], entry[7], entry[8], entry[9])
    return {(int(r[2]), int(r[3]), CONDITION.get(int(r[4]), r[4])) for r in active.values()}


def conditions(port: int, block: int = RX) -> set[str]:
    return {c for b, _, c in check(port) if b == block}


def events(port: int) -> list[str]:
    _, log = sample(port)
    return [CONDITION.get(int(e[8]), e[8]) for e in log.values() if e[2] == "3"]


@pytest.fixture()
def setup(tmp_path: Path):
    agent_port, stream_port = free_port(), free_port()
    sysfs = tmp_path / "sysfs"
    shutil.copytree(REPO / "tests" / "fixtures" / "sysfs" / "workstation", sysfs, symlinks=True)
    config = agent_config(tmp_path, agent_port, f"""
[[stream]]
url = "rtp://127.0.0.1:{stream_port}"
name = "under test"
id = {NET}
presence_timeout_s = 1
fade_out_s = 4
[stream.alarms]
persistence_s = 2
off = ["dfHigh", "tsdfHigh"]   # scheduling on a busy machine moves them; not tested here

[temperature_sensors]
sysfs_root = "{sysfs}"
refresh_s = 1
[temperature_sensors.alarms]
persistence_s = 1
""")
    return agent_port, stream_port, config, sysfs


def test_live_alarms_raise_and_clear(setup, media):
    agent_port, stream_port, config, sysfs = setup
    agent = Proc(cli("agent", "--config", str(config)), ready="serving")
    gen = None
    try:
        gen = generator(media, stream_port)
        # a clean stream: nothing active on the receiver point (a streamLost raised while
        # the generator started clears once it sends)
        wait_for(lambda: conditions(agent_port) == set(), 30)

        gen.stop()
        gen = generator(media, stream_port, "--loss", "5", "--seed", "1")
        wait_for(lambda: {"rtpLoss", "mlrHigh"} <= conditions(agent_port), 30)
        table = subprocess.run(
            [require_tool("snmptable"), "-v2c", "-c", "public", "-Cf", ",", "-Ci",
             "-M", f"+{paths.source_dir()}:{paths.base_source_cache()}", "-m", "IEC62379-EXT-MIB",
             f"127.0.0.1:{agent_port}", "IEC62379-EXT-MIB::extAlarmActiveTable"],
            capture_output=True, text=True, timeout=30, env=snmp_env())
        assert table.returncode == 0, table.stderr
        assert "rtpLoss" in table.stdout and "under test: RTP loss" in table.stdout, table.stdout

        gen.stop()
        gen = generator(media, stream_port)
        wait_for(lambda: not {"rtpLoss", "mlrHigh"} & conditions(agent_port), 30)

        gen.stop()
        gen = None
        wait_for(lambda: "streamLost" in conditions(agent_port), 30)
        gen = generator(media, stream_port)
        wait_for(lambda: "streamLost" not in conditions(agent_port), 30)

        # the temperature fixture crosses its thresholds (location 2: warning 80, critical 100)
        probe = sysfs / CORETEMP
        probe.write_text("85000\n")
        wait_for(lambda: (1000, 2, "temperatureWarning") in check(agent_port), 30)
        probe.write_text("105000\n")
        wait_for(lambda: (1000, 2, "temperatureCritical") in check(agent_port), 30)
        probe.write_text("47000\n")
        wait_for(lambda: not {c for b, n, c in check(agent_port) if (b, n) == (1000, 2)}, 30)
        assert conditions(agent_port) == set()
    finally:
        if gen is not None:
            gen.stop()
        rc = agent.stop()
    assert rc == 0, agent.out


def test_a_short_condition_is_an_event_only(setup, media, tmp_path: Path):
    agent_port, stream_port, config, _ = setup
    # a long persistence: a burst of loss of a few seconds is over well before it
    config.write_text(config.read_text().replace("persistence_s = 2", "persistence_s = 60"))
    agent = Proc(cli("agent", "--config", str(config)), ready="serving")
    gen = None
    try:
        gen = generator(media, stream_port)
        wait_for(lambda: int(walk(agent_port, "1.3.6.1.4.1.32473.62380.1.1.1.4").get(
            (RX,), "0")) > 0, 30)  # rxPointExtDatagrams: the stream is measured
        gen.stop()
        gen = generator(media, stream_port, "--loss", "5", "--seed", "2")
        wait_for(lambda: "rtpLoss" in events(agent_port) or _holding(agent_port), 30)
        gen.stop()
        gen = generator(media, stream_port)
        wait_for(lambda: "rtpLoss" in events(agent_port), 30)
        assert conditions(agent_port) == set()
        _, log = sample(agent_port)
        assert not [e for e in log.values() if e[2] == "1" and int(e[6]) == RX], log
    finally:
        if gen is not None:
            gen.stop()
        rc = agent.stop()
    assert rc == 0, agent.out


def _holding(port: int) -> bool:
    """The RTP loss counter moved: the impaired stream is being measured."""
    return int(walk(port, "1.3.6.1.4.1.32473.62380.1.1.1.5").get((RX,), "0")) > 0
