"""Durable SETs: a SET is acknowledged only when its new state is wholly on disk; otherwise it is
answered commitFailed, written.json is left as it was and nothing changes in memory.

The full disk is a real one: a 16 KiB tmpfs mounted for the test (the test runs as root in CI;
it is skipped, saying why, where mounting is not permitted). A read-only folder is the same tmpfs
remounted read-only (root ignores file modes, so chmod would not do).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from iec62379.agent import access, ber, persist
from iec62379.agent.config import Community
from iec62379.agent.hostmib import SnmpCounters
from iec62379.agent.instrum import MeasurementInstrum, SetError
from iec62379.agent.mibmap import MibMap
from iec62379.agent.persist import WrittenValues, atomic_write_json
from iec62379.agent.responder import Responder
from iec62379.agent.store import BlockStore
from iec62379.agent.tables import COMMIT_FAILED
from iec62379.collectors.settings import load_settings

SIP = (1, 0, 62379, 7, 1, 1, 1, 1, 9)  # nMtSIPServerAddr
PAGE = 4096


@pytest.fixture(scope="module")
def mibmap() -> MibMap:
    return MibMap()


def _mount(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs, unmounted at the end."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        done = _mount(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(disk)])
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a small disk")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here (needs root): {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def fill(disk: Path, leave_pages: int = 0) -> Path:
    """Fill `disk` up (a file of whole pages), then free `leave_pages` pages of it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                if f.write(b"\0" * PAGE) < PAGE:
                    break
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    size = filler.stat().st_size // PAGE * PAGE
    os.truncate(filler, size - leave_pages * PAGE)
    return filler


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- atomic_write_json ---------------------------------------------------------------------------


def test_short_writes_are_continued(tmp_path, monkeypatch):
    real_write = os.write

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, bytes(data[:7]))  # at most 7 octets a call

    monkeypatch.setattr(persist.os, "write", short)
    data = {"values": list(range(200))}
    atomic_write_json(tmp_path / "s.json", data)
    monkeypatch.undo()
    assert json.loads((tmp_path / "s.json").read_text()) == data


def test_a_write_that_takes_nothing_fails_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    atomic_write_json(path, {"old": True})
    before = path.read_bytes()
    monkeypatch.setattr(persist.os, "write", lambda fd, data: 0)
    with pytest.raises(OSError):
        atomic_write_json(path, {"new": True})
    assert path.read_bytes() == before and temporaries(tmp_path) == []


@pytest.mark.parametrize("existed", [True, False])
def test_a_rename_that_cannot_be_made_durable_is_undone(tmp_path, monkeypatch, existed):
    path = tmp_path / "s.json"
    if existed:
        atomic_write_json(path, {"old": True})
    before = path.read_bytes() if existed else None
    calls = []
    real = persist._fsync_dir

    def failing_once(folder: Path) -> None:
        calls.append(folder)
        if len(calls) == 1:
            raise OSError(errno.EIO, "I/O error")
        real(folder)

    monkeypatch.setattr(persist, "_fsync_dir", failing_once)
    with pytest.raises(OSError):
        atomic_write_json(path, {"new": True})
    assert (path.read_bytes() if path.exists() else None) == before
    assert temporaries(tmp_path) == []


def test_a_partial_write_on_a_full_disk_keeps_the_old_file(small_disk):
    """The issue's case: one page free, a new file of several pages. os.write writes one page
    and says so; the old code renamed that page over the file (4,096 octets of invalid JSON)."""
    path = small_disk / "state.json"
    atomic_write_json(path, {"old": True})
    before = path.read_bytes()
    fill(small_disk, leave_pages=1)
    big = {"values": ["x" * 100] * 100}  # ~10 KiB
    with pytest.raises(OSError) as exc:
        atomic_write_json(path, big)
    assert exc.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and temporaries(small_disk) == []
    (small_disk / "filler").unlink()
    atomic_write_json(path, big)
    assert json.loads(path.read_text()) == big


# --- SETs -------------------------------------------------------------------------------------


@pytest.fixture()
def agent_on(mibmap):
    """(instrum, store, written values, v2c responder) with written.json in a given folder."""

    def make(folder: Path):
        cfg = load_settings(REPO / "examples" / "static-blocks.toml").agent
        store = BlockStore()
        with store.transaction() as t:
            t.put(*cfg.blocks)
        # Values written earlier to blocks that come and go: a file of two pages.
        atomic_write_json(folder / "written.json", {"format": 1, "network": {
            str(i): {"sip_server": "0a0000ff", "rx_point": False} for i in range(100, 200)}})
        assert (folder / "written.json").stat().st_size > PAGE
        written = WrittenValues.load(folder / "written.json")
        instrum = MeasurementInstrum(store, mibmap, on_write=written.record)
        responder = Responder(
            instrum, [Community("private", "supervisor")], access.read_view(mibmap),
            access.write_view(mibmap), SnmpCounters())
        return instrum, store, written, responder

    return make


