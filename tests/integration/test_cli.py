"""The moodcheck command: one clear line and exit code 2 for every bad start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from fhir.resources.R4B.bundle import Bundle
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from bot.config import load_config
from bot.ops.cli import main
from bot.sandbox.server import FakeBotApi
from tests.support.databases import sqlite_copy
from tests.support.keys import TEST_KEYS

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(name="env")
def fx_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_path: Path) -> Path:
    for name in (
        "MOODCHECK_TELEGRAM_TOKEN",
        "MOODCHECK_DATABASE_URL",
        "MOODCHECK_BOT_USERNAME",
        "MOODCHECK_WEBHOOK_URL",
        "MOODCHECK_WEBHOOK_SECRET",
        "MOODCHECK_WEBHOOK_PATH",
        "MOODCHECK_LISTEN",
        "MOODCHECK_LOG_FORMAT",
        "MOODCHECK_DATA_KEYS",
        "MOODCHECK_DATA_KEY_FILE",
    ):
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
    # A copy has no key file beside it: the keys come from the environment.
    monkeypatch.setenv("MOODCHECK_DATA_KEYS", TEST_KEYS)
    assert main(["invite", "--cohort", "clinic-b", "--label", "P-2222"]) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOODCHECK_LOG_FORMAT", "xml"),
        ("MOODCHECK_LISTEN", "8080"),
        ("MOODCHECK_LISTEN", "0.0.0.0:99999"),
        ("MOODCHECK_WEBHOOK_URL", "http://bot.example.org/telegram"),
        ("MOODCHECK_WEBHOOK_URL", "bot.example.org"),
        ("MOODCHECK_WEBHOOK_SECRET", "has spaces and $ymbols"),
        ("MOODCHECK_WEBHOOK_SECRET", "x" * 257),
        ("MOODCHECK_WEBHOOK_PATH", "telegram"),
        ("MOODCHECK_WEBHOOK_MAX_CONNECTIONS", "0"),
        ("MOODCHECK_HEALTH_MAX_OUTBOX_LAG", "-1"),
        ("MOODCHECK_MAX_MESSAGES_PER_SECOND", "fast"),
        ("MOODCHECK_MAX_MESSAGES_PER_SECOND", "0"),
    ],
)
def test_invalid_web_and_log_settings(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    line = _one_line_error(capsys)
    assert f"{name} is invalid" in line
    if name == "MOODCHECK_WEBHOOK_SECRET":
        assert value not in line  # a secret is never echoed


def test_webhook_mode_needs_a_url_and_a_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    assert main(["run", "--webhook"]) == 2
    assert "MOODCHECK_WEBHOOK_URL is missing" in _one_line_error(capsys)
    monkeypatch.setenv("MOODCHECK_WEBHOOK_URL", "https://bot.example.org/telegram")
    assert main(["run", "--webhook"]) == 2
    assert "MOODCHECK_WEBHOOK_SECRET is missing" in _one_line_error(capsys)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_moodcheck_run_webhook_serves_until_sigterm(
    env: Path, config_path: Path, sqlite_template_file: Path
) -> None:
    """The real command in its own process: registers the webhook, answers a patient,
    serves /healthz and /metrics, writes JSON logs without the token, stops on SIGTERM."""
    async with FakeBotApi() as server:
        for cohort in load_config(config_path).cohorts:  # the start-up check wants them
            server.group(cohort.provider_chat_id, title=cohort.name)
        port = _free_port()
        child_env = {
            **os.environ,
            "MOODCHECK_TELEGRAM_TOKEN": server.token,
            "MOODCHECK_TELEGRAM_BASE_URL": server.base_url,
            "MOODCHECK_DATABASE_URL": sqlite_copy(sqlite_template_file, env),
            "MOODCHECK_CONFIG": str(config_path),
            "MOODCHECK_BOT_USERNAME": "moodcheck_test_bot",
            "MOODCHECK_DATA_KEYS": TEST_KEYS,  # a copy has no key file beside it
            "MOODCHECK_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook/telegram",
            "MOODCHECK_WEBHOOK_SECRET": "cli-test-secret",
            "MOODCHECK_LISTEN": f"127.0.0.1:{port}",
            "MOODCHECK_LOG_FORMAT": "json",
            "PYTHONPATH": str(REPO),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--webhook",
            env=child_env, cwd=env, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await server.wait_for(lambda: server.state.webhook.url, timeout=60)
            assert server.state.webhook.secret_token == "cli-test-secret"
            dee = server.user(4242, first_name="Dee")
            await dee.send_text("/help")
            await server.wait_for(lambda: dee.last_message is not None, timeout=20)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    metrics = await response.text()
            sent = [
                s.value
                for family in text_string_to_metric_families(metrics)
                for s in family.samples
                if s.name == "moodcheck_messages_sent_total"
            ]
            assert sent[0] >= 1
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            stderr = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
            code = await asyncio.wait_for(process.wait(), 30)
        assert code == 0, stderr
        assert server.state.webhook.url  # not deleted on shutdown: other workers keep it
        lines = [json.loads(line) for line in stderr.splitlines()]
        assert any("listening" in line["message"] for line in lines)
        assert "TEST-TOKEN" not in stderr and "cli-test-secret" not in stderr


def test_export_fhir_and_outcomes_from_the_command_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{env / 'reports.db'}"
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert "back it up" in capsys.readouterr().err  # a new install's data key file
    # Before the bot has run, the cohort has no rows: one clear line, no file.
    assert main(["export", "--cohort", "clinic-d", "--out", str(env / "b.json")]) == 2
    assert "has no data yet" in _one_line_error(capsys)
    assert not (env / "b.json").exists() and not (env / "b.json.partial").exists()
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("MOODCHECK_BOT_USERNAME", "clinic_checkin_bot")
    assert main(["invite", "--cohort", "clinic-d", "--label", "P-CLI1"]) == 0  # syncs cohorts
    capsys.readouterr()

    out = env / "bundle.json"
    assert main(["export", "--cohort", "clinic-d", "--out", str(out), "--check-all"]) == 0
    assert "4 Questionnaire" in capsys.readouterr().out
    bundle = Bundle.model_validate_json(out.read_text())
    assert bundle.type == "collection"
    urls = sorted(str(e.resource.url) for e in bundle.entry or [])  # type: ignore[union-attr]
    assert urls == [
        f"urn:moodcheck:fhir/Questionnaire/{q}" for q in ("daily", "gad7", "pcl5", "phq9")
    ]

    assert (
        main(["outcomes", "--cohort", "clinic-d", "--from", "2026-01-01", "--to", "2026-06-30"])
        == 0
    )
    report = capsys.readouterr().out
    assert "Outcomes · clinic-d · 2026-01-01 to 2026-06-30" in report and "<b>" not in report
    assert main(["outcomes", "--cohort", "clinic-d", "--from", "2026-13-01"]) == 2
    assert "YYYY-MM-DD" in _one_line_error(capsys)
    assert main(["outcomes", "--cohort", "nope"]) == 2
    assert "no cohort named 'nope'" in _one_line_error(capsys)


async def test_moodcheck_run_stops_when_the_bot_is_not_in_a_group(
    env: Path, config_path: Path, sqlite_template_file: Path
) -> None:
    """The real command: one cohort's group removed the bot, so the start stops with exit
    code 2 and one line naming the cohort and the reason, before any update is taken."""
    async with FakeBotApi() as server:
        cohorts = load_config(config_path).cohorts
        for cohort in cohorts:
            server.group(cohort.provider_chat_id, title=cohort.name)
        server.group(cohorts[1].provider_chat_id).remove_bot(notify=False)
        child_env = {
            **os.environ,
            "MOODCHECK_TELEGRAM_TOKEN": server.token,
            "MOODCHECK_TELEGRAM_BASE_URL": server.base_url,
            "MOODCHECK_DATABASE_URL": sqlite_copy(sqlite_template_file, env),
            "MOODCHECK_CONFIG": str(config_path),
            "MOODCHECK_BOT_USERNAME": "moodcheck_test_bot",
            "MOODCHECK_DATA_KEYS": TEST_KEYS,  # a copy has no key file beside it
            "PYTHONPATH": str(REPO),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            env=child_env, cwd=env, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        stderr = (await asyncio.wait_for(process.stderr.read(), 60)).decode()
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("moodcheck: ")]
    assert f"cohort '{cohorts[1].name}'" in line
    assert str(cohorts[1].provider_chat_id) in line and "bot was kicked" in line
    assert not [r for r in server.requests if r.method in {"getUpdates", "sendMessage"}]
