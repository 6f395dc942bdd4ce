"""Every locale has every template English has (and nothing English lacks)."""

from __future__ import annotations

from prompts.render import Renderer

# Templates still waiting for a translation, by locale. Name each one; never skip a locale.
KNOWN_MISSING: dict[str, set[str]] = {"es": set()}


def test_every_locale_has_every_template() -> None:
    renderer = Renderer()
    english = renderer.template_names("en")
    assert "es" in renderer.locales
    for locale in renderer.locales:
        names = renderer.template_names(locale)
        missing = english - names - KNOWN_MISSING.get(locale, set())
        extra = names - english
        assert not missing, f"{locale} lacks {sorted(missing)}"
        assert not extra, f"{locale} has templates English lacks: {sorted(extra)}"


def test_known_exceptions_are_still_missing() -> None:
    renderer = Renderer()
    for locale, names in KNOWN_MISSING.items():
        done = names & renderer.template_names(locale)
        assert not done, f"{sorted(done)} are translated now: remove them from KNOWN_MISSING"
