"""Encryption at rest of what patients write (docs/operations.md, "Data keys").

Every value of an encrypted column is stored as ``v1:<key id>:<base64url(nonce + ciphertext)>``
(AES-256-GCM, a fresh 96-bit nonce per value, the ``v1:<key id>`` header as associated data,
so a changed header fails like a changed ciphertext). The key id is derived from the key (the
first 8 hex digits of a SHA-256 over it), so a wrong key can never pass for the right one and
keys need no names. New values are encrypted under the newest key; any key of the ring
decrypts, which is what lets keys rotate (``moodcheck keys rotate``: storage/rekey.py).

Encryption happens in one place: the column types :class:`EncryptedText` and
:class:`EncryptedJSON`. A model column declared with one of them is encrypted whoever writes
it (ORM or Core), so a new column of patient-written content needs only the type. The keys
belong to an engine (:func:`bind_keyring`), not to the process: two engines with different
keys can live side by side (tests, ``keys rotate``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import weakref
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
KID_CHARS = 8
NOT_ENCRYPTED = "a value of an encrypted column is not encrypted: run `moodcheck db upgrade`"


class DataKeyError(RuntimeError):
    """A stored value cannot be read or written with the keys at hand: no key, a key that is
    not in the ring (lost), or a value that fails its integrity check (tampered). The message
    is one line and never holds the value."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: bytes) -> str:
    """The id stored with every value a key encrypts (not secret: a hash of the key)."""
    return hashlib.sha256(b"moodcheck data key\x00" + key).hexdigest()[:KID_CHARS]


def new_key() -> str:
    """A fresh random data key, written as ``moodcheck keys new`` prints it."""
    return _b64encode(os.urandom(KEY_BYTES))


def parse_key(text: str) -> bytes:
    """Read one written key (43 characters of base64url); ValueError if it is not one."""
    try:
        key = _b64decode(text.strip())
    except (binascii.Error, ValueError):
        raise ValueError("a data key must be 43 characters of base64url") from None
    if len(key) != KEY_BYTES:
        raise ValueError("a data key must be 43 characters of base64url (32 bytes)")
    return key


def parse_keys(text: str) -> list[bytes]:
    """Read a list of keys, newest first: separated by commas, spaces or lines; ``#`` starts a
    comment (the key file's format, and MOODCHECK_DATA_KEYS's)."""
    words: list[str] = []
    for line in text.splitlines():
        words.extend(line.split("#", 1)[0].replace(",", " ").split())
    return [parse_key(word) for word in words]


class Keyring:
    """The data keys, newest first: the newest encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.newest = key_id(keys[0])
        self.kids = tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"Keyring(kids={self.kids!r})"

    def encrypt(self, plaintext: str) -> str:
        """Encrypt under the newest key: ``v1:<kid>:<base64url(nonce + ciphertext)>``."""
        header = f"{VERSION}:{self.newest}"
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.newest].encrypt(
            nonce, plaintext.encode("utf-8"), header.encode("ascii")
        )
        return f"{header}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str) -> str:
        """Decrypt a stored value; DataKeyError (one line, without the value) if it cannot."""
        kid = token_kid(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DataKeyError(
                f"a stored value is encrypted with data key {kid}, which is not among the "
                f"configured keys ({', '.join(self.kids)}): restore that key from your backup"
            )
        try:
            raw = _b64decode(token[len(VERSION) + KID_CHARS + 2 :])
            plain = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{VERSION}:{kid}".encode("ascii")
            )
            return plain.decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise DataKeyError(
                f"a stored value under data key {kid} fails its integrity check: it was "
                "changed or damaged after it was written"
            ) from None


def is_token(value: str) -> bool:
    """Tell whether a stored text has the shape of an encrypted value (any key)."""
    parts = value.split(":", 2)
    return len(parts) == 3 and parts[0] == VERSION and len(parts[1]) == KID_CHARS


def token_kid(token: str) -> str:
    """The key id of an encrypted value; DataKeyError if the text is not one."""
    if not is_token(token):
        raise DataKeyError(NOT_ENCRYPTED)
    return token.split(":", 2)[1]


# --- keys per engine ----------------------------------------------------------------------

_RINGS: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def bind_keyring(engine: AsyncEngine, keyring: Keyring | None) -> None:
    """Give an engine its data keys (None: none; an encrypted column then cannot be used)."""
    if keyring is None:
        _RINGS.pop(engine.dialect, None)
    else:
        _RINGS[engine.dialect] = keyring


def keyring_of(dialect: Dialect) -> Keyring:
    """The keys of the engine a statement runs on; DataKeyError if it has none."""
    keyring = _RINGS.get(dialect)
    if keyring is None:
        raise DataKeyError(
            "no data key is configured: set MOODCHECK_DATA_KEYS or MOODCHECK_DATA_KEY_FILE "
            "(`moodcheck keys new` makes a key)"
        )
    return keyring


# --- column types -------------------------------------------------------------------------


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest (the column stays TEXT). None stays NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt under the engine's newest key."""
        return None if value is None else keyring_of(dialect).encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt with the engine's keys."""
        return None if value is None else keyring_of(dialect).decrypt(str(value))


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object encrypted at rest: the column stays JSON and holds one JSON string, the
    encrypted value. An empty object (a blanked outbox payload) holds nothing to hide and is
    stored as ``{}``, so queries can still tell blanked rows apart; None stays NULL/null."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Encrypt the object's JSON text under the engine's newest key."""
        if value is None or value == {}:
            return value
        return keyring_of(dialect).encrypt(json.dumps(value, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Decrypt with the engine's keys."""
        if value is None or value == {}:
            return value
        if not isinstance(value, str):
            raise DataKeyError(NOT_ENCRYPTED)
        decoded: dict[str, Any] = json.loads(keyring_of(dialect).decrypt(value))
        return decoded
