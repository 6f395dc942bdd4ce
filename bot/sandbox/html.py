"""Strict parser for Telegram-flavoured HTML (``parse_mode=HTML``).

The sandbox uses it to reject text that the real Bot API would refuse (or silently
mangle) and to compute the plain text and entities that Telegram stores.

It is deliberately a little stricter than Telegram: the Bot API documentation says every
``<``, ``>`` and ``&`` that is not part of a tag or entity must be escaped, but the real
server quietly keeps a stray ``&`` or ``>``. Unescaped user input is exactly the bug an
end-to-end test should catch, so both are rejected here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["HtmlParseError", "ParsedText", "parse_html", "plain_text", "utf16_len"]

# Tag name -> entity type. ``a``, ``span``, ``pre``, ``blockquote``, ``tg-emoji`` and ``tg-time``
# refine the type from their attributes in ``_entity_for``.
_TAG_ENTITY: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_TAG_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_RE = re.compile(
    r"\s*([a-zA-Z_][a-zA-Z0-9_-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?"
)


class HtmlParseError(ValueError):
    """Raised for text that Telegram would answer with ``can't parse entities``."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Plain text plus the entities Telegram derives from the markup.

    Attributes:
        text: The text with tags removed and entities unescaped.
        entities: Bot API ``MessageEntity`` dicts (offsets in UTF-16 code units).
    """

    text: str
    entities: tuple[dict[str, object], ...] = field(default=())


@dataclass(slots=True)
class _Open:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output
    byte_offset: int


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram measures offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(src: str, index: int) -> tuple[str, int] | None:
    match = _ENTITY_RE.match(src, index)
    if match is None:
        return None
    named, dec, hexa = match.groups()
    if named:
        return _NAMED_ENTITIES[named], match.end()
    code = int(dec, 10) if dec else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _unescape_attr(value: str) -> str:
    return _ENTITY_RE.sub(lambda m: (_decode_entity(m.group(0), 0) or (m.group(0), 0))[0], value)


def _parse_attrs(raw: str, byte_offset: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    raw = raw.rstrip()
    while pos < len(raw):
        match = _ATTR_RE.match(raw, pos)
        if match is None or match.end() == pos:
            raise HtmlParseError(
                f"can't parse entities: bad tag attributes at byte offset {byte_offset}"
            )
        name = match.group(1).lower()
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attrs[name] = _unescape_attr(value)
        pos = match.end()
    return attrs


def _check_start_tag(tag: _Open, stack: list[_Open]) -> None:
    name, attrs, offset = tag.name, tag.attrs, tag.byte_offset
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError(
            'can\'t parse entities: tag "span" must have class "tg-spoiler" '
            f"at byte offset {offset}"
        )
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise HtmlParseError(
            f'can\'t parse entities: tag "tg-emoji" must have attribute "emoji-id" '
            f"at byte offset {offset}"
        )
    if name == "tg-time" and not attrs.get("unix", "").isdigit():
        raise HtmlParseError(
            f'can\'t parse entities: tag "tg-time" must have a numeric attribute "unix" '
            f"at byte offset {offset}"
        )
    if (
        stack
        and stack[-1].name in {"code", "pre"}
        and not (stack[-1].name == "pre" and name == "code")
    ):
        raise HtmlParseError(
            f'can\'t parse entities: tag "{name}" can\'t be nested in "{stack[-1].name}" '
            f"at byte offset {offset}"
        )
    if name == "blockquote" and any(t.name == "blockquote" for t in stack):
        raise HtmlParseError(
            f"can't parse entities: blockquotes can't be nested at byte offset {offset}"
        )


def _entity_for(tag: _Open, end: int, stack: list[_Open]) -> dict[str, object] | None:
    length = end - tag.start
    if length == 0:
        return None
    kind = _TAG_ENTITY[tag.name]
    entity: dict[str, object] = {"type": kind, "offset": tag.start, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href")
        if not href:
            return None
        entity["url"] = href
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif tag.name == "tg-time":
        entity["unix_time"] = int(tag.attrs["unix"])
        if "format" in tag.attrs:
            entity["date_time_format"] = tag.attrs["format"]
    elif tag.name == "code" and stack and stack[-1].name == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["_language"] = language.removeprefix("language-")
        return None
    elif tag.name == "pre" and "_language" in tag.attrs:
        entity["language"] = tag.attrs["_language"]
    return entity


def parse_html(src: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities.

    Args:
        src: The ``text`` or ``caption`` exactly as the bot sent it.

    Returns:
        The plain text and entities.

    Raises:
        HtmlParseError: If the markup is not well-formed Telegram HTML; the message starts
            with ``can't parse entities:`` like the Bot API's.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 length of "".join(out)
    stack: list[_Open] = []
    entities: list[dict[str, object]] = []
    i = 0
    n = len(src)
    while i < n:
        lt = src.find("<", i)
        amp = src.find("&", i)
        gt = src.find(">", i)
        stops = [p for p in (lt, amp, gt) if p != -1]
        nxt = min(stops) if stops else n
        if nxt > i:
            chunk = src[i:nxt]
            out.append(chunk)
            out_len += utf16_len(chunk)
            i = nxt
            continue
        ch = src[i]
        if ch == ">":
            raise HtmlParseError(
                f'can\'t parse entities: unescaped ">" at byte offset {_byte_offset(src, i)}; '
                "use &gt;"
            )
        if ch == "&":
            decoded = _decode_entity(src, i)
            if decoded is None:
                raise HtmlParseError(
                    f'can\'t parse entities: unsupported HTML entity or unescaped "&" at byte '
                    f"offset {_byte_offset(src, i)}; use &amp;"
                )
            out.append(decoded[0])
            out_len += utf16_len(decoded[0])
            i = decoded[1]
            continue
        i, out_len = _handle_tag(src, i, out_len, stack, entities)
    if stack:
        raise HtmlParseError(
            "can't parse entities: can't find end tag corresponding to start tag "
            f'"{stack[-1].name}"'
        )
    entities.sort(key=lambda e: (e["offset"], -int(str(e["length"]))))
    return ParsedText("".join(out), tuple(entities))


def _handle_tag(
    src: str, i: int, out_len: int, stack: list[_Open], entities: list[dict[str, object]]
) -> tuple[int, int]:
    offset = _byte_offset(src, i)
    close = src.find(">", i + 1)
    if close == -1:
        raise HtmlParseError(
            f'can\'t parse entities: unclosed "<" at byte offset {offset}; '
            'use &lt; for a literal "<"'
        )
    body = src[i + 1 : close]
    if body.startswith("/"):
        name = body[1:].strip().lower()
        if not stack:
            raise HtmlParseError(
                f'can\'t parse entities: unexpected end tag "</{name}>" at byte offset {offset}'
            )
        top = stack.pop()
        if name != top.name:
            raise HtmlParseError(
                f"can't parse entities: unmatched end tag at byte offset {offset}, expected "
                f'"</{top.name}>", found "</{name}>"'
            )
        entity = _entity_for(top, out_len, stack)
        if entity is not None:
            entities.append(entity)
        return close + 1, out_len
    match = _TAG_NAME_RE.match(body)
    name = match.group(0).lower() if match else ""
    if not name or name not in _TAG_ENTITY or body.endswith("/"):
        raise HtmlParseError(
            f'can\'t parse entities: unsupported start tag "{name or body[:20]}" '
            f"at byte offset {offset}"
        )
    attrs = _parse_attrs(body[len(name) :], offset)
    tag = _Open(name, attrs, out_len, offset)
    _check_start_tag(tag, stack)
    stack.append(tag)
    return close + 1, out_len


def plain_text(src: str, parse_mode: str | None) -> ParsedText:
    """Return what Telegram would store for ``src`` sent with ``parse_mode``.

    Markdown modes are not parsed (the bot under test uses HTML); their text is kept as is.

    Raises:
        HtmlParseError: For malformed HTML when ``parse_mode`` is ``HTML``.
    """
    if parse_mode is not None and parse_mode.upper() == "HTML":
        return parse_html(src)
    return ParsedText(src)
