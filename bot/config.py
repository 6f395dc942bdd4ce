"""The cohort configuration file (TOML), checked completely before the bot starts."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.alerts import ItemRule
from bot.domain.questionnaire import Questionnaire, QuestionnaireError
from bot.domain.schedule import parse_hhmm, zone_or_error
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.render import Renderer
from prompts.rules import RULES, RulesError, check_rules_against, load_rules

REGIONS = {"US", "CA", "UK", "GB", "IE", "EU", "OTHER"}


class ConfigError(ValueError):
    """A configuration problem, in one line naming the file, the cohort and the field."""


class CohortConfig(BaseModel):
    """One cohort: a provider group, its patients' defaults and its questionnaire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    provider_chat_id: int = Field(lt=0, description="Telegram group ids are negative")
    timezone: str = "UTC"
    locale: str = "en"
    region: str = "OTHER"
    questionnaire: str = "daily"
    checkin_time: str = "09:00"
    invite_valid_days: int = Field(default=7, ge=1, le=90)
    reminder_after_hours: int | None = Field(default=3, ge=1, le=23)
    """One reminder this long after an unfinished check-in opened; unset: no reminder."""
    checkin_window_hours: int | None = Field(default=None, ge=1, le=24)
    """How long a day's check-in stays open after the prompt time; unset: to the end of the
    patient's local day."""
    common_timezones: tuple[str, ...] = ()
    """Time zones offered as buttons when a patient sets theirs; empty: the cohort's own."""
    common_times: tuple[str, ...] = ("08:00", "09:00", "12:00", "18:00", "20:00")
    """Check-in times offered as buttons (HH:MM); patients may also type any time."""
    team_hours: str | None = Field(default=None, max_length=80)
    """When the care team reads messages, as shown to patients (e.g. "Mon-Fri 9:00-17:00");
    unset: the reply to free text does not say when to expect an answer."""
    share_text_with_group: bool = False
    """Show a patient's free text in the provider group (default: the label only)."""
    retention_after_delete: Literal["none", "audit"] = "audit"
    """What /delete keeps: "audit" keeps the audit trail (ids and event names) and a
    pseudonymous patient row; "none" keeps nothing about the patient."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_or_error(value)
        return value

    @field_validator("checkin_time")
    @classmethod
    def _time(cls, value: str) -> str:
        parsed = parse_hhmm(value)
        return parsed.strftime("%H:%M")

    @field_validator("common_timezones")
    @classmethod
    def _zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            zone_or_error(name)
        if len(value) > 12:
            raise ValueError("offer at most 12 time zones")
        return value

    @field_validator("common_times")
    @classmethod
    def _times(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not 1 <= len(value) <= 12:
            raise ValueError("offer between 1 and 12 times")
        return tuple(parse_hhmm(item).strftime("%H:%M") for item in value)

    @property
    def offered_timezones(self) -> tuple[str, ...]:
        """Return the zones to offer as buttons (the cohort's own zone when none are set)."""
        return self.common_timezones or (self.timezone,)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.upper()
        if value not in REGIONS:
            raise ValueError(f"must be one of {', '.join(sorted(REGIONS))}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the cohort's default time zone."""
        return ZoneInfo(self.timezone)

    @property
    def default_time(self) -> time:
        """Return the cohort's default check-in time."""
        return parse_hhmm(self.checkin_time)


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    cohort: list[CohortConfig] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The whole validated configuration: cohorts, questionnaires, rules."""

    cohorts: tuple[CohortConfig, ...]
    questionnaires: dict[str, Questionnaire]
    rules: tuple[ItemRule, ...]

    def cohort(self, name: str) -> CohortConfig:
        """Return a cohort by name; raise ConfigError if there is none."""
        for cohort in self.cohorts:
            if cohort.name == name:
                return cohort
        raise ConfigError(f"there is no cohort named {name!r} in the configuration")


def load_config(
    path: Path, renderer: Renderer | None = None, rules_path: Path = RULES
) -> AppConfig:
    """Load and check the configuration file and everything it refers to."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found (set MOODCHECK_CONFIG; see moodcheck.example.toml)"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _where(raw, error["loc"])
        raise ConfigError(f"config file {path}: {where}: {error['msg']}") from None
    cohorts = tuple(parsed.cohort)
    for field in ("name", "provider_chat_id"):
        values = [getattr(c, field) for c in cohorts]
        if len(set(values)) != len(values):
            raise ConfigError(f"config file {path}: two cohorts share a {field}")
    questionnaires: dict[str, Questionnaire] = {}
    try:
        rules = load_rules(rules_path)
        for cohort in cohorts:
            if cohort.questionnaire not in questionnaires:
                questionnaire = load_questionnaire(questionnaire_path(cohort.questionnaire))
                check_rules_against(rules, questionnaire)
                questionnaires[cohort.questionnaire] = questionnaire
    except (QuestionnaireError, RulesError) as exc:
        raise ConfigError(str(exc)) from None
    renderer = renderer or Renderer()
    for cohort in cohorts:
        if cohort.locale not in renderer.locales:
            raise ConfigError(
                f"config file {path}: cohort {cohort.name!r}: locale {cohort.locale!r} has no "
                f"templates (have: {', '.join(renderer.locales)})"
            )
    return AppConfig(cohorts=cohorts, questionnaires=questionnaires, rules=rules)


def _where(raw: object, loc: tuple[int | str, ...]) -> str:
    """Describe an error location as 'cohort NAME, field FIELD'."""
    if len(loc) >= 2 and loc[0] == "cohort" and isinstance(loc[1], int):
        name = "?"
        if isinstance(raw, dict):
            entries = raw.get("cohort")
            if isinstance(entries, list) and loc[1] < len(entries):
                entry = entries[loc[1]]
                if isinstance(entry, dict):
                    name = str(entry.get("name", f"#{loc[1] + 1}"))
        rest = ".".join(str(part) for part in loc[2:])
        return f"cohort {name!r}, field {rest!r}" if rest else f"cohort {name!r}"
    return "field " + repr(".".join(str(part) for part in loc))
