"""What the care team reads stays word for word the same: /patient, /patients, /alerts, the
group alert, /dosing, /optional, refusals and the digest, in English and in Spanish, for one
fixed story, compared with ``golden/team_views.txt``.

The story covers every cell of /patient's day table (each dose answer, side effects with and
without a red flag, every safety answer, every day status) and an alert of every details
shape (``bot/domain/alert_details.py``) for every question the rules name, so moving a label
or a flag from a template into the YAML cannot change a character unnoticed.

After an intended change of wording, ``MOODCHECK_WRITE_GOLDEN=1`` rewrites the file and fails
the run: read the diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits as SandboxLimits
from bot.sandbox.server import FakeBotApi
from bot.transport.ratelimit import Limits
from storage.models import Alert, Answer, Checkin, Patient
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import Answers, answer_all
from tests.support.harness import Harness

GOLDEN = Path(__file__).with_name("golden") / "team_views.txt"
CONFIG = """
[[cohort]]
name = "clinic-en"
provider_chat_id = -100111
timezone = "America/New_York"
locale = "en"
region = "US"
coverage = { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "17:00" }

[[cohort]]
name = "clinica-es"
provider_chat_id = -100222
timezone = "Europe/Madrid"
locale = "es"
region = "EU"
coverage = "24/7"
optional_items = ["bladder"]
"""
# Today's taps (the safety question "yes", then "not sure": two alerts in one event).
TODAY: dict[str, Answers] = {
    "en": {"mood": "6", "anxiety": "4", "sleep": "OK", "energy": "Low", "dose": "Missed a dose",
           "side_effects": "None", "safety": "Yes", "safety_now": "Not sure"},
    "es": {"mood": "6", "anxiety": "4", "sleep": "Regular", "energy": "Baja",
           "dose": "Me salté una dosis", "side_effects": "Ninguno", "safety": "Sí",
           "safety_now": "No estoy seguro/a"},
}  # fmt: skip
# Days back from today: status and answers (a day left out has no check-in).
DAYS: dict[int, tuple[str, dict[str, str]]] = {
    1: ("completed", {"mood": "5", "anxiety": "2", "sleep": "3", "energy": "2",
                      "dose": "as_prescribed", "side_effects": "nausea,dizzy", "safety": "no"}),
    2: ("completed", {"mood": "10", "anxiety": "0", "sleep": "5", "energy": "5",
                      "dose": "more", "side_effects": "red_flag", "safety": "declined"}),
    3: ("stopped", {"mood": "1", "anxiety": "9", "dose": "less",
                    "side_effects": "nausea,urinary_pain", "bother": "severe",
                    "safety": "yes", "safety_now": "yes"}),
    4: ("missed", {}),
    5: ("partial", {"mood": "4", "dose": "none_scheduled"}),
    6: ("skipped", {}),
    7: ("completed", {"mood": "3", "anxiety": "7", "sleep": "1", "energy": "1",
                      "dose": "missed", "side_effects": "headache,other,urinary_freq",
                      "bother": "mild", "safety": "yes", "safety_now": "no"}),
    9: ("open", {}),
    10: ("completed", {"mood": "8", "side_effects": "none", "safety": "yes",
                       "safety_now": "not_sure"}),
    12: ("completed", {"mood": "7", "anxiety": "3", "sleep": "4", "energy": "4",
                       "dose": "as_prescribed", "side_effects": "none", "safety": "no"}),
}  # fmt: skip
# Alerts of every details shape: rule, tier, status, minutes before now, details.
ALERTS: list[tuple[str, str, str, int, dict[str, Any] | None]] = [
    ("mood_low_2_in_a_row", "URGENT", "open", 5 * 1440 + 75,
     {"kind": "threshold", "item": "mood", "value": 2, "count": 2}),
    ("anxiety_high_2_in_a_row", "URGENT", "acknowledged", 4 * 1440,
     {"kind": "threshold", "item": "anxiety", "value": 9, "count": 1}),
    ("sleep_very_poor_3_in_a_row", "ROUTINE", "open", 3 * 1440 + 61,
     {"kind": "threshold", "item": "sleep", "value": 1, "count": 3}),
    ("mood_below_baseline_2_in_a_row", "URGENT", "open", 3 * 1440,
     {"kind": "baseline_shift", "item": "mood", "value": 3, "baseline": 6.5, "count": 2}),
    ("mood_week_mean_below_baseline", "URGENT", "open", 2 * 1440 + 600,
     {"kind": "baseline_mean", "item": "mood", "mean": 3.4, "baseline": 7, "count": 5}),
    ("anxiety_above_baseline_2_in_a_row", "URGENT", "open", 2 * 1440 + 300,
     {"kind": "baseline_shift", "item": "anxiety", "value": 8, "baseline": 3, "count": 1}),
    ("dose_missed_3_in_a_row", "ROUTINE", "open", 2 * 1440 + 10,
     {"kind": "answer_pattern", "item": "dose", "count": 3}),
    ("urinary_frequency_3_in_7_days", "URGENT", "open", 2 * 1440,
     {"kind": "answer_pattern", "item": "side_effects", "count": 1}),
    ("side_effect_mild_or_moderate", "ROUTINE", "open", 1440 + 900,
     {"kind": "answer_pattern", "item": "bother", "count": 3}),
    ("missed_checkins", "URGENT", "open", 1440 + 800,
     {"kind": "missed_streak", "streak": 3}),
    ("missed_after_urgent_event", "URGENT", "open", 1440 + 700,
     {"kind": "missed_after_event", "hours_since_event": 30}),
    ("phq9_total_20", "URGENT", "open", 1440 + 600,
     {"kind": "instrument_total", "instrument": "phq9", "total": 22}),
    ("phq9_rise_5", "URGENT", "open", 1440 + 500,
     {"kind": "instrument_change", "instrument": "phq9", "total": 19,
      "baseline_total": 12, "baseline_delta": 7, "previous_total": 13, "previous_delta": 6}),
    ("gad7_rise_4", "URGENT", "open", 1440 + 400,
     {"kind": "instrument_change", "instrument": "gad7", "total": 15,
      "previous_total": 10.5, "previous_delta": 4.5}),
    ("pcl5_change_10", "ROUTINE", "open", 1440 + 300,
     {"kind": "instrument_change", "instrument": "pcl5", "total": 30,
      "baseline_total": 41, "baseline_delta": -11}),
    ("possible_relapse", "URGENT", "open", 1440 + 200,
     {"kind": "relapse", "instrument": "phq9", "item": "mood", "total": 15,
      "baseline_total": 18, "response_total": 8, "count": 2}),
    ("possible_relapse", "URGENT", "open", 1440 + 100,
     {"kind": "relapse", "instrument": "phq9", "item": "mood", "mean": 3.2, "baseline": 4.5,
      "count": 6}),
    ("safety_declined", "ROUTINE", "open", 1440 + 50,
     {"kind": "answer", "item": "safety", "value": "declined"}),
    ("medical_red_flag", "IMMEDIATE", "acknowledged", 1440 + 40,
     {"kind": "answer", "item": "side_effects", "value": "nausea,red_flag"}),
    ("urinary_pain_or_blood", "URGENT", "open", 1440 + 30,
     {"kind": "answer", "item": "side_effects", "value": "urinary_pain"}),
    ("severe_side_effect", "URGENT", "open", 1440 + 20,
     {"kind": "answer", "item": "bother", "value": "severe"}),
    ("took_more_than_prescribed", "URGENT", "open", 1440 + 10,
     {"kind": "answer", "item": "dose", "value": "more"}),
    ("phq9_item9_frequent", "URGENT", "open", 1440,
     {"kind": "answer", "item": "phq9_9", "value": "2"}),
    ("phq9_item9_unsafe_now", "IMMEDIATE", "open", 1439,
     {"kind": "answer", "item": "phq9_9_now", "value": "not_sure"}),
    ("post_dose_red_flag", "IMMEDIATE", "open", 900,
     {"kind": "answer", "item": "pd_red_flags", "value": "chest_pain,vision"}),
    ("post_dose_severe", "URGENT", "open", 800,
     {"kind": "answer", "item": "pd_bother", "value": "severe"}),
    ("home_bp_crisis", "IMMEDIATE", "open", 700,
     {"kind": "answer", "item": "bp", "value": "185/121"}),
    ("bladder_pain_or_blood", "URGENT", "open", 600,
     {"kind": "answer", "item": "bladder", "value": "pain,blood"}),
    ("crisis_words", "IMMEDIATE", "open", 500,
     {"kind": "crisis_words", "phrase": "I want to <end> it & go"}),
    ("crisis_words_possible", "URGENT", "open", 400,
     {"kind": "crisis_words", "phrase": "not going to hurt myself"}),
    ("self_pause", "ROUTINE", "open", 300,
     {"kind": "pause", "until": "2026-01-20 09:00", "timezone": "Europe/Madrid", "days": 7}),
    ("patient_unreachable", "URGENT", "open", 120, None),
    # Questions no rule names today, but a values line may: named all the same.
    ("a_rule_since_removed", "ROUTINE", "open", 59,
     {"kind": "answer_pattern", "item": "energy", "count": 2}),
    ("a_rule_since_removed", "ROUTINE", "open", 58,
     {"kind": "answer_pattern", "item": "note", "count": 1}),
    ("a_rule_since_removed", "ROUTINE", "open", 57,
     {"kind": "answer_pattern", "item": "pd_effects", "count": 1}),
    ("a_rule_since_removed", "ROUTINE", "open", 56,
     {"kind": "answer_pattern", "item": "substance", "count": 4}),
    ("a_rule_since_removed", "ROUTINE", "open", 55,
     {"kind": "answer", "item": "safety_now", "value": "yes"}),
    ("a_rule_since_removed", "ROUTINE", "open", 1,
     {"kind": "instrument_item", "instrument": "gad7", "number": 7, "item_score": 3,
      "total": 16}),
]  # fmt: skip


@pytest.fixture(name="server")
async def fx_server(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    # The group's 20 messages a minute on the test's clock (as in test_busy_group.py): the
    # story moves the clock a minute after each command, so every reply goes out.
    server = FakeBotApi(
        bot_username="moodcheck_test_bot",
        limits=SandboxLimits(global_per_second=100_000, private=(100, 1.0)),
        clock=lambda: clock.now().timestamp(),
    )
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


@pytest.fixture(name="harness")
async def fx_harness(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    limits = Limits(overall=(100_000, 1.0), private=(100, 1.0))
    harness = Harness(
        server, db_url, config, clock, limits=limits, limiter_clock=lambda: clock.now().timestamp()
    )
    server.group(GROUP_A, title="Clinic providers")
    server.group(GROUP_B, title="Clínica")
    await harness.start_bot()
    yield harness
    await harness.close()


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG)
    return path


async def _history(h: Harness, patient: Patient, today: date) -> None:
    """Write the past days and the alerts straight into the database, as the scans and the
    rules would have."""
    now = h.clock.now()
    async with h._sessions() as session:
        for back, (status, answers) in DAYS.items():
            checkin = Checkin(
                patient_id=patient.id,
                local_date=today - timedelta(days=back),
                timezone=patient.timezone,
                questionnaire="daily",
                status=status,
                item=None,
                opened_at=now,
                closes_at=now,
                completed_at=now,
                version=0,
            )
            session.add(checkin)
            await session.flush()
            session.add_all(
                Answer(checkin_id=checkin.id, item_id=item, value=value, answered_at=now)
                for item, value in answers.items()
            )
        for n, (rule, tier, status, minutes, details) in enumerate(ALERTS):
            session.add(
                Alert(
                    cohort_id=patient.cohort_id,
                    patient_id=patient.id,
                    rule=rule,
                    tier=tier,
                    status=status,
                    dedup_key=f"golden:{patient.id}:{n}",
                    created_at=now - timedelta(minutes=minutes),
                    details=details,
                )
            )
        await session.commit()


async def _enrol(h: Harness, user: Any, label: str, cohort: str, locale: str) -> Patient:
    link = await h.runtime.services.enrolment.create_invite(cohort, label, "test")
    await h.send(user, f"/start {link.code}")
    await h.press(user, {"en": "I agree", "es": "Acepto"}[locale])
    found = await h.scalar(select(Patient).where(Patient.label == label))
    assert found is not None
    return found


async def _story(h: Harness, locale: str, group: int, cohort: str, prefix: str) -> None:
    nurse = h.server.group(group).member(9001 + group % 7, first_name="Nora",
                                         status="administrator")  # fmt: skip
    base = 7000 + (group % 1000)
    rich = h.server.user(base + 1, first_name="Pat", language_code=locale)
    paused = h.server.user(base + 2, first_name="Sam", language_code=locale)
    leaving = h.server.user(base + 3, first_name="Kim", language_code=locale)
    patient = await _enrol(h, rich, f"{prefix}1", cohort, locale)
    await _enrol(h, paused, f"{prefix}2", cohort, locale)
    await _enrol(h, leaving, f"{prefix}3", cohort, locale)
    await _history(h, patient, date(2026, 1, 12))
    await h.send(rich, "/checkin")
    await answer_all(h, rich, TODAY[locale])
    for command in (
        f"/dosing {prefix}1 mon,thu 19:00",
        f"/optional {prefix}1 bp on",
        f"/optional {prefix}1 substance_daily on",
        f"/pause {prefix}2 5",
        f"/discharge {prefix}3",
        f"/resume {prefix}3",
        f"/pause {prefix}3 2",
        "/patients",
        f"/patient {prefix}1",
        f"/patient {prefix}2",
        f"/patient {prefix}3",
        "/alerts",
        "/digest",
    ):
        await h.send(nurse, command)
        # A fresh minute for the group's 20 messages (what the team reads is what counts).
        await h.advance(timedelta(seconds=65))


def _transcript(h: Harness, group: int) -> str:
    """Every message in the group as sent (HTML), with the text files it was sent."""
    out = []
    for message in h.server.group(group).messages:
        out.append(f"--- {message.kind}" + (f" {message.filename}" if message.filename else ""))
        out.append(message.html)
        if message.document is not None and (message.filename or "").endswith((".html", ".csv")):
            out.append(message.document.decode())
    return "\n".join(out)


async def test_what_the_team_reads_is_unchanged(harness: Harness) -> None:
    h = harness
    await _story(h, "en", GROUP_A, "clinic-en", "P-EN0")
    await _story(h, "es", GROUP_B, "clinica-es", "P-ES0")
    text = f"=== en\n{_transcript(h, GROUP_A)}\n=== es\n{_transcript(h, GROUP_B)}\n"
    if os.environ.get("MOODCHECK_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        pytest.fail(f"{GOLDEN} written: read its diff, then run again without the variable")
    expected = GOLDEN.read_text(encoding="utf-8")
    if text != expected:
        # The first differing line, then the whole comparison from pytest.
        mine, theirs = text.splitlines(), expected.splitlines()
        first = next(
            (n for n, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
            min(len(mine), len(theirs)),
        )
        context = "\n".join(f"{n}: {line}" for n, line in enumerate(mine[first - 2 : first + 3]))
        assert text == expected, f"differs from line {first + 1}:\n{context}"
