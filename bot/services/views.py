"""Message views: text from templates plus the inline keyboards that go with it."""

from __future__ import annotations

from bot.domain.callback_data import AnswerButton, ConsentButton, encode
from bot.domain.questionnaire import Questionnaire
from bot.services.outbox import Keyboard
from prompts.render import Renderer


def question(
    renderer: Renderer, questionnaire: Questionnaire, checkin_id: int, position: int, locale: str
) -> tuple[str, Keyboard]:
    """Return the text and buttons that ask the item at a position of a check-in."""
    item = questionnaire.items[position]
    text = renderer.render(
        "checkin_question",
        locale,
        position=position + 1,
        total=len(questionnaire.items),
        question=item.text(locale),
    )
    keyboard = [
        [
            {
                "text": option.label(locale),
                "callback_data": encode(AnswerButton(checkin_id, position, option.value)),
            }
            for option in row
        ]
        for row in item.keyboard_rows()
    ]
    return text, keyboard


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
