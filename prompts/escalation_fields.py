"""Field readers for ``prompts/escalation.py``: each error names the file, rule and field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from bot.domain.alerts import Tier
from bot.domain.escalation_rules import Window
from bot.domain.questionnaire import Item, ItemKind, Questionnaire

E = TypeVar("E")


class EscalationRulesError(ValueError):
    """An escalation rules file that cannot be used."""


class Fields:
    """One mapping from the file (a rule, or a section), read field by field."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise EscalationRulesError(f"{where}: must be a mapping")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.used: set[str] = set()

    def fail(self, name: str, reason: str) -> EscalationRulesError:
        """Return an error about one field."""
        return EscalationRulesError(f"{self.where}, field {name!r}: {reason}")

    def has(self, name: str) -> bool:
        """Tell whether a field is given."""
        return name in self.raw

    def get(self, name: str, default: Any = None) -> Any:
        """Return a field's raw value (marking it as read)."""
        self.used.add(name)
        return self.raw.get(name, default)

    def text(self, name: str) -> str:
        """Return a non-empty text field."""
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, "must be text")
        return value

    def number(self, name: str, default: float | None = None, minimum: float = 0) -> float:
        """Return a number (int or float, never a bool or a string) at or above ``minimum``."""
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, not {value!r}")
        if value < minimum:
            raise self.fail(name, f"must be at least {minimum:g}, not {value}")
        return float(value)

    def count(self, name: str, default: int | None = None, minimum: int = 1) -> int:
        """Return a whole number at or above ``minimum`` (counts, days, item numbers)."""
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be a whole number, not {value!r}")
        if value < minimum:
            raise self.fail(name, f"must be at least {minimum}, not {value}")
        return value

    def choice(self, name: str, parse: Callable[[str], E], default: E | None = None) -> E:
        """Return an enum member (or other parsed value) from its text."""
        if default is not None and name not in self.raw:
            self.used.add(name)
            return default
        value = self.get(name)
        try:
            return parse(str(value))
        except ValueError:
            raise self.fail(name, f"{value!r} is not allowed") from None

    def choices(self, name: str, parse: Callable[[str], E]) -> frozenset[E]:
        """Return a non-empty set of enum members."""
        value = self.get(name)
        if not isinstance(value, list) or not value:
            raise self.fail(name, "must be a non-empty list")
        try:
            return frozenset(parse(str(v)) for v in value)
        except ValueError as exc:
            raise self.fail(name, f"has a value that is not allowed ({exc})") from None

    def tier(self, name: str = "tier") -> Tier:
        """Return a tier."""
        value = self.get(name)
        try:
            return Tier(str(value))
        except ValueError:
            raise self.fail(name, f"{value!r} is not IMMEDIATE, URGENT or ROUTINE") from None

    def hours(self, name: str, default: float) -> timedelta:
        """Return a duration given in hours."""
        return timedelta(hours=self.number(name, default))

    def window(self) -> Window:
        """Return the window: in_a_row, or count with of_last or within_days."""
        if self.has("in_a_row"):
            for other in ("count", "of_last", "within_days"):
                if self.has(other):
                    raise self.fail(other, "cannot be combined with 'in_a_row'")
            n = self.count("in_a_row")
            return Window(count=n, of_last=n)
        count = self.count("count")
        if self.has("of_last") == self.has("within_days"):
            raise self.fail("count", "needs exactly one of 'of_last' and 'within_days'")
        if self.has("of_last"):
            of_last = self.count("of_last")
            if count > of_last:
                raise self.fail("count", f"{count} exceeds of_last {of_last}")
            return Window(count=count, of_last=of_last)
        return Window(count=count, within_days=self.count("within_days"))

    def item(self, questionnaire: Questionnaire, name: str = "item") -> Item:
        """Return a daily questionnaire item named by a field."""
        item_id = self.text(name)
        for item in questionnaire.items:
            if item.id == item_id:
                return item
        raise self.fail(name, f"{item_id!r} is not an item of questionnaire {questionnaire.id!r}")

    def numeric_item(self, questionnaire: Questionnaire) -> tuple[str, float, float]:
        """Return a numeric item (a scale, or a choice whose values are all plain numbers)
        with its lowest and highest value."""
        item = self.item(questionnaire)
        numbers = [o.value for o in item.options]
        if item.kind is ItemKind.MULTI or not all(v.isdigit() for v in numbers):
            raise self.fail("item", f"{item.id!r} is not a numeric item")
        return item.id, min(float(v) for v in numbers), max(float(v) for v in numbers)

    def item_values(self, item: Item, name: str = "values") -> frozenset[str]:
        """Return a non-empty list of values the item offers."""
        value = self.get(name)
        if not isinstance(value, list) or not value:
            raise self.fail(name, "must be a non-empty list")
        unknown = sorted(str(v) for v in value if not item.accepts(str(v)))
        if unknown:
            raise self.fail(name, f"item {item.id!r} has no value {', '.join(unknown)}")
        return frozenset(str(v) for v in value)

    def check_all_read(self) -> None:
        """Refuse fields no reader asked for (a typo would otherwise be silently ignored)."""
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a field of this rule kind")
