"""The collector service's alarms with injected time: an impaired stream raises loss alarms and
clears them, a stopped stream raises streamLost and its return clears it, a short condition is
an event, temperature rows raise and clear; the agent's book holds what was raised and not
cleared at every tick."""

from __future__ import annotations

from iec62379.agent.config import AgentConfig
from iec62379.agent.model import Temperature, TemperatureStatus
from iec62379.agent.runner import Agent
from iec62379.collectors.compose import build_agent
from iec62379.collectors.generator.plan import Impairments
from iec62379.collectors.service import CollectorService
from iec62379.collectors.settings import parse_settings
from iec62379.mibs.vocabulary import AlarmCondition as C
from iec62379.mibs.vocabulary import AlarmLogType as K
from streamdata import T0, S, batches, datagrams

CONFIG = """
[[stream]]
url = "rtp://127.0.0.1:5004"
name = "news"
id = 10
fade_out_s = 5
[stream.alarms]
persistence_s = 2
df_ms = {raise = 100000}  # not what is tested here
tsdf_us = {raise = 100000000}
[stream.tr101290]
# the stream restarts every 2 s (continuity, PCR discontinuity) and has gaps (PAT, PMT): what
# TR 101 290 rightly flags; the TR 101 290 conditions are tested in test_alarms_core.py
checks = false
[temperature_sensors]
enabled = false
"""


class Run:
    """A service fed second by second from the fixture (loops of 2 s) with a book."""

    def __init__(self, text: str = CONFIG) -> None:
        cfg = parse_settings(text, "t.toml")
        self.agent = Agent(AgentConfig(), None)
        self.svc = CollectorService(self.agent.store, cfg.streams, cfg.sensors)
        self.svc.alarms.attach(self.agent.alarms)
        self.book = self.agent.alarms
        self.t = T0
        self.seed = 1
        self.raised: set[tuple[int, int, C]] = set()  # what the transitions say is active

    def send(self, seconds: int, impair: Impairments | None = None) -> None:
        """`seconds` (even) of stream, published at each second."""
        for _ in range(seconds // 2):
            items = datagrams("h264_mp2.ts", loops=1, t0=self.t, seed=self.seed,
                              impairments=impair)
            self.seed += 1
            pending = list(batches(items, size=16))
            for second in (1, 2):
                end = self.t + second * S
                while pending and int(pending[0].arrival_ns.min()) < end:
                    self.svc.streams[0].feed_batch(pending.pop(0))
                self.tick(end)
            self.t += 2 * S + S // 100

    def silence(self, seconds: int) -> None:
        for _ in range(seconds):
            self.t += S
            self.tick(self.t)

    def tick(self, now: int) -> None:
        assert self.svc.publish(now)
        # the table equals what was raised and not cleared, at every tick
        assert {(r.block_id, r.component, r.condition) for r in self.book.active()} == {
            k for k in self.svc.alarms.streams[10].evaluator.raised()}
        assert set(self.agent.store.snapshot.alarms) == {(r.alarm_id,)
                                                         for r in self.book.active()}

    def active(self) -> set[C]:
        return {r.condition for r in self.book.active()}

    def logged(self, kind: K) -> list[C]:
        return [e.condition for e in self.book.log() if e.kind is kind]


def test_impairment_raises_loss_alarms_and_clean_stream_clears_them():
    run = Run()
    run.send(4)
    assert run.active() == set() and run.book.log() == []
    run.send(6, Impairments(loss_pct=10))
    assert {C.rtpLoss, C.mlrHigh} <= run.active()
    (loss,) = [r for r in run.book.active() if r.condition is C.rtpLoss]
    assert (loss.block_id, loss.component) == (13, 0)  # the receiver point
    assert loss.value.endswith(" packets") and loss.description.startswith("news: RTP loss")
    run.send(4)
    assert run.active() == set()
    assert set(run.logged(K.CLEARED)) == set(run.logged(K.RAISED))


def test_a_stopped_stream_raises_stream_lost_and_its_return_clears_it():
    run = Run()
    run.send(2)
    run.silence(1)
    assert run.active() == set()
    run.silence(4)
    assert run.active() == {C.streamLost}
    (lost,) = run.book.active()
    assert lost.block_id == 13 and lost.severity.name == "CRITICAL"
    run.silence(5)  # faded out: still lost
    assert run.active() == {C.streamLost}
    run.send(2)
    assert C.streamLost not in run.active()
    assert run.logged(K.CLEARED).count(C.streamLost) == 1


def test_a_short_gap_is_an_event_only():
    run = Run()
    run.send(2)
    run.t += S + S // 2  # 1.5 s without packets: lost for 0.5 s, less than 2 s
    run.tick(run.t)
    run.send(2)
    assert run.active() == set()
    assert run.logged(K.EVENT) == [C.streamLost] and run.logged(K.RAISED) == []


def test_a_stream_that_never_sends_is_lost_after_its_timeout():
    run = Run()
    run.tick(T0)
    run.silence(2)
    assert run.active() == set()
    run.silence(2)
    assert run.active() == {C.streamLost}


def temps(status: TemperatureStatus, celsius: float) -> list[Temperature]:
    return [Temperature(1000, 1, "cpu", celsius, status, 0, 80, 0, 95)]


def test_temperature_rows_raise_and_clear():
    text = CONFIG.replace("[temperature_sensors]\nenabled = false\n", "") + (
        '[temperature_sensors]\nsysfs_root = "/"\n[temperature_sensors.alarms]\n'
        "persistence_s = 1\n")
    run = Run(text)
    run.svc.alarms.streams.clear()  # the stream's presence is not what is tested here
    run.svc.streams = []
    warn, crit, ok = TemperatureStatus.WARNING, TemperatureStatus.CRITICAL, TemperatureStatus.OK
    for i, (status, c) in enumerate([(ok, 50), (warn, 85), (warn, 86), (crit, 97), (crit, 98),
                                     (ok, 60)]):
        run.svc.publish(T0 + i * S, temperatures=temps(status, c))
        if i == 2:
            assert run.active() == {C.temperatureWarning}
            (w,) = run.book.active()
            assert (w.block_id, w.component, w.value) == (1000, 1, "85.0 C")
        if i == 4:
            assert run.active() == {C.temperatureWarning, C.temperatureCritical}
    assert run.active() == set()
    assert run.logged(K.CLEARED) == [C.temperatureWarning, C.temperatureCritical]


def test_build_agent_attaches_the_book_and_transitions_before_it_wait():
    cfg = parse_settings(CONFIG.replace("persistence_s = 2", "persistence_s = 0"), "t.toml")
    agent, svc = build_agent(cfg)
    assert svc is not None and svc.alarms.book is agent.alarms
    early = CollectorService(agent.store, cfg.streams, cfg.sensors)
    early.publish(T0)
    early.publish(T0 + 3 * S)  # never sent: lost at once (persistence 0), no book yet
    assert agent.alarms.active() == []
    early.alarms.attach(agent.alarms)
    assert [r.condition for r in agent.alarms.active()] == [C.streamLost]
