"""Operating the bot: the ``moodcheck`` command, the demo, data-key commands, logging and
metrics."""
