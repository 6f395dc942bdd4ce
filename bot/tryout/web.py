"""The sandbox page's HTTP side: static files, the chats as JSON, live updates and actions.

Live updates are server-sent events: every change in the fake Bot API (a message, an edit,
a tap) wakes the stream, which sends the page's whole state when it differs from the last
one sent. Actions are JSON POSTs; each runs alone (``World.lock``) and answers once the bot
has finished with it.

Only this machine may use the page: it listens on 127.0.0.1, refuses a ``Host`` other than
the loopback names (a web page elsewhere cannot reach it through DNS rebinding) and takes
actions only as JSON (a form on another site cannot post one without a CORS preflight,
which is never granted).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot.tryout.preview import preview_page
from bot.tryout.scenarios import SCENARIOS, play
from bot.tryout.travel import Jump, travel
from bot.tryout.views import snapshot
from bot.tryout.world import ActionError, World

__all__ = ["make_app"]

logger = logging.getLogger(__name__)
WORLD: web.AppKey[World] = web.AppKey("world", World)
_STATIC = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
_LOOPBACK = frozenset({"127.0.0.1", "localhost"})
_FILE_TYPES = {
    ".png": "image/png",
    ".csv": "text/csv",
    ".json": "application/json",
    ".html": "text/html",
}
HEARTBEAT = 15.0
COALESCE = 0.05
"""Seconds the stream waits after a change for the ones that follow it (a tap is several)."""

Action = Callable[[World, dict[str, Any]], Awaitable[str]]


def _static(name: str) -> bytes:
    return resources.files("bot.tryout").joinpath("static", name).read_bytes()


@web.middleware
async def _local_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    if host not in _LOOPBACK:
        raise web.HTTPForbidden(text="the sandbox answers only on 127.0.0.1")
    return await handler(request)


def _json(payload: object, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=json.dumps)


async def _index(request: web.Request) -> web.Response:
    del request
    return web.Response(body=_static("index.html"), content_type="text/html", charset="utf-8")


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound
    return web.Response(body=_static(name), content_type=_STATIC[name], charset="utf-8")


async def _state(request: web.Request) -> web.Response:
    return _json(snapshot(request.app[WORLD]))


async def _events(request: web.Request) -> web.StreamResponse:
    world = request.app[WORLD]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    sent = ""
    while True:
        state = json.dumps(snapshot(world))
        if state != sent:
            await response.write(f"data: {state}\n\n".encode())
            sent = state
        if not await world.server.changed.wait(HEARTBEAT):
            await response.write(b": still here\n\n")
            continue
        await asyncio.sleep(COALESCE)


async def _file(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    try:
        chat_id = int(request.match_info["chat_id"])
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound from None
    chat = world.server.state.chats.get(chat_id)
    message = chat.messages.get(message_id) if chat is not None else None
    if message is None or message.document is None:
        raise web.HTTPNotFound
    filename = message.filename or f"file-{message_id}"
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    headers = {
        "Content-Disposition": f'inline; filename="{filename}"',
        # A digest's HTML table is shown, never run: no script, no request elsewhere.
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(
        body=message.document,
        content_type=_FILE_TYPES.get(suffix, "application/octet-stream"),
        headers=headers,
    )


async def _preview(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    page = preview_page(world.bot.services.runtime.renderer)
    return web.Response(text=page, content_type="text/html", charset="utf-8")


# --- actions ---------------------------------------------------------------------------


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ActionError(f"{key} must be a number")
    return value


async def _send(world: World, body: dict[str, Any]) -> str:
    await world.send(_int(body, "chat_id"), str(body.get("text", "")))
    return "Sent."


async def _press(world: World, body: dict[str, Any]) -> str:
    label = str(body.get("label", ""))
    message_id = body.get("message_id")
    await world.press(
        _int(body, "chat_id"), label, message_id if isinstance(message_id, int) else None
    )
    return f"Tapped {label}."


async def _add_patient(world: World, body: dict[str, Any]) -> str:
    phone = await world.add_patient(str(body.get("locale", "en")))
    return f"{phone.user.name} ({phone.label}) opened the invite: their phone shows the consent."


async def _travel(world: World, body: dict[str, Any]) -> str:
    try:
        jump = Jump(str(body.get("jump", "")))
    except ValueError:
        raise ActionError(f"unknown jump {body.get('jump')!r}") from None
    now = await travel(world, jump)
    return f"The bot's clock is now {now:%a %d %b %Y, %H:%M} UTC; its scans ran on the way."


async def _scenario(world: World, body: dict[str, Any]) -> str:
    name = str(body.get("name", ""))
    if name not in SCENARIOS:
        raise ActionError(f"unknown scenario {name!r}")
    return await play(world, name)


def _action(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        world = request.app[WORLD]
        if request.content_type != "application/json":
            return _json({"ok": False, "error": "send JSON"}, 415)
        try:
            body = await request.json()
        except ValueError:
            return _json({"ok": False, "error": "the body is not JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"ok": False, "error": "the body must be an object"}, 400)
        async with world.lock:
            world.say("Working…")
            try:
                done = await action(world, body)
            except ActionError as exc:
                world.say(str(exc))
                return _json({"ok": False, "error": str(exc)}, 400)
            except TimeoutError:
                world.say("The bot did not finish in time; see the terminal's log.")
                return _json({"ok": False, "error": "timed out"}, 504)
            world.say(done)
        return _json({"ok": True, "status": done})

    return handle


def make_app(world: World) -> web.Application:
    """The page's aiohttp application for a running world."""
    app = web.Application(middlewares=[_local_only])
    app[WORLD] = world
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _asset)
    app.router.add_get("/templates", _preview)
    app.router.add_get("/api/state", _state)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/file/{chat_id}/{message_id}", _file)
    app.router.add_post("/api/send", _action(_send))
    app.router.add_post("/api/press", _action(_press))
    app.router.add_post("/api/patients", _action(_add_patient))
    app.router.add_post("/api/travel", _action(_travel))
    app.router.add_post("/api/scenario", _action(_scenario))
    return app
