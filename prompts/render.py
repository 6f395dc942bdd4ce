"""The renderer: every word the bot sends comes from a reviewed template in ``prompts/``.

Templates are Jinja2 with autoescape (messages use Telegram's HTML parse mode, so values are
escaped) and StrictUndefined (a missing variable is an error, not an empty string). A template
missing in a locale falls back to English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_LOCALE = "en"


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

    @property
    def locales(self) -> list[str]:
        """Return the locales that have templates."""
        return sorted(p.name for p in self._root.iterdir() if p.is_dir())

    def render(self, name: str, locale: str, **values: Any) -> str:
        """Render ``<locale>/<name>.j2``, or the English one when the locale lacks it."""
        try:
            template = self._env.get_template(f"{locale}/{name}.j2")
        except TemplateNotFound:
            template = self._env.get_template(f"{DEFAULT_LOCALE}/{name}.j2")
        return template.render(**values).strip()

    def template_names(self, locale: str) -> set[str]:
        """Return the template names a locale provides."""
        folder = self._root / locale
        return {p.name.removesuffix(".j2") for p in folder.glob("*.j2")}

    def check(self) -> None:
        """Compile every template so a syntax error stops the start, not a 3 a.m. message."""
        for path in self._root.rglob("*.j2"):
            self._env.get_template(path.relative_to(self._root).as_posix())
