"""The due scan's keyboard maker builds exactly the keyboard ``question_keyboard`` builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from bot.services.views import question_keyboard, question_keyboards
from prompts.render import Renderer

COHORTS = """
[[cohort]]
name = "a"
provider_chat_id = -5
coverage = "24/7"
weekly_instruments = ["phq9", "gad7"]
pcl5_every_weeks = 4

[[cohort]]
name = "b"
provider_chat_id = -6
coverage = "24/7"
weekly_instruments = ["phq9", "gad7"]
pcl5_every_weeks = 4
instrument_delivery = "own_message"
"""
IDS = (0, 1, 7, 4_096, 10**12, 2**63 - 1)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> AppConfig:
    path: Path = tmp_path_factory.mktemp("config") / "moodcheck.toml"
    path.write_text(COHORTS)
    return load_config(path)


def test_every_item_of_every_questionnaire_in_every_locale(config: AppConfig) -> None:
    renderer = Renderer()
    checked = 0
    for questionnaire in config.questionnaires.values():
        for position in range(len(questionnaire.items)):
            for locale in renderer.locales:
                make = question_keyboards(renderer, questionnaire, position, locale)
                for checkin_id in IDS:
                    expected = question_keyboard(
                        renderer, questionnaire, checkin_id, position, locale
                    )
                    assert make(checkin_id) == expected, (questionnaire.id, position, locale)
                    checked += 1
    # Composites with and without the PCL-5, in both deliveries, and multi-selects among them.
    assert checked > 500


def test_ids_outside_a_64_bit_key_are_refused(config: AppConfig) -> None:
    questionnaire = config.questionnaires["daily"]
    make = question_keyboards(Renderer(), questionnaire, 0, "en")
    for checkin_id in (-1, 2**63):
        with pytest.raises(ValueError, match="out of range"):
            make(checkin_id)
        with pytest.raises(ValueError, match="cannot be encoded"):  # as question_keyboard does
            question_keyboard(Renderer(), questionnaire, checkin_id, 0, "en")
