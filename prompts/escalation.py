"""Loading the patient-level escalation rules from ``prompts/escalation.yaml``.

Validated at start-up against the daily questionnaire and the instruments, so a typo in a
clinic's file stops the bot with a message naming the file, the rule and the field, instead
of a rule that silently never fires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.domain.alerts import Tier
from bot.domain.baseline import BaselineConfig
from bot.domain.checkin import CheckinStatus
from bot.domain.escalation_rules import (
    AnswerMatch,
    AnswerPatternRule,
    BaselineMeanRule,
    BaselineShiftRule,
    Change,
    Direction,
    EscalationRules,
    InstrumentChangeRule,
    InstrumentItemRule,
    InstrumentTotalRule,
    MissedAfterEventRule,
    MissedStreakRule,
    Reference,
    RelapseRule,
    Rule,
    ThresholdRule,
    Unanswered,
)
from bot.domain.instruments import SPECS, Instrument
from bot.domain.questionnaire import Questionnaire
from prompts.escalation_fields import EscalationRulesError, Fields
from prompts.questionnaires import load_questionnaire, questionnaire_path

ESCALATION = Path(__file__).with_name("escalation.yaml")
# Open and completed check-ins are never "missed"; the rest may be, if the clinic says so.
_MISSABLE = frozenset(CheckinStatus) - {CheckinStatus.OPEN, CheckinStatus.COMPLETED}

__all__ = ["ESCALATION", "EscalationRulesError", "load_escalation_rules"]


def _missed(f: Fields) -> frozenset[CheckinStatus]:
    if not f.has("counts_as_missed"):
        return frozenset({CheckinStatus.MISSED})
    statuses = f.choices("counts_as_missed", CheckinStatus)
    if not statuses <= _MISSABLE:
        raise f.fail("counts_as_missed", "open and completed check-ins are never missed")
    return statuses


def _unanswered(f: Fields, q: Questionnaire) -> Unanswered | None:
    """``counts_unanswered: {item, or_values}``: a day ended before the item was answered."""
    if not f.has("counts_unanswered"):
        return None
    raw = Fields(f.get("counts_unanswered"), f"{f.where}, field 'counts_unanswered'")
    item = raw.item(q)
    or_values = raw.item_values(item, "or_values") if raw.has("or_values") else frozenset()
    raw.check_all_read()
    return Unanswered(item.id, or_values)


def _threshold(f: Fields, q: Questionnaire, cooldown: timedelta) -> ThresholdRule:
    item, low, high = f.numeric_item(q)
    sides = [name for name in ("at_most", "at_least") if f.has(name)]
    if len(sides) != 1:
        raise f.fail("at_most", "give exactly one of 'at_most' and 'at_least'")
    limit = f.number(sides[0], minimum=float("-inf"))
    if not low <= limit <= high:
        raise f.fail(sides[0], f"{limit:g} is outside the values of {item!r} ({low:g}-{high:g})")
    window = f.window()
    return ThresholdRule(
        id=f.text("id"), tier=f.tier(), item=item, window=window, cooldown=cooldown,
        **{sides[0]: limit},
    )  # fmt: skip


def _baseline_shift(f: Fields, q: Questionnaire, cooldown: timedelta) -> BaselineShiftRule:
    item, _, _ = f.numeric_item(q)
    return BaselineShiftRule(
        id=f.text("id"),
        tier=f.tier(),
        item=item,
        direction=f.choice("direction", Direction),
        by=f.number("by", minimum=0.5),
        window=f.window(),
        cooldown=cooldown,
    )


def _baseline_mean(f: Fields, q: Questionnaire, cooldown: timedelta) -> BaselineMeanRule:
    item, _, _ = f.numeric_item(q)
    return BaselineMeanRule(
        id=f.text("id"),
        tier=f.tier(),
        item=item,
        direction=f.choice("direction", Direction),
        by=f.number("by", minimum=0.5),
        days=f.count("days", 7),
        min_values=f.count("min_values", 4),
        cooldown=cooldown,
    )


def _answer_pattern(f: Fields, q: Questionnaire, cooldown: timedelta) -> AnswerPatternRule:
    item = f.item(q)
    return AnswerPatternRule(
        id=f.text("id"),
        tier=f.tier(),
        item=item.id,
        values=f.item_values(item),
        window=f.window(),
        cooldown=cooldown,
    )


def _missed_streak(f: Fields, q: Questionnaire, cooldown: timedelta) -> MissedStreakRule:
    raw = f.get("steps")
    if not isinstance(raw, list) or not raw:
        raise f.fail("steps", "must be a non-empty list of {in_a_row, tier}")
    steps = []
    for n, step_raw in enumerate(raw, start=1):
        step = Fields(step_raw, f"{f.where}, field 'steps' entry {n}")
        steps.append((step.count("in_a_row"), step.tier()))
        step.check_all_read()
    if [length for length, _ in steps] != sorted({length for length, _ in steps}):
        raise f.fail("steps", "streak lengths must rise from step to step")
    if f.has("tier"):
        raise f.fail("tier", "a missed_streak rule takes its tiers from 'steps'")
    return MissedStreakRule(
        id=f.text("id"),
        steps=tuple(steps),
        missed=_missed(f),
        cooldown=cooldown,
        unanswered=_unanswered(f, q),
    )


def _missed_after_event(f: Fields, q: Questionnaire, cooldown: timedelta) -> MissedAfterEventRule:
    answers: list[AnswerMatch] = []
    for n, match_raw in enumerate(f.get("after_answers", []) or [], start=1):
        match = Fields(match_raw, f"{f.where}, field 'after_answers' entry {n}")
        item = match.item(q)
        answers.append(AnswerMatch(item.id, match.item_values(item)))
        match.check_all_read()
    return MissedAfterEventRule(
        id=f.text("id"),
        tier=f.tier(),
        within=f.hours("within_hours", 72),
        after_tiers=f.choices("after_tiers", Tier),
        after_answers=tuple(answers),
        missed=_missed(f),
        cooldown=cooldown,
        unanswered=_unanswered(f, q),
    )


def _instrument_item(f: Fields, _: Questionnaire, cooldown: timedelta) -> InstrumentItemRule:
    instrument = f.choice("instrument", Instrument)
    spec = SPECS[instrument]
    item = f.count("item")
    if item > spec.item_count:
        raise f.fail("item", f"{instrument.value} has items 1-{spec.item_count}, not {item}")
    at_least = f.count("at_least", minimum=1)
    if at_least > spec.item_max:
        raise f.fail("at_least", f"{instrument.value} items score 0-{spec.item_max}")
    return InstrumentItemRule(
        id=f.text("id"), tier=f.tier(), instrument=instrument, item=item, at_least=at_least,
        cooldown=cooldown,
    )  # fmt: skip


def _instrument_total(f: Fields, _: Questionnaire, cooldown: timedelta) -> InstrumentTotalRule:
    instrument = f.choice("instrument", Instrument)
    at_least = f.count("at_least", minimum=1)
    if at_least > SPECS[instrument].max_total:
        raise f.fail("at_least", f"{instrument.value} totals run 0-{SPECS[instrument].max_total}")
    return InstrumentTotalRule(
        id=f.text("id"), tier=f.tier(), instrument=instrument, at_least=at_least,
        cooldown=cooldown,
    )  # fmt: skip


def _instrument_change(f: Fields, _: Questionnaire, cooldown: timedelta) -> InstrumentChangeRule:
    return InstrumentChangeRule(
        id=f.text("id"),
        tier=f.tier(),
        instrument=f.choice("instrument", Instrument),
        by=f.count("by"),
        change=f.choice("change", Change, Change.UP),
        compare_to=f.choices("compare_to", Reference)
        if f.has("compare_to")
        else frozenset(Reference),
        cooldown=cooldown,
    )


def _relapse(f: Fields, q: Questionnaire, cooldown: timedelta) -> RelapseRule:
    item, _, _ = f.numeric_item(q)
    response = f.number("response_ratio", 0.5, minimum=0.01)
    relapse = f.number("relapse_ratio", 0.75, minimum=0.01)
    if not response < relapse <= 1:
        raise f.fail("relapse_ratio", "must be above response_ratio and at most 1")
    return RelapseRule(
        id=f.text("id"),
        tier=f.tier(),
        instrument=f.choice("instrument", Instrument, Instrument.PHQ9),
        response_ratio=response,
        relapse_ratio=relapse,
        in_a_row=f.count("in_a_row", 2),
        min_baseline=f.count("min_baseline", 10),
        item=item,
        by=f.number("by", minimum=0.5),
        days=f.count("days", 7),
        min_values=f.count("min_values", 4),
        stable_days=f.count("stable_days", 30),
        stable_min_values=f.count("stable_min_values", 20),
        cooldown=cooldown,
    )


_KINDS: dict[str, Callable[[Fields, Questionnaire, timedelta], Rule]] = {
    "threshold": _threshold,
    "baseline_shift": _baseline_shift,
    "baseline_mean": _baseline_mean,
    "answer_pattern": _answer_pattern,
    "missed_streak": _missed_streak,
    "missed_after_event": _missed_after_event,
    "instrument_item": _instrument_item,
    "instrument_total": _instrument_total,
    "instrument_change": _instrument_change,
    "relapse": _relapse,
}


def _rule(raw: Any, where: str, q: Questionnaire, cooldown_hours: float) -> Rule:
    name = raw.get("id") if isinstance(raw, dict) else None
    f = Fields(raw, f"{where} {name!r}" if isinstance(name, str) else where)
    kind = f.get("kind")
    reader = _KINDS.get(str(kind))
    if reader is None:
        raise f.fail("kind", f"{kind!r} is not one of {', '.join(_KINDS)}")
    rule = reader(f, q, f.hours("cooldown_hours", cooldown_hours))
    f.get("name")  # the display name: read and checked by prompts/alert_names.py
    f.check_all_read()
    return rule


def _baseline(raw: Any, where: str) -> BaselineConfig:
    f = Fields(raw if raw is not None else {}, f"{where}: section 'baseline'")
    config = BaselineConfig(
        first=f.count("first", 7),
        rolling_after=f.count("rolling_after", 14),
        rolling_days=f.count("rolling_days", 14),
        exclude_latest_days=f.count("exclude_latest_days", 3, minimum=0),
        rolling_min_values=f.count("rolling_min_values", 4),
    )
    if config.rolling_after < config.first:
        raise f.fail("rolling_after", "must be at least 'first'")
    f.check_all_read()
    return config


def load_escalation_rules(
    path: Path = ESCALATION, questionnaire: Questionnaire | None = None
) -> EscalationRules:
    """Load and validate a patient-level rules file.

    Args:
        path: The YAML file (default: the shipped ``prompts/escalation.yaml``).
        questionnaire: The daily questionnaire the item names refer to (default: the shipped
            ``daily`` questionnaire).

    Returns:
        The rules, in file order, with the baseline settings.

    Raises:
        EscalationRulesError: The file cannot be read, or a rule is wrong; the message names
            the file, the rule and the field.
    """
    q = questionnaire or load_questionnaire(questionnaire_path("daily"))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EscalationRulesError(f"{path}: cannot be read: {exc}") from exc
    top = Fields(raw, str(path))
    rules_raw = top.get("rules")
    if not isinstance(rules_raw, list):
        raise top.fail("rules", "must be a list of rules")
    defaults = Fields(top.get("defaults") or {}, f"{path}: section 'defaults'")
    cooldown_hours = defaults.number("cooldown_hours", 72)
    defaults.check_all_read()
    baseline = _baseline(top.get("baseline"), str(path))
    top.check_all_read()
    rules = tuple(
        _rule(r, f"{path}: rule {n}", q, cooldown_hours) for n, r in enumerate(rules_raw, start=1)
    )
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise EscalationRulesError(f"{path}: rule {rule.id!r}, field 'id': used twice")
        seen.add(rule.id)
    return EscalationRules(rules=rules, baseline=baseline)
