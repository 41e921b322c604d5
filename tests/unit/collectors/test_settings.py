# ruff: noqa: E501 - the expected messages are quoted whole
"""[[stream]] and [temperature_sensors]: defaults, stable ids, and garbage refused with file,
key, expected and found; the whole file composed from the agent's sections and these."""

from __future__ import annotations

from pathlib import Path

import pytest
from iec62379.agent.config import ConfigError, parse_config
from iec62379.collectors.settings import (
    DEFAULT_SENSOR_BLOCK_ID,
    SECTIONS,
    SensorSettings,
    Settings,
    derive_block_id,
    parse_settings,
    stream_identity,
)

SYSFS = Path(__file__).resolve().parents[2] / "fixtures" / "sysfs" / "workstation"


def test_stream_defaults():
    cfg = parse_settings('[[stream]]\nurl = "rtp://239.1.1.1:5004"', "f.toml")
    (s,) = cfg.streams
    assert (s.url.address, s.url.port, s.url.scheme, s.name) == (
        "239.1.1.1", 5004, "rtp", "rtp://239.1.1.1:5004")
    assert (s.rate_bps, s.buffer_ms, s.interval_s, s.presence_timeout_s, s.fade_out_s,
            s.program) == (None, 1000, 1.0, 1.0, 60.0, None)
    assert s.id_derived and s.block_id == derive_block_id("@239.1.1.1:5004%")
    assert s.ids.all() == tuple(s.block_id + i for i in range(4))


def test_stream_every_key():
    cfg = parse_settings("""
[[stream]]
url = "udp://10.0.0.1@232.1.1.1:5000?iface=lo&rcvbuf=4000000"
name = "news"
id = 40
rate_bps = 2500000
buffer_ms = 300
interval_s = 0.5
presence_timeout_s = 0.25
fade_out_s = 0
program = 7
sip_server = "192.0.2.10"
""", "f.toml")
    (s,) = cfg.streams
    assert (s.url.source, s.url.iface, s.url.rcvbuf, s.name, s.block_id, s.id_derived) == (
        "10.0.0.1", "lo", 4000000, "news", 40, False)
    assert (s.rate_bps, s.buffer_ms, s.interval_s, s.presence_timeout_s, s.fade_out_s,
            s.program, s.sip_server) == (2_500_000.0, 300, 0.5, 0.25, 0.0, 7, bytes([192, 0, 2, 10]))


def test_derived_id_ignores_scheme_and_receive_buffer():
    a = parse_settings('[[stream]]\nurl = "rtp://239.1.1.1:5004"', "f.toml").streams[0]
    b = parse_settings('[[stream]]\nurl = "udp://239.1.1.1:5004?rcvbuf=100000"', "f.toml").streams[0]
    assert a.block_id == b.block_id
    c = parse_settings('[[stream]]\nurl = "udp://239.1.1.1:5004?iface=lo"', "f.toml").streams[0]
    assert c.block_id == derive_block_id(stream_identity(None, "239.1.1.1", 5004, "lo"))


def test_sensor_defaults():
    assert parse_settings("", "f.toml").sensors == SensorSettings()
    assert Settings().sensors.enabled  # the default serves the host's sensors
    s = SensorSettings()
    assert (s.sysfs_root, s.block_id, s.refresh_s, s.hysteresis) == (
        Path("/sys"), DEFAULT_SENSOR_BLOCK_ID, 10.0, 0)


def test_sensor_every_key():
    cfg = parse_settings(f"""
[temperature_sensors]
enabled = true
sysfs_root = "{SYSFS}"
id = 9
refresh_s = 2.5
hysteresis = 2
[[temperature_sensors.threshold]]
location = "*"
high_warning = 70
high_critical = 90
[[temperature_sensors.threshold]]
location = "nvme nvme0 Composite"
high_critical = 75
""", "f.toml")
    s = cfg.sensors
    assert (s.sysfs_root, s.block_id, s.refresh_s, s.hysteresis) == (SYSFS, 9, 2.5, 2)
    own = s.override_for("nvme nvme0 Composite")
    assert (own.high_warning, own.high_critical) == (70, 75)
    other = s.override_for("anything")
    assert (other.high_warning, other.high_critical) == (70, 90)


def test_sensors_disabled_need_no_root():
    cfg = parse_settings('[temperature_sensors]\nenabled = false\nsysfs_root = "/nonexistent"', "f.toml")
    assert cfg.sensors.enabled is False


