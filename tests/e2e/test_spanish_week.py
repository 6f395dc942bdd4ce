"""A Spanish-speaking patient's first week, end to end: enrolment, seven daily check-ins, the
PHQ-9 and the GAD-7 in their published Spanish wording, no PCL-5 (no validated Spanish
translation), and every word the patient sees in Spanish. The team's digest says the PCL-5
was not asked of them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.sandbox.state import TranscriptEvent
from storage.models import Checkin, Patient
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import Answers, answer_all, answer_day, last
from tests.support.harness import Harness
from tests.support.spanish import (
    FREQUENCY_ES,
    GAD7_ES,
    PHQ9_DIFFICULTY_ES,
    PHQ9_DIFFICULTY_OPTIONS_ES,
    PHQ9_ES,
    STEM_ES,
    english_words,
)

# The PCL-5 is due on the first instrument day (Wednesday 14 January) for everyone in the
# cohort; an English-speaking patient of the same cohort shows that it is.
CONFIG = """
[[cohort]]
name = "clinica-es"
provider_chat_id = -100111
timezone = "Europe/Madrid"
locale = "es"
region = "EU"
weekly_instruments = ["phq9", "gad7"]
instrument_weekday = "wed"
pcl5_every_weeks = 4
coverage = { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "17:00" }

[[cohort]]
name = "clinic-b"
provider_chat_id = -100222
timezone = "Europe/London"
locale = "en"
region = "UK"
coverage = "24/7"
"""

CALM_DAY_ES: Answers = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "Bien",
    "energy": "Buena",
    "dose": "Como me la recetaron",
    "side_effects": "Ninguno",
    "safety": "No",
}
# Item 9 "Ningún día": a week without a risk signal (item 9 has its own tests).
PHQ9_TAPS = ["Varios días"] * 8 + ["Ningún día", "Un poco difícil"]
GAD7_TAPS = ["Más de la mitad de los días"] * 7


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG)
    return path


def _bot_events(who: Any) -> list[TranscriptEvent]:
    """Everything the bot showed in a chat: messages, each edit, and answers to taps."""
    return [e for e in who.transcript() if e.actor == "bot" and e.kind != "bot_delete"]


async def _prompt(h: Harness, user: Any, day: int) -> str:
    """Let the day's 09:00 (Madrid) prompt go out; return its text."""
    h.clock.set(datetime(2026, 1, day, 8, 0, tzinfo=UTC))
    await h.due_scan()
    prompt = last(user)
    assert prompt.reply_markup is not None
    return prompt.text


async def _tap(h: Harness, user: Any, labels: list[str]) -> list[str]:
    """Tap the labels one by one; return the question shown before each tap."""
    shown = []
    for label in labels:
        shown.append(last(user).text)
        await h.press(user, label)
    return shown


async def _enrol(h: Harness, user: Any, label: str, taps: list[str]) -> None:
    """Invite, /start, consent, then language, zone and time in the onboarding message."""
    link = await h.runtime.services.enrolment.create_invite("clinica-es", label, "test")
    await h.send(user, f"/start {link.code}")
    await _tap(h, user, taps)


def _assert_all_spanish(user: Any) -> None:
    """Every word the patient was shown, buttons and tap answers included, is Spanish, and
    the instruments' official answer options were among the buttons."""
    events = _bot_events(user)
    assert len(events) > 60
    seen_buttons: set[str] = set()
    for event in events:
        assert english_words(event.text) == [], event.text
        for row in event.buttons:
            seen_buttons.update(row)
    for label in seen_buttons:
        assert english_words(label) == [], label
    assert set(FREQUENCY_ES) <= seen_buttons
    assert set(PHQ9_DIFFICULTY_OPTIONS_ES) <= seen_buttons
    # "English" is on the language button: each language is offered in its own name.
    assert "English" in seen_buttons and "Español" in seen_buttons


async def _assert_digest_says_pcl5_not_asked(h: Harness) -> None:
    """The team's digest (in the cohort's language) says who was not asked the PCL-5; a
    cohort where nobody is left out says nothing of it."""
    h.clock.set(datetime(2026, 1, 20, 8, 0, tzinfo=UTC))
    digest = h.runtime.services.digest
    assert (await digest.send_now("clinica-es")).value == "queued"
    await h.settle()
    sent = next(m for m in h.server.group(GROUP_A).messages if "Resumen semanal" in m.text)
    assert "PCL-5 no se pregunta a 1 paciente: no hay traducción validada al español" in (
        sent.text
    )
    assert english_words(sent.text) == [], sent.text
    assert (await digest.send_now("clinic-b")).value == "queued"
    await h.settle()
    group_b = h.server.group(GROUP_B).messages
    assert any("Weekly digest" in m.text for m in group_b)
    assert not any("not asked" in m.text for m in group_b)


