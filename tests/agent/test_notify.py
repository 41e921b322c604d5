"""[[notify]] in pieces: the sections' checks (garbage refused with file / key / expected /
found), the persisted outbox (order, sequence numbers across a restart, the bound and its
overflow notification, a corrupt file), the rate limit, and the PDUs (decoded back with the
agent's BER)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from iec62379.agent import ber
from iec62379.agent.config import ConfigError, parse_config
from iec62379.agent.notification import Notification
from iec62379.agent.notify import wire
from iec62379.agent.notify.outbox import Outbox, outbox_path
from iec62379.agent.notify.ratelimit import RateLimit
from iec62379.agent.persist import StateError
from iec62379.mibs.vocabulary import Severity

USER = ("[[access.user]]\nname = 'ops'\nauth_key = 'auth-key-1'\npriv_key = 'priv-key-1'\n"
        "[[access.user]]\nname = 'authonly'\nauth_key = 'auth-key-1'\npriv_protocol = 'none'\n")
T = "[[notify]]\ntarget = 'udp:127.0.0.1:1162'\n"

GARBAGE = [
    ("[[notify]]\nkind = 'trap'", "f.toml: notify[0].target: expected a string, found nothing"),
    ("[[notify]]\ntarget = 162", "f.toml: notify[0].target: expected a string, found 162"),
    ("[[notify]]\ntarget = 'tcp:127.0.0.1:162'",
     "f.toml: notify[0].target: expected a target like 'udp:127.0.0.1:162', 'udp6:[::1]:162' "
     "or 'udp:host.example:162', found 'tcp:127.0.0.1:162'"),
    ("[[notify]]\ntarget = 'udp:127.0.0.1'", "notify[0].target: expected a target like"),
    ("[[notify]]\ntarget = 'udp:127.0.0.1:0'", "(a port in 1..65535), found 'udp:127.0.0.1:0'"),
    ("[[notify]]\ntarget = 'udp:127.0.0.1:70000'", "(a port in 1..65535)"),
    ("[[notify]]\ntarget = 'udp:[::1]:162'",
     "f.toml: notify[0].target: expected an IPv4 address for udp, found 'udp:[::1]:162'"),
    ("[[notify]]\ntarget = 'udp6:127.0.0.1:162'", "expected an IPv6 address for udp6"),
    ("[[notify]]\ntarget = 'udp:bad_name!:162'", "notify[0].target: expected a target like"),
    ("[[notify]]\ntarget = 'udp:1.2.3:162'", "notify[0].target: expected a target like"),
    ("[[notify]]\ntarget = 'udp:\u0661.example:162'", "notify[0].target: expected a target"),
    (T + "kind = 'email'", "f.toml: notify[0].kind: expected one of trap | inform, found 'email'"),
    (T + "min_severity = 'loud'", "f.toml: notify[0].min_severity: expected one of cleared | "
     "indeterminate | warning | minor | major | critical, found 'loud'"),
    (T + "user = 'nobody'", "f.toml: notify[0].user: expected the name of one of the "
     "[[access.user]] ('ops', 'authonly'), found 'nobody'"),
    (T + "user = 'authonly'", "f.toml: notify[0].user: expected a user with auth_key and "
     "priv_key (notifications go authPriv), found 'authonly'"),
    (T + "user = 'ops'\ncommunity = 'x'", "notify[0].user: expected either community (v2c) or "
     "user (v3), not both"),
    (T + "community = ''", "notify[0].community: expected a community of 1 to 32 characters"),
    (T + "timeout_s = 0", "f.toml: notify[0].timeout_s: expected a number in 0.05..3600, found 0"),
    (T + "timeout_s = 'fast'", "notify[0].timeout_s: expected a number in 0.05..3600"),
    (T + "retries = -1", "f.toml: notify[0].retries: expected an integer in 0..100, found -1"),
    (T + "retries = true", "notify[0].retries: expected an integer in 0..100, found True"),
    (T + "timeout_s = 10\nmax_interval_s = 5",
     "f.toml: notify[0].max_interval_s: expected a number of seconds >= timeout_s (10.0), "
     "found 5"),
    (T + "outbox_size = 0", "notify[0].outbox_size: expected an integer in 1..1000000, found 0"),
    (T + "heartbeat_s = 0.5",
     "notify[0].heartbeat_s: expected 0 (off) or a number of seconds in 1..86400, found 0.5"),
    (T + "heartbeat_s = -1", "notify[0].heartbeat_s: expected a number in 0..86400, found -1"),
    (T + "rate_per_minute = 0", "notify[0].rate_per_minute: expected an integer in 1..60000"),
    (T + "colour = 'red'", "f.toml: notify[0].colour: unknown key (expected one of community,"),
    (T + T, "f.toml: notify[1].target: expected a target not already declared, "
     "found 'udp:127.0.0.1:1162'"),
    ("notify = 'udp:127.0.0.1:162'", "f.toml: notify: expected an array of tables ([[notify]])"),
    ("[agent]\nenable_authen_traps = 'yes'",
     "f.toml: agent.enable_authen_traps: expected true or false, found 'yes'"),
]


@pytest.mark.parametrize(("text", "message"), GARBAGE)
def test_garbage_notify_sections_are_refused_with_file_key_expected_found(text: str,
                                                                         message: str):
    with pytest.raises(ConfigError) as exc:
        parse_config(text + "\n" + USER, "f.toml")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_notify_sections_read():
    cfg = parse_config(USER + T + "community = 'traps'\nmin_severity = 'major'\n"
                       "[[notify]]\ntarget = 'udp6:[::1]:162'\nkind = 'inform'\nuser = 'ops'\n"
                       "retries = 2\ntimeout_s = 0.5\nmax_interval_s = 4\nheartbeat_s = 30\n"
                       "[[notify]]\ntarget = 'udp:traps.example.net:162'\n"
                       "[agent]\nenable_authen_traps = true\n", "f.toml")
    v2, v3, named = cfg.notify
    assert (v2.family, v2.host, v2.port, v2.kind, v2.community, v2.version) == (
        "udp", "127.0.0.1", 1162, "trap", "traps", "v2c")
    assert v2.accepts(Severity.CRITICAL) and v2.accepts(Severity.MAJOR)
    assert not v2.accepts(Severity.MINOR) and not v2.accepts(Severity.WARNING)
    assert v2.accepts(Severity.CLEARED) and v2.accepts(Severity.INDETERMINATE)
    assert (v3.family, v3.host, v3.kind, v3.user.name, v3.version) == (
        "udp6", "::1", "inform", "ops", "v3")
    assert (v3.retries, v3.timeout_s, v3.max_interval_s, v3.heartbeat_s) == (2, 0.5, 4.0, 30.0)
    assert named.host == "traps.example.net" and named.community == "public"
    assert cfg.enable_authen_traps
    assert parse_config("", "f.toml").notify == ()


# --- outbox ---------------------------------------------------------------------------------

def note(i: int, alarm_id: int | None = None) -> Notification:
    return Notification((1, 3, 6, 1, 4, 1, 32473, 99, 0, 1),
                        (((1, 3, 6, 1, 2, 1, 1, 5, 0), ber.OCTET_STRING, b"\x00\xffx%d" % i),
                         ((1, 3, 6, 1, 2, 1, 1, 2, 0), ber.OBJECT_IDENTIFIER, (1, 3, 6, i)),
                         ((1, 3, 6, 1, 2, 1, 1, 7, 0), ber.INTEGER, -i),
                         ((1, 3, 6, 1, 2, 1, 1, 3, 0), ber.TIMETICKS, i)),
                        Severity.MINOR, alarm_id, f"n{i}")


def overflow(dropped: int) -> Notification:
    return Notification((1, 3, 6, 1, 4, 1, 32473, 62380, 0, 4),
                        (((1, 3, 6, 1, 4, 1, 32473, 62380, 1, 6, 2, 0), ber.COUNTER32, dropped),),
                        name="extNotifyOverflow")


def test_outbox_keeps_order_and_sequence_numbers_across_a_restart(tmp_path: Path):
    path = outbox_path(tmp_path, "udp:127.0.0.1:162")
    box = Outbox(path, 10, "t")
    for i in range(4):
        assert box.put(note(i, alarm_id=i)).seq == i + 1
    box.remove(1)
    box.remove(3)  # not the head: nothing happens
    again = Outbox(path, 10, "t")  # a restart: read from the file
    assert [e.seq for e in again.entries()] == [2, 3, 4]
    assert [e.notification for e in again.entries()] == [note(i, alarm_id=i) for i in (1, 2, 3)]
    assert again.put(note(9)).seq == 5
    while (head := again.head()) is not None:
        again.remove(head.seq)
    assert Outbox(path, 10, "t").next_seq == 6  # an empty outbox still knows the next number
    assert not list(path.parent.glob(".*.tmp"))


def test_outbox_overflow_is_counted_and_notified_once_a_minute(tmp_path: Path):
    now = [0.0]
    box = Outbox(outbox_path(tmp_path, "t"), 3, "t", overflow=overflow, clock=lambda: now[0])
    for i in range(3):
        box.put(note(i))
    assert box.put(note(3)) is None and box.put(note(4)) is None
    assert box.dropped == 2
    entries = box.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]  # the overflow notice, past the bound
    assert entries[-1].notification == overflow(1)
    now[0] = 61.0
    assert box.put(note(5)) is None
    assert box.entries()[-1].notification == overflow(3)
    assert Outbox(outbox_path(tmp_path, "t"), 3, "t").dropped == 3


def test_outbox_without_state_dir_and_on_a_full_disk_keeps_in_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    box = Outbox(None, 5)
    assert box.put(note(1)).seq == 1 and len(box) == 1
    import errno
    import os

    from iec62379.agent import persist
    from iec62379.agent.notify import outbox

    def full(fd: int, payload: bytes) -> None:
        os.write(fd, payload[:3])  # a part, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    path = outbox_path(tmp_path, "t")
    box = Outbox(path, 5, "t")
    box.put(note(0))
    monkeypatch.setattr(outbox, "write_all", full)  # the journal's appends
    monkeypatch.setattr(persist, "write_all", full)  # its rewrites (persist.atomic_write_bytes)
    assert box.put(note(1)).seq == 2 and box.put(note(2)).seq == 3
    assert len(box) == 3 and box.persist_errors == 2
    box.remove(1)
    assert [e.seq for e in box.entries()] == [2, 3] and box.persist_errors == 3
    assert [e.seq for e in Outbox(path, 5, "t").entries()] == [1]  # what reached the disk
    monkeypatch.undo()
    box.put(note(4))  # room again: the whole outbox is written anew
    assert [e.seq for e in Outbox(path, 5, "t").entries()] == [2, 3, 4]
    assert not list(path.parent.glob(".*.tmp"))


def test_outbox_journal_is_compacted_and_a_torn_last_line_ignored(tmp_path: Path):
    path = outbox_path(tmp_path, "t")
    box = Outbox(path, 1000, "t")
    for i in range(300):
        box.put(note(i))
        box.remove(i + 1)
    assert len(path.read_text().splitlines()) <= 64 + 1  # compacted as it went
    box.put(note(300))
    with path.open("a") as f:
        f.write('{"put": {"seq": 302, "trap_o')  # the process died while writing this
    again = Outbox(path, 1000, "t")
    assert [e.seq for e in again.entries()] == [301] and again.next_seq == 302
    again.put(note(301))
    assert [e.seq for e in Outbox(path, 1000, "t").entries()] == [301, 302]
    with path.open("a") as f:
        f.write("garbage\n{\"del\": 301}\n")
    with pytest.raises(StateError, match="line .* is not JSON"):
        Outbox(path, 1000, "t")


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"format": 2}', '{"format": 1}',
    '{"format": 1, "next_seq": 0, "dropped": 0, "entries": []}',
    '{"format": 1, "next_seq": 1, "dropped": -1, "entries": []}',
    '{"format": 1, "next_seq": 1, "dropped": 0, "entries": [{"seq": 1}]}',
    '{"format": 1, "next_seq": 2, "dropped": 0, "entries": [{"seq": 1, "trap_oid": "1.3", '
    '"varbinds": [["1.3", 2, "x"]]}]}',
])
def test_a_corrupt_outbox_stops_the_start_with_its_path(tmp_path: Path, content: str):
    path = outbox_path(tmp_path, "t")
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(StateError, match="not an outbox file"):
        Outbox(path, 5, "t")
    assert path.read_text() == content  # left for a person to look at


def test_outbox_file_names_are_safe_and_distinct(tmp_path: Path):
    a = outbox_path(tmp_path, "udp6:[::1]:162")
    b = outbox_path(tmp_path, "udp6:[::1]:1162")
    assert a != b and a.parent == b.parent == tmp_path / "notify"
    assert "/" not in a.name and ":" not in a.name


# --- rate limit -----------------------------------------------------------------------------

def test_rate_limit_holds_a_flapping_key_to_n_per_minute():
    r = RateLimit(6, "t")
    allowed = sum(r.allow("alarm 1", t * 0.5) for t in range(241))  # 2 a second for 2 minutes
    assert allowed == 6 + 12  # the burst, then one every 10 s
    assert r.suppressed == 241 - allowed
    assert r.allow("alarm 2", 120.0)  # another key has its own bucket


# --- PDUs -----------------------------------------------------------------------------------

def test_trap_and_inform_pdus_decode_with_our_ber():
    seq_oid = (1, 3, 6, 1, 4, 1, 32473, 62380, 1, 6, 1, 0)
    n = note(7)
    for pdu_type in (ber.TRAP_V2, ber.INFORM):
        pdu = wire.notification_pdu(pdu_type, 42, 2**32 + 5, n.trap_oid, n.varbinds, seq_oid,
                                    4294967295)
        msg = ber.decode_message(wire.v2c_message(b"traps", pdu))
        assert (msg.version, msg.community, msg.pdu_type, msg.request_id) == (
            ber.V2C, b"traps", pdu_type, 42)
        assert msg.varbinds[0] == (wire.SYS_UP_TIME_0, ber.TIMETICKS, 5)
        assert msg.varbinds[1] == (wire.SNMP_TRAP_OID_0, ber.OBJECT_IDENTIFIER, n.trap_oid)
        assert msg.varbinds[2:-1] == list(n.varbinds)
        assert msg.varbinds[-1] == (seq_oid, ber.GAUGE32, 4294967295)


def test_v3_reply_reading_checks_the_keys():
    from iec62379.agent.usm import UsmUser
    from iec62379.agent.v3 import AUTH, PRIV

    engine = bytes.fromhex("80007ed90501020304")
    user = UsmUser.make("ops", engine, "sha256", "auth-key-1", "aes128", "priv-key-1")
    other = UsmUser.make("ops", engine, "sha256", "auth-key-2", "aes128", "priv-key-2")
    pdu = ber.encode_pdu(ber.RESPONSE, 77, 0, 0, [])
    data = wire.v3_message(9, AUTH | PRIV, engine, 3, 100, user, b"ops", pdu, engine)
    reply = wire.read_v3(data, user)
    assert reply is not None and reply.authentic
    assert (reply.pdu_type, reply.request_id, reply.msg_id, reply.engine_id, reply.boots,
            reply.time) == (ber.RESPONSE, 77, 9, engine, 3, 100)
    assert wire.read_v3(data, other) is None
    assert wire.read_v3(data, None) is None
    assert wire.read_v3(data[:-1], user) is None
    assert wire.read_v3(b"\x30\x00", user) is None
    probe = wire.read_v3(wire.discovery_probe(5, 6), None)
    assert probe is not None and (probe.pdu_type, probe.msg_id, probe.engine_id) == (
        ber.GET, 5, b"")


def test_outbox_json_is_plain(tmp_path: Path):
    path = outbox_path(tmp_path, "t")
    box = Outbox(path, 5, "t")
    box.put(note(0))  # the file's first line: a snapshot
    box.put(note(1, alarm_id=12))  # then one line per change
    first, put = (json.loads(line) for line in path.read_text().splitlines())
    assert first["next_seq"] == 2 and [e["seq"] for e in first["entries"]] == [1]
    assert put["next_seq"] == 3 and put["put"]["alarm_id"] == 12
    assert put["put"]["varbinds"][0] == ["1.3.6.1.2.1.1.5.0", 4, "00ff7831"]


def test_a_corrupt_outbox_stops_the_agent_before_it_serves(tmp_path: Path):
    from iec62379.agent.runner import Agent

    path = outbox_path(tmp_path / "state", "udp:127.0.0.1:1162")
    path.parent.mkdir(parents=True)
    path.write_text("{not json\n")
    cfg = parse_config(f"[agent]\nlisten = ['udp:127.0.0.1:0']\nstate_dir = "
                       f"'{tmp_path / 'state'}'\n" + T, "f.toml")
    agent = Agent(cfg)
    with pytest.raises(StateError, match="not an outbox file"):
        agent.start_in_thread()
    assert not (tmp_path / "state" / "engine.json").exists()  # no boot counted
    assert path.read_text() == "{not json\n"


def test_notify_target_rows_index_and_columns():
    from iec62379.agent.notify.table import NOTIFY_TARGETS, NotifyTargetRow

    row = NotifyTargetRow(2, "udp:127.0.0.1:162", True, sent=2**32 + 1, queued=2**40)
    cols = {c.name: c for c in NOTIFY_TARGETS.columns}
    assert row.index == (cols["extNotifyTargetIndex"].get(row),) == (2,)
    assert cols["extNotifyTargetKind"].get(row) == 2
    assert cols["extNotifyTargetSent"].get(row) == 1  # Counter32 wraps
    assert cols["extNotifyTargetQueued"].get(row) == 2**32 - 1  # Gauge32 sticks at its top
    assert cols["extNotifyTargetAddress"].get(row) == b"udp:127.0.0.1:162"
    assert not NOTIFY_TARGETS.block and NOTIFY_TARGETS.module == "IEC62379-EXT-MIB"


def test_an_unencodable_notification_is_refused_and_never_blocks_the_queue(tmp_path: Path):
    """A producer's mistake is refused at submit; one that reached the outbox file anyway (an
    unknown tag) is removed by the sender, and the next one goes out."""
    import asyncio
    import socket

    from iec62379.agent.mibmap import MibMap
    from iec62379.agent.notify.notifier import Notifier

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    try:
        target = f"udp:127.0.0.1:{rx.getsockname()[1]}"
        cfg = parse_config(f"[[notify]]\ntarget = '{target}'\ncommunity = 'traps'\n", "f.toml")
        path = outbox_path(tmp_path, target)
        Outbox(path, 10, target).put(Notification((1, 3, 6, 1, 4, 1, 32473, 99, 0, 1),
                                                  (((1, 3, 6), 0x99, 5),), name="odd"))
        notifier = Notifier(cfg.notify, tmp_path, MibMap(), lambda: 0)
        notifier.submit(Notification((1, 3, 6, 1, 4, 1, 32473, 99, 0, 1),
                                     (((1, 3, 6), ber.OCTET_STRING, "not bytes"),)))
        notifier.submit(Notification((1, 3, 6, 1, 4, 1, 32473, 99, 0, 1), alarm_id="x"))
        assert notifier.refused == 2
        notifier.submit(note(1))

        async def run() -> bytes:
            await notifier.start()
            try:
                return await asyncio.get_running_loop().run_in_executor(None, rx.recv, 65535)
            finally:
                await notifier.stop()

        msg = ber.decode_message(asyncio.run(run()))
        assert msg.varbinds[-1][2] == 2  # the second entry of the outbox; the first was removed
        assert msg.varbinds[2:-1] == list(note(1).varbinds)
        assert [e.seq for e in Outbox(path, 10, target).entries()] == []
    finally:
        rx.close()
