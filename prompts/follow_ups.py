"""The follow-up actions' names per locale, from ``prompts/follow_ups.yaml``.

A name missing for a locale, or a key the buttons cannot carry, stops the start with one line
naming the file and the action.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

FOLLOW_UPS = Path(__file__).with_name("follow_ups.yaml")
FollowUpNames = Mapping[str, Mapping[str, str]]
"""Action key -> locale -> name, in file order."""
_KEY = re.compile(r"[a-z0-9_]{1,16}")


class FollowUpsError(ValueError):
    """A follow-up catalogue that cannot be used."""


def load_follow_ups(locales: Iterable[str], path: Path = FOLLOW_UPS) -> FollowUpNames:
    """Load and check the catalogue of follow-up actions."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FollowUpsError(f"{path}: cannot be read: {exc}") from exc
    actions = raw.get("actions") if isinstance(raw, dict) else None
    if not isinstance(actions, dict) or not actions:
        raise FollowUpsError(f"{path}: needs a non-empty 'actions' mapping")
    names: dict[str, dict[str, str]] = {}
    for key, by_locale in actions.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise FollowUpsError(f"{path}: action {key!r}: keys are 1-16 of a-z, 0-9 and _")
        if not isinstance(by_locale, dict):
            raise FollowUpsError(f"{path}: action {key!r}: needs a name per locale")
        for locale in locales:
            name = by_locale.get(locale)
            if not isinstance(name, str) or not name.strip():
                raise FollowUpsError(f"{path}: action {key!r} has no name for locale {locale!r}")
        names[key] = {str(k): str(v) for k, v in by_locale.items()}
    return names
