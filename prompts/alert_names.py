"""Display names of alerts, in every locale, from the rule files.

Every rule in ``prompts/rules.yaml`` and ``prompts/escalation.yaml`` carries a ``name`` with
one text per locale; alerts the bot raises itself (crisis words, an unreachable patient, a
self-pause) are named in the ``other_alerts`` section of ``rules.yaml``. The care team reads
these names in the group alert, /alerts, /patient and the digest, never a rule id, so a name
missing for a locale stops the start (one line naming the file, the rule and the locale).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from prompts.escalation import ESCALATION
from prompts.rules import RULES

AlertNames = Mapping[str, Mapping[str, str]]
"""Rule id -> locale -> display name."""
BOT_ALERTS = ("crisis_words", "crisis_words_possible", "patient_unreachable", "self_pause")
"""Alerts the bot raises itself, with no rule in a file (``bot/services/patient/messages.py``,
``reachability.py``, ``lifecycle.py``): ``other_alerts`` in ``rules.yaml`` must name them."""


class AlertNamesError(ValueError):
    """A rule without a usable display name."""


def _entries(path: Path) -> list[Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AlertNamesError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise AlertNamesError(f"{path}: must be a mapping")
    entries: list[Any] = []
    for section in ("rules", "other_alerts"):
        listed = raw.get(section) or []
        if not isinstance(listed, list):
            raise AlertNamesError(f"{path}: section {section!r} must be a list")
        entries.extend(listed)
    return entries


def load_alert_names(
    locales: Iterable[str],
    paths: Iterable[Path] = (RULES, ESCALATION),
    required: Iterable[str] = BOT_ALERTS,
) -> dict[str, dict[str, str]]:
    """Read every rule's display name and check that each locale has one.

    Args:
        locales: The locales the bot speaks (those with templates): each needs every name.
        paths: The rule files.
        required: Alert ids raised in code, which some file must name.

    Raises:
        AlertNamesError: One line naming the file, the rule and what is missing.
    """
    wanted = sorted(locales)
    names: dict[str, dict[str, str]] = {}
    for path in paths:
        for entry in _entries(path):
            rule = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(rule, str):
                raise AlertNamesError(f"{path}: an entry has no id")
            given = entry.get("name")
            if not isinstance(given, dict):
                raise AlertNamesError(
                    f"{path}: rule {rule!r} has no display name ('name' with one text per locale)"
                )
            for locale in wanted:
                text = given.get(locale)
                if not isinstance(text, str) or not text.strip():
                    raise AlertNamesError(
                        f"{path}: rule {rule!r} has no display name for locale {locale!r}"
                    )
            if rule in names:
                raise AlertNamesError(f"{path}: rule {rule!r} is named twice")
            names[rule] = {locale: str(text).strip() for locale, text in given.items()}
    for rule in required:
        if rule not in names:
            raise AlertNamesError(
                f"alert {rule!r} (raised by the bot itself) has no display name: add it under "
                "'other_alerts' in prompts/rules.yaml"
            )
    return names
