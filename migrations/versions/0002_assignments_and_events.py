"""assignments and events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:26:18.402915
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import backend.models.base

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_events_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_project_id_id', ['project_id', 'id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('leased_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=500), nullable=True),
    sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('active_seconds', sa.Integer(), nullable=True),
    sa.Column('reward_amount', sa.BigInteger(), nullable=False),
    sa.Column('reward_currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_assignments_batch_id_batches')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_assignments_project_id_projects')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_assignments_task_id_tasks')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_assignments_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('task_id', 'worker_id', name=op.f('uq_assignments_task_id_worker_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_live_leases', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'leased'"), sqlite_where=sa.text("status = 'leased'"))
        batch_op.create_index('ix_assignments_project_id_submitted_at', ['project_id', 'submitted_at'], unique=False)
        batch_op.create_index('ix_assignments_worker_id_project_id_status', ['worker_id', 'project_id', 'status'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lease_deadline', backend.models.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('lease_deadline')
        batch_op.drop_column('leased_count')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_worker_id_project_id_status')
        batch_op.drop_index('ix_assignments_project_id_submitted_at')
        batch_op.drop_index('ix_assignments_live_leases', postgresql_where=sa.text("status = 'leased'"), sqlite_where=sa.text("status = 'leased'"))

    op.drop_table('assignments')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_project_id_id')

    op.drop_table('events')
