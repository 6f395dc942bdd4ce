"""The PHQ-9, GAD-7 and PCL-5 questionnaire files: they load, fit the scorer, and read right."""

from __future__ import annotations

import pytest

from bot.domain.instruments import SPECS, Band, Instrument
from bot.domain.questionnaire import ItemKind, Questionnaire
from bot.domain.scoring import Phq9Score, answers_from_values, score
from prompts.questionnaires import load_questionnaire, questionnaire_path

FREQUENCY = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
INTENSITY = ["Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"]
STEMS = {
    Instrument.PHQ9: "Over the last 2 weeks, how often have you been bothered by any of the "
    "following problems?\n\n",
    Instrument.GAD7: "Over the last 2 weeks, how often have you been bothered by the "
    "following problems?\n\n",
    Instrument.PCL5: "In the past month, how much were you bothered by:\n\n",
}
LABELS = {Instrument.PHQ9: FREQUENCY, Instrument.GAD7: FREQUENCY, Instrument.PCL5: INTENSITY}


def load(instrument: Instrument) -> Questionnaire:
    return load_questionnaire(questionnaire_path(instrument.value))


def scored_items(instrument: Instrument) -> list[str]:
    return list(SPECS[instrument].item_ids())


@pytest.mark.parametrize("instrument", list(Instrument))
def test_files_load_with_the_scored_items_in_order(instrument: Instrument) -> None:
    questionnaire = load(instrument)
    assert questionnaire.id == instrument.value
    # PHQ-9: the D7b follow-up of item 9 and the difficulty question, neither scored.
    extra = ["phq9_9_now", "difficulty"] if instrument is Instrument.PHQ9 else []
    assert [item.id for item in questionnaire.items] == scored_items(instrument) + extra


@pytest.mark.parametrize("instrument", list(Instrument))
def test_scored_items_have_the_standard_options(instrument: Instrument) -> None:
    spec = SPECS[instrument]
    for item in load(instrument).items[: spec.item_count]:
        assert item.kind is ItemKind.CHOICE
        assert [o.value for o in item.options] == [str(v) for v in range(spec.item_max + 1)]
        assert [o.label("en") for o in item.options] == LABELS[instrument]
        # One button per row, in scale order.
        assert [len(row) for row in item.keyboard_rows()] == [1] * (spec.item_max + 1)
        assert item.text("en").startswith(STEMS[instrument])
        assert item.text("en") != STEMS[instrument]


@pytest.mark.parametrize("instrument", list(Instrument))
def test_sources_are_cited(instrument: Instrument) -> None:
    source = load(instrument).sources["en"]
    if instrument is Instrument.PCL5:
        assert "National Center for PTSD" in source
        assert "Public domain" in source
    else:
        assert "Spitzer" in source
        assert "Pfizer" in source
        assert "phqscreeners.com" in source


def test_phq9_difficulty_question_cannot_pass_for_a_score() -> None:
    difficulty = load(Instrument.PHQ9).items[-1]
    assert [o.value for o in difficulty.options] == ["not", "somewhat", "very", "extremely"]
    assert [o.label("en") for o in difficulty.options] == [
        "Not difficult at all",
        "Somewhat difficult",
        "Very difficult",
        "Extremely difficult",
    ]
    assert not any(o.value.isdigit() for o in difficulty.options)


def test_phq9_item9_is_the_self_harm_item() -> None:
    # The item 9 flag is positional; the file must keep the self-harm item ninth.
    item9 = load(Instrument.PHQ9).items[8]
    assert item9.id == "phq9_9"
    assert "better off dead" in item9.text("en")


def test_pcl5_cluster_boundaries_match_the_wording() -> None:
    items = load(Instrument.PCL5).items
    assert "dreams" in items[1].text("en")  # B
    assert "Avoiding memories" in items[5].text("en")  # C starts at item 6
    assert "Trouble remembering" in items[7].text("en")  # D starts at item 8
    assert "Irritable behavior" in items[14].text("en")  # E starts at item 15
    assert "asleep" in items[19].text("en")


@pytest.mark.parametrize("instrument", list(Instrument))
def test_every_option_round_trips_through_the_scorer(instrument: Instrument) -> None:
    spec = SPECS[instrument]
    questionnaire = load(instrument)
    zeros = dict.fromkeys(spec.item_ids(), "0")
    for n, item in enumerate(questionnaire.items[: spec.item_count], start=1):
        for option in item.options:
            values = zeros | {item.id: option.value}
            if instrument is Instrument.PHQ9:
                values["difficulty"] = "somewhat"  # asked, never scored
            result = score(instrument, answers_from_values(instrument, values))
            assert result.total == int(option.value)
            if isinstance(result, Phq9Score) and n == 9:
                assert result.item9_positive is (option.value != "0")


@pytest.mark.parametrize("instrument", list(Instrument))
def test_top_options_give_the_maximum(instrument: Instrument) -> None:
    spec = SPECS[instrument]
    questionnaire = load(instrument)
    values = {item.id: item.options[-1].value for item in questionnaire.items}
    result = score(instrument, answers_from_values(instrument, values))
    assert result.total == spec.max_total
    assert result.band is (None if instrument is Instrument.PCL5 else Band.SEVERE)
