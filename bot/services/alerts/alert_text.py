"""How an alert reads to the care team: its display name and what fired it.

One home for the group alert, /alerts, /patient and the digest: each shows an alert as its
display name (from the rule files, ``prompts/alert_names.py``) and a line of values rendered
from its details (``bot.domain.alert_details``) by the ``alert_values`` template, never as a
rule id; the question in the values line reads by its display name (from its questionnaire
file, ``prompts/item_names.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from markupsafe import Markup

from bot.domain.instruments import SPECS
from bot.domain.questionnaire import Item
from bot.services.runtime import Runtime

logger = logging.getLogger(__name__)


class AlertText:
    """Renders alerts' names and values in a locale."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    @cached_property
    def _items(self) -> dict[str, Item]:
        """Every questionnaire item by id (for the labels of the answer that fired a rule)."""
        items: dict[str, Item] = {}
        for questionnaire in self._rt.config.questionnaires.values():
            for item in questionnaire.items:
                items.setdefault(item.id, item)
        return items

    @cached_property
    def _instrument_items(self) -> dict[str, tuple[str, int]]:
        """Instrument item id -> (instrument, 1-based item number)."""
        return {
            item: (instrument.value, number)
            for instrument, spec in SPECS.items()
            for number, item in enumerate(spec.item_ids(), start=1)
        }

    def name(self, rule: str, locale: str) -> str:
        """Return an alert's display name in a locale.

        Start-up checks every rule file names each rule in every locale. An alert stored
        under a rule since removed from the files has no name: it reads as such (the
        ``alert_unnamed`` template), never as its id.
        """
        text = self._rt.config.alert_names.get(rule, {}).get(locale)
        return text if text else self._rt.renderer.render("alert_unnamed", locale)

    def values(self, details: Mapping[str, Any] | None, locale: str) -> Markup | None:
        """Return the line that says what fired an alert (already escaped), or None.

        A details shape the template cannot render is logged (its kind only) and left out:
        the alert itself must still reach the team.
        """
        if not details:
            return None
        extra: dict[str, Any] = {"answer": None, "instrument": None, "number": None}
        item_id = str(details.get("item"))
        # The question's display name (start-up checked every locale of every question a
        # rule names); an item without one leaves the name undefined, and a line that needs
        # it fails below, logged, rather than show an id.
        name = self._rt.config.item_names.get(item_id, {}).get(locale)
        if name is not None:
            extra["item"] = name
        if details.get("kind") == "answer":
            extra["answer"] = self._answer_label(item_id, str(details.get("value")), locale)
            if item_id in self._instrument_items:
                extra["instrument"], extra["number"] = self._instrument_items[item_id]
        try:
            text = self._rt.renderer.render("alert_values", locale, d=dict(details), **extra)
        except Exception:  # noqa: BLE001 - never let a values line stop an alert
            logger.warning("alert values of kind %r not rendered", details.get("kind"))
            return None
        return Markup(text) if text else None  # noqa: S704 - rendered with autoescape

    def view(self, rule: str, details: Mapping[str, Any] | None, locale: str) -> dict[str, Any]:
        """Return an alert as templates list it: ``name`` and ``what`` fired it (or None)."""
        return {"name": self.name(rule, locale), "what": self.values(details, locale)}

    def _answer_label(self, item_id: str, value: str, locale: str) -> str | None:
        """The answer's option labels (", " between several), or None for a bare number."""
        item = self._items.get(item_id)
        if item is None:
            return None
        labels = []
        for part in value.split(","):
            option = next((o for o in item.options if o.value == part), None)
            if option is None:
                return None
            label = option.label(locale)
            if label == part:
                return None  # a scale's option reads as its number: nothing to add
            labels.append(label)
        return ", ".join(labels)
