"""dosing schedule, treatment course, optional items, side checks (post-dose, optional)

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("dosing_days", sa.String(32), nullable=True))
        batch.add_column(sa.Column("dosing_time", sa.String(5), nullable=True))
        batch.add_column(sa.Column("dosing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("course_started_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("optional_items", sa.String(64), nullable=True))
    op.create_table(
        "side_checks",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("patient_id", BigIntId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_side_checks_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_side_checks")),
        sa.UniqueConstraint(
            "patient_id",
            "kind",
            "local_date",
            name=op.f("uq_side_checks_patient_id_kind_local_date"),
        ),
    )
    op.create_index(op.f("ix_side_checks_closes_at"), "side_checks", ["closes_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_side_checks_closes_at"), table_name="side_checks")
    op.drop_table("side_checks")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("optional_items")
        batch.drop_column("course_started_on")
        batch.drop_column("dosing_since")
        batch.drop_column("dosing_time")
        batch.drop_column("dosing_days")
