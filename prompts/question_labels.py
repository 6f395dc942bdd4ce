"""Reading a question's labels for the care team from its questionnaire file
(docs/architecture.md, "Where a question's labels live").

Two optional keys of an item: ``name`` (what the team calls the question: an alert's values
line reads "side effects: Headache") and ``column`` (its column in /patient's day table:
header, width, what each answer shows, which answers are flagged, the legend's words). Their
structure is checked here, when the file is loaded; that every locale has every text is
checked at start-up by ``prompts/item_names.py``.
"""

from __future__ import annotations

from typing import Any

from bot.domain.question_labels import Column, Flag, column_problems
from bot.domain.questionnaire import Questionnaire, QuestionnaireError

_COLUMN_KEYS = frozenset({"label", "width", "align", "count", "values", "flag", "note"})


def _texts(raw: Any, where: str) -> dict[str, str]:
    """A map of locale to text (every locale is checked later, against the templates)."""
    if not isinstance(raw, dict) or not raw:
        raise QuestionnaireError(where, ["must be a map of locale to text"])
    texts = {}
    for locale, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise QuestionnaireError(where, [f"locale {locale!r} needs a text"])
        texts[str(locale)] = text.strip()
    return texts


def parse_name(raw: Any, where: str) -> dict[str, str]:
    """Read an item's ``name`` (absent: an empty map)."""
    return {} if raw is None else _texts(raw, f"{where}, key 'name'")


def parse_column(raw: Any, where: str, item_id: str) -> Column | None:
    """Read the ``column`` of item ``item_id`` (absent: None), with errors naming the key."""
    if raw is None:
        return None
    where = f"{where}, key 'column'"
    if not isinstance(raw, dict):
        raise QuestionnaireError(where, ["must be a mapping with at least 'label'"])
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise QuestionnaireError(where, [f"unknown keys {sorted(unknown)}"])
    width = raw.get("width")
    if width is not None and not (isinstance(width, int) and 0 < width <= 12):
        raise QuestionnaireError(f"{where}: 'width'", ["must be a whole number from 1 to 12"])
    align = raw.get("align", "right")
    if align not in {"left", "right"}:
        raise QuestionnaireError(f"{where}: 'align'", ["must be left or right"])
    count = raw.get("count", False)
    if not isinstance(count, bool):
        raise QuestionnaireError(f"{where}: 'count'", ["must be true or false"])
    shows = raw.get("values", {})
    if not isinstance(shows, dict):
        raise QuestionnaireError(f"{where}: 'values'", ["must map each answer to its texts"])
    return Column(
        labels=_texts(raw.get("label"), f"{where}: 'label'"),
        width=width,
        left=align == "left",
        count=count,
        shows={str(v): _texts(t, f"{where}: 'values: {v}'") for v, t in shows.items()},
        flag=_flag(raw.get("flag"), f"{where}: 'flag'", item_id),
        notes=_texts(raw["note"], f"{where}: 'note'") if "note" in raw else {},
    )


def _flag(raw: Any, where: str, item_id: str) -> Flag | None:
    if raw is None:
        return None
    values = raw.get("values") if isinstance(raw, dict) else None
    item = raw.get("item") if isinstance(raw, dict) else None
    if (
        not isinstance(values, list)
        or not values
        or not (item is None or isinstance(item, str))
        or set(raw) - {"item", "values"}
    ):
        raise QuestionnaireError(where, ["must be {values: [...]} and, for another item, 'item'"])
    return Flag(item=item or item_id, values=frozenset(str(v) for v in values))


def check_columns(questionnaire: Questionnaire, where: str) -> None:
    """Refuse columns that name answers or items the questionnaire does not have."""
    problems = column_problems(questionnaire)
    if problems:
        raise QuestionnaireError(where, problems)
