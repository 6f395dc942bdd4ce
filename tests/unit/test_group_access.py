"""The rule of whether the bot can post in a group (bot/domain/group_access.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.group_access import POSTING_STATUSES, posting_problem, refusal_means_no_access


def test_members_post_and_the_others_say_why_not() -> None:
    for status in ("creator", "administrator", "member"):
        assert posting_problem(status) is None
    assert posting_problem("restricted", can_send_messages=True) is None
    assert posting_problem("restricted", can_send_messages=False) == (
        "restricted: may not send messages"
    )
    assert posting_problem("restricted") is not None  # unknown right: not assumed
    assert "kicked" in (posting_problem("kicked") or "")
    assert "not a member" in (posting_problem("left") or "")


@given(st.text(max_size=30), st.one_of(st.none(), st.booleans()))
def test_any_status_gets_an_answer(status: str, can_send: bool | None) -> None:
    problem = posting_problem(status, can_send_messages=can_send)
    can_post = status in POSTING_STATUSES or (status == "restricted" and bool(can_send))
    assert (problem is None) == can_post
    assert problem is None or problem.strip()


def test_refusals_that_mean_the_group_is_out_of_reach() -> None:
    for description in (
        "Bad Request: not enough rights to send text messages to the chat",
        "Bad Request: need administrator rights in the channel chat",
        "Bad Request: CHAT_WRITE_FORBIDDEN",
        "Bad Request: chat not found",
        "Forbidden: bot was kicked from the group chat",
    ):
        assert refusal_means_no_access(description), description
    for description in (
        "Bad Request: message is too long",
        "Bad Request: can't parse entities: unsupported start tag",
        "Bad Request: message to edit not found",
    ):
        assert not refusal_means_no_access(description), description


@given(st.text(max_size=200))
def test_refusal_reading_never_fails(description: str) -> None:
    assert isinstance(refusal_means_no_access(description), bool)
