"""The pysnmp engine: transports, communities, USM users, VACM access levels, responders.

IEC 62379-1's access levels become VACM groups:
- listener: reads the measurement tree, the system group, the interfaces and ifMIB subtrees and
  the engine's counters (snmp group, snmpEngine, usmStats); writes nothing;
- supervisor: reads the same, and writes nMtTxRxPoint and nMtSIPServerAddr, nothing else
  (its write view is the measurement tree; the other columns there answer notWritable).
A community's allowed sources are checked before VACM: a request from elsewhere is answered
with authorizationError and counted in snmpInBadCommunityUses.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as pconfig
from pysnmp.entity import engine as pengine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902
from pysnmp.smi import error as smi_error

from .config import AgentConfig, Endpoint
from .mibmap import MibMap

log = logging.getLogger(__name__)

AUTH = {
    "none": pconfig.USM_AUTH_NONE,
    "md5": pconfig.USM_AUTH_HMAC96_MD5,
    "sha": pconfig.USM_AUTH_HMAC96_SHA,
    "sha224": pconfig.USM_AUTH_HMAC128_SHA224,
    "sha256": pconfig.USM_AUTH_HMAC192_SHA256,
    "sha384": pconfig.USM_AUTH_HMAC256_SHA384,
    "sha512": pconfig.USM_AUTH_HMAC384_SHA512,
}
PRIV = {
    "none": pconfig.USM_PRIV_NONE,
    "des": pconfig.USM_PRIV_CBC56_DES,
    "aes128": pconfig.USM_PRIV_CFB128_AES,
    "aes192": pconfig.USM_PRIV_CFB192_AES,
    "aes256": pconfig.USM_PRIV_CFB256_AES,
}


def read_subtrees(mibmap: MibMap) -> list[tuple[int, ...]]:
    """What a listener may read."""
    return [
        mibmap.symbol_oid("IEC62379-7-MEASUREMENT-MIB", "measurementMIB"),
        mibmap.symbol_oid("SNMPv2-MIB", "system"),
        mibmap.symbol_oid("SNMPv2-MIB", "snmp"),
        mibmap.symbol_oid("IF-MIB", "interfaces"),
        mibmap.symbol_oid("IF-MIB", "ifMIB"),
        mibmap.symbol_oid("SNMP-FRAMEWORK-MIB", "snmpEngine"),
        mibmap.symbol_oid("SNMP-USER-BASED-SM-MIB", "usmStats"),
    ]


def write_subtrees(mibmap: MibMap) -> list[tuple[int, ...]]:
    """A supervisor's write view: the measurement tree. Within it only nMtTxRxPoint and
    nMtSIPServerAddr are writable (the controller answers notWritable for the other columns);
    outside it (system group, ifTable ...) a SET is answered noAccess."""
    return [mibmap.symbol_oid("IEC62379-7-MEASUREMENT-MIB", "measurementMIB")]


def bind_socket(ep: Endpoint) -> socket.socket:
    """Bind now, so that an address in use is reported at start with the address."""
    family = socket.AF_INET6 if ep.family == "udp6" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((ep.host, ep.port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {ep}: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


@functools.lru_cache(maxsize=4096)
def _source_allowed_cached(sec_name: str, host: str, nets: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return any(ip in n for n in nets)


def _source_allowed(sec_name: str, host: str, nets: list[Any]) -> bool:
    return _source_allowed_cached(sec_name, host, tuple(nets))


class _SourceCheck:
    """Mixin for the command responders: community source restrictions, then VACM."""

    community_sources: dict[str, list[Any]] = {}

    @classmethod
    def verify_access(cls, viewType, varBind, **ctx):  # noqa: ANN001, ANN206, N802, N803
        engine = ctx["snmpEngine"]
        exec_ctx = engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        if exec_ctx["securityModel"] in (1, 2):
            sec_name = str(exec_ctx["securityName"])
            nets = cls.community_sources.get(sec_name)
            if nets and not _source_allowed(sec_name, exec_ctx["transportAddress"][0], nets):
                    (counter,) = engine.get_mib_builder().import_symbols(
                        "__SNMPv2-MIB", "snmpInBadCommunityUses"
                    )
                    counter.syntax += 1
                    raise smi_error.AuthorizationError(name=varBind[0], idx=ctx.get("idx"))
        return super().verify_access(viewType, varBind, **ctx)


def build_engine(
    cfg: AgentConfig,
    mibmap: MibMap,
    instrum: Any,
    engine_id: bytes,
    boots: int,
) -> tuple[Any, list[Endpoint], list[socket.socket]]:
    """Create the engine in the running asyncio loop. Returns it, the bound endpoints (with the
    real ports when 0 was asked) and the sockets."""
    eng = pengine.SnmpEngine(snmpEngineID=rfc1902.OctetString(engine_id))
    (boots_inst,) = eng.get_mib_builder().import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots")
    boots_inst.syntax = boots_inst.syntax.clone(boots)

    bound: list[Endpoint] = []
    sockets: list[socket.socket] = []
    try:
        for i, ep in enumerate(cfg.listen):
            sock = bind_socket(ep)
            sockets.append(sock)
            host, port = sock.getsockname()[:2]
            bound.append(Endpoint(ep.family, host, port))
            if ep.family == "udp6":
                pconfig.add_transport(eng, udp6.DOMAIN_NAME + (i,), udp6.Udp6AsyncioTransport().open_server_mode(sock=sock))
            else:
                pconfig.add_transport(eng, udp.DOMAIN_NAME + (i,), udp.UdpAsyncioTransport().open_server_mode(sock=sock))
    except OSError:
        for s in sockets:
            s.close()
        raise

    pconfig.add_context(eng, "")
    # Views
    for subtree in read_subtrees(mibmap):
        pconfig.add_vacm_view(eng, "iec62379Read", "included", subtree, "")
    for subtree in write_subtrees(mibmap):
        pconfig.add_vacm_view(eng, "iec62379Write", "included", subtree, "")
    # Listeners get a write view that holds nothing the agent serves, so that their SETs are
    # answered noAccess (RFC 3416 4.2.5) rather than authorizationError.
    pconfig.add_vacm_view(eng, "iec62379NoWrite", "included", (0, 0), "")

    def access(group: str, model: int, level: str) -> None:
        pconfig.add_vacm_access(
            eng, group, "", model, level, "exact", "iec62379Read",
            "iec62379Write" if group.startswith("supervisor") else "iec62379NoWrite", "",
        )

    sources: dict[str, list[Any]] = {}
    for i, c in enumerate(cfg.communities):
        sec_name = f"community-{i}"
        pconfig.add_v1_system(eng, sec_name, c.name, securityName=sec_name)
        for model in (1, 2):
            pconfig.add_vacm_group(eng, f"{c.level}-v{model}", model, sec_name)
        if c.sources:
            sources[sec_name] = [ipaddress.ip_network(s, strict=False) for s in c.sources]
    for level in ("listener", "supervisor"):
        for model in (1, 2):
            access(f"{level}-v{model}", model, "noAuthNoPriv")
    for u in cfg.users:
        pconfig.add_v3_user(eng, u.name, AUTH[u.auth_protocol], u.auth_key or None,
                            PRIV[u.priv_protocol], u.priv_key or None)
        group = f"{u.level}-v3-{u.name}"
        pconfig.add_vacm_group(eng, group, 3, u.name)
        access(group, 3, u.security_level)
        if u.example_only:
            log.warning("SNMPv3 user %r is marked example_only in %s: replace its keys before "
                        "any real use", u.name, cfg.source)

    snmp_context = context.SnmpContext(eng)
    snmp_context.unregister_context_name(b"")
    snmp_context.register_context_name(b"", instrum)

    responders = []
    for base in (cmdrsp.GetCommandResponder, cmdrsp.NextCommandResponder,
                 cmdrsp.BulkCommandResponder, cmdrsp.SetCommandResponder):
        cls = type(f"Iec62379{base.__name__}", (_SourceCheck, base), {"community_sources": sources})
        responders.append(cls(eng, snmp_context))
    eng.iec62379_responders = responders  # keep them referenced with the engine
    return eng, bound, sockets
