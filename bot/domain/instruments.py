"""The validated instruments as data: item counts, answer ranges, bands and change thresholds.

Figures come from docs/clinical.md §2. The wording the patient sees lives in
``prompts/questionnaires/{phq9,gad7,pcl5}.yaml``; this module only knows the numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum


class Instrument(StrEnum):
    """A scored questionnaire; the value is also its questionnaire id."""

    PHQ9 = "phq9"
    GAD7 = "gad7"
    PCL5 = "pcl5"


class Band(StrEnum):
    """A published severity band (PHQ-9 and GAD-7 only; the PCL-5 has none)."""

    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately_severe"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        """Return 0 for the mildest band; higher is more severe."""
        return _BAND_RANK[self]


_BAND_RANK = {band: rank for rank, band in enumerate(Band)}


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """The scoring facts of one instrument."""

    instrument: Instrument
    item_count: int
    item_max: int
    """Each item is scored 0..item_max."""
    bands: tuple[tuple[int, Band], ...]
    """(highest total in the band, band), in rising order; empty when there are no bands."""
    mid: int
    """Minimal important difference in total points, for worsening and for improvement."""

    @property
    def max_total(self) -> int:
        """Return the highest possible total."""
        return self.item_count * self.item_max

    def band(self, total: int) -> Band | None:
        """Return the band of a total, or None for an instrument without bands."""
        for highest, band in self.bands:
            if total <= highest:
                return band
        return None

    def item_ids(self) -> tuple[str, ...]:
        """Return the questionnaire item ids of the scored items, in order (``phq9_1``...)."""
        return _item_ids(self.instrument.value, self.item_count)


@functools.cache
def _item_ids(name: str, count: int) -> tuple[str, ...]:
    # Built once: scoring a cohort's history (the digest, the outcomes report) asks for them
    # tens of thousands of times, and building them was half of reading one's answers.
    return tuple(f"{name}_{n}" for n in range(1, count + 1))


SPECS: dict[Instrument, InstrumentSpec] = {
    Instrument.PHQ9: InstrumentSpec(
        instrument=Instrument.PHQ9,
        item_count=9,
        item_max=3,
        bands=(
            (4, Band.MINIMAL),
            (9, Band.MILD),
            (14, Band.MODERATE),
            (19, Band.MODERATELY_SEVERE),
            (27, Band.SEVERE),
        ),
        # Löwe 2004: 5 points, two standard errors of measurement.
        mid=5,
    ),
    Instrument.GAD7: InstrumentSpec(
        instrument=Instrument.GAD7,
        item_count=7,
        item_max=3,
        bands=((4, Band.MINIMAL), (9, Band.MILD), (14, Band.MODERATE), (21, Band.SEVERE)),
        # Toussaint 2020: about 4 points.
        mid=4,
    ),
    Instrument.PCL5: InstrumentSpec(
        instrument=Instrument.PCL5,
        item_count=20,
        item_max=4,
        # No empirically derived severity bands exist; inventing labels would mislead.
        bands=(),
        # Uncertain: NCPTSD guidance (carried over from the DSM-IV PCL) calls 5-10 points
        # reliable and 10-20 clinically meaningful; Marx 2022 found 15-18 needed for reliable
        # change in veterans. docs/clinical.md §2.5 recommends flagging 10 for clinician review.
        mid=10,
    ),
}

PHQ9_ITEM9 = 9
"""The PHQ-9 item on thoughts of death or self-harm (1-based)."""
SCREENER_ITEMS = 2
"""PHQ-2 and GAD-2 are the first two items of the PHQ-9 and GAD-7."""
SCREENER_POSITIVE = 3
"""PHQ-2 / GAD-2 positive at 3 or more (Kroenke 2003, 2007)."""
PCL5_DEFAULT_CUTOFF = 33
PCL5_LENIENT_CUTOFF = 31
PCL5_ENDORSED = 2
"""An item rated 2 ("Moderately") or more counts as an endorsed DSM-5 symptom."""
PCL5_CLUSTERS: dict[str, tuple[range, int]] = {
    # cluster: (1-based items, endorsed items needed for the DSM-5 rule)
    "B": (range(1, 6), 1),
    "C": (range(6, 8), 1),
    "D": (range(8, 15), 2),
    "E": (range(15, 21), 2),
}
