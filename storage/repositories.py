"""Repositories: queries and writes for one aggregate each. They never commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Executable,
    Insert,
    Integer,
    Row,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import lifecycle
from storage.models import (
    Alert,
    AlertPost,
    Answer,
    Base,
    Checkin,
    Cohort,
    Invite,
    OutboxMessage,
    Patient,
    PatientMessage,
    ProcessedUpdate,
)
from storage.types import UTCDateTime

_T = TypeVar("_T")
_E = TypeVar("_E", bound=Executable)


_OUTBOX = cast("Table", OutboxMessage.__table__)
_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("lease_until"))
)


def _by_id(columns: tuple[str, ...], table: Table = _OUTBOX) -> Update:
    """``UPDATE table SET column = :v_column ... WHERE id = :b_id`` (built once: ``_built``)."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns})
    )


@dataclass(frozen=True)
class _UpdateById:
    """Builds ``_by_id(columns)`` for ``_Repository._built`` (the same on every dialect)."""

    columns: tuple[str, ...]

    def __call__(self, _dialect: str) -> Update:
        return _by_id(self.columns)


def _skip_locked(stmt: Select[_T], dialect: str) -> Select[_T]:
    """Lock the selected rows on PostgreSQL so several workers share work without doubles.

    SQLite has one writer at a time (BEGIN IMMEDIATE), which is the same guarantee.
    """
    return stmt.with_for_update(skip_locked=True) if dialect == "postgresql" else stmt


