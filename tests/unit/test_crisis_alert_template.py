"""Crisis alerts in the group quote the words that matched, in every locale."""

from __future__ import annotations

import pytest

from prompts.render import Renderer

LOCALES = Renderer().locales
NONE = {"answer": None, "instrument": None, "number": None}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_values_line_quotes_the_phrase_escaped(locale: str) -> None:
    renderer = Renderer()
    quoted = renderer.render(
        "alert_values",
        locale,
        d={"kind": "crisis_words", "phrase": "not going to <kill> myself"},
        **NONE,
    )
    assert "not going to &lt;kill&gt; myself" in quoted  # the patient's words, escaped
    assert "\n" not in quoted  # one line, as /alerts and /patient list it
