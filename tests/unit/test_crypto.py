"""The value codec of encryption at rest (storage/crypto.py), for any text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.crypto import (
    DataKeyError,
    Keyring,
    is_token,
    key_id,
    new_key,
    parse_key,
    parse_keys,
    token_kid,
)

A, B = parse_key(new_key()), parse_key(new_key())
RING_A, RING_B, RING_BA = Keyring([A]), Keyring([B]), Keyring([B, A])


def _error(stored: str) -> str | None:
    """The error message decrypting a stored value gives, if any."""
    try:
        RING_A.decrypt(stored)
    except DataKeyError as error:
        return str(error)
    return None


@given(st.text())
def test_any_text_round_trips_under_its_key_id(text: str) -> None:
    token = RING_A.encrypt(text)
    assert is_token(token) and token_kid(token) == key_id(A)
    assert RING_A.decrypt(token) == text
    assert RING_BA.decrypt(token) == text  # an older key still decrypts
    assert token_kid(RING_BA.encrypt(text)) == key_id(B)  # the newest encrypts
    assert len(text) < 8 or text not in token  # (a short one may occur by chance)


@given(st.text(), st.data())
def test_a_changed_character_is_refused_not_misread(text: str, data: st.DataObject) -> None:
    token = RING_A.encrypt(text)
    at = data.draw(st.integers(min_value=12, max_value=len(token) - 1))
    swap = data.draw(st.sampled_from("AQgw-_09"))
    changed = token[:at] + swap + token[at + 1 :]
    if changed == token:
        return
    error = _error(changed)
    if error is None:  # base64's spare low bits of the last character may change nothing
        assert RING_A.decrypt(changed) == text
    else:
        assert error == (
            f"a stored value under data key {key_id(A)} fails its integrity check: it was "
            "changed or damaged after it was written"
        )


@given(st.text(max_size=200))
def test_anything_stored_decrypts_or_fails_with_one_clear_error(stored: str) -> None:
    error = _error(stored)
    assert error is None or "\n" not in error


def test_a_key_not_in_the_ring_is_named() -> None:
    token = RING_A.encrypt("private")
    with pytest.raises(DataKeyError, match=f"data key {key_id(A)}, which is not among"):
        RING_B.decrypt(token)


def test_a_changed_header_fails_the_integrity_check() -> None:
    ring = Keyring([A, B])
    token = ring.encrypt("private")
    forged = f"v1:{key_id(B)}:{token.split(':', 2)[2]}"
    with pytest.raises(DataKeyError, match="integrity check"):
        ring.decrypt(forged)


def test_key_lists_and_their_errors() -> None:
    a, b = new_key(), new_key()
    assert parse_keys(f"# keys\n{a}\n\n{b}  # older\n") == [parse_key(a), parse_key(b)]
    assert parse_keys(f"{a}, {b}") == [parse_key(a), parse_key(b)]
    for bad in ("short", a + "AA", "!" * 43):
        with pytest.raises(ValueError, match="43 characters"):
            parse_key(bad)
    with pytest.raises(ValueError, match="at least one key"):
        Keyring([])
