"""The webhook never answers 500 to bad input (issue 13, item 7).

A bad secret gets 401/403 (also with bytes that are not ASCII), a body that is not JSON or is
nested too deep 400, a JSON object that is not an update (``update_id=[1]``) 400, each logged
in one line without a traceback. Random and mutated updates (hypothesis) never get a 500 nor
a traceback storm; afterwards a patient is answered as usual and the bot shuts down.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.harness import WEBHOOK_SECRET, Harness

HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture(name="hooked")
async def fx_hooked(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    harness = Harness(server, db_url, config, clock, webhook=True)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


def _url(h: Harness) -> str:
    web = h.runtime.web
    assert web is not None
    return f"http://127.0.0.1:{web.port}/telegram"


async def _post(h: Harness, body: bytes, headers: dict[str, str] | None = None) -> int:
    sent = {HEADER: WEBHOOK_SECRET, "Content-Type": "application/json", **(headers or {})}
    async with (
        aiohttp.ClientSession() as session,
        session.post(_url(h), data=body, headers=sent) as response,
    ):
        return response.status


async def _raw_post(h: Harness, secret: bytes, body: bytes) -> int:
    """A request with a header value aiohttp's client would refuse to send (raw bytes)."""
    web = h.runtime.web
    assert web is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", web.port)
    writer.write(
        b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + HEADER.encode()
        + b": "
        + secret
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]


def _sample_update(h: Harness) -> dict[str, Any]:
    """A real update the sandbox made (a patient's text), to mutate."""
    return {
        "update_id": 900_001,
        "message": {
            "message_id": 7,
            "date": h.server.state.now_unix(),
            "chat": {"id": 4242, "type": "private", "first_name": "Fuzz"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Fuzz", "language_code": "en"},
            "text": "hello",
        },
    }


async def test_bad_secrets_and_bodies_get_4xx_never_500(
    hooked: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = hooked
    caplog.set_level(logging.WARNING)
    good = json.dumps(_sample_update(h)).encode()
    assert await _raw_post(h, "sécret".encode("latin-1"), good) == 403
    assert await _raw_post(h, "s\xe9cret\u2603".encode(), good) == 403
    assert await _raw_post(h, b"\xff\xfe\x00", good) in {400, 403}
    deep = b"[" * 100_000 + b"]" * 100_000
    assert await _post(h, deep) == 400
    deep_object = json.dumps(_nested(60)).encode()
    assert await _post(h, deep_object) == 400
    for body in (b"{", b"null", b"[]", b"\xff\xfe", b'{"update_id": [1]}', b'{"update_id": true}'):
        assert await _post(h, body) == 400, body
    malformed = _sample_update(h)
    malformed["update_id"] = [1]
    assert await _post(h, json.dumps(malformed).encode()) == 400
    # Ids the bot would send back to Telegram, of the wrong type: refused, never echoed.
    forged: list[dict[str, object]] = [
        {"update_id": 7, "callback_query": {"id": [False], "from": {"id": 1}, "data": "x"}},
        {"update_id": 8, "message": {"message_id": 1, "chat": {"id": "1"}, "text": "hi"}},
        {"update_id": 9, "edited_message": {"message_id": 1, "chat": {"id": 1}, "text": [1]}},
        {"update_id": 10, "callback_query": "x"},
    ]
    for update in forged:
        assert await _post(h, json.dumps(update).encode()) == 400, update
    assert _tracebacks(caplog) == []
    # One line per refused request, no more.
    refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refused) == 3 + 2 + 6 + 1 + 4, [r.getMessage() for r in refused]
    # Nothing of that was handled; the processor is idle, and a patient is answered.
    await asyncio.wait_for(h.runtime.processor.wait_idle(), 1.0)
    alice = h.server.user(4301, first_name="Alice")
    await enrol(h, alice, "P-FZ01")
    await h.send(alice, "/checkin")
    await answer_all(h, alice, CALM_DAY)
    assert "Thank you" in last(alice).text
    # And the bot still stops (a malformed update once kept SIGTERM from ending it).
    await asyncio.wait_for(h.stop_bot(), 10.0)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"update_id": 1}
    for _ in range(depth):
        value = {"update_id": 1, "message": value}
    return value


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def _mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A real update with a few fields replaced, removed or added at any depth."""
    update = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        target: dict[str, Any] = update
        while True:
            dicts = [k for k, v in target.items() if isinstance(v, dict)]
            if not dicts or not draw(st.booleans()):
                break
            target = target[draw(st.sampled_from(dicts))]
        key = draw(st.sampled_from([*target.keys(), "text", "chat", "from", "data", "id"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(_JSON)
    return update


_BASE = {
    "update_id": 900_002,
    "message": {
        "message_id": 7,
        "date": 1_768_000_000,
        "chat": {"id": 4343, "type": "private", "first_name": "Fuzz"},
        "from": {"id": 4343, "is_bot": False, "first_name": "Fuzz", "language_code": "en"},
        "text": "hello",
    },
    "callback_query": {
        "id": "cq-1",
        "from": {"id": 4343, "is_bot": False, "first_name": "Fuzz"},
        "chat_instance": "1",
        "data": "a|1|mood|7",
        "message": {
            "message_id": 8,
            "date": 1_768_000_000,
            "chat": {"id": 4343, "type": "private", "first_name": "Fuzz"},
        },
    },
}


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(_JSON, _mutated(_BASE)), update_id=st.integers(1, 2**31))
async def test_random_and_mutated_updates_never_get_a_500(
    hooked: Harness, caplog: pytest.LogCaptureFixture, body: Any, update_id: int
) -> None:
    h = hooked
    if isinstance(body, dict) and "update_id" in body and isinstance(body["update_id"], int):
        body["update_id"] = update_id  # a fresh id, so no example is taken for a repeat
    caplog.clear()
    status = await _post(h, json.dumps(body).encode())
    assert status in {200, 400}, (status, body)
    # At most one line per request, and no storm of tracebacks.
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 2, [
        r.getMessage() for r in caplog.records
    ]
