"""An index in change order (run, task) for incremental sync of consensus results.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:24:14.637059
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consensus_results', schema=None) as batch_op:
        batch_op.create_index('ix_consensus_results_project_id_run_id_task_id', ['project_id', 'run_id', 'task_id'],
                              unique=False)



def downgrade() -> None:
    with op.batch_alter_table('consensus_results', schema=None) as batch_op:
        batch_op.drop_index('ix_consensus_results_project_id_run_id_task_id')

