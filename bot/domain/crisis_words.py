"""Crisis words: does a patient's free text contain a reviewed crisis phrase?

Pure string work. The phrase lists are content (``prompts/crisis_words/<locale>.txt``, one
phrase a line, ``#`` comments), reviewed like templates; this module only parses and matches.

Matching is deliberately forgiving of how people type: case, accents ("suicídio" matches
"suicidio"), punctuation and repeated spaces are ignored. It is strict about word boundaries,
so "skill myself" does not match "kill myself". A false alarm costs a clinician a look; a miss
can cost a life, so the lists err towards more phrases, never towards cleverer matching.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


def normalize(text: str) -> str:
    """Return text folded for matching: lower case, no accents, words separated by one space.

    Anything that is not a letter or a digit (punctuation, emoji, line breaks) separates words.
    """
    # Compatibility forms first (mathematical and fancy-font letters become plain ones), then
    # case, then once more, because folding case can produce letters that decompose further.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue  # the accent of a decomposed letter
        kept.append(char if char.isalnum() else " ")
    return " ".join("".join(kept).split())


def parse_phrases(text: str) -> list[str]:
    """Return the phrases of a word list file: one a line, ``#`` starts a comment."""
    phrases = []
    for line in text.splitlines():
        phrase = normalize(line.split("#", 1)[0])
        if phrase:
            phrases.append(phrase)
    return phrases


@dataclass(frozen=True, slots=True)
class CrisisMatcher:
    """Finds reviewed crisis phrases in text, as whole words."""

    phrases: frozenset[str]

    @classmethod
    def of(cls, phrases: Iterable[str]) -> CrisisMatcher:
        """Build a matcher from phrases (normalized here, so lists may use any case)."""
        return cls(frozenset(p for p in (normalize(phrase) for phrase in phrases) if p))

    def matches(self, text: str) -> bool:
        """Tell whether the text contains any phrase as whole words."""
        padded = f" {normalize(text)} "
        return any(f" {phrase} " in padded for phrase in self.phrases)
