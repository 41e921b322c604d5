"""The collector service and the store: one transaction per tick, fade-out and recovery with
injected time, stable ids across restarts, writable columns kept, sensors from fixture trees,
and the agent's wiring (real UDP on loopback, in process)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import shutil
import socket
import time
from pathlib import Path

from iec62379.agent.config import AgentConfig, Endpoint
from iec62379.agent.model import (
    AudioComponent,
    NetworkBlock,
    RxPoint,
    Temperature,
    TemperatureStatus,
)
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.collectors.compose import build_agent
from iec62379.collectors.service import CollectorService
from iec62379.collectors.settings import Settings, derive_block_id, parse_settings, stream_identity
from streamdata import T0, S, batches, datagrams

SYSFS = Path(__file__).resolve().parents[2] / "fixtures" / "sysfs"

TWO_STREAMS = """
[[stream]]
url = "rtp://127.0.0.1:5004"
name = "first"
fade_out_s = 5
[[stream]]
url = "udp://127.0.0.1:5010"
id = 100
fade_out_s = 5
[temperature_sensors]
enabled = false
"""


def service(text: str = TWO_STREAMS, store: BlockStore | None = None) -> CollectorService:
    cfg = parse_settings(text, "t.toml")
    return CollectorService(store or BlockStore(), cfg.streams, cfg.sensors)


def feed(svc: CollectorService, index: int, name: str = "h264_mp2.ts", t0: int = T0,
         seed: int = 3) -> int:
    last = 0
    for b in batches(datagrams(name, t0=t0, seed=seed)):
        svc.streams[index].feed_batch(b)
        last = int(b.arrival_ns.max())
    return last


def test_each_publish_is_one_transaction():
    store = BlockStore()
    seen = []
    store.subscribe(seen.append)
    svc = service(store=store)
    last = feed(svc, 0)
    feed(svc, 1, "hevc_aac.ts")
    for k in range(3):
        assert svc.publish(last + k * S)
    assert [s.version for s in seen] == [1, 2, 3]
    snap = store.snapshot
    derived = derive_block_id(stream_identity(None, "127.0.0.1", 5004, None))
    assert set(snap.network) == {(derived,), (100,)}
    assert set(snap.video) == {(derived + 2,), (102,)}
    assert set(snap.rx) == {(derived + 3,), (103,)}
    assert snap.video[(102,)].coding_type == "videoHevc"


def test_fade_out_removes_audio_and_video_and_recovery_brings_them_back():
    store = BlockStore()
    svc = service(store=store)
    last = feed(svc, 1)
    svc.publish(last)
    assert (102,) in store.snapshot.video and (101, 1) in store.snapshot.audio
    svc.publish(last + 2 * S)  # stopped: status false, rows stay
    snap = store.snapshot
    assert snap.video[(102,)].status is False
    assert snap.audio[(101, 1)].signal_format == "noAudio"
    svc.publish(last + 7 * S)  # faded
    snap = store.snapshot
    assert (102,) not in snap.video and not any(k[0] == 101 for k in snap.audio)
    rx = snap.rx[(103,)]  # reset to empty; its counters keep what they counted
    assert snap.network[(100,)].rx_point and rx == RxPoint(103, 100, 1000, counters=rx.counters)
    assert rx.counters.datagrams > 0
    back = feed(svc, 1, t0=last + 20 * S, seed=4)
    svc.publish(back)
    snap = store.snapshot
    assert snap.video[(102,)].status is True and snap.audio[(101, 1)].status is True


def test_ids_stay_the_same_across_restarts_and_config_edits():
    first = service()
    first.publish(T0)
    ids_before = set(first.store.snapshot.network)
    again = service()  # a restart with the same file
    again.publish(T0)
    assert set(again.store.snapshot.network) == ids_before
    edited = service('[[stream]]\nurl = "rtp://239.9.9.9:6000"\n' + TWO_STREAMS)
    edited.publish(T0)
    assert ids_before < set(edited.store.snapshot.network)  # others keep theirs


def test_configured_sip_server_then_a_managers_value():
    store = BlockStore()
    svc = service(TWO_STREAMS.replace("id = 100", 'id = 100\nsip_server = "192.0.2.1"'), store)
    svc.publish(T0)
    assert store.snapshot.network[(100,)].sip_server == bytes([192, 0, 2, 1])


def test_writable_columns_set_by_a_manager_are_kept():
    store = BlockStore()
    svc = service(store=store)
    svc.publish(T0)
    net = store.snapshot.network[(100,)]
    sip = ipaddress.ip_address("192.0.2.5").packed
    store.put(dataclasses.replace(net, sip_server=sip))
    last = feed(svc, 1)
    svc.publish(last)
    assert store.snapshot.network[(100,)].sip_server == sip


def test_a_refused_commit_is_logged_not_raised(caplog):
    store = BlockStore()
    store.put(Temperature(101, 1, "an embedder's sensor", 30.0, TemperatureStatus.OK))
    svc = service(store=store)
    last = feed(svc, 1)
    assert svc.publish(last) is False
    assert svc.commit_errors == 1 and "refused" in caplog.text
    assert (100,) not in store.snapshot.network  # all or nothing


def test_for_config_none_without_streams_or_sensors():
    cfg = parse_settings("[temperature_sensors]\nenabled = false", "t.toml")
    assert CollectorService.for_config(cfg, BlockStore()) is None


def test_sensor_rows_with_config_thresholds(tmp_path: Path):
    cfg = parse_settings(f"""
