"""Review, ledger, payouts, fair pay, workload and cost. Amounts are integer minor units."""

from __future__ import annotations

from marshmallow import Schema, fields, pre_dump, validate

from ..models import LEDGER_KINDS, MAX_AMOUNT, PAYOUT_STATUSES, REVIEW_STATUSES
from .common import BIG_ID, CURRENCY, ID, MoneySchema, PageArgsSchema, ResponseSchema, UtcDateTime

_REASON = validate.Length(min=1, max=500)


class ReviewDecisionSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=500),
                           metadata={"description": "Required to reject; the worker reads it"})


class ReviewedAnswerSchema(ResponseSchema):
    id = fields.Integer(metadata={"description": "The assignment"})
    project_id = fields.Integer()
    batch_id = fields.Integer()
    task_id = fields.Integer()
    worker_id = fields.Integer()
    status = fields.String()
    answer = fields.Dict(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    active_seconds = fields.Integer(allow_none=True)
    is_gold = fields.Boolean()
    flagged = fields.Boolean()
    review_status = fields.String(allow_none=True, validate=validate.OneOf(REVIEW_STATUSES))
    review_reason = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    reward = fields.Nested(MoneySchema, metadata={"description": "Rate fixed when the task was claimed"})

    @pre_dump
    def flatten(self, a, **_kwargs):
        if isinstance(a, dict):
            return a
        return {key: getattr(a, key) for key in (
            "id", "project_id", "batch_id", "task_id", "worker_id", "status", "answer", "submitted_at",
            "active_seconds", "is_gold", "flagged", "review_status", "review_reason", "reviewed_at", "reviewed_by")} | {
            "reward": {"amount": a.reward_amount, "currency": a.reward_currency}}


class ReviewQueueItemSchema(ReviewedAnswerSchema):
    task = fields.Dict(metadata={"description": "id, external_id, data"})
    worker_external_id = fields.String(allow_none=True)

    @pre_dump
    def flatten(self, item, **_kwargs):
        out = ReviewedAnswerSchema.flatten(self, item["assignment"])
        out["task"] = {"id": item["assignment"].task_id, "external_id": item["task_external_id"],
                       "data": item["task_data"]}
        out["worker_external_id"] = item["worker_external_id"]
        return out


class ReviewQueueArgsSchema(PageArgsSchema):
    review_status = fields.String(load_default="pending", validate=validate.OneOf(REVIEW_STATUSES))
    batch_id = fields.Integer(load_default=None)
    worker_id = fields.Integer(load_default=None)
    gold = fields.Boolean(load_default=None)


class BulkReviewSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(load_default=None, validate=validate.Length(max=500))
    batch_id = fields.Integer(load_default=None)
    worker_id = fields.Integer(load_default=None)
    assignment_ids = fields.List(fields.Integer(validate=BIG_ID), load_default=None,
                                 validate=validate.Length(min=1, max=10_000))
    submitted_before = UtcDateTime(load_default=None, default_timezone=None)
    gold = fields.Boolean(load_default=None, metadata={"description": "Only control answers (true) or others"})


class BulkReviewResultSchema(ResponseSchema):
    optional = ("approved", "rejected")  # the count of the action taken
    approved = fields.Integer()
    rejected = fields.Integer()
    replayed = fields.Boolean()


class LedgerEntrySchema(ResponseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    worker_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(LEDGER_KINDS))
    amount = fields.Integer(metadata={"description": "Signed minor units; payouts are negative"})
    currency = fields.String(validate=CURRENCY)
    reference = fields.String(allow_none=True)
    project_id = fields.Integer(allow_none=True)
    assignment_id = fields.Integer(allow_none=True)
    payout_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    actor = fields.String()
    created_at = fields.DateTime()


class BonusSchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT))
    currency = fields.String(required=True, validate=CURRENCY)
    reason = fields.String(required=True, validate=_REASON)
    project_id = fields.Integer(load_default=None, metadata={"description": "The project the bonus is for"})


class AdjustmentSchema(BonusSchema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=-MAX_AMOUNT, max=MAX_AMOUNT),
                            metadata={"description": "Signed: a negative adjustment takes money back"})


class BalanceSchema(ResponseSchema):
    currency = fields.String(validate=CURRENCY)
    balance = fields.Integer(metadata={"description": "Approved and not yet paid out"})
    pending = fields.Integer(metadata={"description": "Submitted answers awaiting review, at their claimed rates"})
    paid_out = fields.Integer()
    earned = fields.Integer()
    bonuses = fields.Integer()
    adjustments = fields.Integer()


class EarningsArgsSchema(PageArgsSchema):
    currency = fields.String(load_default=None, validate=CURRENCY)
    kind = fields.String(load_default=None, validate=validate.OneOf(LEDGER_KINDS))
    order = fields.String(load_default="oldest", validate=validate.OneOf(["oldest", "newest"]),
                          metadata={"description": "Entries oldest first (the default) or newest first"})


class EarningsSchema(ResponseSchema):
    balances = fields.List(fields.Nested(BalanceSchema))
    entries = fields.List(fields.Nested(LedgerEntrySchema))
    next_cursor = fields.String(allow_none=True)


class PayoutCreateSchema(Schema):
    currency = fields.String(required=True, validate=CURRENCY)
    minimum = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_AMOUNT),
                             metadata={"description": "Pay workers whose unpaid balance is at least this"})
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class PayoutSchema(ResponseSchema):
    id = fields.Integer()
    organization_id = fields.Integer()
    currency = fields.String(validate=CURRENCY)
    minimum = fields.Integer()
    status = fields.String(validate=validate.OneOf(PAYOUT_STATUSES))
    total_amount = fields.Integer()
    worker_count = fields.Integer()
    note = fields.String(allow_none=True)
    actor = fields.String()
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)


