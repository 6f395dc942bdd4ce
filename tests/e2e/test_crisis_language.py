"""Crisis language end to end: clear, possible and idiom, the quoted phrase, edited messages.

The detector itself is tested on a labelled corpus (tests/unit/test_crisis_corpus.py); here
the whole path: the sandbox Bot API, the bot, the database, the group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from storage.models import Alert, OutboxMessage, PatientMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness

RECEIVED = "This chat cannot answer questions"


def _count(who: object, words: str) -> int:
    return sum(words in m.text for m in who.messages)  # type: ignore[attr-defined]


async def _cards(h: Harness) -> int:
    """Crisis cards queued for patients' messages (sent at the top priority, 0)."""
    return await h.count(
        OutboxMessage,
        OutboxMessage.dedup_key.like("crisis:message:%"),
        OutboxMessage.priority == 0,
    )


async def test_a_possible_statement_is_an_urgent_alert_without_the_card(
    harness: Harness,
) -> None:
    h = harness
    ana = h.server.user(6101, first_name="Ana")
    await enrol(h, ana, "P-CRL1")
    before = len(ana.messages)
    await h.send(ana, "Honestly, I'm not going to kill myself. Just a rough week.")
    new = ana.messages[before:]
    assert len(new) == 1 and RECEIVED in new[0].text  # the routine reply only
    assert await _cards(h) == 0
    alerts = await h.rows(select(Alert))
    assert [(a.rule, a.tier) for a in alerts] == [("crisis_words_possible", "URGENT")]
    assert alerts[0].details == {"kind": "crisis_words", "phrase": "not going to kill myself"}
    group = h.server.group(GROUP_A).messages
    assert len(group) == 1  # the alert is the notice: no "sent a message" besides
    assert "URGENT" in group[0].text and "P-CRL1" in group[0].text
    assert "Possible crisis language" in group[0].text
    assert "“not going to kill myself”" in group[0].text
    assert "Honestly" not in group[0].text and "rough week" not in group[0].text
    assert [m.crisis for m in await h.rows(select(PatientMessage))] == [True]


async def test_an_idiom_takes_the_routine_path(harness: Harness) -> None:
    h = harness
    ben = h.server.user(6102, first_name="Ben")
    await enrol(h, ben, "P-CRL2")
    await h.send(ben, "This job is killing me, and my cat had me dying of laughter")
    assert RECEIVED in last(ben).text
    assert await _cards(h) == 0
    assert await h.count(Alert) == 0
    notice = h.server.group(GROUP_A).messages
    assert len(notice) == 1 and "sent a message" in notice[0].text


async def test_an_idiom_never_hides_a_clear_statement_in_the_same_message(
    harness: Harness,
) -> None:
    h = harness
    eva = h.server.user(6103, first_name="Eva")
    await enrol(h, eva, "P-CRL3")
    await h.send(eva, "Me muero de risa con mi hijo, pero en serio: me quiero matar")
    assert await _cards(h) == 1 and _count(eva, RECEIVED) == 1
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("crisis_words", "IMMEDIATE")
    assert alert.details == {"kind": "crisis_words", "phrase": "me quiero matar"}
    group = h.server.group(GROUP_A).messages
    assert "IMMEDIATE" in group[0].text and "“me quiero matar”" in group[0].text
    assert "risa" not in group[0].text


