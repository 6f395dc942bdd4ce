"""The fake Bot API's ``/bot<token>/<method>`` endpoint: it reads a request, validates it
against the spec, applies injected faults and Telegram's flood limits, runs the method on the
sandbox state (``methods``), parks ``getUpdates`` long-polls, and logs every call.

Like ``server``, it must not import the bot (``server`` imports it; import-linter checks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Protocol

from aiohttp import BodyPartReader, web

from bot.sandbox.faults import FaultAction, FaultInjector
from bot.sandbox.limits import MESSAGE_METHODS, SEND_METHODS, RateLimiter
from bot.sandbox.methods import HANDLERS, ApiError, get_updates_now
from bot.sandbox.notify import ChangeNotifier
from bot.sandbox.spec import ApiSpec, UploadedFile, Validation
from bot.sandbox.state import SandboxState, Violation
from bot.sandbox.stats import Stats

__all__ = ["BotApiEndpoint"]


class _BodyError(ValueError):
    """The request body could not be decoded."""


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(payload), status=status, content_type="application/json")


async def _read_params(request: web.Request) -> dict[str, object]:
    """Merge query parameters and the body (form, multipart or JSON) into one dict."""
    params: dict[str, object] = dict(request.query)
    if not request.can_read_body:
        return params
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise _BodyError(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise _BodyError("a JSON request body must be an object")
        params.update(body)
    elif content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                raise _BodyError("nested or unnamed multipart parts are not supported")
            if part.filename is not None:
                data = await part.read(decode=False)
                kind = part.headers.get("Content-Type", "application/octet-stream")
                params[part.name] = UploadedFile(part.filename, kind, bytes(data))
            else:
                params[part.name] = await part.text()
    else:
        form = await request.post()
        params.update((key, value) for key, value in form.items() if isinstance(value, str))
    return params


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"


def _too_many(retry: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})


class CallRecorder(Protocol):
    """Records one answered call (``FakeBotApi._log``: the request log, the counters, a
    wake-up for waiters)."""

    def __call__(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int | None,
        started: float,
        *,
        fault: FaultAction | None = None,
        description: str | None = None,
    ) -> None:
        """Record it (``status`` None: no answer was sent)."""


class BotApiEndpoint:
    """Answers the Bot API calls of one ``FakeBotApi`` (it owns the pieces passed in).

    Args:
        token: The only token accepted in the URL.
        violations: Where invalid requests are recorded (``FakeBotApi.violations``).
        record: Called once per call, answered or not.
    """

    def __init__(
        self,
        *,
        token: str,
        spec: ApiSpec,
        state: SandboxState,
        limiter: RateLimiter,
        faults: FaultInjector,
        changed: ChangeNotifier,
        clock: Callable[[], float],
        violations: list[Violation],
        record: CallRecorder,
    ) -> None:
        self.token = token
        self.spec = spec
        self.state = state
        self.limiter = limiter
        self.faults = faults
        self.changed = changed
        self.violations = violations
        self.stats = Stats()
        self.stopping = False
        """Set while the server stops: long-polls return at once."""
        self.polls = 0
        """``getUpdates`` calls currently parked in a long-poll."""
        self._clock = clock
        self._record = record

    def _error(
        self,
        method: str,
        params: Mapping[str, Any],
        started: float,
        error: ApiError,
        fault: FaultAction | None = None,
    ) -> web.Response:
        self._record(
            method, params, error.status, started, fault=fault, description=error.description
        )
        return _json(error.payload(), error.status)

    def _reject(
        self, method: str, params: Mapping[str, Any], started: float, validation: Validation
    ) -> web.Response:
        self.violations.extend(Violation(method, p.field, p.message) for p in validation.problems)
        description = "; ".join(p.message for p in validation.problems[:3])
        if len(validation.problems) > 3:
            description += f"; and {len(validation.problems) - 3} more"
        return self._error(method, params, started, ApiError(400, f"Bad Request: {description}"))

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        # Closing the transport makes the client see a connection closed without an answer.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one Bot API call."""
        started = self._clock()
        requested = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error(requested, {}, started, ApiError(401, "Unauthorized"))
        try:
            raw = await _read_params(request)
        except _BodyError as exc:
            self.violations.append(Violation(requested, "", str(exc)))
            return self._error(requested, {}, started, ApiError(400, f"Bad Request: {exc}"))
        method = self.spec.method(requested)
        if method is None:
            self.violations.append(Violation(requested, "", "unknown Bot API method"))
            error = ApiError(404, "Not Found: method not found")
            return self._error(requested, raw, started, error)
        name = method.name
        validation = self.spec.validate(method, raw)
        if validation.problems:
            return self._reject(name, raw, started, validation)
        params = validation.params
        chat_id = params.get("chat_id")
        chat_key = chat_id if isinstance(chat_id, int) else None
        delay = self.faults.take_delay(name, chat_key)
        fault = self.faults.take(name, chat_key)
        if fault is not None and fault.kind == "delay":  # a random delay
            delay, fault = fault, None
        if delay is not None:
            await asyncio.sleep(delay.seconds)
            # Keep the delay visible in the request log, alone or with the other fault.
            fault = delay if fault is None else dataclasses.replace(fault, seconds=delay.seconds)
        if fault is not None and fault.kind in {"5xx", "429", "drop"}:
            return self._apply_fault(request, name, params, started, fault)
        if name == "getUpdates":
            return await self._get_updates(name, params, started, fault, request)
        return self._call(request, name, validation, chat_key, started=started, fault=fault)

    def _call(
        self,
        request: web.Request,
        name: str,
        validation: Validation,
        chat_key: int | None,
        *,
        started: float,
        fault: FaultAction | None,
    ) -> web.Response:
        params = validation.params
        handler = HANDLERS.get(name)
        if handler is None:
            self.violations.append(Violation(name, "", "method not implemented by the sandbox"))
            error = ApiError(404, f"Not Found: method {name} is not implemented by the sandbox")
            return self._error(name, params, started, error)
        counted = name in MESSAGE_METHODS
        paid = params.get("allow_paid_broadcast") is True
        new = name in SEND_METHODS
        if counted:
            retry = self.limiter.retry_after(chat_key, paid=paid, broadcast=new)
            if retry is not None:
                return self._error(name, params, started, _too_many(retry))
        try:
            result = handler(self.state, params, validation.parsed)
        except ApiError as error:
            return self._error(name, params, started, error, fault)
        if counted:
            self.limiter.record(chat_key, paid=paid, broadcast=new)
            parsed = validation.parsed.get("text") or validation.parsed.get("caption")
            self.stats.record_message(
                chat_key,
                started,
                new=new,
                text=parsed.text if parsed is not None else None,
            )
        if fault is not None and fault.kind == "drop_after":
            self._record(name, params, None, started, fault=fault)
            return self._drop(request)
        self._record(name, params, 200, started, fault=fault)
        return _json({"ok": True, "result": result})

    def _apply_fault(
        self,
        request: web.Request,
        name: str,
        params: Mapping[str, Any],
        started: float,
        fault: FaultAction,
    ) -> web.Response:
        if fault.kind == "drop":
            self._record(name, params, None, started, fault=fault)
            return self._drop(request)
        if fault.kind == "429":
            error = _too_many(fault.retry_after)
        else:
            error = ApiError(fault.status, f"{_reason(fault.status)} (injected fault)")
        return self._error(name, params, started, error, fault)

    async def _get_updates(
        self,
        name: str,
        params: Mapping[str, Any],
        started: float,
        fault: FaultAction | None,
        request: web.Request,
    ) -> web.Response:
        try:
            updates = get_updates_now(self.state, params)
            timeout = float(params.get("timeout", 0))
            if not updates and timeout > 0 and not self.stopping:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                self.polls += 1
                # Let harnesses see that the bot is now parked in a long-poll.
                self.changed.notify()
                try:
                    while not self.stopping and not self.state.updates.has_deliverable():
                        remaining = deadline - loop.time()
                        if remaining <= 0 or not await self.changed.wait(remaining):
                            break
                finally:
                    self.polls -= 1
                if request.transport is None or request.transport.is_closing():
                    # The client gave up on this poll; do not hand updates to a dead socket.
                    self._record(name, params, None, started, description="client went away")
                    return web.Response(status=204)
                updates = get_updates_now(self.state, {**params, "offset": None})
        except ApiError as error:
            return self._error(name, params, started, error, fault)
        if fault is not None and fault.kind == "drop_after":
            self._record(name, params, None, started, fault=fault)
            return self._drop(request)
        self._record(name, params, 200, started, fault=fault)
        return _json({"ok": True, "result": updates})
