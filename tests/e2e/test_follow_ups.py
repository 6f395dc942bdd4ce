"""The follow-up checklist on alerts (issue 19 item 5) and the digest's completeness (issue 18
item 3): the buttons ride on the acknowledged alert's redraw, each tap is recorded with who
and when, an event resolved with none is flagged in the digest; the digest shows the PCL-5
where the cohort asks it, each result's date, and the outcomes once a month."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select

from storage.models import AlertFollowUp, AuditEvent, Checkin, OutboxMessage
from storage.models import Answer as AnswerRow
from tests.e2e.conftest import GROUP_A, GROUP_D
from tests.e2e.flows import FOLLOW_UPS, enrol, message
from tests.support.harness import Harness

REFUSED = "This button is not valid for you."


async def _immediate(h: Harness, user: object, label: str) -> int:
    """A patient writes crisis words; return the group message of the IMMEDIATE alert."""
    await enrol(h, user, label)
    await h.send(user, "I want to end my life")
    group = h.server.group(GROUP_A)
    return next(m.message_id for m in group.messages if "IMMEDIATE" in m.text and label in m.text)


async def test_follow_up_actions_are_offered_recorded_and_flagged_in_the_digest(
    harness: Harness,
) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora")
    ivy, kai = h.server.user(7101, first_name="Ivy"), h.server.user(7102, first_name="Kai")
    first = await _immediate(h, ivy, "P-FU01")
    second = await _immediate(h, kai, "P-FU02")
    assert message(group, first).labels == ["Acknowledge", "Resolve"]  # not before the ack
    sent = len(group.messages)

    await h.press(nora, "Acknowledge", message_id=first)
    assert message(group, first).labels == ["Resolve", *FOLLOW_UPS]
    await h.press(nora, "Patient reached", message_id=first)
    assert group.callback_answers[-1].text == (
        "Recorded: Patient reached. The group message shows it."
    )
    assert message(group, first).labels == [
        "Resolve",
        "✓ Patient reached",
        *FOLLOW_UPS[1:],
    ]
    rows = await h.rows(select(AlertFollowUp))
    assert [(r.action, r.by_user_id, r.at) for r in rows] == [("reached", 2001, h.clock.now())]
    audit = await h.rows(select(AuditEvent).where(AuditEvent.action == "alert_follow_up"))
    assert [(a.actor, a.details["follow_up"]) for a in audit] == [("provider:2001", "reached")]
    # The same action again records nothing more; an action the cohort does not offer, or
    # one on an event not yet acknowledged, is refused.
    await h.press(nora, "✓ Patient reached", message_id=first)
    assert group.callback_answers[-1].text == "Already done: nothing changed."
    await h.press_data(nora, first, f"f|{rows[0].head_id}|not_offered")
    assert group.callback_answers[-1].text == REFUSED
    second_head = await h.scalar(
        select(OutboxMessage.ref_id).where(OutboxMessage.telegram_message_id == second)
    )
    await h.press_data(nora, second, f"f|{second_head}|reached")
    assert group.callback_answers[-1].text == REFUSED
    assert await h.count(AlertFollowUp) == 1
    # No message of its own: the buttons and ticks ride on the alert's redraw.
    assert len(group.messages) == sent

    await h.press(nora, "Resolve", message_id=first)
    await h.press(nora, "Acknowledge", message_id=second)
    await h.press(nora, "Resolve", message_id=second)  # with no follow-up recorded

    await h.advance(timedelta(days=1))
    await h.send(nora, "/digest")
    digest = next(m for m in reversed(group.messages) if "Weekly digest" in m.text)
    flagged = digest.text.split("Resolved with no follow-up action recorded")[1]
    assert "P-FU02 · Crisis words in a message from the patient" in flagged
    assert "P-FU01" not in flagged


async def _pcl5_patient(h: Harness, answered: date) -> None:
    """A clinic-d patient with a PCL-5 (total 30) answered on ``answered``."""
    patient = await enrol(h, h.server.user(7201, first_name="Lou"), "P-PCL1", "clinic-d")
    at = datetime.combine(answered, time(15), tzinfo=UTC)
    async with h._sessions() as session:  # a test's setup, like test_digest's
        checkin_id = await session.scalar(
            insert(Checkin)
            .values(
                patient_id=patient.id,
                local_date=answered,
                timezone="UTC",
                questionnaire="pcl5",
                status="completed",
                item=None,
                opened_at=at,
                closes_at=at,
                completed_at=at,
                version=0,
            )
            .returning(Checkin.id)
        )
        scores = [2] * 10 + [1] * 10
        await session.execute(
            insert(AnswerRow),
            [
                {"checkin_id": checkin_id, "item_id": f"pcl5_{n}", "value": str(v)}
                | {"answered_at": at}
                for n, v in enumerate(scores, 1)
            ],
        )
        await session.commit()


async def test_digest_shows_the_pcl5_with_its_date_and_the_outcomes_monthly(
    harness: Harness,
) -> None:
    h = harness
    # Monday 2 February 2026: the month's first digest carries the outcomes.
    h.clock.set(datetime(2026, 2, 2, 9, 0, tzinfo=UTC))
    await _pcl5_patient(h, date(2026, 1, 20))
    group = h.server.group(GROUP_D)
    before = len(group.messages)
    assert (await h.runtime.services.digest.send_now("clinic-d", request_key="feb")).value == (
        "queued"
    )
    await h.settle()
    new = group.messages[before:]
    assert "Weekly digest" in new[0].text
    # The year to the period's last day (Sunday 1 February).
    assert "Outcomes · clinic-d · 2025-02-01 to 2026-02-01" in new[1].text
    page = next(m for m in new if m.filename and m.filename.endswith(".html"))
    assert page.document is not None
    html = page.document.decode()
    assert "<th>PCL-5</th>" in html and "answered 2026-01-20" in html
    table = next(m for m in new if m.filename and m.filename.endswith(".csv"))
    assert table.document is not None
    assert "2026-01-20,30," in table.document.decode()

    # Monday 9 February: not the month's first digest, no outcomes.
    h.clock.set(datetime(2026, 2, 9, 9, 0, tzinfo=UTC))
    before = len(group.messages)
    await h.runtime.services.digest.send_now("clinic-d", request_key="feb-9")
    await h.settle()
    texts = [m.text for m in group.messages[before:] if m.kind == "text"]
    assert len(texts) == 1 and "Weekly digest" in texts[0]


async def test_a_cohort_without_the_pcl5_has_no_pcl5_column(harness: Harness) -> None:
    h = harness
    await enrol(h, h.server.user(7301, first_name="Ana"), "P-NOPCL")
    group = h.server.group(GROUP_A)
    await h.runtime.services.digest.send_now("clinic-a", request_key="x")
    await h.settle()
    page = next(m for m in reversed(group.messages) if m.filename and m.filename.endswith(".html"))
    assert page.document is not None and "PCL-5</th>" not in page.document.decode()
