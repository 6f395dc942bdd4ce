"""Telegram-HTML parsing: allowed tags, entities, plain text and offsets."""

from __future__ import annotations

import pytest

from bot.sandbox.html import HtmlParseError, parse_html, plain_text, utf16_len


def test_plain_text_and_entities() -> None:
    parsed = parse_html("<b>Mood <i>today</i></b>: 3 &lt; 5 &amp; &quot;ok&quot; &#39;x&#x27;")
    assert parsed.text == "Mood today: 3 < 5 & \"ok\" 'x'"
    assert parsed.entities == (
        {"type": "bold", "offset": 0, "length": 10},
        {"type": "italic", "offset": 5, "length": 5},
    )


def test_every_allowed_tag_parses() -> None:
    src = (
        "<strong>a</strong><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>"
        '<span class="tg-spoiler">h</span><tg-spoiler>i</tg-spoiler>'
        '<a href="https://example.org/?a=1&amp;b=2">j</a><code>k</code>'
        '<pre><code class="language-python">l</code></pre><blockquote>m</blockquote>'
        "<blockquote expandable>n</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">o</tg-emoji>'
    )
    parsed = parse_html(src)
    assert parsed.text == "abcdefghijklmno"
    kinds = [e["type"] for e in parsed.entities]
    assert kinds == [
        "bold",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    ]
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert link["url"] == "https://example.org/?a=1&b=2"
    pre = next(e for e in parsed.entities if e["type"] == "pre")
    assert pre["language"] == "python"


def test_offsets_are_utf16_code_units() -> None:
    parsed = parse_html("\U0001f600 <b>x</b>")
    assert parsed.entities == ({"type": "bold", "offset": 3, "length": 1},)
    assert utf16_len("\U0001f600") == 2


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        ("<foo>x</foo>", 'unsupported start tag "foo"'),
        ("<br/>", 'unsupported start tag "br"'),
        ("<b>x", 'start tag "b"'),
        ("x</b>", 'unexpected end tag "</b>"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("<span>x</span>", '"tg-spoiler"'),
        ("<tg-emoji>x</tg-emoji>", "emoji-id"),
        ("Tom & Jerry", 'unescaped "&"'),
        ("&nbsp;", 'unescaped "&"'),
        ("&#0;", 'unescaped "&"'),
        ("5 > 3", 'unescaped ">"'),
        ("a < b", 'unclosed "<"'),
        ("<code><b>x</b></code>", "can't be nested"),
        ("<blockquote><blockquote>x</blockquote></blockquote>", "can't be nested"),
    ],
)
def test_malformed_html_is_rejected(src: str, fragment: str) -> None:
    with pytest.raises(HtmlParseError) as info:
        parse_html(src)
    message = str(info.value)
    assert message.startswith("can't parse entities: ")
    assert fragment in message


def test_byte_offsets_count_utf8_bytes() -> None:
    with pytest.raises(HtmlParseError, match="byte offset 3"):
        parse_html("é <x>")


def test_markdown_modes_are_not_parsed() -> None:
    assert plain_text("*a* & <b>", "MarkdownV2").text == "*a* & <b>"
    assert plain_text("<b>x</b>", None).text == "<b>x</b>"
    assert plain_text("<b>x</b>", "HTML").text == "x"
