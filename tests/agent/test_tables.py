"""The table declarations (agent.tables) against the compiled MIB, the row records and the
Snapshot, and what derives from them: served columns, static rows, links, written values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from iec62379.agent.config import ConfigError, parse_config
from iec62379.agent.mibmap import MibMap
from iec62379.agent.model import (
    NETWORK,
    RX_POINT,
    TABLES,
    AudioComponent,
    RxPoint,
    Snapshot,
    table_of,
)
from iec62379.agent.persist import WrittenValues
from iec62379.agent.store import BlockStore, LinkError
from iec62379.agent.tables import ColumnSpec
from iec62379.mibs.tree import load_nodes


@pytest.fixture(scope="module")
def mibmap():
    return MibMap()


@pytest.fixture(scope="module")
def nodes():
    return load_nodes()


#: Tables of the DVB measurement MIB that the agent does not serve (docs/mib.md says why).
DVB_NOT_SERVED = {
    "controlSynchronizationTable", "capabilityCableSatTable",
    "capabilityCableTable", "capabilitySatelliteTable", "capabilityTerrestrialTable",
    "tsTestsPreferencesPIDTable",
}


def test_every_mib_table_is_declared_with_every_column_in_order(nodes):
    mib_tables = [n.name for n in nodes if n.kind == "table" and n.name not in DVB_NOT_SERVED]
    declared = [(t.name, t.columns) for t in TABLES]
    declared += [(a.name, a.columns) for t in TABLES for a in t.augments]
    assert sorted(name for name, _ in declared) == sorted(mib_tables)
    for name, cols in declared:
        table_oid = next(n.oid for n in nodes if n.name == name)
        columns = [n.name for n in nodes if n.kind == "column" and n.oid[:-2] == table_oid]
        assert [c.name for c in cols] == columns


def test_rx_point_ext_table_augments_rx_point_table(nodes):
    (ext,) = RX_POINT.augments
    assert ext.name == "rxPointExtTable" and ext.module == "IEC62379-EXT-MIB"
    entry = next(n for n in nodes if n.name == "rxPointExtEntry")
    assert entry.indices == ("rxPointBlockId",)  # AUGMENTS: the same index


def test_served_columns_and_writable_ones_follow_the_mib(mibmap, nodes):
    access = {n.name: n.access for n in nodes if n.kind == "column"}
    for t in TABLES:
        served = [c.name for c in mibmap.columns[t.name]]
        own = [c.name for c in t.columns
               if access[c.name] not in ("not-accessible", "accessible-for-notify")]
        assert served == own + [c.name for a in t.augments for c in a.columns]
        writable = [c.name for c in t.columns if access[c.name] == "read-write"]
        assert [c.name for c in t.writable] == writable
    assert [c.name for c in NETWORK.writable] == ["nMtTxRxPoint", "nMtSIPServerAddr"]


def test_a_declaration_that_does_not_match_the_mib_is_refused(monkeypatch):
    import iec62379.agent.mibmap as mm

    missing = dataclasses.replace(
        RX_POINT, columns=tuple(c for c in RX_POINT.columns if c.name != "rxPointTSDF")
    )
    monkeypatch.setattr(mm, "TABLES", (missing,))
    with pytest.raises(ValueError, match="rxPointTable: declared columns"):
        MibMap()
    # a read-only column with a SET rule
    cols = [ColumnSpec(c.name, "tsdf_us", write=NETWORK.writable[0].write)
            if c.name == "rxPointTSDF" else c for c in RX_POINT.columns]
    monkeypatch.setattr(mm, "TABLES", (dataclasses.replace(RX_POINT, columns=tuple(cols)),))
    with pytest.raises(ValueError, match="rxPointTSDF: read-only in the MIB"):
        MibMap()


def test_index_columns_name_the_row_index(nodes):
    """The MIB's INDEX columns, in order, are the row attributes that make `row.index`."""
    indices = {n.name: n.indices for n in nodes if n.kind == "row"}
    rows = {type(r): r for r in parse_config(
        "[[network]]\nid = 7\n[[audio]]\nid = 8\ncomponent = 3\nnetwork = 7\n"
        "[[video]]\nid = 9\n[[rx]]\nid = 10\n"
        "[[temperature]]\nid = 11\nlocation_number = 4\n"
    ).blocks}
    for t in (t for t in TABLES if t.block):  # the DVB tables: tests/agent/test_dvb_tables.py
        index_columns = indices[t.name.replace("Table", "Entry")]
        specs = {c.name: c for c in t.columns}
        row = rows[t.row]
        assert row.index == tuple(specs[n].get(row) for n in index_columns), t.name


