"""Loading questionnaires from YAML, with errors that name the file, the item and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.domain.questionnaire import (
    Condition,
    Item,
    ItemKind,
    Option,
    Questionnaire,
    QuestionnaireError,
    scale_options,
)
from prompts.question_labels import check_columns, parse_column, parse_name

QUESTIONNAIRES = Path(__file__).with_name("questionnaires")


def _texts(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw}
    if (
        isinstance(raw, dict)
        and raw
        and all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in raw.items())
    ):
        return {str(k): str(v) for k, v in raw.items()}
    raise QuestionnaireError(where, ["must be text, or a map of locale to text"])


def _item(raw: Any, where: str) -> Item:
    if not isinstance(raw, dict):
        raise QuestionnaireError(where, ["must be a mapping"])
    item_id = raw.get("id")
    where = f"{where} (id {item_id!r})"
    kind_name = raw.get("type")
    try:
        kind = ItemKind(str(kind_name))
    except ValueError:
        raise QuestionnaireError(
            f"{where}, field 'type'",
            [f"{kind_name!r} is not one of scale, choice, multi, note, reading"],
        ) from None
    texts = _texts(raw.get("text"), f"{where}, field 'text'")
    rows = raw.get("rows", [])
    if not isinstance(rows, list) or not all(isinstance(n, int) and n > 0 for n in rows):
        raise QuestionnaireError(f"{where}, field 'rows'", ["must be a list of positive counts"])
    if kind is ItemKind.SCALE:
        low, high = raw.get("min"), raw.get("max")
        if not (isinstance(low, int) and isinstance(high, int) and low < high):
            raise QuestionnaireError(f"{where}, fields 'min'/'max'", ["need integers, min < max"])
        options = scale_options(low, high)
    else:
        raw_options = raw.get("options")
        if not isinstance(raw_options, list) or not raw_options:
            raise QuestionnaireError(f"{where}, field 'options'", ["must be a non-empty list"])
        options = tuple(
            Option(
                value=str(option.get("value", "")) if isinstance(option, dict) else "",
                labels=_texts(
                    option.get("label") if isinstance(option, dict) else None,
                    f"{where}, option {n}, field 'label'",
                ),
            )
            for n, option in enumerate(raw_options, start=1)
        )
    none_value = raw.get("none_value")
    safety = raw.get("safety", False)
    if not isinstance(safety, bool):
        raise QuestionnaireError(f"{where}, field 'safety'", ["must be true or false"])
    return Item(
        id=str(item_id),
        kind=kind,
        texts=texts,
        options=options,
        row_sizes=tuple(rows),
        show_if=_condition(raw.get("show_if"), f"{where}, field 'show_if'"),
        none_value=None if none_value is None else str(none_value),
        safety=safety,
        name=parse_name(raw.get("name"), where),
        column=parse_column(raw.get("column"), where, str(item_id)),
    )


def _condition(raw: Any, where: str) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("item"), str):
        raise QuestionnaireError(
            where, ["must be a mapping with 'item' and 'any_of' or 'none_of'"]
        )
    unknown = set(raw) - {"item", "any_of", "none_of"}
    if unknown:
        raise QuestionnaireError(where, [f"unknown keys {sorted(unknown)}"])
    lists = {key: raw.get(key, []) for key in ("any_of", "none_of")}
    for key, values in lists.items():
        if not isinstance(values, list):
            raise QuestionnaireError(where, [f"'{key}' must be a list"])
    return Condition(
        item=raw["item"],
        any_of=frozenset(str(v) for v in lists["any_of"]),
        none_of=frozenset(str(v) for v in lists["none_of"]),
    )


def load_questionnaire(path: Path) -> Questionnaire:
    """Load and validate one questionnaire file; raise QuestionnaireError naming the problem."""
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionnaireError(where, [f"cannot be read: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise QuestionnaireError(where, ["must be a mapping with id, version and items"])
    items_raw = raw.get("items")
    if not isinstance(items_raw, list):
        raise QuestionnaireError(where, ["field 'items' must be a list"])
    items = tuple(_item(item, f"{where}: item {n}") for n, item in enumerate(items_raw, start=1))
    base = raw.get("extends")
    if base is not None:
        # A variant of another questionnaire: its items first, then these.
        if not isinstance(base, str) or base == raw.get("id"):
            raise QuestionnaireError(where, ["field 'extends' must name another questionnaire"])
        items = load_questionnaire(questionnaire_path(base)).items + items
    version = raw.get("version")
    if not isinstance(version, int):
        raise QuestionnaireError(where, ["field 'version' must be an integer"])
    sources = _texts(raw["source"], f"{where}: field 'source'") if "source" in raw else {}
    gaps = raw.get("no_validated_translation", [])
    if not isinstance(gaps, list) or not all(isinstance(g, str) and g for g in gaps):
        raise QuestionnaireError(where, ["field 'no_validated_translation' must list locales"])
    try:
        questionnaire = Questionnaire(
            id=str(raw.get("id") or path.stem),
            version=version,
            items=items,
            sources=sources,
            no_validated_translation=frozenset(gaps),
        )
    except QuestionnaireError as exc:
        raise QuestionnaireError(where, exc.problems) from None
    check_columns(questionnaire, where)
    return questionnaire


def questionnaire_path(name: str) -> Path:
    """Return the file of a questionnaire given by name (shipped) or by path (a clinic's own)."""
    candidate = Path(name)
    if candidate.suffix in {".yaml", ".yml"}:
        return candidate
    return QUESTIONNAIRES / f"{name}.yaml"