def _assert_digest_shows_phq9_and_gad7(h: Harness) -> None:
    """The PHQ-9 and the GAD-7 answered in one check-in (the bot asks them in the same
    check-in) both reach the digest: 8 x "Varios días" and 7 x "Más de la mitad"."""
    table = next(
        m.document
        for m in h.server.group(GROUP_A).messages
        if m.kind == "document" and (m.filename or "").endswith(".csv")
    )
    assert table is not None
    rows = {row["label"]: row for row in csv.DictReader(io.StringIO(table.decode()))}
    lucia = rows["P-ES01"]
    assert (lucia["phq9_total"], lucia["phq9_item9"]) == ("8", "0")
    assert (lucia["gad7_total"], lucia["gad7_band"]) == ("14", "moderate")


async def test_a_spanish_patients_week_is_all_in_spanish(harness: Harness) -> None:
    h = harness
    lucia = h.server.user(8101, first_name="Lucía", language_code="es-ES")
    await _enrol(h, lucia, "P-ES01", ["Acepto", "Español", "Madrid", "09:00"])
    assert "Cada día a las 09:00 (Europe/Madrid)" in last(lucia).text
    await h.send(lucia, "/help")
    # An English-speaking patient of the same cohort, for contrast on the PCL-5.
    tom = h.server.user(8102, first_name="Tom", language_code="en")
    await _enrol(h, tom, "P-EN01", ["I agree", "English", "Madrid", "09:00"])

    # Tuesday 13: a calm day.
    assert "Registro diario · 1/7" in await _prompt(h, lucia, 13)
    await answer_all(h, lucia, CALM_DAY_ES)
    assert "terminado" in last(lucia).text

    # Wednesday 14, the instrument day: the daily items, then the PHQ-9 and the GAD-7
    # (7 + 10 + 7 = 24 questions); no PCL-5, which has no validated Spanish translation.
    assert "1/24" in await _prompt(h, lucia, 14)
    assert "1/44" in last(tom).text  # the English-speaking patient gets the PCL-5 too
    await answer_all(h, lucia, CALM_DAY_ES)
    phq9_shown = await _tap(h, lucia, PHQ9_TAPS)
    for shown, item in zip(phq9_shown, PHQ9_ES, strict=False):
        assert f"{STEM_ES}\n\n{item}" in shown
    assert phq9_shown[-1].endswith(PHQ9_DIFFICULTY_ES)
    gad7_shown = await _tap(h, lucia, GAD7_TAPS)
    for shown, item in zip(gad7_shown, GAD7_ES, strict=True):
        assert f"{STEM_ES}\n\n{item}" in shown
    assert "terminado" in last(lucia).text

    # Thursday 15: a mild side effect, rated on the Spanish bother scale.
    await _prompt(h, lucia, 15)
    await answer_day(
        h,
        lucia,
        {
            "mood": "6",
            "anxiety": "4",
            "sleep": "Regular",
            "energy": "Regular",
            "dose": "Como me la recetaron",
        },
        until="side_effects",
    )
    await _tap(h, lucia, ["Náuseas o vómitos", "Listo"])
    assert _bot_events(lucia)[-1].buttons[0] == ("Leve", "Moderada", "Grave")
    await answer_all(h, lucia, {"bother": "Leve", "safety": "No"})

    # Friday 16 to Monday 19: calm days.
    for day in (16, 17, 18, 19):
        await _prompt(h, lucia, day)
        await answer_all(h, lucia, CALM_DAY_ES)
        assert "terminado" in last(lucia).text

    patient = await h.scalar(select(Patient).where(Patient.label == "P-ES01"))
    assert patient is not None and patient.locale == "es"
    rows = await h.rows(
        select(Checkin.local_date, Checkin.questionnaire, Checkin.status)
        .where(Checkin.patient_id == patient.id)
        .order_by(Checkin.local_date)
    )
    assert [(q, s) for _, q, s in rows] == [
        ("daily", "completed"),
        ("daily+phq9+gad7", "completed"),
        *[("daily", "completed")] * 5,
    ]
    wednesday = await h.rows(select(Checkin.questionnaire).where(Checkin.local_date == rows[1][0]))
    assert "daily+phq9+gad7+pcl5" in wednesday  # Tom's

    _assert_all_spanish(lucia)

    await _assert_digest_says_pcl5_not_asked(h)
    _assert_digest_shows_phq9_and_gad7(h)


async def test_checkin_command_on_the_instrument_day_leaves_out_the_pcl5(
    harness: Harness,
) -> None:
    # /checkin opens the day's check-in through another path than the 09:00 prompt.
    h = harness
    ana = h.server.user(8103, first_name="Ana", language_code="es-MX")
    await _enrol(h, ana, "P-ES02", ["Acepto", "Español", "Madrid", "09:00"])
    h.clock.set(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))  # Wednesday 08:00 in Madrid
    await h.send(ana, "/checkin")
    assert "Registro diario · 1/24" in last(ana).text
    checkin = await h.scalar(select(Checkin))
    assert checkin is not None and checkin.questionnaire == "daily+phq9+gad7"
    # Switching to English before the next instrument day brings the PCL-5 back for them.
    await h.send(ana, "/settings")
    await h.press(ana, "Cambiar el idioma")
    await h.press(ana, "English")
    h.clock.set(datetime(2026, 2, 11, 7, 0, tzinfo=UTC))  # four weeks on: PCL-5 due again
    await h.send(ana, "/checkin")
    assert "Daily check-in · 1/44" in last(ana).text
