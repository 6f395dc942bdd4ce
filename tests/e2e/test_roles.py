"""Roles in a provider group, through the real stack: the clinician commands (invite, pause,
resume, discharge, export in any format, messages) go ahead for the group's administrators
(asked with getChatMember, remembered 60 s) or the cohort's listed clinicians; a plain
member, someone who left and a stranger are refused with the reason, and every refusal is
audited. Everyone may acknowledge alerts and use the open commands, even while Telegram
cannot be asked; a clinician command then fails closed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from bot.domain.roles import CLINICIAN_ACTIONS, TEAM_MESSAGE
from bot.sandbox.server import FakeBotApi
from storage.models import Alert, AuditEvent, Invite, OutboxMessage, Patient
from tests.conftest import CONFIG
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import TO_SIDE_EFFECTS, answer_day, enrol, last
from tests.support.harness import Harness

LISTED = 9501
NOT_ADMIN = "Only this group's administrators can use"
NOT_LISTED = "Only the clinicians this cohort lists can use"
UNKNOWN = "I could not ask Telegram whether you are an administrator"
RED_FLAG = "Chest pain, trouble breathing, fainting, seizure or sudden severe headache"
# Every clinician command with its arguments (the patient P-ROL1 exists in clinic-a).
CLINICIAN_COMMANDS = [
    "/invite P-NEW9",
    "/pause P-ROL1 3",
    "/resume P-ROL1",
    "/discharge P-ROL1",
    "/export",
    "/export fhir",
    "/messages P-ROL1",
    "/dosing P-ROL1 mon,thu 19:00",
    "/course P-ROL1 start",
    "/optional P-ROL1 bp on",
]
# Writing to a patient (a reply to a group message) is tested in test_team_messages.py.


@pytest.fixture(name="config")
def fx_config(tmp_path: Path) -> AppConfig:
    """clinic-b lists its clinicians; the other cohorts go by the group's administrators."""
    text = CONFIG.replace(
        "provider_chat_id = -100222\n", f"provider_chat_id = -100222\nclinicians = [{LISTED}]\n"
    )
    path = tmp_path / "moodcheck.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _member_lookups(server: FakeBotApi, user_id: int) -> int:
    return sum(
        1
        for r in server.requests
        if r.method == "getChatMember" and r.params.get("user_id") == user_id
    )


async def _refusals(h: Harness) -> list[tuple[str, str, str]]:
    rows = await h.rows(
        select(AuditEvent)
        .where(AuditEvent.action == "provider_command_refused")
        .order_by(AuditEvent.id)
    )
    return [(e.actor, e.details["command"], e.details["reason"]) for e in rows]


async def _state(h: Harness) -> tuple[Any, ...]:
    patient = await h.scalar(select(Patient).where(Patient.label == "P-ROL1"))
    assert patient is not None
    return (
        patient.status,
        patient.paused_until,
        await h.count(Invite),
        await h.count(OutboxMessage, OutboxMessage.method == "sendDocument"),
    )


