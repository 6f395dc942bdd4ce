"""The data keys tests run with (storage/crypto.py): fixed, so a failing run can be read
again with the same key."""

from __future__ import annotations

from storage.crypto import Keyring, parse_keys

TEST_KEYS = "bW9vZGNoZWNrLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM"
"""MOODCHECK_DATA_KEYS of every bot a test builds."""
TEST_KEYRING = Keyring(parse_keys(TEST_KEYS))
"""The same keys, for the engines tests open themselves."""
