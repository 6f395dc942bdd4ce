"""The callback-data codec: round trips, the 64-byte limit, and total decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.callback_data import (
    MAX_BYTES,
    AlertButton,
    AnswerButton,
    BackButton,
    BadCallbackDataError,
    CallbackData,
    ConfirmButton,
    ConsentButton,
    DoneButton,
    FollowUpButton,
    SettingButton,
    SideButton,
    SkipButton,
    TeamMessageButton,
    ToggleButton,
    decode,
    encode,
)

ids = st.integers(min_value=0, max_value=2**63 - 1)
values = st.from_regex(r"[a-z0-9_]{1,16}", fullmatch=True)
positions = st.integers(0, 999)
buttons = st.one_of(
    st.builds(AnswerButton, checkin_id=ids, position=positions, value=values),
    st.builds(ToggleButton, checkin_id=ids, position=positions, value=values),
    st.builds(DoneButton, checkin_id=ids, position=positions),
    st.builds(BackButton, checkin_id=ids, position=positions),
    st.builds(SkipButton, checkin_id=ids),
    st.builds(ConsentButton, invite_id=ids, agree=st.booleans()),
    st.builds(
        SettingButton,
        field=st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
        value=st.from_regex(r"[A-Za-z0-9_/+:.-]{1,40}", fullmatch=True),
    ),
    st.builds(AlertButton, alert_id=ids, action=st.sampled_from(["ack", "res"])),
    st.builds(FollowUpButton, alert_id=ids, action=values),
    st.builds(TeamMessageButton, message_id=ids, send=st.booleans()),
    st.builds(
        ConfirmButton,
        action=st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
        step=st.integers(0, 9),
        token=st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)),
    ),
    st.builds(
        SideButton,
        check_id=ids,
        position=positions,
        action=st.sampled_from(["a", "t"]),
        value=values,
    ),
    st.builds(
        SideButton, check_id=ids, position=positions, action=st.just("d"), value=st.just("")
    ),
)


@given(buttons)
def test_round_trip_and_size(button: CallbackData) -> None:
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
        "y|delete|2|",
        "y|delete|2|a b",
        "y|delete|22|tok",
        "y|delete|2|tok|x",
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
    with pytest.raises(ValueError, match="cannot be encoded"):
        encode(AnswerButton(1, 0, "Not-Plain"))
    with pytest.raises(ValueError, match="cannot be encoded"):
        encode(AnswerButton(-1, 0, "yes"))
    with pytest.raises(ValueError, match="cannot be encoded"):
        encode(SettingButton("tz", "Europe/London|x"))
    with pytest.raises(ValueError, match="64 bytes"):
        encode(SettingButton("timezone", "A" * 40 + "/" + "B" * 20))
