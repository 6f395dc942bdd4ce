"""Run the fake Bot API as a standalone process (benchmarks: bot and server on other cores).

Usage::

    python -m bot.sandbox --port 0 [--no-limits] [--paid-limit N] [--global-limit N]
        [--edits-count-overall]
        [--spec PATH] [--auto-register-chats]

Prints ``SANDBOX_PORT=<port>`` on stdout once listening and serves until SIGTERM/SIGINT.
Control endpoints: ``GET /sandbox/stats``, ``GET /sandbox/transcript[?chat_id=]``,
``GET /sandbox/violations``, ``POST /sandbox/reset``, ``POST /sandbox/users``
(``{"user_ids": [...]}``), ``POST /sandbox/faults`` (``{"action": "random", "rate": 0.1,
...}``; actions: random, clear, fail_next, rate_limit_next, drop_next, delay) and
``POST /sandbox/send`` (``{"user_id": 1, "text": "/start"}`` or ``{"user_id": 1,
"press": "Agree"}``) and ``POST /sandbox/groups`` (``{"action": "migrate", "chat_id":
-100111}``; see ``bot.sandbox.control``). ``--group ID`` (repeatable) registers a group the
bot is a member of.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox", description="Run the fake Telegram Bot API server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="moodcheck_test_bot")
    parser.add_argument(
        "--spec", default=None, help="Bot API spec JSON (default: env or built-in)"
    )
    parser.add_argument("--no-limits", action="store_true", help="disable Telegram flood limits")
    parser.add_argument(
        "--paid-limit",
        type=int,
        default=Limits().paid_per_second,
        help="messages/s allowed with allow_paid_broadcast (Telegram: 1000)",
    )
    parser.add_argument(
        "--global-limit",
        type=int,
        default=Limits().global_per_second,
        help="new messages/s allowed without it (Telegram: 30; edits count per chat only)",
    )
    parser.add_argument(
        "--edits-count-overall",
        action="store_true",
        help="count edits in the overall limits too (a Telegram that did; not what it does)",
    )
    parser.add_argument(
        "--auto-register-chats",
        action="store_true",
        help="accept any positive chat id as a private chat",
    )
    parser.add_argument(
        "--group",
        type=int,
        action="append",
        default=[],
        help="a group chat id (negative) the bot is a member of; repeatable",
    )
    parser.add_argument(
        "--request-log-limit",
        type=int,
        default=10_000,
        help="newest request log entries to keep (memory bound for long benchmarks)",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = FakeBotApi(
        token=args.token,
        bot_username=args.bot_username,
        spec_path=args.spec,
        limits=Limits(
            global_per_second=args.global_limit,
            paid_per_second=args.paid_limit,
            enabled=not args.no_limits,
            edits_count_overall=args.edits_count_overall,
        ),
        auto_register_chats=args.auto_register_chats,
        host=args.host,
        port=args.port,
        request_log_limit=args.request_log_limit,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    for chat_id in args.group:
        server.group(chat_id, title=f"Group {chat_id}")
    await server.start()
    try:
        sys.stdout.write(f"SANDBOX_PORT={server.port}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bot.sandbox``."""
    asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
