"""Payments and review: ledger, payouts, fair-pay top-ups, idempotency keys, rates, caps, budget.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:48:33.364557
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
import backend.models.base

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotency_keys_scope_key'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_keys_created_at', ['created_at'], unique=False)

    op.create_table('payouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('minimum', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.Column('worker_count', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('settled_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_payouts_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts'))
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_organization_id'), ['organization_id'], unique=False)

    op.create_table('fair_pay_topups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('earned', sa.BigInteger(), nullable=False),
    sa.Column('min_hourly_rate', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('applied_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ledger_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_fair_pay_topups_project_id_projects')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_fair_pay_topups_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fair_pay_topups'))
    )
    with op.batch_alter_table('fair_pay_topups', schema=None) as batch_op:
        batch_op.create_index('ix_fair_pay_topups_project_id_status', ['project_id', 'status'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('assignment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payout_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_entries_organization_id_organizations')),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_ledger_entries_payout_id_payouts')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ledger_entries_project_id_projects')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_ledger_entries_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('reference', name=op.f('uq_ledger_entries_reference'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_balance', ['organization_id', 'currency', 'worker_id'], unique=False)
        batch_op.create_index('ix_ledger_entries_payout_id', ['payout_id'], unique=False)
        batch_op.create_index('ix_ledger_entries_project_id_kind', ['project_id', 'kind'], unique=False)
        batch_op.create_index('ix_ledger_entries_worker_id_id', ['worker_id', 'id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('review_reason', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_assignments_review_queue', ['project_id', 'submitted_at'], unique=False, postgresql_where=sa.text("review_status = 'pending'"), sqlite_where=sa.text("review_status = 'pending'"))
        batch_op.create_index('ix_assignments_worker_project_leased_at', ['worker_id', 'project_id', 'leased_at'], unique=False)

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward_amount', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gold_reward_amount', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('auto_approve_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('auto_approve_consensus', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('auto_reject_suspended', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('rejection_window_hours', sa.Integer(), server_default='72', nullable=False))
        batch_op.add_column(sa.Column('min_hourly_rate', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('fair_pay_auto_apply', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('max_answers_per_worker_per_day', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('budget_amount', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('committed_amount', sa.BigInteger(), server_default='0', nullable=False))

    # Answers given before review existed wait for a manager's decision like new ones.
    op.execute("UPDATE assignments SET review_status = 'pending' WHERE status = 'submitted'")



def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('committed_amount')
        batch_op.drop_column('budget_amount')
        batch_op.drop_column('max_answers_per_worker_per_day')
        batch_op.drop_column('fair_pay_auto_apply')
        batch_op.drop_column('min_hourly_rate')
        batch_op.drop_column('rejection_window_hours')
        batch_op.drop_column('auto_reject_suspended')
        batch_op.drop_column('auto_approve_consensus')
        batch_op.drop_column('auto_approve_hours')
        batch_op.drop_column('gold_reward_amount')

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('reward_amount')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_worker_project_leased_at')
        batch_op.drop_index('ix_assignments_review_queue', postgresql_where=sa.text("review_status = 'pending'"), sqlite_where=sa.text("review_status = 'pending'"))
        batch_op.drop_column('review_reason')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('review_status')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_worker_id_id')
        batch_op.drop_index('ix_ledger_entries_project_id_kind')
        batch_op.drop_index('ix_ledger_entries_payout_id')
        batch_op.drop_index('ix_ledger_entries_balance')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('fair_pay_topups', schema=None) as batch_op:
        batch_op.drop_index('ix_fair_pay_topups_project_id_status')

    op.drop_table('fair_pay_topups')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_organization_id'))

    op.drop_table('payouts')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_keys_created_at')

    op.drop_table('idempotency_keys')
