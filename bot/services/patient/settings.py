"""Patient settings: language, time zone and check-in time, at onboarding and via /settings.

One message walks through the steps and is edited in place as the patient taps. Typed input
(a city, an IANA zone name, an ``HH:MM`` time) is read while ``patients.awaiting`` says which
answer is expected; it is answered with a new message, since the bot cannot know which
message to edit.

Button fields (``s|<field>|<value>``): ``ob_lang``, ``ob_tz``, ``ob_time`` during onboarding
(each leads to the next step), ``lang``, ``tz``, ``time``, ``region`` from /settings (each
leads back to the summary), and ``menu`` (which setting to change).

The crisis card's region follows the time zone: choosing a zone (at onboarding or later) sets
the region it gives (``Regions.for_zone``); /settings can then pick another region.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cohort_config import CohortConfig
from bot.config import ConfigError
from bot.domain.callback_data import SettingButton, encode
from bot.domain.lifecycle import LEFT, PatientStatus
from bot.domain.regions import FALLBACK
from bot.domain.schedule import next_occurrence, parse_hhmm, zone_or_error
from bot.domain.timezones import city_of, find_zone, parse_time_of_day
from bot.services.alerts.crisis_card import patient_region
from bot.services.envelope import Refuse, in_update
from bot.services.outbox import Keyboard
from bot.services.runtime import Runtime
from prompts.cities import load_cities
from prompts.render import DEFAULT_LOCALE
from storage.models import Cohort, Patient
from storage.uow import UnitOfWork

STEPS = ("lang", "tz", "time")
SETTINGS_ONLY = ("region",)
"""Steps /settings offers that onboarding does not ask (the zone chose the region)."""
ONBOARDING = "ob_"
AWAITING_TTL = timedelta(minutes=30)
"""Typed text stops counting as a setting this long after the question was asked, so a
message written days later reaches the care team instead of being read as a city."""


@functools.cache
def available_zones() -> frozenset[str]:
    """Return the IANA zone names the installed tz database knows (read once)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True, slots=True)
class Step:
    """Where a settings conversation is: a step (or the summary) and whether it onboards."""

    name: str
    """``lang``, ``tz``, ``time`` or ``summary``."""
    onboarding: bool

    @property
    def field(self) -> str:
        """Return the button field (and ``awaiting`` value) of this step."""
        return f"{ONBOARDING if self.onboarding else ''}{self.name}"

    @classmethod
    def of_field(cls, field: str) -> Step | None:
        """Return the step a button field or ``awaiting`` value names, if any."""
        field = _awaited(field)[0]
        onboarding = field.startswith(ONBOARDING)
        name = field.removeprefix(ONBOARDING)
        known = name in STEPS or (not onboarding and name in SETTINGS_ONLY)
        return cls(name, onboarding) if known else None

    def after(self) -> Step:
        """Return the step that follows a choice made at this one."""
        if self.onboarding and self.name != STEPS[-1]:
            return Step(STEPS[STEPS.index(self.name) + 1], onboarding=True)
        return Step("summary", self.onboarding)


async def cohort_of(rt: Runtime, uow: UnitOfWork, patient: Patient) -> tuple[Cohort, CohortConfig]:
    """Return a patient's cohort row and its configuration.

    A cohort taken out of the configuration file stays in the database; its patients then get
    the built-in defaults for what only the file says (offered zones and times).
    """
    cohort = await uow.cohorts.get(patient.cohort_id)
    assert cohort is not None  # noqa: S101 - foreign key
    try:
        return cohort, rt.config.cohort(cohort.name)
    except ConfigError:
        return cohort, CohortConfig(
            name=cohort.name,
            provider_chat_id=cohort.provider_chat_id,
            timezone=cohort.timezone,
            locale=cohort.locale,
            region=cohort.region,
            # Only the settings read this stand-in; the crisis card treats a cohort missing
            # from the file as having unknown hours (``Alerting.card``).
            coverage="24/7",
        )


def _name(names: Mapping[str, str], locale: str) -> str:
    """A region's name in a locale (every template locale has one: checked at start-up)."""
    return names.get(locale) or names[DEFAULT_LOCALE]


def _awaited(awaiting: str) -> tuple[str, str | None, int | None]:
    """Split an ``awaiting`` value into the step's field and where its live buttons are: a
    Telegram message id (``ob_tz@123``: the message the patient tapped) or the token of an
    outbox message (``ob_tz~ab12cd34``: the one sent after typed text; its id comes when
    it is sent)."""
    field, at, message = awaiting.partition("@")
    if at and message.isdigit():
        return field, None, int(message)
    field, tilde, token = field.partition("~")
    return field, (token if tilde and token else None), None


