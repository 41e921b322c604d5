"""The TOML configuration: examples load; garbage is refused with file, key, expected, found."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from iec62379.agent.config import ConfigError, load_config, parse_config
from iec62379.agent.model import AudioComponent, NetworkBlock, RxPoint, Temperature, VideoBlock
from iec62379.collectors.settings import load_settings


def test_static_example_has_every_table_linked():
    cfg = load_settings(REPO / "examples" / "static-blocks.toml").agent
    kinds = {type(r) for r in cfg.blocks}
    assert kinds == {NetworkBlock, AudioComponent, VideoBlock, RxPoint, Temperature}
    video = next(r for r in cfg.blocks if isinstance(r, VideoBlock))
    audio_ids = {r.block_id for r in cfg.blocks if isinstance(r, AudioComponent)}
    assert video.audio_block_id in audio_ids and video.network_block_id == 1
    assert any(u.example_only and u.level == "supervisor" for u in cfg.users)
    assert [c.level for c in cfg.communities] == ["listener"]


def test_scale_example_sizes():
    cfg = load_settings(REPO / "examples" / "scale-100.toml").agent
    kinds = (NetworkBlock, VideoBlock, AudioComponent, RxPoint, Temperature)
    count = {k: sum(isinstance(r, k) for r in cfg.blocks) for k in kinds}
    assert count == {NetworkBlock: 100, VideoBlock: 100, AudioComponent: 200, RxPoint: 100,
                     Temperature: 8}


@pytest.mark.parametrize(
    "text,message",
    [
        ("[[network]]\nid = 1\nport = 'x'",
         "f.toml: network[0].port: expected an integer in 0..65535, found 'x'"),
        ("[[network]]\nport = 1",
         "f.toml: network[0].id: expected an integer in 1..4294967295, found nothing"),
        ("[agent]\nlisten = ['udp:300.1.1.1:161']",
         "f.toml: agent.listen[0]: expected an endpoint"),
        ("[agent]\nlisten = 'x'", "f.toml: agent.listen: expected an array of strings, found 'x'"),
        ("bogus = 1", "f.toml: bogus: unknown key"),
        ("[[access.community]]\nname = 'w'\nlevel = 'supervisor'",
         "access.community[0].level: expected listener (a writing community needs "
         "access.allow_community_write = true)"),
        ("[[access.community]]\nname = 'w'\nlevel = 'root'",
         "access.community[0].level: expected one of listener | supervisor, found 'root'"),
        ("[[access.user]]\nname = 'u'\nauth_key = 'short'",
         "access.user[0].auth_key: expected a key of at least 8 characters"),
        ("[[access.user]]\nname = 'u'\nauth_protocol='none'\npriv_protocol='aes128'\n"
         "priv_key='12345678'",
         "access.user[0].priv_protocol: expected none (privacy needs authentication)"),
        ("[[network]]\nid = 1\naddress = '::1'",
         "network[0].address: expected an IPv4 address (network_type is ipv4), found '::1'"),
        ("[[network]]\nid = 1\nnetwork_type = 'atm'",
         "network[0].network_type: expected ipv4 | ipv6 | asi, found 'atm'"),
        ("[[network]]\nid = 1\ninterface = 'nosuchif0'",
         "network[0].interface: expected the name of a network interface of this host, found "
         "'nosuchif0'"),
        ("[[audio]]\nid = 2\nnetwork = 1\npid = 9000",
         "audio[0].pid: expected an integer in 0..8191, found 9000"),
        ("[[temperature]]\nid = 5\nlocation = '" + "x" * 90 + "'",
         "temperature[0]: temperatureLocation must be text of at most 80 octets"),
        ("[system]\nobject_id = 'abc'",
         "system.object_id: expected a dotted OBJECT IDENTIFIER, found 'abc'"),
        ("[agent]\nengine_id = 'zz'",
         "agent.engine_id: expected 5 to 32 octets in hex, found 'zz'"),
        ("x = ", "f.toml: not valid TOML"),
    ],
)
def test_garbage_is_refused_with_a_precise_message(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "f.toml")
    assert message in str(exc.value)


def test_unreadable_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)
