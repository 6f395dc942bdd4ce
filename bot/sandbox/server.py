"""Fake Telegram Bot API server for end-to-end tests, ``make demo`` and benchmarks.

A real python-telegram-bot ``Application`` talks to it over HTTP
(``base_url=server.base_url``). Every request is validated against the Bot API spec
(``$MOODCHECK_BOT_API_SPEC``, which CI sets, or a built-in table), Telegram's flood limits
are enforced, faults can be injected, and simulated users and groups produce updates and
see what the bot sent.

This module must not import the bot (enforced by import-linter): the sandbox checks the
bot from the outside, like Telegram does.
"""

from __future__ import annotations

import copy
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from bot.sandbox.builtin_spec import resolve_spec
from bot.sandbox.control import control_routes
from bot.sandbox.endpoint import BotApiEndpoint
from bot.sandbox.faults import FaultAction, FaultInjector
from bot.sandbox.limits import Limits, RateLimiter
from bot.sandbox.notify import ChangeNotifier
from bot.sandbox.state import (
    PendingCallback,
    RequestRecord,
    SandboxState,
    TranscriptEvent,
    Violation,
    WebhookDelivery,
)
from bot.sandbox.stats import Stats
from bot.sandbox.transcript import render_events
from bot.sandbox.users import SimGroup, SimUser
from bot.sandbox.webhook import WebhookPusher

__all__ = ["FakeBotApi"]

T = TypeVar("T")
_MAX_BODY = 60 * 1024 * 1024  # Telegram accepts 50 MB uploads; leave room for the encoding.


def _bot_id(token: str) -> int:
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 123456


