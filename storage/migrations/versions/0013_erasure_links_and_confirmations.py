"""erasure finds every row of a patient; server-side confirmations

Links to the patient on the rows that carry one (invites, processed updates; outbox rows
had the column, now indexed), alerts that outlive their patient's erasure without a link,
and the confirmation tokens of /delete and /stop.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


@contextmanager
def _alert_posts_kept() -> Iterator[None]:
    """Keep alert_posts through a rebuild of alerts on SQLite: the batch rebuild drops the
    old table, and with foreign keys on, that deletes (ON DELETE CASCADE) every post."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMPORARY TABLE keep_alert_posts AS SELECT * FROM alert_posts")
    yield
    if sqlite:
        op.execute(
            "INSERT INTO alert_posts SELECT * FROM keep_alert_posts"
            " WHERE id NOT IN (SELECT id FROM alert_posts)"
        )
        op.execute("DROP TABLE keep_alert_posts")


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("patient_id", BigIntId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_invites_patient_id_patients"), "patients", ["patient_id"], ["id"]
        )
        batch.create_index(batch.f("ix_invites_patient_id"), ["patient_id"], unique=False)
    # An accepted invite kept the Telegram id of the person who accepted it: that is the link.
    op.execute(
        "UPDATE invites SET patient_id = (SELECT patients.id FROM patients"
        " WHERE patients.telegram_user_id = invites.claimed_by_user_id"
        " AND patients.cohort_id = invites.cohort_id)"
        " WHERE status = 'accepted' AND claimed_by_user_id IS NOT NULL"
    )
    with _alert_posts_kept(), op.batch_alter_table("alerts") as batch:
        batch.alter_column("patient_id", existing_type=BigIntId, nullable=True)
    with op.batch_alter_table("outbox") as batch:
        batch.create_index(batch.f("ix_outbox_patient_id"), ["patient_id"], unique=False)
    with op.batch_alter_table("processed_updates") as batch:
        batch.add_column(sa.Column("patient_id", BigIntId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_processed_updates_patient_id_patients"), "patients", ["patient_id"], ["id"]
        )
        batch.create_index(
            batch.f("ix_processed_updates_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "confirmations",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("patient_id", BigIntId, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("outbox_id", BigIntId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_confirmations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_confirmations_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_confirmations_token_hash")),
    )
    with op.batch_alter_table("confirmations") as batch:
        batch.create_index(batch.f("ix_confirmations_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_table("confirmations")
    with op.batch_alter_table("processed_updates") as batch:
        batch.drop_index(batch.f("ix_processed_updates_patient_id"))
        batch.drop_constraint(op.f("fk_processed_updates_patient_id_patients"), type_="foreignkey")
        batch.drop_column("patient_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(batch.f("ix_outbox_patient_id"))
    # Alerts kept without a patient (erased) cannot point to one again.
    op.execute(
        "DELETE FROM alert_posts WHERE head_id IN (SELECT id FROM alerts WHERE patient_id IS NULL)"
    )
    op.execute("DELETE FROM alerts WHERE patient_id IS NULL")
    with _alert_posts_kept(), op.batch_alter_table("alerts") as batch:
        batch.alter_column("patient_id", existing_type=BigIntId, nullable=False)
    with op.batch_alter_table("invites") as batch:
        batch.drop_index(batch.f("ix_invites_patient_id"))
        batch.drop_constraint(op.f("fk_invites_patient_id_patients"), type_="foreignkey")
        batch.drop_column("patient_id")
