"""Settings and the cohort file: bad input stops the start with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.settings import Settings, SettingsError, load_settings

EXAMPLE = Path(__file__).parents[2] / "moodcheck.example.toml"


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.cohorts[0].name == "ketamine-home"
    assert "daily" in config.questionnaires


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "field 'cohort'"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=5\n", "cohort 'a', field 'provider_chat_id'"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\ntimezone='Mars/Base'\n", "Mars/Base"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\ncheckin_time='25:00'\n", "checkin_time"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\nregion='XX'\n", "region"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\nlocale='fr'\n", "locale 'fr'"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\ncolour='red'\n", "colour"),
        ("[[cohort]]\nname='a'\nprovider_chat_id=-5\nquestionnaire='nope'\n", "nope.yaml"),
        (
            "[[cohort]]\nname='a'\nprovider_chat_id=-5\n[[cohort]]\nname='a'\nprovider_chat_id=-6\n",
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
