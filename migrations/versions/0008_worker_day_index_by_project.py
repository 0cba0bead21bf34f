"""A worker's day in a project is indexed project first.

The old (worker_id, project_id, leased_at) index started like the (worker, task) key, and the
claim query's "not seen by this worker" probe could pick it and filter the worker's whole history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 20:59:01.778714
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_project_worker_leased_at', ['project_id', 'worker_id', 'leased_at'],
                              unique=False)
        batch_op.drop_index('ix_assignments_worker_project_leased_at')


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_worker_project_leased_at', ['worker_id', 'project_id', 'leased_at'],
                              unique=False)
        batch_op.drop_index('ix_assignments_project_worker_leased_at')
