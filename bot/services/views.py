"""Message views: text from templates plus the inline keyboards that go with it."""

from __future__ import annotations

from bot.domain.callback_data import AnswerButton, ConsentButton, encode
from bot.domain.questionnaire import Questionnaire
from bot.services.outbox import Keyboard
from prompts.render import Renderer


def question_text(
    renderer: Renderer, questionnaire: Questionnaire, position: int, locale: str
) -> str:
    """Return the text that asks the item at a position (the same for every patient)."""
    return renderer.render(
        "checkin_question",
        locale,
        position=position + 1,
        total=len(questionnaire.items),
        question=questionnaire.items[position].text(locale),
    )


def question_keyboard(
    questionnaire: Questionnaire, checkin_id: int, position: int, locale: str
) -> Keyboard:
    """Return the answer buttons of the item at a position, for one check-in."""
    return [
        [
            {
                "text": option.label(locale),
                "callback_data": encode(AnswerButton(checkin_id, position, option.value)),
            }
            for option in row
        ]
        for row in questionnaire.items[position].keyboard_rows()
    ]


def question(
    renderer: Renderer, questionnaire: Questionnaire, checkin_id: int, position: int, locale: str
) -> tuple[str, Keyboard]:
    """Return the text and buttons that ask the item at a position of a check-in."""
    return (
        question_text(renderer, questionnaire, position, locale),
        question_keyboard(questionnaire, checkin_id, position, locale),
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
