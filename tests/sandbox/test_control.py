"""Control endpoints and the standalone process (``python -m bot.sandbox``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from bot.sandbox.server import FakeBotApi
from tests.sandbox.support import REPO, Api


async def test_control_endpoints(api: Api, server: FakeBotApi) -> None:
    session = api.session
    async with session.post(f"{server.url}/sandbox/users", json={"user_ids": [11, 12]}) as r:
        assert (await r.json()) == {"ok": True, "registered": 2}
    async with session.post(f"{server.url}/sandbox/users", json={"user_ids": ["x"]}) as r:
        assert r.status == 400
    await api.ok(
        "sendMessage",
        chat_id=11,
        text="Q",
        reply_markup={"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]},
    )
    async with session.post(f"{server.url}/sandbox/send", json={"user_id": 11, "text": "hi"}) as r:
        assert (await r.json())["ok"] is True
    async with session.post(
        f"{server.url}/sandbox/send", json={"user_id": 11, "press": "Yes"}
    ) as r:
        assert (await r.json())["ok"] is True
    async with session.post(
        f"{server.url}/sandbox/send", json={"user_id": 11, "press": "No"}
    ) as r:
        assert r.status == 400
    assert len(await api.ok("getUpdates")) == 2

    async with session.get(f"{server.url}/sandbox/stats") as r:
        stats = await r.json()
    assert stats["accepted_messages"] == 1 and stats["by_method"]["getUpdates"] == 1
    async with session.get(f"{server.url}/sandbox/transcript", params={"chat_id": "11"}) as r:
        assert "User11 taps [Yes]" in await r.text()

    fault = {"action": "fail_next", "method": "getMe", "status": 503}
    async with session.post(f"{server.url}/sandbox/faults", json=fault) as r:
        assert r.status == 200
    status, _ = await api.call("getMe")
    assert status == 503
    bad = {"action": "random", "kinds": ["meteor"]}
    async with session.post(f"{server.url}/sandbox/faults", json=bad) as r:
        assert r.status == 400
    async with session.post(f"{server.url}/sandbox/faults", json={"action": "explode"}) as r:
        assert r.status == 400

    await api.error("sendMessage", 400, chat_id=11)
    async with session.get(f"{server.url}/sandbox/violations") as r:
        assert [v["field"] for v in await r.json()] == ["text"]
    async with session.post(f"{server.url}/sandbox/reset") as r:
        assert r.status == 200
    assert server.stats()["accepted_messages"] == 0 and server.violations == []


async def test_a_user_edits_a_message_they_sent(api: Api, server: FakeBotApi) -> None:
    session = api.session
    send = f"{server.url}/sandbox/send"
    async with session.post(f"{server.url}/sandbox/users", json={"user_ids": [21]}) as r:
        assert r.status == 200
    async with session.post(send, json={"user_id": 21, "edit": "too soon"}) as r:
        assert r.status == 400  # nothing sent yet to edit
    async with session.post(send, json={"user_id": 21, "text": "first"}) as r:
        assert (await r.json())["ok"] is True
    (sent,) = await api.ok("getUpdates")
    message_id = sent["message"]["message_id"]
    async with session.post(send, json={"user_id": 21, "edit": "second"}) as r:
        assert (await r.json())["ok"] is True
    async with session.post(send, json={"user_id": 21, "edit": "x", "message_id": 999}) as r:
        assert r.status == 400  # not a message of theirs
    (edited,) = await api.ok("getUpdates", offset=sent["update_id"] + 1)
    assert edited["edited_message"]["message_id"] == message_id
    assert edited["edited_message"]["text"] == "second"
    assert "edit_date" in edited["edited_message"]
    # A bot that did not ask for edits does not get them (Telegram's default list has them).
    await api.ok("getUpdates", offset=edited["update_id"] + 1, allowed_updates=["message"])
    async with session.post(send, json={"user_id": 21, "edit": "third"}) as r:
        assert (await r.json())["ok"] is True
    assert await api.ok("getUpdates", offset=edited["update_id"] + 1) == []
    async with session.get(f"{server.url}/sandbox/transcript", params={"chat_id": "21"}) as r:
        assert f"User21 edits #{message_id} > second" in await r.text()


async def test_standalone_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox",
        "--port",
        "0",
        "--no-limits",
        "--auto-register-chats",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15.0)).decode().strip()
        assert line.startswith("SANDBOX_PORT="), line
        port = int(line.removeprefix("SANDBOX_PORT="))
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            url = f"{base}/bot123456:TEST-TOKEN/sendMessage"
            async with session.post(url, data={"chat_id": "77", "text": "hi"}) as r:
                assert r.status == 200
            async with session.get(f"{base}/sandbox/stats") as r:
                stats = await r.json()
        assert stats["accepted_messages"] == 1 and stats["per_chat"] == {"77": 1}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10.0) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
