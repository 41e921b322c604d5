"""SNMPv3 against the agent as a process: net-snmp's clients with every authentication and
privacy protocol they support, at each security level, and pysnmp's v3 client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import REPO
from test_agent_blackbox import V2, AgentProcess, snmp

pytestmark = pytest.mark.integration

AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256",
        "sha384": "SHA-384", "sha512": "SHA-512"}
PRIV = {"des": "DES", "aes128": "AES", "aes192": "AES-192", "aes256": "AES-256"}
SYS_NAME = ".1.3.6.1.2.1.1.5.0"
SIP_1 = ".1.0.62379.7.1.1.1.1.9.1"
AUTH_KEY, PRIV_KEY = "matrix-auth-key", "matrix-priv-key"


def _users() -> str:
    out = []
    for auth in AUTH:
        for priv in ("none", *PRIV):
            out.append(f'[[access.user]]\nname = "{auth}-{priv}"\nlevel = "supervisor"\n'
                       f'auth_protocol = "{auth}"\nauth_key = "{AUTH_KEY}"\n'
                       f'priv_protocol = "{priv}"\npriv_key = "{PRIV_KEY}"\n')
    out.append('[[access.user]]\nname = "plain"\nlevel = "listener"\nauth_protocol = "none"\n'
               'priv_protocol = "none"\n')
    return "\n".join(out)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("v3")
    config = tmp / "matrix.toml"
    config.write_text((REPO / "examples" / "static-blocks.toml").read_text() + "\n" + _users())
    a = AgentProcess(tmp / "state", config)
    a.start()
    yield a
    a.stop()


def v3(auth: str, priv: str) -> list[str]:
    args = ["-v3", "-u", f"{auth}-{priv}", "-a", AUTH[auth], "-A", AUTH_KEY]
    if priv == "none":
        return [*args, "-l", "authNoPriv"]
    return [*args, "-l", "authPriv", "-x", PRIV[priv], "-X", PRIV_KEY]


@pytest.mark.parametrize("priv", ["none", *PRIV])
@pytest.mark.parametrize("auth", list(AUTH))
def test_netsnmp_get_with_each_protocol(agent, auth, priv):
    out = snmp("snmpget", *v3(auth, priv), "-Oqv", agent.v4, SYS_NAME).stdout
    assert out.strip().strip('"') == "decoder-1"


def test_no_auth_no_priv_user(agent):
    out = snmp("snmpget", "-v3", "-l", "noAuthNoPriv", "-u", "plain", "-Oqv", agent.v4,
               SYS_NAME).stdout
    assert out.strip().strip('"') == "decoder-1"


@pytest.mark.parametrize("auth,priv", [("sha", "aes128"), ("sha512", "aes256"), ("md5", "des"),
                                       ("sha256", "none")])
def test_netsnmp_walks_equal_v2c(agent, auth, priv):
    v2 = snmp("snmpwalk", *V2, "-On", agent.v4, ".1.0.62379.7.1").stdout.splitlines()
    walk = snmp("snmpwalk", *v3(auth, priv), "-On", agent.v4, ".1.0.62379.7.1").stdout.splitlines()
    bulk = snmp("snmpbulkwalk", *v3(auth, priv), "-Cr7", "-On", agent.v6,
                ".1.0.62379.7.1").stdout.splitlines()
    assert walk == bulk == v2 and len(v2) > 60


def test_netsnmp_set_over_v3(agent):
    snmp("snmpset", *v3("sha384", "aes192"), agent.v4, SIP_1, "x", "0a000042")
    out = snmp("snmpget", *V2, "-Oqvx", agent.v4, SIP_1).stdout
    assert "0A 00 00 42" in out.upper()


def test_authnopriv_from_an_authpriv_user_is_authorization_error(agent):
    """RFC 3415 3.2 / RFC 3413 3.2 (4), as snmpd answers; see agent/v3.py."""
    args = ["-v3", "-l", "authNoPriv", "-u", "sha256-aes128", "-a", "SHA-256", "-A", AUTH_KEY]
    proc = snmp("snmpget", *args, agent.v4, SYS_NAME, check=False)
    assert proc.returncode != 0 and "authorizationError" in proc.stdout + proc.stderr


def test_usm_reports_reach_netsnmp(agent):
    bad = ["-v3", "-l", "authPriv", "-u", "sha-aes128", "-a", "SHA", "-A", "wrong-password",
           "-x", "AES", "-X", PRIV_KEY]
    proc = snmp("snmpget", *bad, agent.v4, SYS_NAME, check=False)
    assert "Authentication failure" in proc.stderr
    bad = [*v3("sha", "none")[:-2], "-l", "authPriv", "-x", "AES", "-X", PRIV_KEY]
    proc = snmp("snmpget", *bad, agent.v4, SYS_NAME, check=False)
    assert "Unsupported security level" in proc.stderr, proc.stderr
    # a client that believes in an older boots value gets notInTimeWindow, resyncs, succeeds
    out = snmp("snmpget", *v3("sha", "aes128"), "-Z", "0,1", "-Oqv", agent.v4, SYS_NAME).stdout
    assert out.strip().strip('"') == "decoder-1"
    usm = [f".1.3.6.1.6.3.15.1.1.{i}.0" for i in range(1, 7)]
    stats = snmp("snmpget", *V2, "-Oqv", agent.v4, *usm).stdout.split()
    assert [int(x) > 0 for x in stats] == [True, True, False, True, True, False]


def test_pysnmp_v3_client(agent):
    from pysnmp.hlapi.v3arch.asyncio import (
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        bulk_cmd,
        get_cmd,
        usmAesCfb128Protocol,
        usmHMAC384SHA512AuthProtocol,
    )

    async def run() -> tuple[str, int, int]:
        engine = SnmpEngine()
        user = UsmUserData("sha512-aes128", AUTH_KEY, PRIV_KEY,
                           authProtocol=usmHMAC384SHA512AuthProtocol,
                           privProtocol=usmAesCfb128Protocol)
        target = await UdpTransportTarget.create(("127.0.0.1", agent.port), timeout=2, retries=1)
        try:
            err, status, _, vbs = await get_cmd(engine, user, target, ContextData(),
                                                ObjectType(ObjectIdentity(SYS_NAME)))
            assert err is None and int(status) == 0, err
            name = str(vbs[0][1])
            err, status, _, bulk = await bulk_cmd(engine, user, target, ContextData(), 0, 5,
                                                  ObjectType(ObjectIdentity(".1.0.62379.7.1")))
            assert err is None, err
            return name, int(status), len(bulk)
        finally:
            engine.close_dispatcher()

    assert asyncio.run(run()) == ("decoder-1", 0, 5)


def test_empty_getbulk_gets_an_empty_response(agent):
    """Non-repeaters 0 and max-repetitions 0: a Response with no varbinds, no error."""
    proc = snmp("snmpbulkget", *v3("sha256", "aes128"), "-Cn0", "-Cr0", agent.v4, SYS_NAME)
    assert proc.stdout.strip() == "" and "Timeout" not in proc.stderr


def test_state_is_per_process(tmp_path: Path):
    """Boots rise across restarts, and a client that learnt the old boots resyncs."""
    a = AgentProcess(tmp_path / "state")
    a.start()
    try:
        out = snmp("snmpget", *V2, "-Oqv", a.v4, ".1.3.6.1.6.3.10.2.1.2.0").stdout
    finally:
        a.stop()
    a.start()
    try:
        again = snmp("snmpget", *V2, "-Oqv", a.v4, ".1.3.6.1.6.3.10.2.1.2.0").stdout
        v3out = snmp("snmpget", "-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA", "-A",
                     "example-monitor-auth", "-x", "AES", "-X", "example-monitor-priv",
                     "-Z", f"{int(out)},0", "-Oqv", a.v4, SYS_NAME).stdout
    finally:
        a.stop()
    assert int(again) == int(out) + 1 and v3out.strip().strip('"') == "decoder-1"
