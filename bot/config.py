"""The cohort configuration file (TOML), checked completely before the bot starts."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.alerts import ItemRule
from bot.domain.coverage import WEEKDAYS, Coverage
from bot.domain.escalation_rules import EscalationRules
from bot.domain.questionnaire import Questionnaire, QuestionnaireError
from bot.domain.regions import ALIASES, FALLBACK, Regions
from bot.domain.schedule import parse_hhmm, zone_or_error
from bot.domain.team_hours import ALWAYS
from bot.domain.weekly import PCL5, WEEKLY, composite_id
from prompts.alert_names import AlertNames, AlertNamesError, load_alert_names
from prompts.escalation import ESCALATION, EscalationRulesError, load_escalation_rules
from prompts.follow_ups import FollowUpNames, FollowUpsError, load_follow_ups
from prompts.item_names import ItemNames, ItemNamesError, load_item_names, rule_items
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.regions import REGIONS, RegionsError, load_regions
from prompts.render import Renderer
from prompts.rules import RULES, RulesError, check_rules_against, load_rules

SIDE_QUESTIONNAIRES = ("post_dose", "optional_items")
"""Asked apart from the daily check-in (bot.services.checkin.side_checks), whatever the cohort."""
_COVERAGE_UNION = ("CoverageConfig", "literal['24/7']")
"""How pydantic names the two forms of ``coverage`` in an error's location (left out)."""
_COVERAGE_HELP = (
    'the care team\'s hours, e.g. coverage = { days = ["mon", "tue", "wed", "thu", '
    '"fri"], start = "09:00", end = "17:00" }, or coverage = "24/7"'
)


class ConfigError(ValueError):
    """A configuration problem, in one line naming the file, the cohort and the field."""


