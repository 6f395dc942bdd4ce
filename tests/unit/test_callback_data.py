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
from bot.domain.questionnaire import ITEM_ID_PATTERN, VALUE_PATTERN

ids = st.integers(min_value=0, max_value=2**63 - 1)
values = st.from_regex(r"[a-z0-9_]{1,16}", fullmatch=True)
positions = st.integers(0, 999)
item_ids = st.from_regex(ITEM_ID_PATTERN, fullmatch=True)
items = st.one_of(item_ids, positions)  # an id, or a position on a button sent before ids
buttons = st.one_of(
    st.builds(AnswerButton, checkin_id=ids, item=items, value=values),
    st.builds(ToggleButton, checkin_id=ids, item=items, value=values),
    st.builds(DoneButton, checkin_id=ids, item=items),
    st.builds(BackButton, checkin_id=ids, item=items),
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


@given(
    checkin_id=ids,
    item=item_ids,
    value=st.from_regex(VALUE_PATTERN, fullmatch=True),
)
def test_every_check_in_button_naming_its_item_fits(
    checkin_id: int, item: str, value: str
) -> None:
    # Any check-in id, any item id and any value a questionnaire may have (the patterns its
    # loader enforces) make a button within Telegram's 64 bytes that decodes to the same.
    for button in (
        AnswerButton(checkin_id, item, value),
        ToggleButton(checkin_id, item, value),
        DoneButton(checkin_id, item),
        BackButton(checkin_id, item),
    ):
        text = encode(button)
        assert len(text.encode()) <= MAX_BYTES
        assert decode(text) == button


def test_the_widest_check_in_button_fits() -> None:
    widest = ToggleButton(2**63 - 1, "x" * 24, "v" * 16)
    assert len(encode(widest).encode()) <= MAX_BYTES
    assert not ITEM_ID_PATTERN.fullmatch("x" * 25)  # a longer id would not fit


def test_ids_and_old_positions_decode_apart() -> None:
    assert decode("a|12|mood|7") == AnswerButton(12, "mood", "7")
    # A button sent before buttons named items by id carries the position: still understood.
    assert decode("a|12|0|7") == AnswerButton(12, 0, "7")
    assert decode("t|12|5|nausea") == ToggleButton(12, 5, "nausea")
    assert decode("d|12|side_effects") == DoneButton(12, "side_effects")
    assert decode("b|12|8") == BackButton(12, 8)


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
        "a|1|Mood|7",
        "a|1|_mood|7",
        "a|1|mood-2|7",
        "a|1|" + "m" * 25 + "|7",
        "a|1||7",
        "d|1|00",
        "b|1|mood|x",
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
