"""The DVB measurement MIB (TR 101 290) served by `iec62379 agent` for configured streams, read
and written with net-snmp by number: tsTestsSummaryTable with the input last in its index,
capabilityTSTable, the scalars, SETs of Enable / CounterReset / the limits / the trap rate
control with every refusal's error-status, the written values kept across a restart; and, live,
an impaired stream from the generator: fail and counters, then pass again."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from iec62379.collectors.publish.tr101290 import implemented_tests
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
_ = media  # the module-scoped fixture, used by the live test

DVB = "1.3.6.1.4.1.2696.3.2.1"
SUMMARY = f"{DVB}.5.2.2.1"  # tsTestsSummaryEntry
PREFS = f"{DVB}.5.2.100.1.1"  # tsTestsPreferencesEntry
TRAPCTL = f"{DVB}.2.1.1"  # trapControlEntry
RFSYSTEM = f"{DVB}.1.3"  # controlRFSystemTable
CAPABILITY = f"{DVB}.3.5.2.1"  # capabilityTSEntry
TESTS = [1010, 1020, 1031, 1040, 1051, 1060, 2010, 2020, 2031, 2032, 2040, 2050, 2060]
NAMED, DEFAULT = 7, 10  # the first stream's dvb_input; the second's is its id


def write_config(tmp_path: Path, agent_port: int, stream_port: int) -> Path:
    config = agent_config(tmp_path, agent_port, access="""
[[access.community]]
name = "private"
level = "supervisor"
sources = ["127.0.0.0/8"]
[access]
allow_community_write = true
""", body=f"""
[[stream]]
url = "rtp://127.0.0.1:{stream_port}"
id = 20
dvb_input = {NAMED}
presence_timeout_s = 1

[[stream]]
url = "udp://127.0.0.1:{free_port()}"
id = {DEFAULT}

