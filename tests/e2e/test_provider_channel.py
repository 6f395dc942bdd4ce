"""Provider channel health (issue 13, item 4): the provider group moves to a supergroup, the
bot is not in it at start-up, or the bot is removed from it while alerts are raised.

Every path runs through the real stack: the sandbox answers ChatMigrated, 403 and 400 as
Telegram does and sends the service messages and ``my_chat_member`` updates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.transport.channel import GroupCheckError
from storage.models import Alert, AuditEvent, Cohort, OnCallProvider, OutboxMessage
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import CALM_DAY, HARD_DAY, answer_all, enrol, last
from tests.support.harness import Harness

CRISIS_TEXT = "honestly I just want to END   my life..."


async def _audits(h: Harness, action: str) -> list[AuditEvent]:
    return await h.rows(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )


async def _cohort(h: Harness, name: str = "clinic-a") -> Cohort:
    cohort = await h.scalar(select(Cohort).where(Cohort.name == name))
    assert cohort is not None
    return cohort


def _track(h: Harness, update_id: int | None) -> None:
    assert update_id is not None  # the sandbox queued a my_chat_member update
    h.track(update_id)


def _texts(who: Any) -> list[str]:
    return [m.text for m in who.messages]


async def _dead_letter(h: Harness, chat_id: int, text: str) -> None:
    """A message an earlier version gave up on when the group moved ("chat migrated")."""
    now = h.clock.now()
    await h.execute(
        insert(OutboxMessage).values(
            chat_id=chat_id,
            method="sendMessage",
            payload={"chat_id": chat_id, "text": text, "parse_mode": "HTML"},
            priority=2,
            status="dead",
            attempts=1,
            next_attempt_at=now,
            created_at=now,
            last_error="chat migrated",
        )
    )


# --- migration ------------------------------------------------------------------------------


async def test_a_group_that_moves_mid_alert_is_followed(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    kai = h.server.user(7001, first_name="Kai")
    await enrol(h, kai, "P-MIG1")
    await _dead_letter(h, GROUP_A, "Kept from before the move")
    # Telegram moves the group; the bot hears nothing until it next posts there.
    supergroup = group.migrate(notify=False)
    before = len(group.messages)
    await h.send(kai, CRISIS_TEXT)

    # The IMMEDIATE alert reached the team in the new supergroup, with the dead letter.
    texts = _texts(supergroup)
    assert any("IMMEDIATE" in t and "P-MIG1" in t for t in texts)
    assert "Kept from before the move" in texts
    assert len(group.messages) == before  # nothing more in the old chat
    cohort = await _cohort(h)
    assert (cohort.provider_chat_id, cohort.configured_chat_id) == (supergroup.chat_id, GROUP_A)
    [moved] = await _audits(h, "provider_group_migrated")
    assert moved.cohort_id == cohort.id
    assert moved.details == {
        "from_chat_id": GROUP_A,
        "to_chat_id": supergroup.chat_id,
        "source": "send",
    }
    stuck = await h.count(
        OutboxMessage, OutboxMessage.chat_id == GROUP_A, OutboxMessage.status != "sent"
    )
    assert stuck == 0

    # The new group is the provider group: commands and buttons work there ...
    nurse = supergroup.member(9001, first_name="Nurse")
    await h.send(nurse, "/alerts")
    assert "P-MIG1" in last(nurse).text
    await h.press(nurse, "Acknowledge")
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.status == "acknowledged"

    # ... and the configured id stays the starting point: a restart with the same file
    # keeps the group where it is now (and the start-up check passes there).
    await h.stop_bot()
    await h.start_bot()
    assert (await _cohort(h)).provider_chat_id == supergroup.chat_id
    await h.send(nurse, "/help")
    assert "/oncall" in last(nurse).text
    assert len(await _audits(h, "provider_group_migrated")) == 1


async def test_the_service_message_moves_what_waits(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    supergroup = group.migrate()  # with migrate_to_chat_id / migrate_from_chat_id messages
    await h.settle()
    await h.server.wait_for(lambda: h.server.unconfirmed_update_count() == 0)
    await h.settle()
    cohort = await _cohort(h)
    assert cohort.provider_chat_id == supergroup.chat_id
    [moved] = await _audits(h, "provider_group_migrated")
    assert moved.details["source"] == "service message"
    nurse = supergroup.member(9001, first_name="Nurse")
    await h.send(nurse, "/alerts")
    assert last(nurse).chat_id == supergroup.chat_id
    # The old group's id no longer counts as a provider group once Telegram has moved it.
    assert len(group.messages) == 0


async def test_start_follows_a_group_that_moved_while_the_bot_was_down(harness: Harness) -> None:
    h = harness
    await h.stop_bot()
    supergroup = h.server.group(GROUP_B).migrate(notify=False)
    await h.start_bot()
    cohort = await _cohort(h, "clinic-b")
    assert (cohort.provider_chat_id, cohort.configured_chat_id) == (supergroup.chat_id, GROUP_B)
    [moved] = await _audits(h, "provider_group_migrated")
    assert moved.details["source"] == "startup"


# --- start-up check -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        (lambda g: g.remove_bot(notify=False), "bot was kicked from the group chat"),
        (lambda g: g.remove_bot(kicked=False, notify=False), "not a member"),
        (lambda g: g.restrict_bot(notify=False), "restricted: may not send messages"),
    ],
    ids=["kicked", "left", "restricted"],
)
async def test_the_bot_does_not_start_without_a_group_it_can_post_in(
    server: FakeBotApi,
    db_url: str,
    config: AppConfig,
    clock: ManualClock,
    case: tuple[Any, str],
) -> None:
    change, reason = case
    h = Harness(server, db_url, config, clock)
    h.add_groups()
    change(server.group(GROUP_B))
    try:
        with pytest.raises(GroupCheckError) as raised:
            await h.start_bot()
        message = str(raised.value)
        assert "\n" not in message
        assert "cohort 'clinic-b'" in message and str(GROUP_B) in message
        assert reason in message
    finally:
        await h.close()
    # Nothing was posted anywhere: the bot stopped before updates or deliveries began.
    assert not [r for r in server.requests if r.method == "sendMessage"]


async def test_the_bot_does_not_start_for_a_group_that_does_not_exist(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> None:
    h = Harness(server, db_url, config, clock)
    for cohort in config.cohorts[:-1]:
        server.group(cohort.provider_chat_id)
    try:
        with pytest.raises(GroupCheckError, match=r"(?i)chat not found"):
            await h.start_bot(add_groups=False)
    finally:
        await h.close()


# --- the group lost and found again ---------------------------------------------------------


@pytest.fixture(name="hooked")
async def fx_hooked(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    """The bot with its web server (webhook mode), so that /healthz and /metrics are real."""
    harness = Harness(server, db_url, config, clock, webhook=True)
    await harness.start_bot()
    yield harness
    await harness.close()


async def _get(h: Harness, path: str) -> tuple[int, str]:
    web = h.runtime.web
    assert web is not None
    url = f"http://127.0.0.1:{web.port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _reachable_gauge(h: Harness) -> dict[str, float]:
    status, body = await _get(h, "/metrics")
    assert status == 200
    return {
        sample.labels["cohort"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "moodcheck_provider_group_reachable"
    }


async def _register_on_call(h: Harness) -> Any:
    """Nurse goes on call in clinic A's group; Doc, who blocked the bot, cannot."""
    group = h.server.group(GROUP_A)
    nurse = group.member(9001, first_name="Nurse")
    await h.send(nurse, "/oncall")
    assert "Nurse is now on call for clinic-a" in last(nurse).text
    nurse_private = h.server.user(9001)
    assert "You are on call for clinic-a" in last(nurse_private).text
    # A colleague who never opened (or blocked) the bot's private chat is told what to do.
    doc = group.member(9002, first_name="Doc")
    h.server.user(9002).block_bot()
    await h.send(doc, "/oncall")
    assert "cannot write to you privately yet" in last(doc).text
    on_call = await h.rows(select(OnCallProvider.telegram_user_id))
    assert on_call == [9001]
    assert [a.details for a in await _audits(h, "oncall_registered")] == [{"chat_id": GROUP_A}]
    assert await _reachable_gauge(h) == {
        "clinic-a": 1,
        "clinic-b": 1,
        "clinic-c": 1,
        "clinic-d": 1,
    }
    assert (await _get(h, "/healthz"))[0] == 200
    return nurse


