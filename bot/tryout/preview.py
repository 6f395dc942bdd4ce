"""Template preview: every template in every locale, rendered with sample values.

For reviewing wording. The variables a template uses are read from its source (Jinja's
``meta.find_undeclared_variables``); each gets a sample: a plain value from ``SAMPLES`` when
the name is known, else a stand-in that shows its own name and behaves as a value, a list or
a record as the template asks. A template that still fails to render shows its error in its
place; the page itself always renders.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, meta

from prompts.render import DEFAULT_LOCALE, TEMPLATES, Renderer

__all__ = ["SAMPLES", "Sample", "preview_page", "render_all"]

# Known variables with values of the kind the bot passes (see the services that render them).
SAMPLES: dict[str, Any] = {
    "label": "P-7Q3K",
    "cohort": "sandbox-clinic",
    "url": "https://t.me/moodcheck_sandbox_bot?start=SAMPLECODE",
    "expires": "2026-12-13 09:00 UTC",
    "bot_username": "moodcheck_sandbox_bot",
    "checkin_time": "09:00",
    "timezone": "Europe/London",
    "until": "2026-12-13",
    "paused_until": "2026-12-13",
    "max_days": 7,
    "minutes": 15,
    "count": 2,
    "position": "3",
    "total": 7,
    "language": "English",
    "region": "UK",
    "start": date(2026, 11, 30),
    "end": date(2026, 12, 6),
    "previous_start": date(2026, 11, 23),
    "previous_end": date(2026, 11, 29),
    "time": "09:41",
    "team_hours": "Mon-Fri 9:00-17:00",
    "coverage_start": "09:00",
    "coverage_end": "17:00",
    "coverage_days": "Mon-Fri",
    "provider": "@dr_rivera",
    "reasons": [
        {"kind": "immediate_alert", "value": "1"},
        {"kind": "phq9_severe", "value": "21", "band": "severe", "date": "2026-12-03"},
        {"kind": "item9", "value": "1", "date": "2026-12-03"},
        {"kind": "low_adherence", "value": "3/7"},
        {"kind": "mood_drop", "value": "-2.5"},
    ],
    "command": "/pause",
    "format": "CSV",
    "tier": "URGENT",
    "status": "active",
    "reason": "a label like P-7Q3K",
    "question": "How is your mood today?",
    "text": "I slept badly but I am OK.",
    "resources": 120,
    "state": "sent",
}
# Where templates give one name different shapes, the sample of one template.
TEMPLATE_SAMPLES: dict[str, dict[str, Any]] = {
    "provider_dosing_set": {"days": ["mon", "thu"]},
    "provider_optional": {"items": ["bp", "bladder"]},
    "provider_patient": {
        "dosing": {"days": ["mon", "thu"], "time": "19:00"},
        "optional": ["bp"],
        # The day table as bot/services/provider/provider_views.day_table builds it from the
        # questionnaire's columns (two of them here).
        "columns": [
            {"label": "mood", "width": 4, "left": False},
            {"label": "safe", "width": None, "left": False},
        ],
        "notes": ["mood: 0-10."],
        "days": [
            {"date": "12-13", "status": None, "cells": None},
            {"date": "12-12", "status": "completed", "cells": ["7", "YES!"]},
            {"date": "12-11", "status": "missed", "cells": None},
        ],
    },
}
# Fields of records (an alert event, a digest row) that templates look up in their own
# tables: the sample must be one of the table's keys.
FIELDS: dict[str, Any] = {
    "tier": "URGENT",
    "band": "moderate",
    "phq9_band": "moderate",
    "gad7_band": "mild",
    "status": "active",
}


class Sample:
    """A stand-in value that shows its own name: usable as text, number, list or record."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __str__(self) -> str:
        return f"«{self._name}»"

    __repr__ = __str__

    def __html__(self) -> str:
        return html.escape(str(self))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return FIELDS.get(attr, Sample(f"{self._name}.{attr}"))

    def __getitem__(self, key: object) -> Sample:
        return Sample(f"{self._name}[{key}]")

    def __iter__(self) -> Iterator[Sample]:
        # Three: enough for a loop to show its separators and for ``a, b, c in rows``.
        return iter(Sample(f"{self._name}[{i}]") for i in range(3))

    def __len__(self) -> int:
        return 3

    def __bool__(self) -> bool:
        return True

    def __int__(self) -> int:
        return 2

    def __float__(self) -> float:
        return 2.0

    def __index__(self) -> int:
        return 2

    def __round__(self, digits: int | None = None) -> Sample:
        return self

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return False

    def __ge__(self, other: object) -> bool:
        return True

    def __add__(self, other: object) -> Sample:
        return self

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __add__
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __add__

    def __call__(self, *args: object, **kwargs: object) -> Sample:
        del args, kwargs
        return self

    def __format__(self, spec: str) -> str:
        return str(self)


