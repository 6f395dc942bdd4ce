"""Invite codes: how they look, how they are made, and how they are stored (as a hash)."""

from __future__ import annotations

import hashlib
import re
import secrets

# Telegram's /start payload: up to 64 of A-Z a-z 0-9 _ -
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
# 16 random bytes: 128 bits, well above the 64 the product requires.
_CODE_BYTES = 16
_LABEL = re.compile(r"[A-Z0-9][A-Z0-9-]{1,15}")


def new_code() -> str:
    """Return a fresh single-use invite code (URL-safe, 22 characters, 128 random bits)."""
    return secrets.token_urlsafe(_CODE_BYTES)


def is_well_formed(code: str) -> bool:
    """Tell whether a string could be a /start payload at all."""
    return _PAYLOAD.fullmatch(code) is not None


def code_hash(code: str) -> str:
    """Return the stored form of a code; the code itself is never stored."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def is_valid_label(label: str) -> bool:
    """Tell whether a pseudonymous label is acceptable (e.g. ``P-7Q3K``): short, no names."""
    return _LABEL.fullmatch(label) is not None
