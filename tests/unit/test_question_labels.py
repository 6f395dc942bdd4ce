"""A question's labels for the care team live in its questionnaire file and are checked at
start-up: the display name an alert's values line uses, and /patient's column (header, what
each answer shows, which answers are flagged, the legend). Adding a daily question is a change
to that one file; a label missing for a locale stops the start, naming the file and the key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import ConfigError, load_config
from bot.domain.checkin import CheckinStatus
from bot.domain.lifecycle import PatientStatus
from bot.domain.question_labels import FLAG_MARK, NOT_ANSWERED, cell, columns
from bot.domain.questionnaire import QuestionnaireError
from bot.services.provider.provider_views import DayRow, day_table
from prompts.item_names import INSTRUMENT_ITEMS, load_item_names
from prompts.questionnaires import QUESTIONNAIRES, load_questionnaire, questionnaire_path
from prompts.render import MACROS, TEMPLATES, Renderer, TemplateWordsError, check_words
from prompts.rules import load_rules

DAILY = QUESTIONNAIRES / "daily.yaml"
LOCALES = Renderer().locales
CONFIG = """
[[cohort]]
name = "clinic"
provider_chat_id = -5
coverage = "24/7"
questionnaire = "{questionnaire}"
"""


def _daily() -> dict[str, object]:
    raw = yaml.safe_load(DAILY.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def _item(raw: dict[str, object], item_id: str) -> dict[str, object]:
    items = raw["items"]
    assert isinstance(items, list)
    return next(i for i in items if i["id"] == item_id)


def _clinic(tmp_path: Path, raw: dict[str, object]) -> Path:
    """A clinic's own questionnaire file, and a configuration whose cohort asks it."""
    own = tmp_path / "clinic_daily.yaml"
    own.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = tmp_path / "moodcheck.toml"
    config.write_text(CONFIG.format(questionnaire=own))
    return config


def test_the_daily_set_gives_patient_its_columns_in_order() -> None:
    daily = load_questionnaire(questionnaire_path("daily"))
    shown = [(item.id, column.label("en"), column.label("es")) for item, column in columns(daily)]
    assert shown == [
        ("mood", "mood", "ánim"),
        ("anxiety", "anx", "ansi"),
        ("sleep", "slp", "sue"),
        ("energy", "nrg", "ene"),
        ("dose", "dose", "dosis"),
        ("side_effects", "se", "ef"),
        ("safety", "safe", "seg"),
    ]


def test_a_cell_shows_the_answer_its_count_and_its_flag() -> None:
    daily = load_questionnaire(questionnaire_path("daily"))
    by_id = {item.id: (item, column) for item, column in columns(daily)}

    def shown(item_id: str, locale: str = "en", **answers: str) -> str:
        item, column = by_id[item_id]
        return cell(item, column, answers, locale)

    assert shown("mood", mood="7") == "7"
    assert shown("mood", anxiety="3") == NOT_ANSWERED
    assert shown("dose", dose="more") == "MORE"
    assert shown("dose", "es", dose="more") == "MÁS"
    assert shown("side_effects", side_effects="none") == "0"
    assert shown("side_effects", side_effects="nausea,dizzy") == "2"
    # What counts as a red flag to show is the column's flag, in the YAML.
    assert shown("side_effects", side_effects="nausea,red_flag") == "2" + FLAG_MARK
    assert shown("side_effects", side_effects="urinary_pain") == "1" + FLAG_MARK
    assert shown("safety", safety="yes") == "YES"
    assert shown("safety", safety="yes", safety_now="not_sure") == "YES" + FLAG_MARK
    assert shown("safety", "es", safety="yes", safety_now="yes") == "SÍ" + FLAG_MARK
    assert shown("safety", safety="yes", safety_now="no") == "YES"
    assert shown("safety", safety="declined") == "DECL"


