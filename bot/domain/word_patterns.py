"""Many regular expressions over a text of words, tried only where they can start.

Pure. The crisis patterns (``bot.domain.crisis_words``) are a few hundred regular
expressions over folded words separated by one space. Trying each at every word of a long
message costs milliseconds; but most patterns can start with only a few words ("kill",
"want", "me" ...). So each pattern's possible first words are worked out once from its
parsed form, and at each word of a message only the patterns that can start with that word
are tried, in one regex. A pattern whose first word cannot be listed (it starts with a
wildcard, or a stem such as ``suicid[a-z]*``) is searched for everywhere, as before: the
index only ever saves work, it never changes what matches.
"""

from __future__ import annotations

import importlib
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

MAX_PREFIXES = 4096
"""First-word candidates worked out for one pattern before giving up (then: anywhere)."""

_Prefixes = frozenset[tuple[str, bool]]
"""Strings a regex can produce up to its first space: (text, whether the space came)."""


def _product(left: _Prefixes, right: _Prefixes) -> _Prefixes | None:
    combined = {(a, True) for a, closed in left if closed}
    for a, closed in left:
        if not closed:
            combined.update((a + b, b_closed) for b, b_closed in right)
    return frozenset(combined) if len(combined) <= MAX_PREFIXES else None


def _sequence(items: Any) -> _Prefixes | None:
    """Prefixes of a parsed sequence; None when they cannot be listed."""
    result: _Prefixes | None = frozenset({("", False)})
    for op, value in items:
        if result is None or all(closed for _, closed in result):
            return result
        part = _element(str(op), value)
        if part is None:
            return None
        result = _product(result, part)
    return result


def _element(name: str, value: Any) -> _Prefixes | None:
    if name == "LITERAL":
        char = chr(value)
        return frozenset({("", True)}) if char == " " else frozenset({(char, False)})
    if name == "IN":
        return _class(value)
    if name in {"ASSERT", "ASSERT_NOT", "AT"}:
        return frozenset({("", False)})  # zero width: a superset is still correct
    if name == "SUBPATTERN":
        return _sequence(value[-1])
    if name == "BRANCH":
        union: set[tuple[str, bool]] = set()
        for branch in value[1]:
            part = _sequence(branch)
            if part is None:
                return None
            union |= part
        return frozenset(union)
    if name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
        low, high, sub = value
        part = _sequence(sub)
        if part is None or (high > 1 and not all(closed for _, closed in part)):
            return None  # "[a-z]*": any number of letters
        return part | {("", False)} if low == 0 else part
    return None


def _class(items: Any) -> _Prefixes | None:
    """Prefixes of a character class: each of its characters (a space ends the word)."""
    chars: set[str] = set()
    for op, item in items:
        if str(op) == "LITERAL":
            chars.add(chr(item))
        elif str(op) == "RANGE" and item[1] - item[0] < 40:
            chars.update(chr(c) for c in range(item[0], item[1] + 1))
        else:
            return None  # a negated class, \w ...: any word
    return frozenset((c, False) if c != " " else ("", True) for c in chars)


def first_words(pattern: str) -> frozenset[str] | None:
    """Return the words a pattern can start with, or None when they cannot be listed."""
    try:
        parser = importlib.import_module("re._parser")
        prefixes = _sequence(parser.parse(pattern))
    except Exception:  # noqa: BLE001 - a private module: any surprise means "anywhere"
        return None
    if prefixes is None:
        return None
    words = frozenset(text for text, _ in prefixes)
    return None if "" in words else words


class WordPatterns:
    """Patterns over ``" word word ... "`` text, matched at word starts only."""

    def __init__(self, patterns: Iterable[str], *, every: bool = False) -> None:
        """``every``: try each pattern on its own, so that every pattern's match is found
        (for idioms, whose longest match matters); otherwise the patterns that can start
        at a word are tried as one regex and its first match is the word's (faster)."""
        by_word: dict[str, list[str]] = {}
        anywhere: list[str] = []
        for pattern in patterns:
            words = first_words(pattern)
            if words is None:
                anywhere.append(pattern)
                continue
            for word in words:
                by_word.setdefault(word, []).append(pattern)
        compiled: dict[tuple[str, ...], re.Pattern[str]] = {}

        def compile_(group: Sequence[str]) -> re.Pattern[str]:
            key = tuple(group)
            if key not in compiled:
                compiled[key] = re.compile(_join(key))
            return compiled[key]

        self._by_word: dict[str, tuple[re.Pattern[str], ...]] = {
            word: tuple(compile_(g) for g in _groups(group, every=every))
            for word, group in by_word.items()
        }
        self._anywhere = [
            re.compile(f"(?<= ){_join(g)}") for g in _groups(anywhere, every=every) if g
        ]

    def spans(
        self, words: Sequence[str], padded: str, starts: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Return every match as (first word, last word), leftmost first, longest first.

        ``padded`` is the words joined by one space with one more on each side; ``starts``
        where each word starts in it. Matches may overlap (each start is tried).
        """
        found: set[tuple[int, int]] = set()
        by_word = self._by_word
        for index, word in enumerate(words):
            for pattern in by_word.get(word, ()):
                match = pattern.match(padded, starts[index])
                if match is not None and match.end() > match.start():
                    found.add((index, bisect_right(starts, match.end() - 1) - 1))
        for anywhere in self._anywhere:
            position = 0
            while (match := anywhere.search(padded, position)) is not None:
                if match.end() > match.start():
                    first = bisect_right(starts, match.start()) - 1
                    found.add((first, bisect_right(starts, match.end() - 1) - 1))
                position = match.start() + 1
        return sorted(found, key=lambda span: (span[0], -span[1]))


def _groups(patterns: Sequence[str], *, every: bool) -> list[Sequence[str]]:
    """The patterns as one group to compile together, or one group each."""
    return [[p] for p in patterns] if every else [patterns]


def _join(patterns: Sequence[str]) -> str:
    # Whole words: every pattern starts at a word (the caller's position) and ends before
    # a space.
    return f"(?:{'|'.join(f'(?:{p})' for p in patterns)})(?= )"
