"""Control endpoints of the sandbox, outside the ``/bot<token>/`` namespace.

They let a benchmark or demo drive a sandbox running in another process:

* ``GET /sandbox/stats``: ``FakeBotApi.stats()`` as JSON.
* ``GET /sandbox/transcript[?chat_id=N]``: the rendered transcript, as text.
* ``GET /sandbox/violations``: invalid requests seen so far.
* ``POST /sandbox/reset``: clear messages, counts, logs and rate windows.
* ``POST /sandbox/users`` ``{"user_ids": [...]}``: register many users.
* ``POST /sandbox/faults`` ``{"action": "random", "rate": 0.1, ...}``: configure faults
  (actions: random, clear, fail_next, rate_limit_next, drop_next, delay; the other keys
  are that method's keyword arguments).
* ``POST /sandbox/send`` ``{"user_id": 1, "text": "/start"}`` or ``{"user_id": 1,
  "press": "Agree"}``: a registered user sends a message or presses a button.
* ``POST /sandbox/groups`` ``{"action": "create", "chat_id": -100111, "title": "..."}``:
  what happens to a group (``bot.sandbox.groups``); actions: create, migrate
  (``new_chat_id``, ``notify``), remove_bot (``kicked``, ``notify``), restrict_bot
  (``notify``), add_bot_back (``notify``), member (``user_id``, ``status``, ``first_name``:
  add someone or change their status, e.g. to ``administrator``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.state import Violation
from bot.sandbox.users import SimUser

if TYPE_CHECKING:
    from bot.sandbox.server import FakeBotApi

__all__ = ["control_routes"]

_FAULT_ACTIONS = frozenset(
    {"random", "clear", "fail_next", "rate_limit_next", "drop_next", "delay"}
)


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(payload), status=status, content_type="application/json")


def _violation(violation: Violation) -> dict[str, str]:
    return {"method": violation.method, "field": violation.field, "problem": violation.problem}


async def _control_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _Control:
    def __init__(self, server: FakeBotApi) -> None:
        self._server = server

    async def stats(self, request: web.Request) -> web.Response:
        del request
        return _json(self._server.stats())

    async def transcript(self, request: web.Request) -> web.Response:
        raw = request.query.get("chat_id")
        chat_ids = [int(raw)] if raw and raw.lstrip("-").isdigit() else None
        return web.Response(text=self._server.render_transcript(chat_ids) + "\n")

    async def violations(self, request: web.Request) -> web.Response:
        del request
        return _json([_violation(v) for v in self._server.violations])

    async def reset(self, request: web.Request) -> web.Response:
        del request
        self._server.reset()
        return _json({"ok": True})

    async def users(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        user_ids = body.get("user_ids")
        if not isinstance(user_ids, list) or not all(
            isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in user_ids
        ):
            return _json({"ok": False, "description": "user_ids must be positive integers"}, 400)
        return _json({"ok": True, "registered": self._server.register_users(user_ids)})

    async def faults(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        action = body.pop("action", "random")
        if action not in _FAULT_ACTIONS:
            return _json({"ok": False, "description": f"unknown action {action!r}"}, 400)
        try:
            getattr(self._server.faults, str(action))(**body)
        except (TypeError, ValueError) as exc:
            return _json({"ok": False, "description": str(exc)}, 400)
        return _json({"ok": True})

    async def groups(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        action = body.pop("action", None)
        chat_id = body.pop("chat_id", None)
        if not isinstance(chat_id, int) or isinstance(chat_id, bool) or chat_id >= 0:
            return _json({"ok": False, "description": "chat_id must be a negative integer"}, 400)
        try:
            if action == "create":
                group = self._server.group(chat_id, str(body.get("title", "Group")))
                return _json({"ok": True, "chat_id": group.chat_id})
            if chat_id not in self._server.state.chats:
                return _json({"ok": False, "description": f"no group {chat_id}"}, 400)
            group = self._server.group(chat_id)
            if action == "migrate":
                supergroup = group.migrate(**body)
                return _json({"ok": True, "chat_id": supergroup.chat_id})
            if action == "member":
                user_id = body.get("user_id")
                if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
                    return _json({"ok": False, "description": "user_id must be positive"}, 400)
                group.member(
                    user_id, str(body.get("first_name", "Member")), status=body.get("status")
                )
                return _json({"ok": True, "status": group.chat.members[user_id]})
            if action in {"remove_bot", "restrict_bot", "add_bot_back"}:
                update_id = getattr(group, str(action))(**body)
                return _json({"ok": True, "update_id": update_id})
        except (TypeError, ValueError) as exc:
            return _json({"ok": False, "description": str(exc)}, 400)
        return _json({"ok": False, "description": f"unknown action {action!r}"}, 400)

    async def send(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        user_id = body.get("user_id")
        if not isinstance(user_id, int) or user_id not in self._server.state.users:
            return _json({"ok": False, "description": "user_id must be a registered user"}, 400)
        user = SimUser(self._server.state, user_id)
        try:
            if "press" in body:
                message_id = body.get("message_id")
                update_id = await user.press(
                    str(body["press"]),
                    message_id=message_id if isinstance(message_id, int) else None,
                )
            elif "edit" in body:
                message_id = body.get("message_id")
                update_id = await user.edit_text(
                    str(body["edit"]),
                    message_id=message_id if isinstance(message_id, int) else None,
                )
            else:
                update_id = await user.send_text(str(body.get("text", "")))
        except LookupError as exc:
            return _json({"ok": False, "description": str(exc)}, 400)
        return _json({"ok": True, "update_id": update_id})


def control_routes(server: FakeBotApi) -> list[web.RouteDef]:
    """Routes of the control endpoints for ``server``."""
    control = _Control(server)
    return [
        web.get("/sandbox/stats", control.stats),
        web.get("/sandbox/transcript", control.transcript),
        web.get("/sandbox/violations", control.violations),
        web.post("/sandbox/reset", control.reset),
        web.post("/sandbox/users", control.users),
        web.post("/sandbox/faults", control.faults),
        web.post("/sandbox/send", control.send),
        web.post("/sandbox/groups", control.groups),
    ]
