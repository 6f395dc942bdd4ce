"""Logging set-up: text or JSON lines, and nothing that could carry patient data.

Patient data must never reach a log (docs/architecture.md principle 6). Our own code logs ids,
counts and exception types only; the risk is in libraries, whose DEBUG output carries whole
requests: PTB logs every Bot API call with its parameters (message texts, names), aiosqlite every
statement with its bound values. So DEBUG is admitted only from our own packages, and the fields a
JSON line may carry besides its message are an allow-list, not whatever a caller put in ``extra``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

OUR_PACKAGES = ("bot", "handlers", "storage", "prompts")
SAFE_FIELDS = (
    "update_id",
    "chat_kind",
    "outbox_id",
    "duration_ms",
    "method",
    "status",
    "reason",
    "count",
)
"""Fields a log line may carry besides its message (pass them with ``extra={...}``)."""
# httpx (PTB's default backend; ours is aiohttp, but anything that falls back to PTB's
# default would use it) logs request URLs at INFO, and a Bot API URL holds the bot token.
# Alembic's INFO lines would come before the CLI's one-line errors (and `db upgrade` prints
# its revision).
# APScheduler (PTB's JobQueue) logs "Running job" and "executed successfully" at INFO for every
# run: two lines every 3 s for the announce job alone, about 57,000 a day (issue 13). Its
# warnings (a missed run) and errors still show.
_QUIET = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
}
_MARK = "_moodcheck_handler"


class OwnDebugOnly(logging.Filter):
    """Let DEBUG records through only from our packages: libraries log payloads at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep INFO and above from everyone, DEBUG only from ours."""
        if record.levelno >= logging.INFO:
            return True
        top = record.name.split(".", 1)[0]
        return top in OUR_PACKAGES


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then safe fields, then exc."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as one line of JSON."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, str | int | float | bool):
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic one-line format, with the safe fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """Append the safe fields a record carries."""
        text = super().formatMessage(record)
        extras = [
            f"{name}={record.__dict__[name]}" for name in SAFE_FIELDS if name in record.__dict__
        ]
        return f"{text} {' '.join(extras)}" if extras else text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record, as logging's own
    last-resort handler does (a test that swaps stderr does not leave us a closed file)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr


def configure_logging(
    level: str, fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) as text or JSON lines.

    Calling it again replaces the handler it installed before (and only that one), so tests
    can capture logs without disturbing pytest's own handlers. Returns the new handler.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(OwnDebugOnly())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    return handler


class StateLog:
    """Logs a dependency going away and coming back: one line each, not one per attempt.

    A bot that cannot reach the Bot API, or its database, tries again every second or so;
    a traceback per attempt buried the operator's log (issue 13: 4,567 lines in 20 minutes).
    The first failure is logged as a WARNING naming the exception type (no traceback: the
    cause is outside this process), the recovery as one INFO line with how long it took.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self._down_since: float | None = None
        self.failures = 0
        """Failed attempts since the last success (0 while the dependency works)."""

    @property
    def down(self) -> bool:
        """Whether the last attempt failed."""
        return self._down_since is not None

    def failed(self, error: BaseException, now: float) -> None:
        """An attempt failed: log it if it is the first since the last success."""
        self.failures += 1
        if self._down_since is None:
            self._down_since = now
            self._logger.warning(
                "%s unavailable (%s); retrying quietly until it is back",
                self._what,
                type(error).__name__,
                extra={"reason": type(error).__name__},
            )

    def ok(self, now: float) -> None:
        """An attempt worked: log the recovery if it had failed before."""
        if self._down_since is not None:
            self._logger.warning(
                "%s available again after %.1f s (%d failed attempts)",
                self._what,
                now - self._down_since,
                self.failures,
                extra={"count": self.failures},
            )
            self._down_since = None
        self.failures = 0
