"""A patient's own life with the bot: enrolment, settings, pause/withdraw/discharge,
reachability, messages, erasure and confirmations; and strangers who are not enrolled."""
