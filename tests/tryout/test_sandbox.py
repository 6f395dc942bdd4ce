"""``moodcheck sandbox`` without a browser: its HTTP API, time travel, scenarios, the
template preview and the command itself, all against the production-built bot."""

from __future__ import annotations

import asyncio
import html
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from bot.tryout.launch import open_world
from bot.tryout.preview import preview_page, render_all
from bot.tryout.scenarios import enrol
from bot.tryout.travel import PAST
from bot.tryout.views import entities_html
from bot.tryout.web import make_app
from bot.tryout.world import World
from prompts.render import Renderer
from tests.support.harness import shared_renderer


@pytest.fixture(name="world")
async def fx_world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path / "sandbox.db") as world:
        yield world


@pytest.fixture(name="client")
async def fx_client(world: World) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(world))) as client:
        yield client


async def _post(client: TestClient[Any, Any], path: str, body: object) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    return response.status, await response.json()


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [html.unescape(m["html"]) for m in messages if m["from"] == "bot"]


async def test_time_travel_runs_the_scans_at_the_new_time(
    world: World, client: TestClient[Any, Any]
) -> None:
    status, answer = await _post(client, "/api/travel", {"jump": "next-checkin"})
    assert status == 400
    assert "No patient has a check-in scheduled" in answer["error"]
    phone = await enrol(world, "en")
    async with world.bot.services.runtime.uow() as uow:
        patient = await uow.patients.by_telegram_user(phone.chat_id)
        assert patient is not None and patient.next_prompt_at is not None
        due = patient.next_prompt_at
    before = len(phone.user.messages)
    status, answer = await _post(client, "/api/travel", {"jump": "next-checkin"})
    assert status == 200, answer
    assert world.clock.now() - (due + PAST) < timedelta(seconds=5)
    state = await (await client.get("/api/state")).json()
    prompt = state["phones"][0]["messages"][-1]
    assert len(phone.user.messages) == before + 1
    assert "Daily check-in" in prompt["html"] and prompt["buttons"][-1] != ["10"]
    # Dated at the bot's time, as Telegram dates what it receives.
    sent = datetime.fromisoformat(prompt["date"])
    assert abs(sent - world.clock.now()) < timedelta(seconds=5)
    assert sent > datetime.now(UTC) + timedelta(minutes=1) or due <= datetime.now(UTC)


async def test_bad_requests_get_a_clear_answer(world: World, client: TestClient[Any, Any]) -> None:
    response = await client.post("/api/travel", data="jump=day")
    assert response.status == 415
    status, answer = await _post(client, "/api/travel", {"jump": "tomorrow"})
    assert (status, answer["error"]) == (400, "unknown jump 'tomorrow'")
    status, answer = await _post(client, "/api/send", {"chat_id": 42, "text": "hi"})
    assert (status, answer["error"]) == (400, "no patient phone with chat 42")
    status, answer = await _post(client, "/api/send", {"chat_id": world.group.chat_id})
    assert (status, answer["error"]) == (400, "Type a message first.")
    status, answer = await _post(client, "/api/patients", {"locale": "fr"})
    assert status == 400 and "fr" in answer["error"]
    status, answer = await _post(client, "/api/scenario", {"name": "nope"})
    assert status == 400
    assert (await client.get("/api/file/1/2")).status == 404
    assert (await client.get("/static/../launch.py")).status == 404
    # Another site cannot reach the page through a name that resolves to this machine.
    assert (await client.get("/", headers={"Host": "evil.example:80"})).status == 403
    assert (await client.get("/")).status == 200
    assert world.status == "unknown scenario 'nope'"


async def test_a_good_week_raises_no_alert(world: World, client: TestClient[Any, Any]) -> None:
    status, answer = await _post(client, "/api/scenario", {"name": "good-week"})
    assert status == 200, answer
    good = world.phones[-1]
    done = [m for m in good.user.messages if "Thank you" in m.text]
    assert len(done) == 7
    group_texts = _texts((await (await client.get("/api/state")).json())["group"]["messages"])
    assert not any(good.label in t and "URGENT" in t for t in group_texts)


async def test_three_missed_days_alert_the_team(
    world: World, client: TestClient[Any, Any]
) -> None:
    status, answer = await _post(client, "/api/scenario", {"name": "missed-days"})
    assert status == 200, answer
    missed = world.phones[-1].label
    group_texts = _texts((await (await client.get("/api/state")).json())["group"]["messages"])
    assert any(missed in t and "Missed check-ins in a row" in t for t in group_texts)


