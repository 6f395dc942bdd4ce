"""The ``moodcheck`` command: run the bot, migrate the database, make invites, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Bot

from bot.config import AppConfig, ConfigError, load_config
from bot.data_keys import create_key_file, key_file, load_keyring
from bot.ops.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.transport import eventloop
from storage.crypto import DataKeyError, Keyring

if TYPE_CHECKING:
    from bot.app import BotRuntime
    from bot.services.runtime import Runtime

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"moodcheck: {message}", file=sys.stderr)  # noqa: T201 - the CLI's one error line
    return EXIT_USAGE


def _run(settings: Settings, *, webhook: bool) -> int:
    from bot.app import build  # noqa: PLC0415 - heavy imports, run only
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    settings.token()
    if webhook:
        settings.webhook()
    config = load_config(settings.config)
    try:
        asyncio.run(_check_database(settings))
    except SchemaBehindError as exc:
        return _fail(str(exc))
    runtime = build(settings, config, webhook=webhook)
    eventloop.run(_serve(runtime))
    return 0


async def _serve(runtime: BotRuntime) -> None:
    """Run until SIGINT or SIGTERM, then stop in order (the round in progress finishes)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runtime.start()
        eventloop.keep_startup_objects()
        await stop.wait()
    finally:
        await runtime.stop()


async def _check_database(settings: Settings) -> None:
    """Before a command uses the database: its schema is this code's (SchemaBehindError) and
    the data keys open what is stored (SettingsError without keys, DataKeyError for a lost or
    wrong one): each one line, before anything starts."""
    from storage.db import create_engine  # noqa: PLC0415
    from storage.migrate import check_schema  # noqa: PLC0415
    from storage.rekey import check_keys  # noqa: PLC0415

    await check_schema(settings.database_url)
    keyring = load_keyring(settings)
    engine = create_engine(settings.database_url, keyring=keyring)
    try:
        await check_keys(engine)
    finally:
        await engine.dispose()


def _db_upgrade(settings: Settings) -> int:
    from storage.migrate import head_revision, upgrade  # noqa: PLC0415

    upgrade(
        settings.database_url,
        keyring=_keys_for_upgrade(settings),
        item_orders=_item_orders(settings),
    )
    print(f"database is at revision {head_revision()}")  # noqa: T201
    return 0


def _item_orders(settings: Settings) -> dict[str, list[str]] | None:
    """Every questionnaire of the configuration, as its item ids in asking order: migration
    0019 names the question of a check-in in progress by its id. None when there is no
    configuration file (a new install): the migration says so if it needs them. A file that
    does not load stops the upgrade as it would stop ``moodcheck run``."""
    if not settings.config.exists():
        return None
    config = load_config(settings.config)
    return {key: [item.id for item in q.items] for key, q in config.questionnaires.items()}


def _keys_for_upgrade(settings: Settings) -> Keyring:
    """The configured data keys; on a new install with none, a new key file (SQLite: beside
    the database), announced with the reminder to back it up."""
    try:
        return load_keyring(settings)
    except SettingsError:
        path = key_file(settings)
        if path is None or path.exists() or asyncio.run(_holds_encrypted_rows(settings)):
            raise  # a lost key is never replaced by a new one over encrypted data
    kid = create_key_file(path)
    print(  # noqa: T201 - the operator must act on this
        f"created the data key file {path} (key {kid}, mode 0600): back it up now, apart "
        "from the database; without it the patients' messages cannot be read",
        file=sys.stderr,
    )
    return load_keyring(settings)


async def _holds_encrypted_rows(settings: Settings) -> bool:
    from storage.db import create_engine  # noqa: PLC0415
    from storage.migrate import current_revision  # noqa: PLC0415
    from storage.rekey import has_encrypted_rows  # noqa: PLC0415

    if await current_revision(settings.database_url) is None:
        return False
    engine = create_engine(settings.database_url)
    try:
        return await has_encrypted_rows(engine)
    finally:
        await engine.dispose()


async def _bot_username(settings: Settings) -> str:
    if settings.bot_username:
        return settings.bot_username
    async with Bot(settings.token(), base_url=settings.telegram_base_url) as bot:
        return bot.username


