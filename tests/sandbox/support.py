"""Helpers for the sandbox server's own tests: a raw Bot API client, a fake clock, specs.

These tests drive the server over HTTP the way python-telegram-bot does (form-encoded
bodies, non-string values JSON-encoded), never through the bot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aiohttp

from bot.sandbox.server import FakeBotApi
from bot.sandbox.spec import SPEC_ENV_VAR

REPO = Path(__file__).resolve().parents[2]
# The shared folder sits beside the repository (CI: beside the fresh clone).
SHARED_SPEC = REPO.parent / "shared" / "telegram" / "bot-api.json"


def real_spec_path() -> Path | None:
    """The full Bot API spec: ``$MOODCHECK_BOT_API_SPEC``, else the shared copy, if present."""
    configured = os.environ.get(SPEC_ENV_VAR)
    if configured:
        return Path(configured)
    return SHARED_SPEC if SHARED_SPEC.is_file() else None


SKIP_NO_SPEC = f"no Bot API spec file: set {SPEC_ENV_VAR} or provide {SHARED_SPEC}"


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def form(params: dict[str, Any]) -> dict[str, str]:
    """Encode parameters as python-telegram-bot does: strings raw, everything else JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


class Api:
    """Minimal Bot API client over a real HTTP connection."""

    def __init__(self, session: aiohttp.ClientSession, server: FakeBotApi) -> None:
        self.session = session
        self.server = server

    def url(self, method: str, token: str | None = None) -> str:
        return f"{self.server.base_url}{token or self.server.token}/{method}"

    async def call(
        self, method: str, /, *, token: str | None = None, **params: Any
    ) -> tuple[int, dict[str, Any]]:
        async with self.session.post(self.url(method, token), data=form(params)) as response:
            body: dict[str, Any] = await response.json()
            return response.status, body

    async def ok(self, method: str, /, **params: Any) -> Any:
        status, body = await self.call(method, **params)
        assert status == 200 and body["ok"] is True, body
        return body["result"]

    async def error(self, method: str, /, status: int, **params: Any) -> str:
        got, body = await self.call(method, **params)
        assert got == status, body
        assert body["ok"] is False and body["error_code"] == status, body
        description: str = body["description"]
        return description


def keyboard(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    """An InlineKeyboardMarkup from rows of (label, callback_data)."""
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": data} for label, data in row] for row in rows
        ]
    }
