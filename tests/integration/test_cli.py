"""The moodcheck command: one clear line and exit code 2 for every bad start."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.cli import main
from tests.support.databases import sqlite_copy


@pytest.fixture(name="env")
def fx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_path: Path) -> Path:
    for name in ("MOODCHECK_TELEGRAM_TOKEN", "MOODCHECK_DATABASE_URL", "MOODCHECK_BOT_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOODCHECK_CONFIG", str(config_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("moodcheck: ")
    return err[0]


def test_run_without_a_token(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert "MOODCHECK_TELEGRAM_TOKEN is missing" in _one_line_error(capsys)


def test_run_with_a_broken_config(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = env / "bad.toml"
    bad.write_text("[[cohort]]\nname = 'x'\nprovider_chat_id = -1\ntimezone = 'Nowhere/City'\n")
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("MOODCHECK_CONFIG", str(bad))
    assert main(["run"]) == 2
    line = _one_line_error(capsys)
    assert "Nowhere/City" in line and "cohort 'x'" in line


def test_invalid_setting(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOODCHECK_LOG_LEVEL", "LOUD")
    assert main(["db", "upgrade"]) == 2
    assert "MOODCHECK_LOG_LEVEL" in _one_line_error(capsys)


def test_run_refuses_a_database_behind_the_code(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", f"sqlite:///{env / 'empty.db'}")
    assert main(["run"]) == 2
    assert "moodcheck db upgrade" in _one_line_error(capsys)


def test_db_upgrade_then_invite(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_template_file: Path,
) -> None:
    url = f"sqlite:///{env / 'fresh.db'}"
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert "database is at revision" in capsys.readouterr().out
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("MOODCHECK_BOT_USERNAME", "clinic_checkin_bot")
    assert main(["invite", "--cohort", "clinic-a", "--label", "P-7Q3K"]) == 0
    out = capsys.readouterr()
    link = out.out.strip()
    assert link.startswith("https://t.me/clinic_checkin_bot?start=")
    code = link.split("=", 1)[1]
    assert len(code) >= 16  # at least 64 bits of randomness, URL-safe
    assert "single use" in out.err
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT code_hash, label FROM invites")).all()
    engine.dispose()
    assert len(stored) == 1 and stored[0][1] == "P-7Q3K"
    assert code not in stored[0][0]  # only the hash is kept

    # An unknown cohort and a label that could be a name are refused in one line.
    assert main(["invite", "--cohort", "nope", "--label", "P-1111"]) == 2
    assert "no cohort named 'nope'" in _one_line_error(capsys)
    assert main(["invite", "--cohort", "clinic-a", "--label", "alice smith"]) == 2
    assert "label" in _one_line_error(capsys)


def test_schema_check_passes_on_a_migrated_copy(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_template_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = sqlite_copy(sqlite_template_file, env)
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", url)
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("MOODCHECK_BOT_USERNAME", "clinic_checkin_bot")
    assert main(["invite", "--cohort", "clinic-b", "--label", "P-2222"]) == 0
