"""The alert, review and short-card templates render, in every locale, with real values."""

from __future__ import annotations

import pytest

from prompts.render import Renderer

LOCALES = Renderer().locales
EVENT = {
    "tier": "URGENT",
    "label": "P-7Q3K",
    "rules": [
        {"name": "Took more than the prescribed dose", "what": "dose: Took more than prescribed"},
        {"name": "Side effects rated severe", "what": "side-effect bother: Severe"},
    ],
    "time": "2026-01-13 10:00 EST",
    "review_by": "2026-01-13 14:00 EST",
    "after_hours": False,
    "minutes": None,
    "acknowledged_by": None,
    "acknowledged_at": None,
    "resolved_by": None,
    "resolved_at": None,
}


@pytest.mark.parametrize("locale", LOCALES)
def test_a_shared_announcement_lists_each_event_with_its_status(locale: str) -> None:
    renderer = Renderer()
    acked = {**EVENT, "label": "P-AAAA", "acknowledged_by": "Nora", "acknowledged_at": "10:05"}
    immediate = {**EVENT, "label": "P-BBBB", "tier": "IMMEDIATE", "review_by": None}
    text = renderer.render("alert_group", locale, events=[immediate, acked, EVENT])
    assert text.index("P-BBBB") < text.index("P-AAAA") < text.index("P-7Q3K")
    assert text.count("Nora") == 1
    assert text.count("2026-01-13 14:00 EST") == 2  # URGENT events say when to review
    # Seven typical events, each with its values line, fit Telegram's 4096 characters even
    # once each is resolved by someone with a 64-character name (the announcer measures that
    # worst case and packs fewer when they do not fit).
    resolved = {
        **EVENT,
        "label": "P-LONGLABEL12",
        "after_hours": True,
        "resolved_by": "W" * 64,
        "resolved_at": "2026-01-13 10:05 EST",
    }
    assert len(renderer.render("alert_group", locale, events=[resolved] * 7)) <= 4096


@pytest.mark.parametrize("locale", LOCALES)
def test_a_single_announcement_keeps_its_format_and_adds_the_review_time(locale: str) -> None:
    renderer = Renderer()
    values = {**EVENT, "coverage_days": [], "coverage_start": "", "coverage_end": ""}
    del values["minutes"]
    text = renderer.render("alert_group", locale, **values)
    without = renderer.render("alert_group", locale, **{**values, "review_by": None})
    assert "2026-01-13 14:00 EST" in text and "2026-01-13 14:00 EST" not in without
    assert not text.startswith("📣")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_shared_re_raise_names_the_on_call_once(locale: str) -> None:
    events = [
        {**EVENT, "tier": "IMMEDIATE", "minutes": 30},
        {**EVENT, "label": "P-AAAA", "minutes": None},
    ]
    text = Renderer().render("alert_reraise", locale, events=events, on_call=["@dr_oncall"])
    assert text.count("@dr_oncall") == 1 and "30" in text and "P-AAAA" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_buttons_of_a_shared_message_name_the_patient(locale: str) -> None:
    renderer = Renderer()
    for name in ("button_alert_ack", "button_alert_res"):
        alone = renderer.render(name, locale)
        named = renderer.render(name, locale, label="P-7Q3K")
        assert named.endswith(" P-7Q3K") and "P-7Q3K" not in alone


# The crisis cards are built and tested through bot.services.alerts.crisis_card
# (tests/unit/test_crisis_card.py).
