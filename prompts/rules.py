"""Loading escalation rules from ``prompts/rules.yaml``, validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.domain.alerts import ItemRule, Tier
from bot.domain.questionnaire import Questionnaire

RULES = Path(__file__).with_name("rules.yaml")


class RulesError(ValueError):
    """A rules file that cannot be used."""


def _rule(raw: Any, where: str) -> ItemRule:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: must be a mapping")
    kind = raw.get("kind")
    if kind not in {"item_value", "reading_at_least"}:
        raise RulesError(f"{where}, field 'kind': {kind!r} is not a known rule kind")
    try:
        tier = Tier(str(raw.get("tier")))
    except ValueError:
        raise RulesError(f"{where}, field 'tier': must be IMMEDIATE, URGENT or ROUTINE") from None
    at_least = None
    if kind == "reading_at_least":
        limits = raw.get("at_least")
        if (
            not isinstance(limits, list)
            or len(limits) != 2
            or not all(isinstance(n, int) and n > 0 for n in limits)
        ):
            raise RulesError(f"{where}, field 'at_least': must be [systolic, diastolic]")
        at_least = (limits[0], limits[1])
        values: Any = raw.get("values", ["-"])
        if "values" in raw:
            raise RulesError(f"{where}, field 'values': a reading rule has none")
    else:
        values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise RulesError(f"{where}, field 'values': must be a non-empty list")
    unknown = set(raw) - {
        "id",
        "kind",
        "item",
        "values",
        "tier",
        "crisis_card",
        "stop_checkin",
        "emergency_card",
        "name",  # the display name: prompts/alert_names.py
        "top_priority",
        "at_least",
    }
    if unknown:
        raise RulesError(f"{where}: unknown fields {sorted(unknown)}")
    for key in ("id", "item"):
        if not isinstance(raw.get(key), str):
            raise RulesError(f"{where}, field {key!r}: must be text")
    return ItemRule(
        id=raw["id"],
        item=raw["item"],
        values=frozenset() if at_least else frozenset(str(v) for v in values),
        tier=tier,
        crisis_card=bool(raw.get("crisis_card", False)),
        stop_checkin=bool(raw.get("stop_checkin", False)),
        emergency_card=bool(raw.get("emergency_card", False)),
        top_priority=bool(raw.get("top_priority", False)),
        at_least=at_least,
    )


def load_rules(path: Path = RULES) -> tuple[ItemRule, ...]:
    """Load the rules file; raise RulesError naming the file, rule and field at fault."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
        raise RulesError(f"{path}: must be a mapping with a 'rules' list")
    rules = tuple(_rule(r, f"{path}: rule {n}") for n, r in enumerate(raw["rules"], start=1))
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise RulesError(f"{path}: two rules share an id")
    return rules


def check_rules_against(rules: tuple[ItemRule, ...], questionnaire: Questionnaire) -> None:
    """Refuse rules that name an item or value the questionnaire does not have."""
    items = {item.id: item for item in questionnaire.items}
    for rule in rules:
        item = items.get(rule.item)
        if item is None:
            continue  # a rule for an item of another questionnaire
        unknown = sorted(value for value in rule.values if not item.accepts(value))
        if unknown:
            raise RulesError(
                f"rule {rule.id!r}: item {rule.item!r} of questionnaire {questionnaire.id!r} "
                f"has no value {', '.join(unknown)}"
            )


def check_rules_reach(rules: tuple[ItemRule, ...], asked: tuple[Questionnaire, ...]) -> None:
    """Refuse a rule that could never fire: its item is in none of the questionnaires the bot
    can ask (the cohorts' daily sets, every weekly instrument, the side checks), or a value it
    names is one no questionnaire that asks the item accepts. A clinic's own rules file is
    checked like ours: a safety rule that silently never fires is worse than no start."""
    for questionnaire in asked:
        check_rules_against(rules, questionnaire)
    item_ids = {item.id for questionnaire in asked for item in questionnaire.items}
    for rule in rules:
        if rule.item not in item_ids:
            raise RulesError(
                f"rule {rule.id!r}: item {rule.item!r} is in no questionnaire the bot asks, "
                "so the rule could never fire"
            )
