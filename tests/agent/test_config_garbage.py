"""Garbage configuration: every wrong file is refused at start with one line, `file: key:
expected ..., found ...`, and nothing else ever escapes (no traceback, no other exception).

The whole file is parsed as `iec62379 agent` parses it (collectors.settings.parse_settings: the
agent's sections, then [[stream]] and [temperature_sensors]); random and mutated TOML (bounded
by hypothesis) must give a configuration or a ConfigError.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iec62379.agent.config import ConfigError
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.collectors.settings import Settings, parse_settings

NESTED_ARRAYS = "a = " + "[" * 500 + "]" * 500
NESTED_TABLES = "a = " + "{b = " * 500 + "1" + "}" * 500
STREAM = "[[stream]]\nurl = 'rtp://239.1.1.1:5004'\nid = 100\n"
NO_SENSORS = "[temperature_sensors]\nenabled = false\n"

GARBAGE = [
    # sysObjectID: X.660 and RFC 2578 7.1.3
    ("[system]\nobject_id = '1.3.-6.1'",
     "f.toml: system.object_id: expected a dotted OBJECT IDENTIFIER, found '1.3.-6.1'"),
    ("[system]\nobject_id = '3.1.2'", "f.toml: system.object_id: expected a dotted OBJECT "
     "IDENTIFIER (the first arc is 3, not 0, 1 or 2), found '3.1.2'"),
    ("[system]\nobject_id = '1.99.3'", "f.toml: system.object_id: expected a dotted OBJECT "
     "IDENTIFIER (the second arc is 99, not in 0..39 under 1), found '1.99.3'"),
    ("[system]\nobject_id = '1.3.6.4294967296'",
     "(arc 4 is 4294967296, not in 0..4294967295), found '1.3.6.4294967296'"),
    ("[system]\nobject_id = '1.3" + ".1" * 127 + "'", "(2 to 128 arcs, not 129)"),
    ("[system]\nobject_id = '1'", "system.object_id: expected a dotted OBJECT IDENTIFIER"),
    ("[system]\nobject_id = '1.3.6.1.'", "system.object_id: expected a dotted OBJECT IDENTIFIER"),
    ("[system]\nobject_id = '1.3.\u0661'", "system.object_id: expected a dotted OBJECT IDENTIFIER"),
    ("[system]\nobject_id = '1.3." + "9" * 5000 + "'",
     "system.object_id: expected a dotted OBJECT IDENTIFIER, found '1.3.999"),
    # names declared twice: the last one silently won
    ("[[access.community]]\nname = 'public'\nsources = ['127.0.0.1/32']\n"
     "[[access.community]]\nname = 'public'\nsources = ['0.0.0.0/0']",
     "f.toml: access.community[1].name: expected a community name not already declared "
     "(access.community[0]), found 'public'"),
    ("[[access.user]]\nname = 'ops'\nlevel = 'supervisor'\nauth_key = '12345678'\n"
     "priv_key = '12345678'\n[[access.user]]\nname = 'ops'\nauth_key = '12345678'\n"
     "priv_key = '12345678'",
     "f.toml: access.user[1].name: expected a user name not already declared "
     "(access.user[0]), found 'ops'"),
    # block ids used twice
    ("[[network]]\nid = 1\n[[network]]\nid = 1",
     "f.toml: network[1].id: expected a block id not already used by network[0], found 1"),
    ("[[network]]\nid = 1\n[[rx]]\nid = 1\nnetwork = 1", "f.toml: rx[0].id: expected a block id "
     "not already used by a network block (network[0]), found 1"),
    ("[[network]]\nid = 1\n[[audio]]\nid = 2\nnetwork = 1\n[[audio]]\nid = 2\nnetwork = 1",
     "f.toml: audio[1].id: expected an index not already used by audio[0], found '2.1'"),
    (STREAM + "[[network]]\nid = 101", "f.toml: stream[0].id: block 101"),
    # media format identities
    ("[[audio]]\nid = 2\nformat = 'audioMp3'",
     "f.toml: audio[0].format: expected one of noAudio | unspecifiedAudio | "),
    ("[[video]]\nid = 3\naspect_ratio = 'aspect16x10'",
     "f.toml: video[0].aspect_ratio: expected one of unspecifiedAspectRatio | aspect4x3"),
    ("[[video]]\nid = 3\nsource_format = 'noVideo'",
     "f.toml: video[0].source_format: expected one of unspecifiedSourceFormat"),
    # links to blocks that do not exist (a LinkError traceback at start)
    ("[[rx]]\nid = 4\nnetwork = 9",
     "f.toml: rx[0].network: expected 0 (none) or the id of one of the network blocks, found 9"),
    ("[[network]]\nid = 1\n[[video]]\nid = 3\nnetwork = 1\naudio = 7",
     "f.toml: video[0].audio: expected 0 (none) or the id of one of the audio blocks, found 7"),
    (STREAM + "[[video]]\nid = 3\naudio = 101",  # a stream's audio block comes later, if ever
     "f.toml: video[0].audio: expected 0 (none) or the id of one of the audio blocks, found 101"),
    # NUL characters
    ('[[network]]\nid = 1\ninterface = "lo\\u0000"', "f.toml: network[0].interface: expected the "
     "name of a network interface of this host, found 'lo\\x00'"),
    ('[[stream]]\nurl = "udp://239.1.1.1:5000?iface=lo\\u0000x"',
     "f.toml: stream[0].url: expected an iface that is a network interface of this host"),
    ('[agent]\nstate_dir = "/tmp/a\\u0000b"',
     "f.toml: agent.state_dir: expected a folder name (without NUL characters)"),
    ('[temperature_sensors]\nsysfs_root = "/sys\\u0000"',
     "f.toml: temperature_sensors.sysfs_root: expected an existing directory"),
    # deep nesting (tomllib recurses)
    (NESTED_ARRAYS, "f.toml: not a configuration: arrays or tables nested too deeply"),
    (NESTED_TABLES, "f.toml: not a configuration: arrays or tables nested too deeply"),
    # messages stay on one line and short
    ('"a\\nb" = 1', 'f.toml: "a\\nb": unknown key'),
    ("[system]\nname = '" + "x" * 100_000 + "'", "... (100002 characters)"),
    ("[[network]]\nid = " + "[" * 200 + "]" * 200, "f.toml: network[0].id: expected an integer"),
]


@pytest.mark.parametrize("text,message", GARBAGE, ids=[f"{i}" for i in range(len(GARBAGE))])
def test_garbage_is_refused_with_file_key_expected_found(text, message):
    if "[temperature_sensors]" not in text:
        text = f"{text}\n{NO_SENSORS}"  # the host's sensors are not what is tested here
    with pytest.raises(ConfigError) as exc:
        parse_settings(text, "f.toml")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 1000


def test_a_static_row_may_link_to_a_streams_network_block():
    s = parse_settings(NO_SENSORS + STREAM + "[[audio]]\nid = 2\nnetwork = 100\n"
                       "[[video]]\nid = 3\nnetwork = 100\naudio = 2", "f.toml")
    assert [b.network_block_id for b in s.agent.blocks] == [100, 100]


def test_valid_object_ids_are_accepted():
    for text, oid in (("1.3.6.1.4.1.32473.1", (1, 3, 6, 1, 4, 1, 32473, 1)),
                      (".1.3.6", (1, 3, 6)), ("0.39", (0, 39)),
                      ("2.999.4294967295", (2, 999, 4294967295)),
                      ("1.3" + ".1" * 126, (1, 3) + (1,) * 126)):
        cfg = parse_settings(f"[system]\nobject_id = '{text}'", "f.toml").agent
        assert cfg.system.object_id == oid


def test_a_config_that_passes_starts_its_static_rows():
    """Whatever parse_settings accepts, the agent loads (no LinkError left for the start)."""
    s = parse_settings(
        NO_SENSORS + "[[network]]\nid = 1\nrx = true\n[[audio]]\nid = 2\nnetwork = 1\n"
        "[[video]]\nid = 3\nnetwork = 1\naudio = 2\n[[rx]]\nid = 4\nnetwork = 1", "f.toml")
    store = BlockStore()
    Agent(s.agent, store)
    assert len(store.snapshot.block_ids()) == 4


# --- the CLI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[[rx]]\nid = 4\nnetwork = 9",
    "[system]\nobject_id = '1.3.-6.1'",
    NESTED_ARRAYS,
    '[[network]]\nid = 1\ninterface = "lo\\u0000"',
])
def test_the_agent_command_prints_one_line_and_exits_non_zero(tmp_path: Path, text: str):
    bad = tmp_path / "bad.toml"
    bad.write_text(f"{text}\n{NO_SENSORS}")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "iec62379"), "agent", "--config", str(bad),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {bad}: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "state").exists()  # refused before anything was written


# --- fuzzing ------------------------------------------------------------------------------------

SECTIONS = ["agent", "system", "access", "network", "audio", "video", "rx", "temperature",
            "stream", "temperature_sensors"]
KEYS = ["id", "name", "level", "listen", "object_id", "url", "network", "audio", "interface",
        "if_index", "format", "coding_type", "address", "sip_server", "network_type", "component",
        "state_dir", "engine_id", "sources", "community", "user", "port", "pid", "location",
        "celsius", "threshold", "sysfs_root", "enabled", "rate_bps", "buffer_ms", "rx", "status"]


def _toml_key(k: str) -> str:
    return k if k and all(c.isascii() and (c.isalnum() or c in "-_") for c in k) else json.dumps(k)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def toml_document(doc: dict[str, list[dict[str, object]]]) -> str:
    """Sections as [[arrays of tables]], or [tables] when a section has one entry."""
    out = []
    for section, entries in doc.items():
        for entry in entries:
            out.append(f"[[{section}]]" if len(entries) > 1 else f"[{section}]")
            out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in entry.items())
    return "\n".join(out) + "\n"


scalars = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 4, 9, 100, 2**32 - 1, 2**32]),
    st.floats(allow_nan=True), st.booleans(), st.text(max_size=40),
    st.sampled_from(["1.3.6.1", "3.1.2", "1.3.-6", "udp:127.0.0.1:0", "rtp://239.1.1.1:5004",
                     "lo", "supervisor", "listener", "noAudio", "videoH264", "ipv6", "::1",
                     "10.0.0.1", "asi", "udp://[ff05::1]:5000?iface=lo", ""]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=8)
documents = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.lists(st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), values,
                             max_size=6), min_size=1, max_size=3),
    max_size=5)


def parse_or_refuse(text: str) -> None:
    try:
        out = parse_settings(text, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ") and "\n" not in str(exc)
        return
    assert isinstance(out, Settings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_configurations_parse_or_are_refused(doc):
    parse_or_refuse(toml_document(doc))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_parses_or_is_refused(text):
    parse_or_refuse(text)


EXAMPLES = [p.read_text() for p in sorted((REPO / "examples").glob("*.toml"))
            if p.stat().st_size < 20_000]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLES), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 8),
                                                      st.text(max_size=8)), max_size=4))
def test_mutated_examples_parse_or_are_refused(example, edits):
    text = example
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut:]
    parse_or_refuse(text)