class CoverageConfig(BaseModel):
    """When the care team watches the provider group (local time of the cohort)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = Field(
        min_length=1, max_length=7
    )
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return parse_hhmm(value).strftime("%H:%M")

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and parse_hhmm(value) <= parse_hhmm(start):
            raise ValueError("must be after 'start' (a working day does not wrap midnight)")
        return value

    def at(self, zone: ZoneInfo) -> Coverage:
        """Return the pure coverage value in a time zone."""
        return Coverage(
            days=frozenset(WEEKDAYS.index(day) for day in self.days),
            start=parse_hhmm(self.start),
            end=parse_hhmm(self.end),
            zone=zone,
        )


class CohortConfig(BaseModel):
    """One cohort: a provider group, its patients' defaults and its questionnaire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    provider_chat_id: int = Field(lt=0, description="Telegram group ids are negative")
    timezone: str = "UTC"
    locale: str = "en"
    region: str = FALLBACK
    """The crisis card's region for patients whose time zone does not say where they are
    (UTC and the like); a patient's own region comes from their zone (prompts/regions.yaml)."""
    questionnaire: str = "daily"
    checkin_time: str = "09:00"
    invite_valid_days: int = Field(default=7, ge=1, le=90)
    reminder_after_hours: int | None = Field(default=3, ge=1, le=23)
    """One reminder this long after an unfinished check-in opened; unset: no reminder."""
    weekly_instruments: list[str] = Field(default_factory=list)
    """Validated instruments asked weekly after the daily items: any of phq9, gad7."""
    instrument_weekday: str = "mon"
    pcl5_every_weeks: int | None = Field(default=None, ge=1, le=12)
    """Ask the PCL-5 every N weeks (4 is the usual); unset: never."""
    instrument_delivery: Literal["after_daily", "own_message"] = "after_daily"
    """How the instruments are asked on their day: "after_daily" in the same message right
    after the daily items; "own_message" in a new message once the daily part is finished (or
    skipped), so the daily part stays short and its alerts do not wait for them."""
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
    """Show a patient's free text in the provider group (default: the label only; the team
    reads it with /messages LABEL)."""
    max_self_pause_days: int = Field(default=7, ge=1, le=60)
    """The longest pause a patient can choose themselves (/pause offers lengths up to it);
    a longer one is the care team's /pause LABEL DAYS. Every self-pause is posted to the
    group as a ROUTINE notice."""
    retention_after_delete: Literal["none", "audit"] = "audit"
    """What /delete keeps: "audit" keeps the audit trail (ids and event names) and a
    pseudonymous patient row (label, no Telegram ids); "none" keeps nothing that leads to the
    person (alerts stay as counts, without patient or details). docs/privacy.md."""
    finished_messages_days: int = Field(default=7, ge=1, le=90)
    """Days a sent (or given-up) message to the cohort's group or patients keeps its content
    and, for a private chat, its chat id; then housekeeping blanks both."""
    erase_discharged_after_days: int | None = Field(default=None, ge=1, le=3650)
    """Erase a discharged patient's data this many days after discharge, as /delete would
    under ``retention_after_delete``; unset: kept until the patient sends /delete."""
    audit_retention_days: int = Field(default=2190, ge=1, le=36500)
    """How long the cohort's audit records are kept (default 2,190 days, six years); older
    ones are pruned hourly behind an anchor, so the chain still verifies
    (docs/security.md, "Audit trail")."""
    clinicians: Literal["group_admins"] | tuple[int, ...] = "group_admins"
    """Who may run the clinician commands (bot.domain.roles): "group_admins" (default), the
    provider group's administrators as Telegram says (asked with getChatMember, remembered
    60 s); or a list of Telegram user ids. Everyone in the group may use the rest."""
    digest_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    """The weekday the weekly digest goes to the provider group (cohort's time zone)."""
    digest_time: str = "08:00"
    """The local time (HH:MM) of the weekly digest."""
    post_dose_delay_minutes: int = Field(default=180, ge=120, le=240)
    """How long after a scheduled dose (``/dosing``) the post-dose check is asked: 2 to 4
    hours (docs/clinical.md §1.3)."""
    post_dose_window_hours: int = Field(default=4, ge=1, le=12)
    """How long the post-dose check stays open; unanswered by then, the dose day is listed
    in the digest."""
    optional_items: tuple[Literal["bp", "substance", "substance_daily", "bladder"], ...] = ()
    """Optional items asked of patients whose provider set none for them (``/optional``):
    home blood pressure, substance use weekly (or daily), the monthly bladder screen
    (bot.domain.optional_items, docs/clinical.md §1.2)."""

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        return parse_hhmm(value).strftime("%H:%M")

    reraise_minutes: tuple[int, ...] = (15, 30)
    """Raise an unacknowledged IMMEDIATE alert again this many minutes after it was first
    raised; the last step also mentions ``on_call``. Empty: never raise again."""
    on_call: tuple[str, ...] = ()
    """Telegram handles (``@name``) mentioned when an IMMEDIATE alert is raised the last time."""
    coverage: CoverageConfig | Literal["24/7"]
    """When the team watches the group: weekly hours, or "24/7". Required: the crisis card
    states the hours and, outside them, that no one is watching now (docs/clinical.md §3.3).
    With "24/7" URGENT alerts are not raised again at the end of a business day (there is
    none)."""
    fhir_identifier_system: str | None = Field(
        default=None, pattern=r"^(urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+|https?://\S+)$"
    )
    """The URI under which the FHIR export files patients' labels as identifiers (e.g. the
    clinic's own namespace); unset: ``urn:moodcheck:cohort:<name>:label``."""
    export_discharged: bool = False
    """Include patients who left (discharged or withdrawn) in the FHIR export."""
    follow_up_actions: tuple[str, ...] = ("reached", "safety_plan", "crisis_line", "no_contact")
    """The follow-up actions offered on an acknowledged IMMEDIATE or URGENT alert, in order
    (keys of ``prompts/follow_ups.yaml``); empty: no checklist, and the digest flags nothing."""

    @field_validator("clinicians")
    @classmethod
    def _clinicians(cls, value: str | tuple[int, ...]) -> str | tuple[int, ...]:
        if isinstance(value, tuple):
            if not value:
                raise ValueError('an empty list lets nobody in; use "group_admins" or user ids')
            if any(user_id <= 0 for user_id in value):
                raise ValueError("Telegram user ids are positive numbers")
        return value

    @field_validator("reraise_minutes")
    @classmethod
    def _reraise(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(value) > 5:
            raise ValueError("at most 5 re-raise steps")
        if any(not 1 <= minutes <= 1440 for minutes in value):
            raise ValueError("each step is 1-1440 minutes")
        if list(value) != sorted(set(value)):
            raise ValueError("steps must rise")
        return value

    @field_validator("on_call")
    @classmethod
    def _on_call(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for handle in value:
            if not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,31}", handle):
                raise ValueError(f"{handle!r} is not a Telegram handle such as @dr_oncall")
        return value

    @property
    def coverage_hours(self) -> Coverage | None:
        """Return the cohort's coverage hours in its time zone; None: around the clock."""
        return None if self.coverage == ALWAYS else self.coverage.at(self.zone)

    @property
    def card_coverage(self) -> Coverage | Literal["24/7"]:
        """Return the coverage as the crisis card states it."""
        return self.coverage_hours or ALWAYS

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

    @field_validator("weekly_instruments")
    @classmethod
    def _instruments(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEEKLY))
        if unknown or len(set(value)) != len(value):
            raise ValueError(f"must list each of {', '.join(WEEKLY)} at most once")
        return value

    @field_validator("instrument_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value not in WEEKDAYS:
            raise ValueError(f"must be one of {', '.join(WEEKDAYS)}")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        # Checked against prompts/regions.yaml in load_config.
        value = value.upper()
        return ALIASES.get(value, value)

    @property
    def zone(self) -> ZoneInfo:
        """Return the cohort's default time zone."""
        return ZoneInfo(self.timezone)

    @property
    def instruments(self) -> tuple[str, ...]:
        """Return every validated instrument the cohort asks, in asking order."""
        weekly = tuple(name for name in WEEKLY if name in self.weekly_instruments)
        return weekly + ((PCL5,) if self.pcl5_every_weeks is not None else ())


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    cohort: list[CohortConfig] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The whole validated configuration: cohorts, questionnaires, rules."""

    cohorts: tuple[CohortConfig, ...]
    questionnaires: dict[str, Questionnaire]
    rules: tuple[ItemRule, ...]
    escalation: EscalationRules = dataclasses.field(default_factory=lambda: EscalationRules(()))
    """Patient-level rules (``prompts/escalation.yaml``); empty: none are evaluated."""
    alert_names: AlertNames = dataclasses.field(
        default_factory=lambda: load_alert_names(Renderer().locales)
    )
    """Rule id -> locale -> display name, from the rule files (``prompts/alert_names.py``)."""
    item_names: ItemNames = dataclasses.field(
        default_factory=lambda: load_item_names(Renderer().locales)
    )
    """Question id -> locale -> display name (``prompts/item_names.py``)."""

    regions: Regions = dataclasses.field(default_factory=lambda: load_regions(Renderer().locales))
    """The crisis card's regions (``prompts/regions.yaml``)."""

    follow_ups: FollowUpNames = dataclasses.field(
        default_factory=lambda: load_follow_ups(Renderer().locales)
    )
    """Follow-up action key -> locale -> name (``prompts/follow_ups.yaml``)."""

    @property
    def untranslated(self) -> dict[str, frozenset[str]]:
        """Return, per instrument in use, the locales it has no validated translation in
        (its patients there are not asked it: bot.domain.weekly.not_asked)."""
        return {
            name: self.questionnaires[name].no_validated_translation
            for name in (*WEEKLY, PCL5)
            if name in self.questionnaires
        }

    def cohort(self, name: str) -> CohortConfig:
        """Return a cohort by name; raise ConfigError if there is none."""
        for cohort in self.cohorts:
            if cohort.name == name:
                return cohort
        raise ConfigError(f"there is no cohort named {name!r} in the configuration")


def load_config(
    path: Path,
    renderer: Renderer | None = None,
    rules_path: Path = RULES,
    escalation_path: Path = ESCALATION,
    regions_path: Path = REGIONS,
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
        loc = tuple(p for p in error["loc"] if p not in _COVERAGE_UNION)
        where = _where(raw, loc)
        message = error["msg"]
        if loc[-1:] == ("coverage",):
            message = ("required: " if error["type"] == "missing" else "") + _COVERAGE_HELP
        raise ConfigError(f"config file {path}: {where}: {message}") from None
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
            _add_composites(questionnaires, cohort)
        _add_side_questionnaires(questionnaires, rules)
        escalation = load_escalation_rules(escalation_path, questionnaires.get("daily"))
    except (QuestionnaireError, RulesError, EscalationRulesError) as exc:
        raise ConfigError(str(exc)) from None
    renderer = renderer or Renderer()
    # What patients are asked first, then the crisis card, then what the team is shown.
    for cohort in cohorts:
        _check_locales(path, cohort, questionnaires, renderer.locales)
    try:
        regions = load_regions(renderer.locales, regions_path)
    except RegionsError as exc:
        raise ConfigError(str(exc)) from None
    _check_regions(path, cohorts, regions)
    try:
        alert_names = load_alert_names(renderer.locales, (rules_path, escalation_path))
        item_names = load_item_names(
            renderer.locales, questionnaires, rule_items(rules, escalation)
        )
        follow_ups = load_follow_ups(renderer.locales)
    except (AlertNamesError, ItemNamesError, QuestionnaireError, FollowUpsError) as exc:
        raise ConfigError(str(exc)) from None
    _check_follow_ups(path, cohorts, follow_ups)
    return AppConfig(
        cohorts=cohorts,
        questionnaires=questionnaires,
        rules=rules,
        escalation=escalation,
        alert_names=alert_names,
        item_names=item_names,
        regions=regions,
        follow_ups=follow_ups,
    )


def _check_follow_ups(
    path: Path, cohorts: tuple[CohortConfig, ...], follow_ups: FollowUpNames
) -> None:
    """Every cohort's follow-up actions are in the catalogue, each once."""
    for cohort in cohorts:
        actions = cohort.follow_up_actions
        if any(a not in follow_ups for a in actions) or len(set(actions)) != len(actions):
            raise ConfigError(
                f"config file {path}: cohort {cohort.name!r}, field 'follow_up_actions': "
                f"each once, from {', '.join(follow_ups)}"
            )


def _check_regions(path: Path, cohorts: tuple[CohortConfig, ...], regions: Regions) -> None:
    """Every cohort's region has a crisis card."""
    for cohort in cohorts:
        if cohort.region not in regions.by_code:
            raise ConfigError(
                f"config file {path}: cohort {cohort.name!r}, field 'region': "
                f"{cohort.region!r} is not one of {', '.join(regions.codes)}"
            )


def _check_locales(
    path: Path,
    cohort: CohortConfig,
    questionnaires: dict[str, Questionnaire],
    locales: list[str],
) -> None:
    """Refuse a cohort locale without templates, and a questionnaire that lacks the wording
    of a language its patients may use (the
    cohort's, first, or any other a patient can choose in /settings): never shown in English
    instead. An instrument whose file declares that no validated translation exists in a
    language passes: its patients there are not asked it (bot.domain.weekly.not_asked)."""
    if cohort.locale not in locales:
        raise ConfigError(
            f"config file {path}: cohort {cohort.name!r}: locale {cohort.locale!r} has no "
            f"templates (have: {', '.join(locales)})"
        )
    ordered = [cohort.locale, *(locale for locale in locales if locale != cohort.locale)]
    for name in (cohort.questionnaire, *cohort.instruments, *SIDE_QUESTIONNAIRES):
        questionnaire = questionnaires[name]
        instrument = name in cohort.instruments
        excused = questionnaire.no_validated_translation if instrument else frozenset()
        for locale in ordered:
            gap = None if locale in excused else questionnaire.missing_text(locale)
            if gap is not None:
                what = "instrument" if instrument else "questionnaire"
                advice = (
                    f", or list {locale!r} under no_validated_translation" if instrument else ""
                )
                raise ConfigError(
                    f"config file {path}: cohort {cohort.name!r}: {questionnaire_path(name)}: "
                    f"{what} {name} has no {locale!r} text ({gap}); add the wording{advice}"
                )


def _add_side_questionnaires(
    questionnaires: dict[str, Questionnaire], rules: tuple[ItemRule, ...]
) -> None:
    """Load the questionnaires asked apart from the daily check-in (every cohort may use
    them: a provider turns them on per patient)."""
    for name in SIDE_QUESTIONNAIRES:
        questionnaires[name] = load_questionnaire(questionnaire_path(name))
        check_rules_against(rules, questionnaires[name])


def day_questionnaire_id(base: str, instruments: tuple[str, ...], delivery: str) -> str:
    """Return the key of the questionnaire that asks ``base`` and then the instruments,
    in one message ("after_daily": ``daily+phq9+gad7``) or in two (``daily/phq9+gad7``)."""
    if delivery == "after_daily":
        return composite_id(base, instruments)
    return f"{base}/{composite_id(instruments[0], instruments[1:])}"


def _add_composites(questionnaires: dict[str, Questionnaire], cohort: CohortConfig) -> None:
    """Register the day questionnaires a cohort can need: its daily set followed by the
    weekly instruments, with and without the PCL-5, for both deliveries (a check-in opened
    before a change of ``instrument_delivery`` still finds its questionnaire)."""
    base = questionnaires[cohort.questionnaire]
    weekly = tuple(name for name in WEEKLY if name in cohort.weekly_instruments)
    variants = {weekly}
    if cohort.pcl5_every_weeks is not None:
        variants |= {(*weekly, PCL5)}
    for instruments in variants:
        if not instruments:
            continue
        for name in instruments:
            if name not in questionnaires:
                questionnaires[name] = load_questionnaire(questionnaire_path(name))
        items = base.items + tuple(i for n in instruments for i in questionnaires[n].items)
        for delivery, apart_from in (("after_daily", None), ("own_message", len(base.items))):
            key = day_questionnaire_id(base.id, instruments, delivery)
            if key not in questionnaires:
                questionnaires[key] = Questionnaire(
                    id=key, version=base.version, items=items, apart_from=apart_from
                )


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
