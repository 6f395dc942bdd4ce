"""The due scan: find patients whose prompt time has come and open their check-in.

It works in batches of set-based statements (one query for the due patients, one insert for
their check-ins, one for their prompts, one update of their next prompt times), so a clinic's
whole morning costs a handful of round trips rather than several per patient.

A busy minute has thousands of patients who share a few check-in times, zones and
questionnaires: what follows from those alone (the plan of their day, when the window closes,
the question and its buttons) is worked out once per scan (:class:`_Scan`), not per patient.
Each batch is one transaction; between batches the scan leaves the event loop to whatever is
waiting (see ``LOOP_SHARE``), and a tap that queued for the writer meanwhile gets it before
the next batch (the lock is FIFO).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from time import thread_time
from typing import TypeVar
from zoneinfo import ZoneInfo

from bot.domain.checkin import CheckinStatus, first_position
from bot.domain.questionnaire import Questionnaire
from bot.domain.schedule import (
    DuePlan,
    parse_hhmm,
    plan_due,
    window_close,
    zone_or_error,
)
from bot.services import views
from bot.services.checkin.courses import current_course_start
from bot.services.checkin.day_questionnaire import questionnaire_for_day
from bot.services.outbox import Keyboard, OnSent, Priority, send_row
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.repositories.checkins import NewCheckin
from storage.repositories.outbox import NewOutboxMessage
from storage.repositories.patients import DuePatient
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)
_K = TypeVar("_K")
_V = TypeVar("_V")

BATCH_SIZE = 100
"""Patients per transaction: a batch holds the writer (on SQLite the event loop too) while it
runs, so batches stay short; larger ones saved no CPU that the noise did not hide, smaller
ones cost more (docs/performance.md, "Figures behind constants in the code")."""
LOOP_SHARE = 0.5
"""On SQLite, after a full batch the scan sleeps for this share of the CPU time the batch took,
so that while it runs it keeps at most two thirds of the event loop: a batch's statements run
inline and hold the loop for all of it. ``sleep(0)`` between batches is not enough: it lets
each waiting task take one step, and a tap takes several (the update read, handed on, handled,
queued for the writer...), so a tap moved one step per batch. Simulated taps waited several
times less with this than with ``sleep(0)`` or a fixed pause, for about half the scan's CPU
time added to its wall time (docs/performance.md, "Figures behind constants in the code")."""


class DueScan:
    """Turns due schedule rows into check-ins and queued prompts, in batches."""

    def __init__(self, runtime: Runtime, batch_size: int = BATCH_SIZE) -> None:
        self._rt = runtime
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> int:
        """Scan until no patient is due; return how many prompts were queued."""
        scan = _Scan(self._rt, now or self._rt.clock.now())
        queued = 0
        while True:
            started = thread_time()
            async with self._rt.uow() as uow:
                patients = await uow.patients.due(scan.now, self._batch_size)
                if not patients:
                    break
                queued += await scan.batch(uow, patients)
                await uow.commit()
            self._rt.wake_delivery()
            # No pause after a short batch: it held everyone due, and the next query (which
            # ends the scan) is short. On PostgreSQL every statement leaves the loop to others
            # while it waits for the server.
            if self._rt.uow.holds_event_loop and len(patients) == self._batch_size:
                await asyncio.sleep((thread_time() - started) * LOOP_SHARE)
        if queued:
            logger.info("due scan queued %d prompts", queued)
        return queued


def _kept(store: dict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    """``store[key]``, made by ``make()`` the first time it is asked for."""
    found = store.get(key)
    if found is None:
        found = store[key] = make()
    return found


class _Prompt:
    """The first question of a questionnaire in a locale, for any check-in."""

    def __init__(self, text: str, keyboard: Callable[[int], Keyboard]) -> None:
        self.text = text
        self.keyboard = keyboard


class _Scan:
    """One run of the due scan: its clock, and what it has worked out so far."""

    def __init__(self, runtime: Runtime, now: datetime) -> None:
        self._rt = runtime
        self.now = now
        self._cohorts: dict[int, Cohort] = {}
        self._slots: dict[tuple[str, str], tuple[time, ZoneInfo]] = {}
        self._plans: dict[tuple[str, str, datetime, int | None], DuePlan] = {}
        self._closes: dict[tuple[date, str, str, int | None], datetime] = {}
        self._keys: dict[tuple[int, date, date, str], str] = {}
        self._positions: dict[str, int] = {}
        self._prompts: dict[tuple[str, str], _Prompt] = {}

    async def batch(self, uow: UnitOfWork, patients: Sequence[DuePatient]) -> int:
        """Open the check-ins of one batch of due patients, queue their first questions and
        move their next prompt times on; return how many prompts were queued."""
        if any(patient.cohort_id not in self._cohorts for patient in patients):
            self._cohorts = {cohort.id: cohort for cohort in await uow.cohorts.all()}
        plans = [(patient, self._plan(patient)) for patient in patients]
        opening = [
            (patient, day, self._questionnaire_key(patient, day))
            for patient, plan in plans
            if (day := plan.prompt_date) is not None
        ]
        opened = await uow.checkins.open_many(
            [self._checkin_row(patient, day, key) for patient, day, key in opening]
        )
        # Days that passed while nothing ran: recorded as missed, never as zeros.
        await uow.checkins.open_many(
            [
                self._missed_row(patient, day)
                for patient, plan in plans
                for day in plan.missed_dates
            ]
        )
        queued = await uow.outbox.enqueue_many(self._prompt_rows(opening, opened))
        await uow.patients.set_next_prompts(
            [(patient.id, plan.next_prompt_at) for patient, plan in plans]
        )
        return queued

    def _slot(self, patient: DuePatient) -> tuple[time, ZoneInfo]:
        """The patient's check-in time and zone, parsed."""
        at, zone = patient.checkin_time, patient.timezone
        return _kept(self._slots, (at, zone), lambda: (parse_hhmm(at), zone_or_error(zone)))

    def _plan(self, patient: DuePatient) -> DuePlan:
        """``plan_due`` for the patient: a function of the slot, the due time and the window."""
        hours = self._cohorts[patient.cohort_id].checkin_window_hours
        due = patient.next_prompt_at
        return _kept(
            self._plans,
            (patient.checkin_time, patient.timezone, due, hours),
            lambda: plan_due(*self._slot(patient), due, self.now, hours),
        )

    def _closes_at(self, patient: DuePatient, day: date) -> datetime:
        """When the patient's check-in of a day closes."""
        hours = self._cohorts[patient.cohort_id].checkin_window_hours
        return _kept(
            self._closes,
            (day, patient.checkin_time, patient.timezone, hours),
            lambda: window_close(day, *self._slot(patient), hours),
        )

    def _questionnaire_key(self, patient: DuePatient, day: date) -> str:
        """The key of the questionnaire the patient is asked on a day: it depends on the
        cohort, the day, the (local) day the patient's course began and the patient's language
        (an instrument without a validated translation in it is left out), nothing else."""
        started_on = current_course_start(patient)
        cohort = self._cohorts[patient.cohort_id]
        return _kept(
            self._keys,
            (patient.cohort_id, day, started_on, patient.locale),
            lambda: questionnaire_for_day(self._rt.config, cohort, patient, day),
        )

    def _first_position(self, key: str) -> int:
        return _kept(self._positions, key, lambda: first_position(self._questionnaire(key)))

    def _questionnaire(self, key: str) -> Questionnaire:
        return self._rt.config.questionnaires[key]

    def _checkin_row(self, patient: DuePatient, day: date, key: str) -> NewCheckin:
        return {
            "patient_id": patient.id,
            "local_date": day,
            "timezone": patient.timezone,
            "questionnaire": key,
            "status": CheckinStatus.OPEN.value,
            "item": self._questionnaire(key).items[self._first_position(key)].id,
            "opened_at": self.now,
            "closes_at": self._closes_at(patient, day),
            "completed_at": None,
            "version": 0,
        }

    def _missed_row(self, patient: DuePatient, day: date) -> NewCheckin:
        row = self._checkin_row(patient, day, self._questionnaire_key(patient, day))
        row.update({"status": CheckinStatus.MISSED.value, "completed_at": self.now})
        return row

    def _prompt(self, key: str, locale: str) -> _Prompt:
        """The first question of a questionnaire in a locale: its text and its buttons."""
        return _kept(self._prompts, (key, locale), lambda: self._make_prompt(key, locale))

    def _make_prompt(self, key: str, locale: str) -> _Prompt:
        questionnaire, first = self._questionnaire(key), self._first_position(key)
        renderer = self._rt.renderer
        return _Prompt(
            views.question_text(renderer, questionnaire, first, locale),
            views.question_keyboards(renderer, questionnaire, first, locale),
        )

    def _prompt_rows(
        self, opening: Sequence[tuple[DuePatient, date, str]], opened: dict[int, int]
    ) -> list[NewOutboxMessage]:
        """First questions for the check-ins this batch created (not ones begun by /checkin)."""
        rows = []
        for patient, day, key in opening:
            checkin_id = opened.get(patient.id)
            if checkin_id is None:
                continue
            prompt = self._prompt(key, patient.locale)
            rows.append(
                send_row(
                    now=self.now,
                    chat_id=patient.chat_id,
                    text=prompt.text,
                    priority=Priority.ROUTINE,
                    keyboard=prompt.keyboard(checkin_id),
                    dedup_key=f"prompt:{patient.id}:{day}",
                    on_sent=OnSent.CHECKIN_MESSAGE,
                    ref_id=checkin_id,
                    patient_id=patient.id,
                )
            )
        return rows
