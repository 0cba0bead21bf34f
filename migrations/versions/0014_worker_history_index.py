"""A worker's own assignments, newest claim first, come from an index of their own.

GET /me/assignments reads one worker's rows by claim time, descending. Without this index PostgreSQL
either reads all of the worker's rows and sorts them, or walks the primary key backwards filtering on
the worker: the whole table for a busy worker whose work is old. The index is partial on every status
(a predicate the list states and the claim query's "not seen by this worker" probe does not), so that
probe never takes it for the (worker_id, task_id) key.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREDICATE = "status IN ('leased', 'submitted', 'released', 'expired')"


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_worker_history', ['worker_id', 'leased_at', 'id'], unique=False,
                              postgresql_where=sa.text(PREDICATE), sqlite_where=sa.text(PREDICATE))


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_worker_history', postgresql_where=sa.text(PREDICATE),
                            sqlite_where=sa.text(PREDICATE))
