"""The check-in's "3/7" counter: its total is known from the first question and never moves,
whatever the answers call up (issue 12: "6/7, 7/8, 9/9")."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.checkin import first_position, next_position, progress
from bot.domain.questionnaire import Questionnaire
from prompts.questionnaires import load_questionnaire, questionnaire_path

DAILY = load_questionnaire(questionnaire_path("daily"))


def test_follow_ups_take_the_number_of_the_item_before_them_with_a_letter() -> None:
    shown = {item.id: progress(DAILY, DAILY.position(item.id)) for item in DAILY.items}
    assert shown["mood"] == ("1", 7)
    assert shown["side_effects"] == ("6", 7)
    assert shown["bother"] == ("6b", 7)
    assert shown["safety"] == ("7", 7)
    assert shown["safety_now"] == ("7b", 7)


def _walk(questionnaire: Questionnaire, picks: list[int]) -> list[tuple[str, int]]:
    """Answer a whole check-in with options chosen by ``picks``; return what each question
    showed."""
    answers: dict[str, str] = {}
    shown = []
    position: int | None = first_position(questionnaire)
    n = 0
    while position is not None:
        item = questionnaire.items[position]
        shown.append(progress(questionnaire, position))
        answers[item.id] = item.options[picks[n % len(picks)] % len(item.options)].value
        n += 1
        position = next_position(questionnaire, answers, position)
    return shown


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=12))
def test_the_total_never_changes_and_numbers_never_go_back(picks: list[int]) -> None:
    shown = _walk(DAILY, picks)
    assert {total for _, total in shown} == {7}
    numbers = [int(label.rstrip("bcd")) for label, _ in shown]
    assert numbers == sorted(numbers)
    assert numbers[-1] == 7  # the safety question is always asked, and always 7/7