[temperature_sensors]
sysfs_root = "{SYSFS / 'workstation'}"
id = 7
[[temperature_sensors.threshold]]
location = "*"
high_critical = 90
[[temperature_sensors.threshold]]
location = "coretemp Package id 0"
high_warning = 45
""", "t.toml")
    store = BlockStore()
    svc = CollectorService.for_config(cfg, store)
    assert svc is not None
    rows = {r.location: r for r in store.snapshot.temperature.values()}
    assert len(rows) == 10 and all(r.block_id == 7 for r in rows.values())
    pkg = rows["coretemp Package id 0"]
    assert (pkg.trend, pkg.high_warning, pkg.high_critical, pkg.status) == (
        47, 45, 90, TemperatureStatus.WARNING)
    core = rows["coretemp Core 0"]  # "*" overrides the sensor's own critical (100)
    assert (core.high_warning, core.high_critical, core.status) == (80, 90, TemperatureStatus.OK)
    assert rows["x86_pkg_temp"].high_critical == 90
    assert rows["acpitz temp1"].low_warning == 0  # absent threshold: 0


def test_sensor_that_goes_away_and_comes_back_keeps_its_number(tmp_path: Path):
    root = tmp_path / "sys"
    shutil.copytree(SYSFS / "workstation", root, symlinks=True)
    cfg = parse_settings(f'[temperature_sensors]\nsysfs_root = "{root}"', "t.toml")
    store = BlockStore()
    svc = CollectorService.for_config(cfg, store)
    numbers = {r.location: r.location_number for r in store.snapshot.temperature.values()}
    zone = root / "class" / "thermal" / "thermal_zone2"
    kept = tmp_path / "zone2"
    zone.rename(kept)
    svc.publish(T0, svc.read_sensors())
    now = {r.location: r.location_number for r in store.snapshot.temperature.values()}
    assert "pch_cannonlake" not in now
    assert all(numbers[k] == v for k, v in now.items())
    kept.rename(zone)
    svc.publish(T0, svc.read_sensors())
    again = {r.location: r.location_number for r in store.snapshot.temperature.values()}
    assert again == numbers


def test_unreadable_sensor_gives_status_unknown():
    cfg = parse_settings(f'[temperature_sensors]\nsysfs_root = "{SYSFS / "broken"}"', "t.toml")
    store = BlockStore()
    CollectorService.for_config(cfg, store)
    rows = {r.location: r for r in store.snapshot.temperature.values()}
    faulty = rows["broken Faulty"]
    assert (faulty.status, faulty.trend) == (TemperatureStatus.UNKNOWN, 0)
    outdoor = rows["broken Outdoor"]  # -5.5 °C: trend 0, status from the true value
    assert (outdoor.trend, outdoor.status) == (0, TemperatureStatus.OK)


# --- the agent's wiring, in process, real UDP on loopback ---------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_agent_runs_the_collectors(tmp_path: Path):
    port = _free_port()
    cfg = parse_settings(f"""
