"""Embedding: a product raises and clears its own alarms through agent.alarms; net-snmp reads
them from extAlarmActiveTable / extAlarmLogTable and the notification hub carries
extAlarmRaised / extAlarmCleared with the same id. examples/embed.py's alarm rule raises on a
second with loss and clears on a clean one."""

from __future__ import annotations

import importlib.util

from iec62379.agent.config import AgentConfig, Community, Endpoint
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.mibs.vocabulary import AlarmCondition, Severity
from test_embed import EXAMPLE, snmpget

ACTIVE = "1.3.6.1.4.1.32473.62380.1.4.1.1"  # extAlarmActiveEntry
LOG = "1.3.6.1.4.1.32473.62380.1.4.2.1"  # extAlarmLogEntry
COUNT = "1.3.6.1.4.1.32473.62380.1.4.3.0"  # extAlarmActiveCount.0


def test_a_product_raises_and_clears_its_own_alarms() -> None:
    agent = Agent(AgentConfig(source="test", listen=(Endpoint("udp", "127.0.0.1", 0),),
                              communities=(Community("public", "listener", ("127.0.0.0/8",)),)),
                  BlockStore())
    sent = []
    agent.notifications.subscribe(sent.append)
    agent.start_in_thread()
    try:
        port = agent.endpoints[0].port
        aid = agent.alarms.raise_alarm((7, 2), AlarmCondition.other, Severity.CRITICAL,
                                       "11.2 V", "PSU 2: voltage low")
        r = snmpget(port, f"{ACTIVE}.2.{aid}", f"{ACTIVE}.3.{aid}", f"{ACTIVE}.4.{aid}",
                    f"{ACTIVE}.5.{aid}", f"{ACTIVE}.8.{aid}", f"{ACTIVE}.9.{aid}", COUNT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[:7] == ["7", "2", "100", "3", '"11.2 V"',
                                            '"PSU 2: voltage low"', "1"], r.stdout
        assert agent.alarms.clear_alarm(aid) is True
        r = snmpget(port, f"{ACTIVE}.2.{aid}", f"{LOG}.2.2", f"{LOG}.3.2", COUNT)
        assert "No Such Instance" in r.stdout.split("\n")[0], r.stdout
        assert r.stdout.split("\n")[1:4] == ["2", str(aid), "0"], r.stdout  # cleared(2), id
    finally:
        agent.stop_thread()
    assert [(n.name, n.alarm_id) for n in sent] == [("extAlarmRaised", aid),
                                                    ("extAlarmCleared", aid)]


def test_the_example_raises_on_loss_and_clears_when_clean() -> None:
    spec = importlib.util.spec_from_file_location("embed_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    embed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(embed)
    store = BlockStore()
    embed.install_rows(store)
    agent = Agent(embed.make_config(0), store)
    receiver = embed.SimulatedReceiver(seed=1)
    states = []
    for _ in range(12):  # the receiver loses packets every 10th second
        embed.publish(store, receiver, agent.alarms)
        states.append([(r.block_id, r.condition) for r in agent.alarms.active()])
    assert states[8] == [] and states[9] == [(embed.RX_ID, AlarmCondition.mlrHigh)]
    assert states[10] == []
    assert [e.kind.name for e in agent.alarms.log()] == ["RAISED", "CLEARED"]
