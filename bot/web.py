"""The bot's own web server: the Telegram webhook, ``/healthz`` and ``/metrics`` on one port.

Our own aiohttp server rather than PTB's tornado webhook server, so that one listener serves
all three and polling workers can expose health and metrics too. The webhook answers 200 as
soon as the update is on the Application's queue, so a slow handler never holds up Telegram's
deliveries; the handlers commit their work (and claim the update id) on their own.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.metrics import CONTENT_TYPE, Metrics
from bot.transport import lighten_update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
MAX_UPDATE_BYTES = 1024 * 1024
"""Telegram's updates are a few kilobytes; anything far larger is not from Telegram."""


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
    ) -> None:
        self._application = application
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
        if not hmac.compare_digest(given.encode(), self._secret):
            logger.warning("webhook request with a wrong secret refused")
            return self._refuse("forbidden", 403)
        application = self._application
        if not application.running:
            # Telegram retries a non-2xx answer: better than taking an update nobody handles.
            return self._refuse("not_running", 503)
        try:
            body = await request.read()
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError("an update is a JSON object")  # noqa: TRY301
            update = Update.de_json(lighten_update(data), application.bot)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("webhook body refused", extra={"reason": type(exc).__name__})
            return self._refuse("bad_request", 400)
        await application.update_queue.put(update)
        self._metrics.webhook_requests.labels("accepted").inc()
        return web.Response(status=200)
