"""Typed home blood-pressure readings and the rules that read them (prompts/rules.yaml)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alerts import Tier, evaluate_answer
from bot.domain.blood_pressure import (
    DIASTOLIC_RANGE,
    SYSTOLIC_RANGE,
    parse_reading,
    stored_reading,
)
from prompts.rules import load_rules

RULES = load_rules()
systolic = st.integers(*SYSTOLIC_RANGE)
diastolic = st.integers(*DIASTOLIC_RANGE)
separators = st.sampled_from(["/", " ", " / ", "-", "  "])


@given(systolic, diastolic, separators, st.booleans())
def test_a_plausible_reading_is_read_whatever_the_separator(
    high: int, low: int, separator: str, unit: bool
) -> None:
    text = f"{high}{separator}{low}" + (" mmHg" if unit else "")
    reading = parse_reading(text)
    if low >= high:
        assert reading is None  # the top number comes first and is the higher
    else:
        assert reading is not None
        assert (reading.systolic, reading.diastolic) == (high, low)
        assert stored_reading(reading.stored) == reading


@given(st.text(max_size=30))
def test_any_text_is_a_reading_or_refused_never_an_error(text: str) -> None:
    reading = parse_reading(text)
    if reading is not None:
        assert SYSTOLIC_RANGE[0] <= reading.systolic <= SYSTOLIC_RANGE[1]
        assert DIASTOLIC_RANGE[0] <= reading.diastolic <= DIASTOLIC_RANGE[1]
        assert reading.diastolic < reading.systolic


@pytest.mark.parametrize(
    "text", ["145", "145/", "1450/92", "45/30", "145/25", "92/145", "145/92/70", "abc", "١٤٥/٩٢"]
)
def test_implausible_or_malformed_readings_are_refused(text: str) -> None:
    assert parse_reading(text) is None


def _fired(value: str) -> dict[str, Tier]:
    return {t.rule_id: t.tier for t in evaluate_answer(RULES, "bp", value)}


@given(systolic, diastolic)
def test_the_thresholds(high: int, low: int) -> None:
    if low >= high:
        return
    fired = _fired(f"{high}/{low}")
    assert ("home_bp_crisis" in fired) == (high >= 180 or low >= 120)
    assert ("home_bp_high" in fired) == (high >= 140 or low >= 90)
    assert set(fired) <= {"home_bp_crisis", "home_bp_high"}


@pytest.mark.parametrize(
    ("value", "rules"),
    [
        ("180/80", {"home_bp_crisis", "home_bp_high"}),
        ("150/120", {"home_bp_crisis", "home_bp_high"}),
        ("179/119", {"home_bp_high"}),
        ("140/70", {"home_bp_high"}),
        ("120/90", {"home_bp_high"}),
        ("139/89", set()),
        ("none", set()),
    ],
)
def test_threshold_edges(value: str, rules: set[str]) -> None:
    assert set(_fired(value)) == rules
