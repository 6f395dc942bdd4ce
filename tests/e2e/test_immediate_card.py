"""An IMMEDIATE alert always shows the patient the full crisis card (docs/clinical.md §3.2),
even from a rule that does not name a card itself (a clinic's own rule): every shipped
IMMEDIATE rule has its card, so this is what keeps a clinic's rules file from leaving a
patient without the numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from prompts.rules import RULES
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, answer_all, enrol
from tests.support.harness import Harness

CLINIC_RULE = """
  - id: mood_zero_immediate
    name:
      en: "Mood 0 (a clinic's own rule)"
      es: "Ánimo 0 (regla propia de la clínica)"
    kind: item_value
    item: mood
    values: ["0"]
    tier: IMMEDIATE
"""


@pytest.fixture(name="config")
def fx_config(config_path: Path, tmp_path: Path) -> AppConfig:
    rules = tmp_path / "rules.yaml"
    shipped = RULES.read_text(encoding="utf-8")
    assert shipped.count("\nrules:\n") + shipped.startswith("rules:\n") == 1
    rules.write_text(shipped.replace("rules:\n", "rules:" + CLINIC_RULE, 1))
    return load_config(config_path, rules_path=rules)


async def test_an_immediate_rule_without_a_card_still_shows_the_full_card(
    harness: Harness,
) -> None:
    h = harness
    ida = h.server.user(7031, first_name="Ida")
    await enrol(h, ida, "P-IMM1")
    await h.send(ida, "/checkin")
    await answer_all(h, ida, {**CALM_DAY, "mood": "0"})
    await h.settle()
    cards = [m.text for m in ida.messages if "If you are in danger right now" in m.text]
    assert len(cards) == 1
    assert "has been notified" in cards[0]  # the group is there: the team was told
    posted = [m.text for m in h.server.group(GROUP_A).messages]
    assert any("IMMEDIATE" in t and "P-IMM1" in t for t in posted)


async def test_an_urgent_answer_still_shows_the_short_card(harness: Harness) -> None:
    h = harness
    jo = h.server.user(7032, first_name="Jo")
    await enrol(h, jo, "P-IMM2")
    await h.send(jo, "/checkin")
    # Mood 1: not the clinic's IMMEDIATE rule; no card names it either.
    await answer_all(h, jo, {**CALM_DAY, "mood": "1"})
    await h.settle()
    assert not any("If you are in danger right now" in m.text for m in jo.messages)
