"""The renderer keeps renders of plain values; what it returns must not change for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.transport.aiohttp_backend import lighten_update
from prompts.render import RENDER_CACHE_SIZE, Renderer


def _renderer(tmp_path: Path) -> Renderer:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "show.j2").write_text("[{{ value }}]", encoding="utf-8")
    (tmp_path / "en" / "items.j2").write_text("{{ items | join(',') }}", encoding="utf-8")
    return Renderer(tmp_path)


def test_equal_values_of_other_types_render_as_themselves(tmp_path: Path) -> None:
    renderer = _renderer(tmp_path)
    # 1 == 1.0 == True: a cache keyed on values alone would answer the first for all three.
    assert renderer.render("show", "en", value=1) == "[1]"
    assert renderer.render("show", "en", value=True) == "[True]"
    assert renderer.render("show", "en", value=1.0) == "[1.0]"


def test_unhashable_or_mutable_values_are_rendered_each_time(tmp_path: Path) -> None:
    renderer = _renderer(tmp_path)
    items = ["a"]
    assert renderer.render("items", "en", items=items) == "a"
    items.append("b")
    assert renderer.render("items", "en", items=items) == "a,b"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Templates for the hypothesis test (it cannot take function-scoped fixtures)."""
    root = tmp_path_factory.mktemp("templates")
    (root / "en").mkdir()
    (root / "en" / "show.j2").write_text("[{{ value }}]", encoding="utf-8")
    return root


@given(st.lists(st.one_of(st.integers(), st.text(), st.booleans(), st.none()), max_size=50))
def test_a_kept_render_is_what_rendering_gives(templates: Path, values: list[object]) -> None:
    fresh, kept = Renderer(templates), _kept(templates)
    for value in values:
        assert kept.render("show", "en", value=value) == fresh.render("show", "en", value=value)


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    renderer = _renderer(tmp_path)
    for n in range(RENDER_CACHE_SIZE * 2 + 3):
        assert renderer.render("show", "en", value=n) == f"[{n}]"
    assert len(renderer._rendered) <= RENDER_CACHE_SIZE


def test_lighten_update_drops_only_the_tapped_message_keyboard() -> None:
    keyboard = {"inline_keyboard": [[{"text": "7", "callback_data": "a|1|mood|7"}]]}
    update = {
        "update_id": 1,
        "callback_query": {
            "id": "q",
            "data": "a|1|mood|7",
            "message": {"message_id": 5, "text": "1/7", "reply_markup": keyboard},
        },
    }
    lighten_update(update)
    assert update["callback_query"] == {
        "id": "q",
        "data": "a|1|mood|7",
        "message": {"message_id": 5, "text": "1/7"},
    }
    message = {"update_id": 2, "message": {"message_id": 6, "reply_markup": keyboard}}
    assert lighten_update(message)["message"]["reply_markup"] == keyboard
    assert lighten_update({"update_id": 3, "callback_query": {"id": "q"}}) == {
        "update_id": 3,
        "callback_query": {"id": "q"},
    }


_KEPT: dict[Path, Renderer] = {}


def _kept(templates: Path) -> Renderer:
    """One renderer for every example, so that its cache fills across them."""
    return _KEPT.setdefault(templates, Renderer(templates))
