"""A minimal SNMPv3 (USM) client for in-process tests, independent of the agent's codec:
messages are encoded and decoded with pysnmp's ASN.1 types (pyasn1), keys are localised with
pysnmp's RFC 3414 functions, HMAC and AES come from hmac and `cryptography` directly."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api
from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
from pysnmp.proto.secmod import rfc3414
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

V2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
_HASH = {"md5": (hashlib.md5, 12), "sha": (hashlib.sha1, 12), "sha256": (hashlib.sha256, 24),
         "sha512": (hashlib.sha512, 48)}


def pdu(kind: str, oids: list[tuple[int, ...]], request_id: int = 77, non_repeaters: int = 0,
        max_repetitions: int = 10, values: list[Any] | None = None) -> Any:
    """A v2c-style PDU object (pysnmp) of `kind` get/next/bulk/set."""
    p = {"get": V2.GetRequestPDU, "next": V2.GetNextRequestPDU, "set": V2.SetRequestPDU,
         "bulk": V2.GetBulkRequestPDU, "response": V2.ResponsePDU}[kind]()
    (V2.apiBulkPDU if kind == "bulk" else V2.apiPDU).set_defaults(p)
    V2.apiPDU.set_request_id(p, request_id)
    if kind == "bulk":
        V2.apiBulkPDU.set_non_repeaters(p, non_repeaters)
        V2.apiBulkPDU.set_max_repetitions(p, max_repetitions)
    vals = values or [V2.null] * len(oids)
    V2.apiPDU.set_varbinds(p, list(zip(oids, vals, strict=True)))
    return p


@dataclass
class Reply:
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    pdu_type: str  # the PDU component's name: "response" or "report"
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[tuple[int, ...], Any]]


class Client:
    def __init__(self, user: str, engine_id: bytes, auth: str = "sha256",
                 auth_password: str = "example-auth-key", priv: bool = True,
                 priv_password: str = "example-priv-key") -> None:
        self.user = user.encode()
        self.engine_id = engine_id
        self.hash, self.mac_len = _HASH[auth]
        self.passwords = (auth_password.encode(), priv_password.encode() if priv else b"")
        self.boots = 0
        self.time = 0
        self.msg_id = 100

    def _key(self, password: bytes) -> bytes:
        eid = univ.OctetString(self.engine_id)
        return bytes(rfc3414.localkey.password_to_key(password, eid, self.hash))

    @property
    def auth_key(self) -> bytes:
        return self._key(self.passwords[0])

    @property
    def priv_key(self) -> bytes:
        return self._key(self.passwords[1])[:16]

    def message(self, request: Any, level: int = 3, engine_id: bytes | None = None,
                context_name: bytes = b"", context_engine: bytes | None = None,
                max_size: int = 65507, user: bytes | None = None, reportable: bool = True,
                boots: int | None = None, time: int | None = None) -> bytes:
        """`request` (a PDU object) in an SNMPv3 message at `level` (0, 1 or 3)."""
        self.msg_id += 1
        eid = self.engine_id if engine_id is None else engine_id
        boots = self.boots if boots is None else boots
        time = self.time if time is None else time
        scoped = ScopedPDU()
        scoped["contextEngineId"] = eid if context_engine is None else context_engine
        scoped["contextName"] = context_name
        scoped["data"].setComponentByType(request.tagSet, request)
        msg = SNMPv3Message()
        msg["msgVersion"] = 3
        hd = msg["msgGlobalData"]
        hd["msgID"], hd["msgMaxSize"], hd["msgSecurityModel"] = self.msg_id, max_size, 3
        hd["msgFlags"] = bytes([level | (4 if reportable else 0)])
        sp = UsmSecurityParameters()
        sp["msgAuthoritativeEngineId"] = eid
        sp["msgAuthoritativeEngineBoots"] = boots
        sp["msgAuthoritativeEngineTime"] = time
        sp["msgUserName"] = self.user if user is None else user
        sp["msgAuthenticationParameters"] = bytes(self.mac_len if level & 1 else 0)
        plain = encoder.encode(scoped)
        if level & 2:
            salt = self.msg_id.to_bytes(8, "big")
            iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
            enc = Cipher(algorithms.AES(self.priv_key), CFB(iv)).encryptor()
            sp["msgPrivacyParameters"] = salt
            msg["msgData"]["encryptedPDU"] = enc.update(plain) + enc.finalize()
        else:
            sp["msgPrivacyParameters"] = b""
            msg["msgData"]["plaintext"] = scoped
        msg["msgSecurityParameters"] = encoder.encode(sp)
        out = encoder.encode(msg)
        if level & 1:
            zeros = univ.OctetString(bytes(self.mac_len))
            at = out.index(encoder.encode(zeros)) + 2
            mac = hmac.new(self.auth_key, out, self.hash).digest()[: self.mac_len]
            out = out[:at] + mac + out[at + self.mac_len:]
        return out

    def decode(self, data: bytes, learn: bool = True) -> Reply:
        """A Response or Report, authenticated and decrypted when its flags say so."""
        msg, rest = decoder.decode(data, asn1Spec=SNMPv3Message())
        assert not rest
        flags = bytes(msg["msgGlobalData"]["msgFlags"])[0]
        sp, _ = decoder.decode(bytes(msg["msgSecurityParameters"]),
                               asn1Spec=UsmSecurityParameters())
        boots, time = int(sp["msgAuthoritativeEngineBoots"]), int(sp["msgAuthoritativeEngineTime"])
        if flags & 1:
            mac = bytes(sp["msgAuthenticationParameters"])
            at = data.index(mac)
            zeroed = data[:at] + bytes(len(mac)) + data[at + len(mac):]
            assert hmac.new(self.auth_key, zeroed, self.hash).digest()[: self.mac_len] == mac
        if flags & 2:
            iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + bytes(
                sp["msgPrivacyParameters"])
            dec = Cipher(algorithms.AES(self.priv_key), CFB(iv)).decryptor()
            raw = dec.update(bytes(msg["msgData"]["encryptedPDU"])) + dec.finalize()
            scoped, _ = decoder.decode(raw, asn1Spec=ScopedPDU())
        else:
            scoped = msg["msgData"]["plaintext"]
        p = scoped["data"].getComponent()
        name = scoped["data"].getName()
        if learn:
            self.engine_id = bytes(sp["msgAuthoritativeEngineId"])
            self.boots, self.time = boots, time
        return Reply(flags, bytes(sp["msgAuthoritativeEngineId"]), boots, time,
                     bytes(sp["msgUserName"]), name, int(V2.apiPDU.get_request_id(p)),
                     int(V2.apiPDU.get_error_status(p)), int(V2.apiPDU.get_error_index(p)),
                     [(tuple(o), v) for o, v in V2.apiPDU.get_varbinds(p)])
