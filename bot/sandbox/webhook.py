"""Webhook delivery: while a webhook is set, the sandbox posts each update to it.

As Telegram does: the update's JSON in a POST, the secret (if one was set) in
``X-Telegram-Bot-Api-Secret-Token``, and a non-2xx answer or a failed connection retried
later (here after ``retry_delay`` seconds, by default much sooner than Telegram). Unlike
Telegram, which may use up to ``max_connections`` connections at once, the sandbox posts one
update at a time, in order; and it only ever posts to this machine (any other host is
recorded as a failed delivery, never contacted).
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
    ) -> None:
        self._state = state
        self._record = record
        self.retry_delay = retry_delay
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        """Start posting in the background."""
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def stop(self) -> None:
        """Stop posting (an update being posted stays pending)."""
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
        notifier = self._state.notifier
        while True:
            update = self._next()
            if update is None:
                await notifier.wait()
                continue
            if not await self._post(update):
                # Wake early if the webhook changes (deleteWebhook, a new URL).
                await notifier.wait(self.retry_delay)

    async def _post(self, update: dict[str, Any]) -> bool:
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
        state.updates.confirm(update["update_id"] + 1)
        state.notifier.notify()
        return True
