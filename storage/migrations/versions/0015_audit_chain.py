"""audit chain: every audit record hash-chained (one chain per cohort), chain heads

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-06
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.domain.audit_chain import GENESIS, Link, subject_digest

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("chain", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("salt", sa.String(32), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(64), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_audit_events_chain_seq", ["chain", "seq"])
    op.create_table(
        "audit_chains",
        sa.Column("chain", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_chains")),
    )
    _chain_existing_records()


def _chain_existing_records() -> None:
    """Put the records written so far into their chains, in the order they were written."""
    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.BigInteger()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("cohort_id", sa.BigInteger()),
        sa.column("patient_id", sa.BigInteger()),
        sa.column("details", sa.JSON()),
        sa.column("chain", sa.BigInteger()),
        sa.column("seq", sa.BigInteger()),
        sa.column("salt", sa.String()),
        sa.column("subject", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    heads: dict[int, tuple[int, str]] = {}
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(
                events.c.id,
                events.c.at,
                events.c.actor,
                events.c.action,
                events.c.cohort_id,
                events.c.patient_id,
                events.c.details,
            )
            .where(events.c.id > last_id)
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            chain = row.cohort_id or 0
            seq, prev = heads.get(chain, (0, GENESIS))
            salt = secrets.token_hex(16)
            subject = subject_digest(salt, row.patient_id, row.details or {})
            at = row.at
            link = Link(chain, seq + 1, at, row.actor, row.action, row.cohort_id, subject, prev)
            digest = link.hash()
            bind.execute(
                events.update()
                .where(events.c.id == row.id)
                .values(
                    chain=chain,
                    seq=seq + 1,
                    salt=salt,
                    subject=subject,
                    prev_hash=prev,
                    hash=digest,
                    details=row.details or {},
                )
            )
            heads[chain] = (seq + 1, digest)
            last_id = row.id
    if heads:
        op.bulk_insert(
            sa.table(
                "audit_chains",
                sa.column("chain", sa.BigInteger()),
                sa.column("seq", sa.BigInteger()),
                sa.column("hash", sa.String()),
                sa.column("anchor_seq", sa.BigInteger()),
                sa.column("anchor_hash", sa.String()),
            ),
            [
                {"chain": c, "seq": s, "hash": h, "anchor_seq": 0, "anchor_hash": GENESIS}
                for c, (s, h) in sorted(heads.items())
            ],
        )


def downgrade() -> None:
    op.drop_table("audit_chains")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_events_chain_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("subject")
        batch.drop_column("salt")
        batch.drop_column("seq")
        batch.drop_column("chain")