def _dedup_key(patient: Patient, token: str) -> str:
    return f"settings:{patient.id}:{token}"


def _rows(buttons: list[dict[str, str]], per_row: int) -> Keyboard:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _button(text: str, field: str, value: str) -> dict[str, str]:
    return {"text": text, "callback_data": encode(SettingButton(field, value))}


class SettingsService:
    """Asks for and applies a patient's language, time zone and check-in time."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # --- views ---

    def view(
        self,
        patient: Patient,
        cohort: CohortConfig,
        step: Step,
        zones: tuple[tuple[str, str], ...] = (),
    ) -> tuple[str, Keyboard]:
        """Return the text and buttons of a step for a patient (``zones``: offer these, as
        (label, zone) pairs)."""
        render, locale = self._rt.renderer.render, patient.locale
        regions = self._rt.config.regions
        region = patient_region(regions, patient.region, patient.timezone, cohort.region)
        values = {
            "checkin_time": patient.checkin_time,
            "timezone": patient.timezone,
            "language": render("language_name", locale),
            "region": _name(regions.get(region).name, locale),
        }
        if step.name == "lang":
            buttons = [
                _button(render("language_name", code), step.field, code)
                for code in self._rt.renderer.locales
            ]
            return render("settings_language", locale, **values), _rows(buttons, 2)
        if step.name == "tz":
            offered = zones or tuple((city_of(z), z) for z in cohort.offered_timezones)
            buttons = [_button(label, step.field, zone) for label, zone in offered]
            return render("settings_timezone", locale, **values), _rows(buttons, 2)
        if step.name == "time":
            buttons = [_button(at, step.field, at) for at in cohort.common_times]
            return render("settings_time", locale, **values), _rows(buttons, 3)
        if step.name == "region":
            names = {code: _name(regions.get(code).name, locale) for code in regions.codes}
            # Alphabetical in the patient's language, "another country" last.
            order = sorted((c for c in names if c != FALLBACK), key=names.__getitem__)
            buttons = [_button(names[c], step.field, c) for c in (*order, FALLBACK)]
            other = _name(regions.get(FALLBACK).name, locale)
            return render("settings_region", locale, other=other, **values), _rows(buttons, 2)
        menu = [
            _button(render("button_change_time", locale), "menu", "time"),
            _button(render("button_change_timezone", locale), "menu", "tz"),
            _button(render("button_change_language", locale), "menu", "lang"),
            _button(render("button_change_region", locale), "menu", "region"),
        ]
        return render("settings_summary", locale, **values), _rows(menu, 1)

    # --- use cases ---

    async def onboarding(self, uow: UnitOfWork, patient: Patient) -> tuple[str, Keyboard]:
        """Return the first onboarding question (shown in the consent message, edited)."""
        _, cohort = await cohort_of(self._rt, uow, patient)
        return self.view(patient, cohort, Step("lang", onboarding=True))

    async def show(self, update_id: int, user_id: int, chat_id: int) -> None:
        """Handle /settings: show the current settings with buttons to change each."""

        async def show(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status in LEFT:
                reply = "not_enrolled" if patient is None else "withdrawn_reply"
                locale = patient.locale if patient is not None else "en"
                await self._rt.outbound(uow, now).reply(
                    chat_id, reply, locale, enrolled=patient is not None
                )
            else:
                _, cohort = await cohort_of(self._rt, uow, patient)
                patient.awaiting = None
                text, keyboard = self.view(patient, cohort, Step("summary", onboarding=False))
                # A private chat's id is its user's: ``chat_id`` is the patient's chat.
                await self._rt.outbound(uow, now).text_to_patient(patient, text, keyboard=keyboard)

        await in_update(self._rt, update_id, show)

    async def choose(
        self, update_id: int, user_id: int, message_id: int, button: SettingButton
    ) -> str | None:
        """Handle a tap on a settings button; return a short notice for the tapper, if any."""

        async def choose(uow: UnitOfWork, now: datetime) -> None:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None:
                raise Refuse(self._rt.renderer.render("button_refused", "en"))
            if patient.status in LEFT:
                raise Refuse(self._rt.renderer.render("not_active", patient.locale))
            _, cohort = await cohort_of(self._rt, uow, patient)
            if button.field == "menu":
                step = Step.of_field(button.value)
                if step is None:
                    raise Refuse(self._rt.renderer.render("button_refused", patient.locale))
                next_step = step
            else:
                step = Step.of_field(button.field)
                if step is None or not self._apply(patient, cohort, step.name, button.value, now):
                    raise Refuse(self._rt.renderer.render("button_refused", patient.locale))
                next_step = step.after()
            self._await(patient, next_step, now, f"@{message_id}")
            text, keyboard = self.view(patient, cohort, next_step)
            await self._rt.outbound(uow, now).edit_patient_text(
                patient, message_id, text, keyboard=keyboard
            )

        return await in_update(self._rt, update_id, choose)

    def expects_input(self, patient: Patient, now: datetime) -> Step | None:
        """Return the step whose typed answer the patient's next text is, if any."""
        if patient.awaiting is None or patient.updated_at + AWAITING_TTL < now:
            return None
        return Step.of_field(patient.awaiting)

    async def typed(
        self, uow: UnitOfWork, now: datetime, patient: Patient, step: Step, text: str
    ) -> None:
        """Read typed text as the answer to a step, inside the caller's unit of work.

        The reply never repeats what was typed.
        """
        _, cohort = await cohort_of(self._rt, uow, patient)
        error: str | None = None
        zones: tuple[tuple[str, str], ...] = ()
        value: str | None = None
        if step.name == "tz":
            # About 34,000 cities, parsed once (a second or so): off the event loop.
            cities = await asyncio.to_thread(load_cities)
            match = find_zone(text, available_zones(), cities)
            value = match.zone
            if value is None and match.zones:
                error, zones = "timezone_ambiguous", match.choices()
            elif value is None:
                error = "timezone_unknown"
        elif step.name == "time":
            parsed = parse_time_of_day(text)
            value = None if parsed is None else parsed.strftime("%H:%M")
            error = "time_invalid" if parsed is None else None
        # The step's earlier message loses its buttons: only the reply below keeps live
        # ones, so two messages never offer time zones (or times) at once.
        await self._retire(uow, now, patient, cohort, step)
        token = secrets.token_hex(4)
        if value is not None and self._apply(patient, cohort, step.name, value, now):
            next_step = step.after()
            self._await(patient, next_step, now, f"~{token}")
            body, keyboard = self.view(patient, cohort, next_step)
        else:
            self._await(patient, step, now, f"~{token}")
            body, keyboard = self.view(patient, cohort, step, zones)
            notice = self._rt.renderer.render(error or "time_invalid", patient.locale)
            body = notice if zones else f"{notice}\n\n{body}"
        await self._rt.outbound(uow, now).text_to_patient(
            patient, body, keyboard=keyboard, dedup_key=_dedup_key(patient, token)
        )

    async def _retire(
        self, uow: UnitOfWork, now: datetime, patient: Patient, cohort: CohortConfig, step: Step
    ) -> None:
        """Take the buttons off the message that asked ``step`` (if it is known and sent):
        its text stays, as the step's question."""
        if patient.awaiting is None:
            return
        _, token, message_id = _awaited(patient.awaiting)
        if token is not None:
            message_id = await uow.outbox.sent_message_id(_dedup_key(patient, token))
        if message_id is None:
            return
        text, _ = self.view(patient, cohort, step)
        await self._rt.outbound(uow, now).edit_patient_text(patient, message_id, text)

    # --- helpers ---

    def _apply(
        self, patient: Patient, cohort: CohortConfig, name: str, value: str, now: datetime
    ) -> bool:
        """Set one setting; False when the value is not acceptable (forged or stale)."""
        regions = self._rt.config.regions
        if name == "lang":
            if value not in self._rt.renderer.locales:
                return False
            patient.locale = value
        elif name == "tz":
            if value not in available_zones():
                return False
            patient.timezone = value
            patient.region = regions.for_zone(value, cohort.region)
        elif name == "region":
            if value not in regions.by_code:
                return False
            patient.region = value
        elif name == "time":
            try:
                patient.checkin_time = parse_hhmm(value).strftime("%H:%M")
            except ValueError:
                return False
        else:
            return False
        if name in {"tz", "time"} and patient.status == PatientStatus.ACTIVE:
            patient.next_prompt_at = next_occurrence(
                parse_hhmm(patient.checkin_time), zone_or_error(patient.timezone), now
            )
        patient.updated_at = now
        return True

    @staticmethod
    def _await(patient: Patient, step: Step, now: datetime, where: str = "") -> None:
        """Expect typed text for ``step``; ``where``: which message shows its buttons
        (``@<message id>`` or ``~<outbox token>``, see ``_awaited``)."""
        patient.awaiting = f"{step.field}{where}" if step.name in {"tz", "time"} else None
        patient.updated_at = now
