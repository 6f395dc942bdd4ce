"""Settings and the cohort file: bad input stops the start with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.settings import Settings, SettingsError, load_settings

EXAMPLE = Path(__file__).parents[2] / "moodcheck.example.toml"
A = "[[cohort]]\nname='a'\nprovider_chat_id=-5\ncoverage='24/7'\n"
"""A cohort that loads; each case adds what is wrong."""


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.cohorts[0].name == "ketamine-home"
    assert "daily" in config.questionnaires


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "field 'cohort'"),
        (A.replace("-5", "5"), "cohort 'a', field 'provider_chat_id'"),
        (A.replace("'24/7'", "'nights'"), "cohort 'a', field 'coverage'"),
        (A + "region='XX'\n", "cohort 'a', field 'region': 'XX' is not one of"),
        (A + "timezone='Mars/Base'\n", "Mars/Base"),
        (A + "checkin_time='25:00'\n", "checkin_time"),
        (A + "region='XX'\n", "region"),
        (A + "locale='fr'\n", "locale 'fr'"),
        (A + "colour='red'\n", "colour"),
        (A + "questionnaire='nope'\n", "nope.yaml"),
        (A + "optional_items=['bp', 'coffee']\n", "'optional_items.1': Input should be 'bp'"),
        (A + "post_dose_delay_minutes=60\n", "cohort 'a', field 'post_dose_delay_minutes'"),
        (A + "post_dose_delay_minutes=300\n", "cohort 'a', field 'post_dose_delay_minutes'"),
        (
            A + "[[cohort]]\nname='a'\nprovider_chat_id=-6\ncoverage='24/7'\n",
            "share a name",
        ),
        ("[[cohort]\n", "config file"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_post_dose_and_optional_item_defaults(tmp_path: Path) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text(A + "optional_items=['bp', 'substance']\npost_dose_delay_minutes=150\n")
    [cohort] = load_config(path).cohorts
    assert cohort.optional_items == ("bp", "substance")
    assert (cohort.post_dose_delay_minutes, cohort.post_dose_window_hours) == (150, 4)
    path.write_text(A)
    [cohort] = load_config(path).cohorts
    assert (cohort.optional_items, cohort.post_dose_delay_minutes) == ((), 180)


def test_a_cohort_without_coverage_does_not_start(tmp_path: Path) -> None:
    path = tmp_path / "moodcheck.toml"
    path.write_text("[[cohort]]\nname='night-clinic'\nprovider_chat_id=-5\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "\n" not in message
    assert "cohort 'night-clinic', field 'coverage': required" in message
    assert 'coverage = "24/7"' in message  # says how to fix it


def test_coverage_hours_or_around_the_clock(tmp_path: Path) -> None:
    path = tmp_path / "moodcheck.toml"
    hours = 'coverage = { days = ["mon", "fri"], start = "09:00", end = "17:00" }'
    path.write_text(
        f"[[cohort]]\nname='a'\nprovider_chat_id=-5\nregion='gb'\n{hours}\n"
        "[[cohort]]\nname='b'\nprovider_chat_id=-6\ncoverage='24/7'\n"
    )
    a, b = load_config(path).cohorts
    assert a.region == "UK"  # ISO's GB is the card's UK
    assert a.coverage_hours is not None and a.coverage_hours.days == frozenset({0, 4})
    assert b.coverage_hours is None and b.card_coverage == "24/7"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_token_is_required_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOODCHECK_TELEGRAM_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="MOODCHECK_TELEGRAM_TOKEN is missing"):
        Settings().token()
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "not a token")
    with pytest.raises(SettingsError, match="does not look like"):
        load_settings().token()
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "123:abc-DEF_9")
    assert load_settings().token() == "123:abc-DEF_9"
    assert "abc" not in repr(load_settings())  # the secret never shows in reprs or logs


def test_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODCHECK_TELEGRAM_BASE_URL", "ftp://example")
    with pytest.raises(SettingsError, match="MOODCHECK_TELEGRAM_BASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("rule", "refusal"),
    [
        # A PHQ-9 item 9 rule for an answer the instrument does not have (0-3).
        ("{id: x, kind: item_value, item: phq9_9, values: ['7'], tier: URGENT}", "no value 7"),
        # An item no questionnaire asks: the rule could never fire.
        ("{id: x, kind: item_value, item: sadnes, values: ['1'], tier: URGENT}", "never fire"),
    ],
)
def test_a_rule_that_could_never_fire_stops_the_start(
    tmp_path: Path, rule: str, refusal: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules:\n  - {rule}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=refusal):
        load_config(EXAMPLE, rules_path=rules)
