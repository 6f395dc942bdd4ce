"""The repository is self-contained: no file cites a document kept outside it, and every
citation of a page in docs/ names a page and a section that exist (docs/architecture.md,
"Layers and contracts"; docs/clinical.md's numbered sections are what the code cites)."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[2]
SKIPPED_DIRS = frozenset(
    {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
TEXT_SUFFIXES = frozenset({".py", ".md", ".yaml", ".yml", ".j2", ".toml", ".cfg", ".ini", ".sh"})
TEXT_NAMES = frozenset({"Makefile", "run"})

# Spelled in pieces so that this file does not cite them itself.
OUTSIDE = re.compile(
    "|".join(
        (
            r"\b" + "REFERENCE" + r"\.md\b",
            r"\b" + "DESIGN" + r"\.md\b",
            r"\b" + "STYLE" + r"\.md\b",
            r"\.\./" + "shared",
            "/work/" + "shared",
        )
    )
)
ALLOWED_OUTSIDE = frozenset({".ci/run"})
"""CI looks for the Bot API's JSON description in the team's shared folder."""

PAGE = re.compile(r"\bdocs/([\w-]+\.md)\b")
SECTION = re.compile(r"\bdocs/clinical\.md`?\s+((?:§[\w.]+(?:,\s*|\s+and\s+)?)+)")
TITLE = re.compile(r"\bdocs/([\w-]+\.md)`?\)?,\s+(?:[\w ]{1,30},\s+)?\"([^\"]{3,90})\"")
PRINCIPLE = re.compile(r"\bdocs/architecture\.md`?,?\s+principles?\s+(\d+)(?:\s+and\s+(\d+))?")


@cache
def _files() -> tuple[Path, ...]:
    found = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in names:
            path = Path(folder) / name
            if path.suffix in TEXT_SUFFIXES or name in TEXT_NAMES:
                found.append(path)
    return tuple(sorted(found))


@cache
def _text(path: Path) -> str:
    """The file's text with line breaks and comment markers folded, so that a citation
    wrapped over two comment lines reads as one."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"\s*\n\s*(?:#|//|\*)?\s*", " ", text)


@cache
def _anchors(page: str) -> tuple[str, ...]:
    """A page's headings and bold lead-ins ("**Why no aiosqlite thread.**"), as cited."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    found = re.findall(r"^#+\s+(.+)$", text, flags=re.MULTILINE)
    found += re.findall(r"\*\*(.+?)\*\*", text)
    return tuple(_plain(anchor) for anchor in found)


def _plain(text: str) -> str:
    return re.sub(r"[`*]", "", text).strip().lower()


def test_no_file_cites_a_document_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(ROOT))
        for path in _files()
        if str(path.relative_to(ROOT)) not in ALLOWED_OUTSIDE
        and path != Path(__file__)
        and OUTSIDE.search(path.read_text(encoding="utf-8"))
    ]
    assert citing == []


def test_every_cited_page_of_docs_exists() -> None:
    missing = {
        f"{path.relative_to(ROOT)}: docs/{page}"
        for path in _files()
        for page in PAGE.findall(_text(path))
        if not (ROOT / "docs" / page).is_file()
    }
    assert sorted(missing) == []


def test_every_cited_clinical_section_exists() -> None:
    numbered = {a.split()[0] for a in _anchors("clinical.md") if a.startswith("§")}
    missing = set()
    for path in _files():
        for cited in SECTION.findall(_text(path)):
            for number in re.findall(r"§([\w.]*\w)", cited):
                if f"§{number}" not in numbered:
                    missing.add(f"{path.relative_to(ROOT)}: §{number}")
    assert sorted(missing) == []


def test_every_cited_section_title_exists() -> None:
    missing = set()
    for path in _files():
        for page, title in TITLE.findall(_text(path)):
            if not (ROOT / "docs" / page).is_file():
                continue  # reported by test_every_cited_page_of_docs_exists
            if not any(_plain(title) in anchor for anchor in _anchors(page)):
                missing.add(f'{path.relative_to(ROOT)}: docs/{page}, "{title}"')
    assert sorted(missing) == []


def test_every_cited_principle_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Principles", 1)[1].split("\n## ", 1)[0]
    count = len(re.findall(r"^\d+\. \*\*", section, flags=re.MULTILINE))
    missing = set()
    for path in _files():
        for numbers in PRINCIPLE.findall(_text(path)):
            for number in filter(None, numbers):
                if not 1 <= int(number) <= count:
                    missing.add(f"{path.relative_to(ROOT)}: principle {number}")
    assert sorted(missing) == []