async def _invite(settings: Settings, cohort: str, label: str) -> int:
    from bot.app import build  # noqa: PLC0415
    from bot.services.patient.enrolment import EnrolmentError  # noqa: PLC0415
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    config = load_config(settings.config)
    config.cohort(cohort)
    try:
        await _check_database(settings)
    except SchemaBehindError as exc:
        return _fail(str(exc))
    username = await _bot_username(settings)
    runtime = build(settings, config, scan_interval=None)
    try:
        await runtime.services.cohorts.sync()
        link = await runtime.services.enrolment.create_invite(cohort, label, "operator")
    except EnrolmentError as exc:
        return _fail(str(exc))
    finally:
        await runtime.engine.dispose()
    print(link.url(username))  # noqa: T201 - the command's output
    print(  # noqa: T201
        f"single use, for {label} in {cohort}, valid until {link.expires_at:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    return 0


@asynccontextmanager
async def _reading_runtime(settings: Settings, config: AppConfig) -> AsyncIterator[Runtime]:
    """The services' runtime for a one-shot command that reads the database (no bot, no
    Telegram): checks the schema first (SchemaBehindError), disposes of the engine after."""
    from bot.domain.clock import SystemClock  # noqa: PLC0415
    from bot.services.runtime import Runtime  # noqa: PLC0415
    from prompts.render import Renderer  # noqa: PLC0415
    from storage.db import create_engine, create_session_factory  # noqa: PLC0415
    from storage.uow import UnitOfWorkFactory  # noqa: PLC0415

    await _check_database(settings)
    engine = create_engine(settings.database_url, keyring=load_keyring(settings))
    try:
        yield Runtime(
            uow=UnitOfWorkFactory(create_session_factory(engine)),
            clock=SystemClock(),
            config=config,
            renderer=Renderer(),
        )
    finally:
        await engine.dispose()


async def _export(settings: Settings, cohort: str, out: str, *, check_all: bool) -> int:
    """moodcheck export --format fhir: the cohort's FHIR Bundle, written to a file."""
    from bot.services.digest.fhir_export import FhirExport, FhirExportError  # noqa: PLC0415
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    config = load_config(settings.config)
    config.cohort(cohort)
    # A one-shot command: blocking file writes hold up nothing else.
    partial = Path(f"{out}.partial")
    try:
        async with _reading_runtime(settings, config) as runtime:
            with partial.open("w", encoding="utf-8") as file:  # noqa: ASYNC230
                result = await FhirExport(runtime).write(cohort, file, check_all=check_all)
            partial.replace(out)  # noqa: ASYNC240 - a reader never sees half a bundle
            await _audit_export(runtime, cohort, result.patient_ids)
    except (FhirExportError, SchemaBehindError) as exc:
        partial.unlink(missing_ok=True)  # noqa: ASYNC240
        return _fail(str(exc))
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(result.counts.by_type.items()))
    print(f"wrote {out}: {counts}; {result.checked} checked with fhir.resources")  # noqa: T201
    return 0


async def _audit_export(runtime: Runtime, cohort: str, patient_ids: Sequence[int]) -> None:
    """The operator's export is a read of every patient in it, audited like /export's."""
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        stored = await uow.cohorts.by_name(cohort)
        if stored is not None:
            uow.audit.record(
                at=now,
                actor="operator",
                action="operator_exported",
                cohort_id=stored.id,
                details={"format": "fhir", "patients": len(patient_ids)},
            )
            uow.audit.record_reads(
                at=now,
                actor="operator",
                action="patient_exported",
                cohort_id=stored.id,
                patient_ids=patient_ids,
                details={"format": "fhir"},
            )
        await uow.commit()


async def _outcomes(settings: Settings, cohort: str, start: str | None, end: str | None) -> int:
    """moodcheck outcomes: the cohort's outcome figures, as the group's /outcomes shows them."""
    from datetime import UTC, date, datetime, timedelta  # noqa: PLC0415

    from bot.services.digest.outcomes import DEFAULT_DAYS, OutcomesService  # noqa: PLC0415
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    config = load_config(settings.config)
    config.cohort(cohort)
    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS)
    except ValueError as exc:
        return _fail(f"--from and --to take dates as YYYY-MM-DD ({exc})")
    if first >= last:
        return _fail("--from must be before --to")
    try:
        async with _reading_runtime(settings, config) as runtime:
            text = await OutcomesService(runtime).text(cohort, first, last)
    except (LookupError, SchemaBehindError) as exc:
        return _fail(str(exc))
    print(re.sub(r"</?b>", "", text))  # noqa: T201 - the command's output
    return 0


