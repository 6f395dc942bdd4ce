"""Injected faults: 5xx, 429, dropped connections (before and after processing), delays."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.sandbox.faults import FaultInjector
from bot.sandbox.server import FakeBotApi
from tests.sandbox.support import Api


async def test_fail_next(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    server.faults.fail_next(method="sendMessage", status=502, times=2)
    assert await api.ok("getMe")  # other methods are untouched
    for _ in range(2):
        status, body = await api.call("sendMessage", chat_id=1001, text="hi")
        assert status == 502 and body["ok"] is False and body["error_code"] == 502
    assert alice.messages == []  # failed requests were not processed
    await api.ok("sendMessage", chat_id=1001, text="hi")
    assert [m.text for m in alice.messages] == ["hi"]
    faults = [r.fault for r in server.requests if r.fault]
    assert faults == ["5xx:502", "5xx:502"]
    assert server.violations == []


async def test_fail_next_for_one_chat(api: Api, server: FakeBotApi) -> None:
    server.register_users([1, 2])
    server.faults.fail_next(chat_id=2)
    await api.ok("sendMessage", chat_id=1, text="hi")
    status, _ = await api.call("sendMessage", chat_id=2, text="hi")
    assert status == 500


async def test_rate_limit_next(api: Api, server: FakeBotApi) -> None:
    server.user(1001, first_name="Alice")
    server.faults.rate_limit_next(method="sendMessage", retry_after=7)
    status, body = await api.call("sendMessage", chat_id=1001, text="hi")
    assert status == 429
    assert body["parameters"] == {"retry_after": 7}
    assert body["description"] == "Too Many Requests: retry after 7"
    assert server.stats()["rate_limited"] == 1
    await api.ok("sendMessage", chat_id=1001, text="hi")


async def test_drop_before_processing(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    server.faults.drop_next(method="sendMessage")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("sendMessage", chat_id=1001, text="hi")
    assert alice.messages == []
    record = server.requests[-1]
    assert (record.method, record.status, record.fault) == ("sendMessage", None, "drop")
    await api.ok("sendMessage", chat_id=1001, text="hi")


async def test_drop_after_processing_delivers_the_message(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    server.faults.drop_next(method="sendMessage", after_processing=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("sendMessage", chat_id=1001, text="hi")
    # The reply was lost but the message went out: a retry would duplicate it.
    assert [m.text for m in alice.messages] == ["hi"]
    assert server.requests[-1].fault == "drop_after"
    await api.ok("sendMessage", chat_id=1001, text="hi")
    assert server.stats()["duplicate_texts_per_chat"] == {"1001": {"hi": 2}}


async def test_delay(api: Api, server: FakeBotApi) -> None:
    server.faults.delay(method="getMe", seconds=0.1, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.ok("getMe")
    assert loop.time() - started >= 0.1
    started = loop.time()
    await api.ok("getMe")
    assert loop.time() - started < 0.1


async def test_get_updates_is_only_hit_when_named(api: Api, server: FakeBotApi) -> None:
    server.faults.fail_next()
    assert await api.ok("getUpdates") == []
    assert server.faults.pending == 1
    status, _ = await api.call("getMe")
    assert status == 500
    server.faults.fail_next(method="getUpdates")
    status, _ = await api.call("getUpdates")
    assert status == 500


async def test_clear(api: Api, server: FakeBotApi) -> None:
    server.faults.fail_next(times=5)
    server.faults.delay(seconds=5)
    server.faults.random(rate=1.0)
    server.faults.clear()
    assert server.faults.pending == 0
    assert await api.ok("getMe")


async def test_random_faults_are_reproducible(api: Api, server: FakeBotApi) -> None:
    server.user(1001, first_name="Alice")
    server.faults.random(rate=1.0, kinds=("5xx",), methods=["sendMessage"])
    status, _ = await api.call("sendMessage", chat_id=1001, text="hi")
    assert status == 500
    assert await api.ok("getMe")  # not in methods

    def draws(seed: int) -> list[str | None]:
        injector = FaultInjector()
        injector.random(rate=0.3, kinds=("5xx", "drop", "429"), seed=seed)
        taken = [injector.take("sendMessage", 1) for _ in range(200)]
        return [f.kind if f else None for f in taken]

    first = draws(7)
    assert first == draws(7)
    assert first != draws(8)
    hits = sum(kind is not None for kind in first)
    assert 30 < hits < 90
    assert {kind for kind in first if kind} == {"5xx", "drop", "429"}


def test_fault_arguments_are_checked() -> None:
    injector = FaultInjector()
    with pytest.raises(ValueError, match="5xx"):
        injector.fail_next(status=404)
    with pytest.raises(ValueError, match="times"):
        injector.fail_next(times=0)
    with pytest.raises(ValueError, match="subset"):
        injector.random(kinds=("meteor",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        injector.random(rate=2.0)


async def test_delays_are_logged_and_random_delays_sleep(api: Api, server: FakeBotApi) -> None:
    server.faults.delay(method="getMe", seconds=0.01)
    server.faults.fail_next(method="getMe")
    status, _ = await api.call("getMe")
    assert status == 500
    await api.ok("getMe")
    assert [r.fault for r in server.requests] == ["5xx:500+delay:0.01s", "delay:0.01s"]
    server.faults.clear()
    server.faults.random(rate=1.0, kinds=("delay",), methods=["getMe"], delay_seconds=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await api.ok("getMe")
    assert loop.time() - started >= 0.05
    assert server.requests[-1].fault == "delay:0.05s"
    assert server.stats()["faults"] == {"5xx": 1, "delay": 2}
