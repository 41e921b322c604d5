"""The [[notify]] targets of the configuration: where notifications go, how, and how hard the
agent tries (docs/configuration.md, "Notification targets").

    [[notify]]
    target = "udp:127.0.0.1:1162"     # or udp6:[::1]:162, or udp:receiver.example.net:162
    kind = "trap"                     # or "inform"
    community = "traps"               # v2c; or: user = "NAME" (one of [[access.user]]) for v3
    min_severity = "warning"

A host name is allowed: it is resolved by the target's sender, in the background, so a name
that does not resolve never delays the agent's start (the notifications wait in the outbox).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from iec62379.mibs.vocabulary import Severity

KINDS = ("trap", "inform")
SEVERITIES = ("cleared", "indeterminate", "warning", "minor", "major", "critical")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
_TARGET_EXPECTED = ("a target like 'udp:127.0.0.1:162', 'udp6:[::1]:162' or "
                    "'udp:host.example:162'")
KEYS = frozenset({"target", "kind", "community", "user", "min_severity", "timeout_s", "retries",
                  "max_interval_s", "outbox_size", "heartbeat_s", "rate_per_minute"})


@dataclass(frozen=True)
class NotifyTarget:
    """One [[notify]] section, checked. `user` is the [[access.user]] (config.User) a v3 target
    sends as; None for v2c (then `community`)."""

    target: str  # as written, for logs and the outbox's name
    family: str  # "udp" or "udp6"
    host: str  # an address or a host name (resolved by the sender)
    port: int
    kind: str = "trap"
    community: str = ""
    user: Any = None
    min_severity: Severity = Severity.INDETERMINATE
    timeout_s: float = 1.0  # an INFORM's first timeout; doubled at each retry ...
    retries: int = 5  # ... this many times, then resent every max_interval_s until answered
    max_interval_s: float = 60.0
    outbox_size: int = 1000  # notifications kept for the target at most
    heartbeat_s: float = 0.0  # 0: no heartbeat
    rate_per_minute: int = 60  # per (target, alarm id or trap OID)

    @property
    def version(self) -> str:
        return "v3" if self.user is not None else "v2c"

    def accepts(self, severity: Severity) -> bool:
        """Whether a notification of `severity` goes to this target. Notifications that are not
        about an alarm (INDETERMINATE) and clearings (CLEARED) always do."""
        if severity in (Severity.INDETERMINATE, Severity.CLEARED):
            return True
        return severity.rank >= self.min_severity.rank


def parse_target(r: Any, key: str, text: str) -> tuple[str, str, int]:
    """(family, host, port) of 'udp:ADDR:PORT', 'udp6:[ADDR]:PORT' or 'udp:NAME:PORT'."""
    family, sep, rest = text.partition(":")
    if not sep or family not in ("udp", "udp6"):
        raise r.fail(key, _TARGET_EXPECTED, text)
    if rest.startswith("["):
        host, sep, port_s = rest[1:].partition("]:")
    else:
        host, sep, port_s = rest.rpartition(":")
    if not sep or not port_s.isascii() or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise r.fail(key, _TARGET_EXPECTED + " (a port in 1..65535)", text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if rest.startswith("[") or not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
            raise r.fail(key, _TARGET_EXPECTED, text) from None
        return family, host, int(port_s)
    if (ip.version == 6) != (family == "udp6"):
        raise r.fail(key, f"an IPv{6 if family == 'udp6' else 4} address for {family}", text)
    return family, str(ip), int(port_s)


def notify_targets(root: Any, users: tuple[Any, ...]) -> tuple[NotifyTarget, ...]:
    """The [[notify]] sections of the document `root` (config._Reader); `users` the checked
    [[access.user]] entries. Raises ConfigError (file: key: expected ..., found ...)."""
    out: list[NotifyTarget] = []
    for r in root.tables("notify"):
        r.unknown_keys(set(KEYS))
        text = r.str("target")
        family, host, port = parse_target(r, "target", text)
        if text in (t.target for t in out):
            raise r.fail("target", "a target not already declared", text)
        kind = r.str("kind", "trap", KINDS)
        if "community" in r.data and "user" in r.data:
            raise r.fail("user", "either community (v2c) or user (v3), not both", r.data["user"])
        user = None
        community = ""
        if "user" in r.data:
            name = r.str("user")
            user = next((u for u in users if u.name == name), None)
            if user is None:
                names = ", ".join(repr(u.name) for u in users) or "none configured"
                raise r.fail("user", f"the name of one of the [[access.user]] ({names})", name)
            if user.priv_protocol == "none":
                raise r.fail("user", "a user with auth_key and priv_key (notifications go "
                                     "authPriv)", name)
        else:
            community = r.str("community", "public")
            if not 1 <= len(community) <= 32:
                raise r.fail("community", "a community of 1 to 32 characters", community)
        sev_name = r.str("min_severity", "indeterminate", SEVERITIES)
        timeout_s = r.float("timeout_s", 0.05, 3600, 1.0)
        max_interval_s = r.float("max_interval_s", 0.05, 86400, 60.0)
        if max_interval_s < timeout_s:
            raise r.fail("max_interval_s", f"a number of seconds >= timeout_s ({timeout_s})",
                         r.data["max_interval_s"])
        heartbeat_s = r.float("heartbeat_s", 0, 86400, 0.0)
        if 0 < heartbeat_s < 1:
            raise r.fail("heartbeat_s", "0 (off) or a number of seconds in 1..86400",
                         r.data["heartbeat_s"])
        out.append(NotifyTarget(
            target=text, family=family, host=host, port=port, kind=kind, community=community,
            user=user, min_severity=Severity[sev_name.upper()], timeout_s=timeout_s,
            retries=r.int("retries", 0, 100, 5), max_interval_s=max_interval_s,
            outbox_size=r.int("outbox_size", 1, 1000000, 1000), heartbeat_s=heartbeat_s,
            rate_per_minute=r.int("rate_per_minute", 1, 60000, 60),
        ))
    return tuple(out)


__all__ = ["KINDS", "SEVERITIES", "NotifyTarget", "notify_targets", "parse_target"]