@pytest.fixture(name="sharing")
async def fx_sharing(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    cohorts = tuple(c.model_copy(update={"share_text_with_group": True}) for c in config.cohorts)
    harness = Harness(server, db_url, replace(config, cohorts=cohorts), clock)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


async def test_a_cohort_that_shares_text_sees_the_whole_message_besides_the_alert(
    sharing: Harness,
) -> None:
    h = sharing
    gus = h.server.user(6104, first_name="Gus")
    await enrol(h, gus, "P-CRL4")
    await h.send(gus, "I took all my pills <b>an hour ago</b>")
    assert "posted in your care team's group chat" in last(gus).text  # true: see below
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.rule == "crisis_words"
    assert alert.details == {"kind": "crisis_words", "phrase": "took all my pills"}
    alert_text, notice = (m.text for m in h.server.group(GROUP_A).messages)
    assert "IMMEDIATE" in alert_text and "“took all my pills”" in alert_text
    assert "an hour ago" not in alert_text  # the alert quotes the matched words only
    assert "I took all my pills <b>an hour ago</b>" in notice  # escaped, shown as typed


async def test_a_message_edited_to_add_crisis_words_gets_the_card_and_the_alert(
    harness: Harness,
) -> None:
    h = harness
    ivo = h.server.user(6105, first_name="Ivo")
    await enrol(h, ivo, "P-CRL5")
    await h.send(ivo, "Had an ok day I guess")
    assert _count(ivo, RECEIVED) == 1 and await h.count(Alert) == 0
    before = len(ivo.messages)
    await h.edit(ivo, "Had an ok day I guess. No. I want to end my life")
    new = ivo.messages[before:]
    assert len(new) == 1 and RECEIVED not in new[0].text  # the card; no second reply
    assert "care team has been notified" in new[0].text and await _cards(h) == 1
    alerts = await h.rows(select(Alert))
    assert [(a.rule, a.tier) for a in alerts] == [("crisis_words", "IMMEDIATE")]
    assert alerts[0].details == {"kind": "crisis_words", "phrase": "want to end my life"}
    stored = await h.rows(select(PatientMessage).order_by(PatientMessage.id))
    assert [(m.body, m.crisis) for m in stored] == [
        ("Had an ok day I guess", False),
        ("Had an ok day I guess. No. I want to end my life", True),
    ]
    group = h.server.group(GROUP_A).messages
    assert "“want to end my life”" in group[-1].text
    # An edit without crisis words (or only an idiom) changes nothing and says nothing.
    counts = len(ivo.messages), len(group)
    await h.edit(ivo, "Had an ok day, this heat is killing me though")
    assert (len(ivo.messages), len(h.server.group(GROUP_A).messages)) == counts
    assert await h.count(PatientMessage) == 2 and await h.count(Alert) == 1


async def test_an_edit_with_a_possible_statement_tells_the_team_only(harness: Harness) -> None:
    h = harness
    liv = h.server.user(6106, first_name="Liv")
    await enrol(h, liv, "P-CRL6")
    await h.send(liv, "Tired today")
    before = len(liv.messages)
    await h.edit(liv, "Tired today. Sometimes I think about death")
    assert len(liv.messages) == before  # no card, no second reply
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("crisis_words_possible", "URGENT")
    assert "“think about death”" in h.server.group(GROUP_A).messages[-1].text


async def test_a_stranger_who_edits_in_crisis_words_gets_the_card_only(
    harness: Harness,
) -> None:
    h = harness
    who = h.server.user(6107, first_name="Who")
    await h.send(who, "hello?")
    before = len(who.messages)
    await h.edit(who, "quiero suicidarme")
    new = who.messages[before:]
    assert len(new) == 1 and "emergency" in new[0].text and "notified" not in new[0].text
    assert "invite" not in new[0].text  # the card only: no second explanation
    assert await h.count(PatientMessage) == 0 and await h.count(Alert) == 0


async def test_a_caption_edited_to_add_crisis_words_alerts_and_is_not_kept(
    harness: Harness,
) -> None:
    h = harness
    mia = h.server.user(6108, first_name="Mia")
    await enrol(h, mia, "P-CRL7")
    chat = mia.chat
    photo = {
        "message_id": chat.take_message_id(),
        "from": mia.user_json,
        "chat": chat.chat_json,
        "date": h.server.state.now_unix(),
        "photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 9, "height": 9}],
        "caption": "my view today",
    }
    h.track(h.server.state.enqueue({"message": photo}))
    await h.settle()
    edited = {**photo, "caption": "my view today. I want to jump off this bridge"}
    edited["edit_date"] = edited["date"]
    h.track(h.server.state.enqueue({"edited_message": edited}))
    await h.settle()
    assert await _cards(h) == 1
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.rule == "crisis_words"
    assert alert.details == {"kind": "crisis_words", "phrase": "jump off this bridge"}
    stored = await h.rows(select(PatientMessage).order_by(PatientMessage.id))
    assert [(m.kind, m.body, m.crisis) for m in stored] == [
        ("photo", None, False),
        ("other", None, True),
    ]