def _claim_statement(dialect: str, *, urgent: bool, sharded: bool) -> Select[*tuple[Any, ...]]:
    """The delivery worker's claim (built once per variant: ``_Repository._built``), its
    values as parameters (``now``, ``limit``, ``max_priority``, ``rank``, ``count``), on the
    table: the worker claims at least once per round and lane, and building, keying and
    ORM-loading the query each time cost more than running it."""
    out = _OUTBOX
    earlier = out.alias("earlier")
    blocked = (
        select(earlier.c.id)
        .where(
            earlier.c.chat_id == out.c.chat_id,
            earlier.c.status == "pending",
            # "+ 0": the priority is only a filter here, never an index bound. Offered
            # (status, priority) SQLite chose that index (it has no statistics) and walked
            # every pending message for each candidate: 120 ms a claim at 20,000 queued.
            # The chat's own index (chat_id, status, id) reads one or two entries.
            # tests/integration/test_claim_plans.py checks the plans on both databases.
            earlier.c.priority + literal_column("0") <= out.c.priority,
            earlier.c.id < out.c.id,
        )
        .exists()
    )
    stmt: Select[*tuple[Any, ...]] = (
        select(
            out.c.id,
            out.c.chat_id,
            out.c.method,
            out.c.payload,
            out.c.priority,
            out.c.attempts,
            out.c.on_sent,
            out.c.ref_id,
        )
        .where(
            out.c.status == "pending",
            out.c.next_attempt_at <= bindparam("now"),
            or_(out.c.lease_until.is_(None), out.c.lease_until < bindparam("now")),
            ~blocked,
        )
        .order_by(out.c.priority, out.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if urgent:
        stmt = stmt.where(out.c.priority <= bindparam("max_priority"))
    if sharded:
        count = bindparam("count", type_=Integer)
        # SQL's % keeps the sign of the dividend; group ids are negative.
        stmt = stmt.where((out.c.chat_id % count + count) % count == bindparam("rank"))
    return _skip_locked(stmt, dialect)


def _insert_ignoring(dialect: str, table: Table, conflict: tuple[str, ...]) -> Insert:
    """``INSERT .. ON CONFLICT DO NOTHING`` on a table (built once: ``_Repository._built``).

    On the table, not the mapped class: a Core statement skips the ORM's bulk-insert
    machinery, and a statement object used again keeps its cache key (building and keying
    the statement afresh was most of an insert's CPU on the tap path).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=conflict)


_ANSWERS_TABLE = cast("Table", Answer.__table__)
_CHECKINS = cast("Table", Checkin.__table__)
_ANSWERS = select(_ANSWERS_TABLE.c.item_id, _ANSWERS_TABLE.c.value).where(
    _ANSWERS_TABLE.c.checkin_id == bindparam("checkin_id")
)
"""A check-in's answers: read on every tap, so built once, on the table (no ORM)."""


_OUTBOX_INSERT = insert(_OUTBOX)
"""A plain insert, built once (see ``_insert_ignoring``)."""

_TAPPED = frozenset({"status", "position", "message_id", "completed_at", "draft", "version"})
"""The columns of a check-in that a tap changes (``CheckinRepository.write_tapped``)."""
_CHECKIN_COLUMNS = frozenset(inspect(Checkin).column_attrs.keys())

_BUILT: dict[tuple[str, str], Any] = {}
"""Statements run over and over with their values as parameters, built once per dialect (see
``_Repository._built``)."""


class DuePatient(NamedTuple):
    """The columns of a patient that the due scan reads."""

    id: int
    cohort_id: int
    chat_id: int
    locale: str
    timezone: str
    checkin_time: str
    next_prompt_at: datetime
    consented_at: datetime
    course_started_on: date | None


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.sync_session.get_bind().dialect.name

    def _built(self, name: str, build: Callable[[str], _E]) -> _E:
        """Return the statement ``build(dialect)`` makes, made once per dialect.

        For statements run many times in a row with values as parameters: building them and
        deriving SQLAlchemy's cache keys was a visible share of a due-scan batch
        (docs/performance.md, "Figures behind constants in the code"); a built one keeps its
        key.
        """
        key = (name, self.dialect)
        built = _BUILT.get(key)
        if built is None:
            built = _BUILT[key] = build(key[1])
        return cast("_E", built)

    async def _insert_ignore(
        self, model: type[Base], values: dict[str, Any], conflict: Sequence[str]
    ) -> bool:
        """Insert a row unless it would break a unique constraint; tell whether it went in."""
        table = cast("Table", model.__table__)
        stmt = self._built(
            f"ignore:{table.name}:{','.join(conflict)}",
            lambda dialect: _insert_ignoring(dialect, table, tuple(conflict)),
        )
        # No autoflush: a row that goes in by id needs nothing pending (what it refers to
        # has its id, so it is in the database), and flushing here wrote a check-in's row
        # once per statement of a tap instead of once at commit.
        with self.session.no_autoflush:
            result = cast("CursorResult[Any]", await self.session.execute(stmt, values))
        return result.rowcount == 1

    def _locking(self, stmt: Select[_T]) -> Select[_T]:
        """Lock the selected rows on PostgreSQL (see ``_skip_locked``)."""
        return _skip_locked(stmt, self.dialect)


class CohortRepository(_Repository):
    """Cohorts, mirrored from the configuration file."""

    async def by_name(self, name: str) -> Cohort | None:
        """Return the cohort of that name."""
        return await self.session.scalar(select(Cohort).where(Cohort.name == name))

    async def get(self, cohort_id: int) -> Cohort | None:
        """Return the cohort with that id."""
        return await self.session.get(Cohort, cohort_id)

    async def all(self) -> Sequence[Cohort]:
        """Return every cohort."""
        return (await self.session.scalars(select(Cohort))).all()

    async def upsert(self, values: dict[str, Any], now: datetime) -> Cohort:
        """Create the cohort or bring it in line with the configuration."""
        cohort = await self.by_name(values["name"])
        if cohort is None:
            cohort = Cohort(**values, created_at=now, updated_at=now)
            self.session.add(cohort)
        else:
            changed = False
            for key, value in values.items():
                if getattr(cohort, key) != value:
                    setattr(cohort, key, value)
                    changed = True
            if changed:
                cohort.updated_at = now
        await self.session.flush()
        return cohort


class InviteRepository(_Repository):
    """Invites, looked up by the hash of their code."""

    def add(self, invite: Invite) -> None:
        """Stage a new invite."""
        self.session.add(invite)

    async def by_hash(self, code_hash: str) -> Invite | None:
        """Return the invite whose code hashes to this."""
        stmt = select(Invite).where(Invite.code_hash == code_hash)
        return await self.session.scalar(self._locking(stmt))

    async def get(self, invite_id: int) -> Invite | None:
        """Return the invite with that id."""
        stmt = select(Invite).where(Invite.id == invite_id)
        return await self.session.scalar(self._locking(stmt))


class PatientRepository(_Repository):
    """Patients."""

    def add(self, patient: Patient) -> None:
        """Stage a new patient."""
        self.session.add(patient)

    async def get(self, patient_id: int) -> Patient | None:
        """Return the patient with that id."""
        return await self.session.get(Patient, patient_id)

    subject: int | None = None
    """The patient this unit of work found by Telegram account (see ``UpdateRepository.link``)."""

    async def by_telegram_user(self, user_id: int) -> Patient | None:
        """Return the patient who uses this Telegram account."""
        patient = await self.session.scalar(
            select(Patient).where(Patient.telegram_user_id == user_id)
        )
        if patient is not None:
            self.subject = patient.id
        return patient

    async def label_taken(self, cohort_id: int, label: str) -> bool:
        """Tell whether a cohort already has a patient with this label."""
        found = await self.session.scalar(
            select(Patient.id).where(Patient.cohort_id == cohort_id, Patient.label == label)
        )
        return found is not None

    async def due(self, now: datetime, limit: int) -> list[DuePatient]:
        """Return active patients whose next prompt time has come, locked for this scan.

        Columns, not ORM objects: loading the busiest minute's Patient objects and flushing
        their new prompt times was an eighth of its scan, and the objects lengthened the
        garbage collections in the middle of it (docs/performance.md, "Figures behind
        constants in the code").
        """
        stmt = self._built("due", self._due_statement)
        result = await self.session.execute(stmt, {"now": now, "limit": limit})
        return [DuePatient(*row) for row in result]

    @staticmethod
    def _due_statement(dialect: str) -> Select[Any]:
        stmt = (
            select(*(getattr(Patient, name) for name in DuePatient._fields))
            .where(
                Patient.status == lifecycle.PatientStatus.ACTIVE,
                Patient.next_prompt_at <= bindparam("now", type_=UTCDateTime()),
            )
            .order_by(Patient.next_prompt_at, Patient.id)
            .limit(bindparam("limit", type_=Integer()))
        )
        # On PostgreSQL several workers scan side by side: each takes rows no other holds.
        return _skip_locked(stmt, dialect)

    async def set_next_prompts(self, pairs: Sequence[tuple[int, datetime]]) -> None:
        """Set patients' next prompt times: (patient_id, next_prompt_at), in one executemany."""
        if not pairs:
            return
        stmt = self._built("set_next_prompts", self._set_next_prompts_statement)
        await self.session.execute(stmt, [{"pid": pid, "next": at} for pid, at in pairs])

    @staticmethod
    def _set_next_prompts_statement(_dialect: str) -> Executable:
        # The table, not the entity, as in CheckinRepository.open_many.
        table = cast("Table", Patient.__table__)
        return (
            update(table)
            .where(table.c.id == bindparam("pid"))
            .values(next_prompt_at=bindparam("next", type_=UTCDateTime()))
        )

    async def mark_unreachable_by_chat(self, chat_id: int, now: datetime) -> Patient | None:
        """Mark the patient in this private chat unreachable (they blocked the bot)."""
        patient = await self.session.scalar(select(Patient).where(Patient.chat_id == chat_id))
        if patient is None:
            return None
        try:
            patient.move(lifecycle.mark_unreachable(patient.lifecycle(), now), now)
        except lifecycle.Refused:  # withdrawn, discharged, or unreachable already
            return None
        return patient


class CheckinRepository(_Repository):
    """Check-ins and their answers."""

    async def with_patient(self, checkin_id: int) -> tuple[Checkin, Patient] | None:
        """Return a check-in and its patient in one query (the check-in locked for update on
        PostgreSQL)."""
        stmt = self._built("checkin_with_patient", self._with_patient_statement)
        row = (await self.session.execute(stmt, {"checkin_id": checkin_id})).first()
        if row is None:
            return None
        self.subject = row[1].id
        return row[0], row[1]

    subject: int | None = None
    """The patient of the check-in this unit of work loaded (see ``UpdateRepository.link``)."""

    async def write_tapped(self, checkin: Checkin) -> None:
        """Write what a tap changed on a check-in it loaded, in one statement built once.

        The ORM's flush of the one changed row (change tracking, a unit of work, a statement
        looked up per flush) was the tap transaction's largest part. The row is written by
        id, as loaded (on PostgreSQL it is locked since :meth:`with_patient`; on SQLite the
        transaction is the only writer), and the object leaves the session so that the ORM
        does not write it again at commit. Nothing to do if the ORM already wrote it (an
        autoflush before a query) and nothing changed since; and the ORM writes it, as
        anywhere else, if a column other than a tap's changed too.
        """
        changed = _CHECKIN_COLUMNS - inspect(checkin).unmodified
        if not changed or not changed <= _TAPPED:
            return
        stmt = self._built("checkin_tapped", self._tapped_statement)
        values = {f"new_{name}": getattr(checkin, name) for name in _TAPPED}
        with self.session.no_autoflush:
            await self.session.execute(stmt, {"checkin_id": checkin.id, **values})
        self.session.expunge(checkin)

    @staticmethod
    def _tapped_statement(dialect: str) -> Update:
        del dialect  # the same on every dialect
        table = cast("Table", Checkin.__table__)
        return (
            update(table)
            .where(table.c.id == bindparam("checkin_id"))
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in _TAPPED})
        )

    @staticmethod
    def _with_patient_statement(dialect: str) -> Select[Checkin, Patient]:
        stmt = (
            select(Checkin, Patient)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(Checkin.id == bindparam("checkin_id"))
        )
        return stmt.with_for_update(of=Checkin) if dialect == "postgresql" else stmt

    async def for_day(self, patient_id: int, day: date) -> Checkin | None:
        """Return the patient's check-in for a local date."""
        return await self.session.scalar(
            select(Checkin).where(Checkin.patient_id == patient_id, Checkin.local_date == day)
        )

    async def open_for_day(self, values: dict[str, Any]) -> tuple[Checkin, bool]:
        """Return the check-in for (patient, local date), creating it if needed.

        The unique constraint decides races: whoever inserts second gets the first's row.
        Returns the row and whether this call created it.
        """
        created = await self._insert_ignore(Checkin, values, ("patient_id", "local_date"))
        checkin = await self.for_day(values["patient_id"], values["local_date"])
        assert checkin is not None  # noqa: S101 - inserted or already there
        return checkin, created

    async def open_many(self, rows: Sequence[dict[str, Any]]) -> dict[int, int]:
        """Create check-ins in one statement, skipping (patient, date) pairs that exist.

        Returns the new check-ins' ids by patient id.
        """
        if not rows:
            return {}
        stmt = self._built("open_many", self._open_many_statement)
        # Rows as executemany parameters: one compiled statement, sent in batches
        # ("insertmanyvalues"). A multi-row VALUES is compiled afresh for every row count:
        # 60 % of a due scan under cProfile.
        result = await self.session.execute(stmt, list(rows))
        return {int(patient_id): int(checkin_id) for patient_id, checkin_id in result.all()}

    @staticmethod
    def _open_many_statement(dialect: str) -> Executable:
        # The table, not the entity: with a list of rows, insert(Checkin) is the ORM's bulk
        # insert, which does per-row work of its own before Core's.
        table = cast("Table", Checkin.__table__)
        return _insert_ignoring(dialect, table, ("patient_id", "local_date")).returning(
            table.c.patient_id, table.c.id
        )

    async def add_answer(self, checkin_id: int, item_id: str, value: str, at: datetime) -> bool:
        """Store an answer unless the item already has one; tell whether it was stored."""
        return await self._insert_ignore(
            Answer,
            {"checkin_id": checkin_id, "item_id": item_id, "value": value, "answered_at": at},
            ("checkin_id", "item_id"),
        )

    async def answers(self, checkin_id: int) -> dict[str, str]:
        """Return the answers of a check-in by item id."""
        rows = await self.session.execute(_ANSWERS, {"checkin_id": checkin_id})
        return {str(item_id): str(value) for item_id, value in rows.all()}

    async def set_message_ids(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Record which Telegram message shows each check-in: (checkin_id, message_id)."""
        if pairs:
            # On the table (as OutboxRepository.apply): one per prompt the worker sends.
            stmt = self._built(
                "checkin-message-ids", lambda _d: _by_id(("message_id",), _CHECKINS)
            )
            await self.session.execute(
                stmt, [{"b_id": checkin, "v_message_id": message} for checkin, message in pairs]
            )

    async def delete_answer(self, checkin_id: int, item_id: str) -> None:
        """Remove an answer (the patient went Back to change it)."""
        await self.session.execute(
            delete(Answer).where(Answer.checkin_id == checkin_id, Answer.item_id == item_id)
        )

    async def closing(self, now: datetime, limit: int) -> Sequence[Checkin]:
        """Return open check-ins whose window has closed, locked for this scan."""
        stmt = (
            select(Checkin)
            .where(Checkin.status == "open", Checkin.closes_at <= now)
            .order_by(Checkin.closes_at, Checkin.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def needing_reminder(
        self, now: datetime, opened_before: datetime, limit: int
    ) -> Sequence[tuple[Checkin, Patient]]:
        """Return open, unreminded check-ins opened before a time, with their patients."""
        stmt = (
            select(Checkin, Patient)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(
                Checkin.status == "open",
                Checkin.reminded_at.is_(None),
                Checkin.closes_at > now,
                Checkin.opened_at <= opened_before,
                Patient.status == lifecycle.PatientStatus.ACTIVE,
            )
            .order_by(Checkin.opened_at, Checkin.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=Checkin)
        return [(row[0], row[1]) for row in (await self.session.execute(stmt)).all()]

    async def answered_ids(self, checkin_ids: Sequence[int]) -> set[int]:
        """Return which of these check-ins have at least one answer."""
        if not checkin_ids:
            return set()
        rows = await self.session.scalars(
            select(Answer.checkin_id).where(Answer.checkin_id.in_(checkin_ids)).distinct()
        )
        return set(rows.all())

    async def with_answers_of(self, patient_id: int) -> list[tuple[Checkin, dict[str, str]]]:
        """Return a patient's check-ins, oldest first, each with its answers by item id."""
        checkins = (
            await self.session.scalars(
                select(Checkin)
                .where(Checkin.patient_id == patient_id)
                .order_by(Checkin.local_date)
            )
        ).all()
        answers: dict[int, dict[str, str]] = {c.id: {} for c in checkins}
        rows = await self.session.execute(
            select(Answer.checkin_id, Answer.item_id, Answer.value)
            .join(Checkin, Checkin.id == Answer.checkin_id)
            .where(Checkin.patient_id == patient_id)
        )
        for checkin_id, item_id, value in rows.all():
            answers.setdefault(checkin_id, {})[str(item_id)] = str(value)
        return [(c, answers[c.id]) for c in checkins]


class AlertRepository(_Repository):
    """Alerts for the care team, and the group messages (posts) that show their events."""

    async def add_if_absent(self, values: dict[str, Any]) -> Alert | None:
        """Create an alert unless one with the same dedup key exists; return the new one."""
        created = await self._insert_ignore(Alert, values, ("dedup_key",))
        if not created:
            return None
        return await self.session.scalar(
            select(Alert).where(Alert.dedup_key == values["dedup_key"])
        )

    async def announced_for_checkin(self, checkin_id: int) -> bool:
        """Tell whether an alert raised from a check-in went (or is going) to the group."""
        found = await self.session.scalar(
            select(Alert.id)
            .where(Alert.checkin_id == checkin_id, Alert.head_id.is_not(None))
            .limit(1)
        )
        return found is not None

    async def get(self, alert_id: int) -> Alert | None:
        """Return an alert, locked for update on PostgreSQL."""
        return await self.session.get(
            Alert, alert_id, with_for_update=self.dialect == "postgresql"
        )

    async def set_group_message_ids(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Record the group message of each announcement: (first head alert id, message id).

        Every alert of every event the announcement lists holds that head's id negated until
        then.
        """
        for head_id, message_id in pairs:
            await self.session.execute(
                update(Alert)
                .where(Alert.group_message_id == -head_id)
                .values(group_message_id=message_id)
            )

    async def of_events(self, head_ids: Sequence[int]) -> Sequence[Alert]:
        """Return the alerts of some events (by head id), oldest first. Not locked: a press
        locks its event's head, and what a message shows is read under its post's lock."""
        if not head_ids:
            return []
        stmt = select(Alert).where(Alert.head_id.in_(head_ids)).order_by(Alert.id)
        return (await self.session.scalars(stmt)).all()

    async def waiting(self, cohort_id: int, limit: int) -> Sequence[Alert]:
        """Return the heads of a cohort's events not yet announced, IMMEDIATE first, then
        oldest; locked for this flush."""
        stmt = (
            select(Alert)
            .where(
                Alert.group_message_id.is_(None),
                Alert.head_id.is_not(None),
                Alert.head_id == Alert.id,
                Alert.cohort_id == cohort_id,
            )
            .order_by(case((Alert.tier == "IMMEDIATE", 0), else_=1), Alert.created_at, Alert.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def cohorts_waiting(self) -> list[int]:
        """Return the cohorts that have events waiting to be announced."""
        rows = await self.session.scalars(
            select(Alert.cohort_id)
            .where(
                Alert.group_message_id.is_(None),
                Alert.head_id.is_not(None),
                Alert.head_id == Alert.id,
            )
            .distinct()
        )
        return sorted(rows.all())

    async def due_reraise(self, now: datetime, limit: int) -> Sequence[Alert]:
        """Return heads of announced events due to be raised again (unacknowledged), locked
        for this scan."""
        stmt = (
            select(Alert)
            .where(
                Alert.next_reraise_at <= now,
                Alert.acknowledged_at.is_(None),
                Alert.resolved_at.is_(None),
                Alert.group_message_id.is_not(None),
            )
            .order_by(Alert.next_reraise_at, Alert.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def outbox_id(self, dedup_key: str) -> int | None:
        """Return the id of the outbox row queued under a dedup key."""
        return await self.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        )

    async def add_posts(self, rows: Sequence[tuple[int, int, int]]) -> None:
        """Record which events a group message shows: (head id, step, outbox id); step 0 is
        the announcement, n the n-th re-raise."""
        for head_id, step, outbox_id in rows:
            await self._insert_ignore(
                AlertPost,
                {"head_id": head_id, "step": step, "outbox_id": outbox_id},
                ("head_id", "step"),
            )

    async def posts_of(self, head_id: int) -> list[tuple[int, int, int | None]]:
        """Return the messages that show an event: (step, outbox id, Telegram message id or
        None while unsent), locked on PostgreSQL."""
        stmt = (
            select(AlertPost.step, AlertPost.outbox_id, OutboxMessage.telegram_message_id)
            .join(OutboxMessage, OutboxMessage.id == AlertPost.outbox_id)
            .where(AlertPost.head_id == head_id)
            .order_by(AlertPost.outbox_id)
        )
        if self.dialect == "postgresql":
            # Presses on two events of one shared message each re-render all of it: taking
            # the messages' rows in one order makes the second wait and see the first's work.
            stmt = stmt.with_for_update(of=OutboxMessage)
        rows = await self.session.execute(stmt)
        return [(int(step), int(outbox), mid) for step, outbox, mid in rows.all()]

    async def on_post(self, outbox_id: int) -> list[tuple[int, int]]:
        """Return the events one group message shows: (head id, step)."""
        rows = await self.session.execute(
            select(AlertPost.head_id, AlertPost.step)
            .where(AlertPost.outbox_id == outbox_id)
            .order_by(AlertPost.head_id)
        )
        return [(int(head), int(step)) for head, step in rows.all()]

    async def of_patient(self, patient_id: int) -> Sequence[Alert]:
        """Return every alert raised for a patient, oldest first."""
        return (
            await self.session.scalars(
                select(Alert).where(Alert.patient_id == patient_id).order_by(Alert.id)
            )
        ).all()


class OutboxRepository(_Repository):
    """Messages waiting to be sent, and their delivery state."""

    async def sent_message_id(self, dedup_key: str) -> int | None:
        """Return the Telegram id of the message queued under a dedup key, once sent."""
        return await self.session.scalar(
            select(OutboxMessage.telegram_message_id).where(OutboxMessage.dedup_key == dedup_key)
        )

    async def enqueue(self, values: dict[str, Any]) -> bool:
        """Queue a message; with a dedup key already used, queue nothing and return False."""
        if values.get("dedup_key") is None:
            with self.session.no_autoflush:  # as in _insert_ignore
                await self.session.execute(_OUTBOX_INSERT, values)
            return True
        return await self._insert_ignore(OutboxMessage, values, ("dedup_key",))

    async def enqueue_many(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue many messages in one statement; rows whose dedup key was used are skipped."""
        if not rows:
            return 0
        stmt = self._built("enqueue_many", self._enqueue_many_statement)
        # As in CheckinRepository.open_many; RETURNING counts what went in on every backend
        # (an executemany's rowcount is not reliable across drivers).
        result = await self.session.execute(stmt, list(rows))
        return len(result.all())

    @staticmethod
    def _enqueue_many_statement(dialect: str) -> Executable:
        return _insert_ignoring(dialect, _OUTBOX, ("dedup_key",)).returning(_OUTBOX.c.id)

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        shard: tuple[int, int] | None = None,
        max_priority: int | None = None,
    ) -> Sequence[Row[Any]]:
        """Lease the next messages to send, most urgent first: rows with the columns the
        delivery worker needs (id, chat_id, method, payload, priority, attempts, on_sent,
        ref_id).

        A message waits while an earlier one to the same chat, at the same or a more urgent
        priority, is still pending: messages to one chat arrive in order, yet a crisis card
        can overtake a routine prompt. A lease (not a status change) marks a claim, so a
        worker that dies mid-send leaves its messages to be claimed again when it expires.

        Args:
            shard: (rank, count): only chats with ``chat_id mod count == rank`` (several
                workers each sending to their own chats; ids of groups are negative).
            max_priority: only messages this urgent or more (the worker's fast lane).
        """
        urgent, sharded = max_priority is not None, shard is not None
        stmt = self._built(
            f"claim:{urgent}:{sharded}",
            lambda dialect: _claim_statement(dialect, urgent=urgent, sharded=sharded),
        )
        params: dict[str, Any] = {"now": now, "limit": limit, "max_priority": max_priority}
        if shard is not None:
            params["rank"], params["count"] = shard
        rows = (await self.session.execute(stmt, params)).all()
        if rows:
            await self.session.execute(
                _LEASE, {"ids": [row.id for row in rows], "lease_until": now + lease}
            )
        return rows

    async def release_leases(self) -> int:
        """Forget every lease (a process that knows it is the only one, at its start: the
        leases are a dead predecessor's, whose messages would otherwise wait for them to end).
        Returns how many were released."""
        result = cast(
            "CursorResult[Any]",
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.lease_until.is_not(None))
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount

    async def count_dead(self, chat_id: int | None = None) -> tuple[int, int]:
        """Return (dead messages, of which to groups), all or to one chat: what operators
        (and a provider group, for its own chat) must be told of."""
        stmt = select(func.count(), func.count().filter(OutboxMessage.chat_id < 0)).where(
            OutboxMessage.status == "dead"
        )
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1])

    async def apply(self, changes: Sequence[dict[str, Any]]) -> None:
        """Write delivery outcomes: each dict has ``id`` and the columns to set.

        One executemany per set of columns, on the table: the ORM's bulk update by primary
        key cost 11 ms of a 6-message cycle's 18 (profiled ``python -m bench.fanout``), more
        than the messages' own sending."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for change in changes:
            columns = tuple(sorted(name for name in change if name != "id"))
            params = {f"v_{name}": change[name] for name in columns}
            params["b_id"] = change["id"]
            groups.setdefault(columns, []).append(params)
        for columns, rows in groups.items():
            stmt = self._built(f"outbox-apply:{','.join(columns)}", _UpdateById(columns))
            await self.session.execute(stmt, rows)

    async def scrub_finished(
        self, before: datetime, limit: int, *, cohort_id: int | None, chats: Sequence[int]
    ) -> int:
        """Blank the payload of finished messages created before a time, and the chat id of
        those to private chats (0: no one); return how many rows changed.

        ``cohort_id``: the messages to or about that cohort's patients (linked, or to their
        chats) or to ``chats`` (its group); None: the messages of no cohort (to people not
        enrolled, or no longer: an erased patient's chat id is gone), ``chats`` being every
        cohort's chats.
        """
        if cohort_id is not None:
            ours = Patient.cohort_id == cohort_id
            scope = or_(
                OutboxMessage.patient_id.in_(select(Patient.id).where(ours)),
                OutboxMessage.chat_id.in_(select(Patient.chat_id).where(ours)),
                OutboxMessage.chat_id.in_(chats),
            )
        else:
            scope = and_(
                OutboxMessage.patient_id.is_(None),
                OutboxMessage.chat_id.not_in(chats),
                OutboxMessage.chat_id.not_in(select(Patient.chat_id)),
            )
        stmt = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status != "pending",
                OutboxMessage.created_at < before,
                scope,
                # Rows already scrubbed are skipped (text form: JSON has no = on PG). The
                # payload is encrypted, but a blanked one is stored as a plain {}
                # (EncryptedJSON), so this looks at no content.
                or_(cast_(OutboxMessage.payload, String) != "{}", OutboxMessage.chat_id > 0),
            )
            .limit(limit)
        )
        # Locked and skipped: two workers' housekeeping never waits for (or deadlocks with)
        # the other's, each scrubs its own rows.
        ids = (await self.session.scalars(self._locking(stmt))).all()
        if ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(
                    payload={},
                    chat_id=case((OutboxMessage.chat_id > 0, 0), else_=OutboxMessage.chat_id),
                )
            )
        return len(ids)

    async def cancel_pending_for_chat(self, chat_id: int, reason: str) -> None:
        """Stop trying to reach a chat (the user blocked the bot)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == "pending")
            .values(status="cancelled", last_error=reason, lease_until=None)
        )

    async def group_usage(
        self, chat_id: int, since: datetime, *, alert_priority: int
    ) -> tuple[int, int]:
        """Count a chat's messages that take a place in its rate window: those waiting to be
        sent and those sent since ``since`` (the alert announcer's budget), as (alert
        messages, others); alert messages are those at ``alert_priority`` or more urgent."""
        alert = OutboxMessage.priority <= alert_priority
        row = (
            await self.session.execute(
                select(func.count().filter(alert), func.count().filter(~alert))
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.chat_id == chat_id,
                    or_(
                        OutboxMessage.status == "pending",
                        and_(OutboxMessage.status == "sent", OutboxMessage.sent_at >= since),
                    ),
                )
            )
        ).one()
        return int(row[0] or 0), int(row[1] or 0)


