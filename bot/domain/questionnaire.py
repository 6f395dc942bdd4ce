"""Questionnaires as data: items, their answer options, conditions, and answer validation.

The wording lives in ``prompts/questionnaires/*.yaml`` (reviewed content); this module only
knows the structure, so it can check a questionnaire at start-up and an answer at every tap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.domain.blood_pressure import stored_reading

if TYPE_CHECKING:  # bot.domain.question_labels builds on this module
    from bot.domain.question_labels import Column

# Item ids and values travel inside callback_data (64 bytes in all), so they stay short and
# plain: the longest button, a multi-select tick (``t|<check-in id, 19 digits>|<item
# id>|<value>``), takes 2 + 19 + 1 + 24 + 1 + 16 = 63 bytes (bot.domain.callback_data).
VALUE_PATTERN = re.compile(r"[a-z0-9_]{1,16}")
ITEM_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,23}")
MULTI_SEPARATOR = ","


class ItemKind(StrEnum):
    """How an item is answered."""

    SCALE = "scale"
    """An integer from ``min`` to ``max``, one button per value."""
    CHOICE = "choice"
    """One of a list of labelled options."""
    MULTI = "multi"
    """Any number of options, ticked one by one and sent with Done; ``none_value`` (if set)
    is an exclusive "none of these" that answers at once."""
    NOTE = "note"
    """Optional free text: the patient types it, or taps its one option ("nothing to add").
    The text is kept as a patient message; the answer refers to it."""
    READING = "reading"
    """Numbers the patient types (a home blood-pressure reading, ``145/92``: see
    bot.domain.blood_pressure), or its one option ("no reading today")."""


NOTE_PREFIX = "note:"
_TYPED = frozenset({ItemKind.NOTE, ItemKind.READING})
"""Items the patient answers by typing, or with their one button."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer button: the stored value and its label per locale."""

    value: str
    labels: dict[str, str]

    def label(self, locale: str, fallback: str = "en") -> str:
        """Return the label in a locale, falling back to the default locale."""
        return self.labels.get(locale) or self.labels[fallback]


@dataclass(frozen=True, slots=True)
class Condition:
    """Ask an item only when another item's answer includes (or excludes) some values."""

    item: str
    any_of: frozenset[str] = frozenset()
    """Shown when the answer holds one of these values."""
    none_of: frozenset[str] = frozenset()
    """Shown when the answer holds a value other than these (e.g. any side effect at all)."""

    def holds(self, answers: Mapping[str, str]) -> bool:
        """Tell whether the condition holds for the answers so far."""
        answer = answers.get(self.item)
        if answer is None:
            return False
        values = set(answer.split(MULTI_SEPARATOR))
        if self.any_of and not values & self.any_of:
            return False
        return not (self.none_of and values <= self.none_of)


