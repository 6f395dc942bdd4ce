"""Seeding for ``bench/scale.py``: a provider network of enrolled patients, inserted in bulk
through SQLAlchemy Core (enrolment is not what is measured).

Patients are spread over cohorts, time zones (weighted: the Americas, Europe, a little of Asia
and Oceania) and check-in times (three in ten at the usual buttons, the rest at any minute from
06:00 to 22:59). Each has the check-ins a running bot would have made: one per past day
(completed, partial, skipped or missed) and today's when their time has passed (completed, or
still open and already reminded). Answers are not inserted: no scan reads them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select

from bench.keys import BENCH_KEYRING
from bot.domain.schedule import local_date, next_occurrence, window_close, zone_or_error
from storage.db import create_engine
from storage.models import Checkin, Cohort, Patient

FIRST_USER = 40_000_000
ZONES = {
    "America/New_York": 20,
    "America/Chicago": 12,
    "America/Denver": 5,
    "America/Los_Angeles": 12,
    "America/Phoenix": 2,
    "America/Anchorage": 1,
    "Pacific/Honolulu": 1,
    "America/Mexico_City": 5,
    "America/Bogota": 3,
    "America/Sao_Paulo": 5,
    "America/Argentina/Buenos_Aires": 3,
    "Europe/London": 6,
    "Europe/Madrid": 6,
    "Europe/Berlin": 5,
    "Europe/Paris": 3,
    "Africa/Johannesburg": 1,
    "Asia/Kolkata": 2,
    "Asia/Singapore": 2,
    "Asia/Tokyo": 2,
    "Australia/Sydney": 3,
    "Pacific/Auckland": 1,
}
COMMON_TIMES = (time(8), time(9), time(12), time(18), time(20))
PAST_STATUSES = {"completed": 80, "partial": 5, "skipped": 5, "missed": 10}
CHUNK = 5000
SPANISH = ("America/B", "America/M", "Europe/M")


def _checkin_time(rng: random.Random) -> time:
    if rng.random() < 0.3:
        return rng.choice(COMMON_TIMES)
    minute = rng.randrange(6 * 60, 23 * 60)
    return time(minute // 60, minute % 60)


def _patients(
    n: int, cohort_ids: list[int], now: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    zones, weights = list(ZONES), list(ZONES.values())
    for i in range(n):
        zone_name = rng.choices(zones, weights)[0]
        at = _checkin_time(rng)
        user = FIRST_USER + i
        yield {
            "cohort_id": cohort_ids[i % len(cohort_ids)],
            "label": f"S-{i:06d}",
            "telegram_user_id": user,
            "chat_id": user,
            "status": "active",
            "locale": "es" if zone_name.startswith(SPANISH) else "en",
            "timezone": zone_name,
            "checkin_time": at.strftime("%H:%M"),
            "next_prompt_at": next_occurrence(at, zone_or_error(zone_name), now),
            "consented_at": now - timedelta(days=30),
            "created_at": now - timedelta(days=30),
            "updated_at": now,
        }


def _checkins(
    patient: dict[str, Any], patient_id: int, now: datetime, days: int, rng: random.Random
) -> Iterator[dict[str, Any]]:
    zone = zone_or_error(patient["timezone"])
    hour, minute = map(int, patient["checkin_time"].split(":"))
    at = time(hour, minute)
    previous = patient["next_prompt_at"] - timedelta(days=1)
    today = local_date(now, zone)
    statuses, weights = list(PAST_STATUSES), list(PAST_STATUSES.values())
    for back in range(days + 1):
        opened = previous - timedelta(days=back)
        day = local_date(opened, zone)
        if day > today:
            continue
        closes = window_close(day, at, zone, None)
        if day == today and closes > now:
            status = "completed" if rng.random() < 0.6 else "open"
        else:
            status = rng.choices(statuses, weights)[0]
        done = status != "open"
        yield {
            "patient_id": patient_id,
            "local_date": day,
            "timezone": patient["timezone"],
            "questionnaire": "daily",
            "status": status,
            "item": None if status == "completed" else "sleep",
            "message_id": None,  # no message in the sandbox to edit
            "opened_at": opened,
            "closes_at": closes,
            "completed_at": opened + timedelta(minutes=3) if done else None,
            # Unfinished after 3 hours: the bot has reminded them already.
            "reminded_at": opened + timedelta(hours=3)
            if status != "completed" and now - opened > timedelta(hours=3)
            else None,
            "draft": None,
            "version": 3,
        }


async def seed(
    url: str, n: int, cohort_names: list[str], now: datetime, days: int
) -> tuple[int, int]:
    """Insert ``n`` patients and their check-ins; return how many check-ins, and how many
    patients the busiest minute of the next day holds."""
    rng = random.Random(2026)  # a reproducible network
    engine = create_engine(url, keyring=BENCH_KEYRING)
    checkins = 0
    minutes: Counter[datetime] = Counter()
    try:
        async with engine.begin() as connection:
            ids = dict((await connection.execute(select(Cohort.name, Cohort.id))).tuples().all())
            cohort_ids = [ids[name] for name in cohort_names]
            batch: list[dict[str, Any]] = []
            for patient in _patients(n, cohort_ids, now, rng):
                minutes[patient["next_prompt_at"].replace(second=0, microsecond=0)] += 1
                batch.append(patient)
                if len(batch) == CHUNK:
                    checkins += await _insert(connection, batch, now, days, rng)
                    batch = []
            if batch:
                checkins += await _insert(connection, batch, now, days, rng)
    finally:
        await engine.dispose()
    return checkins, max(minutes.values(), default=0)


async def _insert(
    connection: Any, batch: list[dict[str, Any]], now: datetime, days: int, rng: random.Random
) -> int:
    result = await connection.execute(
        insert(Patient).returning(Patient.id, sort_by_parameter_order=True), batch
    )
    patient_ids = list(result.scalars().all())
    rows = [
        row
        for patient, patient_id in zip(batch, patient_ids, strict=True)
        for row in _checkins(patient, patient_id, now, days, rng)
    ]
    for start in range(0, len(rows), CHUNK):
        await connection.execute(insert(Checkin), rows[start : start + CHUNK])
    return len(rows)
