"""care-team loop: team messages to patients and their relayed replies, the group posts a
provider may reply to, follow-up actions on alerts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
At = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_follow_ups",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("head_id", BigIntId, nullable=False),
        sa.Column("patient_id", BigIntId, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by_user_id", sa.BigInteger(), nullable=False),
        sa.Column("at", At, nullable=False),
        sa.ForeignKeyConstraint(
            ["head_id"],
            ["alerts.id"],
            name=op.f("fk_alert_follow_ups_head_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_alert_follow_ups_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_follow_ups")),
        sa.UniqueConstraint("head_id", "action", name=op.f("uq_alert_follow_ups_head_id_action")),
    )
    op.create_index(
        op.f("ix_alert_follow_ups_patient_id"), "alert_follow_ups", ["patient_id"], unique=False
    )
    op.create_table(
        "team_posts",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("patient_id", BigIntId, nullable=False),
        sa.Column("outbox_id", BigIntId, nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_team_posts_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_team_posts_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_posts")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_team_posts_outbox_id")),
    )
    op.create_index(op.f("ix_team_posts_patient_id"), "team_posts", ["patient_id"], unique=False)
    op.create_table(
        "team_messages",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("cohort_id", BigIntId, nullable=False),
        sa.Column("patient_id", BigIntId, nullable=False),
        sa.Column("author_user_id", sa.BigInteger(), nullable=False),
        # TEXT: the column type under storage.crypto.EncryptedText (the body is encrypted).
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", At, nullable=False),
        sa.Column("decided_at", At, nullable=True),
        sa.Column("relay_until", At, nullable=True),
        sa.Column("reply_message_id", BigIntId, nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_team_messages_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_team_messages_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reply_message_id"],
            ["patient_messages.id"],
            name=op.f("fk_team_messages_reply_message_id_patient_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_messages")),
    )
    op.create_index(
        op.f("ix_team_messages_patient_id"), "team_messages", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_team_messages_patient_id"), table_name="team_messages")
    op.drop_table("team_messages")
    op.drop_index(op.f("ix_team_posts_patient_id"), table_name="team_posts")
    op.drop_table("team_posts")
    op.drop_index(op.f("ix_alert_follow_ups_patient_id"), table_name="alert_follow_ups")
    op.drop_table("alert_follow_ups")
