"""Free text, crisis words, media, and people who are not (or no longer) enrolled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from storage.models import Alert, OutboxMessage, PatientMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness


async def _send_raw(h: Harness, user: Any, fields: dict[str, Any]) -> None:
    """A message the sandbox users cannot send by themselves (sticker, photo, location ...)."""
    chat = user.chat
    message = {
        "message_id": chat.take_message_id(),
        "from": user.user_json,
        "chat": chat.chat_json,
        "date": h.server.state.now_unix(),
        **fields,
    }
    h.track(h.server.state.enqueue({"message": message}))
    await h.settle()


async def test_free_text_is_kept_and_the_group_sees_only_the_label(harness: Harness) -> None:
    h = harness
    ivy = h.server.user(6001, first_name="Ivy", username="ivy_real")
    await enrol(h, ivy, "P-TXT1")
    await h.send(ivy, "Should I take another dose? My name is Ivy Smith")
    reply = last(ivy).text
    assert "group chat is told that you wrote" in reply and "cannot give medical advice" in reply
    assert "dose" not in reply and "Ivy" not in reply
    stored = await h.rows(select(PatientMessage))
    assert [(m.kind, m.body, m.crisis) for m in stored] == [
        ("text", "Should I take another dose? My name is Ivy Smith", False)
    ]
    notice = h.server.group(GROUP_A).messages[-1].text
    assert "P-TXT1" in notice
    assert "Ivy" not in notice and "dose" not in notice
    assert await h.count(Alert) == 0


async def test_crisis_words_raise_an_immediate_alert_and_show_the_card_first(
    harness: Harness,
) -> None:
    h = harness
    kai = h.server.user(6002, first_name="Kai")
    await enrol(h, kai, "P-TXT2")
    before = len(kai.messages)
    await h.send(kai, "honestly I just want to END   my life...")
    new = kai.messages[before:]
    assert "If you are in danger right now" in new[0].text
    assert "988" in new[0].text and "care team has been notified" in new[0].text
    assert "group chat is told that you wrote" in new[1].text
    alerts = await h.rows(select(Alert))
    assert [(a.rule, a.tier, a.checkin_id) for a in alerts] == [
        ("crisis_words", "IMMEDIATE", None)
    ]
    stored = await h.rows(select(PatientMessage))
    assert stored[0].crisis is True
    group = h.server.group(GROUP_A).messages
    assert len(group) == 1
    assert "IMMEDIATE" in group[0].text and "P-TXT2" in group[0].text
    # Only the words that matched are quoted (tests/e2e/test_crisis_language.py has more).
    assert "want to END my life" in group[0].text and "honestly" not in group[0].text
    card = await h.scalar(
        select(OutboxMessage.priority).where(OutboxMessage.dedup_key.like("crisis:message:%"))
    )
    assert card == 0
    # The same words again are a new message and a new alert (one per message).
    await h.send(kai, "quiero quitarme la vida")
    assert await h.count(Alert) == 2


async def test_media_gets_a_polite_reply_and_is_stored_without_content(
    harness: Harness,
) -> None:
    h = harness
    lou = h.server.user(6003, first_name="Lou")
    await enrol(h, lou, "P-TXT3")
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            },
            "sticker",
        ),
        (
            {
                "photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 9, "height": 9}],
                "caption": "x" * 1024,
            },
            "photo",
        ),
        ({"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}}, "voice"),
        ({"location": {"latitude": 51.5, "longitude": -0.12}}, "location"),
        ({"contact": {"phone_number": "+15550100", "first_name": "Mum"}}, "other"),
    ]
    for fields, _ in cases:
        await _send_raw(h, lou, fields)
        assert "I can only read taps and text" in last(lou).text
        assert "x" * 20 not in last(lou).text
    stored = await h.rows(select(PatientMessage).order_by(PatientMessage.id))
    assert [(m.kind, m.body) for m in stored] == [(kind, None) for _, kind in cases]
    assert h.server.group(GROUP_A).messages == []


async def test_a_caption_with_crisis_words_still_raises_the_alert(harness: Harness) -> None:
    h = harness
    max_ = h.server.user(6004, first_name="Max")
    await enrol(h, max_, "P-TXT4")
    await _send_raw(
        h,
        max_,
        {
            "photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 9, "height": 9}],
            "caption": "I want to kill myself",
        },
    )
    assert await h.count(Alert, Alert.rule == "crisis_words") == 1
    assert any("If you are in danger" in m.text for m in max_.messages)
    assert [m.body for m in await h.rows(select(PatientMessage))] == [None]


async def test_strangers_get_the_invite_explanation_and_nothing_is_stored(
    harness: Harness,
) -> None:
    h = harness
    stranger = h.server.user(6005, first_name="Who")
    await h.send(stranger, "hello, is this the clinic?")
    assert "personal invite link" in last(stranger).text
    await h.send(stranger, "I want to kill myself")
    assert any("If you are in danger" in m.text for m in stranger.messages)
    assert "notified" not in stranger.messages[-2].text  # nobody was told: never claim so
    await _send_raw(h, stranger, {"location": {"latitude": 1.0, "longitude": 2.0}})
    assert await h.count(PatientMessage) == 0
    assert await h.count(Alert) == 0


async def test_a_long_message_is_kept_and_never_echoed(harness: Harness) -> None:
    h = harness
    zed = h.server.user(6006, first_name="Zed")
    await enrol(h, zed, "P-TXT5")
    await h.press(zed, "English")  # a time zone is being asked for
    text = "word " * 800
    await h.send(zed, text)
    assert "group chat is told that you wrote" in last(zed).text
    assert "word word" not in last(zed).text
    stored = await h.rows(select(PatientMessage.body))
    assert stored == [text[:4096]]


@pytest.fixture(name="sharing")
async def fx_sharing(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    cohorts = tuple(
        replace_cohort(c, share_text_with_group=True, team_hours="Mon-Fri 9:00-17:00")
        for c in config.cohorts
    )
    harness = Harness(server, db_url, replace(config, cohorts=cohorts), clock)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


def replace_cohort(cohort: Any, **changes: Any) -> Any:
    return cohort.model_copy(update=changes)


async def test_a_cohort_that_shares_text_sees_it_and_the_hours_are_said(sharing: Harness) -> None:
    h = sharing
    ola = h.server.user(6007, first_name="Ola")
    await enrol(h, ola, "P-TXT6")
    await h.send(ola, "running late for my <b>visit</b>")
    assert "Mon-Fri 9:00-17:00" in last(ola).text
    notice = h.server.group(GROUP_A).messages[-1]
    assert "running late for my <b>visit</b>" in notice.text  # escaped, shown as typed