[agent]
listen = ["udp:127.0.0.1:0"]
[[stream]]
url = "rtp://127.0.0.1:{port}"
id = 20
interval_s = 0.5
[temperature_sensors]
sysfs_root = "{SYSFS / 'workstation'}"
refresh_s = 0.5
""", "t.toml")
    agent, svc = build_agent(cfg)
    snap = agent.store.snapshot
    # before start: the configured network block, its receiver point and the sensors
    assert set(snap.network) == {(20,)} and set(snap.rx) == {(23,)} and len(snap.temperature) == 10
    agent.start_in_thread()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            start = time.monotonic()
            items = list(datagrams("h264_mp2.ts", t0=0))
            for payload, due in items:  # paced roughly by the plan, bounded to a few seconds
                wait = start + due / 1e9 - time.monotonic()
                if wait > 0.002:
                    time.sleep(wait)
                tx.sendto(payload, ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        video = None
        while time.monotonic() < deadline:
            video = agent.store.snapshot.video.get((22,))
            if video is not None and video.status:
                break
            time.sleep(0.1)
        assert video is not None and video.status and video.coding_type == "videoH264"
        snap = agent.store.snapshot
        assert isinstance(snap.audio[(21, 1)], AudioComponent) and snap.audio[(21, 1)].status
        rx = snap.rx[(23,)]
        assert rx.tsdf_us > 0 and ":" in rx.mdi
        assert isinstance(snap.network[(20,)], NetworkBlock)
        assert svc is not None and agent.services == [svc] and svc.commits > 0
    finally:
        agent.stop_thread()
    assert svc._sources == {}


def test_default_settings_collect_host_sensors_only():
    agent, svc = build_agent(Settings(agent=AgentConfig(listen=(Endpoint("udp", "127.0.0.1", 0),))))
    assert svc is not None
    assert svc.streams == [] and svc.sensors is not None
    snap = agent.store.snapshot
    assert not snap.network and not snap.video and not snap.audio and not snap.rx
    assert all(r.block_id == 1000 for r in snap.temperature.values())


def test_the_agent_alone_serves_only_what_is_put_in_its_store():
    agent = Agent(AgentConfig(listen=(Endpoint("udp", "127.0.0.1", 0),)))
    assert agent.services == [] and agent.store.snapshot.block_ids() == set()


def test_a_stream_that_cannot_be_received_does_not_stop_the_agent(caplog):
    cfg = parse_settings("""
[agent]
listen = ["udp:127.0.0.1:0"]
[[stream]]
url = "rtp://192.0.2.77:5004"   # TEST-NET-1: not an address of this host, bind fails
id = 30
[temperature_sensors]
enabled = false
""", "t.toml")
    agent, _ = build_agent(cfg)
    agent.start_in_thread()
    try:
        assert agent.endpoints  # serving
        snap = agent.store.snapshot
        assert (30,) in snap.network and (33,) in snap.rx
    finally:
        agent.stop_thread()
    assert "cannot receive" in caplog.text and "192.0.2.77" in caplog.text


def _free_ports(*offsets: int) -> int:
    """A port P with P + each offset free on 127.0.0.1."""
    for _ in range(100):
        base = _free_port()
        socks: list[socket.socket] = []
        try:
            for off in offsets:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + off))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def test_fec_is_not_received_on_another_configured_streams_port():
    port = _free_ports(0, 2, 4, 6)
    cfg = parse_settings(f"""
[[stream]]
url = "rtp://127.0.0.1:{port}"
id = 40
[[stream]]
url = "rtp://127.0.0.1:{port + 2}"
id = 50
[temperature_sensors]
enabled = false
""", "t.toml")
    svc = CollectorService(BlockStore(), cfg.streams, cfg.sensors)

    async def run() -> dict[int, list[int]]:
        await svc.start()
        try:
            return {key: inp.fec_ports for key, inp in svc._sources.items()}
        finally:
            await svc.stop()

    assert asyncio.run(run()) == {40: [port + 4], 50: [port + 4, port + 6]}
    assert svc._sources == {}
