"""The tests' own small daily questionnaire (``tests/support/questionnaires/small_daily.yaml``).

Tests of the check-in's state machine use it instead of the shipped questionnaires, so that a
change to the real content (a question added, reworded or reordered) breaks only the tests
that are about that content. Cohort ``clinic-t`` (:data:`SMALL_COHORT`) asks it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from bot.domain.questionnaire import Questionnaire
from prompts.questionnaires import load_questionnaire

SMALL_DAILY = Path(__file__).with_name("questionnaires") / "small_daily.yaml"
SMALL_FILE = "small_daily.yaml"
"""The name the cohort gives it: a path, relative to the folder the test works in (a key of a
check-in's questionnaire stays short)."""
SMALL_GROUP = -100666
SMALL_COHORT = f"""
[[cohort]]
name = "clinic-t"
provider_chat_id = {SMALL_GROUP}
coverage = "24/7"
timezone = "America/New_York"
locale = "en"
region = "US"
checkin_time = "09:00"
questionnaire = "{SMALL_FILE}"
"""
SMALL_ITEMS = ["rating", "pick", "ticks", "ticks_rate", "sure", "sure_now"]

EXTRA = {
    "id": "extra",
    "type": "choice",
    "rows": [2],
    "text": {"en": "Test question added later", "es": "Pregunta de prueba añadida"},
    "options": [
        {"value": "up", "label": {"en": "Up", "es": "Arriba"}},
        {"value": "down", "label": {"en": "Down", "es": "Abajo"}},
    ],
}
"""A daily question a clinic adds to the file (:func:`insert_item`)."""


def small_daily() -> Questionnaire:
    """The small questionnaire, loaded as the bot loads a clinic's own."""
    return load_questionnaire(SMALL_DAILY)


def copy_small_daily(folder: Path) -> Path:
    """Put the small questionnaire in ``folder`` under :data:`SMALL_FILE`; return its path."""
    path = folder / SMALL_FILE
    shutil.copyfile(SMALL_DAILY, path)
    return path


def insert_item(path: Path, before: str, item: dict[str, Any]) -> None:
    """Insert a question into a questionnaire file, before the item ``before``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    ids = [entry["id"] for entry in raw["items"]]
    raw["items"].insert(ids.index(before), item)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
