"""The weekly digest end to end: 30 simulated patients, two weeks of answers, one digest.

The answers are inserted directly (30 x 14 check-ins through taps would test the check-in,
not the digest); the digest is built by the production-built bot, queued in the outbox and
delivered over HTTP to the sandbox group. Its figures are checked against figures computed
here straight from the database.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bot.sandbox.state import BotMessage
from bot.services.digest.digest_chart import png_size
from storage.models import Alert, AuditEvent, Checkin, Cohort, OutboxMessage, Patient
from storage.models import Answer as AnswerRow
from tests.e2e.conftest import GROUP_A
from tests.support.harness import Harness

START = date(2026, 1, 5)  # the week the first digest covers (Mon 5 - Sun 11 January)
PREVIOUS = START - timedelta(days=7)
STATUSES = ["completed"] * 6 + ["partial", "missed", "skipped"]
ANSWERED = {"completed", "partial", "stopped"}


async def _seed(h: Harness, n: int = 30, seed: int = 7) -> dict[str, Any]:  # noqa: PLR0912
    """Insert n (at least 15) patients of clinic-a with two weeks of daily check-ins,
    PHQ-9s and alerts."""
    rnd = random.Random(seed)
    now = h.clock.now()
    cohort_id = await h.scalar(select(Cohort.id).where(Cohort.name == "clinic-a"))
    assert cohort_id is not None
    patients = []
    for i in range(n):
        status = "paused" if i in {3, 4} else "unreachable" if i == 5 else "active"
        status = "withdrawn" if i == 6 else status  # left out of the digest
        patients.append(
            {
                "cohort_id": cohort_id,
                "label": f"P-D{i:03d}",
                "telegram_user_id": 900_000 + i,
                "chat_id": 900_000 + i,
                "status": status,
                "locale": "en",
                "timezone": "America/New_York",
                "checkin_time": "09:00",
                "next_prompt_at": None,
                "consented_at": now - timedelta(days=30),
                "created_at": now - timedelta(days=30),
                "updated_at": now - timedelta(days=30),
            }
        )
    async with h._sessions() as session:  # a test's setup, like an operator's script
        await session.execute(insert(Patient), patients)
        ids = dict(
            (
                await session.execute(
                    select(Patient.label, Patient.id).where(Patient.cohort_id == cohort_id)
                )
            ).all()
        )
        checkins, answers = [], []
        for label, patient_id in ids.items():
            i = int(label[3:])
            for offset in range(14):
                day = PREVIOUS + timedelta(days=offset)
                if i in {3, 4} and day >= START + timedelta(days=4):
                    continue  # paused from Friday: nothing due
                if i == 5 and day >= START:
                    continue  # unreachable this week
                status = rnd.choice(STATUSES)
                if i == 7:  # a patient whose mood fell by more than 2 points
                    status = "completed"
                checkins.append(
                    {
                        "patient_id": patient_id,
                        "local_date": day,
                        "timezone": "America/New_York",
                        "questionnaire": "daily",
                        "status": status,
                        "item": None,
                        "opened_at": now - timedelta(days=30),
                        "closes_at": now - timedelta(days=30),
                        "completed_at": now - timedelta(days=30),
                        "version": 0,
                    }
                )
        await session.execute(insert(Checkin), checkins)
        rows = (
            await session.execute(
                select(Checkin.id, Checkin.patient_id, Checkin.local_date, Checkin.status)
            )
        ).all()
        by_id = {v: k for k, v in ids.items()}
        for checkin_id, patient_id, day, status in rows:
            i = int(by_id[patient_id][3:])
            if status not in {"completed", "partial"}:
                continue
            mood = rnd.randint(0, 10)
            if i == 7:
                mood = 8 if day < START else 3
            answers.append(_answer(checkin_id, "mood", mood, now))
            if status == "completed":
                answers.append(_answer(checkin_id, "anxiety", rnd.randint(0, 10), now))
        # Weekly PHQ-9s (on days without a daily check-in): P-D008 item 9 positive, P-D009
        # moderately severe, P-D010 mild and better than the week before.
        phq9 = {
            8: ([1, 1, 1, 1, 0, 0, 0, 0, 1], [0] * 9),
            9: ([2, 2, 2, 2, 2, 2, 2, 2, 0], [1] * 9),
            10: ([1, 1, 1, 1, 1, 0, 0, 0, 0], [2] * 9),
        }
        for i, (latest, before) in phq9.items():
            for day, items in (
                (PREVIOUS - timedelta(days=1), latest),
                (PREVIOUS - timedelta(days=8), before),
            ):
                weekly_id = await session.scalar(
                    insert(Checkin)
                    .values(
                        patient_id=ids[f"P-D{i:03d}"],
                        local_date=day,
                        timezone="America/New_York",
                        questionnaire="phq9",
                        status="completed",
                        item=None,
                        opened_at=now,
                        closes_at=now,
                        completed_at=now,
                        version=0,
                    )
                    .returning(Checkin.id)
                )
                assert weekly_id is not None
                answers.extend(
                    _answer(weekly_id, f"phq9_{n}", v, now) for n, v in enumerate(items, 1)
                )
        await session.execute(insert(AnswerRow), answers)
        in_week = datetime(2026, 1, 7, 15, 0, tzinfo=UTC)
        alerts = [
            # open URGENT: needs attention
            _alert(cohort_id, ids["P-D011"], "URGENT", "open", in_week, None, None),
            # acknowledged after 20 and 40 minutes, one of them resolved
            _alert(
                cohort_id,
                ids["P-D012"],
                "ROUTINE",
                "acknowledged",
                in_week,
                in_week + timedelta(minutes=20),
                None,
            ),
            _alert(
                cohort_id,
                ids["P-D013"],
                "IMMEDIATE",
                "resolved",
                in_week,
                in_week + timedelta(minutes=40),
                in_week + timedelta(hours=2),
            ),
            # raised the week before, still open: counts as open, not as opened this week
            _alert(
                cohort_id,
                ids["P-D014"],
                "ROUTINE",
                "open",
                in_week - timedelta(days=7),
                None,
                None,
            ),
        ]
        for number, alert in enumerate(alerts):
            alert["dedup_key"] = f"digest-test:{number}"
        await session.execute(insert(Alert), alerts)
        await session.commit()
    return {"ids": ids, "cohort_id": cohort_id}


def _answer(checkin_id: int, item: str, value: int, at: datetime) -> dict[str, Any]:
    return {"checkin_id": checkin_id, "item_id": item, "value": str(value), "answered_at": at}


def _alert(  # noqa: PLR0917 - one alert's columns
    cohort_id: int,
    patient_id: int,
    tier: str,
    status: str,
    created: datetime,
    acknowledged: datetime | None,
    resolved: datetime | None,
) -> dict[str, Any]:
    return {
        "cohort_id": cohort_id,
        "patient_id": patient_id,
        "rule": "test_rule",
        "tier": tier,
        "status": status,
        "created_at": created,
        "acknowledged_at": acknowledged,
        "resolved_at": resolved,
    }


async def _expected(h: Harness, cohort_id: int) -> dict[str, Any]:
    """Figures computed straight from the database, independently of the digest code."""
    included = ("active", "paused", "unreachable")
    rows = await h.rows(
        select(Patient.label, Checkin.local_date, Checkin.status, Checkin.id)
        .join(Patient, Patient.id == Checkin.patient_id)
        .where(
            Patient.cohort_id == cohort_id,
            Patient.status.in_(included),
            Checkin.questionnaire == "daily",
            Checkin.local_date >= PREVIOUS,
        )
    )
    answers = {
        (checkin_id, item): int(value)
        for checkin_id, item, value in await h.rows(
            select(AnswerRow.checkin_id, AnswerRow.item_id, AnswerRow.value)
        )
    }
    per: dict[str, dict[str, Any]] = {}
    for label, day, status, checkin_id in rows:
        entry = per.setdefault(label, {"due": 0, "done": 0, "mood": [], "prev": [], "anx": []})
        if day >= START:
            entry["due"] += 1
            entry["done"] += status in ANSWERED
            if (checkin_id, "mood") in answers:
                entry["mood"].append(answers[checkin_id, "mood"])
            if (checkin_id, "anxiety") in answers:
                entry["anx"].append(answers[checkin_id, "anxiety"])
        elif (checkin_id, "mood") in answers:
            entry["prev"].append(answers[checkin_id, "mood"])
    week_start = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # midnight in New York
    week_end = week_start + timedelta(days=7)

    async def count(column: Any) -> int:
        return await h.count(Alert, Alert.cohort_id == cohort_id, column >= week_start,
                             column < week_end)  # fmt: skip

    return {
        "per": per,
        "due": sum(e["due"] for e in per.values()),
        "done": sum(e["done"] for e in per.values()),
        "opened": await count(Alert.created_at),
        "acknowledged": await count(Alert.acknowledged_at),
        "resolved": await count(Alert.resolved_at),
        "statuses": dict(
            await h.rows(
                select(Patient.status, func.count())
                .where(Patient.cohort_id == cohort_id)
                .group_by(Patient.status)
            )
        ),
    }


def _digest_messages(h: Harness) -> list[BotMessage]:
    return h.server.group(GROUP_A).messages


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


async def test_weekly_digest_for_30_patients(harness: Harness) -> None:
    h = harness
    seeded = await _seed(h)
    expected = await _expected(h, seeded["cohort_id"])
    # Monday 13:00 UTC is 08:00 in New York: clinic-a's digest time.
    assert await h.runtime.services.digest_scan.run() >= 1
    await h.settle()
    messages = _digest_messages(h)
    assert [m.kind for m in messages] == ["text", "photo", "document", "document"]
    text, photo, html_doc, csv_doc = messages

    # One message: the cohort's summary, then the patients needing attention.
    assert "Weekly digest" in text.text and "2026-01-05 – 2026-01-11" in text.text
    statuses = expected["statuses"]
    assert f"{statuses['active']} active · 2 paused · 1 unreachable" in text.text
    adherence = round(100 * expected["done"] / expected["due"])
    assert f"{adherence}% ({expected['done']} of {expected['due']} days due)" in text.text
    assert (expected["opened"], expected["acknowledged"], expected["resolved"]) == (3, 2, 1)
    assert "Alerts in these 7 days: 3 raised · 2 acknowledged · 1 resolved" in text.text
    # Beside it, labelled apart, what is not resolved now whenever raised (P-D011's URGENT,
    # P-D012's acknowledged ROUTINE, P-D014's ROUTINE from the week before).
    assert (
        "Alerts open now (not resolved, whenever raised): 3 (0 IMMEDIATE · 1 URGENT · 2 ROUTINE)"
        in text.text
    )
    assert "Median time to acknowledge: 30 min" in text.text
    attention = text.text.split("Needing attention")[1]
    # A PHQ-9 of two weeks ago says when it was answered: it must not read as this week's.
    answered = (PREVIOUS - timedelta(days=1)).isoformat()
    assert f"P-D008: PHQ-9 item 9 is 1 (answered {answered})" in attention
    assert "P-D011: 1 open URGENT alert" in attention
    assert f"P-D009: PHQ-9 16 (moderately severe, answered {answered})" in attention
    assert "P-D007: mood vs last week −5.0" in attention
    assert attention.index("P-D008") < attention.index("P-D011") < attention.index("P-D009")
    assert "P-D006" not in text.text  # withdrawn

    # A valid PNG of phone size.
    assert photo.document is not None and photo.document[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = png_size(photo.document)
    assert width == 1200 and 600 < height < 2000
    assert photo.filename == "digest-clinic-a-2026-01-05_2026-01-11.png"

    # The HTML page and the CSV hold every patient; the CSV's figures match the database.
    assert html_doc.document is not None and csv_doc.document is not None
    page = html_doc.document.decode()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert all(label in page for label in expected["per"])
    table = list(csv.DictReader(io.StringIO(csv_doc.document.decode())))
    assert {row["label"] for row in table} == set(expected["per"])
    for row in table:
        e = expected["per"][row["label"]]
        assert int(row["days_due"]) == e["due"], row["label"]
        assert int(row["days_answered"]) == e["done"], row["label"]
        for column, values in (("mood_mean", e["mood"]), ("anxiety_mean", e["anx"])):
            mean = _mean(values)
            assert row[column] == ("" if mean is None else f"{mean:.2f}"), (row["label"], column)
        previous = _mean(e["prev"])
        assert row["mood_prev_mean"] == ("" if previous is None else f"{previous:.2f}")
    by_label = {row["label"]: row for row in table}
    assert (by_label["P-D010"]["phq9_total"], by_label["P-D010"]["phq9_change"]) == ("5", "-13")
    assert by_label["P-D010"]["phq9_band"] == "mild"
    assert f"answered {answered}" in page  # the table shows each result's date too
    assert by_label["P-D011"]["open_urgent"] == "1"
    assert by_label["P-D014"]["open_alerts"] == "1"
    assert by_label["P-D001"]["phq9_total"] == ""  # no instrument yet
    assert await h.count(AuditEvent, AuditEvent.action == "digest_queued") >= 1


async def test_digest_goes_out_once_a_week_across_a_restart(harness: Harness) -> None:
    h = harness
    await _seed(h, n=15)
    # Every cohort's time has come on Monday 13:00 UTC; only clinic-a has patients (the
    # others, empty, get no digest nobody asked for).
    cohorts = 1
    assert await h.runtime.services.digest_scan.run() == cohorts
    await h.settle()
    assert len(_digest_messages(h)) == 4
    await h.advance(timedelta(hours=1))
    assert await h.runtime.services.digest_scan.run() == 0
    await h.stop_bot()
    await h.start_bot()
    await h.advance(timedelta(days=2))
    assert await h.runtime.services.digest_scan.run() == 0
    await h.settle()
    assert len(_digest_messages(h)) == 4
    key = "digest:clinic-a:2026-W03"
    assert await h.count(OutboxMessage, OutboxMessage.dedup_key == key) == 1
    # The next Monday, the next week's digest.
    await h.advance(datetime(2026, 1, 19, 13, 0, tzinfo=UTC) - h.clock.now())
    assert await h.runtime.services.digest_scan.run() == cohorts
    await h.settle()
    assert len(_digest_messages(h)) == 8
    assert "2026-01-12 – 2026-01-18" in _digest_messages(h)[4].text


async def test_digest_catches_up_after_downtime_within_the_week(harness: Harness) -> None:
    h = harness
    await _seed(h, n=15)
    # Down at clinic-a's digest time; back on Wednesday of the same week.
    await h.stop_bot()
    h.clock.set(datetime(2026, 1, 14, 16, 0, tzinfo=UTC))
    await h.start_bot()
    assert await h.runtime.services.digest_scan.run() == 1  # clinic-a; the others are empty
    await h.settle()
    messages = _digest_messages(h)
    assert [m.kind for m in messages] == ["text", "photo", "document", "document"]
    assert "2026-01-05 – 2026-01-11" in messages[0].text  # the week it was due for
    # Down for the whole of the next week: its digest is not sent late the week after.
    await h.stop_bot()
    h.clock.set(datetime(2026, 1, 26, 12, 0, tzinfo=UTC))  # Monday 07:00 in New York
    await h.start_bot()
    await h.runtime.services.digest_scan.run()  # other cohorts' digests are due: not ours
    await h.settle()
    assert len(_digest_messages(h)) == 4
    await h.advance(timedelta(hours=1))  # 08:00: this week's digest
    assert await h.runtime.services.digest_scan.run() == 1
    await h.settle()
    assert len(_digest_messages(h)) == 8
    assert "2026-01-19 – 2026-01-25" in _digest_messages(h)[4].text
    keys = await h.rows(
        select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.like("digest:clinic-a:%"))
    )
    assert sorted(keys) == ["digest:clinic-a:2026-W03", "digest:clinic-a:2026-W05"]


async def test_send_now_on_demand(harness: Harness) -> None:
    h = harness
    await _seed(h, n=15)
    digest = h.runtime.services.digest
    assert (await digest.send_now("nope")).value == "unknown_cohort"
    assert (await digest.send_now("clinic-a", request_key="u1")).value == "queued"
    assert (await digest.send_now("clinic-a", request_key="u1")).value == "already_sent"
    await h.settle()
    messages = _digest_messages(h)
    assert [m.kind for m in messages] == ["text", "photo", "document", "document"]
    # Monday: the 7 days that ended yesterday.
    assert "2026-01-05 – 2026-01-11" in messages[0].text


async def test_first_start_posts_no_digest_for_an_empty_cohort_but_digest_answers(
    harness: Harness,
) -> None:
    h = harness
    # Monday 13:00 UTC: every cohort's digest time has come, and no cohort has a patient.
    assert await h.runtime.services.digest_scan.run() == 0
    await h.settle()
    assert _digest_messages(h) == []
    assert await h.count(AuditEvent, AuditEvent.action == "digest_queued") == 0
    # Asked for (what /digest calls), the digest answers even for an empty cohort.
    outcome = await h.runtime.services.digest.send_now("clinic-a", request_key="asked")
    assert outcome == "queued"
    await h.settle()
    [text] = _digest_messages(h)
    assert "The cohort has no enrolled patients yet." in text.text
