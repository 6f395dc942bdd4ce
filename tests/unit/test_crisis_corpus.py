"""The crisis-language detector against a labelled corpus (tests/unit/crisis_corpus.yaml).

Every crisis message must be caught as CLEAR (IMMEDIATE alert and the crisis card), each its
own test: a miss fails, it is never skipped. Every "possible" message must reach the team.
At most 10 % of the everyday messages (idioms, hyperbole, a normal day) may fire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.crisis_words import Level
from bot.services.patient.messages import load_crisis_matcher

CORPUS: dict[str, Any] = yaml.safe_load(
    Path(__file__).with_name("crisis_corpus.yaml").read_text(encoding="utf-8")
)
MATCHER = load_crisis_matcher()
MAX_FALSE_ALARMS = 0.10


def _labelled(label: str) -> list[Any]:
    group = CORPUS[label]
    if isinstance(group, list):
        return [pytest.param(text, id=text[:60]) for text in group]
    return [
        pytest.param(text, id=f"{locale}: {text[:60]}")
        for locale, texts in group.items()
        for text in texts
    ]


CRISIS = _labelled("crisis") + _labelled("crisis_slang_and_mixed")
POSSIBLE = _labelled("possible")
EVERYDAY = [text for texts in CORPUS["none"].values() for text in texts]


def test_the_corpus_is_big_enough_in_both_languages() -> None:
    assert len(CRISIS) + len(POSSIBLE) + len(EVERYDAY) >= 300
    for label in ("crisis", "possible", "none"):
        assert set(CORPUS[label]) == {"en", "es"}
        assert all(len(texts) >= 25 for texts in CORPUS[label].values())
    texts = [p.values[0] for p in CRISIS + POSSIBLE] + EVERYDAY
    assert len(texts) == len(set(texts)), "a message is listed twice"


@pytest.mark.parametrize("text", CRISIS)
def test_every_crisis_message_is_clear(text: str) -> None:
    found = MATCHER.detect(text)
    assert found.level is Level.CLEAR, found
    assert found.phrase and found.phrase in " ".join(text.split())


@pytest.mark.parametrize("text", POSSIBLE)
def test_every_possible_message_reaches_the_team(text: str) -> None:
    found = MATCHER.detect(text)
    assert found.level is not Level.NONE, found


@pytest.mark.parametrize("locale", ["en", "es"])
def test_at_most_one_everyday_message_in_ten_fires(locale: str) -> None:
    texts = CORPUS["none"][locale]
    fired = [(t, MATCHER.detect(t)) for t in texts if MATCHER.detect(t).crisis]
    assert len(fired) <= MAX_FALSE_ALARMS * len(texts), fired
