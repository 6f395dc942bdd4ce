"""Cutting text to Telegram's 4,096 characters, and reading Telegram's content refusals."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.message_text import content_rejection, cut_to_fit, utf16_len, visible_len
from prompts.render import Renderer

RENDERER = Renderer()


def _frame(shown: str, cut: int) -> str:
    marker = f"\n\n<i>[… {cut} more]</i>" if cut else ""
    return f"<code>P-7Q3K</code> wrote\n\n{html.escape(shown)}{marker}"


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.sampled_from(["a", " ", "<", "&", ">", "é", "😀", "\n"]), max_size=5000),
    limit=st.integers(60, 4096),
)
def test_a_cut_message_fits_shows_a_prefix_and_says_how_much_is_left_out(
    text: str, limit: int
) -> None:
    message = cut_to_fit(_frame, text, limit)
    assert visible_len(message) <= limit
    if visible_len(_frame(text, 0)) <= limit:
        assert message == _frame(text, 0)  # what fits is never cut
        return
    body = html.unescape(message.split("\n\n", 1)[1].rsplit("\n\n<i>", 1)[0])
    cut = int(message.rsplit("[… ", 1)[1].split()[0])
    assert text.startswith(body) and len(body) + cut == len(text)
    # Nearly all the room is used: at most a marker's and a character's worth is left.
    assert visible_len(message) > limit - 40


def test_visible_length_is_what_telegram_counts() -> None:
    assert visible_len("<b>a</b> &lt;b&gt; 😀") == len("a <b> ") + 2
    assert utf16_len("😀") == 2


def test_the_group_notice_is_cut_in_both_languages() -> None:
    text = "x" * 4096
    for locale, marker in (("en", "more characters not shown"), ("es", "no se muestran")):

        def render(shown: str, cut: int, locale: str = locale) -> str:
            return RENDERER.render(
                "message_group",
                locale,
                label="P-7Q3K",
                kind="text",
                time="09:00",
                text=shown,
                cut=cut,
            )

        message = cut_to_fit(render, text)
        assert visible_len(message) <= 4096 and marker in message
        assert marker not in cut_to_fit(render, "short")


def test_telegrams_content_refusals_are_told_from_other_400s() -> None:
    assert content_rejection("Bad Request: message is too long") == "too_long"
    assert content_rejection("Bad Request: can't parse entities: unclosed") == "bad_markup"
    assert content_rejection("Bad Request: message text is empty") == "empty"
    assert content_rejection("Bad Request: chat not found") is None
    assert content_rejection("Bad Request: message to edit not found") is None
