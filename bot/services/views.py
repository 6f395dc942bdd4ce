"""Message views: text from templates plus the inline keyboards that go with it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.domain.callback_data import (
    AnswerButton,
    BackButton,
    ConsentButton,
    DoneButton,
    SkipButton,
    ToggleButton,
    encode,
)
from bot.domain.checkin import previous_position, progress
from bot.domain.questionnaire import ItemKind, Questionnaire
from bot.services.outbox import Keyboard
from prompts.render import Renderer

TICK = "✅ "
_WIDEST_ID = 2**63 - 1
"""The largest check-in id (a signed 64-bit key): the one whose callback data is longest."""


def asked_apart(questionnaire: Questionnaire, position: int) -> bool:
    """Tell whether the item at a position belongs to the part asked in its own message."""
    return questionnaire.apart_from is not None and position >= questionnaire.apart_from


def question_text(
    renderer: Renderer,
    questionnaire: Questionnaire,
    position: int,
    locale: str,
) -> str:
    """Return the text that asks the item at a position, with "3/7" progress (a total that
    never changes mid check-in: ``bot.domain.checkin.progress``)."""
    number, total = progress(questionnaire, position)
    return renderer.render(
        "instruments_question" if asked_apart(questionnaire, position) else "checkin_question",
        locale,
        position=number,
        total=total,
        question=questionnaire.items[position].text(locale),
    )


def question_keyboard(  # noqa: PLR0917 - the whole state of one message
    renderer: Renderer,
    questionnaire: Questionnaire,
    checkin_id: int,
    position: int,
    locale: str,
    answers: Mapping[str, str] | None = None,
    selected: frozenset[str] = frozenset(),
) -> Keyboard:
    """Return the buttons of the item at a position, for one check-in. They name the item by
    its id (``bot.domain.callback_data``).

    A multi-select shows its ticks and a Done button; every item but a safety question has
    Skip today (Skip questionnaire in a part asked apart), and Back when there is an earlier
    item of the same message to change. A safety question is answered (its own "prefer not
    to answer" included) or left open until the window closes, which counts as missed.
    """
    item = questionnaire.items[position]
    multi = item.kind is ItemKind.MULTI
    rows: Keyboard = []
    for row in item.keyboard_rows():
        buttons = []
        for option in row:
            label = option.label(locale)
            if multi and option.value != item.none_value:
                data = encode(ToggleButton(checkin_id, item.id, option.value))
                label = TICK + label if option.value in selected else label
            elif multi:
                data = encode(ToggleButton(checkin_id, item.id, option.value))
            else:
                data = encode(AnswerButton(checkin_id, item.id, option.value))
            buttons.append({"text": label, "callback_data": data})
        rows.append(buttons)
    if multi:
        done = renderer.render("button_done", locale)
        rows.append([{"text": done, "callback_data": encode(DoneButton(checkin_id, item.id))}])
    controls = []
    if previous_position(questionnaire, answers or {}, position) is not None:
        controls.append(
            {
                "text": renderer.render("button_back", locale),
                "callback_data": encode(BackButton(checkin_id, item.id)),
            }
        )
    if not item.safety:
        skip = "button_skip_instruments" if asked_apart(questionnaire, position) else "button_skip"
        controls.append(
            {
                "text": renderer.render(skip, locale),
                "callback_data": encode(SkipButton(checkin_id)),
            }
        )
    if controls:
        rows.append(controls)
    return rows


def question_keyboards(
    renderer: Renderer, questionnaire: Questionnaire, position: int, locale: str
) -> Callable[[int], Keyboard]:
    """Return a maker of ``question_keyboard(renderer, questionnaire, checkin_id, position,
    locale)`` for any check-in id, which renders the labels and checks the callback data once.

    For the due scan, which asks the same first item of thousands of check-ins: rendering the
    labels and encoding and decoding back every button was a large part of its time
    (docs/performance.md, "Figures behind constants in the code"). Every button of
    a check-in carries the check-in id as the field after its kind, and nothing else depends on
    the id; so the keyboard is built once for the widest id (every other id then fits in
    Telegram's 64 bytes too) and the id is put in its place.
    """
    widest = str(_WIDEST_ID)
    shape: list[list[tuple[str, str, str]]] = []
    for row in question_keyboard(renderer, questionnaire, _WIDEST_ID, position, locale):
        buttons = []
        for button in row:
            kind, checkin_id, *rest = button["callback_data"].split("|")
            if checkin_id != widest:
                raise ValueError(f"a button of {questionnaire.id!r} does not carry its check-in")
            buttons.append((button["text"], f"{kind}|", "".join(f"|{part}" for part in rest)))
        shape.append(buttons)

    def keyboard(checkin_id: int) -> Keyboard:
        if not 0 <= checkin_id <= _WIDEST_ID:
            raise ValueError(f"check-in id {checkin_id} out of range")
        text_id = str(checkin_id)
        return [
            [{"text": text, "callback_data": head + text_id + tail} for text, head, tail in row]
            for row in shape
        ]

    return keyboard


def question(  # noqa: PLR0917
    renderer: Renderer,
    questionnaire: Questionnaire,
    checkin_id: int,
    position: int,
    locale: str,
    answers: Mapping[str, str] | None = None,
    selected: frozenset[str] = frozenset(),
) -> tuple[str, Keyboard]:
    """Return the text and buttons that ask the item at a position of a check-in."""
    return (
        question_text(renderer, questionnaire, position, locale),
        question_keyboard(
            renderer, questionnaire, checkin_id, position, locale, answers, selected
        ),
    )


def consent(renderer: Renderer, invite_id: int, locale: str) -> tuple[str, Keyboard]:
    """Return the consent message and its Agree / Decline buttons."""
    keyboard = [
        [
            {
                "text": renderer.render("button_agree", locale),
                "callback_data": encode(ConsentButton(invite_id, agree=True)),
            },
            {
                "text": renderer.render("button_decline", locale),
                "callback_data": encode(ConsentButton(invite_id, agree=False)),
            },
        ]
    ]
    return renderer.render("consent", locale), keyboard