def set_sip(instrum: MeasurementInstrum, last_octet: int) -> None:
    """A SET of nMtSIPServerAddr.1 through the instrumentation (raises SetError)."""
    instrum.set([(SIP + (1,), ber.OCTET_STRING, bytes([10, 0, 0, last_octet]))],
                lambda idx, oid: True)


def v2c_set_sip(responder: Responder, last_octet: int) -> int:
    """The error-status of a v2c SET of nMtSIPServerAddr.1."""
    name = ber.encode_oid(SIP + (1,))
    value = ber.encode_value(ber.OCTET_STRING, bytes([10, 0, 0, last_octet]))
    body = (ber.encode_int(1) + ber.encode_int(0) + ber.encode_int(0)
            + ber.tlv(ber.SEQUENCE, ber.varbind(name, value)))
    msg = ber.tlv(ber.SEQUENCE, ber.encode_int(1) + ber.tlv(ber.OCTET_STRING, b"private")
                  + ber.tlv(ber.SET, body))
    out = responder.handle(msg, ("127.0.0.1", 40000))
    assert out
    return ber.decode_message(out).error_status


def assert_unchanged(store, written, path, snapshot, values, file_bytes):
    assert store.snapshot is snapshot
    assert written.values == values
    assert path.read_bytes() == file_bytes
    assert WrittenValues.load(path).values == values  # the agent would start with it


@pytest.mark.parametrize("free_pages", [0, 1])
def test_set_on_a_full_disk_is_commit_failed_and_changes_nothing(small_disk, agent_on, free_pages):
    """No room at all, or room for a part of the new file (the write is short)."""
    instrum, store, written, responder = agent_on(small_disk)
    path = small_disk / "written.json"
    set_sip(instrum, 1)
    state = (store.snapshot, dict(written.values), path.read_bytes())
    filler = fill(small_disk, free_pages)
    with pytest.raises(SetError) as exc:
        set_sip(instrum, 2)
    assert exc.value.status == COMMIT_FAILED
    assert v2c_set_sip(responder, 3) == 14  # commitFailed
    assert temporaries(small_disk) == []
    assert_unchanged(store, written, path, *state)
    filler.unlink()
    assert v2c_set_sip(responder, 4) == 0
    assert store.snapshot.network[(1,)].sip_server == bytes([10, 0, 0, 4])
    assert WrittenValues.load(path).values[("network", (1,))]["sip_server"] == bytes([10, 0, 0, 4])


def test_set_in_a_read_only_folder_is_commit_failed_and_changes_nothing(small_disk, agent_on):
    instrum, store, written, responder = agent_on(small_disk)
    path = small_disk / "written.json"
    set_sip(instrum, 1)
    state = (store.snapshot, dict(written.values), path.read_bytes())
    done = _mount(["-o", "remount,ro", str(small_disk)])
    assert done.returncode == 0, done.stderr
    try:
        with pytest.raises(SetError) as exc:
            set_sip(instrum, 2)
        assert exc.value.status == COMMIT_FAILED
        assert v2c_set_sip(responder, 3) == 14
        assert_unchanged(store, written, path, *state)
    finally:
        _mount(["-o", "remount,rw", str(small_disk)])
    assert v2c_set_sip(responder, 4) == 0


# --- boots ------------------------------------------------------------------------------------


def _agent(state_dir: Path, port: int):
    from iec62379.agent.config import parse_config
    from iec62379.agent.runner import Agent

    return Agent(parse_config(f"[agent]\nlisten = ['udp:127.0.0.1:{port}']\n"
                              f"state_dir = '{state_dir}'", "boots.toml"))


def _boots(state_dir: Path) -> int | None:
    path = state_dir / "engine.json"
    return json.loads(path.read_text())["boots"] if path.exists() else None


def test_a_start_that_fails_does_not_count_a_boot(tmp_path):
    """snmpEngineBoots counts the starts that served (RFC 3414 2.2.2), not a start refused
    because its port is in use."""
    import socket

    state = tmp_path / "state"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(OSError):
            _agent(state, port).start_in_thread()
        assert _boots(state) is None
        for expected in (1, 2):
            agent = _agent(state, 0)
            agent.start_in_thread()
            agent.stop_thread()
            assert _boots(state) == expected
            with pytest.raises(OSError):
                _agent(state, port).start_in_thread()
            assert _boots(state) == expected
