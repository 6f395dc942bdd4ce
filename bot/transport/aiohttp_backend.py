"""An aiohttp networking backend for python-telegram-bot.

PTB's default backend is httpx, whose connection pool costs more CPU the more requests are in
flight (it assigns requests to connections in time proportional to both), so the delivery
worker got slower as its concurrency rose (figures in docs/performance.md). PTB lets an
application bring its own ``BaseRequest``; this one uses aiohttp's client, whose cost per
request does not grow with concurrency. Both PTB requests of the bot (calls, and polling for
updates) use it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT = type(BaseRequest.DEFAULT_NONE)


_JSON = {"Content-Type": "application/json"}


def lighten_update(update: dict[str, Any]) -> dict[str, Any]:
    """Drop the keyboard of the message a tapped button belongs to, before PTB parses it.

    Telegram sends the whole message with every tap, keyboard included (a check-in question
    has a dozen buttons), and PTB builds an object per button: half of parsing a tap
    (docs/performance.md, "Button taps"). No
    handler reads it: a tap is judged by its own data and the check-in's state in the
    database, never by the buttons Telegram shows.
    """
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict):
            message.pop("reply_markup", None)
    return update


SEND_READ_TIMEOUT = 30.0
"""Seconds the bot waits for a Bot API answer. Telegram answers a send within a second or
two as a rule, and within 10 s when it is slow; a send taken for timed out is tried again
(Telegram may have sent it: a duplicate), so the wait outlasts the slow answers."""


class AiohttpRequest(BaseRequest):
    """PTB request backend on one aiohttp ``ClientSession``."""

    def __init__(
        self,
        *,
        connection_limit: int = 128,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._limit = connection_limit
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._read

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """PTB's documented hook for parsing answers: as PTB does, then ``lighten_update``
        on what ``getUpdates`` returned."""
        data: dict[str, Any] = BaseRequest.parse_json_payload(payload)
        result = data.get("result")
        if isinstance(result, list):
            for item in result:
                if isinstance(item, dict) and "update_id" in item:
                    lighten_update(item)
        return data

    async def initialize(self) -> None:
        """Open the client session (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the client session (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _pick(self, value: Any, default: float | None) -> float | None:
        if isinstance(value, _DEFAULT):
            return default
        return None if value is None else float(value)

    async def do_request(  # noqa: PLR0917 - PTB's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one HTTP request; map aiohttp's failures onto PTB's errors."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        data: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                # A JSON body: aiohttp's urlencoded form (FormData, quoting every value) cost
                # a measurable share of a tap's CPU (docs/performance.md, "Figures behind
                # constants in the code"); Telegram takes either.
                data = json.dumps(request_data.parameters, separators=(",", ":")).encode()
                headers = _JSON
        write = self._pick(write_timeout, self._media_write if files else self._write)
        read = self._pick(read_timeout, self._read)
        # aiohttp has no separate write timeout: the read budget starts once the request is
        # written, so the write budget is added to the whole-request limit instead.
        total = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=self._pick(pool_timeout, self._pool),
            sock_connect=self._pick(connect_timeout, self._connect),
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp: {type(exc).__name__}: {exc}") from exc