def variables(file: str, locale: str, root: Path = TEMPLATES) -> set[str]:
    """The variables ``<locale>/<file>`` uses, those of the templates it includes too (the
    English template when the locale lacks one)."""
    path = root / locale / file
    if not path.exists():
        path = root / DEFAULT_LOCALE / file
    ast = Environment(autoescape=True).parse(path.read_text("utf-8"))
    found = set(meta.find_undeclared_variables(ast))
    for included in meta.find_referenced_templates(ast):
        if included is not None and "/" in included:
            found |= variables(included.split("/", 1)[-1], locale, root)
    # The shared pieces (``_macros.j2``) only take what their callers pass.
    return found


def render_all(
    renderer: Renderer, root: Path = TEMPLATES
) -> dict[str, dict[str, tuple[bool, str]]]:
    """Every template in every locale: name -> locale -> (rendered?, text or error).
    ``root``: the renderer's template folder."""
    names = sorted(set().union(*(renderer.template_names(loc) for loc in renderer.locales)))
    shown: dict[str, dict[str, tuple[bool, str]]] = {}
    for name in names:
        shown[name] = {}
        for locale in renderer.locales:
            names_used = variables(f"{name}.j2", locale, root)
            values = {v: SAMPLES.get(v, Sample(v)) for v in names_used}
            values.update(TEMPLATE_SAMPLES.get(name, {}))
            try:
                shown[name][locale] = (True, renderer.render(name, locale, **values))
            except Exception as exc:  # noqa: BLE001 - shown on the page, never raised
                shown[name][locale] = (False, f"{type(exc).__name__}: {exc}")
    return shown


def preview_page(renderer: Renderer, root: Path = TEMPLATES) -> str:
    """The preview as a whole HTML page (a table: a row per template, a column per locale)."""
    shown = render_all(renderer, root)
    locales = renderer.locales
    failed = sum(not ok for per in shown.values() for ok, _ in per.values())
    head = "".join(f'<th scope="col">{html.escape(loc)}</th>' for loc in locales)
    rows = []
    for name, per in shown.items():
        cells = []
        for locale in locales:
            ok, text = per[locale]
            css = "rendered" if ok else "failed"
            body = html.escape(text) if ok else f"Could not render: {html.escape(text)}"
            cells.append(f'<td class="{css}" lang="{locale}"><pre>{body}</pre></td>')
        rows.append(f'<tr id="t-{name}"><th scope="row">{name}</th>{"".join(cells)}</tr>')
    summary = f"{len(shown)} templates in {len(locales)} locales"
    summary += f"; {failed} could not be rendered." if failed else "; all rendered."
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>moodcheck templates</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="preview"><header><h1>Templates</h1>
<p><a href="/">Back to the sandbox</a>. Sample values stand in for the real ones; a name in
«angle quotes» is a value the preview made up. Markup is shown as the bot sends it (Telegram
HTML).</p><p role="status" id="summary">{summary}</p></header>
<main><table><thead><tr><th scope="col">template</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></main></body></html>
"""