S = '[[stream]]\nurl = "rtp://239.1.1.1:5004"\n'
T = "[temperature_sensors]\n"
TH = T + "[[temperature_sensors.threshold]]\n"


@pytest.mark.parametrize(
    "text,message",
    [
        ("[[stream]]\nname = 'x'", "f.toml: stream[0].url: expected a string, found nothing"),
        ("[[stream]]\nurl = 5004", "f.toml: stream[0].url: expected a string, found 5004"),
        ("[[stream]]\nurl = '239.1.1.1:5004'",
         "f.toml: stream[0].url: expected a stream URL like rtp://239.1.1.1:5004, "
         "udp://[source@]group:port[?iface=NAME] ('239.1.1.1:5004': expected scheme://address:port"),
        ("[[stream]]\nurl = 'http://1.2.3.4:80'", "stream[0].url: expected a stream URL"),
        ("[[stream]]\nurl = 'udp://239.1.1.1:0'", "port 0 out of range 1..65535"),
        ("[[stream]]\nurl = 'udp://239.1.1.1:5004?iface=nosuchif0'",
         "f.toml: stream[0].url: expected an iface that is a network interface of this host "
         "(no interface 'nosuchif0'), found 'udp://239.1.1.1:5004?iface=nosuchif0'"),
        (S + "bogus = 1", "f.toml: stream[0].bogus: unknown key (expected one of alarms, "
         "buffer_ms, dvb_input, fade_out_s, id, interval_s, max_programs, name, presence_timeout_s, program, "
         "programs_id, rate_bps, sip_server, tr101290, url)"),
        (S + "max_programs = 0", "f.toml: stream[0].max_programs: expected an integer in 1..64, found 0"),
        (S + "max_programs = 'all'", "f.toml: stream[0].max_programs: expected an integer in 1..64, found 'all'"),
        (S + "programs_id = 0", "f.toml: stream[0].programs_id: expected an integer in 1..4294967282, found 0"),
        (S + "max_programs = 2\nprograms_id = 4294967295",
         "f.toml: stream[0].programs_id: expected an integer in 1..4294967294, found 4294967295"),
        (S + "programs_id = 10\n[[network]]\nid = 12\n",
         "f.toml: stream[0].programs_id: block 12 (from its programs_id; its further programs use "
         "10..23) is already used by a static NetworkBlock block; set programs_id"),
        (S + "id = 100\nprograms_id = 96\n",
         "f.toml: stream[0].programs_id: block 100 (from its programs_id; its further programs use "
         "96..109) is already used by stream[0]; set programs_id"),
        (S + "name = 3", "f.toml: stream[0].name: expected a string, found 3"),
        (S + "id = 0", "f.toml: stream[0].id: expected an integer in 1..4294967292, found 0"),
        (S + "id = 4294967295", "stream[0].id: expected an integer in 1..4294967292, found 4294967295"),
        (S + "id = '7'", "stream[0].id: expected an integer in 1..4294967292, found '7'"),
        (S + "rate_bps = '2M'", "f.toml: stream[0].rate_bps: expected a number in 1000..100000000000, found '2M'"),
        (S + "rate_bps = -1", "stream[0].rate_bps: expected a number in 1000..100000000000, found -1"),
        (S + "buffer_ms = 0", "f.toml: stream[0].buffer_ms: expected an integer in 1..600000, found 0"),
        (S + "buffer_ms = 1.5", "stream[0].buffer_ms: expected an integer in 1..600000, found 1.5"),
        (S + "interval_s = 0", "f.toml: stream[0].interval_s: expected a number in 0.1..60, found 0"),
        (S + "interval_s = true", "stream[0].interval_s: expected a number in 0.1..60, found True"),
        (S + "presence_timeout_s = 'x'", "f.toml: stream[0].presence_timeout_s: expected a number in 0.05..3600, found 'x'"),
        (S + "fade_out_s = -1", "f.toml: stream[0].fade_out_s: expected a number in 0..604800, found -1"),
        (S + "sip_server = '::1'", "f.toml: stream[0].sip_server: expected an IPv4 address (network_type is ipv4), found '::1'"),
        (S + "sip_server = 'sip.example'", "f.toml: stream[0].sip_server: expected an IP address, found 'sip.example'"),
        (S + "program = 0", "f.toml: stream[0].program: expected an integer in 1..65535, found 0"),
        ("stream = 3", "f.toml: stream: expected an array of tables ([[stream]]), found 3"),
        (S + S, "f.toml: stream[1].url: expected a stream not already declared (same address and "
         "port as stream[0]), found 'rtp://239.1.1.1:5004'"),
        (S + "id = 10\n[[network]]\nid = 12", "f.toml: stream[0].id: block 12 (from its id; the "
         "stream uses 10..13) is already used by a static NetworkBlock block"),
        (S + "id = 10\n[[stream]]\nurl = 'rtp://239.1.1.2:5004'\nid = 13",
         "f.toml: stream[1].id: block 13 (from its id; the stream uses 13..16) is already used by stream[0]"),
        (S + "id = 998\n", "f.toml: temperature_sensors.id: block 1000 is already used by stream[0]; set another id"),
        ("temperature_sensors = 1", "f.toml: temperature_sensors: expected a table, found 1"),
        (T + "enabled = 'yes'", "f.toml: temperature_sensors.enabled: expected true or false, found 'yes'"),
        (T + "sysfs_root = 5", "f.toml: temperature_sensors.sysfs_root: expected a string, found 5"),
        (T + "sysfs_root = '/nonexistent/sys'", "f.toml: temperature_sensors.sysfs_root: expected an "
         "existing directory (a sysfs mount or a copy of one), found '/nonexistent/sys'"),
        (T + "id = 0", "f.toml: temperature_sensors.id: expected an integer in 1..4294967295, found 0"),
        (T + "refresh_s = 0", "f.toml: temperature_sensors.refresh_s: expected a number in 0.5..3600, found 0"),
        (T + "hysteresis = -1", "f.toml: temperature_sensors.hysteresis: expected an integer in 0..100, found -1"),
        (T + "sysfs = '/sys'", "f.toml: temperature_sensors.sysfs: unknown key"),
        (T + "threshold = 'hot'", "f.toml: temperature_sensors.threshold: expected an array of tables"),
        (TH + "high_warning = 70", "f.toml: temperature_sensors.threshold[0].location: expected a string, found nothing"),
        (TH + "location = ''", "temperature_sensors.threshold[0].location: expected a location name of 1 to 80 octets"),
        (TH + "location = 'cpu'\nhigh_warning = 'hot'",
         "f.toml: temperature_sensors.threshold[0].high_warning: expected an integer in -273..1000, found 'hot'"),
        (TH + "location = 'cpu'\nhigh_warning = 2000", "threshold[0].high_warning: expected an integer in -273..1000, found 2000"),
        (TH + "location = 'cpu'\nhigh_warning = 90\nhigh_critical = 80",
         "f.toml: temperature_sensors.threshold[0]: high_warning (90 °C) must not be above high_critical (80 °C)"),
        (TH + "location = 'cpu'\ncolour = 'red'", "temperature_sensors.threshold[0].colour: unknown key"),
        (TH + "location = 'cpu'\n[[temperature_sensors.threshold]]\nlocation = 'cpu'",
         "f.toml: temperature_sensors.threshold[1].location: expected a location without another "
         "threshold entry, found 'cpu'"),
        (TH + "location = '*'\nhigh_critical = 60\n[[temperature_sensors.threshold]]\n"
         "location = 'cpu'\nhigh_warning = 70",
         "f.toml: temperature_sensors.threshold[1]: with the \"*\" entry: high_warning (70 °C) "
         "must not be above high_critical (60 °C)"),
    ],
)
def test_garbage_in_new_keys_is_refused(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_settings(text, "f.toml")
    assert message in str(exc.value)


def test_one_file_composes_the_agent_and_the_collectors():
    settings = parse_settings('[agent]\nlisten = ["udp:127.0.0.1:0"]\n[[network]]\nid = 1\n' + S,
                              "f.toml")
    assert settings.agent.source == "f.toml" and settings.agent.listen[0].port == 0
    assert [r.block_id for r in settings.agent.blocks] == [1]
    assert [s.url.port for s in settings.streams] == [5004]


def test_unknown_sections_name_every_part():
    with pytest.raises(ConfigError) as exc:
        parse_settings("bogus = 1", "f.toml")
    assert str(exc.value) == (
        "f.toml: bogus: unknown key (expected one of access, agent, audio, network, notify, rx, "
        "stream, system, temperature, temperature_sensors, video)")


def test_the_agent_alone_reads_only_its_sections():
    with pytest.raises(ConfigError, match=r"f.toml: stream: unknown key \(expected one of access, "
                                          r"agent, audio, network, notify, rx, system, temperature, "
                                          r"video\)"):
        parse_config(S, "f.toml")
    assert parse_config(S + T + "enabled = false\n", "f.toml", SECTIONS).blocks == ()
