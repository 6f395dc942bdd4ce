"""the patient's own crisis-card region

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

The crisis card's lines follow the patient: their region is set from their time zone at
onboarding and can be changed in /settings. NULL (patients enrolled before this): the region
their time zone gives, else the cohort's (docs/crisis-lines.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch_op:
        batch_op.drop_column("region")
