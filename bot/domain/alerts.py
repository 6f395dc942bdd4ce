"""Escalation tiers and item-level rules (the ones that fire on a single answer).

Rules are data (``prompts/rules.yaml``); this module evaluates them. Patient-level rules
(baselines, streaks, missed days) are in ``escalation.py``, ``escalation_daily.py`` and
``baseline.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.blood_pressure import stored_reading


class Tier(StrEnum):
    """How fast a human must look (docs/clinical.md §3.2)."""

    IMMEDIATE = "IMMEDIATE"
    URGENT = "URGENT"
    ROUTINE = "ROUTINE"

    @property
    def rank(self) -> int:
        """Return 0 for the most urgent tier; lower sorts first."""
        return _RANK[self]


_RANK = {Tier.IMMEDIATE: 0, Tier.URGENT: 1, Tier.ROUTINE: 2}


@dataclass(frozen=True, slots=True)
class ItemRule:
    """Fire when an item is answered with one of some values."""

    id: str
    item: str
    values: frozenset[str]
    tier: Tier
    crisis_card: bool
    stop_checkin: bool = False
    """Ask no more questions after this answer (IMMEDIATE safety answers)."""
    emergency_card: bool = False
    """Show the medical emergency card (emergency numbers only), e.g. for chest pain."""
    top_priority: bool = False
    """First among the alerts of its tier (PHQ-9 item 9 = 2-3: "URGENT with top priority",
    docs/clinical.md §2.1): its group message is sent with the IMMEDIATE ones."""
    at_least: tuple[int, int] | None = None
    """A reading rule (kind ``reading_at_least``): fire when a typed blood-pressure reading
    has systolic >= the first or diastolic >= the second (``values`` is then empty)."""

    def fires_on(self, item_id: str, value: str) -> bool:
        """Tell whether an answer to an item fires this rule."""
        if self.item != item_id:
            return False
        if self.at_least is not None:
            reading = stored_reading(value)
            return reading is not None and (
                reading.systolic >= self.at_least[0] or reading.diastolic >= self.at_least[1]
            )
        return bool(set(value.split(",")) & self.values)


def top_priority_rules(rules: tuple[ItemRule, ...]) -> frozenset[str]:
    """Return the ids of the rules whose alerts come first within their tier."""
    return frozenset(rule.id for rule in rules if rule.top_priority)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule that fired on an answer."""

    rule_id: str
    tier: Tier
    crisis_card: bool
    stop_checkin: bool
    emergency_card: bool = False
    item: str = ""
    """The item answered, and the answer (``value``): what the care team is shown."""
    value: str = ""


def evaluate_answer(rules: tuple[ItemRule, ...], item_id: str, value: str) -> list[Trigger]:
    """Return the rules an answer fires, most urgent first.

    A multi-select answer holds several values joined by commas; a rule fires when any of
    its values is among them. A reading rule fires on a typed reading at or over its limits.
    """
    fired = [
        Trigger(
            rule.id,
            rule.tier,
            rule.crisis_card,
            rule.stop_checkin,
            rule.emergency_card,
            item_id,
            value,
        )
        for rule in rules
        if rule.fires_on(item_id, value)
    ]
    return sorted(fired, key=lambda trigger: (trigger.tier.rank, trigger.rule_id))
