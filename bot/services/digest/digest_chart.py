"""The digest's chart: the cohort's week at a glance, as a PNG for a phone.

A row per patient (pseudonymous labels only) of the week's mood and anxiety by day, the value
printed in each cell over a red-to-green colour (red is worse on both panels), missed days
crossed out on grey, days with nothing due left blank, and the patients needing attention
first, marked with "!" and a red band. Above them a summary strip for the whole cohort: the
daily mean and the share of due check-ins answered.

Large cohorts: the chart holds at most ``MAX_ROWS`` patients (about what a phone screen shows
legibly): those needing attention first (most urgent first), then the others by label; a
footer says how many more there are, and the attached HTML and CSV hold everyone. The summary
strip always covers the whole cohort.

matplotlib is imported when a chart is drawn, not when the bot starts, and only through its
object-oriented API with the Agg canvas: pyplot (and with it any GUI backend or global figure
state) is never touched, so drawing is safe in a worker thread.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain.digest_format import format_number, format_percent
from bot.domain.digest_model import DayState, Digest, PatientFigures

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_ROWS = 30
WIDTH_IN = 12.0
DPI = 100
"""12 in at 100 dpi: 1,200 px wide, what Telegram shows without downscaling much."""
ROW_IN = 0.42
HEAD_IN = 1.6
"""Title, panel captions and day names."""
GAP_IN = 0.3
FOOT_IN = 0.9
PANELS = ((0.135, 0.42), (0.575, 0.42))
"""(left, width) of the mood and anxiety panels, as fractions of the width."""
FLAG_COLOUR = "#c62828"
MISSED_COLOUR = "#bdbdbd"
NONE_COLOUR = "#ffffff"
FONT = 15
CELL_FONT = 14


@dataclass(frozen=True, slots=True)
class ChartText:
    """The words on the chart, rendered from the cohort's templates."""

    title: str
    mood: str
    anxiety: str
    cohort_mean: str
    answered: str
    legend: str
    more: str
    """Footer when not every patient fits (empty when they all do)."""
    weekdays: Sequence[str]
    """Short day names, Monday first."""


def chart_rows(digest: Digest, max_rows: int = MAX_ROWS) -> tuple[PatientFigures, ...]:
    """Return the patients the chart shows: those needing attention first, then the others."""
    return digest.patients[:max_rows]


def _plain(text: str) -> str:
    # A "$" would switch matplotlib to mathtext; nothing we draw is maths.
    return text.replace("$", r"\$")


