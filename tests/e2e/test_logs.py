"""Structured logs: JSON lines with safe fields, and never a patient's data, even at DEBUG."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.app import build
from bot.config import AppConfig
from bot.ops.logs import configure_logging
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from tests.e2e.flows import HARD_DAY, answer_all, enrol
from tests.support.harness import Harness
from tests.support.keys import TEST_KEYS

NAME = "Zephyrine"
SURNAME = "Quillfeather"
USERNAME = "zeph_quill_77"
FREE_TEXT = "my neighbour tangerine-octopus-4417 knows"
PATIENT_DATA = (NAME, SURNAME, USERNAME, "tangerine-octopus-4417")


@pytest.fixture(name="captured")
def fx_captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """JSON logs as `moodcheck run` writes them at DEBUG, and an unfiltered copy of
    everything every library logged (what an unguarded set-up would have written)."""
    root = logging.getLogger()
    level = root.level
    ours = io.StringIO()
    everything = io.StringIO()
    raw = logging.StreamHandler(everything)
    raw.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler = configure_logging("DEBUG", "json", stream=ours)
    root.addHandler(raw)
    try:
        yield ours, everything
    finally:
        root.removeHandler(handler)
        root.removeHandler(raw)
        root.setLevel(level)


async def test_a_full_patient_flow_logs_no_patient_data(
    harness: Harness, captured: tuple[io.StringIO, io.StringIO]
) -> None:
    h = harness
    ours, everything = captured
    zeph = h.server.user(7001, first_name=NAME, last_name=SURNAME, username=USERNAME)
    await enrol(h, zeph, "P-L0G1")
    await h.send(zeph, FREE_TEXT)
    await h.send(zeph, "/checkin")
    # A failed send on the way (retried), and a safety answer that raises an alert.
    h.server.faults.fail_next(method="editMessageText", status=502, times=1)
    await h.press(zeph, "2")
    await h.advance(timedelta(seconds=5))  # past the retry's backoff
    await answer_all(
        h, zeph, {**{k: v for k, v in HARD_DAY.items() if k != "mood"}, "safety_now": "No"}
    )
    await h.send(zeph, "/mydata")

    # The data was within the libraries' reach: unguarded DEBUG logging would have leaked it.
    leaked = everything.getvalue()
    assert FREE_TEXT in leaked and NAME in leaked

    lines = [json.loads(line) for line in ours.getvalue().splitlines()]
    assert lines, "nothing was logged"
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= line.keys()
        assert line["logger"].split(".")[0] in {"bot", "handlers", "storage", "prompts"} or (
            line["level"] != "DEBUG"
        )
    text = ours.getvalue()
    for secret in PATIENT_DATA:
        assert secret not in text, secret
    handled = [line for line in lines if line["message"] == "update handled"]
    assert {line["update_id"] for line in handled} >= set(h.update_ids)
    assert all(line["chat_kind"] == "private" and line["duration_ms"] >= 0 for line in handled)


def test_json_lines_carry_only_the_allowed_fields() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", "json", stream=stream)
    try:
        logging.getLogger("bot.test").warning(
            "outbox message %d dead", 42, extra={"outbox_id": 42, "payload": "Alice's text"}
        )
        try:
            raise KeyError("x")
        except KeyError:
            logging.getLogger("handlers").exception("update 7 failed", extra={"update_id": 7})
        logging.getLogger("telegram.Bot").debug("Calling Bot API with text=Alice's text")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "outbox message 42 dead"
    assert (first["level"], first["logger"], first["outbox_id"]) == ("WARNING", "bot.test", 42)
    assert "payload" not in first and "Alice" not in stream.getvalue()
    assert (second["update_id"], second["exc_type"]) == (7, "KeyError")
    assert "Traceback" in second["exc"]


def test_text_format_appends_the_safe_fields() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("DEBUG", "text", stream=stream)
    try:
        logging.getLogger("bot.transport.processor").debug(
            "update handled", extra={"update_id": 3}
        )
        logging.getLogger("aiosqlite").debug("executing INSERT ... ('Alice',)")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("DEBUG bot.transport.processor: update handled update_id=3")


async def test_a_bot_api_that_cannot_be_reached_is_logged_once_and_once_back(
    harness: Harness, captured: tuple[io.StringIO, io.StringIO]
) -> None:
    """Issue 13: 46 tracebacks and 4,567 lines in 20 minutes of polling a Bot API that did
    not answer. Now: one line when it goes, one when it is back, whatever happened between."""
    h = harness
    ours, _ = captured
    poller = h.runtime.poller
    assert poller is not None
    poller.retry_delay = 0.05  # the pause between attempts (1 s in production), not the rule
    # Dropped connections, then gateway errors: six failed polls in a row.
    h.server.faults.drop_next(method="getUpdates", times=3)
    h.server.faults.fail_next(method="getUpdates", status=502, times=3)
    await h.server.wait_for(lambda: not h.server.faults.pending, timeout=20.0)
    ann = h.server.user(7101, first_name="Ann")
    await enrol(h, ann, "P-L0G2")  # polling works again: the patient is answered

    lines = [json.loads(line) for line in ours.getvalue().splitlines()]
    api = [line for line in lines if line["logger"] == "bot.transport.polling"]
    assert len(api) == 2, api
    assert api[0]["message"].startswith("Telegram Bot API unavailable (")
    assert api[1]["message"].startswith("Telegram Bot API available again after")
    assert api[1]["message"].endswith("(6 failed attempts)")
    assert not [line for line in lines if "exc" in line], "a traceback was logged"
    assert len([line for line in lines if line["level"] != "DEBUG"]) <= 4


async def test_the_scheduler_does_not_log_every_run(
    server: FakeBotApi,
    db_url: str,
    config: AppConfig,
    captured: tuple[io.StringIO, io.StringIO],
) -> None:
    """APScheduler's "Running job" and "executed successfully" lines (two every 3 s for the
    announce job: about 57,000 a day) are not written; the jobs still run."""
    ours, everything = captured
    for cohort in config.cohorts:  # the start-up check needs the bot in every group
        server.group(cohort.provider_chat_id, title=cohort.name)
    settings = Settings(
        telegram_token=server.token,
        database_url=db_url,
        telegram_base_url=server.base_url,
        data_keys=TEST_KEYS,
    )
    bot = build(settings, config, scan_interval=30.0)
    await bot.start(poll_timeout=1)
    try:
        jobs = {job.name: job for job in bot.application.job_queue.jobs()}  # type: ignore[union-attr]
        first = jobs["announce"].next_t
        assert first is not None
        await asyncio.sleep(3.5)
        assert jobs["announce"].next_t is not None and jobs["announce"].next_t > first
    finally:
        await bot.stop()
    text = ours.getvalue() + everything.getvalue()
    assert "Running job" not in text and "executed successfully" not in text
