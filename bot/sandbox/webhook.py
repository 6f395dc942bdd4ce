"""Webhook delivery: while a webhook is set, the sandbox posts each update to it.

As Telegram does: the update's JSON in a POST, the secret (if one was set) in
``X-Telegram-Bot-Api-Secret-Token``, and a non-2xx answer or a failed connection retried
later (here after ``retry_delay`` seconds, by default much sooner than Telegram). By default
the sandbox posts one update at a time, in order. With ``per_chat`` it posts as Telegram does:
a chat's next update only once its previous one was accepted, different chats' updates at once
(up to ``max_connections``), so a refused update holds back its own chat only. It only ever
posts to this machine (any other host is recorded as a failed delivery, never contacted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.sandbox.methods import LOOPBACK_HOSTS
from bot.sandbox.state import SandboxState, WebhookDelivery

__all__ = ["SECRET_HEADER", "WebhookPusher"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


class WebhookPusher:
    """Posts pending updates to the webhook, one at a time, until stopped.

    Args:
        state: The sandbox state (its update queue and webhook).
        record: Called with every delivery attempt.
        retry_delay: Seconds before a failed update is posted again.
        timeout: Seconds a post may take before it counts as failed.
    """

    def __init__(
        self,
        state: SandboxState,
        record: Callable[[WebhookDelivery], None],
        *,
        retry_delay: float = 0.2,
        timeout: float = 10.0,
        per_chat: bool = False,
    ) -> None:
        self._state = state
        self.per_chat = per_chat
        self._posting: dict[object, asyncio.Task[None]] = {}
        self._retry_at: dict[object, float] = {}
        self._stopping = False
        self._record = record
        self.retry_delay = retry_delay
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        """Start posting in the background."""
        self._stopping = False
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def stop(self) -> None:
        """Stop posting (an update being posted stays pending)."""
        # Also a flag: on Python 3.11 wait_for can swallow a cancellation that arrives as
        # its wait ends, and the loop would go on.
        self._stopping = True
        self._state.notifier.notify()
        for posting in list(self._posting.values()):
            posting.cancel()
        self._posting.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _next(self) -> dict[str, Any] | None:
        state = self._state
        if not state.webhook.url or not state.updates.has_deliverable():
            return None
        (update,) = state.updates.peek(1)
        return update

    async def _run(self) -> None:
        if self.per_chat:
            await self._run_per_chat()
            return
        notifier = self._state.notifier
        while True:
            update = self._next()
            if update is None:
                await notifier.wait()
                continue
            if not await self._post(update):
                # Wake early if the webhook changes (deleteWebhook, a new URL).
                await notifier.wait(self.retry_delay)

    async def _run_per_chat(self) -> None:
        state = self._state
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = False
            if state.webhook.url:
                now = loop.time()
                limit = max(1, state.webhook.max_connections)
                for update in state.updates.peek(100):
                    chat = _chat_of(update)
                    if chat in self._posting or self._retry_at.get(chat, 0.0) > now:
                        continue  # the chat's earlier update is out, or waits: in order
                    if len(self._posting) >= limit:
                        break
                    self._posting[chat] = asyncio.create_task(self._post_chat(chat, update))
                    started = True
            if not started:
                waits = [at - loop.time() for at in self._retry_at.values()]
                await self._state.notifier.wait(
                    max(0.01, min(waits)) if waits else self.retry_delay
                )

    async def _post_chat(self, chat: object, update: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        try:
            if await self._post(update, remove=True):
                self._retry_at.pop(chat, None)
            else:
                self._retry_at[chat] = loop.time() + self.retry_delay
        finally:
            self._posting.pop(chat, None)
            self._state.notifier.notify()

    async def _post(self, update: dict[str, Any], *, remove: bool = False) -> bool:
        """Post one update; on success confirm it (it leaves the queue)."""
        state = self._state
        hook = state.webhook
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        status: int | None = None
        error: str | None = None
        if urlsplit(hook.url).hostname not in LOOPBACK_HOSTS:
            error = "the sandbox posts webhooks only to this machine"
        else:
            assert self._session is not None  # noqa: S101 - started
            try:
                async with self._session.post(
                    hook.url,
                    data=json.dumps(update),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
        if status is not None and not 200 <= status < 300:
            error = f"Wrong response from the webhook: {status}"
        self._record(
            WebhookDelivery(
                update["update_id"],
                hook.url,
                status,
                error,
                bool(hook.secret_token),
                state.clock(),
            )
        )
        if error is not None:
            hook.last_error_date = state.now_unix()
            hook.last_error_message = error
            state.notifier.notify()
            return False
        if remove:
            state.updates.remove(update["update_id"])
        else:
            state.updates.confirm(update["update_id"] + 1)
        state.notifier.notify()
        return True


def _chat_of(update: dict[str, Any]) -> object:
    """The chat an update belongs to (Telegram orders updates per chat)."""
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat")
            if chat is None and isinstance(value.get("message"), dict):
                chat = value["message"].get("chat")
            if chat is None:
                chat = value.get("from")
            if isinstance(chat, dict) and "id" in chat:
                return chat["id"]
    return ("update", update.get("update_id"))
