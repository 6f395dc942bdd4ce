"""The check-in's state machine (bot.domain.checkin) on the tests' own small questionnaire:
what a tap, Done, Back and Skip mean, with questions named by id, and why by id."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.checkin import (
    BackStep,
    CheckinStatus,
    SkipStep,
    Tap,
    TapVerdict,
    first_position,
    item_id_at,
    judge_back,
    judge_done,
    judge_skip,
    judge_tap,
    locate,
    named_item,
    next_position,
    progress,
    resume,
    standing,
    toggle,
)
from bot.domain.questionnaire import Item, ItemKind, Questionnaire, scale_options
from tests.support.questionnaire import SMALL_ITEMS, small_daily

Q = small_daily()
OPEN = CheckinStatus.OPEN


def at(item: str) -> int:
    return Q.position(item)


def judge(current: str, item: str | int, value: str, *, status: CheckinStatus = OPEN) -> str:
    return judge_tap(
        Q, status=status, window_open=True, current_position=at(current), tap=Tap(1, item, value)
    ).value


def test_the_small_questionnaire_is_what_these_tests_assume() -> None:
    assert [item.id for item in Q.items] == SMALL_ITEMS
    assert item_id_at(Q, first_position(Q)) == "rating"
    shown = {item.id: progress(Q, at(item.id)) for item in Q.items}
    assert shown == {
        "rating": ("1", 4),
        "pick": ("2", 4),
        "ticks": ("3", 4),
        "ticks_rate": ("3b", 4),
        "sure": ("4", 4),
        "sure_now": ("4b", 4),
    }


def test_a_button_names_its_item_by_id_or_by_an_old_position() -> None:
    assert locate(Q, "ticks") == 2
    assert locate(Q, "appetite") is None
    assert locate(Q, 2) == 2  # a button sent before ids: its position
    assert locate(Q, len(Q.items)) is None
    named = named_item(Q, "sure")
    assert named is not None and named.safety
    assert named_item(Q, 99) is None


def test_the_stored_id_says_where_a_check_in_stands() -> None:
    assert standing(Q, "pick") == 1
    assert standing(Q, None) == len(Q.items)  # nothing left to ask
    assert item_id_at(Q, len(Q.items)) is None
    # An item taken out of the file: the check-in goes on at its first unanswered question.
    assert standing(Q, "gone") is None
    assert resume(Q, {"rating": "1"}) == at("pick")
    assert resume(Q, {"rating": "1", "pick": "beta", "ticks": "none"}) == at("sure")
    assert resume(Q, {"rating": "1", "pick": "beta", "ticks": "red"}) == at("ticks_rate")
    assert resume(Q, dict.fromkeys(["rating", "pick", "ticks", "sure"], "none")) == len(Q.items)


def test_a_tap_is_recorded_only_on_the_question_asked() -> None:
    assert judge("pick", "pick", "alpha") == TapVerdict.RECORD
    assert judge("pick", "rating", "3") == TapVerdict.ALREADY_ANSWERED  # a double tap
    assert judge("pick", "ticks", "red") == TapVerdict.INVALID  # ahead: never sent
    assert judge("pick", "appetite", "alpha") == TapVerdict.INVALID  # no such question
    assert judge("pick", "pick", "gamma") == TapVerdict.INVALID  # no such answer
    assert judge("pick", "pick", "alpha", status=CheckinStatus.SKIPPED) == TapVerdict.CLOSED
    # Buttons sent before ids carry positions, judged as they were.
    assert judge("pick", 1, "alpha") == TapVerdict.RECORD
    assert judge("pick", 0, "3") == TapVerdict.ALREADY_ANSWERED
    assert judge("pick", 2, "red") == TapVerdict.INVALID
    assert judge("pick", 40, "alpha") == TapVerdict.INVALID


def test_done_records_the_ticks_of_the_question_asked() -> None:
    ticks = at("ticks")
    assert judge_done(Q, ticks, "ticks", frozenset({"red"})) is TapVerdict.RECORD
    assert judge_done(Q, ticks, "ticks", frozenset()) is TapVerdict.NEED_SELECTION
    assert judge_done(Q, ticks, "pick", frozenset({"red"})) is TapVerdict.INVALID  # not multi
    assert judge_done(Q, ticks, "nothing", frozenset({"red"})) is TapVerdict.INVALID
    assert judge_done(Q, at("sure"), "ticks", frozenset({"red"})) is TapVerdict.ALREADY_ANSWERED
    assert judge_done(Q, ticks, 2, frozenset({"red"})) is TapVerdict.RECORD  # old button


def test_ticks_and_the_exclusive_none() -> None:
    item = Q.items[at("ticks")]
    assert toggle(item, set(), "red") == ({"red"}, None)
    assert toggle(item, {"red"}, "blue") == ({"red", "blue"}, None)
    assert toggle(item, {"red", "blue"}, "red") == ({"blue"}, None)
    assert toggle(item, {"red"}, "none") == (set(), "none")
    assert item.join({"blue", "red"}) == "red,blue"


def test_back_goes_to_the_question_asked_before_and_forgets_its_answer() -> None:
    answers = {"rating": "2", "pick": "alpha", "ticks": "none"}
    # ticks_rate was not asked ("none"): Back from the safety question goes to the ticks.
    assert judge_back(Q, answers, at("sure"), "sure") == BackStep(at("ticks"), "ticks")
    followed = {**answers, "ticks": "red", "ticks_rate": "low"}
    assert judge_back(Q, followed, at("sure"), "sure") == BackStep(at("ticks_rate"), "ticks_rate")
    assert judge_back(Q, answers, at("rating"), "rating") is TapVerdict.INVALID  # the first
    assert judge_back(Q, answers, at("sure"), "pick") is TapVerdict.ALREADY_ANSWERED
    assert judge_back(Q, answers, at("sure"), "gone") is TapVerdict.INVALID
    assert judge_back(Q, answers, at("sure"), 4) == BackStep(at("ticks"), "ticks")  # old button


def test_skip_is_never_offered_on_a_safety_question() -> None:
    assert judge_skip(Q, OPEN, at("sure")) is TapVerdict.SAFETY_NO_SKIP
    assert judge_skip(Q, OPEN, at("sure_now")) is TapVerdict.SAFETY_NO_SKIP
    assert judge_skip(Q, OPEN, at("pick")) == SkipStep(
        CheckinStatus.SKIPPED, None, offers_weekly_part=True
    )


def test_a_whole_check_in_is_a_walk_from_id_to_id() -> None:
    answers: dict[str, str] = {}
    asked = []
    position: int | None = first_position(Q)
    while position is not None:
        item = item_id_at(Q, position)
        assert item is not None
        asked.append(item)
        answers[item] = {"ticks": "blue", "sure": "yes"}.get(
            item, Q.items[position].options[0].value
        )
        position = next_position(Q, answers, position)
    assert asked == SMALL_ITEMS  # the follow-ups come with "blue" and "yes"


NEW = Item(
    id="extra",
    kind=ItemKind.SCALE,
    texts={"en": "Added later"},
    options=scale_options(0, 3),
)


def _inserted(at_position: int) -> Questionnaire:
    items = (*Q.items[:at_position], NEW, *Q.items[at_position:])
    return dataclasses.replace(Q, items=items, _index={})


@given(
    current=st.sampled_from(SMALL_ITEMS),
    insert_at=st.integers(min_value=0, max_value=len(SMALL_ITEMS)),
)
def test_a_question_added_to_the_file_leaves_an_open_check_in_where_it_was(
    current: str, insert_at: int
) -> None:
    # What is stored (the current item's id) and what its message's buttons carry (the id)
    # name the same question in the questionnaire with a question added anywhere.
    changed = _inserted(insert_at)
    position = standing(changed, current)
    assert position is not None and changed.items[position].id == current
    assert locate(changed, current) == position
    tap = Tap(1, current, Q.items[at(current)].options[0].value)
    verdict = judge_tap(changed, status=OPEN, window_open=True, current_position=position, tap=tap)
    assert verdict is TapVerdict.RECORD
    # A position, as stored before, would have moved it to another question.
    if insert_at <= at(current):
        assert changed.items[at(current)].id != current
