"""`make demo` keeps working: the scripted run completes and shows the whole story."""

from __future__ import annotations

import pytest

from bot.ops.demo import run_demo


async def test_the_demo_runs_end_to_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    assert await run_demo() == 0
    out = capsys.readouterr().out
    for expected in [
        "Before we start",
        "you are enrolled",
        "Daily check-in · 1/7",
        "Alex taps [Yes]",
        "URGENT",
        "P-7Q3K",
        "Samaritans",
        "queued 2 prompt(s)",  # Alex's next day and Sam's first
    ]:
        assert expected in out, expected
    assert "Alex" not in out.split("Demo clinic providers >", 1)[1].split("\n", 1)[0]