@dataclass(frozen=True, slots=True)
class Item:
    """One question of a questionnaire."""

    id: str
    kind: ItemKind
    texts: dict[str, str]
    options: tuple[Option, ...]
    row_sizes: tuple[int, ...] = ()
    """How many buttons go on each keyboard row; empty means one row per option."""
    show_if: Condition | None = None
    none_value: str | None = None
    """For a multi-select: the option that means "none of these"."""
    safety: bool = False
    """A safety question (D7, D7b and the PHQ-9 item 9 follow-up): never offered with Skip,
    so it cannot be passed over silently (docs/safety-questions.md)."""
    name: Mapping[str, str] = field(default_factory=dict)
    """What the care team calls the question (an alert's values line), per locale."""
    column: Column | None = None
    """The question's column in /patient's day table; None: not shown there."""

    def text(self, locale: str, fallback: str = "en") -> str:
        """Return the question text in a locale, falling back to the default locale."""
        return self.texts.get(locale) or self.texts[fallback]

    def accepts(self, value: str) -> bool:
        """Tell whether a value is one of this item's options."""
        return any(option.value == value for option in self.options)

    def accepts_answer(self, answer: str) -> bool:
        """Tell whether a stored answer is valid: one option, or for a multi-select several
        distinct options (never "none" together with others)."""
        if self.kind is ItemKind.NOTE and answer.startswith(NOTE_PREFIX):
            return answer.removeprefix(NOTE_PREFIX).isdigit()
        if self.kind is ItemKind.READING and stored_reading(answer) is not None:
            return True
        if self.kind is not ItemKind.MULTI:
            return self.accepts(answer)
        values = answer.split(MULTI_SEPARATOR)
        if len(set(values)) != len(values) or not all(self.accepts(v) for v in values):
            return False
        return self.none_value not in values or values == [self.none_value]

    def join(self, selected: set[str]) -> str:
        """Return a multi-select answer as stored: the ticked values in option order."""
        return MULTI_SEPARATOR.join(o.value for o in self.options if o.value in selected)

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
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each locale's wording comes from (the published form it reproduces)."""
    no_validated_translation: frozenset[str] = frozenset()
    """Locales this questionnaire declares it has no validated text in: it is not asked of
    patients who use them (bot.domain.weekly.not_asked), rather than asked in another
    language."""
    apart_from: int | None = None
    """Where the part asked in a message of its own begins (the weekly instruments, when a
    cohort sends them apart from the daily items); None: one message asks every item."""
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = validate_questionnaire(self)
        if problems:
            raise QuestionnaireError(self.id, problems)
        self._index.update({item.id: i for i, item in enumerate(self.items)})

    def missing_text(self, locale: str) -> str | None:
        """Return the first place with no wording in ``locale`` (None: every question and
        every labelled answer has it). Scale buttons are digits and need none."""
        for item in self.items:
            if not item.texts.get(locale):
                return f"item {item.id!r}, field 'text'"
            if item.kind is ItemKind.SCALE:
                continue
            for option in item.options:
                if not option.labels.get(locale):
                    return f"item {item.id!r}, option {option.value!r}"
        return None

    def position(self, item_id: str) -> int:
        """Return the position of an item; raise KeyError for an unknown id."""
        return self._index[item_id]

    def find(self, item_id: str) -> int | None:
        """Return the position of an item, or None when the questionnaire has no such id."""
        return self._index.get(item_id)


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
    split = questionnaire.apart_from
    if split is not None and not 0 < split < len(questionnaire.items):
        problems.append(f"apart_from must fall between its items, not at {split}")
    problems.extend(_declared_gaps(questionnaire))
    seen: dict[str, Item] = {}
    for item in questionnaire.items:
        where = f"item {item.id!r}"
        if not ITEM_ID_PATTERN.fullmatch(item.id):
            problems.append(f"{where}: id must match {ITEM_ID_PATTERN.pattern}")
        if item.id in seen:
            problems.append(f"{where}: id is used twice")
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
        if item.none_value is not None and (
            item.kind is not ItemKind.MULTI or not item.accepts(item.none_value)
        ):
            problems.append(f"{where}: none_value must be an option of a multi-select item")
        if item.kind in _TYPED and len(item.options) != 1:
            problems.append(f"{where}: a {item.kind} item has exactly one option (none to give)")
        if item.show_if is not None:
            problems.extend(_check_condition(where, item.show_if, seen))
        seen[item.id] = item
    return problems


def _declared_gaps(questionnaire: Questionnaire) -> list[str]:
    """A locale declared to have no validated translation must have no text in it either:
    which of the two is true is for the clinic to settle, not for the bot to guess."""
    problems = []
    for locale in sorted(questionnaire.no_validated_translation):
        worded = [i.id for i in questionnaire.items if locale in i.texts]
        if locale == "en" or worded:
            problems.append(
                f"no_validated_translation lists {locale!r}, but it has text in it"
                + (f" (item {worded[0]!r})" if worded else "")
            )
    return problems


def _check_condition(where: str, condition: Condition, earlier: dict[str, Item]) -> list[str]:
    """A condition may only look back, at values that item really offers."""
    source = earlier.get(condition.item)
    if source is None:
        return [f"{where}: show_if refers to {condition.item!r}, which is not an earlier item"]
    unknown = sorted(v for v in condition.any_of | condition.none_of if not source.accepts(v))
    problems = [f"{where}: show_if value {v!r} is not an option of {source.id!r}" for v in unknown]
    if not condition.any_of and not condition.none_of:
        problems.append(f"{where}: show_if needs any_of or none_of")
    return problems
