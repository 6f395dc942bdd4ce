"""The patient-level escalation engine: (history, rules, now) -> alerts, with no I/O.

Rules and their defaults: ``bot.domain.escalation_rules`` and ``prompts/escalation.yaml``.
Daily checks: ``bot.domain.escalation_daily``. This module adds the weekly instruments, the
"same event never twice" and cooldown filters, and the ordering.

Only closed check-ins are read: answers of an open check-in may still change (Back), and the
item-level rules already cover what must not wait for the check-in to end.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from bot.domain.escalation_daily import (
    check_answer_pattern,
    check_baseline_mean,
    check_baseline_shift,
    check_missed_after_event,
    check_missed_streak,
    check_threshold,
)
from bot.domain.escalation_rules import (
    Alert,
    AnswerPatternRule,
    BaselineMeanRule,
    BaselineShiftRule,
    Change,
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
)
from bot.domain.history import InstrumentResult, PastAlert, PatientHistory
from bot.domain.relapse import check_relapse


def _event_key(result: InstrumentResult) -> str:
    return f"{result.instrument.value}:{result.local_date.isoformat()}"


def _check_instrument_item(
    rule: InstrumentItemRule, results: tuple[InstrumentResult, ...]
) -> Alert | None:
    if not results:
        return None
    latest = results[-1].score
    value = latest.items[rule.item - 1]
    if value < rule.at_least:
        return None
    values = (("item_score", float(value)), ("total", float(latest.total)))
    return Alert(rule.id, rule.tier, _event_key(results[-1]), values)


def _check_instrument_total(
    rule: InstrumentTotalRule, results: tuple[InstrumentResult, ...]
) -> Alert | None:
    if not results or results[-1].score.total < rule.at_least:
        return None
    values = (("total", float(results[-1].score.total)),)
    return Alert(rule.id, rule.tier, _event_key(results[-1]), values)


def _check_instrument_change(
    rule: InstrumentChangeRule, results: tuple[InstrumentResult, ...]
) -> Alert | None:
    # The first result is the baseline (docs/clinical.md §3.4: the instrument at enrolment), so
    # a change needs at least two results.
    if len(results) < 2:
        return None
    total = results[-1].score.total
    references = {Reference.BASELINE: results[0], Reference.PREVIOUS: results[-2]}
    values: list[tuple[str, float]] = [("total", float(total))]
    fired = False
    for reference in sorted(rule.compare_to):
        before = references[reference].score.total
        delta = total - before
        values.append((f"{reference.value}_total", float(before)))
        values.append((f"{reference.value}_delta", float(delta)))
        size = delta if rule.change is Change.UP else abs(delta)
        fired |= size >= rule.by
    return Alert(rule.id, rule.tier, _event_key(results[-1]), tuple(values)) if fired else None


def _check(rule: Rule, history: PatientHistory, rules: EscalationRules) -> Alert | None:
    checkins = history.closed_checkins()
    match rule:
        case ThresholdRule():
            return check_threshold(rule, checkins)
        case BaselineShiftRule():
            return check_baseline_shift(rule, checkins, rules.baseline)
        case BaselineMeanRule():
            return check_baseline_mean(rule, checkins, rules.baseline)
        case AnswerPatternRule():
            return check_answer_pattern(rule, checkins)
        case MissedStreakRule():
            return check_missed_streak(rule, checkins)
        case MissedAfterEventRule():
            # Missed-check-in alerts are not events for this rule: one missed day would
            # otherwise keep re-arming it.
            ignored = frozenset(
                r.id for r in rules.rules if isinstance(r, MissedStreakRule | MissedAfterEventRule)
            )
            return check_missed_after_event(rule, checkins, history.alerts, ignored)
        case InstrumentItemRule():
            return _check_instrument_item(rule, history.results(rule.instrument))
        case InstrumentTotalRule():
            return _check_instrument_total(rule, history.results(rule.instrument))
        case InstrumentChangeRule():
            return _check_instrument_change(rule, history.results(rule.instrument))
        case RelapseRule():
            return check_relapse(
                rule,
                checkins,
                history.results(rule.instrument),
                rules.baseline,
                history.course_start,
            )
        case _:  # pragma: no cover - mypy checks every kind is handled
            assert_never(rule)


def _allowed(alert: Alert, rule: Rule, past: tuple[PastAlert, ...], now: datetime) -> bool:
    """Apply "same event never twice" and the rule's cooldown (broken only by a higher tier)."""
    mine = [p for p in past if p.rule_id == alert.rule_id]
    if any(p.event_key == alert.event_key for p in mine):
        return False
    recent = [p for p in mine if now - p.at < rule.cooldown]
    return all(alert.tier.rank < p.tier.rank for p in recent)


def evaluate(history: PatientHistory, rules: EscalationRules, now: datetime) -> list[Alert]:
    """Return the patient-level alerts due now, most urgent first.

    Args:
        history: The patient's check-ins, instrument results and past alerts.
        rules: The patient-level rules (``prompts.escalation.load_escalation_rules``).
        now: The current instant (timezone-aware); used for cooldowns.

    Returns:
        At most one alert per rule, sorted by tier, then rule id. Record each one as a
        ``PastAlert`` with its event key, or it will be raised again next time.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    alerts: list[Alert] = []
    for rule in rules.rules:
        alert = _check(rule, history, rules)
        if alert is not None and _allowed(alert, rule, history.alerts, now):
            alerts.append(alert)
    return sorted(alerts, key=lambda a: (a.tier.rank, a.rule_id, a.event_key))
