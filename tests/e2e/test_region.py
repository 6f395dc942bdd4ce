"""The crisis card follows the patient: their region comes from the time zone they choose,
can be changed in /settings, and the cohort's region (clinic-a: US) is only the fallback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from storage.models import Patient
from tests.e2e.flows import answer_day, last
from tests.support.harness import Harness

# A day in Spanish, ending with "yes" to the safety question (URGENT, the full crisis card).
SPANISH_DAY_UNSAFE = {
    "mood": "6",
    "anxiety": "4",
    "sleep": "Regular",
    "energy": "Regular",
    "dose": "Como me la recetaron",
    "side_effects": "Ninguno",
    "safety": "Sí",
}


async def _patient(h: Harness, label: str) -> Patient:
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


async def _onboard_in_madrid(h: Harness, user_id: int, label: str) -> Any:
    lucia = h.server.user(user_id, first_name="Lucía", language_code="es")
    link = await h.runtime.services.enrolment.create_invite("clinic-a", label, "test")
    await h.send(lucia, f"/start {link.code}")
    await h.press(lucia, "Acepto")
    await h.press(lucia, "Español")
    await h.send(lucia, "Europe/Madrid")  # clinic-a offers New York; typed names work too
    await h.press(lucia, "09:00")
    return lucia


def _card(user: Any, needle: str) -> str:
    cards: list[str] = [m.text for m in user.messages if needle in m.text]
    assert len(cards) == 1, cards
    return cards[0]


async def test_a_patient_in_madrid_writing_in_spanish_gets_spains_card(harness: Harness) -> None:
    h = harness
    lucia = await _onboard_in_madrid(h, 7001, "P-MAD1")
    patient = await _patient(h, "P-MAD1")
    assert (patient.timezone, patient.locale, patient.region) == ("Europe/Madrid", "es", "ES")
    await h.send(lucia, "/checkin")
    await answer_day(h, lucia, SPANISH_DAY_UNSAFE, until="safety_now")
    card = _card(lucia, "Si está en peligro ahora mismo")
    assert "112" in card and "024" in card and "717 003 717" in card
    assert "911" not in card and "988" not in card  # not the cohort's US lines
    assert "Se ha avisado a su equipo de atención" in card
    assert "Su equipo de atención vigila las alertas a todas horas." in card  # 24/7 cohort


async def test_changing_the_region_in_settings_changes_the_card(harness: Harness) -> None:
    h = harness
    lucia = await _onboard_in_madrid(h, 7002, "P-MAD2")
    await h.send(lucia, "/settings")
    summary = last(lucia)
    assert "Números de crisis de: España" in summary.text
    await h.press(lucia, "Cambiar el país de los números de crisis")
    chooser = last(lucia)
    assert chooser.message_id == summary.message_id  # edited in place
    assert {"España", "México", "Estados Unidos", "Otro país"} <= set(chooser.labels)
    assert chooser.labels[0] == "Argentina" and chooser.labels[-1] == "Otro país"
    await h.press(lucia, "México")
    assert "Números de crisis de: México" in last(lucia).text
    assert (await _patient(h, "P-MAD2")).region == "MX"

    await h.send(lucia, "/checkin")
    await answer_day(h, lucia, SPANISH_DAY_UNSAFE, until="safety_now")
    card = _card(lucia, "Si está en peligro ahora mismo")
    assert "800 911 2000" in card and "Línea de la Vida" in card
    assert "024" not in card and "717 003 717" not in card


async def test_a_new_time_zone_brings_its_region_and_a_placeless_one_the_cohorts(
    harness: Harness,
) -> None:
    h = harness
    lucia = await _onboard_in_madrid(h, 7003, "P-MAD3")
    await h.send(lucia, "/settings")
    await h.press(lucia, "Cambiar la zona horaria")
    await h.send(lucia, "America/Bogota")
    assert "Números de crisis de: Colombia" in last(lucia).text
    await h.press(lucia, "Cambiar la zona horaria")
    await h.send(lucia, "Etc/GMT+5")  # an offset names no place: the cohort's region (US)
    assert "Números de crisis de: Estados Unidos" in last(lucia).text
    assert (await _patient(h, "P-MAD3")).region == "US"
    await h.advance(timedelta(days=1))
    await h.send(lucia, "/checkin")
    await answer_day(h, lucia, SPANISH_DAY_UNSAFE, until="safety_now")
    card = _card(lucia, "Si está en peligro ahora mismo")
    assert "911" in card and "988" in card


async def test_a_forged_region_button_is_refused(harness: Harness) -> None:
    h = harness
    lucia = await _onboard_in_madrid(h, 7004, "P-MAD4")
    await h.send(lucia, "/settings")
    await h.press(lucia, "Cambiar el país de los números de crisis")
    await h.press_data(lucia, last(lucia).message_id, "s|region|XX")
    assert (await _patient(h, "P-MAD4")).region == "ES"
