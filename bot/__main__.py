"""``python -m bot`` is the ``moodcheck`` command."""

import sys

from bot.cli import main

sys.exit(main())
