"""The DVB measurement MIB's declarations (agent/dvb.py) against the compiled MIB, their value
encodings and SET rules, and controlEventPersistence's SET through the instrumentation (a
provider's writable scalar): checked, persisted with the rows, refused, undone."""

from __future__ import annotations

import pytest
from iec62379.agent import ber
from iec62379.agent.dvb import (
    DVB_TABLES,
    RfSystem,
    TestPid,
    TestPreferences,
    TestSummary,
    TrapControl,
    TsCapability,
    TsInput,
    date_and_time,
    decode_delivery,
    decode_enable,
    decode_limit,
    decode_persistence,
    parse_floating_point,
    summary_bits,
)
from iec62379.agent.instrum import MeasurementInstrum, SetError
from iec62379.agent.mibmap import MibMap
from iec62379.agent.persist import WrittenValues
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.agent.tables import WRONG_LENGTH, WRONG_VALUE, Refused
from iec62379.mibs.tree import load_nodes
from iec62379.mibs.vocabulary import TestState, TsTest

DVB = (1, 3, 6, 1, 4, 1, 2696, 3, 2, 1)
PERSISTENCE = DVB + (1, 2, 0)
SAMPLES = [
    RfSystem(input=3),
    TrapControl(input=3),
    TsCapability(oid=(1, 3, 6, 1, 4, 1, 2696, 3, 2, 1, 5, 2, 2, 1, 3, 1040, 0)),
    TestSummary(test=TsTest.crcError, input=3),
    TestPid(pid=0x100, test=TsTest.continuityCountError, input=3),
    TestPreferences(input=3),
    TsInput(input=3, name="news", address=bytes([239, 1, 1, 1]), port=5004, rx_block_id=13),
]


def test_index_columns_name_the_row_index():
    indices = {n.name: n.indices for n in load_nodes() if n.kind == "row"}
    rows = {type(r): r for r in SAMPLES}
    for t in DVB_TABLES:
        specs = {c.name: c for c in t.columns}
        row = rows[t.row]
        names = indices[t.name.replace("Table", "Entry")]
        got = []
        for n in names:
            v = specs[n].get(row)
            got += [len(v), *v] if isinstance(v, tuple) else [v]  # an OID index: length first
        assert row.index == tuple(got), t.name


def test_encodings():
    assert date_and_time(None) == bytes([7, 178, 1, 1, 0, 0, 0, 0, 43, 0, 0])
    assert date_and_time(1_005_141_600 * 10**9 + 300_000_000) == bytes(
        [0x07, 0xD1, 11, 7, 14, 0, 0, 3, 43, 0, 0])  # 2001-11-07 14:00:00.3 UTC
    assert summary_bits(()) == bytes(12)
    assert summary_bits({TsTest.tsSyncLoss, TsTest.catError}) == bytes([0x80, 0x08]) + bytes(10)
    assert TestSummary(test=1040, input=1, enable=0x00).served_state == 1  # disabled
    assert TestSummary(test=1040, input=1, state=TestState.FAIL).served_state == 4
    assert parse_floating_point("0.3142E1") == 3.142 and parse_floating_point("-.5") == -0.5
    for bad in ("", "1e", "e5", "1.2.3", " 1", "0x10", "inf", "nan"):
        with pytest.raises(ValueError):
            parse_floating_point(bad)


@pytest.mark.parametrize("value,status", [
    (b"\x00\x00", WRONG_LENGTH), (b"\x10", WRONG_VALUE), (b"\x81", WRONG_VALUE)])
def test_enable_refusals(value, status):
    with pytest.raises(Refused) as exc:
        decode_enable(None, value)
    assert exc.value.status == status


def test_enable_and_limits_accepted():
    assert decode_enable(None, b"") == 0 and decode_enable(None, b"\xe0") == 0xE0
    assert decode_limit(None, b"500E-9") == "5e-07" and decode_limit(None, b"0.040") == "0.04"
    assert decode_persistence(b"0") == "0" and decode_persistence(b"86400") == "86400"


@pytest.mark.parametrize("value,status", [
    (b"", WRONG_LENGTH), (b"1" * 64, WRONG_LENGTH), (b"-1", WRONG_VALUE), (b"0", WRONG_VALUE),
    (b"86401", WRONG_VALUE), (b"\xff", WRONG_VALUE), (b"1 s", WRONG_VALUE)])
