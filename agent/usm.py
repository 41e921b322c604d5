"""The User-based Security Model's cryptography (RFC 3414, RFC 3826, RFC 7860): keys from
passwords, message authentication and privacy. The primitives come from hashlib, hmac and
`cryptography`; this module only follows the RFCs' procedures around them.

- Password to key (RFC 3414 A.2) and key localisation (RFC 3414 2.6): the same procedure with
  the authentication protocol's hash for MD5, SHA-1 and the SHA-2 protocols (RFC 7860 9.3).
- Authentication: HMAC-MD5-96, HMAC-SHA-96 (RFC 3414 6, 7) and usmHMAC128SHA224,
  usmHMAC192SHA256, usmHMAC256SHA384, usmHMAC384SHA512 (RFC 7860): the HMAC over the whole
  message with the authentication parameters zeroed, truncated to 12/12/16/24/32/48 octets.
- Privacy: AES-128 in CFB-128 (RFC 3826); AES-192 and AES-256 with the key extension of
  draft-blumenthal-aes-usm-04 3.1.2.1 (Kul || H(Kul) || H(Kul || H(Kul)) ...), which is what
  net-snmp's `-x AES-192` / `-x AES-256` use; CBC-DES (RFC 3414 8), through `cryptography`'s
  TripleDES keyed K1 = K2 = K3, which is DES.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from typing import Any

#: Authentication protocol name (as in the config) -> (hash name, MAC length in octets).
AUTH_PROTOCOLS: dict[str, tuple[str, int]] = {
    "md5": ("md5", 12),
    "sha": ("sha1", 12),
    "sha224": ("sha224", 16),
    "sha256": ("sha256", 24),
    "sha384": ("sha384", 32),
    "sha512": ("sha512", 48),
}
#: Privacy protocol name -> key length in octets (for DES: key + pre-IV).
PRIV_PROTOCOLS: dict[str, int] = {"des": 16, "aes128": 16, "aes192": 24, "aes256": 32}

_MEGABYTE = 1048576


def password_to_key(password: bytes, hash_name: str) -> bytes:
    """Ku (RFC 3414 A.2.1 / A.2.2): the hash of the password repeated over 1,048,576 octets."""
    if not password:
        raise ValueError("an empty password has no key")
    repeated = password * (_MEGABYTE // len(password) + 1)
    return hashlib.new(hash_name, repeated[:_MEGABYTE]).digest()


def localize_key(key: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """Kul = H(Ku || snmpEngineID || Ku) (RFC 3414 2.6)."""
    return hashlib.new(hash_name, key + engine_id + key).digest()


def extend_key(kul: bytes, length: int, hash_name: str) -> bytes:
    """A localised key extended to `length` octets: draft-blumenthal-aes-usm-04 3.1.2.1
    appends H(all octets so far) until the key is long enough (as net-snmp does)."""
    while len(kul) < length:
        kul += hashlib.new(hash_name, kul).digest()
    return kul[:length]


class _Aes:
    """AES in CFB-128 mode; IV = engine boots (4) || engine time (4) || salt (8), RFC 3826 3.1.2."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

        try:  # where cryptography keeps CFB since 47
            from cryptography.hazmat.decrepit.ciphers.modes import CFB
        except ImportError:  # pragma: no cover - older cryptography
            from cryptography.hazmat.primitives.ciphers.modes import CFB
        self._cipher, self._alg, self._cfb = Cipher, algorithms.AES(key), CFB
        self._salt = secrets.randbits(64)

    def encrypt(self, data: bytes, boots: int, time: int) -> tuple[bytes, bytes]:
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        salt = self._salt.to_bytes(8, "big")
        iv = struct.pack(">II", boots, time) + salt
        enc = self._cipher(self._alg, self._cfb(iv)).encryptor()
        return enc.update(data) + enc.finalize(), salt

    def decrypt(self, data: bytes, params: bytes, boots: int, time: int) -> bytes:
        if len(params) != 8:
            raise ValueError("AES privacy parameters are not 8 octets")
        iv = struct.pack(">II", boots, time) + params
        dec = self._cipher(self._alg, self._cfb(iv)).decryptor()
        return dec.update(data) + dec.finalize()


