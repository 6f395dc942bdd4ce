"""The bot's own web server: the Telegram webhook, ``/healthz`` and ``/metrics`` on one port.

Our own aiohttp server rather than PTB's tornado webhook server, so that one listener serves
all three and polling workers can expose health and metrics too. The webhook answers 200 once
the update is handled and its effects committed, and 503 when the database was unavailable, so
that Telegram delivers the update again rather than it being lost (issue 13). Bad input never
gets a 500: a bad secret 401/403, a body that is not an update 400, each logged in one line.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.transport.aiohttp_backend import lighten_update
from bot.transport.processor import ChatOrderedUpdateProcessor

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
MAX_UPDATE_BYTES = 1024 * 1024
"""Telegram's updates are a few kilobytes; anything far larger is not from Telegram."""
MAX_DEPTH = 32
"""Deepest nesting of objects and lists accepted; a real update is about 6 deep."""


class _BadHttpInOneLine(logging.Filter):
    """aiohttp logs a request it cannot even parse (a header with a NUL byte, a broken
    request line) as an ERROR with a traceback, before any handler runs: that is bad input
    from outside, so one WARNING line naming it, like every other refusal here."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Shorten parse errors; leave everything else alone."""
        from aiohttp.http_exceptions import HttpProcessingError  # noqa: PLC0415

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "web request refused: %s"
            record.args = (type(error).__name__,)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_AIOHTTP_SERVER = logging.getLogger("aiohttp.server")
if not any(isinstance(f, _BadHttpInOneLine) for f in _AIOHTTP_SERVER.filters):
    _AIOHTTP_SERVER.addFilter(_BadHttpInOneLine())


class BadUpdateError(ValueError):
    """A body that is JSON but not an update we can handle."""


def check_update(data: object) -> dict[str, Any]:
    """Return the body if it has an update's shape (an object with an integer ``update_id``,
    nesting within :data:`MAX_DEPTH`), else raise :class:`BadUpdateError`."""
    if not isinstance(data, dict):
        raise BadUpdateError("not an object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
        raise BadUpdateError("no integer update_id")
    problem = _field_problem(data)
    if problem is not None:
        raise BadUpdateError(problem)
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadUpdateError("nested too deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


_MESSAGE_FIELDS = (
    (("message_id",), _is_int, True),
    (("chat", "id"), _is_int, True),
    (("from", "id"), _is_int, False),
    (("text",), _is_str, False),
    (("caption",), _is_str, False),
)
_FIELDS: dict[str, tuple[tuple[tuple[str, ...], Callable[[object], bool], bool], ...]] = {
    "message": _MESSAGE_FIELDS,
    "edited_message": _MESSAGE_FIELDS,
    "callback_query": (
        (("id",), _is_str, True),
        (("from", "id"), _is_int, True),
        (("data",), _is_str, False),
        (("message", "message_id"), _is_int, False),
        (("message", "chat", "id"), _is_int, False),
    ),
    "my_chat_member": ((("chat", "id"), _is_int, True), (("from", "id"), _is_int, True)),
}
"""The fields of an update the bot sends back to Telegram (ids) or reads as text, with their
types: a body that has them wrong is refused, so no request is ever made with a forged
id of the wrong type (the handlers trust what PTB parsed)."""


def _field_problem(data: dict[str, Any]) -> str | None:
    """Say what is wrong with the fields the bot relies on, or None."""
    for kind, fields in _FIELDS.items():
        if kind not in data:
            continue
        part = data[kind]
        if not isinstance(part, dict):
            return f"{kind} is not an object"
        for path, ok, required in fields:
            value: object = part
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                if required:
                    return f"{kind}.{'.'.join(path)} is missing"
            elif not ok(value):
                return f"{kind}.{'.'.join(path)} has the wrong type"
    return None


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where updates arrive, and the secret Telegram sends with each."""

    path: str
    secret: str


class WebServer:
    """Serves ``POST <webhook path>`` (when configured), ``GET /healthz`` and ``GET /metrics``."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        metrics: Metrics,
        host: str,
        port: int,
        webhook: WebhookEndpoint | None = None,
        *,
        processor: ChatOrderedUpdateProcessor | None = None,
    ) -> None:
        self._application = application
        self._processor = processor
        self._metrics = metrics
        self.host = host
        self._requested_port = port
        self._webhook = webhook
        self._secret = webhook.secret.encode() if webhook is not None else b""
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port listened on (useful when 0 was asked for)."""
        if self._port is None:
            raise RuntimeError("the web server is not started")
        return self._port

    def make_app(self) -> web.Application:
        """The aiohttp application with the routes."""
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._scrape)
        if self._webhook is not None:
            app.router.add_post(self._webhook.path, self._update)
        return app

    async def start(self) -> None:
        """Start listening."""
        if self._runner is not None:
            return
        # No access log: the load balancer keeps one, and it would only repeat paths.
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner
        logger.info("web server listening on %s port %d", self.host, self._port)

    async def stop(self) -> None:
        """Stop listening (requests in progress finish first)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        del request
        health = await self._metrics.health()
        return web.json_response(health.body(), status=200 if health.ok else 503)

    async def _scrape(self, request: web.Request) -> web.Response:
        del request
        body = await self._metrics.scrape()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    def _refuse(self, outcome: str, status: int) -> web.Response:
        self._metrics.webhook_requests.labels(outcome).inc()
        return web.Response(status=status)

    async def _update(self, request: web.Request) -> web.Response:
        # Checked before the body is read: a caller without the secret gets nothing parsed.
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            logger.warning("webhook request without the secret header refused")
            return self._refuse("unauthorized", 401)
        # aiohttp hands a header's non-ASCII bytes over as surrogates: compare the bytes.
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._secret):
            logger.warning("webhook request with a wrong secret refused")
            return self._refuse("forbidden", 403)
        application = self._application
        if not application.running:
            # Telegram retries a non-2xx answer: better than taking an update nobody handles.
            return self._refuse("not_running", 503)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413)
        try:
            data = check_update(json.loads(body))
            update = Update.de_json(lighten_update(data), application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # ValueError covers bad JSON, bad UTF-8 and BadUpdateError; the rest are what PTB
            # raises on a field of the wrong type. One line, no traceback: it is input.
            logger.warning("webhook body refused", extra={"reason": type(exc).__name__})
            return self._refuse("bad_request", 400)
        processor = self._processor
        if processor is None:
            await application.update_queue.put(update)
        else:
            try:
                stored = await processor.handle(update, application)
            except Exception as exc:  # noqa: BLE001 - logged; never a 500 for an update
                logger.error(  # noqa: TRY400 - the traceback is in the handler's log line
                    "update dropped: %s",
                    type(exc).__name__,
                    extra={"update_id": data["update_id"]},
                )
                stored = True
            if not stored:
                # The database is down: Telegram delivers the update again
                # (bot/transport/offline.py has shown the patient what could not wait).
                return self._refuse("unavailable", 503)
        self._metrics.webhook_requests.labels("accepted").inc()
        return web.Response(status=200)
