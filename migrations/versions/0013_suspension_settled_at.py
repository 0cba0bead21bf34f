"""Worker standings remember when a suspension's follow-up (recounts, rejections) completed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.models.base import UTCDateTime

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('worker_quality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_at', UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('worker_quality', schema=None) as batch_op:
        batch_op.drop_column('settled_at')
