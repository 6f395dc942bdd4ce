"""Reminders, missed and partial check-ins, downtime, and DST and odd time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.domain.schedule import parse_hhmm, wall_time_to_utc
from storage.models import Answer, Checkin, Patient
from tests.e2e.flows import answer_day, enrol, last, message
from tests.support.harness import Harness


async def _window_scan(h: Harness) -> tuple[int, int]:
    result = await h.runtime.services.window_scan.run()
    await h.settle()
    return result


async def test_one_reminder_then_missed_at_the_end_of_the_day(harness: Harness) -> None:
    h = harness
    user = h.server.user(5001, first_name="Sleepy")
    await enrol(h, user, "P-5001")  # clinic-a: 09:00 New York, reminder after 3 h
    h.clock.set(datetime(2026, 1, 13, 14, 0, 5, tzinfo=UTC))
    assert await h.due_scan() == 1
    prompt = last(user).message_id
    h.clock.set(datetime(2026, 1, 13, 16, 59, tzinfo=UTC))
    assert await _window_scan(h) == (0, 0)
    h.clock.set(datetime(2026, 1, 13, 17, 1, tzinfo=UTC))
    assert await _window_scan(h) == (1, 0)
    assert await _window_scan(h) == (0, 0)  # once only
    reminder = last(user)
    assert reminder.message_id != prompt and "reminder" in reminder.text
    assert "1/7" in reminder.text and "10" in reminder.labels
    assert message(user, prompt).buttons == []
    # Local midnight in New York (05:00 UTC): the window closes; nothing was answered.
    h.clock.set(datetime(2026, 1, 14, 5, 0, 1, tzinfo=UTC))
    assert await _window_scan(h) == (0, 1)
    checkin = await h.scalar(
        select(Checkin).where(Checkin.local_date == datetime(2026, 1, 13).date())
    )
    assert checkin is not None and checkin.status == "missed"
    assert await h.count(Answer) == 0  # missed is not zeros
    assert "has closed" in message(user, reminder.message_id).text


async def test_partial_checkin_keeps_its_answers(harness: Harness) -> None:
    h = harness
    user = h.server.user(5002, first_name="Half")
    await enrol(h, user, "P-5002")
    h.clock.set(datetime(2026, 1, 13, 14, 0, 5, tzinfo=UTC))
    await h.due_scan()
    await answer_day(h, user, {"mood": "5", "anxiety": "5"}, until="sleep")
    h.clock.set(datetime(2026, 1, 14, 5, 0, 1, tzinfo=UTC))
    assert (await _window_scan(h))[1] == 1
    statuses = await h.rows(select(Checkin.status))
    assert "partial" in statuses
    assert await h.count(Answer) == 2


async def test_downtime_records_missed_days_and_prompts_only_today(harness: Harness) -> None:
    h = harness
    user = h.server.user(5003, first_name="Away")
    await enrol(h, user, "P-5003")
    h.clock.set(datetime(2026, 1, 16, 15, 0, tzinfo=UTC))  # three days later, 10:00 NY
    assert await h.due_scan() == 1
    rows = await h.rows(select(Checkin.local_date, Checkin.status).order_by(Checkin.local_date))
    assert [(d.isoformat(), s) for d, s in rows] == [
        ("2026-01-12", "missed"),
        ("2026-01-13", "missed"),
        ("2026-01-14", "missed"),
        ("2026-01-15", "missed"),
        ("2026-01-16", "open"),
    ]
    assert sum("1/7" in m.text for m in user.messages) == 1


# (zone, local check-in time, a day when the zone changes its clocks or is unusual, the
# local time the prompt must arrive at on that day)
DST_CASES = [
    ("Pacific/Kiritimati", "09:00", date(2026, 3, 8), "09:00"),  # UTC+14
    ("Asia/Kolkata", "09:00", date(2026, 3, 8), "09:00"),  # UTC+05:30
    ("America/New_York", "02:30", date(2026, 3, 8), "03:00"),  # inside the gap: next minute
    ("America/New_York", "09:00", date(2026, 3, 8), "09:00"),  # spring forward day
    ("Europe/London", "09:00", date(2026, 3, 29), "09:00"),
    ("Australia/Lord_Howe", "09:00", date(2026, 10, 4), "09:00"),  # 30-minute shift
    ("Europe/London", "01:30", date(2026, 10, 25), "01:30"),  # overlap: first 01:30 only
]


async def test_prompts_arrive_at_local_time_on_dst_days_and_in_odd_zones(
    harness: Harness,
) -> None:
    h = harness
    due = []
    for n, (zone, at, day, expected) in enumerate(DST_CASES):
        user = h.server.user(5100 + n, first_name=f"Z{n}")
        patient = await enrol(h, user, f"P-Z{n:03d}")
        instant = wall_time_to_utc(day, parse_hhmm(at), ZoneInfo(zone))
        assert instant.astimezone(ZoneInfo(zone)).strftime("%H:%M") == expected
        # What /settings does: a new zone and time, the next prompt recomputed.
        await h.execute(
            update(Patient)
            .where(Patient.id == patient.id)
            .values(timezone=zone, checkin_time=at, next_prompt_at=instant)
        )
        due.append((instant, patient.id, user, zone, at))
    for instant, patient_id, user, zone, at in sorted(due, key=lambda d: (d[0], d[1])):
        h.clock.set(max(h.clock.now(), instant + timedelta(seconds=1)))
        before = sum("1/7" in m.text for m in user.messages)
        await h.due_scan()
        assert await h.due_scan() == 0  # once: a second scan at the same moment adds nothing
        assert sum("1/7" in m.text for m in user.messages) == before + 1, (zone, at)
        sent = [e for e in h.server.transcript(user.chat_id) if e.kind == "bot_message"]
        assert "1/7" in sent[-1].text
        nxt = await h.scalar(select(Patient.next_prompt_at).where(Patient.id == patient_id))
        assert nxt is not None
        local = nxt.astimezone(ZoneInfo(zone))
        assert local.strftime("%H:%M") == at, (zone, at, local)  # tomorrow at the usual time
