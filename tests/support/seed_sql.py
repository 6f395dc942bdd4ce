"""Rows that migration tests write with plain SQL before upgrading (the models of the day
may not match the schema under test, so no ORM)."""

from __future__ import annotations


def cohort_and_patient(at: str, *, user: int = 4242) -> list[str]:
    """One cohort (id 1) and one active patient in it (id 1, label P-1, Telegram ``user``);
    ``at``: an SQL timestamp literal, quotes included, for every time column."""
    return [
        "INSERT INTO cohorts (id, name, provider_chat_id, timezone, locale, region, questionnaire,"
        f" created_at, updated_at) VALUES (1, 'c', -100, 'UTC', 'en', 'US', 'daily', {at}, {at})",
        "INSERT INTO patients (id, cohort_id, label, status, telegram_user_id, chat_id, locale,"
        " timezone, checkin_time, consented_at, created_at, updated_at)"
        f" VALUES (1, 1, 'P-1', 'active', {user}, {user}, 'en', 'UTC', '09:00', {at}, {at}, {at})",
    ]
