"""Spanish: the published PHQ-9 and GAD-7 wording, no PCL-5 without a validated text, one
register (usted) throughout, and a start refused when an instrument lacks a language."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import cast

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader

from bot.config import ConfigError, load_config
from bot.domain.questionnaire import Item, ItemKind, Option, Questionnaire, QuestionnaireError
from bot.domain.weekly import instruments_due, not_asked, not_asked_counts
from bot.services.provider.provider_views import DayRow, day_table
from prompts.item_names import load_item_names
from prompts.questionnaires import QUESTIONNAIRES, load_questionnaire, questionnaire_path
from prompts.render import MACROS, TEMPLATES, Renderer
from tests.support.spanish import (
    FREQUENCY_ES,
    GAD7_ES,
    PHQ9_DIFFICULTY_ES,
    PHQ9_DIFFICULTY_OPTIONS_ES,
    PHQ9_ES,
    STEM_ES,
    english_words,
    familiar_forms,
)
from tests.unit.test_content import TEMPLATE_VALUES


def _load(name: str) -> Questionnaire:
    return load_questionnaire(questionnaire_path(name))


@pytest.mark.parametrize(("name", "items"), [("phq9", PHQ9_ES), ("gad7", GAD7_ES)])
def test_instruments_carry_the_published_spanish_wording(
    name: str, items: tuple[str, ...]
) -> None:
    questionnaire = _load(name)
    scored = questionnaire.items[: len(items)]
    for item, wording in zip(scored, items, strict=True):
        # The stem stands before every item, as in English, so each message stands alone.
        assert item.text("es") == f"{STEM_ES}\n\n{wording}"
        assert tuple(o.label("es") for o in item.options) == FREQUENCY_ES
    assert questionnaire.missing_text("es") is None
    assert "phqscreeners.com" in questionnaire.sources["es"]
    assert "Spanish for the USA" in questionnaire.sources["es"]


def test_phq9_difficulty_question_in_spanish() -> None:
    difficulty = _load("phq9").items[-1]
    assert difficulty.id == "difficulty"
    assert difficulty.text("es") == PHQ9_DIFFICULTY_ES
    assert tuple(o.label("es") for o in difficulty.options) == PHQ9_DIFFICULTY_OPTIONS_ES


def test_spanish_phq9_item9_is_the_self_harm_item() -> None:
    assert "mejor muerto(a)" in _load("phq9").items[8].text("es")


def test_pcl5_declares_no_validated_spanish_text_and_has_none() -> None:
    pcl5 = _load("pcl5")
    assert pcl5.no_validated_translation == frozenset({"es"})
    assert pcl5.missing_text("es") is not None
    assert not any("es" in item.texts for item in pcl5.items)


def test_bother_scale_matches_mild_moderate_severe() -> None:
    bother = next(i for i in _load("daily").items if i.id == "bother")
    assert [(o.value, o.label("en"), o.label("es")) for o in bother.options] == [
        ("mild", "Mild", "Leve"),
        ("moderate", "Moderate", "Moderada"),
        ("severe", "Severe", "Grave"),
    ]


def _spanish_texts() -> list[tuple[str, str]]:
    """Every Spanish text a patient or a team can be shown: templates and YAML wording."""
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in (TEMPLATES / "es").glob("*.j2")]
    for path in sorted(QUESTIONNAIRES.glob("*.yaml")):
        questionnaire = load_questionnaire(path)
        for item in questionnaire.items:
            texts.append((f"{path.name}: {item.id}", item.texts.get("es", "")))
            texts.extend(
                (f"{path.name}: {item.id}/{o.value}", o.labels.get("es", "")) for o in item.options
            )
            texts.append((f"{path.name}: {item.id}, name", item.name.get("es", "")))
            if item.column is not None:
                column = item.column
                texts.append((f"{path.name}: {item.id}, column", column.labels["es"]))
                texts.append((f"{path.name}: {item.id}, note", column.notes.get("es", "")))
                texts.extend(
                    (f"{path.name}: {item.id}, column {v}", t["es"])
                    for v, t in column.shows.items()
                )
    # The shared pieces' Spanish words (prompts/templates/_macros.j2).
    words = Environment(loader=FileSystemLoader(TEMPLATES)).get_template(MACROS).module.words  # type: ignore[attr-defined]
    texts.extend((f"{MACROS}: {key}", str(value)) for key, value in words["es"].items())
    return texts


def test_spanish_uses_usted_throughout() -> None:
    familiar = {
        where: found for where, text in _spanish_texts() if (found := familiar_forms(text))
    }
    assert familiar == {}


def test_the_register_check_catches_the_familiar_forms() -> None:
    assert familiar_forms("Si estás en peligro, llama a tu número.") == ["estás", "tu"]
    assert familiar_forms("Puede tomarte un descanso") == ["tomarte"]
    assert familiar_forms("Si está en peligro, llame a su número; aparte de eso") == []


def test_the_english_check_catches_english() -> None:
    assert english_words("Over the last 2 weeks") == ["Over", "the", "last"]
    assert english_words("Envíe /checkin · PHQ-9 · Registro diario: Ningún día") == []


_SPANISH_DAYS = [
    DayRow(
        date(2026, 1, 2),
        "completed",
        {"mood": "7", "dose": "more", "side_effects": "red_flag,nausea", "safety": "yes",
         "safety_now": "yes"},
    ),
    DayRow(date(2026, 1, 1), "stopped", {"dose": "none_scheduled", "safety": "declined"}),
    DayRow(date(2025, 12, 31), "missed"),
]  # fmt: skip


def test_spanish_templates_render_without_english() -> None:
    # Rendered with the values the content test uses: Spanish words only (apart from the
    # instrument names and tiers, which are the same in every language).
    renderer = Renderer()
    english = {}
    for name in sorted(renderer.template_names("es")):
        if name == "digest_table":
            continue  # HTML with a stylesheet: its words are checked in the message form
        values = dict(TEMPLATE_VALUES.get(name, {}))
        if "question" in values:
            values["question"] = "¿Cómo está?"  # the sample question is English
        # Rule names and values come from the rule files in the team's language; the samples
        # are English.
        if "rules" in values:
            values["rules"] = [{"name": "Ánimo bajo", "what": "ánimo 1"}]
        # Question names and /patient's columns come from the questionnaire files, in Spanish.
        if name == "alert_values":
            values["item"] = load_item_names(["es"])["mood"]["es"]
        if name == "provider_patient":
            values |= day_table(_SPANISH_DAYS, _load("daily"), "es")
        if "alerts" in values and name == "provider_alerts":
            alerts = cast("list[dict[str, object]]", values["alerts"])
            values["alerts"] = [{**a, "name": "Ánimo bajo", "what": "ánimo 1"} for a in alerts]
        found = english_words(renderer.render(name, "es", **values))
        if found:
            english[name] = found
    assert english == {}


# --- the start-up check -----------------------------------------------------------------


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "moodcheck.toml"
    path.write_text("[[cohort]]\nname = 'a'\nprovider_chat_id = -5\ncoverage = '24/7'\n" + body)
    return path


def _renderer_with(tmp_path: Path, *locales: str) -> Renderer:
    """Templates in more languages than the instruments have wording for."""
    root = tmp_path / "templates"
    for locale in locales:
        (root / locale).mkdir(parents=True)
    return Renderer(root)


def _daily_also_in(tmp_path: Path, locale: str) -> Path:
    """The daily questionnaire with (placeholder) wording in one more language."""
    raw = yaml.safe_load(questionnaire_path("daily").read_text(encoding="utf-8"))
    for item in raw["items"]:
        item["text"][locale] = item["text"]["en"]
        for option in item.get("options", []):
            option["label"][locale] = option["label"]["en"]
    path = tmp_path / "daily.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_start_refused_when_an_instrument_lacks_a_patient_language(tmp_path: Path) -> None:
    daily = _daily_also_in(tmp_path, "fr")
    path = _config(
        tmp_path, f"locale = 'fr'\nquestionnaire = '{daily}'\nweekly_instruments = ['gad7']\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, renderer=_renderer_with(tmp_path, "en", "es", "fr"))
    message = str(info.value)
    assert "\n" not in message
    assert "gad7.yaml" in message and "instrument gad7" in message and "'fr'" in message


def test_start_refused_for_a_language_patients_may_choose(tmp_path: Path) -> None:
    # An English cohort: a patient may still pick French in /settings.
    daily = _daily_also_in(tmp_path, "fr")
    path = _config(tmp_path, f"questionnaire = '{daily}'\nweekly_instruments = ['phq9']\n")
    with pytest.raises(ConfigError, match=r"phq9\.yaml: instrument phq9 has no 'fr' text"):
        load_config(path, renderer=_renderer_with(tmp_path, "en", "es", "fr"))


def test_start_refused_when_the_daily_questionnaire_lacks_a_language(tmp_path: Path) -> None:
    raw = yaml.safe_load(questionnaire_path("daily").read_text(encoding="utf-8"))
    del raw["items"][2]["options"][1]["label"]["es"]  # sleep, "Poor"
    own = tmp_path / "ours.yaml"
    own.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    path = _config(tmp_path, f"questionnaire = '{own}'\n")
    with pytest.raises(ConfigError, match=r"questionnaire .* has no 'es' text \(item 'sleep'"):
        load_config(path)


def test_spanish_cohort_with_pcl5_starts(tmp_path: Path) -> None:
    # No validated Spanish PCL-5: declared, so it is not a start-up failure (it is not asked).
    path = _config(
        tmp_path, "locale = 'es'\nweekly_instruments = ['phq9', 'gad7']\npcl5_every_weeks = 4\n"
    )
    config = load_config(path)
    assert config.cohorts[0].instruments == ("phq9", "gad7", "pcl5")
    assert config.untranslated == {
        "phq9": frozenset(),
        "gad7": frozenset(),
        "pcl5": frozenset({"es"}),
    }


def test_a_declared_gap_with_text_in_it_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load(questionnaire_path("gad7").read_text(encoding="utf-8"))
    raw["no_validated_translation"] = ["es"]
    path = tmp_path / "gad7.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="no_validated_translation lists 'es'"):
        load_questionnaire(path)


def test_missing_text_names_the_first_gap() -> None:
    def item(item_id: str, texts: dict[str, str], labels: dict[str, str]) -> Item:
        return Item(item_id, ItemKind.CHOICE, texts, (Option("0", labels),))

    questionnaire = Questionnaire(
        "x",
        1,
        (
            item("a", {"en": "A", "es": "A"}, {"en": "No", "es": "No"}),
            item("b", {"en": "B", "es": "B"}, {"en": "No"}),
        ),
    )
    assert questionnaire.missing_text("es") == "item 'b', option '0'"
    assert questionnaire.missing_text("en") is None
    assert questionnaire.missing_text("fr") == "item 'a', field 'text'"


# --- who is asked what ------------------------------------------------------------------

UNTRANSLATED = {"phq9": frozenset[str](), "gad7": frozenset[str](), "pcl5": frozenset({"es"})}


def test_spanish_patients_are_not_asked_the_pcl5() -> None:
    enabled = ("phq9", "gad7", "pcl5")
    assert not_asked(enabled, "es", UNTRANSLATED) == ("pcl5",)
    assert not_asked(enabled, "en", UNTRANSLATED) == ()
    monday = date(2026, 1, 12)
    kw = {"weekday": "mon", "weekly": ("phq9", "gad7"), "enrolled_on": monday}
    assert instruments_due(monday, **kw, pcl5_every_weeks=4) == ("phq9", "gad7", "pcl5")  # type: ignore[arg-type]
    skip = not_asked(enabled, "es", UNTRANSLATED)
    assert instruments_due(monday, **kw, pcl5_every_weeks=4, skip=skip) == ("phq9", "gad7")  # type: ignore[arg-type]


def test_not_asked_counts_by_instrument_and_language() -> None:
    counts = not_asked_counts(("phq9", "pcl5"), {"en": 5, "es": 3, "fr": 0}, UNTRANSLATED)
    assert counts == (("pcl5", "es", 3),)
    assert not_asked_counts(("phq9", "gad7"), {"es": 3}, UNTRANSLATED) == ()


@given(
    st.sets(st.sampled_from(("phq9", "gad7"))),
    st.one_of(st.none(), st.integers(1, 12)),
    st.integers(0, 400),
    st.sampled_from(("en", "es", "fr")),
    st.dictionaries(
        st.sampled_from(("phq9", "gad7", "pcl5")),
        st.frozensets(st.sampled_from(("en", "es", "fr"))),
    ),
)
def test_a_skipped_instrument_is_never_asked_and_nothing_else_changes(
    weekly: set[str],
    every: int | None,
    offset: int,
    locale: str,
    untranslated: dict[str, frozenset[str]],
) -> None:
    enrolled = date(2026, 1, 12)
    day = enrolled + timedelta(days=offset)
    kw = {"weekday": "wed", "weekly": tuple(sorted(weekly)), "enrolled_on": enrolled}
    full = instruments_due(day, **kw, pcl5_every_weeks=every)  # type: ignore[arg-type]
    enabled = (*sorted(weekly), "pcl5")
    skip = not_asked(enabled, locale, untranslated)
    asked = instruments_due(day, **kw, pcl5_every_weeks=every, skip=skip)  # type: ignore[arg-type]
    assert asked == tuple(name for name in full if name not in skip)
    assert all(locale not in untranslated.get(name, frozenset()) for name in asked)