def test_adding_a_daily_question_is_one_file(tmp_path: Path) -> None:
    # A clinic's daily set with one question more: its wording, its display name and its
    # column, in the one file. /patient shows it and the start-up accepts it.
    raw = _daily()
    items = raw["items"]
    assert isinstance(items, list)
    items.append(
        {
            "id": "appetite",
            "type": "choice",
            "text": {"en": "How is your appetite?", "es": "¿Cómo está su apetito?"},
            "options": [
                {"value": "poor", "label": {"en": "Poor", "es": "Malo"}},
                {"value": "ok", "label": {"en": "OK", "es": "Normal"}},
            ],
            "name": {"en": "appetite", "es": "apetito"},
            "column": {
                "label": {"en": "app", "es": "apet"},
                "values": {"poor": {"en": "poor", "es": "malo"}, "ok": {"en": "ok", "es": "ok"}},
                "flag": {"values": ["poor"]},
                "note": {"en": "app: appetite, ! = poor.", "es": "apet: apetito, ! = malo."},
            },
        }
    )
    config = load_config(_clinic(tmp_path, raw))
    clinic = config.questionnaires[str(tmp_path / "clinic_daily.yaml")]
    table = day_table([DayRow(date(2026, 1, 2), "completed", {"appetite": "poor"})], clinic, "es")
    assert table["columns"][-1] == {"label": "apet", "width": None, "left": False}
    assert table["days"][0]["cells"][-1] == "malo" + FLAG_MARK
    assert table["notes"][-1] == "apet: apetito, ! = malo."
    assert config.item_names["appetite"] == {"en": "appetite", "es": "apetito"}


@pytest.mark.parametrize(
    ("item_id", "key", "path"),
    [
        ("mood", "column: label", ("column", "label")),
        ("dose", "column: values: more", ("column", "values", "more")),
        ("safety", "column: note", ("column", "note")),
        ("anxiety", "name", ("name",)),
    ],
)
def test_a_label_missing_for_a_locale_stops_the_start(
    tmp_path: Path, item_id: str, key: str, path: tuple[str, ...]
) -> None:
    raw = _daily()
    texts = _item(raw, item_id)
    for step in path:
        texts = texts[step]  # type: ignore[assignment]
    del texts["es"]
    config = _clinic(tmp_path, raw)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "clinic_daily.yaml") in message
    assert f"item {item_id!r}, key '{key}'" in message and "'es'" in message


def test_a_question_a_rule_names_needs_a_display_name(tmp_path: Path) -> None:
    raw = _daily()
    del _item(raw, "dose")["name"]  # took_more_than_prescribed names the dose question
    with pytest.raises(ConfigError, match=r"item 'dose', key 'name' \(a rule names this"):
        load_config(_clinic(tmp_path, raw))
    del _item(raw, "energy")["name"]  # no rule names energy: a name is optional there
    _item(raw, "dose")["name"] = {"en": "dose", "es": "dosis"}
    load_config(_clinic(tmp_path, raw))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"flag": {"item": "safety_now", "values": ["maybe"]}}, "maybe not an answer"),
        ({"flag": {"item": "nowhere", "values": ["yes"]}}, "no item 'nowhere'"),
        ({"values": {"yes": {"en": "YES", "es": "SÍ"}}}, "no text for no, declined"),
        ({"count": True}, "'count' is for a multi-select item"),
        ({"colour": "red"}, "unknown keys ['colour']"),
    ],
)
def test_a_column_that_names_what_is_not_there_is_refused(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    raw = _daily()
    column = _item(raw, "safety")["column"]
    assert isinstance(column, dict)
    column.update(change)
    own = tmp_path / "daily.yaml"
    own.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(own)
    assert str(own) in str(caught.value) and problem in str(caught.value)


def test_every_question_a_rule_names_has_a_name_in_every_locale() -> None:
    names = load_item_names(LOCALES)
    for rule in load_rules():
        if rule.item not in INSTRUMENT_ITEMS:  # those read as "PHQ-9 item 9"
            assert all(names[rule.item][locale].strip() for locale in LOCALES), rule.item


def test_the_shared_pieces_have_every_word_in_every_locale() -> None:
    renderer = Renderer()
    renderer.check()  # the start-up check
    template = "{% import '_macros.j2' as m %}{{ m.status(l, s) }}|{{ m.checkin(l, c) }}"
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined)
    for locale in renderer.locales:
        for status in PatientStatus:
            for checkin in CheckinStatus:
                text = env.from_string(template).render(l=locale, s=status.value, c=checkin.value)
                assert "|" in text and not text.startswith("|") and not text.endswith("|")


def test_a_locale_without_the_shared_words_stops_the_start() -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined)
    words = env.get_template(MACROS).module.words  # type: ignore[attr-defined]
    check_words(words, ["en", "es"])
    with pytest.raises(TemplateWordsError, match="no words for 'fr'"):
        check_words(words, ["en", "es", "fr"])
    lacking = {**words, "es": {**words["es"], "status": {"active": "activo"}}}
    with pytest.raises(TemplateWordsError, match=r"words\['es'\]\['status'\]"):
        check_words(lacking, ["en", "es"])
    short = {**words, "es": {**words["es"], "weekday": ["lun"]}}
    with pytest.raises(TemplateWordsError, match=r"words\['es'\]\['weekday'\]"):
        check_words(short, ["en", "es"])