def test_limit_refusals(value, status):
    with pytest.raises(Refused) as exc:
        decode_limit(None, value)
    assert exc.value.status == status


@pytest.mark.parametrize("value", [0, 2, 3, 4, 5, -1])
def test_rf_delivery_of_an_ip_input_is_unknown_only(value):
    assert decode_delivery(None, 1) == 1  # unknown(1): taken, nothing changes
    with pytest.raises(Refused) as exc:
        decode_delivery(None, value)  # cable, satellite, terrestrial, outside the enumeration
    assert exc.value.status == WRONG_VALUE


def test_rows_refuse_values_outside_the_mib():
    with pytest.raises(ValueError):
        TestSummary(test=1040, input=0)
    with pytest.raises(ValueError):
        TestPid(pid=0x2000, test=1040, input=1)
    with pytest.raises(ValueError):
        TestPid(pid=1, test=TsTest.crcError, input=1)  # no PID rows for 2.2
    with pytest.raises(ValueError):
        TestPreferences(input=1, pcr_interval_max="fast")
    with pytest.raises(ValueError):
        TrapControl(input=1, rate_status=3)
    with pytest.raises(ValueError):
        RfSystem(input=1, delivery=3)
    with pytest.raises(ValueError):
        TsInput(input=1, name="", address=b"\x01", port=1, rx_block_id=1)


class Disk:
    """An on_write hook that records, or fails like a full disk."""

    def __init__(self) -> None:
        self.full = False
        self.calls: list[tuple] = []

    def __call__(self, snapshot, rows, scalars=None) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        self.calls.append((rows, scalars))


@pytest.fixture()
def setup():
    agent = Agent(store=BlockStore())
    disk = Disk()
    instrum = MeasurementInstrum(agent.store, MibMap(), providers=[agent.dvb],
                                 on_write=disk)
    return agent, instrum, disk


def test_persistence_set_is_checked_persisted_and_undone(setup):
    agent, instrum, disk = setup
    ok = lambda i, oid: True  # noqa: E731
    instrum.set([(PERSISTENCE, ber.OCTET_STRING, b"2.50")], ok)
    assert agent.dvb.persistence_s == 2.5 and disk.calls == [([], {
        "controlEventPersistence": "2.5"})]
    pos = instrum.position(PERSISTENCE)
    assert instrum.getters[pos](agent.store.snapshot) == b"2.5"
    with pytest.raises(SetError) as exc:
        instrum.set([(PERSISTENCE, ber.INTEGER, 3)], ok)
    assert exc.value.status == 7  # wrongType
    with pytest.raises(SetError) as exc:
        instrum.set([(PERSISTENCE, ber.OCTET_STRING, b"-1")], ok)
    assert exc.value.status == WRONG_VALUE
    with pytest.raises(SetError) as exc:
        instrum.set([(DVB + (1, 1, 0), ber.OCTET_STRING, bytes(11))], ok)
    assert exc.value.status == 17  # notWritable: controlNow is the host's clock
    disk.full = True
    with pytest.raises(SetError) as exc:
        instrum.set([(PERSISTENCE, ber.OCTET_STRING, b"9")], ok)
    assert exc.value.status == 14 and agent.dvb.persistence_s == 2.5  # commitFailed
    disk.full = False
    plan = instrum.check_set([(PERSISTENCE, ber.OCTET_STRING, b"7")], ok)
    instrum.commit_set(plan)
    assert agent.dvb.persistence_s == 7.0
    instrum.commit_set(plan.undo())  # AgentX UndoSet
    assert agent.dvb.persistence_s == 2.5


def test_persistence_comes_back_from_the_written_values(tmp_path):
    path = tmp_path / "written.json"
    written = WrittenValues.load(path)
    written.record(BlockStore().snapshot, [], {"controlEventPersistence": "4"})
    again = WrittenValues.load(path)
    assert again.scalars == {"controlEventPersistence": "4"}
    from iec62379.agent.config import AgentConfig

    agent = Agent(AgentConfig(state_dir=tmp_path))
    assert agent.dvb.persistence_s == 4.0
    written.record(BlockStore().snapshot, [], {"controlEventPersistence": "soon"})
    from iec62379.agent.persist import StateError

    with pytest.raises(StateError, match="controlEventPersistence 'soon'"):
        Agent(AgentConfig(state_dir=tmp_path))
