"""Treatment courses: where the patient's baseline and instrument clock start.

A provider's ``/course LABEL start`` begins a new course (a new series of doses). The
patient's own baseline (docs/clinical.md §3.4) and the PHQ-9/GAD-7 baseline (§2.5: response
and remission are measured from the course's first result) then count from that day, and the
weekly instruments' clock restarts, so the first instrument of the course is its baseline.
Before any course is recorded, the course is the one the patient enrolled in.
"""

from __future__ import annotations

from datetime import date


def course_start(course_started_on: date | None, enrolled_on: date) -> date:
    """Return the first local day of the patient's current course."""
    if course_started_on is None or course_started_on < enrolled_on:
        return enrolled_on
    return course_started_on