async def test_a_removed_bot_keeps_alerts_and_pages_the_on_call_provider(hooked: Harness) -> None:
    h = hooked
    group = h.server.group(GROUP_A)
    nurse = await _register_on_call(h)
    nurse_private = h.server.user(9001)
    kai = h.server.user(7002, first_name="Kai")
    await enrol(h, kai, "P-GONE")
    in_group = len(group.messages)
    _track(h, group.remove_bot())  # an admin removes the bot: a my_chat_member update
    await h.settle()
    await h.send(kai, CRISIS_TEXT)

    # The crisis card went to the patient; the IMMEDIATE alert to the on-call provider.
    assert "If you are in danger right now" in kai.messages[-2].text
    private = _texts(nurse_private)
    assert any("cannot post in the provider group of clinic-a" in t for t in private)
    assert any("IMMEDIATE" in t and "P-GONE" in t for t in private)
    assert nurse_private.messages[-1].reply_markup is None  # acknowledged in the group
    assert len(group.messages) == in_group
    assert _texts(h.server.user(9002)) == []  # not on call: not paged
    kept = await h.count(
        OutboxMessage, OutboxMessage.chat_id == GROUP_A, OutboxMessage.status == "pending"
    )
    assert kept >= 1
    assert await h.count(OutboxMessage, OutboxMessage.status == "cancelled") == 0
    status, body = await _get(h, "/healthz")
    assert status == 503 and "provider group unreachable: clinic-a" in body
    assert (await _reachable_gauge(h))["clinic-a"] == 0
    [lost] = await _audits(h, "provider_group_unreachable")
    assert lost.details["chat_id"] == GROUP_A

    # Added back: the group is posted to again, the kept alert first among what waited.
    _track(h, group.add_bot_back())
    await h.settle()
    posted = _texts(group)[in_group:]
    assert any("IMMEDIATE" in t and "P-GONE" in t for t in posted)
    assert any("can post in this group again" in t for t in posted)
    assert (await _get(h, "/healthz"))[0] == 200
    assert (await _reachable_gauge(h))["clinic-a"] == 1
    [back] = await _audits(h, "provider_group_reachable_again")
    assert back.details["source"] == "my_chat_member"
    # The alert's buttons work in the group again.
    await h.press(nurse, "Acknowledge")
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.status == "acknowledged"
    # Relayed once only, however often the kept message was tried.
    relayed = [t for t in _texts(nurse_private) if "P-GONE" in t]
    assert len(relayed) == 1


