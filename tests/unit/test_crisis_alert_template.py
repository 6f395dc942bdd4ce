"""Crisis alerts in the group quote the words that matched, in every locale and layout."""

from __future__ import annotations

import pytest

from prompts.render import Renderer

LOCALES = Renderer().locales
EVENT = {
    "tier": "URGENT",
    "label": "P-7Q3K",
    "rules": ["crisis_words_possible"],
    "quotes": [{"phrase": "not going to <kill> myself", "text": None}],
    "time": "2026-01-13 10:00 EST",
    "review_by": "2026-01-13 14:00 EST",
    "after_hours": False,
    "minutes": None,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "resolved_by": None,
    "resolved_at": None,
}
SHARED = {**EVENT, "quotes": [{"phrase": "took all my pills", "text": "I took all my pills!"}]}


@pytest.mark.parametrize("locale", LOCALES)
def test_one_event_and_a_burst_quote_the_phrase_escaped(locale: str) -> None:
    renderer = Renderer()
    alone = renderer.render(
        "alert_group", locale, coverage_days=[], coverage_start="", coverage_end="", **EVENT
    )
    burst = renderer.render("alert_group", locale, events=[EVENT, SHARED])
    for text in (alone, burst):
        assert "not going to &lt;kill&gt; myself" in text  # the patient's words, escaped
        assert "crisis_words_possible" not in text  # a display name, never the rule id
    assert "I took all my pills!" in burst  # the whole message only when shared
    assert "I took all my pills!" not in alone
