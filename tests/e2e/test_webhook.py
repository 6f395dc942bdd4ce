"""Webhook mode, /healthz and /metrics: the real bot, with the sandbox posting updates to it."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from bot.app import ALLOWED_UPDATES, build
from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.settings import Settings
from storage.models import Checkin, OutboxMessage, ProcessedUpdate
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, HARD_DAY, answer_all, enrol, last
from tests.support.harness import WEBHOOK_SECRET, Harness
from tests.support.keys import TEST_KEYS


@pytest.fixture(name="hooked")
async def fx_hooked(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    harness = Harness(server, db_url, config, clock, webhook=True)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


def _web_url(h: Harness, path: str) -> str:
    web = h.runtime.web
    assert web is not None
    return f"http://127.0.0.1:{web.port}{path}"


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _metrics(h: Harness) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples by name, then by sorted labels."""
    status, body = await _get(_web_url(h, "/metrics"))
    assert status == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


async def test_a_patient_enrols_and_checks_in_over_the_webhook(hooked: Harness) -> None:
    h = hooked
    alice = h.server.user(1001, first_name="Alice")
    patient = await enrol(h, alice, "P-W3B1")
    await h.send(alice, "/checkin")
    await answer_all(h, alice, CALM_DAY)
    assert "Thank you" in last(alice).text
    checkin = await h.scalar(select(Checkin).where(Checkin.patient_id == patient.id))
    assert checkin is not None and checkin.status == "completed"

    # Registered with the secret and the update types; every update came by a POST that
    # carried the secret and was answered 200 at the first attempt; nobody polled.
    (registration,) = [r for r in h.server.requests if r.method == "setWebhook"]
    assert registration.params["secret_token"] == WEBHOOK_SECRET
    assert registration.params["allowed_updates"] == [str(u) for u in ALLOWED_UPDATES]
    assert "edited_message" in registration.params["allowed_updates"]
    assert registration.params["max_connections"] == 40
    deliveries = h.server.webhook_deliveries
    assert len(deliveries) == len(h.update_ids) == 2 + 1 + len(CALM_DAY)
    assert all(d.status == 200 and d.secret_sent for d in deliveries)
    assert [d.update_id for d in deliveries] == h.update_ids
    assert not [r for r in h.server.requests if r.method == "getUpdates"]
    assert h.server.unconfirmed_update_count() == 0


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_happens(hooked: Harness) -> None:
    h = hooked
    bea = h.server.user(1002, first_name="Bea")
    await enrol(h, bea, "P-W3B2")
    messages_before = len(bea.messages)
    forged = {
        "update_id": 987654,
        "message": {
            "message_id": 99,
            "date": h.server.state.now_unix(),
            "chat": bea.chat.chat_json,
            "from": bea.user_json,
            "text": "/checkin",
            "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
        },
    }
    url = _web_url(h, "/telegram")
    async with aiohttp.ClientSession() as session:
        for headers, status in (
            ({}, 401),
            ({"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}, 403),
            ({"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1]}, 403),
        ):
            async with session.post(url, json=forged, headers=headers) as response:
                assert response.status == status

    # The sandbox itself, with the wrong secret: refused, and retried until it is right.
    h.server.state.webhook.secret_token = "stale-secret"
    refused = await bea.send_text("/checkin")
    await h.server.wait_for(lambda: sum(d.status == 403 for d in h.server.webhook_deliveries) >= 2)
    assert await h.count(ProcessedUpdate, ProcessedUpdate.update_id == refused) == 0
    assert refused not in h.runtime.processor.completed
    assert len(bea.messages) == messages_before
    info = await h.runtime.application.bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Wrong response from the webhook: 403"

    h.server.state.webhook.secret_token = WEBHOOK_SECRET
    h.track(refused)
    await h.settle()
    assert "1/7" in last(bea).text  # the retried /checkin went through
    # The forged update was never handled, by any path.
    assert await h.count(ProcessedUpdate, ProcessedUpdate.update_id == 987654) == 0
    assert 987654 not in h.runtime.processor.completed
    samples = await _metrics(h)
    requests = samples["moodcheck_webhook_requests_total"]
    assert requests[(("outcome", "unauthorized"),)] == 1
    assert requests[(("outcome", "forbidden"),)] >= 2 + 2


async def test_healthz_answers_ok_then_503_while_urgent_messages_wait(hooked: Harness) -> None:
    h = hooked
    status, body = await _get(_web_url(h, "/healthz"))
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "database": "ok", "outbox_lag_seconds": 0.0}

    # The delivery worker stops; an urgent message has been due for ten minutes.
    await h.runtime.worker.stop()
    now = h.clock.now()
    await h.execute(
        insert(OutboxMessage).values(
            chat_id=GROUP_A,
            method="sendMessage",
            payload={"chat_id": GROUP_A, "text": "held up"},
            priority=0,
            status="pending",
            attempts=0,
            next_attempt_at=now - timedelta(minutes=10),
            created_at=now - timedelta(minutes=10),
        )
    )
    status, body = await _get(_web_url(h, "/healthz"))
    assert status == 503
    assert json.loads(body) == {
        "status": "unavailable",
        "database": "ok",
        "outbox_lag_seconds": 600.0,
        "reason": "outbox lag over 300 s",
    }
    samples = await _metrics(h)
    assert samples["moodcheck_outbox_oldest_due_seconds"][(("priority", "0"),)] == 600.0
    assert samples["moodcheck_outbox_messages"][(("priority", "0"), ("status", "pending"))] == 1

    h.runtime.worker.start()
    group = h.server.group(GROUP_A)
    await h.server.wait_for(lambda: [m for m in group.messages if m.text == "held up"])
    await h.settle()
    status, _ = await _get(_web_url(h, "/healthz"))
    assert status == 200


async def test_healthz_503_when_the_database_is_unreachable(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        gone = tmp_path / "gone"
        gone.mkdir()
        bad_url = f"sqlite+aiosqlite:///{gone / 'moodcheck.db'}"
        shutil.rmtree(gone)
    else:
        bad_url = "postgresql+asyncpg://postgres@127.0.0.1:1/moodcheck"  # nothing listens
    settings = Settings(
        telegram_token=server.token,
        database_url=bad_url,
        data_keys=TEST_KEYS,
        telegram_base_url=server.base_url,
        listen="127.0.0.1:0",
    )
    runtime = build(settings, config, clock=clock, scan_interval=None)
    web = runtime.web
    assert web is not None
    await web.start()
    try:
        status, body = await _get(f"http://127.0.0.1:{web.port}/healthz")
        assert status == 503
        assert json.loads(body) == {
            "status": "unavailable",
            "database": "unreachable",
            "outbox_lag_seconds": None,
            "reason": "database unreachable",
        }
        status, body = await _get(f"http://127.0.0.1:{web.port}/metrics")
        assert status == 200
        up = [
            s.value
            for f in text_string_to_metric_families(body)
            for s in f.samples
            if s.name == "moodcheck_database_up"
        ]
        assert up == [0.0]
    finally:
        await web.stop()
        await runtime.engine.dispose()
        # aiosqlite stops the thread of a connection that failed to open by handing it a
        # last job whose answer goes back to this event loop: let it, before pytest closes
        # the loop (else that thread dies with "Event loop is closed").
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5.0)


async def test_metrics_move_as_messages_are_sent_and_alerts_raised(hooked: Harness) -> None:
    h = hooked
    before = await _metrics(h)
    assert before["moodcheck_messages_sent_total"][()] == 0
    assert before["moodcheck_database_up"][()] == 1
    assert "moodcheck_alerts" not in before or not before["moodcheck_alerts"]

    cy = h.server.user(1003, first_name="Cy")
    await enrol(h, cy, "P-W3B3")
    await h.send(cy, "/checkin")
    await answer_all(h, cy, {**HARD_DAY, "safety_now": "No"})

    after = await _metrics(h)
    sent = sum(1 for r in h.server.requests if r.method in _SENDS and r.status == 200)
    assert after["moodcheck_messages_sent_total"][()] == sent > 0
    assert after["moodcheck_messages_retried_total"][()] == 0
    assert after["moodcheck_alerts"][(("status", "open"), ("tier", "URGENT"))] == 1
    handled = after["moodcheck_update_handling_seconds_count"][()]
    assert handled == len(h.update_ids)
    assert after["moodcheck_update_handling_seconds_sum"][()] > 0
    assert after["moodcheck_webhook_requests_total"][(("outcome", "accepted"),)] == handled
    # Nothing left to send, and nothing waiting.
    assert not after.get("moodcheck_outbox_messages")
    assert set(after["moodcheck_outbox_oldest_due_seconds"].values()) == {0.0}


_SENDS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