def test_snapshot_fields_are_the_tables_keys():
    names = [f.name for f in dataclasses.fields(Snapshot) if f.name != "version"]
    assert names == [t.key for t in TABLES]
    for t in TABLES:
        assert table_of(t.row) is t
        assert Snapshot().table(t.row) == {}


def test_config_keys_set_every_row_field_and_the_index():
    for t in (t for t in TABLES if t.block):  # tables of their own have no static rows
        # The fields only augmenting tables read (rxPointExtTable's counters) are measured,
        # never set in a static row.
        measured = {c.field.split(".")[0] for a in t.augments for c in a.columns if c.field}
        measured -= {f for f, _ in t.config_fields()}
        row_fields = [f.name for f in dataclasses.fields(t.row) if f.name not in measured]
        assert sorted(f for f, _ in t.config_fields()) == sorted(row_fields), t.name
    assert {c.field.split(".")[0] for a in RX_POINT.augments for c in a.columns
            if c.field} - {f for f, _ in RX_POINT.config_fields()} == {"counters"}
    # A row made from a static section: its index is the index columns' keys, in order.
    cfg = parse_config(
        "[[network]]\nid = 7\n[[audio]]\nid = 8\ncomponent = 3\nnetwork = 7\n"
        "[[temperature]]\nid = 9\nlocation_number = 4\n"
    )
    assert [r.index for r in cfg.blocks] == [(7,), (8, 3), (9, 4)]


def test_static_row_defaults_come_from_the_declaration():
    (net, rx) = parse_config("[[network]]\nid = 1\nnetwork_type = 'asi'\n[[rx]]\nid = 2").blocks
    assert int(net.transport_type) == 0  # notApplicable for asi
    assert (rx.buffer_size_ms, rx.occupancy_percent, rx.df_ms, rx.tsdf_us) == (0, 1, 0.0, 0)
    (net,) = parse_config("[[network]]\nid = 1").blocks
    assert int(net.transport_type) == 1 and net.if_index == 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("[[rx]]\nid = 2\ntsdf_us = -1",
         "rx[0].tsdf_us: expected an integer in 0..4294967295, found -1"),
        ("[[rx]]\nid = 2\nmlr = 'x'",
         "rx[0].mlr: expected a number in 0..1000000000.0, found 'x'"),
        ("[[rx]]\nid = 2\nbogus = 1",
         "rx[0].bogus: unknown key (expected one of buffer_size_ms, df_ms, id, mlr"),
        ("[[video]]\nid = 3\ntrick_mode_support = 1",
         "video[0].trick_mode_support: expected true or false, found 1"),
        ("[[video]]\nid = 3\nbit_rate_type = 'abr'",
         "video[0].bit_rate_type: expected unspecified | vbr | cbr, found 'abr'"),
        ("[[temperature]]\nid = 5\nstatus = 'hot'",
         "temperature[0].status: expected undetermined | other"),
        ("[[audio]]\nid = 2\nformat = 3",
         "audio[0].format: expected one of noAudio | unspecifiedAudio | audioMpeg1"),
        ("[[audio]]\nid = 2\nformat = 'videoH264'",  # an identity of another family
         "audio[0].format: expected one of noAudio | unspecifiedAudio | audioMpeg1"),
        ("[[video]]\nid = 3\ncoding_type = 'h265'",
         "video[0].coding_type: expected one of noVideo | unspecifiedVideo"),
    ],
)
def test_static_row_errors_name_the_declared_key(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "f.toml")
    assert message in str(exc.value)


def test_links_are_checked_from_the_declaration():
    s = BlockStore()
    (net,) = parse_config("[[network]]\nid = 1").blocks
    s.put(net)
    # (the config refuses such rows itself: test_config.py; here the store's own check)
    rx = RxPoint(block_id=4, network_block_id=9)
    with pytest.raises(LinkError, match=r"rxPointNetworkBlockId of rx 4 = 9: no network block 9"):
        s.put(rx)
    audio = AudioComponent(block_id=2, component=3, network_block_id=5, status=False)
    with pytest.raises(LinkError, match=r"aMtNetworkBlockId of audio 2\.3 = 5: no network block 5"):
        s.put(audio)


def test_written_values_file_keeps_its_shape(tmp_path: Path):
    (net,) = parse_config("[[network]]\nid = 1\naddress = '239.1.1.1'").blocks
    path = tmp_path / "written.json"
    written = WrittenValues.load(path)
    changed = dataclasses.replace(net, rx_point=True, sip_server=b"\x0a\x00\x00\x01")
    written.record(Snapshot(), [changed])
    data = json.loads(path.read_text())
    assert data["format"] == 1
    assert data["network"] == {"1": {"rx_point": True, "sip_server": "0a000001"}}
    again = WrittenValues.load(path)
    assert again.apply(net) == changed
