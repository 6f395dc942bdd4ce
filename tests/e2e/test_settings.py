"""Onboarding after consent and /settings: language, time zone and check-in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from storage.models import Patient
from tests.e2e.flows import enrol, last, message
from tests.support.harness import Harness


async def _patient(h: Harness, label: str) -> Patient:
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


async def test_onboarding_asks_language_zone_and_time_in_one_message(harness: Harness) -> None:
    h = harness
    ana = h.server.user(3001, first_name="Ana", language_code="es-MX")
    link = await h.runtime.services.enrolment.create_invite("clinic-a", "P-ONB1", "test")
    await h.send(ana, f"/start {link.code}")
    await h.press(ana, "Acepto")  # Telegram's language_code chose Spanish
    consent = last(ana)
    assert "inscrito" in consent.text
    assert "idioma" in consent.text
    await h.press(ana, "English")
    assert last(ana).message_id == consent.message_id  # edited in place
    assert "time zone" in last(ana).text
    assert (await _patient(h, "P-ONB1")).locale == "en"
    await h.press(ana, "New York")  # clinic-a offers its own zone
    assert "check-in time" in last(ana).text
    await h.press(ana, "20:00")
    summary = last(ana)
    assert summary.message_id == consent.message_id
    assert "Every day at 20:00 (America/New_York)" in summary.text
    assert "/settings" in summary.text
    patient = await _patient(h, "P-ONB1")
    assert (patient.checkin_time, patient.timezone, patient.awaiting) == (
        "20:00",
        "America/New_York",
        None,
    )
    # 2026-01-12 13:00 UTC is 08:00 in New York: the next 20:00 is tonight (01:00 UTC).
    assert patient.next_prompt_at == datetime(2026, 1, 13, 1, 0, tzinfo=UTC)


async def test_typed_city_and_time(harness: Harness) -> None:
    h = harness
    raj = h.server.user(3002, first_name="Raj")
    await enrol(h, raj, "P-ONB2")
    await h.press(raj, "English")
    await h.send(raj, "kolkata")
    assert "check-in time" in last(raj).text
    patient = await _patient(h, "P-ONB2")
    assert patient.timezone == "Asia/Kolkata"
    assert patient.awaiting is not None and patient.awaiting.startswith("ob_time~")
    await h.send(raj, "7:30")
    assert "Every day at 07:30 (Asia/Kolkata)" in last(raj).text
    patient = await _patient(h, "P-ONB2")
    assert patient.checkin_time == "07:30"
    # 13:00 UTC is 18:30 in Kolkata: the next 07:30 local is tomorrow 02:00 UTC.
    assert patient.next_prompt_at == datetime(2026, 1, 13, 2, 0, tzinfo=UTC)


async def test_bad_zone_and_time_get_clear_replies_that_never_echo(harness: Harness) -> None:
    h = harness
    eve = h.server.user(3003, first_name="Eve")
    await enrol(h, eve, "P-ONB3")
    await h.press(eve, "English")
    await h.send(eve, "<b>Xyzzyville</b>")
    reply = last(eve)
    assert "could not find that time zone" in reply.text
    assert "Xyzzyville" not in reply.text and "Xyzzyville" not in reply.html
    assert "New York" in reply.labels
    await h.send(eve, "córdoba")
    assert "More than one time zone" in last(eve).text
    labels = set(last(eve).labels)  # each country's Córdoba, as buttons
    assert {"Córdoba 🇦🇷 AR", "Córdoba 🇪🇸 ES", "Córdoba 🇲🇽 MX"} <= labels
    await h.press(eve, "Córdoba 🇦🇷 AR")
    patient = await _patient(h, "P-ONB3")
    assert patient.timezone == "America/Argentina/Cordoba"
    await h.send(eve, "25:99")
    assert "could not read that as a time" in last(eve).text
    assert "25:99" not in last(eve).text
    assert (await _patient(h, "P-ONB3")).checkin_time == "09:00"


async def test_settings_command_changes_one_thing_and_returns_to_the_summary(
    harness: Harness,
) -> None:
    h = harness
    bo = h.server.user(3004, first_name="Bo")
    await enrol(h, bo, "P-SET1")
    await h.send(bo, "/settings")
    menu = last(bo)
    assert "Your settings" in menu.text
    await h.press(bo, "Change the time")
    await h.press(bo, "18:00")
    assert last(bo).message_id == menu.message_id
    assert "Every day at 18:00" in last(bo).text
    await h.press(bo, "Change the language")
    await h.press(bo, "Español")
    assert "Sus ajustes" in last(bo).text
    assert (await _patient(h, "P-SET1")).locale == "es"
    await h.press(bo, "Cambiar la zona horaria")
    await h.send(bo, "madrid")  # Spain's, or Colombia's? The patient taps which.
    await h.press(bo, "Madrid 🇪🇸 ES")
    assert "Cada día a las 18:00 (Europe/Madrid)" in last(bo).text
    patient = await _patient(h, "P-SET1")
    assert patient.next_prompt_at == datetime(2026, 1, 12, 17, 0, tzinfo=UTC)


async def test_a_forgotten_question_does_not_swallow_later_messages(harness: Harness) -> None:
    h = harness
    cy = h.server.user(3005, first_name="Cy")
    await enrol(h, cy, "P-SET2")
    await h.press(cy, "English")  # now asked for a time zone
    await h.advance(timedelta(hours=2))
    await h.send(cy, "hello")
    assert "group chat is told that you wrote" in last(cy).text
    assert (await _patient(h, "P-SET2")).awaiting is None


async def test_forged_setting_values_are_refused(harness: Harness) -> None:
    h = harness
    dee = h.server.user(3006, first_name="Dee")
    await enrol(h, dee, "P-SET3")
    message_id = last(dee).message_id
    for data in ["s|tz|Mars/Olympus", "s|lang|xx", "s|time|99:99", "s|menu|nope", "s|what|x"]:
        await h.press_data(dee, message_id, data)
        assert dee.callback_answers[-1].text
    patient = await _patient(h, "P-SET3")
    assert (patient.timezone, patient.locale, patient.checkin_time) == (
        "America/New_York",
        "en",
        "09:00",
    )
    stranger = h.server.user(3007, first_name="Stranger")
    await h.press_data(stranger, 1, "s|tz|Europe/London")
    assert "not valid" in (stranger.callback_answers[-1].text or "")


async def test_cities_patients_name_are_found(harness: Harness) -> None:
    h = harness
    for n, (typed, zone) in enumerate(
        [("Miami", "America/New_York"), ("Houston", "America/Chicago"),
         ("medellin", "America/Bogota"), ("BARCELONA", None)]
    ):  # fmt: skip
        user = h.server.user(3100 + n, first_name="Pat")
        await enrol(h, user, f"P-CTY{n}")
        await h.press(user, "English")
        await h.send(user, typed)
        patient = await _patient(h, f"P-CTY{n}")
        if zone is None:  # Spain's and Venezuela's: a choice, with the country
            assert {"Barcelona 🇪🇸 ES", "Barcelona 🇻🇪 VE"} <= set(last(user).labels)
            await h.press(user, "Barcelona 🇪🇸 ES")
            patient = await _patient(h, f"P-CTY{n}")
            assert patient.timezone == "Europe/Madrid"
        else:
            assert patient.timezone == zone, typed
            assert "check-in time" in last(user).text


def _live_zone_keyboards(user: Any) -> list[int]:
    """The messages whose buttons still set a time zone."""
    return [
        m.message_id
        for m in user.messages
        if any(data and data.startswith("s|ob_tz|") for row in m.buttons for _, data in row)
    ]


async def test_enrolment_promises_no_time_before_the_patient_chose_one(harness: Harness) -> None:
    h = harness
    ida = h.server.user(3200, first_name="Ida")
    await enrol(h, ida, "P-ONB4")
    consent = last(ida)
    assert "Every day at" not in consent.text and "America/New_York" not in consent.text
    await h.press(ida, "English")
    assert "Every day at" not in last(ida).text
    # A city it cannot find: one reply with the buttons; the earlier ones lose theirs.
    await h.send(ida, "Xyzzyville")
    assert _live_zone_keyboards(ida) == [last(ida).message_id]
    assert message(ida, consent.message_id).buttons == []
    assert "time zone" in message(ida, consent.message_id).text  # its question stays
    await h.send(ida, "Qwertyton")
    assert _live_zone_keyboards(ida) == [last(ida).message_id]
    await h.send(ida, "Houston")
    assert _live_zone_keyboards(ida) == []
    await h.press(ida, "08:00")
    assert "Every day at 08:00 (America/Chicago)" in last(ida).text
