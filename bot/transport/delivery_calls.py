"""One outbox row's Bot API call, and what its answer means for the row.

The delivery worker (``bot.transport.delivery``) decides when a row goes; this module makes the
call and sorts Telegram's answer into an outcome (sent, retry later, dead-lettered, the chat
is gone ...), which the worker then writes.
"""

from __future__ import annotations

import base64
import random
import warnings
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBUserWarning

from bot.domain.group_access import refusal_means_no_access
from bot.domain.message_text import content_rejection
from bot.transport.ratelimit import retry_after_seconds
from storage.repositories.channel import MIGRATED_ERROR

# ``Bot.do_api_request`` warns on every call whose method PTB also offers typed; here the
# typed path is what is being avoided (see ``call_bot``), on purpose.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)

RAW_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
"""Text messages and edits: the outbox holds their JSON already, and only the message id of
the answer is wanted."""

PAID_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
"""Methods that take ``allow_paid_broadcast`` (Bot API 7.11; edits do not)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """The columns of a claimed outbox row that sending it needs."""

    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    priority: int
    attempts: int
    on_sent: str | None
    ref_id: int | None


@dataclass(slots=True)
class Outcome:
    """What became of one send."""

    row: Claimed
    kind: str  # sent | retry | deferred | dead | rejected | forbidden | group_lost | migrated
    message_id: int | None = None
    delay: float = 0.0
    error: str | None = None
    counts_attempt: bool = True
    new_chat_id: int | None = None
    """For ``migrated``: the supergroup the chat became."""
    reason: str | None = None
    """For ``rejected``: why Telegram refused the content (``content_rejection``)."""


class UnknownMethodError(ValueError):
    """An outbox row names a method this version cannot send (dead-lettered, not retried)."""


async def call_bot(bot: Bot, method: str, payload: dict[str, Any]) -> int | None:
    """Make one outbox row's Bot API call; return the message id.

    Text messages and edits go through PTB's request path (rate limiter, errors) without its
    typed objects (``Bot.do_api_request``): building an ``InlineKeyboardMarkup`` from the
    stored JSON and parsing the returned ``Message`` with its keyboard was almost half of a
    message's CPU (docs/performance.md, "Figures behind constants in the code"). The payload
    is stored in the Bot API's own form (``parse_mode`` included: PTB's defaults do not apply
    here). Files still use the typed methods.
    """
    params = dict(payload)
    if method in RAW_METHODS:
        result = await bot.do_api_request(method, api_kwargs=params)
        if isinstance(result, dict):
            message_id = result.get("message_id")
            return message_id if isinstance(message_id, int) else None
        return None
    markup_raw = params.pop("reply_markup", None)
    markup = InlineKeyboardMarkup.de_json(markup_raw, bot) if markup_raw else None
    if method == "sendDocument":
        content = base64.b64decode(params.pop("document_base64"))
        document = InputFile(content, filename=params.pop("filename"))
        message = await bot.send_document(document=document, reply_markup=markup, **params)
        return message.message_id
    if method == "sendPhoto":
        content = base64.b64decode(params.pop("photo_base64"))
        photo = InputFile(content, filename=params.pop("filename"))
        message = await bot.send_photo(photo=photo, reply_markup=markup, **params)
        return message.message_id
    raise UnknownMethodError(method)


class Backoff:
    """Exponential backoff with full jitter, so retries of a burst do not come back as one."""

    def __init__(self, base: float, cap: float) -> None:
        self._base = base
        self._cap = cap
        self._random = random.Random()  # noqa: S311 - jitter, not security

    def __call__(self, attempt: int) -> float:
        ceiling = min(self._cap, self._base**attempt)
        return max(0.5, self._random.uniform(0, ceiling))


async def send_row(
    bot: Bot, row: Claimed, backoff: Backoff, *, groups_followed: tuple[bool, bool]
) -> Outcome:
    """Send one row and sort Telegram's answer into an outcome.

    ``groups_followed``: (migrations, lost groups) have a hook in the worker; without one a
    migrated group's row is dead and a group the bot cannot post in is treated as blocked.
    """
    migrations, lost_groups = groups_followed
    try:
        message_id = await call_bot(bot, row.method, row.payload)
    except RetryAfter as exc:
        return Outcome(
            row, "retry", delay=retry_after_seconds(exc), error="429", counts_attempt=False
        )
    except Forbidden as exc:
        return _refused(row, exc, lost_groups=lost_groups)
    except ChatMigrated as exc:
        if not migrations:
            return Outcome(row, "dead", error=MIGRATED_ERROR)
        return Outcome(row, "migrated", error=MIGRATED_ERROR, new_chat_id=exc.new_chat_id)
    except BadRequest as exc:
        if "message is not modified" in exc.message.lower():
            return Outcome(row, "sent")
        if row.chat_id < 0 and refusal_means_no_access(exc.message):
            return _refused(row, exc, lost_groups=lost_groups)
        reason = content_rejection(exc.message)
        if reason is not None:
            # The same content would be refused forever: dead-letter it, visibly.
            return Outcome(row, "rejected", error=short_error(exc), reason=reason)
        return Outcome(row, "dead", error=short_error(exc))
    except NetworkError as exc:
        # 5xx, dropped connections and timeouts. After a timeout Telegram may have sent the
        # message: it is tried again all the same (a possible duplicate beats a lost
        # prompt), which is why the read timeout outlasts a slow Telegram's answer
        # (docs/operations.md, "Delivery").
        return Outcome(row, "retry", delay=backoff(row.attempts + 1), error=short_error(exc))
    except (TelegramError, UnknownMethodError, KeyError, TypeError) as exc:
        # A payload this code cannot send would fail the same way forever: dead-letter it
        # rather than retry it forever.
        return Outcome(row, "dead", error=short_error(exc))
    return Outcome(row, "sent", message_id=message_id)


def _refused(row: Claimed, exc: TelegramError, *, lost_groups: bool) -> Outcome:
    """The bot may not post in the chat: a patient blocked it, or a provider group removed
    or restricted it (kept and held: the worker's ``on_group_unreachable``)."""
    lost = row.chat_id < 0 and lost_groups
    return Outcome(row, "group_lost" if lost else "forbidden", error=short_error(exc))


def short_error(exc: Exception) -> str:
    """An error for the outbox row: the exception's kind and message, never a payload."""
    return f"{type(exc).__name__}: {exc}"[:200]