class PayoutSettleSchema(Schema):
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class PayoutListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(PAYOUT_STATUSES))


class PayoutFileArgsSchema(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "json"]))


class PayoutLineSchema(ResponseSchema):
    payout_id = fields.Integer()
    worker_id = fields.Integer()
    external_id = fields.String(allow_none=True, metadata={"description": "A vendor's own id of the worker"})
    email = fields.String(allow_none=True)
    amount = fields.Integer(metadata={"description": "Minor units paid"})
    amount_decimal = fields.String(metadata={"description": "The same amount in major units, exact (\"12.34\")"})
    currency = fields.String(validate=CURRENCY)


class PayoutFileSchema(ResponseSchema):
    """The payout file as JSON (``format=json``); the CSV file has the lines' columns."""

    payout_id = fields.Integer()
    currency = fields.String(validate=CURRENCY)
    status = fields.String(validate=validate.OneOf(PAYOUT_STATUSES))
    total_amount = fields.Integer()
    lines = fields.List(fields.Nested(PayoutLineSchema))


class FairPayTopUpSchema(ResponseSchema):
    id = fields.Integer()
    project_id = fields.Integer()
    worker_id = fields.Integer()
    currency = fields.String(validate=CURRENCY)
    amount = fields.Integer()
    seconds = fields.Integer(metadata={"description": "Approved time on task"})
    earned = fields.Integer(metadata={"description": "What that work had earned, with earlier top-ups"})
    min_hourly_rate = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    applied_at = fields.DateTime(allow_none=True)
    ledger_entry_id = fields.Integer(allow_none=True)


class FairPayArgsSchema(PageArgsSchema):
    status = fields.String(load_default="proposed", validate=validate.OneOf(["proposed", "applied", "superseded"]))


class FairPayConfirmSchema(Schema):
    ids = fields.List(fields.Integer(validate=ID), load_default=None,
                      metadata={"description": "Default: every proposal"})


class FairPayConfirmResultSchema(ResponseSchema):
    applied = fields.Integer()
    replayed = fields.Boolean()


class StatsRowSchema(ResponseSchema):
    # A worker's own rows name no worker and have suspended; a project's workload rows have the worker and
    # its rates; day only by day.
    optional = ("worker_id", "day", "suspended", "agreement_with_consensus", "effective_hourly_rate")

    worker_id = fields.Integer()
    project_id = fields.Integer()
    day = fields.String(metadata={"description": "UTC day of the claims (YYYY-MM-DD)"})
    claimed = fields.Integer()
    submitted = fields.Integer()
    approved = fields.Integer()
    rejected = fields.Integer()
    pending = fields.Integer()
    expired = fields.Integer()
    released = fields.Integer()
    active_seconds = fields.Integer(metadata={"description": "Lease time capped by reported active seconds"})
    answers_per_hour = fields.Float(allow_none=True)
    gold_answers = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True)
    agreement_with_consensus = fields.Float(allow_none=True)
    effective_hourly_rate = fields.Integer(allow_none=True, metadata={"description": "Minor units per hour"})
    suspended = fields.Boolean()
    earnings = fields.List(fields.Nested(MoneySchema), metadata={"description": "Approved rewards per currency"})


class _PeriodArgs(Schema):
    date_from = fields.Date(data_key="from", load_default=None)
    date_to = fields.Date(data_key="to", load_default=None)


class StatsArgsSchema(_PeriodArgs):
    project_id = fields.Integer(load_default=None)
    by = fields.String(load_default="project", validate=validate.OneOf(["project", "day"]))


class WorkerStatsSchema(ResponseSchema):
    worker_id = fields.Integer()
    by = fields.String()
    rows = fields.List(fields.Nested(StatsRowSchema))
    balances = fields.List(fields.Nested(BalanceSchema))


class WorkloadArgsSchema(_PeriodArgs, PageArgsSchema):
    worker_id = fields.Integer(load_default=None)
    by = fields.String(load_default="worker", validate=validate.OneOf(["worker", "worker_day"]))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class WorkloadSchema(ResponseSchema):
    items = fields.List(fields.Nested(StatsRowSchema))
    next_cursor = fields.String(allow_none=True)


class CostSchema(ResponseSchema):
    project_id = fields.Integer()
    currency = fields.String(validate=CURRENCY)
    budget = fields.Integer(allow_none=True)
    spent = fields.Integer(metadata={"description": "Approved rewards plus bonuses and adjustments"})
    approved = fields.Integer()
    bonuses = fields.Integer()
    pending = fields.Integer()
    in_flight = fields.Integer(metadata={"description": "Live leases at their rates"})
    committed = fields.Integer(metadata={"description": "Pending, approved and in-flight rewards"})
    remaining_budget = fields.Integer(allow_none=True)
    rejection_rate = fields.Float()
    answers_remaining = fields.Integer(metadata={"description": "Answers the tasks that must complete still need, "
                                                                "live leases included"})
    control_answers_expected = fields.Integer(metadata={
        "description": "Control answers still to come with them: answers_remaining not yet leased x "
                       "gold_ratio / (1 - gold_ratio)"})
    forecast_total = fields.Integer(metadata={
        "description": "Spent plus what finishing will cost at the current rejection rate: pending answers and "
                       "leases at their rates, the rest of the answers needed at today's rates, and the control "
                       "answers that come with them (gold_reward_amount, else their batch's rate)"})
    answers_per_hour = fields.Float(allow_none=True, metadata={"description": "Pace over the last 24 hours, "
                                                                             "control answers included"})
    eta_seconds = fields.Float(allow_none=True, metadata={"description": "Answers and control answers left at "
                                                                         "that pace; null when there is no pace"})
