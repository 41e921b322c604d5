"""The SNMPv3 engine (pysnmp): USM users, VACM access levels, command responders.

Only built when the config has v3 users; v1/v2c messages never reach it (the agent's own
`responder` answers them). It shares the agent's sockets: each gets a pysnmp transport object
that is never opened itself and sends through the agent's asyncio transport (`transport`).

The access levels are `access`'s views as VACM views and groups: each user's group reads
iec62379Read and writes iec62379Write (supervisor) or iec62379NoWrite (listener).
"""

from __future__ import annotations

import logging
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as pconfig
from pysnmp.entity import engine as pengine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902

from .access import read_subtrees, write_subtrees
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


def build_engine(
    cfg: AgentConfig,
    mibmap: MibMap,
    instrum: Any,
    engine_id: bytes,
    boots: int,
    endpoints: list[Endpoint],
) -> tuple[Any, list[Any]]:
    """Create the engine in the running asyncio loop. Returns it and, for each endpoint, the
    transport object that `transport.SnmpProtocol` hands SNMPv3 messages to."""
    eng = pengine.SnmpEngine(snmpEngineID=rfc1902.OctetString(engine_id))
    (boots_inst,) = eng.get_mib_builder().import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots")
    boots_inst.syntax = boots_inst.syntax.clone(boots)

    transports = []
    for i, ep in enumerate(endpoints):
        if ep.family == "udp6":
            t: Any = udp6.Udp6AsyncioTransport()
            pconfig.add_transport(eng, udp6.DOMAIN_NAME + (i,), t)
        else:
            t = udp.UdpAsyncioTransport()
            pconfig.add_transport(eng, udp.DOMAIN_NAME + (i,), t)
        transports.append(t)

    pconfig.add_context(eng, "")
    for subtree in read_subtrees(mibmap):
        pconfig.add_vacm_view(eng, "iec62379Read", "included", subtree, "")
    for subtree in write_subtrees(mibmap):
        pconfig.add_vacm_view(eng, "iec62379Write", "included", subtree, "")
    # Listeners get a write view that holds nothing the agent serves, so that their SETs are
    # answered noAccess (RFC 3416 4.2.5) rather than authorizationError.
    pconfig.add_vacm_view(eng, "iec62379NoWrite", "included", (0, 0), "")

    for u in cfg.users:
        pconfig.add_v3_user(eng, u.name, AUTH[u.auth_protocol], u.auth_key or None,
                            PRIV[u.priv_protocol], u.priv_key or None)
        group = f"{u.level}-v3-{u.name}"
        pconfig.add_vacm_group(eng, group, 3, u.name)
        pconfig.add_vacm_access(
            eng, group, "", 3, u.security_level, "exact", "iec62379Read",
            "iec62379Write" if u.level == "supervisor" else "iec62379NoWrite", "",
        )
        if u.example_only:
            log.warning("SNMPv3 user %r is marked example_only in %s: replace its keys before "
                        "any real use", u.name, cfg.source)

    snmp_context = context.SnmpContext(eng)
    snmp_context.unregister_context_name(b"")
    snmp_context.register_context_name(b"", instrum)
    eng.iec62379_responders = [  # keep them referenced with the engine
        cls(eng, snmp_context)
        for cls in (cmdrsp.GetCommandResponder, cmdrsp.NextCommandResponder,
                    cmdrsp.BulkCommandResponder, cmdrsp.SetCommandResponder)
    ]
    return eng, transports
