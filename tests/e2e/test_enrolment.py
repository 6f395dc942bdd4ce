"""Enrolment edge cases: no code, bad codes, used and expired invites, decline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import AuditEvent, Invite, Patient
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness


async def _invites(h: Harness) -> list[tuple[str, str, int | None]]:
    rows = await h.rows(select(Invite.label, Invite.status, Invite.claimed_by_user_id))
    return sorted(rows)


async def test_start_without_a_code_explains_and_stores_nothing(harness: Harness) -> None:
    h = harness
    stranger = h.server.user(2001, first_name="Stranger")
    await h.send(stranger, "/start")
    assert "personal invite link" in last(stranger).text
    assert await h.count(Patient) == 0
    assert await h.count(Invite) == 0


async def test_malformed_and_unknown_codes_are_refused(harness: Harness) -> None:
    h = harness
    await h.runtime.services.enrolment.create_invite("clinic-a", "P-0001", "test")
    before = await _invites(h)
    user = h.server.user(2002, first_name="Mallory")
    for payload in ["abc$%^", "x" * 65, "a b c", "AAAAAAAAAAAAAAAAAAAAAA", "../../etc"]:
        await h.send(user, f"/start {payload}")
        assert "not valid" in last(user).text, payload
    assert await h.count(Patient) == 0
    assert await _invites(h) == before


async def test_a_used_code_is_refused(harness: Harness) -> None:
    h = harness
    link = await h.runtime.services.enrolment.create_invite("clinic-a", "P-0002", "test")
    first = h.server.user(2003, first_name="First")
    await h.send(first, f"/start {link.code}")
    await h.press(first, "I agree")
    second = h.server.user(2004, first_name="Second")
    await h.send(second, f"/start {link.code}")
    assert "already been used" in last(second).text
    assert await h.count(Patient) == 1
    assert await h.count(Patient, Patient.telegram_user_id == 2004) == 0


async def test_a_code_claimed_by_someone_else_cannot_be_taken_over(harness: Harness) -> None:
    h = harness
    link = await h.runtime.services.enrolment.create_invite("clinic-a", "P-0003", "test")
    owner = h.server.user(2005, first_name="Owner")
    thief = h.server.user(2006, first_name="Thief")
    await h.send(owner, f"/start {link.code}")
    await h.send(thief, f"/start {link.code}")
    assert "already been used" in last(thief).text
    invite_id = await h.scalar(select(Invite.id))
    await h.press_data(thief, last(thief).message_id, f"c|{invite_id}|y")
    assert await h.count(Patient) == 0
    await h.press(owner, "I agree")
    assert await h.count(Patient, Patient.telegram_user_id == 2005) == 1


async def test_an_expired_code_is_refused(harness: Harness) -> None:
    h = harness
    link = await h.runtime.services.enrolment.create_invite("clinic-b", "P-0004", "test")
    await h.advance(timedelta(days=2, seconds=1))  # clinic-b invites last two days
    user = h.server.user(2007, first_name="Late")
    await h.send(user, f"/start {link.code}")
    assert "expired" in last(user).text
    assert await h.count(Patient) == 0


async def test_decline_keeps_only_the_fact_of_declining(harness: Harness) -> None:
    h = harness
    link = await h.runtime.services.enrolment.create_invite("clinic-a", "P-0005", "test")
    user = h.server.user(2008, first_name="Nope")
    await h.send(user, f"/start {link.code}")
    await h.press(user, "No, thanks")
    assert "Nothing has been stored" in last(user).text
    assert await _invites(h) == [("P-0005", "declined", None)]
    assert await h.count(Patient) == 0
    actions = [e.action for e in await h.rows(select(AuditEvent))]
    assert "invite_declined" in actions
    # The declined invite cannot be used afterwards.
    await h.send(user, f"/start {link.code}")
    assert "already been used" in last(user).text


async def test_an_enrolled_patient_restarting_is_told_so(harness: Harness) -> None:
    h = harness
    user = h.server.user(2009, first_name="Again")
    await enrol(h, user, "P-0006")
    await h.send(user, "/start")
    assert "already enrolled" in last(user).text


async def test_checkin_before_enrolment(harness: Harness) -> None:
    h = harness
    user = h.server.user(2010, first_name="Eager")
    await h.send(user, "/checkin")
    assert "not enrolled" in last(user).text
