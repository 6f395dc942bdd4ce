"""The renderer: every word the bot sends comes from a reviewed template in ``prompts/``.

Templates are Jinja2 with autoescape (messages use Telegram's HTML parse mode, so values are
escaped) and StrictUndefined (a missing variable is an error, not an empty string). A template
missing in a locale falls back to English. Pieces several templates share are macros in one
file, ``templates/_macros.j2`` (a name starting with "_" is not a message).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_LOCALE = "en"
MACROS = "_macros.j2"
"""The shared pieces; its ``words`` hold each locale's words for them."""
_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Values a render is kept for: immutable, and equal exactly when they render the same."""
RENDER_CACHE_SIZE = 4096
"""Renders kept (then the cache starts again): a few hundred cover every question, button
and notice in every locale; rarer ones (with names, dates) come and go."""


class Renderer:
    """Renders message templates by name and locale."""

    def __init__(self, root: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(root),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates are reviewed files that do not change while the bot runs: no stat()
            # of the file on every render.
            auto_reload=False,
        )
        self._root = root
        self._rendered: dict[tuple[Any, ...], str] = {}

    @property
    def locales(self) -> list[str]:
        """Return the locales that have templates."""
        return sorted(p.name for p in self._root.iterdir() if p.is_dir())

    def render(self, name: str, locale: str, **values: Any) -> str:
        """Render ``<locale>/<name>.j2``, or the English one when the locale lacks it."""
        # Templates are pure functions of their values (no globals, no clock), so a render of
        # plain values (``_PLAIN``) is kept: a tap's question and buttons are the same few
        # renders over and over (docs/performance.md, "Figures behind constants in the code").
        # The type is part of the key: 1, 1.0 and True are equal but do not render alike.
        key: tuple[Any, ...] | None = None
        if all(type(value) in _PLAIN for value in values.values()):
            key = (name, locale, *((k, type(v), v) for k, v in sorted(values.items())))
            cached = self._rendered.get(key)
            if cached is not None:
                return cached
        try:
            template = self._env.get_template(f"{locale}/{name}.j2")
        except TemplateNotFound:
            template = self._env.get_template(f"{DEFAULT_LOCALE}/{name}.j2")
        text = template.render(**values).strip()
        if key is not None:
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[key] = text
        return text

    def template_names(self, locale: str) -> set[str]:
        """Return the names of the messages a locale provides (not shared pieces, "_...")."""
        folder = self._root / locale
        return {p.name.removesuffix(".j2") for p in folder.glob("*.j2") if p.name[0] != "_"}

    def check(self) -> None:
        """Compile every template so a syntax error stops the start, not a 3 a.m. message;
        and refuse a locale the shared pieces have no words for."""
        for path in self._root.rglob("*.j2"):
            self._env.get_template(path.relative_to(self._root).as_posix())
        if (self._root / MACROS).exists():
            words = self._env.get_template(MACROS).module.words  # type: ignore[attr-defined]
            check_words(words, self.locales)


class TemplateWordsError(ValueError):
    """A locale without every word of the shared pieces."""


def check_words(words: dict[str, dict[str, Any]], locales: list[str]) -> None:
    """Every locale has each word English has (a map: each of its keys; a list: as long)."""
    english = words[DEFAULT_LOCALE]
    for locale in locales:
        have = words.get(locale)
        if have is None:
            raise TemplateWordsError(f"{TEMPLATES.name}/{MACROS}: no words for {locale!r}")
        for key, value in english.items():
            given = have.get(key)
            complete = (
                isinstance(given, dict) and set(given) >= set(value)
                if isinstance(value, dict)
                else isinstance(given, type(value))
                and (len(given) == len(value) if isinstance(value, list) else bool(given))
            )
            if not complete:
                raise TemplateWordsError(
                    f"{TEMPLATES.name}/{MACROS}: words[{locale!r}][{key!r}] is missing or "
                    "lacks entries English has"
                )
