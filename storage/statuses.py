"""Patient statuses that several queries test for (their one home is bot/domain/lifecycle.py)."""

from bot.domain.lifecycle import LEFT, TAKING_PART

__all__ = ["LEFT", "TAKING_PART"]
