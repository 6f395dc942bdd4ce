"""Patient statuses that several services test for."""

LEFT = frozenset({"withdrawn", "discharged"})
"""The patient is no longer followed: no prompts, no settings, nothing stored from them."""
