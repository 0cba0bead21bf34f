"""Exports keep the options of their format (the question and whether ties are in, for preferences).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 18:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.models.base import JSONType

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('options', JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_column('options')
