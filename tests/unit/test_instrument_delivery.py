"""``instrument_delivery``: the setting, the questionnaires it registers, and the pure rules
of a check-in whose weekly instruments are asked in a message of their own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.domain.checkin import (
    CheckinStatus,
    Tap,
    TapVerdict,
    accepts_taps,
    first_position,
    in_weekly_part,
    judge_tap,
    next_position,
    previous_position,
    progress,
    weekly_part_start,
)
from bot.domain.questionnaire import Questionnaire, QuestionnaireError

COHORT = """
[[cohort]]
name = "a"
provider_chat_id = -5
coverage = "24/7"
weekly_instruments = ["phq9", "gad7"]
pcl5_every_weeks = 4
"""
CALM = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "4",
    "energy": "4",
    "dose": "as_prescribed",
    "side_effects": "none",
    "safety": "no",
}


def _load(tmp_path: Path, extra: str = "") -> Questionnaire:
    path = tmp_path / "moodcheck.toml"
    path.write_text(COHORT + extra)
    return load_config(path).questionnaires["daily/phq9+gad7"]


def test_after_daily_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text(COHORT)
    config = load_config(path)
    assert config.cohorts[0].instrument_delivery == "after_daily"
    assert config.questionnaires["daily+phq9+gad7"].apart_from is None


@pytest.mark.parametrize("value", ["'own_message'", "'after_daily'"])
def test_both_deliveries_register_both_questionnaires(tmp_path: Path, value: str) -> None:
    # A check-in opened before the setting changed still finds its questionnaire.
    path = tmp_path / "moodcheck.toml"
    path.write_text(COHORT + f"instrument_delivery = {value}\n")
    config = load_config(path)
    daily = len(config.questionnaires["daily"].items)
    for key in ("daily/phq9+gad7", "daily/phq9+gad7+pcl5"):
        assert config.questionnaires[key].apart_from == daily
    together = config.questionnaires["daily+phq9+gad7+pcl5"]
    assert together.apart_from is None
    assert together.items == config.questionnaires["daily/phq9+gad7+pcl5"].items


@pytest.mark.parametrize("value", ["'separate'", "'OWN_MESSAGE'", "1", "''"])
def test_a_bad_delivery_names_the_cohort_and_field(tmp_path: Path, value: str) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text(COHORT + f"instrument_delivery = {value}\n")
    with pytest.raises(ConfigError, match="cohort 'a', field 'instrument_delivery'"):
        load_config(path)


def test_apart_from_must_fall_between_items(tmp_path: Path) -> None:
    questionnaire = _load(tmp_path)
    for bad in (0, len(questionnaire.items), -1):
        with pytest.raises(QuestionnaireError, match="apart_from"):
            dataclasses.replace(questionnaire, apart_from=bad)


def test_each_part_counts_steps_and_goes_back_on_its_own(tmp_path: Path) -> None:
    q = _load(tmp_path)
    split = q.apart_from
    assert split is not None
    last_daily = q.position("safety")
    # The daily part ends at its last item: the instruments are not "next".
    assert next_position(q, CALM, last_daily) is None
    assert progress(q, first_position(q)) == ("1", 7)
    start = weekly_part_start(q, CALM)
    assert start == split == q.position("phq9_1")
    assert progress(q, start) == ("1", 17)
    assert progress(q, q.position("phq9_9_now")) == ("9b", 17)
    assert previous_position(q, CALM, start) is None  # no Back into the finished message
    assert previous_position(q, CALM, start + 1) == start
    assert next_position(q, CALM, len(q.items) - 1) is None


def test_taps_after_the_daily_part(tmp_path: Path) -> None:
    q = _load(tmp_path)
    split = q.apart_from
    assert split is not None

    def judge(status: CheckinStatus, current: int, item: str) -> TapVerdict:
        return judge_tap(
            q,
            status=status,
            window_open=True,
            current_position=current,
            tap=Tap(1, item, "1"),
        )

    assert q.items[split].id == "phq9_1"
    for status in (CheckinStatus.COMPLETED, CheckinStatus.SKIPPED):
        assert in_weekly_part(q, status, split)
        assert judge(status, split, "phq9_1") is TapVerdict.RECORD
        assert judge(status, split + 1, "phq9_1") is TapVerdict.ALREADY_ANSWERED
        assert judge(status, split, "mood") is TapVerdict.ALREADY_ANSWERED
        # Answered or skipped to the end: nothing takes taps any more.
        assert not accepts_taps(q, status, len(q.items))
        assert judge(status, len(q.items), "phq9_1") is TapVerdict.CLOSED
    # A day stopped by a safety answer asks nothing more, whatever its position says.
    assert not accepts_taps(q, CheckinStatus.STOPPED, split)
    assert not accepts_taps(q, CheckinStatus.MISSED, split)
    assert accepts_taps(q, CheckinStatus.OPEN, 0)
    assert not in_weekly_part(q, CheckinStatus.OPEN, 0)
