"""Long text to the group, and messages Telegram refuses for their content (issue 13, item 6).

A patient may send Telegram's whole 4,096 characters; a cohort that shares text with the
group then needs more than 4,096 for the notice (the label and time around it). The group
gets it cut, with a visible marker. A message Telegram refuses for its content anyway (too
long, bad markup) is dead-lettered at once, counted in ``/metrics`` and logged in one line
without the message's text: never retried forever, never silent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.domain.message_text import utf16_len
from bot.ops.metrics import Metrics
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import BotMessage
from bot.services.outbox import Priority, queue_send
from storage.models import OutboxMessage, PatientMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol
from tests.support.harness import Harness


def _metrics(h: Harness) -> Metrics:
    metrics = h.runtime.metrics
    assert metrics is not None
    return metrics


SECRET = "Zq9-private-words"
"""Stands for what a patient wrote: it must never reach a log line."""


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


def _group_texts(h: Harness) -> list[str]:
    return [m.text for m in h.server.group(GROUP_A).messages if isinstance(m, BotMessage)]


async def test_a_patients_longest_text_reaches_the_group_cut_with_a_marker(
    sharing: Harness,
) -> None:
    h = sharing
    ola = h.server.user(6107, first_name="Ola")
    await enrol(h, ola, "P-LONG1")
    # Telegram's longest text, with characters that grow in HTML (<, &) and in UTF-16
    # (an emoji is two code units): 4,096 code units in all.
    text = ("a<b & c 😀 " * 400)[:3700]
    text += "x" * (4096 - utf16_len(text))
    assert utf16_len(text) == 4096
    await h.send(ola, text)
    notice = _group_texts(h)[-1]
    assert notice.startswith("✉️ P-LONG1 sent a message")
    assert utf16_len(notice) <= 4096
    shown, marker = notice.rsplit("\n", 1)
    assert marker.startswith("[… ") and marker.endswith(
        "more characters not shown: Telegram allows 4,096 in one message]"
    )
    cut = int(marker.split()[1])
    assert cut < 150  # only what does not fit beside the label, the time and the marker
    assert utf16_len(notice) > 4000
    body = shown.split("\n\n", 1)[1]
    assert text.startswith(body) and len(body) + cut == len(text)
    # The whole text is kept, and nothing was refused or retried.
    assert await h.rows(select(PatientMessage.body)) == [text]
    assert await h.count(OutboxMessage, OutboxMessage.status != "sent") == 0

    # A short text is not cut and shows no marker.
    await h.send(ola, "see you on Monday")
    assert _group_texts(h)[-1].endswith("see you on Monday")


async def test_a_message_refused_for_its_content_is_dead_lettered_and_counted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    # Two messages no retry can help: markup Telegram cannot parse, and a text over the
    # limit (as a template mistake could make them); then one that is fine.
    now = h.clock.now()
    async with h.runtime.services.runtime.uow() as uow:
        for text in (f"<b>{SECRET}", SECRET + "y" * 5000, "all fine"):
            await queue_send(uow, now=now, chat_id=GROUP_A, priority=Priority.NOTICE, text=text)
        await uow.commit()
    with caplog.at_level(logging.INFO):
        h.runtime.worker.wake()
        await h.settle()

    rows = await h.rows(
        select(OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.id)
    )
    assert rows == [("dead", 1), ("dead", 1), ("sent", 0)]
    assert _group_texts(h) == ["all fine"]  # the chat's later messages were not held up
    # Tried once each: the sandbox saw two refused sendMessage calls, no more.
    refused = [r for r in h.server.requests if r.method == "sendMessage" and r.status == 400]
    assert len(refused) == 2
    problems = [v.problem.split(":")[0] for v in h.server.violations]
    assert problems == ["can't parse entities", "message is too long"]
    h.server.violations.clear()  # made on purpose: the fixture checks there are no others

    scrape = (await _metrics(h).scrape()).decode()
    assert 'moodcheck_messages_rejected_total{chat="group",reason="bad_markup"} 1.0' in scrape
    assert 'moodcheck_messages_rejected_total{chat="group",reason="too_long"} 1.0' in scrape
    assert 'moodcheck_messages_rejected_total{chat="private",reason="too_long"} 0.0' in scrape
    assert "moodcheck_messages_dead_total 2.0" in scrape

    lines = [r for r in caplog.records if "refused by Telegram" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.ERROR]
    assert not any(SECRET in r.getMessage() for r in caplog.records)
