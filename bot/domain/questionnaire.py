"""Questionnaires as data: items, their answer options, and answer validation.

The wording lives in ``prompts/questionnaires/*.yaml`` (reviewed content); this module only
knows the structure, so it can check a questionnaire at start-up and an answer at every tap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# Values travel inside callback_data (64 bytes in all), so they stay short and plain.
VALUE_PATTERN = re.compile(r"[a-z0-9_]{1,16}")
ITEM_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")


class ItemKind(StrEnum):
    """How an item is answered."""

    SCALE = "scale"
    """An integer from ``min`` to ``max``, one button per value."""
    CHOICE = "choice"
    """One of a list of labelled options."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer button: the stored value and its label per locale."""

    value: str
    labels: dict[str, str]

    def label(self, locale: str, fallback: str = "en") -> str:
        """Return the label in a locale, falling back to the default locale."""
        return self.labels.get(locale) or self.labels[fallback]


@dataclass(frozen=True, slots=True)
class Item:
    """One question of a questionnaire."""

    id: str
    kind: ItemKind
    texts: dict[str, str]
    options: tuple[Option, ...]
    row_sizes: tuple[int, ...] = ()
    """How many buttons go on each keyboard row; empty means one row per option."""

    def text(self, locale: str, fallback: str = "en") -> str:
        """Return the question text in a locale, falling back to the default locale."""
        return self.texts.get(locale) or self.texts[fallback]

    def accepts(self, value: str) -> bool:
        """Tell whether a value is one of this item's answers."""
        return any(option.value == value for option in self.options)

    def keyboard_rows(self) -> list[tuple[Option, ...]]:
        """Split the options into keyboard rows."""
        if not self.row_sizes:
            return [(option,) for option in self.options]
        rows: list[tuple[Option, ...]] = []
        start = 0
        for size in self.row_sizes:
            rows.append(self.options[start : start + size])
            start += size
        return rows


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """An ordered set of items asked together."""

    id: str
    version: int
    items: tuple[Item, ...]
    source: str = ""
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = validate_questionnaire(self)
        if problems:
            raise QuestionnaireError(self.id, problems)
        self._index.update({item.id: i for i, item in enumerate(self.items)})

    def position(self, item_id: str) -> int:
        """Return the position of an item; raise KeyError for an unknown id."""
        return self._index[item_id]


class QuestionnaireError(ValueError):
    """A questionnaire that cannot be used, with every problem found."""

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(problems))
        self.problems = problems


def scale_options(low: int, high: int) -> tuple[Option, ...]:
    """Return the options of an integer scale, labelled with their own digits."""
    return tuple(Option(value=str(v), labels={"en": str(v)}) for v in range(low, high + 1))


def validate_questionnaire(questionnaire: Questionnaire) -> list[str]:
    """Return every structural problem of a questionnaire (an empty list when it is sound)."""
    problems: list[str] = []
    if not questionnaire.items:
        problems.append("it has no items")
    seen: set[str] = set()
    for item in questionnaire.items:
        where = f"item {item.id!r}"
        if not ITEM_ID_PATTERN.fullmatch(item.id):
            problems.append(f"{where}: id must match {ITEM_ID_PATTERN.pattern}")
        if item.id in seen:
            problems.append(f"{where}: id is used twice")
        seen.add(item.id)
        if "en" not in item.texts:
            problems.append(f"{where}: text has no 'en' version")
        if not item.options:
            problems.append(f"{where}: has no answer options")
        values = [option.value for option in item.options]
        if len(set(values)) != len(values):
            problems.append(f"{where}: two options share a value")
        problems.extend(
            f"{where}: option value {option.value!r} must match {VALUE_PATTERN.pattern}"
            for option in item.options
            if not VALUE_PATTERN.fullmatch(option.value)
        )
        problems.extend(
            f"{where}: option {option.value!r} has no 'en' label"
            for option in item.options
            if "en" not in option.labels
        )
        if item.row_sizes and sum(item.row_sizes) != len(item.options):
            problems.append(
                f"{where}: rows hold {sum(item.row_sizes)} buttons, not {len(item.options)}"
            )
    return problems
