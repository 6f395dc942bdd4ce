"""patients.status_before_unreachable: the status an unreachable patient goes back to

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("status_before_unreachable", sa.String(16), nullable=True))
    # Who is unreachable today lost the status before, but a pause they were on kept its
    # end (paused_until): they were paused. Coming back, a pause still running goes on.
    op.execute(
        "UPDATE patients SET status_before_unreachable = CASE WHEN paused_until IS NULL"
        " THEN 'active' ELSE 'paused' END WHERE status = 'unreachable'"
    )


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("status_before_unreachable")
