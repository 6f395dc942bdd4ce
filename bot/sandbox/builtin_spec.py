"""Built-in validation table, used when no spec file is configured.

CI sets ``MOODCHECK_BOT_API_SPEC`` to a JSON description of the whole Bot API (a file kept
outside the repository; ``.ci/run`` looks for it) so requests are checked against all of it.
Without it the sandbox still checks the methods it implements, with their full parameter
lists copied from Bot API 10.1 and the object types that matter for this bot (keyboards,
commands, entities); other object types are accepted unchecked. The content rules (text
lengths, HTML, callback_data size) are the same in both modes.

Field notation: ``name:Type|Type``; a leading ``!`` marks a required field; ``[]`` stands
for "Array of "; ``=value`` after a type records the discriminator value of a union member.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from bot.sandbox.spec import SPEC_ENV_VAR, ApiSpec, load_spec

__all__ = ["BUILTIN_VERSION", "builtin_spec", "resolve_spec"]

BUILTIN_VERSION = "Bot API 10.1 (built-in subset)"

_METHODS: dict[str, str] = {
    "getMe": "",
    "getUpdates": "offset:Integer limit:Integer timeout:Integer allowed_updates:[]String",
    "setWebhook": (
        "!url:String certificate:InputFile ip_address:String max_connections:Integer "
        "allowed_updates:[]String drop_pending_updates:Boolean secret_token:String "
    ),
    "deleteWebhook": "drop_pending_updates:Boolean",
    "getWebhookInfo": "",
    "sendMessage": (
        "business_connection_id:String !chat_id:Integer|String message_thread_id:Integer "
        "direct_messages_topic_id:Integer !text:String parse_mode:String "
        "entities:[]MessageEntity link_preview_options:LinkPreviewOptions "
        "disable_notification:Boolean protect_content:Boolean "
        "allow_paid_broadcast:Boolean message_effect_id:String "
        "suggested_post_parameters:SuggestedPostParameters "
        "reply_parameters:ReplyParameters "
        "reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply "
    ),
    "editMessageText": (
        "business_connection_id:String chat_id:Integer|String message_id:Integer "
        "inline_message_id:String text:String parse_mode:String entities:[]MessageEntity "
        "link_preview_options:LinkPreviewOptions rich_message:InputRichMessage "
        "reply_markup:InlineKeyboardMarkup "
    ),
    "editMessageReplyMarkup": (
        "business_connection_id:String chat_id:Integer|String message_id:Integer "
        "inline_message_id:String reply_markup:InlineKeyboardMarkup "
    ),
    "answerCallbackQuery": (
        "!callback_query_id:String text:String show_alert:Boolean url:String cache_time:Integer "
    ),
    "sendPhoto": (
        "business_connection_id:String !chat_id:Integer|String message_thread_id:Integer "
        "direct_messages_topic_id:Integer !photo:InputFile|String caption:String "
        "parse_mode:String caption_entities:[]MessageEntity "
        "show_caption_above_media:Boolean has_spoiler:Boolean "
        "disable_notification:Boolean protect_content:Boolean "
        "allow_paid_broadcast:Boolean message_effect_id:String "
        "suggested_post_parameters:SuggestedPostParameters "
        "reply_parameters:ReplyParameters "
        "reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply "
    ),
    "sendDocument": (
        "business_connection_id:String !chat_id:Integer|String message_thread_id:Integer "
        "direct_messages_topic_id:Integer !document:InputFile|String "
        "thumbnail:InputFile|String caption:String parse_mode:String "
        "caption_entities:[]MessageEntity disable_content_type_detection:Boolean "
        "disable_notification:Boolean protect_content:Boolean "
        "allow_paid_broadcast:Boolean message_effect_id:String "
        "suggested_post_parameters:SuggestedPostParameters "
        "reply_parameters:ReplyParameters "
        "reply_markup:InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply "
    ),
    "setMyCommands": "!commands:[]BotCommand scope:BotCommandScope language_code:String",
    "getMyCommands": "scope:BotCommandScope language_code:String",
    "deleteMyCommands": "scope:BotCommandScope language_code:String",
    "deleteMessage": "!chat_id:Integer|String !message_id:Integer",
    "sendChatAction": (
        "business_connection_id:String !chat_id:Integer|String message_thread_id:Integer "
        "!action:String "
    ),
    "getChat": "!chat_id:Integer|String",
    "getChatMember": "!chat_id:Integer|String !user_id:Integer",
    "getChatAdministrators": "!chat_id:Integer|String return_bots:Boolean",
    "close": "",
    "logOut": "",
}

_TYPES: dict[str, str] = {
    "InlineKeyboardMarkup": "!inline_keyboard:[][]InlineKeyboardButton",
    "InlineKeyboardButton": (
        "!text:String icon_custom_emoji_id:String style:String url:String "
        "callback_data:String web_app:WebAppInfo login_url:LoginUrl "
        "switch_inline_query:String switch_inline_query_current_chat:String "
        "switch_inline_query_chosen_chat:SwitchInlineQueryChosenChat "
        "copy_text:CopyTextButton callback_game:CallbackGame pay:Boolean "
    ),
    "ReplyKeyboardMarkup": (
        "!keyboard:[][]KeyboardButton is_persistent:Boolean resize_keyboard:Boolean "
        "one_time_keyboard:Boolean input_field_placeholder:String selective:Boolean "
    ),
    "KeyboardButton": (
        "!text:String icon_custom_emoji_id:String style:String "
        "request_users:KeyboardButtonRequestUsers request_chat:KeyboardButtonRequestChat "
        "request_managed_bot:KeyboardButtonRequestManagedBot request_contact:Boolean "
        "request_location:Boolean request_poll:KeyboardButtonPollType web_app:WebAppInfo "
    ),
    "ReplyKeyboardRemove": "!remove_keyboard:Boolean selective:Boolean",
    "ForceReply": "!force_reply:Boolean input_field_placeholder:String selective:Boolean",
    "BotCommand": "!command:String !description:String",
    "BotCommandScopeDefault": "!type:String=default",
    "BotCommandScopeAllPrivateChats": "!type:String=all_private_chats",
    "BotCommandScopeAllGroupChats": "!type:String=all_group_chats",
    "BotCommandScopeAllChatAdministrators": "!type:String=all_chat_administrators",
    "BotCommandScopeChat": "!type:String=chat !chat_id:Integer|String",
    "BotCommandScopeChatAdministrators": (
        "!type:String=chat_administrators !chat_id:Integer|String "
    ),
    "BotCommandScopeChatMember": (
        "!type:String=chat_member !chat_id:Integer|String !user_id:Integer "
    ),
    "MessageEntity": (
        "!type:String !offset:Integer !length:Integer url:String user:User "
        "language:String custom_emoji_id:String unix_time:Integer date_time_format:String "
    ),
    "User": (
        "!id:Integer !is_bot:Boolean !first_name:String last_name:String username:String "
        "language_code:String is_premium:Boolean added_to_attachment_menu:Boolean "
        "can_join_groups:Boolean can_read_all_group_messages:Boolean "
        "supports_guest_queries:Boolean supports_inline_queries:Boolean "
        "can_connect_to_business:Boolean has_main_web_app:Boolean "
        "has_topics_enabled:Boolean allows_users_to_create_topics:Boolean "
        "can_manage_bots:Boolean supports_join_request_queries:Boolean "
    ),
    "LinkPreviewOptions": (
        "is_disabled:Boolean url:String prefer_small_media:Boolean "
        "prefer_large_media:Boolean show_above_text:Boolean "
    ),
    "ReplyParameters": (
        "!message_id:Integer chat_id:Integer|String allow_sending_without_reply:Boolean "
        "quote:String quote_parse_mode:String quote_entities:[]MessageEntity "
        "quote_position:Integer checklist_task_id:Integer poll_option_id:String "
    ),
    "WebAppInfo": "!url:String",
    "LoginUrl": (
        "!url:String forward_text:String bot_username:String request_write_access:Boolean "
    ),
    "CopyTextButton": "!text:String",
    "SwitchInlineQueryChosenChat": (
        "query:String allow_user_chats:Boolean allow_bot_chats:Boolean "
        "allow_group_chats:Boolean allow_channel_chats:Boolean "
    ),
    "CallbackGame": "",
    "KeyboardButtonPollType": "type:String",
}

_UNIONS: dict[str, tuple[str, ...]] = {
    "BotCommandScope": (
        "BotCommandScopeDefault",
        "BotCommandScopeAllPrivateChats",
        "BotCommandScopeAllGroupChats",
        "BotCommandScopeAllChatAdministrators",
        "BotCommandScopeChat",
        "BotCommandScopeChatAdministrators",
        "BotCommandScopeChatMember",
    ),
}


def _fields(notation: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for token in notation.split():
        name, _, types = token.partition(":")
        types, _, tag = types.partition("=")
        fields.append(
            {
                "name": name.lstrip("!"),
                "types": [t.replace("[]", "Array of ") for t in types.split("|")],
                "required": name.startswith("!"),
                "description": f"must be {tag}" if tag else "",
            }
        )
    return fields


@functools.cache
def builtin_spec() -> ApiSpec:
    """Return the compiled built-in table (built once per process)."""
    types: dict[str, Any] = {name: {"fields": _fields(spec)} for name, spec in _TYPES.items()}
    types.update({name: {"subtypes": list(subs)} for name, subs in _UNIONS.items()})
    data = {
        "version": BUILTIN_VERSION,
        "methods": {name: {"fields": _fields(spec)} for name, spec in _METHODS.items()},
        "types": types,
    }
    return ApiSpec(data, "built-in")


def resolve_spec(spec_path: str | os.PathLike[str] | None = None) -> ApiSpec:
    """Pick the spec: ``spec_path``, else ``$MOODCHECK_BOT_API_SPEC``, else the built-in table.

    Raises:
        FileNotFoundError: If a configured spec file does not exist.
    """
    if spec_path is None:
        spec_path = os.environ.get(SPEC_ENV_VAR) or None
    if spec_path is not None:
        return load_spec(spec_path)
    return builtin_spec()
