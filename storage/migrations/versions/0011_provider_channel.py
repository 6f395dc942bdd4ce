"""provider channel health: the group's current chat id, its reachability, on-call providers

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("cohorts") as batch:
        batch.add_column(sa.Column("configured_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("group_unreachable_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("group_unreachable_reason", sa.String(64), nullable=True))
    # Until now the configured id was the only id: it is where every group is today.
    op.execute("UPDATE cohorts SET configured_chat_id = provider_chat_id")
    op.create_table(
        "oncall_providers",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("cohort_id", BigIntId, nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_oncall_providers_cohort_id_cohorts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_providers")),
        sa.UniqueConstraint(
            "cohort_id",
            "telegram_user_id",
            name=op.f("uq_oncall_providers_cohort_id_telegram_user_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("oncall_providers")
    with op.batch_alter_table("cohorts") as batch:
        batch.drop_column("group_unreachable_reason")
        batch.drop_column("group_unreachable_since")
        batch.drop_column("configured_chat_id")
