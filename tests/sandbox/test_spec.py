"""Request validation, in both modes: the real spec file and the built-in table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.builtin_spec import builtin_spec, resolve_spec
from bot.sandbox.spec import SPEC_ENV_VAR, ApiSpec, UploadedFile, load_spec
from tests.sandbox.support import SKIP_NO_SPEC, keyboard, real_spec_path


@pytest.fixture(name="spec", params=["built-in", "spec-file"])
def fx_spec(request: pytest.FixtureRequest) -> Iterator[ApiSpec]:
    if request.param == "built-in":
        yield builtin_spec()
        return
    path = real_spec_path()
    if path is None:
        pytest.skip(SKIP_NO_SPEC)
    yield load_spec(path)


def check(spec: ApiSpec, method: str, **params: Any) -> list[tuple[str, str]]:
    """Validate PTB-style form params; return (field, message) pairs."""
    found = spec.method(method)
    assert found is not None, method
    raw = {k: v if isinstance(v, str | UploadedFile) else json.dumps(v) for k, v in params.items()}
    return [(p.field, p.message) for p in spec.validate(found, raw).problems]


def test_valid_request_is_decoded(spec: ApiSpec) -> None:
    method = spec.method("sendMessage")
    assert method is not None
    result = spec.validate(
        method,
        {
            "chat_id": "1001",
            "text": "<b>Hi</b> &amp; welcome",
            "parse_mode": "HTML",
            "disable_notification": "true",
            "reply_markup": json.dumps(keyboard([("Agree", "c|1|y")])),
        },
    )
    assert result.problems == []
    assert result.params["chat_id"] == 1001
    assert result.params["disable_notification"] is True
    assert result.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "Agree"
    assert result.parsed["text"].text == "Hi & welcome"


def test_method_names_are_case_insensitive(spec: ApiSpec) -> None:
    found = spec.method("SENDMESSAGE")
    assert found is not None and found.name == "sendMessage"
    assert spec.method("sendMessages") is None


def test_chat_id_may_be_a_username(spec: ApiSpec) -> None:
    assert check(spec, "sendMessage", chat_id="@clinic", text="hi") == []


def test_missing_required_field(spec: ApiSpec) -> None:
    assert check(spec, "sendMessage", chat_id=1) == [("text", 'field "text" is required (String)')]


def test_unknown_field(spec: ApiSpec) -> None:
    problems = check(spec, "sendMessage", chat_id=1, text="hi", colour="red")
    assert problems == [("colour", 'unknown field "colour" for sendMessage')]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"chat_id": "abc", "text": "x", "message_thread_id": "1.5"}, "message_thread_id"),
        ({"chat_id": "1", "text": "x", "disable_notification": "yes"}, "disable_notification"),
        ({"chat_id": "1", "text": "x", "reply_markup": "{not json"}, "reply_markup"),
        ({"chat_id": "1", "text": "x", "reply_markup": "[1, 2]"}, "reply_markup"),
    ],
)
def test_wrong_types(spec: ApiSpec, params: dict[str, str], field: str) -> None:
    problems = check(spec, "sendMessage", **params)
    assert [f for f, _ in problems] == [field]
    assert "expected" in problems[0][1]


def test_nested_objects_are_checked(spec: ApiSpec) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a", "colour": "red"}]]}
    problems = check(spec, "sendMessage", chat_id=1, text="x", reply_markup=markup)
    assert [f for f, _ in problems] == ["reply_markup.inline_keyboard[0][0].colour"]
    not_rows = {"inline_keyboard": [{"text": "A", "callback_data": "a"}]}
    problems = check(spec, "sendMessage", chat_id=1, text="x", reply_markup=not_rows)
    assert problems and problems[0][0].startswith("reply_markup.inline_keyboard[0]")


def test_reply_markup_union_accepts_each_member(spec: ApiSpec) -> None:
    for markup in (
        keyboard([("A", "a")]),
        {"keyboard": [[{"text": "Yes"}]], "resize_keyboard": True},
        {"remove_keyboard": True},
        {"force_reply": True},
    ):
        assert check(spec, "sendMessage", chat_id=1, text="x", reply_markup=markup) == []


def test_text_length_limits(spec: ApiSpec) -> None:
    assert check(spec, "sendMessage", chat_id=1, text="x" * 4096) == []
    too_long = check(spec, "sendMessage", chat_id=1, text="x" * 4097)
    assert too_long[0][0] == "text" and "message is too long" in too_long[0][1]
    assert "4097" in too_long[0][1]
    # Limits apply after entity parsing: markup does not count.
    assert (
        check(spec, "sendMessage", chat_id=1, text=f"<b>{'x' * 4096}</b>", parse_mode="HTML") == []
    )
    assert check(spec, "sendMessage", chat_id=1, text="") == [("text", "message text is empty")]
    assert check(spec, "sendMessage", chat_id=1, text="<b> </b>", parse_mode="HTML") == [
        ("text", "message text is empty")
    ]


def test_caption_limit(spec: ApiSpec) -> None:
    assert check(spec, "sendPhoto", chat_id=1, photo="file-id", caption="x" * 1024) == []
    problems = check(spec, "sendPhoto", chat_id=1, photo="file-id", caption="x" * 1025)
    assert problems[0][0] == "caption" and "too long" in problems[0][1]


def test_callback_data_is_1_to_64_bytes(spec: ApiSpec) -> None:
    ok = keyboard([("A", "é" * 32)])  # 64 bytes
    assert check(spec, "sendMessage", chat_id=1, text="x", reply_markup=ok) == []
    for data in ("x" * 65, "é" * 33, ""):
        problems = check(
            spec, "sendMessage", chat_id=1, text="x", reply_markup=keyboard([("A", data)])
        )
        assert [f for f, _ in problems] == ["reply_markup.inline_keyboard[0][0].callback_data"]
        assert "BUTTON_DATA_INVALID" in problems[0][1]


def test_inline_button_needs_exactly_one_action(spec: ApiSpec) -> None:
    markup = {"inline_keyboard": [[{"text": "A"}]]}
    problems = check(spec, "sendMessage", chat_id=1, text="x", reply_markup=markup)
    assert problems[0][0] == "reply_markup.inline_keyboard[0][0]"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a", "url": "https://x.org"}]]}
    assert check(spec, "sendMessage", chat_id=1, text="x", reply_markup=markup)


def test_bad_html_and_parse_mode(spec: ApiSpec) -> None:
    problems = check(spec, "sendMessage", chat_id=1, text="<b>x", parse_mode="HTML")
    assert problems[0][0] == "text" and problems[0][1].startswith("can't parse entities")
    problems = check(spec, "sendMessage", chat_id=1, text="x", parse_mode="html5")
    assert problems[0][0] == "parse_mode"
    # Without parse_mode, markup-looking text is just text.
    assert check(spec, "sendMessage", chat_id=1, text="<b>x & y") == []


def test_answer_callback_query_text_limit(spec: ApiSpec) -> None:
    assert check(spec, "answerCallbackQuery", callback_query_id="q", text="x" * 200) == []
    problems = check(spec, "answerCallbackQuery", callback_query_id="q", text="x" * 201)
    assert problems[0][0] == "text"


def test_edit_needs_a_target_and_text(spec: ApiSpec) -> None:
    problems = check(spec, "editMessageText", text="x")
    assert problems[0][0] == "message_id"
    problems = check(spec, "editMessageText", chat_id=1, message_id=2)
    assert problems[0][0] == "text"


def test_commands_and_scopes(spec: ApiSpec) -> None:
    commands = [{"command": "checkin", "description": "Start today's check-in"}]
    assert check(spec, "setMyCommands", commands=commands) == []
    assert (
        check(spec, "setMyCommands", commands=commands, scope={"type": "all_private_chats"}) == []
    )
    scope = {"type": "chat", "chat_id": -100500}
    assert check(spec, "setMyCommands", commands=commands, scope=scope) == []
    problems = check(spec, "setMyCommands", commands=commands, scope={"type": "chat"})
    assert problems == [
        ("scope.chat_id", 'field "scope.chat_id" is required in BotCommandScopeChat')
    ]
    problems = check(spec, "setMyCommands", commands=commands, scope={"type": "everyone"})
    assert problems[0][0] == "scope.type"
    bad = [{"command": "Check-In", "description": "x"}]
    assert check(spec, "setMyCommands", commands=bad)[0][0] == "commands[0].command"


def test_chat_action_values(spec: ApiSpec) -> None:
    assert check(spec, "sendChatAction", chat_id=1, action="typing") == []
    assert check(spec, "sendChatAction", chat_id=1, action="dancing")[0][0] == "action"


def test_files_must_go_to_input_file_fields(spec: ApiSpec) -> None:
    upload = UploadedFile("r.csv", "text/csv", b"a,b\n")
    assert check(spec, "sendDocument", chat_id=1, document=upload) == []
    assert check(spec, "sendDocument", chat_id=1, document="attach://f", f=upload) == []
    assert check(spec, "sendMessage", chat_id=1, text=upload)[0][0] == "text"
    assert check(spec, "sendDocument", chat_id=1, document="https://example.org/r.csv") == []


def test_json_bodies_carry_real_types(spec: ApiSpec) -> None:
    method = spec.method("sendMessage")
    assert method is not None
    assert (
        spec.validate(method, {"chat_id": 5, "text": "x", "protect_content": True}).problems == []
    )
    problems = spec.validate(method, {"chat_id": 5, "text": 7}).problems
    assert [p.field for p in problems] == ["text"]


def test_spec_file_is_loaded_once(tmp_path: Path) -> None:
    path = real_spec_path()
    if path is None:
        pytest.skip(SKIP_NO_SPEC)
    assert load_spec(path) is load_spec(str(path))
    assert load_spec(path).version.startswith("Bot API")
    assert len(load_spec(path).method_names) > 100


def test_resolve_spec_prefers_argument_then_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"version": "tiny", "methods": {"getMe": {}}, "types": {}}))
    monkeypatch.delenv(SPEC_ENV_VAR, raising=False)
    assert resolve_spec() is builtin_spec()
    monkeypatch.setenv(SPEC_ENV_VAR, str(tiny))
    assert resolve_spec().version == "tiny"
    assert resolve_spec(tiny).source == str(tiny.resolve())
    monkeypatch.setenv(SPEC_ENV_VAR, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError):
        resolve_spec()


def test_builtin_table_matches_the_spec_file() -> None:
    """Every built-in field exists with the same types in the full spec."""
    path = real_spec_path()
    if path is None:
        pytest.skip(SKIP_NO_SPEC)
    full, builtin = load_spec(path), builtin_spec()
    for name in builtin.method_names:
        ours, theirs = builtin.method(name), full.method(name)
        assert ours is not None and theirs is not None, name
        assert dict(ours.fields) == dict(theirs.fields), name