class _Des:
    """CBC-DES (RFC 3414 8.1.1): key = the first 8 octets of the localised key, pre-IV the
    last 8; salt = engine boots (4) || a counter (4); IV = pre-IV XOR salt. The plaintext is
    padded to a multiple of 8 octets (the padding is ignored when the scoped PDU is decoded)."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
        from cryptography.hazmat.primitives.ciphers import Cipher, modes

        # TripleDES with K1 = K2 = K3 is single DES (encrypt, decrypt, encrypt with one key).
        self._cipher, self._alg, self._cbc = Cipher, TripleDES(key[:8] * 3), modes.CBC
        self._pre_iv = key[8:16]
        self._counter = secrets.randbits(32)

    def _iv(self, salt: bytes) -> bytes:
        return bytes(a ^ b for a, b in zip(self._pre_iv, salt, strict=True))

    def encrypt(self, data: bytes, boots: int, time: int) -> tuple[bytes, bytes]:
        self._counter = (self._counter + 1) & 0xFFFFFFFF
        salt = struct.pack(">II", boots, self._counter)
        data += bytes(-len(data) % 8)
        enc = self._cipher(self._alg, self._cbc(self._iv(salt))).encryptor()
        return enc.update(data) + enc.finalize(), salt

    def decrypt(self, data: bytes, params: bytes, boots: int, time: int) -> bytes:
        if len(params) != 8 or len(data) % 8:
            raise ValueError("DES privacy parameters are not 8 octets or the data not 8k octets")
        dec = self._cipher(self._alg, self._cbc(self._iv(params))).decryptor()
        return dec.update(data) + dec.finalize()


@dataclass
class UsmUser:
    """A user's localised keys for this engine (made once, at start).

    `level` is the highest securityLevel the user has keys for: 0 noAuthNoPriv, 1 authNoPriv,
    3 authPriv (the msgFlags bits)."""

    name: bytes
    auth_protocol: str
    priv_protocol: str
    auth_key: bytes = b""
    mac_length: int = 0
    cipher: Any = None
    _hmac: Any = None

    @property
    def level(self) -> int:
        return (1 if self.auth_key else 0) | (2 if self.cipher is not None else 0)

    @classmethod
    def make(
        cls,
        name: str,
        engine_id: bytes,
        auth_protocol: str = "none",
        auth_password: str = "",
        priv_protocol: str = "none",
        priv_password: str = "",
    ) -> UsmUser:
        """Localise the user's keys from its passwords; ValueError for an unknown protocol."""
        user = cls(name.encode(), auth_protocol, priv_protocol)
        if auth_protocol == "none":
            if priv_protocol != "none":
                raise ValueError("privacy needs authentication")
            return user
        if auth_protocol not in AUTH_PROTOCOLS:
            raise ValueError(f"unknown authentication protocol {auth_protocol!r}")
        hash_name, user.mac_length = AUTH_PROTOCOLS[auth_protocol]
        user.auth_key = localize_key(
            password_to_key(auth_password.encode(), hash_name), engine_id, hash_name)
        user._hmac = hmac.new(user.auth_key, digestmod=hash_name)
        if priv_protocol != "none":
            if priv_protocol not in PRIV_PROTOCOLS:
                raise ValueError(f"unknown privacy protocol {priv_protocol!r}")
            kul = localize_key(
                password_to_key(priv_password.encode(), hash_name), engine_id, hash_name)
            key = extend_key(kul, PRIV_PROTOCOLS[priv_protocol], hash_name)
            user.cipher = _Des(key) if priv_protocol == "des" else _Aes(key)
        return user

    def mac(self, message: bytes) -> bytes:
        """The authentication parameters of `message` (whose own are zeroed)."""
        h = self._hmac.copy()
        h.update(message)
        return h.digest()[: self.mac_length]
