"""indexes for the window scan and ended pauses (100,000 patients)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_checkins_status_closes_at", "checkins", ["status", "closes_at"], unique=False
    )
    op.create_index(op.f("ix_patients_paused_until"), "patients", ["paused_until"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_patients_paused_until"), table_name="patients")
    op.drop_index("ix_checkins_status_closes_at", table_name="checkins")
