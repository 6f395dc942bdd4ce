"""Crisis words: does a patient's free text speak of suicide or self-harm, and how clearly?

Pure string work. The patterns are content (``prompts/crisis_words/<locale>.yaml``), reviewed
like templates; this module only folds text and matches (see ``docs/crisis-detection.md``).

How a message is read, step by step:

1. **Folded** (:func:`tokens`): case, accents and fancy-font letters are ignored, apostrophes
   dropped ("don't" is "dont"), common leetspeak read as letters inside words ("k1ll",
   "su1c1de", "$uicide"), runs of one letter shortened to one ("diieee" is "die", and "kill"
   is "kil": patterns are folded the same way, so they may be written normally). Punctuation
   separates words and ends a clause (for negation only).
2. **Typos corrected** (:class:`Lexicon` ``vocabulary``): a word one edit (insert, delete,
   change or swap of two letters) away from a listed long word (six letters or more) is read
   as that word ("sucide", "myslef", "suicidarne"), unless it is a real word listed in
   ``not_typos`` ("matarte" is not a typo of "matarme").
3. **Matched**: ``clear`` patterns (regular expressions over the folded words) make a CLEAR
   result; ``possible`` ones, a POSSIBLE result. A match wholly inside an ``idioms`` match
   ("me muero de risa", "killing myself at the gym") does not count; inside a ``downgrade``
   match, or after a negation in the same clause ("I'm not going to kill myself"), a clear
   match counts as POSSIBLE. Nothing suppresses a match that the idiom does not cover: a
   clear statement elsewhere in the same message still makes it CLEAR.

A false alarm costs a clinician a look; a miss can cost a life: when in doubt, POSSIBLE.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

MIN_TYPO_LENGTH = 6
"""Only words this long (once folded) are matched with one typo: shorter ones have too many
real neighbours ("die" and "dye")."""
NEGATION_WINDOW = 3
"""Words before a clear match in which a negation makes it POSSIBLE ("not going to ...")."""
MAX_QUOTE = 200
"""Characters of the patient's text quoted to the team at most."""

_APOSTROPHES = str.maketrans("", "", "'’‘ʼ`´")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_LEET_CHARS = frozenset("013457@$")
_UNIT = re.compile(r"\d+[a-z]{1,3}|[a-z]{1,2}\d+")
"""Numbers with a unit or a short prefix ("10mg", "2x", "x2", "d3"): not leetspeak."""
_WORD = re.compile(r"(?:[^\W_]|[@$]|(?<=[^\W\d_])[!|](?=[^\W_]))+")
"""A word: letters and digits, leetspeak symbols, and "!" or "|" between letters ("k!ll")."""
_CLAUSE = re.compile(r"[.,;:!?¿¡\n…()\[\]\"“”«»]")
_RUNS = re.compile(r"([^\W\d_])\1+")
_MACRO = re.compile(r"\{([A-Z][A-Z_]*)\}")


class Level(Enum):
    """How clearly a message speaks of suicide or self-harm."""

    NONE = 0
    POSSIBLE = 1
    """Ambiguous, negated or indirect: the team is told (URGENT), the patient gets no card."""
    CLEAR = 2
    """A clear statement: the crisis card at once and an IMMEDIATE alert."""


@dataclass(frozen=True, slots=True)
class Detection:
    """The result of reading one message."""

    level: Level
    phrase: str | None = None
    """The patient's own words that matched (as typed, trimmed to ``MAX_QUOTE``)."""

    @property
    def crisis(self) -> bool:
        """Tell whether the care team must hear of it (CLEAR or POSSIBLE)."""
        return self.level is not Level.NONE


NO_CRISIS = Detection(Level.NONE)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    # Compatibility forms first (mathematical and fancy-font letters become plain ones), then
    # case, then once more: folding case can produce letters that decompose further.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fold(text: str) -> tuple[str, list[int] | None]:
    """Return text in lower case without accents, and where each folded character came from
    (None when every character stayed one character: the positions are the same)."""
    text = text.translate(_APOSTROPHES)
    if text.isascii():
        return text.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        parts.append(folded)
        origin.extend([index] * len(folded))
    return "".join(parts), origin


def _fold_word(word: str) -> str:
    """Fold one word once found: symbols between letters, leetspeak, repeated letters."""
    word = word.replace("!", "i").replace("|", "l")
    if word.replace("$", "s").isalpha():
        word = word.replace("$", "s")
    elif (
        not _UNIT.fullmatch(word)
        and any(c.isalpha() for c in word)
        and any(c in _LEET_CHARS for c in word)
    ):
        word = word.translate(_LEET).replace("$", "s")
    return _RUNS.sub(r"\1", word)


