"""What fired an alert, as locale-free data stored with it (``alerts.details``).

The care team must see the values, not only the rule: "PHQ-9 item 9 = 3 (nearly every day)"
and "PHQ-9 item 9 = 1" call for different responses, as do "mood 1, baseline 6.2" and
"mood 4, baseline 6.5". The words come from templates (``alert_values.j2``) at display time,
in the group's locale; these details hold only ids and numbers.

Shapes (``kind`` says which):
- ``answer``: one answer fired an item-level rule: ``item``, ``value`` (as stored).
- ``threshold``: ``item``, ``value`` (latest), ``count`` (answers past it in the window).
- ``baseline_shift``: ``item``, ``value``, ``baseline``, ``count``.
- ``baseline_mean``: ``item``, ``mean``, ``baseline``, ``count`` (answers in the mean).
- ``answer_pattern``: ``item``, ``count``.
- ``missed_streak``: ``streak``. ``missed_after_event``: ``hours_since_event``.
- ``instrument_item``: ``instrument``, ``number``, ``item_score``, ``total``.
- ``instrument_total``: ``instrument``, ``total``.
- ``instrument_change``: ``instrument``, ``total``, and for each reference compared
  (``baseline``, ``previous``) ``<reference>_total`` and ``<reference>_delta``.
- ``relapse``: ``instrument`` and ``item``; fired by the instrument: ``total``,
  ``baseline_total``, ``response_total``, ``count`` (results in a row); by the daily item:
  ``mean``, ``baseline``, ``count`` (answers in the mean).
- ``pause``: ``until`` (local date and time), ``timezone``, ``days``.
- ``crisis_words``: ``phrase`` (the patient's words that matched, as typed, at most 200
  characters): never the whole message.
"""

from __future__ import annotations

from typing import Any

from bot.domain.escalation_rules import (
    AnswerPatternRule,
    BaselineMeanRule,
    BaselineShiftRule,
    InstrumentChangeRule,
    InstrumentItemRule,
    InstrumentTotalRule,
    MissedAfterEventRule,
    MissedStreakRule,
    RelapseRule,
    Rule,
    ThresholdRule,
)

_KINDS: dict[type, str] = {
    ThresholdRule: "threshold",
    BaselineShiftRule: "baseline_shift",
    BaselineMeanRule: "baseline_mean",
    AnswerPatternRule: "answer_pattern",
    MissedStreakRule: "missed_streak",
    MissedAfterEventRule: "missed_after_event",
    InstrumentItemRule: "instrument_item",
    InstrumentTotalRule: "instrument_total",
    InstrumentChangeRule: "instrument_change",
    RelapseRule: "relapse",
}


def _number(value: float) -> float | int:
    """One decimal at most (a baseline median may be 6.25; 6.2 is what a reader needs);
    whole numbers stay whole so they read as "3", not "3.0"."""
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


def answer_details(item: str, value: str) -> dict[str, Any]:
    """Details of an item-level rule fired by one answer."""
    return {"kind": "answer", "item": item, "value": value}


def rule_details(rule: Rule, values: tuple[tuple[str, float], ...]) -> dict[str, Any]:
    """Details of a patient-level rule that fired, from the values its check returned."""
    details: dict[str, Any] = {"kind": _KINDS[type(rule)]}
    match rule:
        case ThresholdRule() | BaselineShiftRule() | BaselineMeanRule() | AnswerPatternRule():
            details["item"] = rule.item
        case InstrumentItemRule():
            details["instrument"] = rule.instrument.value
            details["number"] = rule.item
        case InstrumentTotalRule() | InstrumentChangeRule():
            details["instrument"] = rule.instrument.value
        case RelapseRule():
            details["instrument"] = rule.instrument.value
            details["item"] = rule.item
        case _:
            pass
    details.update((name, _number(value)) for name, value in values)
    return details


def pause_details(until: str, timezone: str, days: int) -> dict[str, Any]:
    """Details of a patient's own pause: until when (their local time) and for how long."""
    return {"kind": "pause", "until": until, "timezone": timezone, "days": days}
