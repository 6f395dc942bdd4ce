"""Display names of questions, in every locale, from the questionnaire files; and the start-up
check of every question's labels (docs/architecture.md, "Where a question's labels live").

An alert's values line names the question that fired it ("side effects: Headache"), in the
group's language, from the item's ``name``; /patient's day table takes its columns from the
items' ``column``. Every questionnaire the bot ships and every one the configuration names is
read, so an alert kept from a question no cohort asks any more still reads by its name. A
label missing for a locale the bot speaks, or a question that a rule names without a display
name, stops the start with one line naming the file, the item and the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from bot.domain.alerts import ItemRule
from bot.domain.escalation_rules import EscalationRules
from bot.domain.instruments import SPECS
from bot.domain.question_labels import missing_label
from bot.domain.questionnaire import Item, Questionnaire
from prompts.questionnaires import QUESTIONNAIRES, load_questionnaire, questionnaire_path

ItemNames = Mapping[str, Mapping[str, str]]
"""Item id -> locale -> display name."""
INSTRUMENT_ITEMS = frozenset(item for spec in SPECS.values() for item in spec.item_ids())
"""Scored instrument items: an alert reads them as "PHQ-9 item 9" (``alert_values.j2``), so
they need no name."""


class ItemNamesError(ValueError):
    """A question's label missing for a locale, or a question a rule names left unnamed."""


def rule_items(
    rules: Iterable[ItemRule] = (), escalation: EscalationRules | None = None
) -> frozenset[str]:
    """Return the questions the item-level and patient-level rules name."""
    named = {rule.item for rule in rules}
    for rule in escalation.rules if escalation is not None else ():
        item = getattr(rule, "item", None)
        if isinstance(item, str):  # instrument rules number their items instead
            named.add(item)
    return frozenset(named)


def load_item_names(
    locales: Iterable[str],
    configured: Mapping[str, Questionnaire] | None = None,
    named: Iterable[str] = (),
) -> dict[str, dict[str, str]]:
    """Check every question's labels in every locale; return the display names by item id.

    Args:
        locales: The locales the bot speaks (those with templates).
        configured: Questionnaires loaded by name (``questionnaire_path``): the cohorts' own
            files are checked besides the shipped ones.
        named: Questions some rule names (:func:`rule_items`): each needs a display name,
            scored instrument items excepted.

    Raises:
        ItemNamesError: One line naming the file, the item, the key and the locale.
    """
    wanted = sorted(locales)
    required = frozenset(named) - INSTRUMENT_ITEMS
    names: dict[str, dict[str, str]] = {}
    checked: dict[str, Item] = {}
    for path, questionnaire in _files(configured or {}).items():
        # An item inherited through ``extends`` was checked with the file that defines it
        # (shipped files come first, in name order: a base before what extends it).
        own = [item for item in questionnaire.items if checked.get(item.id) != item]
        for locale in wanted:
            gap = missing_label(own, locale, required)
            if gap is not None:
                raise ItemNamesError(f"{path}: {gap} has no {locale!r} text; add it")
        checked.update((item.id, item) for item in own)
        names.update({item.id: dict(item.name) for item in own if item.name})
    return names


def _files(configured: Mapping[str, Questionnaire]) -> dict[Path, Questionnaire]:
    """The shipped files, then the configuration's own (not the day questionnaires built
    from them, ``daily+phq9`` or ``daily/phq9``: ``bot.config.day_questionnaire_id``)."""
    files = {
        path: configured.get(path.stem) or load_questionnaire(path)
        for path in sorted(QUESTIONNAIRES.glob("*.yaml"))
    }
    for name, questionnaire in configured.items():
        if Path(name).suffix in {".yaml", ".yml"} or ("+" not in name and "/" not in name):
            files.setdefault(questionnaire_path(name), questionnaire)
    return files
