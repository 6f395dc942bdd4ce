"""The sandbox posts updates to a webhook as Telegram does: in order, with the secret, retried."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.sandbox.server import FakeBotApi
from tests.sandbox.support import Api


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers with the statuses it is told to."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.statuses: list[int] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture(name="receiver")
async def fx_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_updates_are_posted_in_order_with_the_secret(
    api: Api, server: FakeBotApi, receiver: Receiver
) -> None:
    alice = server.user(1001, first_name="Alice")
    assert await api.ok("setWebhook", url=receiver.url, secret_token="s3cret_-X") is True
    first = await alice.send_text("one")
    second = await alice.send_text("two")
    await server.wait_for(lambda: len(receiver.received) == 2)
    assert [(secret, body["update_id"]) for secret, body in receiver.received] == [
        ("s3cret_-X", first),
        ("s3cret_-X", second),
    ]
    assert receiver.received[0][1]["message"]["text"] == "one"
    await server.wait_for(lambda: server.unconfirmed_update_count() == 0)
    assert [(d.update_id, d.status, d.secret_sent) for d in server.webhook_deliveries] == [
        (first, 200, True),
        (second, 200, True),
    ]
    assert "webhook is active" in await api.error("getUpdates", 409)


async def test_a_refused_update_is_retried_and_holds_back_the_next(
    api: Api, server: FakeBotApi, receiver: Receiver
) -> None:
    bob = server.user(1002, first_name="Bob")
    receiver.statuses = [500, 403]
    await api.ok("setWebhook", url=receiver.url)
    first = await bob.send_text("first")
    second = await bob.send_text("second")
    await server.wait_for(lambda: server.unconfirmed_update_count() == 0)
    ids = [body["update_id"] for _, body in receiver.received]
    assert ids == [first, first, first, second]
    assert receiver.received[0][0] is None  # no secret set, no header
    statuses = [d.status for d in server.webhook_deliveries]
    assert statuses == [500, 403, 200, 200]
    info = await api.ok("getWebhookInfo")
    assert info["last_error_message"] == "Wrong response from the webhook: 403"
    assert info["pending_update_count"] == 0 and info["max_connections"] == 40


async def test_delete_webhook_returns_to_get_updates(
    api: Api, server: FakeBotApi, receiver: Receiver
) -> None:
    cy = server.user(1003, first_name="Cy")
    receiver.statuses = [503] * 1000  # the webhook is down
    await api.ok("setWebhook", url=receiver.url, secret_token="abc")
    waiting = await cy.send_text("are you there")
    await server.wait_for(lambda: len(server.webhook_deliveries) >= 2)
    assert await api.ok("deleteWebhook") is True
    assert (await api.ok("getWebhookInfo"))["url"] == ""
    (update,) = await api.ok("getUpdates")
    assert update["update_id"] == waiting
    posted = len(receiver.received)
    later = await cy.send_text("still polling")
    updates = await api.ok("getUpdates", offset=waiting + 1)
    assert [u["update_id"] for u in updates] == [later]
    assert len(receiver.received) == posted


async def test_set_webhook_checks_like_telegram_and_never_leaves_the_machine(
    api: Api, server: FakeBotApi
) -> None:
    server.user(1004, first_name="Dee")
    assert "HTTPS URL must be provided" in await api.error(
        "setWebhook", 400, url="http://example.org/hook"
    )
    assert "unallowed characters" in await api.error(
        "setWebhook", 400, url="https://example.org/hook", secret_token="no spaces"
    )
    assert await api.ok("setWebhook", url="https://example.org/hook") is True
    await server.user(1004).send_text("hello")
    await server.wait_for(lambda: server.webhook_deliveries)
    delivery = server.webhook_deliveries[0]
    assert delivery.status is None
    assert delivery.error == "the sandbox posts webhooks only to this machine"
    assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 1
    # An empty URL removes the webhook, as in Telegram.
    assert await api.ok("setWebhook", url="") is True
    assert len(await api.ok("getUpdates")) == 1


async def test_allowed_updates_of_set_webhook_filter_new_updates(
    api: Api, server: FakeBotApi, receiver: Receiver
) -> None:
    eve = server.user(1005, first_name="Eve")
    await api.ok("setWebhook", url=receiver.url, allowed_updates=["callback_query"])
    await eve.send_text("filtered out")
    assert server.stats()["updates_filtered"] == 1
    assert server.unconfirmed_update_count() == 0
    assert receiver.received == []