async def test_phq9_item9_alerts_the_team(world: World, client: TestClient[Any, Any]) -> None:
    status, answer = await _post(client, "/api/scenario", {"name": "phq9-item9"})
    assert status == 200, answer
    item9 = world.phones[-1].label
    group_texts = _texts((await (await client.get("/api/state")).json())["group"]["messages"])
    assert any(item9 in t and "PHQ-9 item 9 = 1" in t for t in group_texts)


async def test_the_template_preview_shows_every_template(client: TestClient[Any, Any]) -> None:
    response = await client.get("/templates")
    assert response.status == 200
    page = await response.text()
    renderer = shared_renderer()
    names = set().union(*(renderer.template_names(loc) for loc in renderer.locales))
    assert len(names) > 100
    for name in names:
        assert f'id="t-{name}"' in page
    assert "all rendered." in page
    shown = render_all(renderer)
    assert {loc for per in shown.values() for loc in per} == {"en", "es"}
    assert [n for n, per in shown.items() for ok, _ in per.values() if not ok] == []


def test_a_template_that_fails_shows_its_error(tmp_path: Path) -> None:
    for locale in ("en", "es"):
        (tmp_path / locale).mkdir()
        (tmp_path / locale / "fine.j2").write_text("Hello {{ label }}")
    (tmp_path / "en" / "broken.j2").write_text("{{ 1 // 0 }}")
    page = preview_page(Renderer(tmp_path), tmp_path)
    assert "Hello P-7Q3K" in page
    assert "Could not render: ZeroDivisionError" in page
    assert "2 could not be rendered" in page  # en, and es (which falls back to en)


def test_the_digest_keeps_its_line_after_open_alerts() -> None:
    """Found in the preview: "ROUTINE)" ran into "Median time to acknowledge"."""
    shown = render_all(shared_renderer())
    for locale in ("en", "es"):
        text = shown["digest_group"][locale][1]
        assert "ROUTINE)\n<b>" in text, text


_ENTITY_TYPES = ["bold", "italic", "code", "pre", "text_link", "underline", "blockquote"]


@st.composite
def _marked_text(draw: st.DrawFn) -> tuple[str, tuple[dict[str, object], ...]]:
    """Text and well-nested entities (as Telegram derives from markup), UTF-16 offsets."""
    text = draw(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
    # Entities start and end between characters (never inside a surrogate pair).
    bounds = [0]
    for char in text:
        bounds.append(bounds[-1] + len(char.encode("utf-16-le")) // 2)
    entities: list[dict[str, object]] = []
    first = 0
    for _ in range(draw(st.integers(0, 3))):
        if first >= len(bounds) - 1:
            break
        start = draw(st.integers(first, len(bounds) - 1))
        end = draw(st.integers(start, len(bounds) - 1))
        kind = draw(st.sampled_from(_ENTITY_TYPES))
        entities.append(
            {"type": kind, "offset": bounds[start], "length": bounds[end] - bounds[start]}
        )
        first = end
    return text, tuple(entities)


@given(_marked_text())
def test_bot_text_is_shown_escaped_with_only_known_tags(
    marked: tuple[str, tuple[dict[str, object], ...]],
) -> None:
    text, entities = marked
    out = entities_html(text, entities)
    tags = ["<b>", "</b>", "<i>", "</i>", "<u>", "</u>", "<code>", "</code>", "<pre>"]
    tags += ["</pre>", "<blockquote>", "</blockquote>", '<span class="link">', "</span>"]
    stripped = out
    for tag in tags:
        stripped = stripped.replace(tag, "")
    assert "<" not in stripped and ">" not in stripped
    assert html.unescape(stripped) == text


async def test_the_command_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    moodcheck = Path(sys.executable).with_name("moodcheck")
    env = {**os.environ, "MOODCHECK_CONFIG": str(tmp_path / "absent.toml")}
    bad = await asyncio.create_subprocess_exec(
        moodcheck, "sandbox", "--port", "70000", stderr=asyncio.subprocess.PIPE, env=env
    )
    _, err = await bad.communicate()
    assert bad.returncode == 2 and b"--port" in err
    process = await asyncio.create_subprocess_exec(
        moodcheck,
        "sandbox",
        "--port",
        "0",
        "--db",
        str(tmp_path / "kept.db"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert "http://127.0.0.1:" in line and "Nothing reaches Telegram" in line
        url = line.split("open ", 1)[1].split(" ", 1)[0]
        reader, writer = await asyncio.open_connection("127.0.0.1", int(url.split(":")[2][:-1]))
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200") and b"moodcheck sandbox" in answer
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert (tmp_path / "kept.db").exists()
