"""The first-word index of the crisis patterns: it only saves work, never changes a match."""

from __future__ import annotations

import re
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.word_patterns import WordPatterns, first_words
from bot.services.patient.messages import load_crisis_matcher

MATCHER = load_crisis_matcher()
# Every pattern of every group, as the matcher compiled them.
PATTERNS = sorted(
    {
        p
        for group in ("clear", "possible", "idioms", "downgrade")
        for lexicon in MATCHER._lexicons
        for p in map(lexicon.expand, getattr(lexicon, group))
    }
)
WORDS = sorted({w for p in PATTERNS for w in re.findall(r"[a-z]+", p)} | {"12", "x", "zz"})
SINGLES = [re.compile(f"(?:{p})(?= )") for p in PATTERNS]
INDEX = WordPatterns(PATTERNS, every=True)


def test_first_words_are_listed_when_they_can_be() -> None:
    assert first_words("kil(?:s|ing)? myself") == frozenset({"kil", "kils", "kiling"})
    assert first_words("(?:i |ive )?(?:od|oded)") == frozenset({"i", "ive", "od", "oded"})
    assert first_words("self ?harm(?:ed)?") == frozenset({"self", "selfharm", "selfharmed"})
    assert first_words("(?<![0-9] )kms(?! away)") == frozenset({"kms"})
    assert first_words("[ab]c d") == frozenset({"ac", "bc"})
    assert first_words("suicid[a-z]*") is None  # a stem: tried everywhere
    assert first_words("[^ ]+ pills") is None
    assert first_words("(?:x )?") is None  # could match nothing
    assert first_words("(") is None  # not even a pattern


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=10))
def test_the_index_finds_exactly_what_trying_every_pattern_everywhere_finds(
    words: list[str],
) -> None:
    starts = list(accumulate((len(w) + 1 for w in words[:-1]), initial=1))
    padded = f" {' '.join(words)} "
    expected = set()
    for pattern in SINGLES:
        for index, start in enumerate(starts):
            match = pattern.match(padded, start)
            if match is not None and match.end() > match.start():
                last = max(i for i, s in enumerate(starts) if s < match.end())
                expected.add((index, last))
    assert set(INDEX.spans(words, padded, starts)) == expected
