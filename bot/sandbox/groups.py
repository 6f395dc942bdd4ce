"""What can happen to a group the bot is in: Telegram moves it to a supergroup, an admin
removes the bot, restricts it, or adds it back.

Each change answers later calls as Telegram does and queues the update Telegram sends:

* **migrate**: the old id answers every call with 400 "group chat was upgraded to a
  supergroup chat" and ``parameters.migrate_to_chat_id``; the new supergroup (same title,
  same members, no bot messages) works; both get a service message
  (``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in the new one).
* **remove** (kicked, or left): 403 "bot was kicked from the group chat" / "bot is not a
  member of the group chat" on every call, ``getChatMember`` of the bot says so, and a
  ``my_chat_member`` update (unless ``notify=False``: Telegram does not always send one).
* **restrict**: sends answer 400 "not enough rights to send text messages to the chat";
  ``getChatMember`` says ``restricted`` with ``can_send_messages`` false.
* **re-add**: back to ``member``, with a ``my_chat_member`` update.

People in a group have a status too (``creator``, ``administrator``, ``member``,
``restricted``, ``left``, ``kicked``; ``set_member_status``): ``getChatMember`` answers it as the
matching ``ChatMember`` subtype (every field the Bot API requires), and
``getChatAdministrators`` lists the creator and administrators. A registered user the group
does not know is ``left``, as Telegram answers for someone not in the chat.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.state import ChatState, SandboxState

__all__ = [
    "KICKED",
    "MEMBER_STATUSES",
    "MIGRATED",
    "NOT_MEMBER",
    "NO_RIGHTS",
    "access_error",
    "administrators_json",
    "bot_member_json",
    "member_json",
    "migrate",
    "set_bot_status",
    "set_member_status",
]

MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
KICKED = "Forbidden: bot was kicked from the group chat"
NOT_MEMBER = "Forbidden: bot is not a member of the group chat"
NO_RIGHTS = "Bad Request: not enough rights to send text messages to the chat"
_ADMIN = {"id": 999_000_001, "is_bot": False, "first_name": "Group admin"}
"""Who the updates say made a change, when the test names nobody."""


AccessError = tuple[int, str, dict[str, Any] | None]


def access_error(chat: ChatState, *, writable: bool) -> AccessError | None:
    """The error Telegram answers for this group now (status, description, parameters)."""
    if chat.migrated_to is not None:
        return 400, MIGRATED, {"migrate_to_chat_id": chat.migrated_to}
    if chat.bot_status == "kicked":
        return 403, KICKED, None
    if chat.bot_status == "left":
        return 403, NOT_MEMBER, None
    if writable and chat.bot_status == "restricted":
        return 400, NO_RIGHTS, None
    return None


MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_ADMIN_RIGHTS = (
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
"""ChatMemberAdministrator's required rights (a sandbox administrator manages the chat and
invites users, and nothing else)."""


def member_json(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A Bot API ``ChatMember`` of a status (creator, administrator, member, restricted,
    left, kicked), with every field its subtype requires."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        rights = dict.fromkeys(_ADMIN_RIGHTS, False)
        rights.update(can_manage_chat=True, can_invite_users=True)
        return {"status": "administrator", "user": user, "is_anonymous": False, **rights}
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status == "restricted":
        rights = dict.fromkeys(
            (
                "can_send_messages",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_send_polls",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_react_to_messages",
                "can_edit_tag",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_manage_topics",
            ),
            False,
        )
        return {"status": "restricted", "user": user, "is_member": True, **rights, "until_date": 0}
    return {"status": status, "user": user}


def set_member_status(chat: ChatState, user_id: int, status: str) -> None:
    """Give a person a status in a group (promoted, demoted, left ...)."""
    if chat.type == "private":
        raise ValueError("members have statuses only in groups")
    if status not in MEMBER_STATUSES:
        raise ValueError(f"unknown member status {status!r}")
    chat.members[user_id] = status


def administrators_json(state: SandboxState, chat: ChatState) -> list[dict[str, Any]]:
    """``getChatAdministrators``: the creator and administrators (people only: the bot is
    never an administrator in the sandbox)."""
    return [
        member_json(state.users[user_id], status)
        for user_id, status in chat.members.items()
        if status in {"creator", "administrator"} and user_id in state.users
    ]


def bot_member_json(state: SandboxState, chat: ChatState) -> dict[str, Any]:
    """The bot's own ``ChatMember`` in a chat."""
    return member_json(state.bot_user, chat.bot_status)


def set_bot_status(
    state: SandboxState,
    chat: ChatState,
    status: str,
    *,
    by: dict[str, Any] | None = None,
    notify: bool = True,
) -> int | None:
    """Change the bot's membership of a group; return the ``my_chat_member`` update id."""
    if chat.type == "private":
        raise ValueError("the bot's membership changes only in groups")
    if status not in {"member", "left", "kicked", "restricted"}:
        raise ValueError(f"unknown membership status {status!r}")
    old = chat.bot_status
    chat.bot_status = status
    if not notify or old == status:
        return None
    return state.enqueue(
        {
            "my_chat_member": {
                "chat": chat.chat_json,
                "from": by or _ADMIN,
                "date": state.now_unix(),
                "old_chat_member": member_json(state.bot_user, old),
                "new_chat_member": member_json(state.bot_user, status),
            }
        }
    )


def migrate(
    state: SandboxState,
    chat: ChatState,
    new_chat_id: int | None = None,
    *,
    by: dict[str, Any] | None = None,
    notify: bool = True,
) -> ChatState:
    """Turn a group into a supergroup with a new id; return the supergroup's chat.

    ``notify=False``: no service messages (the bot then learns of it from ChatMigrated).
    """
    if chat.type != "group" or chat.migrated_to is not None:
        raise ValueError(f"chat {chat.chat_id} is not a group that can be migrated")
    new_id = new_chat_id if new_chat_id is not None else int(f"-100{abs(chat.chat_id)}")
    if new_id in state.chats:
        raise ValueError(f"chat {new_id} exists already")
    supergroup = state.register_group(new_id, chat.name, "supergroup")
    supergroup.bot_status = chat.bot_status
    chat.migrated_to = new_id
    sender = by or _ADMIN
    if not notify:
        return supergroup
    for where, field, other in (
        (chat, "migrate_to_chat_id", new_id),
        (supergroup, "migrate_from_chat_id", chat.chat_id),
    ):
        message_id = where.take_message_id()
        state.enqueue(
            {
                "message": {
                    "message_id": message_id,
                    "from": sender,
                    "chat": where.chat_json,
                    "date": state.now_unix(),
                    field: other,
                }
            }
        )
    return supergroup