[temperature_sensors]
enabled = false
""")
    return config


def run(tool: str, *args: str, community: str = "public") -> subprocess.CompletedProcess:
    return subprocess.run([require_tool(tool), "-v2c", "-c", community, "-t", "2", "-r", "1",
                           *args], capture_output=True, text=True, env=snmp_env(), timeout=30)


def walk(port: int, oid: str, hex_strings: bool = True) -> list[tuple[str, str]]:
    proc = run("snmpwalk", "-On", "-Oq", *(["-Ox"] if hex_strings else []), f"127.0.0.1:{port}",
               oid)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = []
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" ")
        out.append((name.lstrip("."), value.strip().strip('"').strip()))
    return out


def get(port: int, *oids: str) -> list[str]:
    proc = run("snmpget", "-On", "-Oqv", f"127.0.0.1:{port}", *oids)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [v.strip().strip('"').strip() for v in proc.stdout.splitlines()]


def summary_table(port: int) -> dict[str, dict[str, str]]:
    """net-snmp's snmptable of tsTestsSummaryTable (asked by number, the DVB module loaded from
    mibs/): {"continuityCountError.7": {"tsTestsSummaryState": "fail", ...}}."""
    proc = subprocess.run(
        [require_tool("snmptable"), "-v2c", "-c", "public", "-t", "2", "-r", "1", "-Ci", "-Cf",
         ",", "-m", "DVB-MGTR101290-MIB", f"127.0.0.1:{port}", f"{DVB}.5.2.2"],
        capture_output=True, text=True, env=snmp_env(), timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if "," in ln]
    header = lines[0].split(",")
    assert header[:3] == ["index", "tsTestsSummaryState", "tsTestsSummaryEnable"], header
    # DateAndTime shows with commas ("2026-12-3,6:24:16.7,+0:0"): read the columns up to it
    return {ln.split(",")[0]: dict(zip(header[1:4], ln.split(",")[1:4], strict=True))
            for ln in lines[1:]}


def snmpset(port: int, *args: str) -> subprocess.CompletedProcess:
    return run("snmpset", "-On", f"127.0.0.1:{port}", *args, community="private")


def refused(port: int, *args: str) -> str:
    """The error-status name of a refused SET."""
    proc = snmpset(port, *args)
    assert proc.returncode != 0, proc.stdout
    m = re.search(r"Reason: (\w+)", proc.stderr)
    assert m, proc.stderr
    return m.group(1)


def test_tables_scalars_sets_and_persistence(tmp_path: Path):
    port = free_port()
    config = write_config(tmp_path, port, free_port())
    agent = Proc(cli("agent", "--config", str(config)), ready="serving")
    try:
        # tsTestsSummaryState: the test first, then the input (the MIB's INDEX order)
        rows = walk(port, f"{SUMMARY}.3")
        assert [n for n, _ in rows] == [f"{SUMMARY}.3.{t}.{i}" for t in TESTS
                                         for i in (NAMED, DEFAULT)]
        assert {v for _, v in rows} == {"2"}  # unknown(2): nothing received yet
        table = summary_table(port)
        assert len(table) == 26 and table[f"continuityCountError.{NAMED}"] == {
            "tsTestsSummaryState": "unknown", "tsTestsSummaryEnable": '"80 "',
            "tsTestsSummaryCounter": "0"}
        # every column of a row: State .. ActiveTime
        row = walk(port, SUMMARY)
        assert len(row) == 7 * 13 * 2
        assert get(port, f"{SUMMARY}.4.1040.{NAMED}", f"{SUMMARY}.5.1040.{NAMED}",
                   f"{SUMMARY}.7.1040.{NAMED}", f"{SUMMARY}.9.1040.{NAMED}") == [
            "80", "0", "2", "0"]  # Enable {testEnable}, Counter, CounterReset false, ActiveTime
        # the limits: DEFVALs, normalised
        assert get(port, f"{PREFS}.6.{NAMED}", f"{PREFS}.8.{NAMED}", f"{PREFS}.5.{DEFAULT}") == [
            "0.04", "5e-07", "5"]
        assert len(walk(port, PREFS)) == 32 * 2
        # trap control: enabled(2), 1000 ms, nothing failing (12 octets of TestSummary)
        assert get(port, f"{TRAPCTL}.5.{NAMED}", f"{TRAPCTL}.6.{NAMED}") == ["2", "1000"]
        assert get(port, f"{TRAPCTL}.7.{NAMED}")[0].replace(" ", "") == "00" * 12
        # controlRFSystemTable (groupControl): an IP input expects no RF system: unknown(1)
        assert walk(port, RFSYSTEM) == [(f"{RFSYSTEM}.1.2.{i}", "1") for i in (NAMED, DEFAULT)]
        # the accessible-for-notify columns are not readable
        assert [n for n, _ in walk(port, TRAPCTL)] == [
            f"{TRAPCTL}.{c}.{i}" for c in (5, 6, 7) for i in (NAMED, DEFAULT)]
        # capabilities: 27 tests, testAvailable(2) those the core runs (of the 13 of an IP
        # probe), notAvailable(1) the others
        caps = walk(port, f"{CAPABILITY}.2")
        assert len(caps) == 27
        state = f"{SUMMARY}.3"
        avail = {n.split(".")[-2]: v for n, v in caps}
        assert {int(t) for t, v in avail.items() if v == "2"} == set(implemented_tests())
        assert set(implemented_tests()) == set(TESTS)  # the core runs all 13
        assert {v for t, v in avail.items() if int(t) not in implemented_tests()} == {"1"}
        assert caps[3][0] == f"{CAPABILITY}.2.17.{state}.1040.0"  # length first, then the OID
        # scalars: controlNow (11 octets), controlEventPersistence "2", the MIB's revision,
        # capabilityTSGroup selectiveSupport(2), the RF groups noSupport(1)
        now, persistence, revision, ts_group, cable = get(
            port, f"{DVB}.1.1.0", f"{DVB}.1.2.0", f"{DVB}.3.1.0", f"{DVB}.3.5.1.0",
            f"{DVB}.3.7.1.0")
        assert len(now.split()) == 11 and persistence == "2"
        assert revision.replace(" ", "") == "07D10B070E0000002B0000"
        assert (ts_group, cable) == ("2", "1")

        # which stream each input is (IEC62379-EXT-MIB's extTsInputTable): name, ipv4(1),
        # address, source (none), port, receiver point block
        ext = walk(port, "1.3.6.1.4.1.32473.62380.1.5.1", hex_strings=False)
        assert [n.rsplit(".", 2)[-2:] for n, _ in ext][:2] == [["2", str(NAMED)],
                                                             ["2", str(DEFAULT)]]
        values = {n.rsplit(".", 2)[-2]: v for n, v in ext if n.endswith(f".{NAMED}")}
        assert values["3"] == "1" and values["4"].replace(" ", "") == "7F000001"
        assert values["5"] == "" and values["7"] == "23"  # id 20: receiver point 23
        stream_port = re.search(r'rtp://127\.0\.0\.1:(\d+)"', config.read_text()).group(1)
        assert values["6"] == stream_port

        # SETs: Enable with fail traps, a limit, the rate control, a counter reset
        assert snmpset(port, f"{SUMMARY}.4.1040.{NAMED}", "x", "C0").returncode == 0
        assert snmpset(port, f"{PREFS}.6.{NAMED}", "s", "0.1", f"{PREFS}.8.{NAMED}", "s",
                       "1E-6").returncode == 0
        assert snmpset(port, f"{TRAPCTL}.6.{NAMED}", "u", "5000",
                       f"{TRAPCTL}.5.{DEFAULT}", "i", "1").returncode == 0
        before = get(port, f"{SUMMARY}.6.2020.{NAMED}")[0]
        assert snmpset(port, f"{SUMMARY}.7.2020.{NAMED}", "i", "1").returncode == 0
        assert get(port, f"{SUMMARY}.7.2020.{NAMED}", f"{SUMMARY}.5.2020.{NAMED}") == ["2", "0"]
        assert get(port, f"{SUMMARY}.6.2020.{NAMED}")[0] != before  # a discontinuity: now
        assert get(port, f"{SUMMARY}.4.1040.{NAMED}", f"{PREFS}.6.{NAMED}",
                   f"{PREFS}.8.{NAMED}", f"{TRAPCTL}.6.{NAMED}", f"{TRAPCTL}.5.{DEFAULT}") == [
            "C0", "0.1", "1e-06", "5000", "1"]

        # refusals, with RFC 3416's error-status
        assert refused(port, f"{SUMMARY}.4.1040.{NAMED}", "i", "1") == "wrongType"
        assert refused(port, f"{SUMMARY}.4.1040.{NAMED}", "x", "C000") == "wrongLength"
        assert refused(port, f"{SUMMARY}.4.1040.{NAMED}", "x", "10") == "wrongValue"
        assert refused(port, f"{SUMMARY}.7.1040.{NAMED}", "i", "3") == "wrongValue"
        assert refused(port, f"{PREFS}.6.{NAMED}", "s", "fast") == "wrongValue"
        assert refused(port, f"{PREFS}.6.{NAMED}", "s", "-1") == "wrongValue"
        assert refused(port, f"{PREFS}.6.{NAMED}", "s", "0") == "wrongValue"
        assert refused(port, f"{PREFS}.6.{NAMED}", "x", "") == "wrongLength"
        assert refused(port, f"{PREFS}.6.{NAMED}", "s", "1" * 64) == "wrongLength"
        assert refused(port, f"{TRAPCTL}.5.{NAMED}", "i", "3") == "wrongValue"
        assert refused(port, f"{TRAPCTL}.6.{NAMED}", "u", "3600001") == "wrongValue"
        assert refused(port, f"{RFSYSTEM}.1.2.{NAMED}", "i", "3") == "wrongValue"  # satellite
        assert snmpset(port, f"{RFSYSTEM}.1.2.{NAMED}", "i", "1").returncode == 0  # unknown
        assert refused(port, f"{SUMMARY}.5.1040.{NAMED}", "i", "0") == "notWritable"
        assert refused(port, f"{SUMMARY}.4.1040.99", "x", "80") == "noCreation"
        # controlEventPersistence: seconds 0..86400; controlNow is the host's clock
        assert refused(port, f"{DVB}.1.2.0", "s", "soon") == "wrongValue"
        assert refused(port, f"{DVB}.1.2.0", "s", "86401") == "wrongValue"
        assert refused(port, f"{DVB}.1.2.0", "x", "") == "wrongLength"
        assert refused(port, f"{DVB}.1.2.0", "i", "3") == "wrongType"
        assert refused(port, f"{DVB}.1.1.0", "x", "07EA0C0306110000") == "notWritable"
        assert snmpset(port, f"{DVB}.1.2.0", "s", "3.50").returncode == 0
        assert get(port, f"{DVB}.1.2.0") == ["3.5"]
        # all or nothing: a good varbind with a bad one changes nothing
        assert refused(port, f"{PREFS}.5.{NAMED}", "s", "9", f"{PREFS}.6.{NAMED}", "s",
                       "x") == "wrongValue"
        assert get(port, f"{PREFS}.5.{NAMED}") == ["5"]
        # a listener cannot write
        proc = run("snmpset", f"127.0.0.1:{port}", f"{PREFS}.5.{NAMED}", "s", "9")
        assert proc.returncode != 0
    finally:
        assert agent.stop() == 0, agent.out

    # written values come back after a restart
    agent = Proc(cli("agent", "--config", str(config)), ready="serving")
    try:
        assert get(port, f"{SUMMARY}.4.1040.{NAMED}", f"{PREFS}.6.{NAMED}",
                   f"{PREFS}.8.{NAMED}", f"{TRAPCTL}.6.{NAMED}", f"{TRAPCTL}.5.{DEFAULT}",
                   f"{SUMMARY}.7.2020.{NAMED}", f"{DVB}.1.2.0") == [
            "C0", "0.1", "1e-06", "5000", "1", "2", "3.5"]
    finally:
        assert agent.stop() == 0, agent.out


def test_live_impaired_stream_fails_counts_and_passes_again(tmp_path: Path, media):
    port, stream_port = free_port(), free_port()
    config = write_config(tmp_path, port, stream_port)
    agent = Proc(cli("agent", "--config", str(config)), ready="serving")
    gen = None
    state, counter = f"{SUMMARY}.3.1040.{NAMED}", f"{SUMMARY}.5.1040.{NAMED}"
    try:
        assert get(port, f"{CAPABILITY}.2.17.{SUMMARY}.3.1040.0") == ["2"]  # testAvailable
        gen = generator(media, stream_port)
        wait_for(lambda: get(port, state) == ["3"], 20)  # pass(3)
        clean = int(get(port, counter)[0])
        gen.stop()
        gen = generator(media, stream_port, "--loss", "5", "--seed", "2")
        wait_for(lambda: get(port, state) == ["4"], 20)  # fail(4)
        wait_for(lambda: int(get(port, counter)[0]) > clean, 10)
        row = summary_table(port)[f"continuityCountError.{NAMED}"]
        assert row["tsTestsSummaryState"] == "fail" and int(row["tsTestsSummaryCounter"]) > 0
        pids = walk(port, f"{DVB}.5.2.3.1.5")  # tsTestsPIDState: rows for PIDs in error
        assert any(n.endswith(f".1040.{NAMED}") for n, _ in pids), pids
        gen.stop()
        gen = generator(media, stream_port)
        # the loss stops: pass again once the persistence (2 s) is over
        wait_for(lambda: get(port, state) == ["3"], 30)
        assert int(get(port, counter)[0]) > clean
    finally:
        if gen is not None:
            gen.stop()
        assert agent.stop() == 0, agent.out