class UpdateRepository(_Repository):
    """Telegram updates already processed."""

    async def forget(self, before: datetime, limit: int) -> int:
        """Forget update ids processed before a time (replays stop long before); return how
        many."""
        ids = (
            await self.session.scalars(
                # Skip rows another worker's housekeeping holds: no deadlock, no double work.
                self._locking(
                    select(ProcessedUpdate.update_id)
                    .where(ProcessedUpdate.processed_at < before)
                    .limit(limit)
                )
            )
        ).all()
        if ids:
            await self.session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(ids))
            )
        return len(ids)

    claimed: int | None = None
    """The update this unit of work claimed (linked to its patient at commit: storage.uow)."""

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record an update as processed; False when it was already (a replay)."""
        self.claimed = update_id
        return await self._insert_ignore(
            ProcessedUpdate, {"update_id": update_id, "processed_at": now}, ("update_id",)
        )

    async def link(self, update_id: int, patient_id: int) -> None:
        """Record whose update it was, so that erasing the patient finds it; nothing if the
        patient row is gone (erased in this very transaction)."""
        stmt = self._built("link_update", self._link_statement)
        await self.session.execute(stmt, {"b_update_id": update_id, "b_patient_id": patient_id})

    @staticmethod
    def _link_statement(_dialect: str) -> Executable:
        table = cast("Table", ProcessedUpdate.__table__)
        patients = cast("Table", Patient.__table__)
        pid = bindparam("b_patient_id", type_=BigInteger())
        return (
            update(table)
            .where(
                table.c.update_id == bindparam("b_update_id", type_=BigInteger()),
                select(patients.c.id).where(patients.c.id == pid).exists(),
            )
            .values(patient_id=pid)
        )


class PatientDataRepository(_Repository):
    """A patient's own data as a whole: messages they sent, their export (erasure:
    storage.erasure)."""

    def add_message(self, message: PatientMessage) -> None:
        """Stage a message from a patient (free text or a sticker, photo ...)."""
        self.session.add(message)

    async def recent_messages(
        self, patient_id: int, since: datetime, limit: int
    ) -> Sequence[PatientMessage]:
        """Return what a patient sent since an instant, newest first, at most ``limit``."""
        result = await self.session.scalars(
            select(PatientMessage)
            .where(PatientMessage.patient_id == patient_id, PatientMessage.received_at >= since)
            .order_by(PatientMessage.received_at.desc(), PatientMessage.id.desc())
            .limit(limit)
        )
        return list(result)

    async def checkins_of(self, patient_id: int) -> Sequence[Checkin]:
        """Return a patient's check-ins, oldest first."""
        stmt = select(Checkin).where(Checkin.patient_id == patient_id).order_by(Checkin.local_date)
        return (await self.session.scalars(stmt)).all()

    async def answers_of(self, patient_id: int) -> Sequence[tuple[date, str, str, datetime]]:
        """Return a patient's answers as (local date, item id, value, answered at)."""
        stmt = (
            select(Checkin.local_date, Answer.item_id, Answer.value, Answer.answered_at)
            .join(Checkin, Checkin.id == Answer.checkin_id)
            .where(Checkin.patient_id == patient_id)
            .order_by(Checkin.local_date, Answer.answered_at, Answer.id)
        )
        return [(row[0], row[1], row[2], row[3]) for row in (await self.session.execute(stmt))]

    async def messages_of(self, patient_id: int) -> Sequence[PatientMessage]:
        """Return what a patient sent that was not an answer, oldest first."""
        stmt = (
            select(PatientMessage)
            .where(PatientMessage.patient_id == patient_id)
            .order_by(PatientMessage.received_at, PatientMessage.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def discharged_before(
        self, cohort_id: int, before: datetime, limit: int
    ) -> Sequence[Patient]:
        """Return a cohort's patients discharged before a time whose data is not yet erased
        (an erased row kept for the audit trail has a negative Telegram id), locked."""
        stmt = (
            select(Patient)
            .where(
                Patient.cohort_id == cohort_id,
                Patient.status == lifecycle.PatientStatus.DISCHARGED,
                Patient.discharged_at < before,
                Patient.telegram_user_id > 0,
            )
            .order_by(Patient.discharged_at, Patient.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def paused_until_before(self, now: datetime, limit: int) -> Sequence[Patient]:
        """Return paused patients whose pause has ended, locked for this scan."""
        stmt = (
            select(Patient)
            .where(Patient.status == lifecycle.PatientStatus.PAUSED, Patient.paused_until <= now)
            .order_by(Patient.paused_until, Patient.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()


class ProviderRepository(_Repository):
    """What the provider commands read: a cohort by its group, its patients, their days,
    alerts and answers."""

    async def undelivered(self, cohort: Cohort, since: datetime) -> tuple[int, int]:
        """Return how many messages since a time were given up on (dead letters): (to the
        cohort's group, to its patients)."""
        to_group = await self.session.scalar(
            select(func.count()).where(
                OutboxMessage.status == "dead",
                OutboxMessage.created_at >= since,
                OutboxMessage.chat_id == cohort.provider_chat_id,
            )
        )
        to_patients = await self.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .join(Patient, Patient.chat_id == OutboxMessage.chat_id)
            .where(
                OutboxMessage.chat_id > 0,  # 0: a chat id blanked by housekeeping
                OutboxMessage.status == "dead",
                OutboxMessage.created_at >= since,
                Patient.cohort_id == cohort.id,
            )
        )
        return int(to_group or 0), int(to_patients or 0)

    async def cohort_by_chat(self, chat_id: int) -> Cohort | None:
        """Return the cohort whose provider group is this chat."""
        return await self.session.scalar(select(Cohort).where(Cohort.provider_chat_id == chat_id))

    async def patient_by_label(self, cohort_id: int, label: str) -> Patient | None:
        """Return a cohort's patient by label (labels are unique per cohort)."""
        stmt = select(Patient).where(Patient.cohort_id == cohort_id, Patient.label == label)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def patients_of(self, cohort_id: int) -> Sequence[Patient]:
        """Return a cohort's patients by label."""
        stmt = select(Patient).where(Patient.cohort_id == cohort_id).order_by(Patient.label)
        return (await self.session.scalars(stmt)).all()

    async def checkins_since(self, patient_ids: Sequence[int], since: date) -> Sequence[Checkin]:
        """Return the check-ins of these patients from a local date on, oldest first."""
        if not patient_ids:
            return []
        stmt = (
            select(Checkin)
            .where(Checkin.patient_id.in_(patient_ids), Checkin.local_date >= since)
            .order_by(Checkin.patient_id, Checkin.local_date)
        )
        return (await self.session.scalars(stmt)).all()

    async def last_done_dates(
        self, patient_ids: Sequence[int], done: Sequence[str]
    ) -> dict[int, date]:
        """Return each patient's newest local date with a check-in in one of ``done``."""
        if not patient_ids:
            return {}
        stmt = (
            select(Checkin.patient_id, func.max(Checkin.local_date))
            .where(Checkin.patient_id.in_(patient_ids), Checkin.status.in_(done))
            .group_by(Checkin.patient_id)
        )
        return {int(pid): day for pid, day in (await self.session.execute(stmt)).all()}

    async def answers_for(self, checkin_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """Return the answers of these check-ins: {checkin id: {item id: value}}."""
        if not checkin_ids:
            return {}
        rows = await self.session.execute(
            select(Answer.checkin_id, Answer.item_id, Answer.value).where(
                Answer.checkin_id.in_(checkin_ids)
            )
        )
        found: dict[int, dict[str, str]] = {}
        for checkin_id, item_id, value in rows.all():
            found.setdefault(int(checkin_id), {})[str(item_id)] = str(value)
        return found

    async def unresolved_alerts(
        self, cohort_id: int, patient_id: int | None = None
    ) -> Sequence[tuple[Alert, str]]:
        """Return a cohort's alerts not yet resolved, oldest first, with the patient label."""
        stmt = (
            select(Alert, Patient.label)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(Alert.cohort_id == cohort_id, Alert.status != lifecycle.AlertStatus.RESOLVED)
            .order_by(Alert.created_at, Alert.id)
        )
        if patient_id is not None:
            stmt = stmt.where(Alert.patient_id == patient_id)
        return [(row[0], str(row[1])) for row in (await self.session.execute(stmt)).all()]

    async def export_rows(
        self, cohort_id: int
    ) -> Sequence[tuple[str, date, str, str, str | None, str | None]]:
        """Return a cohort's check-ins with their answers, one row per answer (or one row
        with no item for a check-in without answers): (label, local date, time zone,
        status, item, value), by label, date and answer time."""
        stmt = (
            select(
                Patient.label,
                Checkin.local_date,
                Checkin.timezone,
                Checkin.status,
                Answer.item_id,
                Answer.value,
            )
            .join(Patient, Patient.id == Checkin.patient_id)
            .outerjoin(Answer, Answer.checkin_id == Checkin.id)
            .where(Patient.cohort_id == cohort_id)
            .order_by(Patient.label, Checkin.local_date, Answer.answered_at, Answer.id)
        )
        return [
            (row[0], row[1], row[2], row[3], row[4], row[5])
            for row in (await self.session.execute(stmt)).all()
        ]


class DigestRepository(_Repository):
    """What the weekly digest reads: a cohort's patients, days, instruments and alerts, each
    in one set-based query (never one per patient)."""

    async def patients(self, cohort_id: int) -> Sequence[tuple[int, str, str]]:
        """Return a cohort's patients as (id, label, status)."""
        stmt = select(Patient.id, Patient.label, Patient.status).where(
            Patient.cohort_id == cohort_id
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in (await self.session.execute(stmt))]

    async def locales(self, cohort_id: int, statuses: Sequence[str]) -> dict[str, int]:
        """Return how many of a cohort's patients in these statuses use each locale."""
        stmt = (
            select(Patient.locale, func.count())
            .where(Patient.cohort_id == cohort_id, Patient.status.in_(statuses))
            .group_by(Patient.locale)
        )
        return {str(r[0]): int(r[1]) for r in (await self.session.execute(stmt))}

    async def day_answers(
        self, cohort_id: int, since: date, until: date, items: Sequence[str]
    ) -> Sequence[tuple[int, date, str, str, str | None, str | None]]:
        """Return a cohort's check-ins between two local dates (inclusive) with their answers
        to some items: (patient id, local date, status, questionnaire, item, value); a
        check-in without such answers comes once with item and value None."""
        stmt = (
            select(
                Checkin.patient_id,
                Checkin.local_date,
                Checkin.status,
                Checkin.questionnaire,
                Answer.item_id,
                Answer.value,
            )
            .join(Patient, Patient.id == Checkin.patient_id)
            .outerjoin(Answer, and_(Answer.checkin_id == Checkin.id, Answer.item_id.in_(items)))
            .where(
                Patient.cohort_id == cohort_id,
                Checkin.local_date >= since,
                Checkin.local_date <= until,
            )
        )
        return [
            (int(r[0]), r[1], str(r[2]), str(r[3]), r[4], r[5])
            for r in (await self.session.execute(stmt)).all()
        ]

    async def checkins_answering(
        self, cohort_id: int, since: date, until: date, items: Sequence[str]
    ) -> Sequence[tuple[int, int, date, str]]:
        """Return the cohort's check-ins between two local dates that answered one of some
        items (e.g. the first item of each instrument): (check-in id, patient id, local
        date, item)."""
        stmt = (
            select(Checkin.id, Checkin.patient_id, Checkin.local_date, Answer.item_id)
            .join(Patient, Patient.id == Checkin.patient_id)
            .join(Answer, Answer.checkin_id == Checkin.id)
            .where(
                Patient.cohort_id == cohort_id,
                Checkin.local_date >= since,
                Checkin.local_date <= until,
                Answer.item_id.in_(items),
            )
        )
        return [
            (int(r[0]), int(r[1]), r[2], str(r[3]))
            for r in (await self.session.execute(stmt)).all()
        ]

    async def answers_of(
        self, checkin_ids: Sequence[int], items: Sequence[str], chunk: int = 500
    ) -> Sequence[tuple[int, str, str]]:
        """Return some items' answers of these check-ins: (check-in id, item, value)."""
        found: list[tuple[int, str, str]] = []
        for start in range(0, len(checkin_ids), chunk):
            stmt = select(Answer.checkin_id, Answer.item_id, Answer.value).where(
                Answer.checkin_id.in_(checkin_ids[start : start + chunk]),
                Answer.item_id.in_(items),
            )
            found.extend(
                (int(r[0]), str(r[1]), str(r[2])) for r in (await self.session.execute(stmt))
            )
        return found

    async def alerts(
        self, cohort_id: int, since: datetime
    ) -> Sequence[tuple[int, str, str, datetime, datetime | None, datetime | None]]:
        """Return a cohort's alerts not resolved, or created, acknowledged or resolved since
        an instant: (patient id, tier, status, created, acknowledged, resolved)."""
        stmt = select(
            Alert.patient_id,
            Alert.tier,
            Alert.status,
            Alert.created_at,
            Alert.acknowledged_at,
            Alert.resolved_at,
        ).where(
            Alert.cohort_id == cohort_id,
            Alert.patient_id.is_not(None),  # an erased patient's alerts count only in outcomes
            or_(
                Alert.status != lifecycle.AlertStatus.RESOLVED,
                Alert.created_at >= since,
                Alert.acknowledged_at >= since,
                Alert.resolved_at >= since,
            ),
        )
        return [
            (int(r[0]), str(r[1]), str(r[2]), r[3], r[4], r[5])
            for r in (await self.session.execute(stmt)).all()
            if r[0] is not None
        ]

    async def raised(
        self, cohort_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[str, str, str, dict[str, Any] | None, datetime]]:
        """Return the alerts a cohort raised in [start, end), oldest first: (label, tier,
        rule, details, created)."""
        stmt = (
            select(Patient.label, Alert.tier, Alert.rule, Alert.details, Alert.created_at)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(
                Alert.cohort_id == cohort_id,
                Alert.created_at >= start,
                Alert.created_at < end,
            )
            .order_by(Alert.created_at, Alert.id)
        )
        return [
            (str(r[0]), str(r[1]), str(r[2]), r[3], r[4])
            for r in (await self.session.execute(stmt)).all()
        ]

    async def queued(self, dedup_key: str) -> bool:
        """Tell whether an outbox message with this dedup key exists (sent or not)."""
        found = await self.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        )
        return found is not None


class OpsRepository(_Repository):
    """What /healthz and /metrics read: the database answering, the outbox, alerts."""

    async def ping(self) -> None:
        """``SELECT 1``; raises when the database does not answer."""
        await self.session.execute(text("SELECT 1"))

    async def outbox_depth(self, statuses: Sequence[str]) -> dict[tuple[str, int], int]:
        """Count outbox rows by (status, priority) among some statuses."""
        rows = await self.session.execute(
            select(OutboxMessage.status, OutboxMessage.priority, func.count())
            .where(OutboxMessage.status.in_(statuses))
            .group_by(OutboxMessage.status, OutboxMessage.priority)
        )
        return {(str(s), int(p)): int(n) for s, p, n in rows.all()}

    async def oldest_due_by_priority(self, now: datetime) -> dict[int, datetime]:
        """When the oldest due pending message of each priority became due."""
        rows = await self.session.execute(
            select(OutboxMessage.priority, func.min(OutboxMessage.next_attempt_at))
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .group_by(OutboxMessage.priority)
        )
        return {int(p): oldest for p, oldest in rows.all()}

    async def alerts_by_tier_and_status(self) -> dict[tuple[str, str], int]:
        """Count alerts by (tier, status)."""
        rows = await self.session.execute(
            select(Alert.tier, Alert.status, func.count()).group_by(Alert.tier, Alert.status)
        )
        return {(str(t), str(s)): int(n) for t, s, n in rows.all()}
