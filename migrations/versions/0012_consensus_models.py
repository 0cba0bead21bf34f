"""Fitted consensus models (per-worker confusion and class priors) kept for warm starts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.models.base

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('consensus_models',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('worker_ids', sa.LargeBinary(), nullable=False),
    sa.Column('workers', sa.LargeBinary(), nullable=False),
    sa.Column('priors', sa.LargeBinary(), nullable=False),
    sa.Column('answers', sa.BigInteger(), nullable=False),
    sa.Column('results', sa.LargeBinary(), nullable=True),
    sa.Column('updated_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_consensus_models_project_id_projects')),
    sa.ForeignKeyConstraint(['run_id'], ['consensus_runs.id'], name=op.f('fk_consensus_models_run_id_consensus_runs')),
    sa.PrimaryKeyConstraint('project_id', 'method', name=op.f('pk_consensus_models'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        # Packed float arrays do not compress: skip TOAST's attempt, which costs a tenth of a second a run.
        for column in ('worker_ids', 'workers', 'priors', 'results'):
            op.execute(f'ALTER TABLE consensus_models ALTER COLUMN {column} SET STORAGE EXTERNAL')


def downgrade() -> None:
    op.drop_table('consensus_models')
