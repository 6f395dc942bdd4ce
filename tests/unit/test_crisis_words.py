"""Crisis-word matching: forgiving of how people type, strict about whole words."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.crisis_words import CrisisMatcher, normalize, parse_phrases
from bot.services.messages import load_crisis_matcher

MATCHER = CrisisMatcher.of(["kill myself", "suicidio", "no puedo más"])
SEPARATORS = st.text(alphabet=" \t\n.,;:!?¡¿-…'\"()", min_size=1, max_size=4)
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


def test_examples() -> None:
    assert MATCHER.matches("I want to KILL  myself!!")
    assert MATCHER.matches("pienso en el SUICIDIO.")
    assert MATCHER.matches("pienso en el suicídio")  # accent typed where none belongs
    assert MATCHER.matches("ya no puedo mas")  # accent left out
    assert MATCHER.matches("kill\nmyself")
    assert not MATCHER.matches("skill myself")
    assert not MATCHER.matches("kill myselfie")
    assert not MATCHER.matches("I slept badly")
    assert not MATCHER.matches("")


def test_word_list_files_parse_and_load() -> None:
    assert parse_phrases("# comment\n\nKill  Myself # why\n  \n") == ["kill myself"]
    matcher = load_crisis_matcher()
    assert matcher.matches("I want to end my life")
    assert matcher.matches("quiero quitarme la vida")
    assert not matcher.matches("I feel a bit tired today")


@given(st.lists(WORDS, max_size=5), st.lists(WORDS, max_size=5), SEPARATORS, SEPARATORS)
def test_a_phrase_surrounded_by_anything_matches(
    before: list[str], after: list[str], left: str, right: str
) -> None:
    text = " ".join(before) + left + "KiLl" + right + "MYSELF" + left + " ".join(after)
    assert MATCHER.matches(text)


@given(
    st.lists(st.booleans(), min_size=8, max_size=8),
    st.lists(st.sampled_from(["", "\u0301", "\u0300", "\u0308"]), min_size=8, max_size=8),
)
def test_case_and_accents_never_change_the_answer(upper: list[bool], marks: list[str]) -> None:
    letters = [
        (char.upper() if up else char) + mark
        for char, up, mark in zip("suicidio", upper, marks, strict=True)
    ]
    typed = unicodedata.normalize("NFC", "".join(letters))
    assert MATCHER.matches(f"pienso en el {typed} a veces")


@given(WORDS, WORDS)
def test_a_phrase_inside_longer_words_does_not_match(prefix: str, suffix: str) -> None:
    assert not MATCHER.matches(f"{prefix}suicidio{suffix}")


@given(st.text(max_size=80))
def test_normalize_is_idempotent_and_spaced(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once
    assert once == once.strip()


def test_fancy_font_letters_are_read_as_plain_ones() -> None:
    # Found by the property above: styled letters must not slip past the list.
    assert normalize("𝓐") == "a"
    assert MATCHER.matches("𝓼𝓾𝓲𝓬𝓲𝓭𝓮") == MATCHER.matches("suicide")
