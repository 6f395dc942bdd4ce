"""Alert display names come from the rule files, in every locale, checked at start-up; every
rule's values line renders in every locale (issue 12, item 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_config
from bot.domain.alert_details import answer_details, pause_details, rule_details
from bot.domain.alerts import Tier
from bot.domain.escalation_rules import (
    AnswerPatternRule,
    BaselineMeanRule,
    BaselineShiftRule,
    Direction,
    InstrumentChangeRule,
    InstrumentItemRule,
    InstrumentTotalRule,
    MissedAfterEventRule,
    MissedStreakRule,
    RelapseRule,
    ThresholdRule,
    Window,
)
from bot.domain.instruments import SPECS
from bot.services.patient.lifecycle import PAUSE_RULE
from bot.services.patient.messages import CRISIS_RULE
from bot.services.patient.reachability import RULE as UNREACHABLE_RULE
from prompts.alert_names import BOT_ALERTS, load_alert_names
from prompts.escalation import ESCALATION, load_escalation_rules
from prompts.item_names import load_item_names
from prompts.render import Renderer
from prompts.rules import RULES, load_rules

EXAMPLE = Path(__file__).parents[2] / "moodcheck.example.toml"
LOCALES = Renderer().locales
ITEM_NAMES = load_item_names(LOCALES)

SAMPLE: dict[type, tuple[tuple[str, float], ...]] = {
    ThresholdRule: (("value", 1.0), ("count", 2.0)),
    BaselineShiftRule: (("value", 1.0), ("baseline", 6.25), ("count", 2.0)),
    BaselineMeanRule: (("mean", 3.4), ("baseline", 6.2), ("count", 5.0)),
    AnswerPatternRule: (("count", 3.0),),
    MissedStreakRule: (("streak", 3.0),),
    MissedAfterEventRule: (("hours_since_event", 20.5),),
    InstrumentItemRule: (("item_score", 2.0), ("total", 14.0)),
    InstrumentTotalRule: (("total", 21.0),),
    InstrumentChangeRule: (
        ("total", 15.0),
        ("baseline_total", 8.0),
        ("baseline_delta", 7.0),
        ("previous_total", 10.0),
        ("previous_delta", 5.0),
    ),
    RelapseRule: (
        ("total", 9.0),
        ("baseline_total", 12.0),
        ("response_total", 6.0),
        ("count", 2.0),
    ),
}


def test_every_rule_and_every_alert_the_bot_raises_is_named_in_every_locale() -> None:
    names = load_alert_names(LOCALES)
    rules = [r.id for r in load_rules()] + [r.id for r in load_escalation_rules().rules]
    assert {CRISIS_RULE, UNREACHABLE_RULE, PAUSE_RULE} <= set(BOT_ALERTS)
    for rule in [*rules, *BOT_ALERTS]:
        for locale in LOCALES:
            assert names[rule][locale].strip(), (rule, locale)
            assert rule not in names[rule][locale]  # a name, never the id


def test_a_missing_display_name_stops_the_start_with_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    text = RULES.read_text(encoding="utf-8")
    spanish = '      es: "Tomó más de la dosis prescrita"\n'
    assert spanish in text
    rules.write_text(text.replace(spanish, ""), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, rules_path=rules)
    message = str(caught.value)
    assert "\n" not in message
    assert "'took_more_than_prescribed'" in message and "locale 'es'" in message
    assert str(rules) in message


def test_an_alert_the_bot_raises_must_be_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    text = RULES.read_text(encoding="utf-8")
    rules.write_text(text[: text.index("other_alerts:")], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'crisis_words' .* has no display name"):
        load_config(EXAMPLE, rules_path=rules)


def test_a_rule_without_any_name_stops_the_start(tmp_path: Path) -> None:
    escalation = tmp_path / "escalation.yaml"
    text = ESCALATION.read_text(encoding="utf-8")
    block = '    name:\n      en: "PHQ-9 total 20 or more"\n      es: "PHQ-9 total de 20 o más"\n'
    assert block in text
    escalation.write_text(text.replace(block, ""), encoding="utf-8")
    with pytest.raises(ConfigError, match="'phq9_total_20' has no display name"):
        load_config(EXAMPLE, escalation_path=escalation)


def _instrument_of(details: dict[str, Any]) -> dict[str, Any]:
    """What AlertText adds to an answer's details: the instrument and item number, if any."""
    for instrument, spec in SPECS.items():
        if details.get("item") in spec.item_ids():
            return {"instrument": instrument.value, "number": 9}
    return {"instrument": None, "number": None}


def _item(details: dict[str, Any], locale: str) -> dict[str, Any]:
    """What AlertText adds for the question: its display name from its questionnaire file."""
    names = ITEM_NAMES.get(str(details.get("item")), {})
    return {"item": names[locale]} if locale in names else {}


def _all_details() -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = []
    for item_rule in load_rules():
        details.extend(answer_details(item_rule.item, value) for value in item_rule.values)
    details.extend(
        rule_details(rule, SAMPLE[type(rule)]) for rule in load_escalation_rules().rules
    )
    details.append(pause_details("2026-01-20 09:00", "Europe/Madrid", 7))
    return details


@pytest.mark.parametrize("locale", LOCALES)
def test_every_rule_s_values_render_in_every_locale(locale: str) -> None:
    renderer = Renderer()
    for details in _all_details():
        text = renderer.render(
            "alert_values",
            locale,
            d=details,
            answer=None,
            **_instrument_of(details),
            **_item(details, locale),
        )
        assert text and "\n" not in text, details


def test_values_read_as_a_clinician_needs_them() -> None:
    renderer = Renderer()
    shift = rule_details(
        BaselineShiftRule(
            "x", Tier.URGENT, "mood", Direction.BELOW, by=3, window=Window(2, of_last=2)
        ),
        SAMPLE[BaselineShiftRule],
    )
    assert shift["baseline"] == 6.2  # one decimal is what a reader needs
    none = {"answer": None, "instrument": None, "number": None}
    assert (
        renderer.render("alert_values", "en", d=shift, **none, **_item(shift, "en"))
        == "mood 1, baseline 6.2 (2 check-ins)"
    )
    assert (
        renderer.render("alert_values", "es", d=shift, **none, **_item(shift, "es"))
        == "ánimo 1, línea base 6,2 (2 registros)"
    )
    answer = answer_details("phq9_9", "3")
    assert (
        renderer.render(
            "alert_values", "en", d=answer, answer="Nearly every day", instrument="phq9", number=9
        )
        == "PHQ-9 item 9 = 3 (Nearly every day)"
    )


def test_both_relapse_paths_read_in_every_locale() -> None:
    renderer = Renderer()
    rule = RelapseRule("possible_relapse", Tier.URGENT)
    none = {"answer": None, "instrument": None, "number": None}
    by_phq9 = rule_details(rule, SAMPLE[RelapseRule])
    by_mood = rule_details(rule, (("mean", 4.86), ("baseline", 7.0), ("count", 7.0)))
    assert renderer.render("alert_values", "en", d=by_phq9, **none) == (
        "PHQ-9 total 9 (2 in a row at 75% of baseline or more); baseline 12, response 6"
    )
    assert renderer.render("alert_values", "es", d=by_mood, **none, **_item(by_mood, "es")) == (
        "ánimo: media 4,9 en 7 registros, línea base 7, tras un mes estable"
    )
