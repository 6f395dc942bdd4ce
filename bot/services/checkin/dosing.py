"""Provider commands about a patient's treatment: ``/dosing`` (the dosing schedule),
``/course`` (a new treatment course) and ``/optional`` (optional items).

Each returns what the group is answered and what is audited; ``bot.services.provider.care``
finds the patient, replies and audits (``bot.services.provider.steps``: one place for how
provider commands answer). Role
restriction, where roles exist, applies to these commands by name (the provider command
policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import ConfigError
from bot.domain.dosing import DosingError, parse_dosing, stored_schedule
from bot.domain.optional_items import ITEMS, enabled_items, parse_items, store_items
from bot.domain.schedule import local_date, zone_or_error
from bot.services.checkin.courses import current_course_start
from bot.services.runtime import Runtime
from storage.models import Cohort, Patient

COMMANDS = frozenset({"dosing", "course", "optional"})
"""The commands this module answers (with a label and more arguments after it)."""


@dataclass(slots=True)
class Outcome:
    """A command's answer: a template and its values; an audit action when something
    changed, or the reason it was refused (then it is answered as a refusal)."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    audit: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None


def treatment_view(runtime: Runtime, cohort: Cohort, patient: Patient) -> dict[str, Any]:
    """What ``/patient`` shows of a patient's treatment: schedule, course, optional items."""
    schedule = stored_schedule(patient.dosing_days, patient.dosing_time)
    return {
        "dosing": None
        if schedule is None
        else {"days": schedule.days_text.split(","), "time": schedule.time_text},
        "course_started_on": current_course_start(patient).isoformat(),
        "course_recorded": patient.course_started_on is not None,
        "optional": sorted(_enabled(runtime, cohort, patient), key=ITEMS.index),
        "optional_default": patient.optional_items is None,
    }


def _enabled(runtime: Runtime, cohort: Cohort, patient: Patient) -> frozenset[str]:
    try:
        default: tuple[str, ...] = runtime.config.cohort(cohort.name).optional_items
    except ConfigError:
        default = ()
    return enabled_items(patient.optional_items, default)


class DosingCommands:
    """``/dosing``, ``/course`` and ``/optional`` for one patient of a cohort."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def run(
        self, now: datetime, name: str, cohort: Cohort, patient: Patient, args: tuple[str, ...]
    ) -> Outcome:
        """Apply a command's arguments (those after the label) to the patient."""
        if name == "dosing":
            return self._dosing(now, patient, args)
        if name == "course":
            return self._course(now, patient, args)
        return self._optional(cohort, patient, args)

    def _dosing(self, now: datetime, patient: Patient, args: tuple[str, ...]) -> Outcome:
        try:
            schedule = parse_dosing(args)
        except DosingError as error:
            reason = {"bad_days": "dose_days", "bad_time": "dose_time"}.get(
                error.reason, error.reason
            )
            return Outcome("provider_usage", refused=reason)
        if schedule is None:
            had = patient.dosing_days is not None
            patient.dosing_days = patient.dosing_time = patient.dosing_since = None
            return Outcome(
                "provider_dosing_off",
                {"label": patient.label, "had": had},
                audit="dosing_schedule_cleared" if had else None,
            )
        patient.dosing_days = schedule.days_text
        patient.dosing_time = schedule.time_text
        # Doses from now on get a post-dose check; earlier ones were not scheduled here.
        patient.dosing_since = now
        return Outcome(
            "provider_dosing_set",
            {
                "label": patient.label,
                "days": schedule.days_text.split(","),
                "time": schedule.time_text,
                "timezone": patient.timezone,
            },
            audit="dosing_schedule_set",
            details={"days": schedule.days_text, "time": schedule.time_text},
        )

    def _course(self, now: datetime, patient: Patient, args: tuple[str, ...]) -> Outcome:
        if [a.lower() for a in args] != ["start"]:
            return Outcome("provider_usage", refused="bad_arguments")
        today = local_date(now, zone_or_error(patient.timezone))
        patient.course_started_on = today
        return Outcome(
            "provider_course_started",
            {"label": patient.label, "date": today.isoformat()},
            audit="course_started",
            details={"started_on": today.isoformat()},
        )

    def _optional(self, cohort: Cohort, patient: Patient, args: tuple[str, ...]) -> Outcome:
        words = [a.lower() for a in args]
        if words == ["default"]:
            patient.optional_items = None
        elif len(words) == 2 and words[0] in ITEMS and words[1] in {"on", "off"}:
            current = set(_enabled(self._rt, cohort, patient))
            if words[1] == "on":
                current.add(words[0])
            else:
                current.discard(words[0])
            patient.optional_items = store_items(current)
        elif words:
            return Outcome("provider_usage", refused="optional_item")
        items = sorted(_enabled(self._rt, cohort, patient), key=ITEMS.index)
        values = {
            "label": patient.label,
            "items": items,
            "default": parse_items(patient.optional_items) is None,
        }
        if not words:
            return Outcome("provider_optional", values)
        return Outcome(
            "provider_optional",
            values,
            audit="optional_items_set",
            details={"items": store_items(items), "default": values["default"]},
        )