async def test_a_silent_removal_is_found_by_the_send_and_the_probe(hooked: Harness) -> None:
    h = hooked
    group = h.server.group(GROUP_A)
    nurse = group.member(9001, first_name="Nurse")
    await h.send(nurse, "/oncall")
    group.restrict_bot(notify=False)  # no my_chat_member: the bot learns it by posting
    kai = h.server.user(7003, first_name="Kai")
    await enrol(h, kai, "P-QUIET")
    await h.send(kai, CRISIS_TEXT)
    assert any("P-QUIET" in t for t in _texts(h.server.user(9001)))
    cohort = await _cohort(h)
    assert cohort.group_unreachable_since is not None
    assert "not enough rights" in (cohort.group_unreachable_reason or "").lower()
    assert (await _get(h, "/healthz"))[0] == 503

    # Still restricted: the probe says so and changes nothing.
    access = h.runtime.group_access
    assert access is not None
    assert await access.probe() == 0
    group.add_bot_back(notify=False)
    assert await access.probe() == 1
    await h.settle()
    assert any("P-QUIET" in t for t in _texts(group))
    assert (await _get(h, "/healthz"))[0] == 200

    # /oncall off takes the provider off call.
    await h.send(nurse, "/oncall off")
    assert "no longer on call" in last(nurse).text
    assert await h.count(OnCallProvider) == 0


async def test_oncall_counts_only_in_a_provider_group(harness: Harness) -> None:
    h = harness
    stranger_group = h.server.group(-100999, title="Somewhere else")
    someone = stranger_group.member(9100, first_name="Someone")
    await h.send(someone, "/oncall")
    assert "work only in a clinic's provider group" in last(someone).text
    assert await h.count(OnCallProvider) == 0