def render_chart(digest: Digest, text: ChartText, locale: str, max_rows: int = MAX_ROWS) -> bytes:
    """Draw the chart and return it as PNG bytes (1,200 px wide)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - lazy: ~0.3 s
    from matplotlib.figure import Figure  # noqa: PLC0415

    rows = chart_rows(digest, max_rows)
    n = max(len(rows), 1)
    strip_in = 2 * ROW_IN
    height = HEAD_IN + strip_in + GAP_IN + n * ROW_IN + FOOT_IN
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)  # the Agg canvas, explicitly: no display is ever needed
    figure.text(
        0.5,
        1 - 0.1 / height,
        _plain(text.title),
        ha="center",
        va="top",
        fontsize=FONT + 5,
        fontweight="bold",
    )
    days = digest.period.days
    day_labels = [f"{text.weekdays[d.weekday()]}\n{d.day}" for d in days]
    strip_bottom = 1 - (HEAD_IN + strip_in) / height
    rows_bottom = FOOT_IN / height
    for column, (item, caption, cmap) in enumerate(
        (("mood", text.mood, "RdYlGn"), ("anxiety", text.anxiety, "RdYlGn_r"))
    ):
        left, width = PANELS[column]
        figure.text(
            left + width / 2,
            1 - 0.62 / height,
            _plain(caption),
            ha="center",
            va="top",
            fontsize=FONT + 1,
            fontweight="bold",
        )
        strip_ax = figure.add_axes((left, strip_bottom, width, strip_in / height))
        rows_ax = figure.add_axes((left, rows_bottom, width, n * ROW_IN / height))
        _strip(strip_ax, digest, item, cmap, text=text, locale=locale, first=column == 0)
        strip_ax.set_xticks(range(len(days)), day_labels, fontsize=FONT - 2)
        strip_ax.xaxis.tick_top()
        _patients(rows_ax, rows, item, cmap, first=column == 0)
    figure.text(0.01, (FOOT_IN - 0.35) / height, _plain(text.legend), fontsize=FONT - 1,
                color="#424242")  # fmt: skip
    if text.more:
        figure.text(0.01, 0.1 / height, _plain(text.more), fontsize=FONT - 1,
                    color=FLAG_COLOUR, fontweight="bold")  # fmt: skip
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _grid_axes(ax: Axes, rows: int) -> None:
    # The limits are fixed here, so cells are added with ``add_artist``: ``add_patch`` would
    # update the data limits for each of the ~450 cells (a sixth of the chart's time) only
    # for them to be ignored.
    ax.set_xlim(-0.5, 6.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    # White lines between the cells, drawn as the grid of minor ticks would be (same lines,
    # same pixels) without a tick object per line: a tick is three lines and two labels, and
    # building them was a fifth of the chart's time.
    from matplotlib.lines import Line2D  # noqa: PLC0415

    for x in range(6):
        ax.add_artist(Line2D([x + 0.5] * 2, [0, 1], transform=ax.get_xaxis_transform("grid"),
                             color="white", linewidth=2))  # fmt: skip
    for y in range(rows - 1):
        ax.add_artist(Line2D([0, 1], [y + 0.5] * 2, transform=ax.get_yaxis_transform("grid"),
                             color="white", linewidth=2))  # fmt: skip


def _ink(rgba: Sequence[float]) -> str:
    """Black or white text, whichever reads better on a cell colour."""
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _colour(cmap: Any, value: float, top: float) -> Sequence[float]:
    rgba: Sequence[float] = cmap(value / top)
    return rgba


def _strip(
    ax: Axes,
    digest: Digest,
    item: str,
    cmap_name: str,
    *,
    text: ChartText,
    locale: str,
    first: bool,
) -> None:
    from matplotlib import colormaps  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    cmap = colormaps[cmap_name]
    blues = colormaps["Blues"]
    _grid_axes(ax, 2)
    for x, day in enumerate(digest.strip):
        mean = day.mood_mean if item == "mood" else day.anxiety_mean
        face = _colour(cmap, mean, 10) if mean is not None else (0.93, 0.93, 0.93, 1.0)
        ax.add_artist(Rectangle((x - 0.5, -0.5), 1, 1, facecolor=face, edgecolor="none"))
        ax.text(
            x, 0, format_number(mean, locale), ha="center", va="center",
            fontsize=CELL_FONT, color=_ink(face), fontweight="bold",
        )  # fmt: skip
        share = day.adherence
        face = blues(0.15 + 0.6 * share) if share is not None else (0.93, 0.93, 0.93, 1.0)
        ax.add_artist(Rectangle((x - 0.5, 0.5), 1, 1, facecolor=face, edgecolor="none"))
        ax.text(
            x, 1, format_percent(share, locale), ha="center", va="center",
            fontsize=CELL_FONT - 1, color=_ink(face),
        )  # fmt: skip
    if first:
        ax.set_yticks([0, 1], [_plain(text.cohort_mean), _plain(text.answered)], fontsize=FONT - 2)
    else:
        ax.set_yticks([])


def _patients(
    ax: Axes, rows: Sequence[PatientFigures], item: str, cmap_name: str, first: bool
) -> None:
    from matplotlib import colormaps  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    cmap = colormaps[cmap_name]
    _grid_axes(ax, max(len(rows), 1))
    ax.set_xticks([])
    for y, patient in enumerate(rows):
        if patient.needs_attention:
            ax.add_artist(
                Rectangle((-0.5, y - 0.5), 7, 1, facecolor="none", edgecolor=FLAG_COLOUR,
                          linewidth=2.5, zorder=3)
            )  # fmt: skip
        for x, cell in enumerate(patient.days):
            value = cell.mood if item == "mood" else cell.anxiety
            if cell.state is DayState.MISSED and value is None:
                ax.add_artist(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=MISSED_COLOUR))
                ax.text(x, y, "\u00d7", ha="center", va="center", fontsize=CELL_FONT + 4,
                        color="#424242")  # fmt: skip
            elif value is None:
                # Nothing due (a dot), or answered that day but not this item (a dash).
                mark = "\u00b7" if cell.state is DayState.NONE else "\u2013"
                ax.add_artist(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=NONE_COLOUR))
                ax.text(x, y, mark, ha="center", va="center", fontsize=CELL_FONT, color="#757575")
            else:
                face = _colour(cmap, value, 10)
                ax.add_artist(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=face))
                ax.text(x, y, str(value), ha="center", va="center", fontsize=CELL_FONT,
                        color=_ink(face))  # fmt: skip
    if not first:
        ax.set_yticks([])  # the labels are the first panel's (ticks are invisible: length 0)
        return
    labels = [("! " if p.needs_attention else "") + p.label for p in rows]
    ax.set_yticks(range(len(rows)), [_plain(label) for label in labels])
    for tick, patient in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_fontsize(FONT - 1)
        tick.set_fontfamily("monospace")
        if patient.needs_attention:
            tick.set_color(FLAG_COLOUR)
            tick.set_fontweight("bold")


def png_size(data: bytes) -> tuple[int, int]:
    """Return a PNG's width and height from its IHDR chunk (for checks and tests)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
