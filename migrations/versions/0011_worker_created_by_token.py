"""Vendor workers remember the organization key that registered them (for its hourly cap).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 00:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_token_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_workers_created_by_token_id_created_at', ['created_by_token_id', 'created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index('ix_workers_created_by_token_id_created_at')
        batch_op.drop_column('created_by_token_id')
