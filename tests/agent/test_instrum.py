"""The instrumentation seam, in-process (no UDP): GET, GETNEXT, SET and its error-statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from iec62379.agent.instrum import MeasurementInstrum
from iec62379.agent.mibmap import MibMap
from iec62379.agent.persist import WrittenValues
from iec62379.agent.store import BlockStore
from iec62379.collectors.settings import load_settings
from iec62379.mibs.tree import mib_builder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

NET = (1, 0, 62379, 7, 1, 1, 1, 1)
TXRX = NET + (3,)
SIP = NET + (9,)
IFINDEX = NET + (2,)


@pytest.fixture(scope="module")
def mibmap():
    return MibMap(mib_builder())


@pytest.fixture()
def setup(mibmap, tmp_path: Path):
    cfg = load_settings(REPO / "examples" / "static-blocks.toml").agent
    store = BlockStore()
    with store.transaction() as t:
        t.put(*cfg.blocks)
    written = WrittenValues.load(tmp_path / "written.json")
    instrum = MeasurementInstrum(store, mibmap, on_write=written.record)
    return instrum, store, tmp_path / "written.json"


def oid(*arcs):
    return rfc1902.ObjectName(arcs)


def get(instrum, *oids):
    return instrum.read_variables(*[(oid(*o), None) for o in oids])


def test_get_values_from_the_store(setup, mibmap):
    instrum, store, _ = setup
    (n, v), = get(instrum, NET + (6, 1))
    assert bytes(v) == bytes([239, 1, 1, 1])
    (n, v), = get(instrum, (1, 0, 62379, 7, 1, 2, 1, 1, 5, 2, 2))  # audio 2.2: status false
    assert tuple(v) == mibmap.formats["noAudio"]
    (n, v), = get(instrum, (1, 0, 62379, 7, 1, 4, 1, 1, 6, 4))
    assert bytes(v) == b"4.25:0.00"
    (n, v), = get(instrum, (1, 0, 62379, 7, 1, 5, 1, 1, 4, 5, 2))  # -3 C -> 0
    assert int(v) == 0


def test_get_missing_instance_and_object(setup):
    instrum, _, _ = setup
    (_, v1), (_, v2) = get(instrum, NET + (6, 99), (1, 0, 62379, 7, 1, 9))
    assert v1 is rfc1905.noSuchInstance and v2 is rfc1905.noSuchObject


def test_values_follow_the_store(setup):
    instrum, store, _ = setup
    from dataclasses import replace

    rx = store.snapshot.rx[(4,)]
    store.put(replace(rx, tsdf_us=12345))
    (_, v), = get(instrum, (1, 0, 62379, 7, 1, 4, 1, 1, 7, 4))
    assert int(v) == 12345


def test_getnext_walks_in_order_to_the_end(setup):
    instrum, _, _ = setup
    name = oid(1, 0)
    seen = []
    for _ in range(1000):
        (name, value), = instrum.read_next_variables((name, None))
        if value is rfc1905.endOfMibView:
            break
        seen.append(tuple(name))
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert (1, 0, 62379, 7, 1, 1, 1, 1, 2, 1) in seen
    # columns first, then rows within a column (SMI order)
    i = seen.index(NET + (2, 1))
    assert seen[i + 1] == NET + (2, 6)


def test_getnext_honours_the_access_function(setup):
    instrum, _, _ = setup
    # An access function that hides the network table: GETNEXT skips into the audio table.
    def ac(view, var_bind, **ctx):
        return tuple(var_bind[0])[:8] == NET
    (name, _), = instrum.read_next_variables((oid(1, 0), None), acFun=ac)
    assert tuple(name)[:7] == (1, 0, 62379, 7, 1, 2, 1)
    (_, v), = instrum.read_variables((oid(*NET, 2, 1), None), acFun=ac)
    assert v is rfc1905.noSuchObject


def snapshot_bytes(store):
    return repr(store.snapshot.network)


@pytest.mark.parametrize(
    "var_binds,error",
    [
        ([(IFINDEX + (1,), rfc1902.Integer32(5))], smi_error.NotWritableError),
        ([(TXRX + (1,), rfc1902.OctetString(b"x"))], smi_error.WrongTypeError),
        ([(TXRX + (1,), rfc1902.Integer32(3))], smi_error.WrongValueError),
        ([(SIP + (1,), rfc1902.OctetString(b"\x01\x02\x03"))], smi_error.WrongLengthError),
        # an IPv6 address on an IPv4 block
        ([(SIP + (1,), rfc1902.OctetString(b"\x00" * 16))], smi_error.InconsistentValueError),
        # an asi block
        ([(SIP + (7,), rfc1902.OctetString(b"\x0a\x00\x00\x01"))],
         smi_error.InconsistentValueError),
        ([(SIP + (99,), rfc1902.OctetString(b"\x0a\x00\x00\x01"))], smi_error.NoCreationError),
        ([(SIP + (1,), rfc1902.OctetString(b"\x0a\x00\x00\x01")),
          (TXRX + (1,), rfc1902.Integer32(0))],
         smi_error.WrongValueError),  # all or nothing: the first varbind is not applied
    ],
)
def test_set_errors_leave_state_unchanged(setup, var_binds, error):
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(error) as exc:
        instrum.write_variables(*[(oid(*o), v) for o, v in var_binds])
    assert exc.value.get("idx") == len(var_binds) - 1
    assert snapshot_bytes(store) == before
    assert not path.exists()


def test_set_no_access_when_the_view_excludes_it(setup):
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(smi_error.NoAccessError):
        instrum.write_variables((oid(*SIP, 1), rfc1902.OctetString(b"\x0a\x00\x00\x01")),
                                acFun=lambda view, vb, **ctx: view == "write")
    assert snapshot_bytes(store) == before and not path.exists()


def test_set_applies_all_and_persists(setup):
    instrum, store, path = setup
    out = instrum.write_variables(
        (oid(*SIP, 1), rfc1902.OctetString(b"\x0a\x00\x00\x01")),
        (oid(*TXRX, 6), rfc1902.Integer32(1)),
        (oid(*SIP, 6), rfc1902.OctetString(b"")),
    )
    assert len(out) == 3
    snap = store.snapshot
    assert snap.network[(1,)].sip_server == b"\x0a\x00\x00\x01"
    assert snap.network[(6,)].rx_point is True
    # nMtTxRxPoint true -> an rxPointTable row for block 6 exists
    assert any(r.network_block_id == 6 for r in snap.rx.values())
    data = json.loads(path.read_text())
    assert data["network"]["1"]["sip_server"] == "0a000001"
    assert data["network"]["6"]["rx_point"] is True


def test_set_that_cannot_be_persisted_is_refused(setup, mibmap):
    instrum, store, path = setup
    def failing(snapshot, blocks):
        raise OSError(28, "No space left on device")
    instrum.on_write = failing
    before = snapshot_bytes(store)
    with pytest.raises(smi_error.CommitFailedError):
        instrum.write_variables((oid(*SIP, 1), rfc1902.OctetString(b"\x0a\x00\x00\x01")))
    assert snapshot_bytes(store) == before


def test_written_values_restore(setup, tmp_path):
    instrum, store, path = setup
    instrum.write_variables((oid(*SIP, 1), rfc1902.OctetString(b"\x0a\x00\x00\x02")))
    written = WrittenValues.load(path)
    restored = written.apply(store.snapshot.network[(1,)])
    assert restored.sip_server == b"\x0a\x00\x00\x02"


@pytest.mark.parametrize(
    "name,error",
    [
        ((1, 0, 62379, 7, 1, 9, 9, 0), smi_error.NotWritableError),  # nothing there
        (NET + (1, 1), smi_error.NotWritableError),  # nMtBlockId.1: not-accessible index
        (TXRX + (1, 5), smi_error.NoCreationError),  # a writable column, no such row
    ],
)
def test_set_of_what_cannot_be_written_is_rfc3416_4_2_5(setup, name, error):
    """Step 2: no variable under the name can ever be written -> notWritable (as snmpd answers);
    step 7: a writable column's instance that does not exist and is never created -> noCreation."""
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(error):
        instrum.write_variables((oid(*name), rfc1902.Integer32(1)))
    assert snapshot_bytes(store) == before and not path.exists()


def test_set_wrong_type_comes_before_no_creation(setup):
    instrum, _, _ = setup
    with pytest.raises(smi_error.WrongTypeError):  # step 3 before step 7
        instrum.write_variables((oid(*TXRX, 99), rfc1902.OctetString(b"x")))


def test_get_of_an_object_type_without_instance_is_no_such_instance(setup):
    instrum, _, _ = setup
    (_, v1), (_, v2) = get(instrum, NET + (2,), (1, 0, 62379, 7, 1, 1, 1))
    assert v1 is rfc1905.noSuchInstance  # nMtIfIndex itself (RFC 3416 4.2.1)
    assert v2 is rfc1905.noSuchObject  # nMtBlockEntry: not an object type