class FakeBotApi:
    """In-process fake of the Telegram Bot API over real HTTP.

    Args:
        token: The only token accepted in ``/bot<token>/<method>`` URLs.
        bot_username: The bot's username in ``getMe`` and sent messages.
        spec_path: Spec file to validate against; default ``$MOODCHECK_BOT_API_SPEC``,
            else the built-in table.
        limits: Flood limits (default: Telegram's; ``Limits(enabled=False)`` turns them off).
        auto_register_chats: Accept any positive chat id as a private chat.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        bot_first_name: The bot's first name.
        clock: Monotonic clock for rate limits and timestamps (inject a fake in tests).
        wall_clock: Unix clock for message ``date`` fields.
        request_log_limit: Keep only about this many newest ``requests`` entries (None: all).
        webhook_retry_delay: Seconds before an update the webhook refused is posted again.
        webhook_per_chat: Post as Telegram does: each chat's updates in order, different
            chats' at once (up to the webhook's ``max_connections``), so a refused update
            holds back only its own chat. Default: one update at a time, in order.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake token for a fake server
        bot_username: str = "moodcheck_test_bot",
        spec_path: str | os.PathLike[str] | None = None,
        limits: Limits | None = None,
        auto_register_chats: bool = False,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "MoodCheck",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        request_log_limit: int | None = None,
        webhook_retry_delay: float = 0.2,
        webhook_per_chat: bool = False,
    ) -> None:
        self.token = token
        self.host = host
        self._requested_port = port
        self.bot_user: dict[str, Any] = {
            "id": _bot_id(token),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.spec = resolve_spec(spec_path)
        self.limits = limits if limits is not None else Limits()
        self.limiter = RateLimiter(self.limits, clock)
        self.faults = FaultInjector()
        self.changed = ChangeNotifier()
        self.state = SandboxState(
            self.bot_user, clock, wall_clock, self.changed, auto_register_chats
        )
        self.requests: list[RequestRecord] = []
        self.violations: list[Violation] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        """Every attempt to post an update to the webhook, in order."""
        self._endpoint = BotApiEndpoint(
            token=token,
            spec=self.spec,
            state=self.state,
            limiter=self.limiter,
            faults=self.faults,
            changed=self.changed,
            clock=clock,
            violations=self.violations,
            record=self._log,
        )
        self._pusher = WebhookPusher(
            self.state,
            self.webhook_deliveries.append,
            retry_delay=webhook_retry_delay,
            per_chat=webhook_per_chat,
        )
        self._log_limit = request_log_limit
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Build the aiohttp application (Bot API routes plus ``/sandbox/*`` control)."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_routes(control_routes(self))
        app.router.add_route("*", "/bot{token}/{method}", self._endpoint.handle)
        return app

    async def start(self) -> None:
        """Start listening (on a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi already started")
        self._endpoint.stopping = False
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner
        self._pusher.start()

    async def stop(self) -> None:
        """Release long-polls, stop posting to the webhook and stop listening."""
        self._endpoint.stopping = True
        self.changed.notify()
        await self._pusher.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8081`` (control endpoints live under it)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``base_url`` for python-telegram-bot (it appends the token)."""
        return f"{self.url}/bot"

    # -- simulated world ---------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> SimUser:
        """Register (or get) a user with a private chat (chat id == user id)."""
        self.state.register_user(user_id, first_name, last_name, username, language_code)
        return SimUser(self.state, user_id)

    def group(self, chat_id: int, title: str = "Group", *, chat_type: str = "group") -> SimGroup:
        """Register (or get) a group chat (negative id) the bot is a member of."""
        self.state.register_group(chat_id, title, chat_type)
        return SimGroup(self.state, chat_id)

    def register_users(self, user_ids: Iterable[int]) -> int:
        """Register many users at once (named ``User<id>``); returns how many are new."""
        new = 0
        for user_id in user_ids:
            if user_id not in self.state.users:
                self.state.register_user(user_id, f"User{user_id}")
                new += 1
        return new

    def transcript(self, chat_id: int) -> list[TranscriptEvent]:
        """Events of one chat, in order."""
        chat = self.state.chats.get(chat_id)
        return list(chat.transcript) if chat is not None else []

    def render_transcript(
        self, chat_ids: Iterable[int] | None = None, *, with_times: bool = False
    ) -> str:
        """Readable transcript of some chats (default: all), interleaved in time order."""
        chats = self.state.chats
        ids = list(chat_ids) if chat_ids is not None else list(chats)
        events = sorted(
            (e for chat_id in ids if chat_id in chats for e in chats[chat_id].transcript),
            key=lambda e: e.seq,
        )
        return render_events(events, chats, multi=len(ids) > 1, with_times=with_times)

    @property
    def waiting_polls(self) -> int:
        """Number of ``getUpdates`` calls currently parked in a long-poll."""
        return self._endpoint.polls

    def update_body(self, update_id: int) -> dict[str, Any]:
        """The full JSON of an update queued earlier (also after it was confirmed).

        Raises:
            KeyError: For an id the server never issued.
        """
        return copy.deepcopy(self.state.updates.history[update_id])

    def undelivered_update_count(self) -> int:
        """Updates enqueued but never returned by ``getUpdates``."""
        return self.state.updates.undelivered

    def unconfirmed_update_count(self) -> int:
        """Updates not yet confirmed by a later ``getUpdates`` offset."""
        return self.state.updates.pending

    def unanswered_callbacks(self) -> list[PendingCallback]:
        """Callback queries the bot has not answered yet."""
        return [c for c in self.state.callbacks.values() if not c.answered]

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - documented harness API
    ) -> T:
        """Wait until ``predicate()`` is truthy, re-checking after every server change.

        Raises:
            TimeoutError: If it is still falsy after ``timeout`` seconds.
        """
        return await self.changed.wait_for(predicate, timeout)

    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every update has been fetched and confirmed by the bot."""
        await self.wait_for(lambda: self.state.updates.pending == 0, timeout)

    def stats(self) -> dict[str, Any]:
        """Counters: by method and status, accepted messages, 429s, per chat, duplicates."""
        snapshot = self._endpoint.stats.snapshot()
        snapshot["violations"] = len(self.violations)
        snapshot["undelivered_updates"] = self.undelivered_update_count()
        snapshot["unconfirmed_updates"] = self.unconfirmed_update_count()
        snapshot["updates_filtered"] = self.state.updates.filtered
        snapshot["chats"] = len(self.state.chats)
        return snapshot

    def reset(self) -> None:
        """Clear messages, transcripts, counts, logs, violations, faults and rate windows."""
        self.state.reset()
        self.requests.clear()
        self.violations.clear()
        self.webhook_deliveries.clear()
        self._endpoint.stats = Stats()
        self.limiter.reset()
        self.faults.clear()
        self.changed.notify()

    # -- the record of calls ------------------------------------------------------------

    def _log(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int | None,
        started: float,
        *,
        fault: FaultAction | None = None,
        description: str | None = None,
    ) -> None:
        """Record one Bot API call, answered or not: the request log, the counters, and a
        wake-up for waiters. A subclass may watch the calls here (bench/tapdriver.py)."""
        label = fault.label if fault is not None else None
        self.requests.append(RequestRecord(method, params, status, label, started, description))
        limit = self._log_limit
        if limit is not None and len(self.requests) > 2 * limit:
            # Trimming in bulk keeps appends amortised O(1).
            del self.requests[: len(self.requests) - limit]
        self._endpoint.stats.record_request(method, status, label)
        self.changed.notify()
