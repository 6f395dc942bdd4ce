"""Loading ``prompts/escalation.yaml``: the defaults load, bad files are refused by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.alerts import Tier
from bot.domain.escalation_rules import (
    MissedAfterEventRule,
    MissedStreakRule,
    ThresholdRule,
    Unanswered,
    Window,
)
from prompts.escalation import ESCALATION, EscalationRulesError, load_escalation_rules


def test_default_file_loads() -> None:
    rules = load_escalation_rules()
    by_id = {rule.id: rule for rule in rules.rules}
    assert len(by_id) == 18  # PHQ-9 item 9 is an item-level rule (prompts/rules.yaml)
    mood = by_id["mood_low_2_in_a_row"]
    assert mood == ThresholdRule(
        "mood_low_2_in_a_row", Tier.URGENT, "mood", Window(2, of_last=2), at_most=2.0
    )
    missed = by_id["missed_checkins"]
    assert isinstance(missed, MissedStreakRule)
    assert missed.steps == ((2, Tier.ROUTINE), (3, Tier.URGENT))
    assert missed.unanswered == Unanswered("safety")  # a day ended before D7 is missed
    after = by_id["missed_after_urgent_event"]
    assert isinstance(after, MissedAfterEventRule)
    assert after.unanswered == Unanswered("safety", frozenset({"declined"}))
    assert rules.baseline.first == 7
    assert rules.baseline.rolling_after == 14
    # The relapse signal keeps its own, longer cooldown (one signal a fortnight).
    assert by_id["possible_relapse"].cooldown == timedelta(hours=336)
    others = [rule for rule in rules.rules if rule.id != "possible_relapse"]
    assert all(rule.cooldown == timedelta(hours=72) for rule in others)


GOOD = """
  - id: mood_low
    kind: threshold
    item: mood
    at_most: 2
    in_a_row: 2
    tier: URGENT
"""


def write(tmp_path: Path, rules: str, head: str = "") -> Path:
    path = tmp_path / "escalation.yaml"
    path.write_text(f"{head}rules:{rules}", encoding="utf-8")
    return path


def test_cooldown_default_and_override(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "    cooldown_hours: 12\n", "defaults: {cooldown_hours: 24}\n")
    assert load_escalation_rules(path).rules[0].cooldown == timedelta(hours=12)
    path = write(tmp_path, GOOD, "defaults: {cooldown_hours: 24}\n")
    assert load_escalation_rules(path).rules[0].cooldown == timedelta(hours=24)


BAD = {
    "unknown kind": (GOOD.replace("threshold", "vibes"), "kind", "is not one of"),
    "bad tier": (GOOD.replace("URGENT", "SOON"), "tier", "IMMEDIATE, URGENT or ROUTINE"),
    "unknown item": (GOOD.replace("item: mood", "item: appetite"), "item", "not an item"),
    "threshold on a choice item": (
        GOOD.replace("item: mood", "item: dose"),
        "item",
        "not a numeric item",
    ),
    "non-numeric threshold": (GOOD.replace("at_most: 2", "at_most: low"), "at_most", "number"),
    "threshold out of range": (GOOD.replace("at_most: 2", "at_most: 11"), "at_most", "outside"),
    "negative count": (GOOD.replace("in_a_row: 2", "in_a_row: -1"), "in_a_row", "at least 1"),
    "K > M": (
        GOOD.replace("in_a_row: 2", "count: 5\n    of_last: 3"),
        "count",
        "exceeds of_last",
    ),
    "window missing": (GOOD.replace("in_a_row: 2", "count: 2"), "count", "exactly one of"),
    "unknown field": (GOOD + "    at_leest: 3\n", "at_leest", "not a field"),
    "unknown answer value": (
        GOOD.replace("kind: threshold", "kind: answer_pattern")
        .replace("item: mood", "item: dose")
        .replace("at_most: 2", "values: [forgot]"),
        "values",
        "has no value forgot",
    ),
    "negative cooldown": (GOOD + "    cooldown_hours: -1\n", "cooldown_hours", "at least 0"),
    "missed streak falling steps": (
        """
  - id: mood_low
    kind: missed_streak
    steps: [{in_a_row: 3, tier: URGENT}, {in_a_row: 2, tier: ROUTINE}]
""",
        "steps",
        "must rise",
    ),
    "completed counted as missed": (
        """
  - id: mood_low
    kind: missed_streak
    steps: [{in_a_row: 2, tier: ROUTINE}]
    counts_as_missed: [completed]
""",
        "counts_as_missed",
        "never missed",
    ),
    "instrument item out of range": (
        """
  - id: mood_low
    kind: instrument_item
    instrument: phq9
    item: 10
    at_least: 1
    tier: URGENT
""",
        "item",
        "items 1-9",
    ),
    "unknown instrument": (
        """
  - id: mood_low
    kind: instrument_total
    instrument: madrs
    at_least: 20
    tier: URGENT
""",
        "instrument",
        "not allowed",
    ),
}


@pytest.mark.parametrize(("rules", "field", "reason"), BAD.values(), ids=BAD.keys())
def test_bad_rule_is_refused_naming_file_rule_and_field(
    tmp_path: Path, rules: str, field: str, reason: str
) -> None:
    path = write(tmp_path, rules)
    with pytest.raises(EscalationRulesError) as caught:
        load_escalation_rules(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'mood_low'" in message
    assert f"field {field!r}" in message
    assert reason in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EscalationRulesError, match="'mood_low', field 'id': used twice"):
        load_escalation_rules(write(tmp_path, GOOD + GOOD))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("rules: 3\n", "'rules'"), ("- a\n", "must be a mapping"), ("rules: [\n", "cannot be read")],
)
def test_bad_file_shape_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "escalation.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EscalationRulesError, match=reason):
        load_escalation_rules(path)


def test_bad_baseline_section_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "baseline: {first: 0}\n")
    with pytest.raises(EscalationRulesError, match="section 'baseline', field 'first'"):
        load_escalation_rules(path)


def test_shipped_path() -> None:
    assert ESCALATION.name == "escalation.yaml"
    assert ESCALATION.is_file()


MISSED = """
  - id: missed
    kind: missed_streak
    steps: [{in_a_row: 2, tier: ROUTINE}]
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    counts_unanswered: {item: appetite}\n", "'appetite' is not an item"),
        ("    counts_unanswered: {item: safety, or_values: [maybe]}\n", "has no value maybe"),
        ("    counts_unanswered: {item: safety, when: x}\n", "'when'"),
        ("    counts_unanswered: safety\n", "must be a mapping"),
    ],
)
def test_counts_unanswered_is_checked(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(EscalationRulesError, match=message):
        load_escalation_rules(write(tmp_path, MISSED + extra))
