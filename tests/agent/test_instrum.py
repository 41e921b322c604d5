"""The instrumentation seam, in-process (no UDP): reads through the responder with BER
messages, SET through the instrumentation's own `set` with (name, tag, value) varbinds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from iec62379.agent import access, ber
from iec62379.agent.hostmib import SnmpCounters
from iec62379.agent.instrum import MeasurementInstrum, SetError, View
from iec62379.agent.mibmap import MibMap
from iec62379.agent.persist import WrittenValues
from iec62379.agent.responder import Community, Responder
from iec62379.agent.store import BlockStore
from iec62379.agent.tables import (
    COMMIT_FAILED,
    INCONSISTENT_VALUE,
    NO_ACCESS,
    NO_CREATION,
    NOT_WRITABLE,
    WRONG_LENGTH,
    WRONG_TYPE,
    WRONG_VALUE,
)
from iec62379.collectors.settings import load_settings

NET = (1, 0, 62379, 7, 1, 1, 1, 1)
TXRX = NET + (3,)
SIP = NET + (9,)
IFINDEX = NET + (2,)
OCTETS, INT = ber.OCTET_STRING, ber.INTEGER


@pytest.fixture(scope="module")
def mibmap():
    return MibMap()


@pytest.fixture()
def setup(mibmap, tmp_path: Path):
    cfg = load_settings(REPO / "examples" / "static-blocks.toml").agent
    store = BlockStore()
    with store.transaction() as t:
        t.put(*cfg.blocks)
    written = WrittenValues.load(tmp_path / "written.json")
    instrum = MeasurementInstrum(store, mibmap, on_write=written.record)
    return instrum, store, tmp_path / "written.json"


def responder(instrum: MeasurementInstrum, read: View | None = None) -> Responder:
    """A v2c responder over `instrum` whose community "public" reads `read` (by default the
    agent's read view)."""
    mibmap = instrum.map
    return Responder(instrum, [Community("public", "listener")],
                     read or access.read_view(mibmap), access.write_view(mibmap), SnmpCounters())


def ask(r: Responder, pdu: int, *oids: tuple[int, ...]) -> list[tuple[tuple[int, ...], int, Any]]:
    """The (name, tag, value) varbinds of the v2c Response to a request for `oids`."""
    null = ber.encode_value(ber.NULL, None)
    body = ber.encode_pdu(pdu, 7, 0, 0, [ber.varbind(ber.encode_oid(o), null) for o in oids])
    msg = ber.tlv(ber.SEQUENCE, ber.encode_int(ber.V2C) + ber.tlv(ber.OCTET_STRING, b"public")
                  + body)
    out = r.handle(msg, ("127.0.0.1", 40000))
    assert out
    m = ber.decode_message(out)
    assert (m.pdu_type, m.request_id, m.error_status) == (ber.RESPONSE, 7, 0)
    return m.varbinds


def get(instrum, *oids):
    return ask(responder(instrum), ber.GET, *oids)


def anyone(idx: int, oid: tuple[int, ...]) -> bool:
    return True


def set_(instrum, *var_binds, may_write=anyone) -> None:
    instrum.set(list(var_binds), may_write)


def test_get_values_from_the_store(setup, mibmap):
    instrum, store, _ = setup
    (n, t, v), = get(instrum, NET + (6, 1))
    assert (t, v) == (OCTETS, bytes([239, 1, 1, 1]))
    (n, t, v), = get(instrum, (1, 0, 62379, 7, 1, 2, 1, 1, 5, 2, 2))  # audio 2.2: status false
    assert (t, v) == (ber.OBJECT_IDENTIFIER, mibmap.formats["noAudio"])
    (n, t, v), = get(instrum, (1, 0, 62379, 7, 1, 4, 1, 1, 6, 4))
    assert (t, v) == (OCTETS, b"4.25:0.00")
    (n, t, v), = get(instrum, (1, 0, 62379, 7, 1, 5, 1, 1, 4, 5, 2))  # -3 C -> 0
    assert v == 0


def test_get_missing_instance_and_object(setup):
    instrum, _, _ = setup
    (_, t1, _), (_, t2, _) = get(instrum, NET + (6, 99), (1, 0, 62379, 7, 1, 9))
    assert (t1, t2) == (ber.NO_SUCH_INSTANCE, ber.NO_SUCH_OBJECT)


def test_values_follow_the_store(setup):
    instrum, store, _ = setup
    from dataclasses import replace

    rx = store.snapshot.rx[(4,)]
    store.put(replace(rx, tsdf_us=12345))
    (_, _, v), = get(instrum, (1, 0, 62379, 7, 1, 4, 1, 1, 7, 4))
    assert v == 12345


def test_getnext_walks_in_order_to_the_end(setup):
    instrum, _, _ = setup
    r = responder(instrum)
    name = (1, 0)
    seen = []
    for _ in range(1000):
        (name, tag, _), = ask(r, ber.GET_NEXT, name)
        if tag == ber.END_OF_MIB_VIEW:
            break
        seen.append(name)
    else:
        pytest.fail("the walk did not reach the end of the MIB view")
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert (1, 0, 62379, 7, 1, 1, 1, 1, 2, 1) in seen
    # columns first, then rows within a column (SMI order)
    i = seen.index(NET + (2, 1))
    assert seen[i + 1] == NET + (2, 6)


def test_getnext_honours_the_read_view(setup):
    instrum, _, _ = setup
    # A read view without the network table: GETNEXT skips into the audio table.
    r = responder(instrum, View(((1, 0, 62379, 7, 1, 2), (1, 0, 62379, 7, 1, 4))))
    (name, _, _), = ask(r, ber.GET_NEXT, (1, 0))
    assert name[:7] == (1, 0, 62379, 7, 1, 2, 1)
    (_, tag, _), = ask(r, ber.GET, NET + (2, 1))
    assert tag == ber.NO_SUCH_OBJECT


def snapshot_bytes(store):
    return repr(store.snapshot.network)


@pytest.mark.parametrize(
    "var_binds,error",
    [
        ([(IFINDEX + (1,), INT, 5)], NOT_WRITABLE),
        ([(TXRX + (1,), OCTETS, b"x")], WRONG_TYPE),
        ([(TXRX + (1,), INT, 3)], WRONG_VALUE),
        ([(SIP + (1,), OCTETS, b"\x01\x02\x03")], WRONG_LENGTH),
        # an IPv6 address on an IPv4 block
        ([(SIP + (1,), OCTETS, b"\x00" * 16)], INCONSISTENT_VALUE),
        # an asi block
        ([(SIP + (7,), OCTETS, b"\x0a\x00\x00\x01")], INCONSISTENT_VALUE),
        ([(SIP + (99,), OCTETS, b"\x0a\x00\x00\x01")], NO_CREATION),
        ([(SIP + (1,), OCTETS, b"\x0a\x00\x00\x01"), (TXRX + (1,), INT, 0)],
         WRONG_VALUE),  # all or nothing: the first varbind is not applied
    ],
)
def test_set_errors_leave_state_unchanged(setup, var_binds, error):
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(SetError) as exc:
        set_(instrum, *var_binds)
    assert (exc.value.status, exc.value.index) == (error, len(var_binds) - 1)
    assert snapshot_bytes(store) == before
    assert not path.exists()


def test_set_no_access_when_the_view_excludes_it(setup):
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(SetError) as exc:
        set_(instrum, (SIP + (1,), OCTETS, b"\x0a\x00\x00\x01"),
             may_write=lambda idx, oid: False)
    assert exc.value.status == NO_ACCESS
    assert snapshot_bytes(store) == before and not path.exists()


def test_set_applies_all_and_persists(setup):
    instrum, store, path = setup
    set_(instrum, (SIP + (1,), OCTETS, b"\x0a\x00\x00\x01"), (TXRX + (6,), INT, 1),
         (SIP + (6,), OCTETS, b""))
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
    with pytest.raises(SetError) as exc:
        set_(instrum, (SIP + (1,), OCTETS, b"\x0a\x00\x00\x01"))
    assert exc.value.status == COMMIT_FAILED
    assert snapshot_bytes(store) == before


def test_written_values_restore(setup, tmp_path):
    instrum, store, path = setup
    set_(instrum, (SIP + (1,), OCTETS, b"\x0a\x00\x00\x02"))
    written = WrittenValues.load(path)
    restored = written.apply(store.snapshot.network[(1,)])
    assert restored.sip_server == b"\x0a\x00\x00\x02"


@pytest.mark.parametrize(
    "name,error",
    [
        ((1, 0, 62379, 7, 1, 9, 9, 0), NOT_WRITABLE),  # nothing there
        (NET + (1, 1), NOT_WRITABLE),  # nMtBlockId.1: not-accessible index
        (TXRX + (1, 5), NO_CREATION),  # a writable column, no such row
    ],
)
def test_set_of_what_cannot_be_written_is_rfc3416_4_2_5(setup, name, error):
    """Step 2: no variable under the name can ever be written -> notWritable (as snmpd answers);
    step 7: a writable column's instance that does not exist and is never created -> noCreation."""
    instrum, store, path = setup
    before = snapshot_bytes(store)
    with pytest.raises(SetError) as exc:
        set_(instrum, (name, INT, 1))
    assert exc.value.status == error
    assert snapshot_bytes(store) == before and not path.exists()


def test_set_wrong_type_comes_before_no_creation(setup):
    instrum, _, _ = setup
    with pytest.raises(SetError) as exc:  # step 3 before step 7
        set_(instrum, (TXRX + (99,), OCTETS, b"x"))
    assert exc.value.status == WRONG_TYPE


def test_get_of_an_object_type_without_instance_is_no_such_instance(setup):
    instrum, _, _ = setup
    (_, t1, _), (_, t2, _) = get(instrum, NET + (2,), (1, 0, 62379, 7, 1, 1, 1))
    assert t1 == ber.NO_SUCH_INSTANCE  # nMtIfIndex itself (RFC 3416 4.2.1)
    assert t2 == ber.NO_SUCH_OBJECT  # nMtBlockEntry: not an object type
