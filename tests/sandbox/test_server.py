"""The fake Bot API over real HTTP: methods, updates, errors, validation and limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from typing import Any

import aiohttp
import pytest

from bot.sandbox.server import FakeBotApi
from bot.sandbox.spec import SPEC_ENV_VAR
from bot.sandbox.users import ButtonNotFoundError
from tests.sandbox.support import SKIP_NO_SPEC, Api, FakeClock, keyboard, real_spec_path

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


async def test_get_me(api: Api, server: FakeBotApi) -> None:
    me = await api.ok("getMe")
    assert me["is_bot"] is True
    assert me["username"] == "moodcheck_test_bot"
    assert me["id"] == 123456
    assert server.requests[-1].method == "getMe"
    assert server.requests[-1].status == 200


async def test_wrong_token_is_unauthorized(api: Api) -> None:
    status, body = await api.call("getMe", token="999:WRONG")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_not_found_and_a_violation(api: Api, server: FakeBotApi) -> None:
    description = await api.error("sendTelepathy", 404, chat_id=1)
    assert description == "Not Found: method not found"
    assert [(v.method, v.problem) for v in server.violations] == [
        ("sendTelepathy", "unknown Bot API method")
    ]


async def test_method_names_are_case_insensitive_and_get_works(
    api: Api, server: FakeBotApi
) -> None:
    assert (await api.ok("GETME"))["is_bot"] is True
    server.user(1001, first_name="Alice")
    async with api.session.get(
        api.url("sendMessage"), params={"chat_id": "1001", "text": "hi"}
    ) as r:
        assert r.status == 200
    assert server.requests[-1].method == "sendMessage"


async def test_json_bodies_are_accepted(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    payload = {"chat_id": 1001, "text": "hi", "reply_markup": keyboard([("A", "a")])}
    async with api.session.post(api.url("sendMessage"), json=payload) as response:
        body = await response.json()
    assert body["ok"] is True
    assert alice.last_message is not None and alice.last_message.buttons == [[("A", "a")]]


async def test_send_edit_press_round_trip(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice", language_code="en")
    markup = keyboard([("Agree", "consent|yes"), ("Decline", "consent|no")])
    sent = await api.ok(
        "sendMessage",
        chat_id=1001,
        text="<b>Welcome</b> &amp; hello",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert sent["text"] == "Welcome & hello"
    assert sent["chat"] == {"id": 1001, "type": "private", "first_name": "Alice"}
    assert sent["from"]["is_bot"] is True
    assert isinstance(sent["date"], int)
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert sent["reply_markup"] == markup

    message = alice.last_message
    assert message is not None
    assert (message.text, message.html, message.kind) == (
        "Welcome & hello",
        "<b>Welcome</b> &amp; hello",
        "text",
    )
    assert message.buttons == [[("Agree", "consent|yes"), ("Decline", "consent|no")]]

    update_id = await alice.press("Agree")
    updates = await api.ok("getUpdates", offset=0, timeout=0)
    assert [u["update_id"] for u in updates] == [update_id]
    query = updates[0]["callback_query"]
    assert query["data"] == "consent|yes"
    assert query["from"]["id"] == 1001
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["message"]["reply_markup"] == markup
    assert query["chat_instance"]

    assert await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="Saved")
    assert [(a.text, a.show_alert, a.data) for a in alice.callback_answers] == [
        ("Saved", False, "consent|yes")
    ]
    # A query can only be answered once.
    description = await api.error("answerCallbackQuery", 400, callback_query_id=query["id"])
    assert "query is too old" in description

    # No reply_markup in the edit: Telegram removes the inline keyboard.
    edited = await api.ok(
        "editMessageText", chat_id=1001, message_id=sent["message_id"], text="Thanks!"
    )
    assert "reply_markup" not in edited and edited["edit_date"] >= sent["date"]
    assert message.text == "Thanks!" and message.edits == ["Welcome & hello"]
    assert message.reply_markup is None and message.buttons == []
    assert server.violations == []


async def test_edit_errors(api: Api, server: FakeBotApi) -> None:
    server.user(1001, first_name="Alice")
    markup = keyboard([("A", "a")])
    sent = await api.ok("sendMessage", chat_id=1001, text="Same", reply_markup=markup)
    mid = sent["message_id"]
    description = await api.error(
        "editMessageText", 400, chat_id=1001, message_id=mid, text="Same", reply_markup=markup
    )
    assert description == NOT_MODIFIED
    description = await api.error(
        "editMessageReplyMarkup", 400, chat_id=1001, message_id=mid, reply_markup=markup
    )
    assert description == NOT_MODIFIED
    # Same text but the keyboard goes away: that is a modification.
    await api.ok("editMessageText", chat_id=1001, message_id=mid, text="Same")
    description = await api.error("editMessageText", 400, chat_id=1001, message_id=999, text="x")
    assert description == "Bad Request: message to edit not found"
    # Semantic errors are answers, not violations.
    assert server.violations == []


async def test_edit_reply_markup_only(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    sent = await api.ok("sendMessage", chat_id=1001, text="Q", reply_markup=keyboard([("A", "a")]))
    await api.ok(
        "editMessageReplyMarkup",
        chat_id=1001,
        message_id=sent["message_id"],
        reply_markup=keyboard([("B", "b")]),
    )
    assert alice.last_message is not None and alice.last_message.labels == ["B"]
    await api.ok("editMessageReplyMarkup", chat_id=1001, message_id=sent["message_id"])
    assert alice.last_message.reply_markup is None
    assert alice.last_message.edits == []  # the text never changed


async def test_unknown_chat(api: Api, server: FakeBotApi) -> None:
    description = await api.error("sendMessage", 400, chat_id=424242, text="hi")
    assert description == "Bad Request: chat not found"
    description = await api.error("sendMessage", 400, chat_id="@nobody", text="hi")
    assert description == "Bad Request: chat not found"
    assert server.violations == []


async def test_auto_registered_chats(clock: FakeClock) -> None:
    async with FakeBotApi(auto_register_chats=True, clock=clock) as server:
        async with aiohttp.ClientSession() as session:
            api = Api(session, server)
            await api.ok("sendMessage", chat_id=5_000_001, text="hi")
            assert await api.error("sendMessage", 400, chat_id=-5, text="hi")
        assert server.state.chats[5_000_001].messages[1].text == "hi"


async def test_blocked_user_gets_403(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    alice.block_bot()
    description = await api.error("sendMessage", 403, chat_id=1001, text="hi")
    assert description == "Forbidden: bot was blocked by the user"
    assert await api.error("sendChatAction", 403, chat_id=1001, action="typing")
    alice.unblock_bot()
    await api.ok("sendMessage", chat_id=1001, text="hi again")
    assert [m.text for m in alice.messages] == ["hi again"]
    assert [r.status for r in server.requests if r.method == "sendMessage"] == [403, 200]


async def test_long_poll_returns_when_a_user_sends(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    poll = asyncio.create_task(api.ok("getUpdates", timeout=20))
    await server.wait_for(lambda: server.waiting_polls == 1)
    assert not poll.done()
    loop = asyncio.get_running_loop()
    started = loop.time()
    update_id = await alice.send_text("hello")
    updates = await asyncio.wait_for(poll, 2.0)
    assert loop.time() - started < 1.0
    assert [u["update_id"] for u in updates] == [update_id]
    assert updates[0]["message"]["text"] == "hello"
    assert "entities" not in updates[0]["message"]


async def test_stop_releases_long_polls(server: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, server)
        poll = asyncio.create_task(api.ok("getUpdates", timeout=30))
        await server.wait_for(lambda: server.waiting_polls == 1)
        await asyncio.wait_for(server.stop(), 2.0)
        assert await asyncio.wait_for(poll, 2.0) == []


async def test_offset_confirms_updates(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    first = await alice.send_text("one")
    second = await alice.send_text("two")
    assert server.undelivered_update_count() == 2
    updates = await api.ok("getUpdates")
    assert [u["update_id"] for u in updates] == [first, second]
    assert server.undelivered_update_count() == 0
    assert server.unconfirmed_update_count() == 2
    # Not confirmed yet: the same updates come again.
    assert [u["update_id"] for u in await api.ok("getUpdates")] == [first, second]
    assert [u["update_id"] for u in await api.ok("getUpdates", offset=second)] == [second]
    assert await api.ok("getUpdates", offset=second + 1) == []
    assert server.unconfirmed_update_count() == 0
    # The update stays retrievable for replay tests.
    assert server.update_body(first)["message"]["text"] == "one"


async def test_get_updates_limit_and_allowed_updates(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    await api.ok("sendMessage", chat_id=1001, text="Q", reply_markup=keyboard([("A", "a")]))
    await alice.send_text("queued before the filter")
    assert await api.ok("getUpdates", allowed_updates=["callback_query"], limit=1)
    # As in Telegram the filter applies to updates created from now on.
    await alice.send_text("filtered out")
    await alice.press("A")
    kinds = [next(k for k in u if k != "update_id") for u in await api.ok("getUpdates")]
    assert kinds == ["message", "callback_query"]
    assert server.stats()["updates_filtered"] == 1
    await api.ok("getUpdates", allowed_updates=[])  # back to the default
    await alice.send_text("wanted again")
    assert len(await api.ok("getUpdates", limit=1)) == 1
    assert len(await api.ok("getUpdates")) == 3


async def test_commands_get_a_bot_command_entity(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    group = server.group(-100500, title="Clinic A providers")
    nora = group.member(2001, first_name="Nora")
    await alice.send_text("/start abc")
    await nora.send_text("/invite@moodcheck_test_bot P-1234")
    await alice.send_text("not /a command")
    first, second, third = (u["message"] for u in await api.ok("getUpdates"))
    assert first["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert first["chat"]["type"] == "private" and first["from"]["first_name"] == "Alice"
    assert second["entities"] == [{"type": "bot_command", "offset": 0, "length": 26}]
    assert second["chat"] == {"id": -100500, "type": "group", "title": "Clinic A providers"}
    assert second["from"]["id"] == 2001
    assert "entities" not in third


async def test_group_members_press_buttons(api: Api, server: FakeBotApi) -> None:
    group = server.group(-100500, title="Clinic A providers")
    nora = group.member(2001, first_name="Nora")
    omar = group.member(2002, first_name="Omar")
    sent = await api.ok(
        "sendMessage",
        chat_id=-100500,
        text="Alert",
        reply_markup=keyboard([("Acknowledge", "ack|1")]),
    )
    await nora.press("Acknowledge", message_id=sent["message_id"])
    (update,) = await api.ok("getUpdates")
    query = update["callback_query"]
    assert query["from"]["id"] == 2001
    assert query["message"]["chat"]["id"] == -100500
    await api.ok(
        "answerCallbackQuery", callback_query_id=query["id"], text="Noted", show_alert=True
    )
    assert [a.text for a in nora.callback_answers] == ["Noted"]
    assert omar.callback_answers == []
    assert group.callback_answers[0].show_alert is True
    assert group.last_message is not None and group.last_message.text == "Alert"


async def test_press_errors_are_clear(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    with pytest.raises(ButtonNotFoundError, match="no message with an inline keyboard"):
        await alice.press("Agree")
    await api.ok("sendMessage", chat_id=1001, text="Q", reply_markup=keyboard([("Yes", "y")]))
    with pytest.raises(ButtonNotFoundError, match=r"no button \[Agree\].*\[Yes\]"):
        await alice.press("Agree")
    with pytest.raises(ButtonNotFoundError, match="no bot message #77"):
        await alice.press("Yes", message_id=77)
    link = {"inline_keyboard": [[{"text": "Site", "url": "https://example.org"}]]}
    await api.ok("sendMessage", chat_id=1001, text="Link", reply_markup=link)
    with pytest.raises(ButtonNotFoundError, match="no callback_data"):
        await alice.press("Site")


async def test_press_uses_the_newest_message_with_that_button(
    api: Api, server: FakeBotApi
) -> None:
    alice = server.user(1001, first_name="Alice")
    old = await api.ok(
        "sendMessage", chat_id=1001, text="Q1", reply_markup=keyboard([("Go", "1")])
    )
    new = await api.ok(
        "sendMessage", chat_id=1001, text="Q2", reply_markup=keyboard([("Go", "2")])
    )
    await api.ok("sendMessage", chat_id=1001, text="no keyboard")
    await alice.press("Go")
    await alice.press("Go", message_id=old["message_id"])
    first, second = (u["callback_query"] for u in await api.ok("getUpdates"))
    assert (first["data"], first["message"]["message_id"]) == ("2", new["message_id"])
    assert (second["data"], second["message"]["message_id"]) == ("1", old["message_id"])


async def test_forged_press_on_a_missing_message(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    await alice.press_data(404, "forged|data")
    (update,) = await api.ok("getUpdates")
    query = update["callback_query"]
    assert query["data"] == "forged|data"
    assert query["message"] == {"chat": alice.chat.chat_json, "message_id": 404, "date": 0}
    assert [c.data for c in server.unanswered_callbacks()] == ["forged|data"]


async def test_documents_and_photos(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    data = aiohttp.FormData()
    data.add_field("chat_id", "1001")
    data.add_field("caption", "<i>Weekly</i> digest", content_type="text/plain")
    data.add_field("parse_mode", "HTML")
    data.add_field("document", b"date,mood\n2026-01-12,6\n", filename="digest.csv")
    async with api.session.post(api.url("sendDocument"), data=data) as response:
        body = await response.json()
    assert body["ok"] is True, body
    result = body["result"]
    assert result["caption"] == "Weekly digest"
    assert result["document"]["file_name"] == "digest.csv"
    message = alice.last_message
    assert message is not None and message.kind == "document"
    assert (message.document, message.filename) == (b"date,mood\n2026-01-12,6\n", "digest.csv")
    photo = await api.ok("sendPhoto", chat_id=1001, photo="https://example.org/chart.png")
    assert photo["photo"][0]["file_id"] == "https://example.org/chart.png"
    assert "caption" not in photo
    description = await api.error(
        "editMessageText", 400, chat_id=1001, message_id=photo["message_id"], text="x"
    )
    assert "no text in the message" in description
    assert server.violations == []


async def test_delete_message(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    sent = await api.ok("sendMessage", chat_id=1001, text="bye")
    assert await api.ok("deleteMessage", chat_id=1001, message_id=sent["message_id"]) is True
    assert alice.messages[0].deleted and alice.last_message is None
    description = await api.error(
        "deleteMessage", 400, chat_id=1001, message_id=sent["message_id"]
    )
    assert description == "Bad Request: message to delete not found"
    await alice.send_text("my secret")
    (update,) = await api.ok("getUpdates")
    user_message = update["message"]["message_id"]
    assert await api.ok("deleteMessage", chat_id=1001, message_id=user_message) is True


async def test_commands_chat_and_webhook_methods(api: Api, server: FakeBotApi) -> None:
    server.user(1001, first_name="Alice")
    commands = [{"command": "checkin", "description": "Today's check-in"}]
    scope = {"type": "all_private_chats"}
    assert await api.ok("setMyCommands", commands=commands, scope=scope) is True
    assert await api.ok("getMyCommands", scope=scope) == commands
    assert await api.ok("getMyCommands") == []
    assert await api.ok("deleteMyCommands", scope=scope) is True
    assert await api.ok("getMyCommands", scope=scope) == []

    chat = await api.ok("getChat", chat_id=1001)
    assert chat["id"] == 1001 and chat["type"] == "private" and "accent_color_id" in chat
    assert await api.ok("sendChatAction", chat_id=1001, action="typing") is True

    assert await api.ok("setWebhook", url="https://example.org/hook") is True
    info = await api.ok("getWebhookInfo")
    assert info["url"] == "https://example.org/hook"
    assert "webhook is active" in await api.error("getUpdates", 409)
    await server.user(1001).send_text("pending")
    assert await api.ok("deleteWebhook", drop_pending_updates=True) is True
    assert (await api.ok("getWebhookInfo"))["pending_update_count"] == 0
    assert await api.ok("getUpdates") == []
    assert await api.ok("close") is True
    assert await api.ok("logOut") is True


@pytest.mark.parametrize(
    ("method", "params", "field", "fragment"),
    [
        ("sendMessage", {"chat_id": 1001}, "text", 'field "text" is required'),
        (
            "sendMessage",
            {"chat_id": 1001, "text": "x", "colour": "red"},
            "colour",
            "unknown field",
        ),
        (
            "sendMessage",
            {"chat_id": 1001, "text": "x", "disable_notification": "maybe"},
            "disable_notification",
            "expected Boolean",
        ),
        ("sendMessage", {"chat_id": 1001, "text": "x" * 4097}, "text", "message is too long"),
        ("sendMessage", {"chat_id": 1001, "text": ""}, "text", "message text is empty"),
        (
            "sendMessage",
            {"chat_id": 1001, "text": "x", "reply_markup": keyboard([("A", "d" * 65)])},
            "reply_markup.inline_keyboard[0][0].callback_data",
            "BUTTON_DATA_INVALID",
        ),
        (
            "sendMessage",
            {"chat_id": 1001, "text": "<b>x</i>", "parse_mode": "HTML"},
            "text",
            "can't parse entities",
        ),
        (
            "editMessageText",
            {"chat_id": 1001, "message_id": "one", "text": "x"},
            "message_id",
            "expected Integer",
        ),
        ("answerCallbackQuery", {"callback_query_id": "q", "text": "x" * 201}, "text", "too long"),
    ],
)
async def test_invalid_requests_are_400_and_violations(
    api: Api,
    server: FakeBotApi,
    *,
    method: str,
    params: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    alice = server.user(1001, first_name="Alice")
    description = await api.error(method, 400, **params)
    assert description.startswith("Bad Request: ") and fragment in description
    assert len(server.violations) == 1
    violation = server.violations[0]
    assert (violation.method, violation.field) == (method, field)
    assert fragment in violation.problem
    assert alice.messages == []
    assert server.requests[-1].status == 400


async def test_the_31st_message_in_a_second_is_rate_limited(
    api: Api, server: FakeBotApi, clock: FakeClock
) -> None:
    server.register_users(range(1, 40))
    for chat_id in range(1, 31):
        await api.ok("sendMessage", chat_id=chat_id, text="hi")
    status, body = await api.call("sendMessage", chat_id=31, text="hi")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert server.state.chats[31].messages == {}  # rejected: not delivered
    clock.advance(1.0)
    await api.ok("sendMessage", chat_id=31, text="hi")
    stats = server.stats()
    assert stats["accepted_messages"] == 31 and stats["rate_limited"] == 1
    assert server.violations == []


async def test_private_chat_limit_over_http(
    api: Api, server: FakeBotApi, clock: FakeClock
) -> None:
    server.user(1001, first_name="Alice")
    for n in range(3):
        await api.ok("sendMessage", chat_id=1001, text=f"m{n}")
    assert await api.error("sendMessage", 429, chat_id=1001, text="m3")
    # Methods that do not produce messages are not limited.
    assert await api.ok("sendChatAction", chat_id=1001, action="typing") is True
    clock.advance(1.0)
    await api.ok("sendMessage", chat_id=1001, text="m3")


async def test_limits_can_be_switched_off(clock: FakeClock) -> None:
    from bot.sandbox.limits import Limits

    async with FakeBotApi(limits=Limits(enabled=False), clock=clock) as server:
        server.user(1001, first_name="Alice")
        async with aiohttp.ClientSession() as session:
            api = Api(session, server)
            for n in range(10):
                await api.ok("sendMessage", chat_id=1001, text=f"m{n}")


async def test_stats_and_duplicates(api: Api, server: FakeBotApi, clock: FakeClock) -> None:
    server.user(1001, first_name="Alice")
    server.user(1002, first_name="Bob")
    await api.ok("sendMessage", chat_id=1001, text="Question 1/4")
    clock.advance(0.5)
    await api.ok("sendMessage", chat_id=1002, text="Question 1/4")
    sent = await api.ok("sendMessage", chat_id=1001, text="Question 1/4")
    await api.error("sendMessage", 400, chat_id=9, text="x")
    await api.ok("editMessageText", chat_id=1001, message_id=sent["message_id"], text="Done")
    stats = server.stats()
    assert stats["by_method"] == {"sendMessage": 4, "editMessageText": 1}
    assert stats["by_status"] == {"200": 4, "400": 1}
    assert stats["accepted_messages"] == 4  # sends and edits, as the flood limits count
    assert stats["sent_messages"] == 3
    assert stats["per_chat"] == {"1001": 2, "1002": 1}
    assert stats["duplicate_texts_per_chat"] == {"1001": {"Question 1/4": 2}}
    assert stats["message_span_seconds"] == pytest.approx(0.5)
    assert json.loads(json.dumps(stats)) == stats


async def test_transcript(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    group = server.group(-100500, title="Clinic A providers")
    nora = group.member(2001, first_name="Nora")
    await alice.send_text("/start abc")
    sent = await api.ok(
        "sendMessage",
        chat_id=1001,
        text="Welcome\n\nDo you agree?",
        reply_markup=keyboard([("Agree", "y"), ("Decline", "n")], [("Later", "l")]),
    )
    await alice.press("Agree")
    (_, update) = await api.ok("getUpdates")
    await api.ok("answerCallbackQuery", callback_query_id=update["callback_query"]["id"])
    await api.ok("editMessageText", chat_id=1001, message_id=sent["message_id"], text="Enrolled")
    await api.ok("sendMessage", chat_id=-100500, text="New patient")
    await nora.send_text("/invite P-1234")

    assert server.render_transcript([1001]) == "\n".join(
        [
            "Alice > /start abc",
            "bot > Welcome",
            "",
            "    Do you agree?",
            "    [Agree] [Decline] / [Later]",
            "Alice taps [Agree]",
            "bot answers Alice (no text)",
            f"bot edits #{sent['message_id']} > Enrolled",
        ]
    )
    everything = server.render_transcript()
    assert "bot -> Alice > Welcome" in everything
    assert "bot -> Clinic A providers > New patient" in everything
    assert everything.endswith("Nora @ Clinic A providers > /invite P-1234")
    events = server.transcript(1001)
    assert [e.kind for e in events] == [
        "user_message",
        "bot_message",
        "button_press",
        "callback_answer",
        "bot_edit",
    ]
    assert all(a.time <= b.time for a, b in itertools.pairwise(events))
    assert "[   0.000s]" in server.render_transcript([1001], with_times=True)


async def test_wait_for(server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    waiter = asyncio.create_task(server.wait_for(lambda: server.undelivered_update_count() == 1))
    await asyncio.sleep(0)
    assert not waiter.done()
    await alice.send_text("hi")
    assert await asyncio.wait_for(waiter, 1.0) is True
    with pytest.raises(TimeoutError, match=r"not met within 0\.05 s"):
        await server.wait_for(lambda: False, timeout=0.05)


async def test_reset(api: Api, server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")
    await api.ok("sendMessage", chat_id=1001, text="hi")
    await api.error("sendMessage", 400, chat_id=1001)
    server.reset()
    assert alice.messages == [] and server.violations == [] and server.requests == []
    assert server.stats()["accepted_messages"] == 0
    await api.ok("sendMessage", chat_id=1001, text="again")  # users survive a reset


@pytest.mark.parametrize("mode", ["built-in", "spec-file"])
async def test_both_spec_modes_over_http(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, mode: str
) -> None:
    path = real_spec_path()  # before the variable goes: it may be what names the file
    monkeypatch.delenv(SPEC_ENV_VAR, raising=False)
    if mode == "spec-file" and path is None:
        pytest.skip(SKIP_NO_SPEC)
    spec_path = path if mode == "spec-file" else None
    async with FakeBotApi(spec_path=spec_path, clock=clock) as server:
        if spec_path is None:
            assert server.spec.source == "built-in"
        else:  # the loader caches by resolved path; CI may reach it through a symlink
            assert os.path.realpath(server.spec.source) == os.path.realpath(spec_path)  # noqa: ASYNC240
        server.user(1001, first_name="Alice")
        async with aiohttp.ClientSession() as session:
            api = Api(session, server)
            await api.ok(
                "sendMessage", chat_id=1001, text="hi", reply_markup=keyboard([("A", "a")])
            )
            await api.error("sendMessage", 400, chat_id=1001, text="hi", colour="red")
            # A real Bot API method the sandbox does not implement is reported, not ignored.
            await api.error("sendDice", 404, chat_id=1001)
        assert [(v.method, v.field) for v in server.violations] == [
            ("sendMessage", "colour"),
            ("sendDice", ""),
        ]


async def test_transcript_of_group_edits_deletes_and_forgeries(
    api: Api, server: FakeBotApi
) -> None:
    group = server.group(-100500, title="Clinic A providers")
    nora = group.member(2001, first_name="Nora")
    sent = await api.ok(
        "sendMessage", chat_id=-100500, text="Alert", reply_markup=keyboard([("Ack", "a")])
    )
    mid = sent["message_id"]
    await nora.press("Ack")
    await nora.press_data(mid, "a|forged")
    await api.ok("editMessageReplyMarkup", chat_id=-100500, message_id=mid)
    await api.ok("deleteMessage", chat_id=-100500, message_id=mid)
    assert server.render_transcript([-100500]).splitlines() == [
        "bot -> Clinic A providers > Alert [Ack]",
        "Nora taps [Ack] in Clinic A providers",
        f"Nora in Clinic A providers sends callback data 'a|forged' on #{mid}",
        f"bot edits keyboard of #{mid} in Clinic A providers > (no keyboard)",
        f"bot deletes #{mid} in Clinic A providers",
    ]
