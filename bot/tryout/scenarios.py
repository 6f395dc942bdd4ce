"""One-click stories for the sandbox page, each played through the real bot.

A scenario adds a new patient (invite in the group, ``/start``, consent and onboarding
tapped in their phone) and then does what that patient would: taps, typed words, days
passing on the bot's clock. Nothing is written to the database behind the bot's back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from bot.domain.schedule import wall_time_to_utc
from bot.domain.weekly import WEEKDAYS
from bot.tryout.travel import PAST, travel_to
from bot.tryout.world import ActionError, Phone, World

__all__ = ["SCENARIOS", "play"]

ONBOARDING = {
    "en": ("I agree", "English", "London", "09:00"),
    "es": ("Acepto", "Español", "Madrid", "09:00"),
}
# A calm day in English, one label per daily item (mood and anxiety vary over the week).
CALM = ("Good", "Good", "As prescribed", "None", "No")
GOOD_WEEK = ((7, 3), (8, 2), (7, 3), (8, 2), (8, 2), (7, 3), (8, 2))
# Answers to the weekly instruments on a calm day, tapped while the message offers them.
CALM_INSTRUMENT_ANSWERS = ("Not at all", "Not difficult at all")
SPANISH_CRISIS = "Últimamente estoy muy cansada y a veces pienso que me quiero matar."


async def enrol(world: World, locale: str) -> Phone:
    """A new patient: invite, /start, consent and onboarding (language, zone, time)."""
    phone = await world.add_patient(locale)
    await world.tap(phone, *ONBOARDING[locale])
    return phone


async def to_checkin_of(world: World, phone: Phone) -> None:
    """Move the clock to this patient's next scheduled prompt (every scan runs on the way)."""
    async with world.bot.services.runtime.uow() as uow:
        patient = await uow.patients.by_telegram_user(phone.chat_id)
        due = patient.next_prompt_at if patient is not None else None
    if due is None:
        raise ActionError(f"{phone.label} has no check-in scheduled.")
    await travel_to(world, max(world.clock.now(), due + PAST))


def _offers(phone: Phone, label: str) -> bool:
    message = phone.user.last_message
    return message is not None and label in message.labels


async def finish_calmly(world: World, phone: Phone) -> None:
    """Answer the weekly instruments calmly while the newest message asks them."""
    for _ in range(40):  # PHQ-9 and GAD-7 with their difficulty items: 18 taps
        label = next((a for a in CALM_INSTRUMENT_ANSWERS if _offers(phone, a)), None)
        if label is None:
            return
        await world.tap(phone, label)


async def good_week(world: World) -> str:
    """Seven calm check-ins, one a day at the patient's time."""
    phone = await enrol(world, "en")
    for mood, anxiety in GOOD_WEEK:
        await to_checkin_of(world, phone)
        await world.tap(phone, str(mood), str(anxiety), *CALM)
        await finish_calmly(world, phone)
    return f"A good week for {phone.label}: seven check-ins, no alert."


async def safety_yes(world: World) -> str:
    """A check-in now, answering "Yes" to the safety question."""
    phone = await enrol(world, "en")
    await world.send(phone.chat_id, "/checkin")
    await world.tap(phone, "6", "5", "OK", "OK", "As prescribed", "None", "Yes")
    return f"{phone.label} answered Yes to the safety question: crisis card and alert."


async def spanish_crisis_words(world: World) -> str:
    """A Spanish-speaking patient writes a clear statement of wanting to die."""
    phone = await enrol(world, "es")
    await world.send(phone.chat_id, SPANISH_CRISIS)
    return f"{phone.label} wrote crisis words in Spanish: crisis card and alert."


async def three_missed_days(world: World) -> str:
    """Three prompts left unanswered; the fourth day's prompt comes after the third closed."""
    phone = await enrol(world, "en")
    for _ in range(4):
        await to_checkin_of(world, phone)
    return f"{phone.label} missed three days in a row: see the group."


async def _instrument_day(world: World, phone: Phone) -> None:
    """Move to the cohort's instrument day at 10:00 local, unless today is one."""
    cohort = world.cohort
    now = world.clock.now()
    today = now.astimezone(cohort.zone).date()
    wait = (WEEKDAYS.index(cohort.instrument_weekday) - today.weekday()) % 7
    if wait:
        day = today + timedelta(days=wait)
        target: datetime = wall_time_to_utc(day, time(10, 0), cohort.zone)
        await travel_to(world, target)
    del phone


async def phq9_item9(world: World) -> str:
    """On the instrument day: a calm daily check-in, then the PHQ-9 with item 9 above 0."""
    phone = await enrol(world, "en")
    await _instrument_day(world, phone)
    await world.send(phone.chat_id, "/checkin")
    await world.tap(phone, "6", "4", *CALM)
    if not _offers(phone, "Several days"):
        raise ActionError("The PHQ-9 did not follow the daily items.")
    await world.tap(phone, *(["Several days"] * 9))
    return f"{phone.label} answered PHQ-9 item 9 'Several days': see the follow-up and alert."


SCENARIOS: dict[str, tuple[str, Callable[[World], Awaitable[str]]]] = {
    "good-week": ("A good week", good_week),
    "safety-yes": ("A safety “yes”", safety_yes),
    "spanish-crisis": ("Crisis words in Spanish", spanish_crisis_words),
    "missed-days": ("Three missed days", three_missed_days),
    "phq9-item9": ("PHQ-9 item 9 above 0", phq9_item9),
}


async def play(world: World, name: str) -> str:
    """Play a scenario; return what the page's status line says afterwards."""
    return await SCENARIOS[name][1](world)