async def test_urgent_alerts_are_relayed_and_routine_notices_wait(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nurse = group.member(9001, first_name="Nurse")
    await h.send(nurse, "/oncall")
    nurse_private = h.server.user(9001)
    cy = h.server.user(7004, first_name="Cy")
    await enrol(h, cy, "P-URG1")
    _track(h, group.remove_bot(kicked=False))
    await h.settle()
    in_private = len(nurse_private.messages)
    # A note for the team (a NOTICE, not an alert): held for the group, not relayed.
    await h.send(cy, "Could someone call me about my appointment?")
    assert len(nurse_private.messages) == in_private
    # The safety question answered yes: an URGENT alert, relayed.
    await h.send(cy, "/checkin")
    await answer_all(h, cy, {**HARD_DAY, "safety_now": "No"})
    relayed = _texts(nurse_private)[in_private:]
    assert any("cannot post in the provider group" in t for t in relayed)
    assert any("URGENT" in t and "P-URG1" in t for t in relayed)
    assert not any("appointment" in t for t in relayed)
    held = await h.rows(
        select(OutboxMessage.priority).where(
            OutboxMessage.chat_id == GROUP_A, OutboxMessage.status == "pending"
        )
    )
    assert sorted(held) == [1, 2]  # the URGENT alert and the note, both kept for the group
    _track(h, group.add_bot_back())
    await h.settle()
    posted = _texts(group)
    assert any("URGENT" in t and "P-URG1" in t for t in posted)
    assert any("P-URG1" in t and "URGENT" not in t for t in posted)  # the note, too


async def test_the_card_does_not_say_the_team_knows_while_the_group_is_lost(
    hooked: Harness,
) -> None:
    """With no on-call provider and the group lost, nobody reads the alert now: the card
    and the end of the check-in must not say the care team has been notified."""
    h = hooked
    group = h.server.group(GROUP_A)
    kai = h.server.user(7012, first_name="Kai")
    await enrol(h, kai, "P-LOST")
    _track(h, group.remove_bot())
    await h.settle()
    await h.send(kai, CRISIS_TEXT)
    card = next(t for t in reversed(_texts(kai)) if "If you are in danger right now" in t)
    assert "has been notified" not in card and "has been sent an alert" not in card
    await h.send(kai, "/checkin")
    await answer_all(h, kai, {**CALM_DAY, "safety": "Yes", "safety_now": "No"})
    assert all("has been notified" not in t for t in _texts(kai))


async def test_stop_and_delete_do_not_say_the_team_was_told_while_the_group_is_lost(
    hooked: Harness,
) -> None:
    """/stop and /delete tell the patient the care team "is being notified" only when the bot
    can post in the group; while it cannot, they say the team will be told, and the notices
    wait and reach the group once the bot is back."""
    h = hooked
    group = h.server.group(GROUP_A)
    ava = h.server.user(7021, first_name="Ava")
    ben = h.server.user(7022, first_name="Ben")
    await enrol(h, ava, "P-STP1")
    await enrol(h, ben, "P-DEL1")
    _track(h, group.remove_bot())
    await h.settle()
    in_group = len(group.messages)

    await h.send(ava, "/stop")
    await h.press(ava, "Yes, stop")
    stopped = last(ava).text
    assert "stopped taking part" in stopped
    assert "being notified" not in stopped and "will be told as soon as" in stopped
    await h.send(ben, "/delete")
    await h.press(ben, "Yes, erase my data")
    await h.press(ben, "Erase everything now")
    erased = last(ben).text
    assert "has been erased" in erased
    assert "being notified" not in erased and "will be told as soon as" in erased
    assert len(group.messages) == in_group  # nothing reached the group

    _track(h, group.add_bot_back())
    await h.settle()
    posted = _texts(group)[in_group:]
    assert any("P-STP1" in t for t in posted)
    assert any("P-DEL1" in t for t in posted)


async def test_stop_says_the_team_was_told_when_the_group_is_there(harness: Harness) -> None:
    h = harness
    cy = h.server.user(7023, first_name="Cy")
    await enrol(h, cy, "P-STP2")
    await h.send(cy, "/stop")
    await h.press(cy, "Yes, stop")
    assert "your care team is being notified" in last(cy).text
    assert any("P-STP2" in t for t in _texts(h.server.group(GROUP_A)))