def _sandbox(port: int, database: Path | None, config: Path | None) -> int:
    from bot.tryout.launch import serve  # noqa: PLC0415 - heavy imports, run only

    if not 0 <= port <= 65535:
        return _fail(f"--port must be 0-65535, not {port}")
    try:
        asyncio.run(serve(port, database, config))
    except OSError as exc:
        return _fail(f"cannot serve the sandbox on 127.0.0.1:{port}: {exc.strerror or exc}")
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.keys import keys_new, keys_rotate  # noqa: PLC0415
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    if args.keys_command == "new":
        return keys_new(settings, only_print=args.print)
    if args.batch < 1:
        return _fail("--batch must be at least 1")
    try:
        asyncio.run(_check_database(settings))
    except SchemaBehindError as exc:
        return _fail(str(exc))
    return asyncio.run(keys_rotate(settings, args.batch))


EXIT_BROKEN = 1


async def _audit_verify(settings: Settings) -> int:
    """moodcheck audit verify: check every audit chain; print each chain's state and the
    first broken link of a broken one (exit code 1)."""
    from bot.services.provider.audit_trail import AuditTrail  # noqa: PLC0415
    from storage.migrate import SchemaBehindError  # noqa: PLC0415

    config = load_config(settings.config)
    try:
        async with _reading_runtime(settings, config) as runtime:
            states = await AuditTrail(runtime).verify()
    except SchemaBehindError as exc:
        return _fail(str(exc))
    broken = [state.broken for state in states if state.broken is not None]
    for state in states:
        verdict = "BROKEN" if state.broken is not None else "ok"
        print(  # noqa: T201 - the command's output
            f"chain {state.chain}: {verdict}, {state.checked} records checked"
            f" (after anchor {state.anchor_seq}), head seq {state.head_seq} hash {state.head_hash}"
        )
    if broken:
        print(f"first broken link: {broken[0].describe()}", file=sys.stderr)  # noqa: T201
        return EXIT_BROKEN
    print(f"audit trail verified: {len(states)} chains")  # noqa: T201
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodcheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (long polling unless --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="take updates on MOODCHECK_WEBHOOK_URL (needs MOODCHECK_WEBHOOK_SECRET)",
    )
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to this version's schema")
    invite = sub.add_parser("invite", help="print a single-use invite link for a patient")
    invite.add_argument("--cohort", required=True)
    invite.add_argument("--label", required=True, help="pseudonymous label, e.g. P-7Q3K")
    export = sub.add_parser("export", help="write a cohort's data as a FHIR R4 Bundle")
    export.add_argument("--cohort", required=True)
    export.add_argument("--format", choices=["fhir"], default="fhir")
    export.add_argument("--out", required=True, help="the JSON file to write")
    export.add_argument(
        "--check-all",
        action="store_true",
        help="validate every resource with fhir.resources (slow: ~75 us each)",
    )
    report = sub.add_parser("outcomes", help="print a cohort's outcome figures")
    report.add_argument("--cohort", required=True)
    report.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: a year ago)")
    report.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today, UTC)")
    keys = sub.add_parser("keys", help="data keys that encrypt patients' text at rest")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new = keys_sub.add_parser(
        "new", help="make a new data key (first in the key file, or printed)"
    )
    new.add_argument(
        "--print", action="store_true", help="only print it (for MOODCHECK_DATA_KEYS)"
    )
    rotate = keys_sub.add_parser("rotate", help="re-encrypt stored values under the newest key")
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction")
    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser(
        "verify", help="check every audit chain; print the first broken link (exit 1)"
    )
    demo = sub.add_parser("demo", help="run a scripted patient against the sandbox server")
    demo.add_argument("--keep", action="store_true", help="keep the demo database")
    sandbox = sub.add_parser(
        "sandbox", help="try the bot in a browser: a patient's phone and the care team's group"
    )
    sandbox.add_argument("--port", type=int, default=8300, help="on 127.0.0.1; 0 picks one")
    sandbox.add_argument("--db", type=Path, help="SQLite file (default: a temporary folder)")
    sandbox.add_argument("--config", type=Path, help="cohort file (default: a sample clinic)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``moodcheck`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "run":
            return _run(settings, webhook=args.webhook)
        if args.command == "db":
            return _db_upgrade(settings)
        if args.command == "keys":
            return _keys(settings, args)
        if args.command == "invite":
            return asyncio.run(_invite(settings, args.cohort, args.label))
        if args.command == "outcomes":
            return asyncio.run(_outcomes(settings, args.cohort, args.start, args.end))
        if args.command == "audit":
            return asyncio.run(_audit_verify(settings))
        if args.command == "export":
            return asyncio.run(_export(settings, args.cohort, args.out, check_all=args.check_all))
        if args.command == "sandbox":
            return _sandbox(args.port, args.db, args.config)
        from bot.ops.demo import run_demo  # noqa: PLC0415

        return asyncio.run(run_demo(keep=args.keep))
    except (SettingsError, ConfigError, DataKeyError) as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