@dataclass(frozen=True, slots=True)
class Token:
    """A folded word, its clause, and where it was in the original text."""

    text: str
    clause: int
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    """Split text into folded words (see the module's step 1)."""
    folded, origin = _fold(text)
    found: list[Token] = []
    clause = 0
    position = 0
    for match in _WORD.finditer(folded):
        if _CLAUSE.search(folded, position, match.start()):
            clause += 1
        position = match.end()
        word = _fold_word(match.group())
        if not word:
            continue
        start, end = match.start(), match.end()
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        found.append(Token(word, clause, start, end))
    return found


def normalize(text: str) -> str:
    """Return text folded for matching: its words (step 1) separated by one space."""
    return " ".join(t.text for t in tokens(text))


def fold_pattern(source: str) -> str:
    """Fold a pattern's literal text the way text is folded (case, accents, apostrophes,
    repeated letters), so that patterns are written as people spell."""
    folded = "".join(_fold_char(c) for c in source.translate(_APOSTROPHES))
    return _RUNS.sub(r"\1", folded)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Tell whether two words differ by at most one insertion, deletion, substitution or swap
    of two adjacent letters."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return shorter in _deletions(longer)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One locale's patterns, as read from its file (see ``prompts/crisis_words/en.yaml``)."""

    clear: Sequence[str]
    possible: Sequence[str] = ()
    idioms: Sequence[str] = ()
    downgrade: Sequence[str] = ()
    negations: Sequence[str] = ()
    negation_breakers: Sequence[str] = ()
    """Words that, right after a negation, make it about something else ("don't know")."""
    vocabulary: Sequence[str] = ()
    not_typos: Sequence[str] = ()
    macros: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "crisis words") -> Lexicon:
        """Build a lexicon from a parsed file; a malformed one raises ValueError naming it."""
        known = {
            "locale",
            "clear",
            "possible",
            "idioms",
            "downgrade",
            "negations",
            "negation_breakers",
            "vocabulary",
            "not_typos",
            "macros",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{source}: unknown keys {sorted(unknown)}")

        def strings(key: str) -> list[str]:
            value = data.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{source}: {key} must be a list of strings")
            return value

        macros = data.get("macros") or {}
        if not isinstance(macros, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in macros.items()
        ):
            raise ValueError(f"{source}: macros must map names to patterns")
        lexicon = cls(
            clear=strings("clear"),
            possible=strings("possible"),
            idioms=strings("idioms"),
            downgrade=strings("downgrade"),
            negations=strings("negations"),
            negation_breakers=strings("negation_breakers"),
            vocabulary=strings("vocabulary"),
            not_typos=strings("not_typos"),
            macros=macros,
        )
        if not lexicon.clear:
            raise ValueError(f"{source}: no clear patterns")
        for group in ("clear", "possible", "idioms", "downgrade"):
            for pattern in getattr(lexicon, group):
                try:
                    re.compile(lexicon.expand(pattern))
                except (re.error, KeyError) as error:
                    raise ValueError(f"{source}: {group} pattern {pattern!r}: {error}") from None
        return lexicon

    def expand(self, pattern: str) -> str:
        """Return a pattern with its ``{MACRO}`` names replaced (macros may use macros),
        folded like text."""
        for _ in range(5):
            expanded = _MACRO.sub(lambda m: f"(?:{self.macros[m.group(1)]})", pattern)
            if expanded == pattern:
                break
            pattern = expanded
        return fold_pattern(pattern)


def _alternation(patterns: Iterable[str]) -> re.Pattern[str] | None:
    branches = [f"(?:{p})" for p in patterns]
    if not branches:
        return None
    # Words are separated by exactly one space and the text is padded with one on each side:
    # a pattern matches whole words only.
    return re.compile(f"(?<= )(?:{'|'.join(branches)})(?= )")


@dataclass(frozen=True, slots=True)
class _Hit:
    first: int
    last: int
    """Token indices, inclusive."""


class CrisisMatcher:
    """Reads a message against every locale's patterns at once (a patient may write in a
    language other than the one they chose)."""

    def __init__(self, lexicons: Sequence[Lexicon]) -> None:
        if not lexicons:
            raise ValueError("no crisis patterns")
        self._clear = _alternation(p for lx in lexicons for p in map(lx.expand, lx.clear))
        self._possible = _alternation(p for lx in lexicons for p in map(lx.expand, lx.possible))
        self._idioms = _alternation(p for lx in lexicons for p in map(lx.expand, lx.idioms))
        self._downgrade = _alternation(
            p for lx in lexicons for p in map(lx.expand, lx.downgrade)
        )
        self._negations = frozenset(fold_pattern(w) for lx in lexicons for w in lx.negations)
        self._breakers = frozenset(
            fold_pattern(w) for lx in lexicons for w in lx.negation_breakers
        )
        not_typos = frozenset(fold_pattern(w) for lx in lexicons for w in lx.not_typos)
        vocabulary = {fold_pattern(w) for lx in lexicons for w in lx.vocabulary}
        self._vocabulary = frozenset(w for w in vocabulary if len(w) >= MIN_TYPO_LENGTH)
        self._not_typos = not_typos | vocabulary
        # Symmetric deletion index: a word within one edit of a vocabulary word shares one
        # of its one-letter deletions (or is one), so only those candidates are compared.
        index: dict[str, set[str]] = {}
        for word in self._vocabulary:
            for key in {word} | _deletions(word):
                index.setdefault(key, set()).add(word)
        self._typo_index = {k: tuple(sorted(v)) for k, v in index.items()}
        self._corrections: dict[str, str] = {}

    def _correct(self, word: str) -> str:
        """Return the vocabulary word a word is a typo of, or the word itself."""
        if len(word) < MIN_TYPO_LENGTH - 1 or word in self._not_typos or not word.isalpha():
            return word
        known = self._corrections.get(word)
        if known is not None:
            return known
        corrected = word
        for key in {word} | _deletions(word):
            for candidate in self._typo_index.get(key, ()):
                if within_one_edit(word, candidate):
                    corrected = candidate
                    break
            if corrected != word:
                break
        if len(self._corrections) < 65536:
            self._corrections[word] = corrected
        return corrected

    def detect(self, text: str) -> Detection:
        """Read a message: CLEAR, POSSIBLE or NONE, with the words that matched."""
        found = tokens(text)
        if not found:
            return NO_CRISIS
        words = [self._correct(t.text) for t in found]
        starts: list[int] = []
        position = 1
        for word in words:
            starts.append(position)
            position += len(word) + 1
        padded = f" {' '.join(words)} "
        idioms = self._hits(self._idioms, padded, starts)
        downgrade = self._hits(self._downgrade, padded, starts)
        clear = self._hits(self._clear, padded, starts, skip=idioms)
        for hit in clear:
            negation = self._negation(found, words, hit)
            if negation is None and not _covered(hit, downgrade):
                return Detection(Level.CLEAR, _quote(text, found, hit))
        if clear:
            hit = clear[0]
            negation = self._negation(found, words, hit)
            first = hit.first if negation is None else negation
            return Detection(Level.POSSIBLE, _quote(text, found, _Hit(first, hit.last)))
        possible = self._hits(self._possible, padded, starts, skip=idioms)
        if possible:
            return Detection(Level.POSSIBLE, _quote(text, found, possible[0]))
        return NO_CRISIS

    def matches(self, text: str) -> bool:
        """Tell whether the care team must hear of a message (CLEAR or POSSIBLE)."""
        return self.detect(text).crisis

    @staticmethod
    def _hits(
        pattern: re.Pattern[str] | None,
        padded: str,
        starts: list[int],
        skip: Sequence[_Hit] = (),
    ) -> list[_Hit]:
        """Every match, as token spans. A match wholly inside a ``skip`` span is dropped and
        the search goes on from its next word, so an idiom never hides an overlapping match."""
        if pattern is None:
            return []
        hits: list[_Hit] = []
        position = 0
        while True:
            match = pattern.search(padded, position)
            if match is None:
                return hits
            first = bisect_right(starts, match.start()) - 1
            last = bisect_right(starts, max(match.end() - 1, match.start())) - 1
            hit = _Hit(first, max(first, last))
            if not _covered(hit, skip):
                hits.append(hit)
                position = match.end()
            else:
                position = starts[first + 1] if first + 1 < len(starts) else len(padded)

    def _negation(self, found: list[Token], words: list[str], hit: _Hit) -> int | None:
        """Return the index of a negation shortly before a match in its clause, if any."""
        clause = found[hit.first].clause
        for index in range(hit.first - 1, max(hit.first - NEGATION_WINDOW, 0) - 1, -1):
            if found[index].clause != clause:
                return None
            if words[index] in self._negations and words[index + 1] not in self._breakers:
                return index
        return None


def _covered(hit: _Hit, spans: Sequence[_Hit]) -> bool:
    return any(s.first <= hit.first and hit.last <= s.last for s in spans)


def _quote(text: str, found: list[Token], hit: _Hit) -> str:
    """Return the patient's own words for a match, as typed."""
    quoted = " ".join(text[found[hit.first].start : found[hit.last].end].split())
    return quoted if len(quoted) <= MAX_QUOTE else quoted[: MAX_QUOTE - 1] + "…"
