"""``python -m bot`` is the ``moodcheck`` command."""

import sys

from bot.ops.cli import main

sys.exit(main())
