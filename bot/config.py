"""The cohort configuration file (TOML), checked completely before the bot starts: its
cohorts (each validated as a ``bot.cohort_config.CohortConfig``), the questionnaires and rules
they use, and that every language, region and follow-up action they name exists."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from bot.cohort_config import CohortConfig
from bot.domain.alerts import ItemRule
from bot.domain.escalation_rules import EscalationRules
from bot.domain.questionnaire import Questionnaire, QuestionnaireError
from bot.domain.regions import Regions
from bot.domain.weekly import PCL5, WEEKLY, composite_id
from prompts.alert_names import AlertNames, AlertNamesError, load_alert_names
from prompts.escalation import ESCALATION, EscalationRulesError, load_escalation_rules
from prompts.follow_ups import FollowUpNames, FollowUpsError, load_follow_ups
from prompts.item_names import ItemNames, ItemNamesError, load_item_names, rule_items
from prompts.questionnaires import load_questionnaire, questionnaire_path
from prompts.regions import REGIONS, RegionsError, load_regions
from prompts.render import Renderer
from prompts.rules import RULES, RulesError, check_rules_against, check_rules_reach, load_rules

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
        instruments = tuple(
            questionnaires.get(name) or load_questionnaire(questionnaire_path(name))
            for name in (*WEEKLY, PCL5)
        )
        check_rules_reach(rules, (*questionnaires.values(), *instruments))
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
