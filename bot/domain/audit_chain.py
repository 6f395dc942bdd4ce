"""The audit trail's hash chain: canonical serialisation, link hashes and verification.

Every audit record belongs to one chain (its cohort's; chain 0 for records of no cohort) and
has a place in it (``seq`` 1, 2, 3 ...). A record's ``hash`` covers its place, its time, actor,
action, cohort, the previous record's hash and a *subject digest*: a salted SHA-256 of the
parts that may name a patient (``patient_id`` and ``details``). Erasure can therefore scrub
those parts (a tombstone replaces the details, the salt is deleted) without breaking any
link: the digest stays, and without its salt nobody can test a guess against it. Every
scrubbed record must be listed by a later ``audit_details_erased`` record of its chain, so a
scrub is itself in the chain. Pruning old records keeps an anchor (the last pruned place and
hash) that the first remaining record must follow. docs/security.md, "Audit trail".

Pure: no I/O. The storage layer feeds records in order and stores what this computes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The "previous hash" of a chain's first record."""
VERSION = 1
TOMBSTONE: Mapping[str, Any] = {"erased": True}
"""What an erased record's details become."""
ERASED_ACTION = "audit_details_erased"
"""The record that lists (``details.seqs``) the records of its chain that were scrubbed."""
PRUNED_ACTION = "audit_pruned"
"""The record that states a prune (``details.through``, ``details.anchor``)."""


def canonical(value: object) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8, no NaN: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def timestamp(moment: datetime) -> str:
    """An instant as the chain writes it: UTC, microseconds, ``Z``."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subject_digest(salt: str, patient_id: int | None, details: Mapping[str, Any]) -> str:
    """The salted digest of a record's erasable parts."""
    body = canonical({"details": dict(details), "patient_id": patient_id})
    return hashlib.sha256(
        f"moodcheck-audit-subject-v{VERSION}\n{salt}\n".encode() + body
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """What a record's hash covers (besides its subject's contents)."""

    chain: int
    seq: int
    at: datetime
    actor: str
    action: str
    cohort_id: int | None
    subject: str
    prev_hash: str

    def hash(self) -> str:
        """The record's hash: SHA-256 of the canonical JSON of these fields."""
        return hashlib.sha256(
            canonical(
                {
                    "v": VERSION,
                    "chain": self.chain,
                    "seq": self.seq,
                    "at": timestamp(self.at),
                    "actor": self.actor,
                    "action": self.action,
                    "cohort_id": self.cohort_id,
                    "subject": self.subject,
                    "prev": self.prev_hash,
                }
            )
        ).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One stored audit record, as read back for verification."""

    id: int
    chain: int
    seq: int | None
    at: datetime
    actor: str
    action: str
    cohort_id: int | None
    patient_id: int | None
    details: Mapping[str, Any]
    salt: str | None
    subject: str | None
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True, slots=True)
class Broken:
    """The first broken link of a chain."""

    chain: int
    seq: int | None
    record_id: int | None
    problem: str

    def describe(self) -> str:
        """One line for the operator."""
        where = f"chain {self.chain}"
        if self.seq is not None:
            where += f", seq {self.seq}"
        if self.record_id is not None:
            where += f" (audit_events.id {self.record_id})"
        return f"{where}: {self.problem}"


@dataclass(slots=True)
class ChainCheck:
    """Verifies one chain, fed its records in ``seq`` order (streaming: any length).

    ``anchor_seq``/``anchor_hash``: the last pruned place and its hash (0 and GENESIS when
    nothing was pruned); ``head_seq``/``head_hash``: what the chain's head row says is last.
    """

    chain: int
    anchor_seq: int
    anchor_hash: str
    head_seq: int
    head_hash: str
    checked: int = 0
    broken: Broken | None = None
    _seq: int = field(init=False)
    _hash: str = field(init=False)
    _scrubbed: dict[int, int] = field(init=False, default_factory=dict)
    _declared: set[int] = field(init=False, default_factory=set)
    _pruned_through: int = field(init=False, default=0)
    _pruned_anchor: str = field(init=False, default=GENESIS)

    def __post_init__(self) -> None:
        self._seq = self.anchor_seq
        self._hash = self.anchor_hash

    def _break(self, record: StoredRecord | None, problem: str) -> None:
        if self.broken is None:
            self.broken = Broken(
                self.chain,
                record.seq if record is not None else None,
                record.id if record is not None else None,
                problem,
            )

    def feed(self, records: Iterable[StoredRecord]) -> None:
        """Check the next records (in ``seq`` order); stops at the first broken link."""
        for record in records:
            if self.broken is not None:
                return
            self._one(record)

    def _one(self, record: StoredRecord) -> None:
        if record.seq is None or record.hash is None or record.subject is None:
            self._break(record, "record is not in the chain (no seq or hash): inserted outside")
            return
        if record.seq != self._seq + 1:
            if self._seq == self.anchor_seq and self.anchor_seq == 0:
                problem = f"records 1-{record.seq - 1} are missing (deleted without an anchor)"
            elif self._seq == self.anchor_seq:
                problem = (
                    f"first record should be seq {self._seq + 1} (after the prune anchor): "
                    f"records {self._seq + 1}-{record.seq - 1} deleted"
                )
            else:
                problem = f"records {self._seq + 1}-{record.seq - 1} are missing (deleted)"
            self._break(record, problem)
            return
        if record.prev_hash != self._hash:
            self._break(record, "previous hash does not match the record before it")
            return
        link = Link(
            self.chain,
            record.seq,
            record.at,
            record.actor,
            record.action,
            record.cohort_id,
            record.subject,
            record.prev_hash,
        )
        if link.hash() != record.hash:
            self._break(
                record, "hash does not match the record (time, actor, action or cohort changed)"
            )
            return
        if record.salt is None:
            if dict(record.details) != dict(TOMBSTONE) or record.patient_id is not None:
                self._break(record, "erased record carries details or a patient")
                return
            self._scrubbed[record.seq] = record.id
        elif subject_digest(record.salt, record.patient_id, record.details) != record.subject:
            self._break(record, "details or patient do not match the record's digest (changed)")
            return
        if record.action == ERASED_ACTION:
            seqs = record.details.get("seqs", [])
            self._declared.update(int(s) for s in seqs if isinstance(s, int))
        if record.action == PRUNED_ACTION:
            self._pruned_through = int(record.details.get("through", 0))
            self._pruned_anchor = str(record.details.get("anchor", GENESIS))
        self._seq, self._hash = record.seq, record.hash
        self.checked += 1

    def finish(self) -> Broken | None:
        """After the last record: the tail, the anchor and every scrub must be accounted for."""
        if self.broken is not None:
            return self.broken
        if (self._seq, self._hash) != (self.head_seq, self.head_hash):
            if self._seq < self.head_seq:
                problem = (
                    f"records {self._seq + 1}-{self.head_seq} are missing (deleted at the end)"
                )
            else:
                problem = f"the chain's head says seq {self.head_seq}, records go to {self._seq}"
            self._break(None, problem)
            return self.broken
        if self.anchor_seq and (self._pruned_through, self._pruned_anchor) != (
            self.anchor_seq,
            self.anchor_hash,
        ):
            self._break(
                None, "the prune anchor is not the one the last audit_pruned record states"
            )
            return self.broken
        for seq in sorted(set(self._scrubbed) - self._declared):
            self.broken = Broken(
                self.chain, seq, self._scrubbed[seq], "details removed without an erasure record"
            )
            return self.broken
        return None
