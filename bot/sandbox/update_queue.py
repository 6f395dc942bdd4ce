"""The fake Bot API's pending updates, with Telegram's ``getUpdates`` semantics: ids given in
order, confirmation by offset, ``allowed_updates`` applied when an update is created. No I/O.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

# Update types a bot receives when it passes no (or an empty) allowed_updates list.
_DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _update_type(update: Mapping[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


class UpdateQueue:
    """Pending updates with Telegram's ``getUpdates`` confirmation semantics.

    As in Telegram, ``allowed_updates`` applies when an update is created: updates of other
    types are not stored at all, while updates queued before the setting changed are still
    delivered.
    """

    def __init__(self) -> None:
        self._items: deque[dict[str, Any]] = deque()
        # Every update ever queued, so tests can replay one (a redelivery) after it is confirmed.
        self.history: dict[int, dict[str, Any]] = {}
        self._next_id = 1
        self._returned_max = 0
        self._allowed: frozenset[str] | None = None
        self.filtered = 0

    def push(self, body: Mapping[str, Any]) -> int:
        """Append an update (without ``update_id``); returns the assigned id.

        An update whose type the bot did not subscribe to gets an id but is not queued.
        """
        update_id = self._next_id
        self._next_id += 1
        update = {"update_id": update_id, **body}
        self.history[update_id] = update
        if self._is_allowed(update):
            self._items.append(update)
        else:
            self.filtered += 1
        return update_id

    def confirm(self, offset: int | None) -> None:
        """Drop updates confirmed by ``offset`` (negative: keep only the last ``-offset``)."""
        if offset is None or offset == 0:
            return
        items = self._items
        if offset < 0:
            while len(items) > -offset:
                items.popleft()
            return
        while items and items[0]["update_id"] < offset:
            items.popleft()

    def set_allowed(self, allowed: Iterable[str] | None) -> None:
        """Remember ``allowed_updates`` like Telegram; an empty list restores the default."""
        if allowed is None:
            return
        allowed = frozenset(allowed)
        self._allowed = allowed or None

    def _is_allowed(self, update: Mapping[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed is None:
            return kind not in _DEFAULT_EXCLUDED
        return kind in self._allowed

    def peek(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return up to ``limit`` pending updates and mark them as returned."""
        result = list(itertools.islice(self._items, limit))
        if result:
            self._returned_max = max(self._returned_max, result[-1]["update_id"])
        return result

    def remove(self, update_id: int) -> None:
        """Drop one update (a webhook that posts chats in parallel confirms them one by one)."""
        for item in self._items:
            if item["update_id"] == update_id:
                self._items.remove(item)
                return

    def has_deliverable(self) -> bool:
        """Whether ``peek`` would return something."""
        return bool(self._items)

    def clear(self) -> None:
        """Drop every pending update (the history stays)."""
        self._items.clear()

    @property
    def pending(self) -> int:
        """Updates not yet confirmed."""
        return len(self._items)

    @property
    def undelivered(self) -> int:
        """Updates never returned by ``getUpdates``."""
        count = 0
        for update in reversed(self._items):
            if update["update_id"] <= self._returned_max:
                break
            count += 1
        return count
