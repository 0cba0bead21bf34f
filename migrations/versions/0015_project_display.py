"""Projects declare how their task data is shown (display); forms keep their questions in label_config.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.models.base import JSONType

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display', JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('display')
