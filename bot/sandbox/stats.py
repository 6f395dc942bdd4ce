"""Counters behind ``FakeBotApi.stats()``, updated in O(1) per request."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Request and message counters.

    ``accepted_messages`` counts accepted calls of message-producing methods (sends and
    edits: what Telegram's flood limits count); ``sent_messages`` and ``per_chat`` count
    new messages only, so a benchmark can spot lost and duplicated deliveries.
    """

    def __init__(self) -> None:
        self.by_method: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.accepted_messages = 0
        self.sent_messages = 0
        self.rate_limited = 0
        self.first_message_at: float | None = None
        self.last_message_at: float | None = None
        self.per_chat: Counter[int] = Counter()
        self._texts: dict[int, Counter[str]] = {}

    def record_request(self, method: str, status: int | None, fault: str | None) -> None:
        """Count one answered (or dropped, ``status=None``) request."""
        self.by_method[method] += 1
        if status is not None:
            self.by_status[status] += 1
            if status == 429:
                self.rate_limited += 1
        if fault is not None:
            self.faults[fault.split(":", 1)[0]] += 1

    def record_message(
        self, chat_id: int | None, now: float, *, new: bool, text: str | None = None
    ) -> None:
        """Count one accepted message-producing call.

        Args:
            chat_id: Target chat (None when addressed by username).
            now: Monotonic time of the request.
            new: True for a new message, False for an edit.
            text: Text or caption of a new message, for duplicate detection.
        """
        self.accepted_messages += 1
        if self.first_message_at is None:
            self.first_message_at = now
        self.last_message_at = now
        if not new:
            return
        self.sent_messages += 1
        if chat_id is None:
            return
        self.per_chat[chat_id] += 1
        if text:
            texts = self._texts.get(chat_id)
            if texts is None:
                texts = self._texts[chat_id] = Counter()
            texts[text] += 1

    def duplicate_texts(self) -> dict[int, dict[str, int]]:
        """Texts sent more than once to the same chat, with how often, by chat."""
        result: dict[int, dict[str, int]] = {}
        for chat_id, texts in self._texts.items():
            dupes = {text: n for text, n in texts.items() if n > 1}
            if dupes:
                result[chat_id] = dupes
        return result

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready summary (chat ids become string keys)."""
        first, last = self.first_message_at, self.last_message_at
        return {
            "requests": sum(self.by_method.values()),
            "by_method": dict(self.by_method),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "accepted_messages": self.accepted_messages,
            "sent_messages": self.sent_messages,
            "rate_limited": self.rate_limited,
            "faults": dict(self.faults),
            "first_message_at": first,
            "last_message_at": last,
            "message_span_seconds": (last - first)
            if first is not None and last is not None
            else 0.0,
            "per_chat": {str(k): v for k, v in self.per_chat.items()},
            "duplicate_texts_per_chat": {str(k): v for k, v in self.duplicate_texts().items()},
        }