async def test_a_plain_member_is_refused_clinician_commands_only(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    alice = h.server.user(5101, first_name="Alice")
    await enrol(h, alice, "P-ROL1")
    pat = group.member(9401, first_name="Pat")
    before = await _state(h)
    for command in CLINICIAN_COMMANDS:
        await h.send(pat, command)
        reply = last(group).text
        assert NOT_ADMIN in reply and f"/{command.split()[0][1:]}" in reply, command
        assert "Nothing was done" in reply
    assert await _state(h) == before  # nothing changed, nothing exported, no invite
    names = [c.split()[0][1:] for c in CLINICIAN_COMMANDS]
    assert set(names) == CLINICIAN_ACTIONS - {TEAM_MESSAGE}  # every restricted command tried
    assert await _refusals(h) == [("provider:9401", name, "not_group_admin") for name in names]
    # The open commands work for a plain member.
    for command, needle in [
        ("/patients", "P-ROL1"),
        ("/patient P-ROL1", "P-ROL1"),
        ("/alerts", "alert"),
        ("/help", "🔒 /export"),
    ]:
        await h.send(pat, command)
        assert needle in last(group).text and NOT_ADMIN not in last(group).text, command
    assert "this group's administrators" in last(group).text  # /help says who
    assert len(await _refusals(h)) == len(names)


async def test_administrators_may_and_a_demotion_counts_within_a_minute(
    harness: Harness,
) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    alice = h.server.user(5101, first_name="Alice")
    await enrol(h, alice, "P-ROL1")
    await h.send(alice, "hello, a note for the team")
    ada = group.member(9403, first_name="Ada", status="administrator")
    owner = group.member(9404, first_name="Olga", status="creator")
    gone = group.member(9402, first_name="Lee", status="left")  # left; an old message
    await h.send(gone, "/export")
    assert NOT_ADMIN in last(group).text
    await h.send(ada, "/export")
    assert await h.count(OutboxMessage, OutboxMessage.method == "sendDocument") == 2
    await h.send(owner, "/messages P-ROL1")
    assert "a note for the team" in last(group).text
    await h.send(ada, "/pause P-ROL1 3")
    assert (await _state(h))[0] == "paused"
    # Asked once per person within 60 s; a demotion counts after that.
    assert _member_lookups(h.server, 9403) == 1
    group.set_status(9403, "member")
    await h.send(ada, "/resume P-ROL1")  # within 60 s: still remembered as an administrator
    assert (await _state(h))[0] == "active"
    assert _member_lookups(h.server, 9403) == 1
    await h.advance(timedelta(seconds=61))
    await h.send(ada, "/pause P-ROL1 3")
    assert NOT_ADMIN in last(group).text
    assert (await _state(h))[0] == "active"
    assert _member_lookups(h.server, 9403) == 2
    # A stranger (no group, private chat) is refused as before, with the reason.
    stranger = h.server.user(9405, first_name="Sam")
    await h.send(stranger, "/export")
    assert "only in a clinic's provider group" in last(stranger).text
    assert await _refusals(h) == [
        ("provider:9402", "export", "not_group_admin"),
        ("provider:9403", "pause", "not_group_admin"),
        ("user:private", "export", "not_a_provider_group"),
    ]


async def test_a_listed_clinician_needs_no_admin_rights(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_B)
    listed = group.member(LISTED, first_name="Dana")  # a plain member, on the cohort's list
    admin = group.member(9502, first_name="Ivo", status="administrator")  # not on it
    await h.send(listed, "/invite P-LIS1")
    assert "https://t.me/moodcheck_test_bot?start=" in last(group).text
    await h.send(admin, "/export")
    assert NOT_LISTED in last(group).text
    await h.send(admin, "/patients")  # open to everyone in the group
    assert NOT_LISTED not in last(group).text
    assert await _refusals(h) == [("provider:9502", "export", "not_listed")]
    # The list decides: Telegram is never asked.
    assert _member_lookups(h.server, LISTED) == _member_lookups(h.server, 9502) == 0


async def test_telegram_unreachable_fails_closed_but_never_blocks_acknowledging(
    harness: Harness,
) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    ben = h.server.user(5102, first_name="Ben")
    await enrol(h, ben, "P-ROL1")
    await h.send(ben, "/checkin")
    await answer_day(h, ben, TO_SIDE_EFFECTS, until="side_effects")
    await h.press(ben, RED_FLAG)
    await h.press(ben, "Done")
    alert_message = last(group)
    assert "IMMEDIATE" in alert_message.text
    ada = group.member(9601, first_name="Ada", status="administrator")
    pat = group.member(9602, first_name="Pat")
    h.server.faults.fail_next("getChatMember", status=502, times=5)
    await h.send(ada, "/discharge P-ROL1")
    assert UNKNOWN in last(group).text and "try again in a minute" in last(group).text
    assert (await _state(h))[0] == "active"
    # Acknowledging asks Telegram nothing and works for any member meanwhile.
    await h.press(pat, "Acknowledge", message_id=alert_message.message_id)
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.status, alert.acknowledged_by) == ("acknowledged", 9602)
    # A failure is not remembered: once Telegram answers, the administrator may.
    h.server.faults.clear()
    await h.send(ada, "/discharge P-ROL1")
    assert (await _state(h))[0] == "discharged"
    assert await _refusals(h) == [("provider:9601", "discharge", "membership_unknown")]
