"""What can happen to a group (``bot.sandbox.groups``): migration to a supergroup, the bot
removed, restricted, added back; through the Bot API, the simulated group and the control
endpoint. PTB must read the answers as Telegram's (ChatMigrated, Forbidden, ChatMember)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden

from bot.sandbox.builtin_spec import resolve_spec
from bot.sandbox.server import FakeBotApi
from tests.sandbox.support import Api

GROUP = -100500


async def test_a_migrated_group_answers_chat_migrated_and_says_so(
    api: Api, server: FakeBotApi
) -> None:
    group = server.group(GROUP, title="Clinic A providers")
    await api.ok("sendMessage", chat_id=GROUP, text="before")
    supergroup = group.migrate()
    assert supergroup.chat_id == -100100500 and supergroup.title == "Clinic A providers"
    status, body = await api.call("sendMessage", chat_id=GROUP, text="after")
    assert status == 400
    assert body["parameters"] == {"migrate_to_chat_id": supergroup.chat_id}
    assert "upgraded to a supergroup" in body["description"]
    await api.ok("sendMessage", chat_id=supergroup.chat_id, text="after")
    chat = await api.ok("getChat", chat_id=supergroup.chat_id)
    assert chat["type"] == "supergroup"
    updates = await api.ok("getUpdates")
    assert [(u["message"]["chat"]["id"], u["message"].get("migrate_to_chat_id"),
             u["message"].get("migrate_from_chat_id")) for u in updates] == [
        (GROUP, supergroup.chat_id, None),
        (supergroup.chat_id, None, GROUP),
    ]  # fmt: skip
    async with Bot(server.token, base_url=server.base_url) as bot:
        with pytest.raises(ChatMigrated) as raised:
            await bot.get_chat(GROUP)
        assert raised.value.new_chat_id == supergroup.chat_id
        parsed = [Update.de_json(u, bot) for u in updates]
        message = parsed[0].effective_message
        assert message is not None and message.migrate_to_chat_id == supergroup.chat_id
    with pytest.raises(ValueError, match="not a group that can be migrated"):
        group.migrate()


async def test_a_migration_can_be_silent(api: Api, server: FakeBotApi) -> None:
    supergroup = server.group(GROUP).migrate(-100777, notify=False)
    assert supergroup.chat_id == -100777
    assert await api.ok("getUpdates") == []


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        (lambda g: g.remove_bot(), 403, "bot was kicked from the group chat"),
        (lambda g: g.remove_bot(kicked=False), 403, "bot is not a member of the group chat"),
        (lambda g: g.restrict_bot(), 400, "not enough rights to send text messages"),
    ],
    ids=["kicked", "left", "restricted"],
)
async def test_the_bot_removed_or_restricted(
    api: Api, server: FakeBotApi, change: Any, status: int, error: str
) -> None:
    group = server.group(GROUP)
    update_id = change(group)
    assert isinstance(update_id, int)
    assert error in await api.error("sendMessage", status, chat_id=GROUP, text="x")
    [update] = await api.ok("getUpdates")
    changed = update["my_chat_member"]
    assert changed["chat"]["id"] == GROUP
    assert changed["old_chat_member"]["status"] == "member"
    assert changed["new_chat_member"]["status"] == group.bot_status
    assert changed["new_chat_member"]["user"]["id"] == server.bot_user["id"]
    async with Bot(server.token, base_url=server.base_url) as bot:
        parsed = Update.de_json(update, bot)
        assert parsed is not None and parsed.my_chat_member is not None
        if status == 403:
            with pytest.raises(Forbidden):
                await bot.get_chat_member(GROUP, bot.id)
        else:
            member = await bot.get_chat_member(GROUP, bot.id)
            assert isinstance(member, ChatMemberRestricted)
            assert member.can_send_messages is False
            with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
                await bot.send_message(GROUP, "x")
        # Added back: posting works, and a my_chat_member update says so.
        assert group.add_bot_back() is not None
        member = await bot.get_chat_member(GROUP, bot.id)
        assert isinstance(member, ChatMemberMember)
        await bot.send_message(GROUP, "back")
    assert group.add_bot_back() is None  # no change, no update


async def test_get_chat_member_of_users_and_kicked_json(api: Api, server: FakeBotApi) -> None:
    group = server.group(GROUP)
    group.member(42, first_name="Nurse")
    member = await api.ok("getChatMember", chat_id=GROUP, user_id=42)
    assert member == {"status": "member", "user": server.state.users[42]}
    assert "PARTICIPANT_ID_INVALID" in await api.error(
        "getChatMember", 400, chat_id=GROUP, user_id=43
    )
    group.remove_bot(notify=False)
    assert await api.ok("getUpdates") == []
    async with Bot(server.token, base_url=server.base_url) as bot:
        group.add_bot_back(notify=False)
        group.remove_bot()
        [update] = await bot.get_updates()
        assert update.my_chat_member is not None
        assert isinstance(update.my_chat_member.new_chat_member, ChatMemberBanned)


async def test_groups_control_endpoint(api: Api, server: FakeBotApi) -> None:
    session = api.session

    async def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with session.post(f"{server.url}/sandbox/groups", json=body) as response:
            result: dict[str, Any] = await response.json()
            return response.status, result

    assert await post({"action": "create", "chat_id": GROUP, "title": "T"}) == (
        200,
        {"ok": True, "chat_id": GROUP},
    )
    status, body = await post({"action": "remove_bot", "chat_id": GROUP})
    assert status == 200 and isinstance(body["update_id"], int)
    assert (await post({"action": "add_bot_back", "chat_id": GROUP, "notify": False}))[0] == 200
    status, body = await post({"action": "migrate", "chat_id": GROUP, "new_chat_id": -100600})
    assert (status, body) == (200, {"ok": True, "chat_id": -100600})
    assert (await post({"action": "migrate", "chat_id": GROUP}))[0] == 400  # already moved
    assert (await post({"action": "restrict_bot", "chat_id": -100999}))[0] == 400  # unknown
    assert (await post({"action": "explode", "chat_id": -100600}))[0] == 400
    assert (await post({"action": "create", "chat_id": 5}))[0] == 400
    assert (await post({"action": "remove_bot", "chat_id": -100600, "bogus": 1}))[0] == 400


SPEC_NEEDED = pytest.mark.skipif(
    resolve_spec().object_type("ChatMemberAdministrator") is None,
    reason="the built-in spec has no ChatMember types; set MOODCHECK_BOT_API_SPEC",
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("creator", ChatMemberOwner),
        ("administrator", ChatMemberAdministrator),
        ("member", ChatMemberMember),
        ("restricted", ChatMemberRestricted),
        ("left", ChatMemberLeft),
        ("kicked", ChatMemberBanned),
    ],
)
async def test_member_statuses_answer_as_telegram(
    api: Api, server: FakeBotApi, status: str, kind: type
) -> None:
    group = server.group(GROUP)
    group.member(42, first_name="Ada", status=status)
    answer = await api.ok("getChatMember", chat_id=GROUP, user_id=42)
    assert answer["status"] == status and answer["user"]["id"] == 42
    async with Bot(server.token, base_url=server.base_url) as bot:
        member = await bot.get_chat_member(GROUP, 42)
        assert isinstance(member, kind) and member.status == status


@SPEC_NEEDED
@pytest.mark.parametrize(
    "status", ["creator", "administrator", "member", "restricted", "left", "kicked"]
)
async def test_member_answers_conform_to_the_spec(
    api: Api, server: FakeBotApi, status: str
) -> None:
    server.group(GROUP).member(42, status=status)
    answer = await api.ok("getChatMember", chat_id=GROUP, user_id=42)
    assert server.spec.check_object(answer, "ChatMember") == []
    assert server.spec.check_object({"status": status}, "ChatMember") != []  # it can fail


async def test_statuses_change_and_administrators_are_listed(api: Api, server: FakeBotApi) -> None:
    group = server.group(GROUP)
    group.member(41, first_name="Olga", status="creator")
    group.member(42, first_name="Ada", status="administrator")
    group.member(43, first_name="Pat")
    server.user(44, first_name="Sam")  # known to the bot, not in the group
    assert (await api.ok("getChatMember", chat_id=GROUP, user_id=44))["status"] == "left"
    assert (await api.ok("getChatMember", chat_id=GROUP, user_id=43))["status"] == "member"
    group.member(43)  # getting a member again keeps their status
    group.set_status(42, "member")
    assert (await api.ok("getChatMember", chat_id=GROUP, user_id=42))["status"] == "member"
    admins = await api.ok("getChatAdministrators", chat_id=GROUP)
    assert [(a["user"]["id"], a["status"]) for a in admins] == [(41, "creator")]
    assert "no administrators" in await api.error("getChatAdministrators", 400, chat_id=44)
    with pytest.raises(ValueError, match="unknown member status"):
        group.set_status(43, "boss")
    session = api.session
    async with session.post(
        f"{server.url}/sandbox/groups",
        json={"action": "member", "chat_id": GROUP, "user_id": 45, "status": "administrator"},
    ) as response:
        assert (response.status, await response.json()) == (
            200,
            {"ok": True, "status": "administrator"},
        )
    admins = await api.ok("getChatAdministrators", chat_id=GROUP)
    assert {a["user"]["id"] for a in admins} == {41, 45}
