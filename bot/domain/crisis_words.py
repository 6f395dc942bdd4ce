"""Crisis words: does a patient's free text speak of suicide or self-harm, and how clearly?

Pure string work. The patterns are content (``prompts/crisis_words/<locale>.yaml``), reviewed
like templates; this module only folds text and matches (see ``docs/crisis-detection.md``).

How a message is read, step by step:

1. **Folded** (:func:`tokens`): case, accents and fancy-font letters are ignored, apostrophes
   dropped ("don't" is "dont"), common leetspeak read as letters inside words ("k1ll",
   "su1c1de", "$uicide"), runs of one letter shortened to one ("diieee" is "die", and "kill"
   is "kil": patterns are folded the same way, so they may be written normally). Punctuation
   (and a dash between spaces) separates words and ends a clause (for negation only).
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
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple

from bot.domain.word_patterns import WordPatterns

MIN_TYPO_LENGTH = 6
"""Only words this long (once folded) are matched with one typo: shorter ones have too many
real neighbours ("die" and "dye")."""
NEGATION_WINDOW = 3
"""Words before a clear match in which a negation makes it POSSIBLE ("not going to ...")."""
MAX_QUOTE = 200
"""Characters of the patient's text quoted to the team at most."""

_APOSTROPHES = str.maketrans("\u2019\u2018\u02bc`\u00b4", "'''''")
"""Apostrophe look-alikes made one (same length: positions in the text still hold)."""
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_LEET_CHARS = frozenset("013457@$")
_UNIT = re.compile(r"\d+[a-z]{1,3}|[a-z]\d+")
"""Numbers with a unit or a one-letter prefix ("10mg", "2x", "x2", "b12"): not leetspeak."""
_WORD = re.compile(r"(?:[^\W_]|[@$]|(?<=[^\W_])[!|'](?=[^\W_]))+")
"""A word: letters and digits, leetspeak symbols, and "!", "|" or an apostrophe between
letters ("k!ll", "don't")."""
_PLAIN_WORD = re.compile(r"[^\W_]+")
_SYMBOLS = re.compile(r"[@$!|']")
_DIGIT = re.compile(r"\d")
_COMBINING = dict.fromkeys(c for c in range(0x30000) if unicodedata.combining(chr(c)))
"""Every combining mark (accents once letters are decomposed), for str.translate."""
# A dash set apart by spaces ("no - I want to die") ends a clause too; one inside a word
# ("well-being") does not.
_CLAUSE = re.compile(r"[.,;:!?¿¡\n…()\[\]\"“”«»]|\s[-\u2013\u2014]+(?=\s|$)")
_RUNS = re.compile(r"([^\W\d_])\1+")
_MACRO = re.compile(r"\{([A-Z][A-Z_]*)\}")
_LITERAL = re.compile(r"[a-z]{2,}")


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
    """Return text in lower case without accents, and where each original character's
    folding ends in it (None when every character stayed one character: positions hold)."""
    text = text.translate(_APOSTROPHES)
    if text.isascii():
        return text.lower(), None
    table = {ord(c): _fold_char(c) for c in set(text)}
    if all(len(folded) == 1 for folded in table.values()):  # "é" is "e": positions hold
        return text.translate(table), None
    parts = [table[ord(c)] for c in text]
    return "".join(parts), list(accumulate(len(p) for p in parts))


def _fold_word(word: str) -> str:
    """Fold one word once found: symbols between letters, leetspeak, repeated letters."""
    return _RUNS.sub(r"\1", _unsymbol(word))


def _unsymbol(word: str) -> str:
    """Read symbols between letters and leetspeak in one word (repeated letters stay)."""
    if word.isalpha():
        return word
    word = word.replace("'", "").replace("!", "i").replace("|", "l")
    if word.replace("$", "s").isalpha():
        word = word.replace("$", "s")
    elif (
        not _UNIT.fullmatch(word)
        and any(c.isalpha() for c in word)
        and any(c in _LEET_CHARS for c in word)
    ):
        word = word.translate(_LEET).replace("$", "s")
    return word


class Token(NamedTuple):
    """A folded word, its clause, and where it was in the original text."""

    text: str
    clause: int
    start: int
    end: int


class _Layout:
    """Where each word of a text is, and which clause it is in: worked out only for a
    message that matched, and each word's only when asked."""

    def __init__(self, text: str) -> None:
        self.folded, self._ends = _fold(text)
        self.spans = [m.span() for m in _WORD.finditer(self.folded)]
        self._starts = [start for start, _ in self.spans]
        # Clause breaks between words (a "!" inside "k!ll" is none).
        self._breaks: list[int] = []
        for match in _CLAUSE.finditer(self.folded):
            word = bisect_right(self._starts, match.start()) - 1
            if word < 0 or match.start() >= self.spans[word][1]:
                self._breaks.append(match.start())

    def __len__(self) -> int:
        return len(self.spans)

    def clause(self, index: int) -> int:
        """Return the clause of a word: equal for words with no break between them."""
        return bisect_left(self._breaks, self._starts[index])

    def span(self, index: int) -> tuple[int, int]:
        """Return where a word was in the original text."""
        start, end = self.spans[index]
        if self._ends is None:
            return start, end
        return bisect_right(self._ends, start), bisect_right(self._ends, end - 1) + 1


