"""USM's key procedures and cryptography (agent/usm.py): RFC 3414 A.3's test vectors, and
agreement with pysnmp's independent implementation for SHA-2 (RFC 7860) and the AES-192/256
key extension (draft-blumenthal-aes-usm-04, as net-snmp uses it)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from iec62379.agent.usm import UsmUser, extend_key, localize_key, password_to_key
from pyasn1.type.univ import OctetString
from pysnmp.proto.secmod import rfc3414  # before eso: pysnmp's modules import each other
from pysnmp.proto.secmod.eso.priv.aes192 import AesBlumenthal192
from pysnmp.proto.secmod.eso.priv.aes256 import AesBlumenthal256
from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha

ENGINE_A3 = bytes.fromhex("000000000000000000000002")  # RFC 3414 A.3's snmpEngineID


def test_rfc3414_a3_1_md5_vectors():
    ku = password_to_key(b"maplesyrup", "md5")
    assert ku == bytes.fromhex("9faf3283884e92834ebc9847d8edd963")
    assert localize_key(ku, ENGINE_A3, "md5") == bytes.fromhex("526f5eed9fcce26f8964c2930787d82b")


def test_rfc3414_a3_2_sha_vectors():
    ku = password_to_key(b"maplesyrup", "sha1")
    assert ku == bytes.fromhex("9fb5cc0381497b3793528939ff788d5d79145211")
    assert localize_key(ku, ENGINE_A3, "sha1") == bytes.fromhex(
        "6695febc9288e36282235fc7151f128497b38f3f")


@pytest.mark.parametrize("name", ["sha224", "sha256", "sha384", "sha512"])
def test_sha2_keys_agree_with_pysnmp(name):
    """RFC 7860 9.3: the RFC 3414 procedure with the SHA-2 hash (no vectors in the RFC)."""
    ours = localize_key(password_to_key(b"maplesyrup", name), ENGINE_A3, name)
    theirs = rfc3414.localkey.password_to_key(
        b"maplesyrup", OctetString(ENGINE_A3), getattr(hashlib, name))
    assert ours == bytes(theirs) and len(ours) == hashlib.new(name).digest_size


@pytest.mark.parametrize("auth,pysnmp_auth", [
    ("md5", hmacmd5.HmacMd5.SERVICE_ID), ("sha1", hmacsha.HmacSha.SERVICE_ID),
])
@pytest.mark.parametrize("size,cls", [(24, AesBlumenthal192), (32, AesBlumenthal256)])
def test_aes_key_extension_agrees_with_pysnmp_blumenthal(auth, pysnmp_auth, size, cls):
    ku = password_to_key(b"example-priv-key", auth)
    ours = extend_key(localize_key(ku, ENGINE_A3, auth), size, auth)
    theirs = cls().localize_key(pysnmp_auth, ku, OctetString(ENGINE_A3))
    assert ours == bytes(theirs) and len(ours) == size


@pytest.mark.parametrize("auth,length", [("md5", 12), ("sha", 12), ("sha224", 16),
                                         ("sha256", 24), ("sha384", 32), ("sha512", 48)])
def test_mac_is_the_truncated_hmac_with_the_localised_key(auth, length):
    user = UsmUser.make("u", ENGINE_A3, auth, "maplesyrup")
    hash_name = {"sha": "sha1"}.get(auth, auth)
    key = localize_key(password_to_key(b"maplesyrup", hash_name), ENGINE_A3, hash_name)
    assert user.auth_key == key and user.level == 1
    expected = hmac.new(key, b"message", hash_name).digest()[:length]
    assert user.mac(b"message") == expected and len(expected) == length


def test_aes_cfb_iv_is_boots_time_salt():
    user = UsmUser.make("u", ENGINE_A3, "sha", "maplesyrup", "aes128", "maplesyrup")
    assert user.level == 3
    enc, salt = user.cipher.encrypt(b"scoped pdu bytes", 7, 1234)
    kul = localize_key(password_to_key(b"maplesyrup", "sha1"), ENGINE_A3, "sha1")[:16]
    iv = (7).to_bytes(4, "big") + (1234).to_bytes(4, "big") + salt
    dec = Cipher(algorithms.AES(kul), CFB(iv)).decryptor()
    assert dec.update(enc) + dec.finalize() == b"scoped pdu bytes"
    assert user.cipher.decrypt(enc, salt, 7, 1234) == b"scoped pdu bytes"
    assert user.cipher.encrypt(b"x", 7, 1234)[1] != salt  # a new salt per message


def test_des_pads_and_round_trips():
    user = UsmUser.make("u", ENGINE_A3, "md5", "maplesyrup", "des", "maplesyrup")
    enc, salt = user.cipher.encrypt(b"0123456789", 3, 0)
    assert len(enc) == 16 and salt[:4] == (3).to_bytes(4, "big")
    assert user.cipher.decrypt(enc, salt, 3, 0)[:10] == b"0123456789"
    with pytest.raises(ValueError):
        user.cipher.decrypt(enc[:-1], salt, 3, 0)


def test_unknown_protocols_and_priv_without_auth_are_refused():
    with pytest.raises(ValueError):
        UsmUser.make("u", ENGINE_A3, "sha1", "maplesyrup")
    with pytest.raises(ValueError):
        UsmUser.make("u", ENGINE_A3, "sha", "maplesyrup", "aes512", "maplesyrup")
    with pytest.raises(ValueError):
        UsmUser.make("u", ENGINE_A3, "none", "", "aes128", "maplesyrup")
    assert UsmUser.make("u", ENGINE_A3).level == 0
