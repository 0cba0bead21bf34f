"""quality control

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:56:49.804969
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
    op.create_table('agreement_reports',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answers_counted', sa.Integer(), nullable=False),
    sa.Column('computed_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_agreement_reports_project_id_projects')),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_agreement_reports'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_audit_log_organization_id_organizations')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_audit_log_project_id_projects')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_audit_log_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_organization_id'), ['organization_id'], unique=False)

    op.create_table('worker_group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('group_name', sa.String(length=100), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_worker_group_members_organization_id_organizations')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_worker_group_members_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_group_members')),
    sa.UniqueConstraint('organization_id', 'group_name', 'worker_id', name=op.f('uq_worker_group_members_organization_id_group_name_worker_id'))
    )
    with op.batch_alter_table('worker_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_group_members_worker_id'), ['worker_id'], unique=False)

    op.create_table('worker_quality',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('gold_claims', sa.Integer(), nullable=False),
    sa.Column('gold_answers', sa.Integer(), nullable=False),
    sa.Column('gold_score', sa.Double(), nullable=False),
    sa.Column('suspended_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspension_reason', sa.String(length=500), nullable=True),
    sa.Column('updated_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_worker_quality_project_id_projects')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_worker_quality_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_quality')),
    sa.UniqueConstraint('worker_id', 'project_id', name=op.f('uq_worker_quality_worker_id_project_id'))
    )
    with op.batch_alter_table('worker_quality', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_quality_project_id'), ['project_id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_gold', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('gold_score', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('flagged', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gold_count', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gold_ratio', sa.Double(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('min_gold_accuracy', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('min_gold_answers', sa.Integer(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('rating_tolerance', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('agreement_threshold', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('qualification', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agreement', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('flagged', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('flag_reason', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_tasks_gold', ['project_id', 'ordinal'], unique=False, postgresql_where=sa.text("status = 'gold'"), sqlite_where=sa.text("status = 'gold'"))
        batch_op.create_index('ix_tasks_project_id_flagged', ['project_id'], unique=False, postgresql_where=sa.text('flagged'), sqlite_where=sa.text('flagged'))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_project_id_flagged', postgresql_where=sa.text('flagged'), sqlite_where=sa.text('flagged'))
        batch_op.drop_index('ix_tasks_gold', postgresql_where=sa.text("status = 'gold'"), sqlite_where=sa.text("status = 'gold'"))
        batch_op.drop_column('flag_reason')
        batch_op.drop_column('flagged')
        batch_op.drop_column('agreement')

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('qualification')
        batch_op.drop_column('agreement_threshold')
        batch_op.drop_column('rating_tolerance')
        batch_op.drop_column('min_gold_answers')
        batch_op.drop_column('min_gold_accuracy')
        batch_op.drop_column('gold_ratio')

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('gold_count')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('flagged')
        batch_op.drop_column('gold_score')
        batch_op.drop_column('is_gold')

    with op.batch_alter_table('worker_quality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_quality_project_id'))

    op.drop_table('worker_quality')
    with op.batch_alter_table('worker_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_group_members_worker_id'))

    op.drop_table('worker_group_members')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_organization_id'))

    op.drop_table('audit_log')
    op.drop_table('agreement_reports')