def tokens(text: str) -> list[Token]:
    """Split text into folded words (see the module's step 1)."""
    layout = _Layout(text)
    return [
        Token(_fold_word(layout.folded[a:b]), layout.clause(i), *layout.span(i))
        for i, (a, b) in enumerate(layout.spans)
    ]


def _words(text: str) -> list[str]:
    """Return the words of a text folded but for repeated letters: :func:`tokens` without
    positions, faster (most messages need nothing more). Repeated letters are shortened
    later (``CrisisMatcher._correct``): a typo can hide behind them ("suiidal")."""
    text = text.translate(_APOSTROPHES)
    if text.isascii():
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = folded.translate(_COMBINING)
    if _SYMBOLS.search(folded) is None and _DIGIT.search(folded) is None:
        return _PLAIN_WORD.findall(folded)
    return [_unsymbol(w) for w in _WORD.findall(folded)]


def normalize(text: str) -> str:
    """Return text folded for matching: its words (step 1) separated by one space."""
    return " ".join(t.text for t in tokens(text))


def fold_pattern(source: str) -> str:
    """Fold a pattern's literal text the way text is folded (case, accents, apostrophes,
    repeated letters), so that patterns are written as people spell."""
    return _RUNS.sub(r"\1", _fold_plain(source))


def _fold_plain(source: str) -> str:
    """Fold case, accents and apostrophes (repeated letters stay)."""
    return "".join(_fold_char(c) for c in source.translate(_APOSTROPHES)).replace("'", "")


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
    spellings: Mapping[str, str] = field(default_factory=dict)
    """Chat spellings read as the word they stand for ("kiero": "quiero"), one word each."""
    macros: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: object, source: str = "crisis words") -> Lexicon:
        """Build a lexicon from a parsed file; a malformed one raises ValueError naming it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: not a mapping of crisis patterns")  # noqa: TRY004
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
            "spellings",
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

        def mapping(key: str) -> dict[str, str]:
            value = data.get(key) or {}
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ValueError(f"{source}: {key} must map strings to strings")
            return value

        macros = mapping("macros")
        spellings = mapping("spellings")
        for typed, meant in spellings.items():
            if len(normalize(typed).split()) != 1 or len(normalize(meant).split()) != 1:
                raise ValueError(f"{source}: spellings {typed!r}: one word for one word")
        lexicon = cls(
            clear=strings("clear"),
            possible=strings("possible"),
            idioms=strings("idioms"),
            downgrade=strings("downgrade"),
            negations=strings("negations"),
            negation_breakers=strings("negation_breakers"),
            vocabulary=strings("vocabulary"),
            not_typos=strings("not_typos"),
            spellings=spellings,
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


@dataclass(frozen=True, slots=True)
class _Hit:
    first: int
    last: int
    """Word indices, inclusive."""


class CrisisMatcher:
    """Reads a message against every locale's patterns at once (a patient may write in a
    language other than the one they chose)."""

    def __init__(self, lexicons: Sequence[Lexicon]) -> None:
        if not lexicons:
            raise ValueError("no crisis patterns")
        self._lexicons = tuple(lexicons)

        def expanded(group: str) -> list[str]:
            return [lx.expand(p) for lx in lexicons for p in getattr(lx, group)]

        groups = {g: expanded(g) for g in ("clear", "possible", "idioms", "downgrade")}
        self._clear = WordPatterns(groups["clear"])
        self._possible = WordPatterns(groups["possible"])
        self._idioms = WordPatterns(groups["idioms"], every=True)
        self._downgrade = WordPatterns(groups["downgrade"], every=True)
        self._negations = frozenset(fold_pattern(w) for lx in lexicons for w in lx.negations)
        self._breakers = frozenset(
            fold_pattern(w) for lx in lexicons for w in lx.negation_breakers
        )
        # Words a pattern spells out are real words, never typos of another ("suicidar" is
        # not "suicida" mistyped); so are the listed not_typos.
        spelled = {w for ps in groups.values() for p in ps for w in _LITERAL.findall(p)}
        # Each vocabulary word as written and with repeated letters shortened, either of which
        # a typo may be one edit from ("suiidal" is one from "suicidal", not from "suicidal"
        # shortened once its "ii" is).
        spellings_of: dict[str, set[str]] = {}
        for lx in lexicons:
            for written in lx.vocabulary:
                plain = _fold_plain(written)
                spellings_of.setdefault(_RUNS.sub(r"\1", plain), set()).add(plain)
        self._forms = {
            word: frozenset(forms | {word})
            for word, forms in spellings_of.items()
            if len(word) >= MIN_TYPO_LENGTH
        }
        vocabulary = set(spellings_of)
        self._known = (
            frozenset(fold_pattern(w) for lx in lexicons for w in lx.not_typos)
            | vocabulary
            | spelled
        )
        # Symmetric deletion index: a word within one edit of a vocabulary word shares one
        # of its one-letter deletions (or is one), so only those candidates are compared.
        index: dict[str, set[str]] = {}
        for word, forms in self._forms.items():
            for form in forms:
                for key in {form} | _deletions(form):
                    index.setdefault(key, set()).add(word)
        self._typo_index = {k: tuple(sorted(v)) for k, v in index.items()}
        self._spellings = {
            normalize(typed): normalize(meant)
            for lx in lexicons
            for typed, meant in lx.spellings.items()
        }
        self._read: dict[str, str] = {}

    def _correct(self, typed: str) -> str:
        """Read one word as typed (folded, repeated letters kept): repeated letters shortened,
        then a chat spelling or a typo of a vocabulary word read as that word."""
        read = self._read.get(typed)
        if read is not None:
            return read
        word = _RUNS.sub(r"\1", typed)
        read = self._spellings.get(word, word)
        if (
            read == word
            and len(typed) >= MIN_TYPO_LENGTH - 1
            and word not in self._known
            and word.isalpha()
        ):
            keys = {typed, word} | _deletions(typed) | _deletions(word)
            candidates = {c for key in keys for c in self._typo_index.get(key, ())}
            for candidate in sorted(candidates):
                if any(
                    within_one_edit(typed, form) or within_one_edit(word, form)
                    for form in self._forms[candidate]
                ):
                    read = candidate
                    break
        if len(self._read) >= 65536:
            self._read.clear()
        self._read[typed] = read
        return read

    def detect(self, text: str) -> Detection:
        """Read a message: CLEAR, POSSIBLE or NONE, with the words that matched."""
        read = self._read
        words = [read.get(w) or self._correct(w) for w in _words(text)]
        if not words:
            return NO_CRISIS
        starts = list(accumulate((len(w) + 1 for w in words[:-1]), initial=1))
        padded = f" {' '.join(words)} "
        clear = self._spans(self._clear, words, padded, starts)
        possible = [] if clear else self._spans(self._possible, words, padded, starts)
        if not clear and not possible:
            return NO_CRISIS  # the common case: idioms need no look
        found = _Layout(text)  # positions and clauses, for the few messages that get here
        if len(found) != len(words):  # never seen; then read the folded words instead
            text = " ".join(words)
            found = _Layout(text)
        # An idiom is read within one clause: "I want to kill myself. At the gym ..." is
        # not "killing myself at the gym".
        idioms = _in_clause(self._spans(self._idioms, words, padded, starts), found)
        clear = [h for h in clear if not _covered(h, idioms)]
        if clear:
            downgrade = _in_clause(self._spans(self._downgrade, words, padded, starts), found)
            for hit in clear:
                if self._negation(found, words, hit) is None and not _covered(hit, downgrade):
                    return Detection(Level.CLEAR, _quote(text, found, hit))
            hit = clear[0]
            negation = self._negation(found, words, hit)
            first = hit.first if negation is None else negation
            return Detection(Level.POSSIBLE, _quote(text, found, _Hit(first, hit.last)))
        possible = possible or self._spans(self._possible, words, padded, starts)
        possible = [h for h in possible if not _covered(h, idioms)]
        if possible:
            return Detection(Level.POSSIBLE, _quote(text, found, possible[0]))
        return NO_CRISIS

    def matches(self, text: str) -> bool:
        """Tell whether the care team must hear of a message (CLEAR or POSSIBLE)."""
        return self.detect(text).crisis

    @staticmethod
    def _spans(
        patterns: WordPatterns, words: list[str], padded: str, starts: list[int]
    ) -> list[_Hit]:
        return [_Hit(a, b) for a, b in patterns.spans(words, padded, starts)]

    def _negation(self, found: _Layout, words: list[str], hit: _Hit) -> int | None:
        """Return the index of a negation shortly before a match in its clause, if any."""
        clause = found.clause(hit.first)
        for index in range(hit.first - 1, max(hit.first - NEGATION_WINDOW, 0) - 1, -1):
            if found.clause(index) != clause:
                return None
            if words[index] in self._negations and words[index + 1] not in self._breakers:
                return index
        return None


def _in_clause(hits: list[_Hit], found: _Layout) -> list[_Hit]:
    return [h for h in hits if found.clause(h.first) == found.clause(h.last)]


def _covered(hit: _Hit, spans: Sequence[_Hit]) -> bool:
    return any(s.first <= hit.first and hit.last <= s.last for s in spans)


def _quote(text: str, found: _Layout, hit: _Hit) -> str:
    """Return the patient's own words for a match, as typed."""
    start, _ = found.span(hit.first)
    _, end = found.span(hit.last)
    quoted = " ".join(text[start:end].split())
    return quoted if len(quoted) <= MAX_QUOTE else quoted[: MAX_QUOTE - 1] + "…"
