"""The callback-data codec: round trips, the 64-byte limit, and total decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.callback_data import (
    MAX_BYTES,
    AnswerButton,
    BadCallbackDataError,
    ConsentButton,
    decode,
    encode,
)

ids = st.integers(min_value=0, max_value=2**63 - 1)
values = st.from_regex(r"[a-z0-9_]{1,16}", fullmatch=True)
buttons = st.one_of(
    st.builds(AnswerButton, checkin_id=ids, position=st.integers(0, 999), value=values),
    st.builds(ConsentButton, invite_id=ids, agree=st.booleans()),
)


@given(buttons)
def test_round_trip_and_size(button: AnswerButton | ConsentButton) -> None:
    text = encode(button)
    assert 1 <= len(text.encode()) <= MAX_BYTES
    assert decode(text) == button


@given(st.text(max_size=80))
def test_decode_is_total(text: str) -> None:
    try:
        decoded = decode(text)
    except BadCallbackDataError:
        return
    # Anything that decodes is something we could have produced.
    assert encode(decoded) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a|1|2",
        "a|1|2|yes|extra",
        "a|-1|0|yes",
        "a|01|0|yes",
        "a|1|0|YES",
        "a|1|0|yes\n",
        "a|99999999999999999999|0|yes",
        "c|5|maybe",
        "x|1|2|3",
        "a|١|0|yes",
        "a|1|0|" + "y" * 17,
        "c|" + "9" * 70 + "|y",
    ],
)
def test_forged_or_truncated_data_is_refused(text: str) -> None:
    with pytest.raises(BadCallbackDataError):
        decode(text)


def test_encode_refuses_what_would_not_fit() -> None:
    with pytest.raises(ValueError, match="short plain"):
        encode(AnswerButton(1, 0, "Not-Plain"))
    with pytest.raises(ValueError, match="negative"):
        encode(AnswerButton(-1, 0, "yes"))
