"""Agreement reports, worker standing and worker groups."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import ID, JobSchema, ResponseSchema


class AgreementReportSchema(ResponseSchema):
    status = fields.String(validate=validate.OneOf(["fresh", "stale", "pending"]), metadata={
        "description": "fresh: no answer since computed_at; stale: a refresh job is on its way; pending: first report"})
    computed_at = fields.DateTime(allow_none=True)
    answers_counted = fields.Integer(allow_none=True)
    job = fields.Nested(JobSchema, allow_none=True)
    project = fields.Dict(allow_none=True, metadata={"description": "alpha (level, ci95), fleiss_kappa, percent"})
    batches = fields.List(fields.Dict())
    labels = fields.List(fields.Dict())
    daily = fields.List(fields.Dict())
    questions = fields.Dict(metadata={
        "description": "Per question, by name: kind, answers and the same figures (project, batches, labels, "
                       "workers); rankings add kendall_w and mean_kendall_tau"})


class WorkerAgreementSchema(ResponseSchema):
    status = fields.String()
    computed_at = fields.DateTime(allow_none=True)
    job = fields.Nested(JobSchema, allow_none=True)
    workers = fields.List(fields.Dict(), metadata={
        "description": "worker_id, answers, agreement_with_others, gold_accuracy, agreement_with_consensus"})
    pairwise_kappa = fields.Dict(metadata={"description": "{workers: [ids], matrix: Cohen's kappa}"})


class WorkerStandingSchema(ResponseSchema):
    worker_id = fields.Integer()
    claims = fields.Integer()
    gold_claims = fields.Integer()
    gold_answers = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True)
    suspended_at = fields.DateTime(allow_none=True)
    suspension_reason = fields.String(allow_none=True)


class WorkerGroupSchema(ResponseSchema):
    name = fields.String()
    worker_ids = fields.List(fields.Integer())


class WorkerGroupUpdateSchema(Schema):
    worker_ids = fields.List(fields.Integer(validate=ID), required=True, validate=validate.Length(max=100_000))


class LeaderboardEntrySchema(ResponseSchema):
    item = fields.String(metadata={"description": "What was compared: the a_id / b_id value (a model, say), the "
                                                  "candidate's text, or a ranking item's id"})
    score = fields.Float(metadata={"description": "Bradley-Terry log-strength, mean 0 over the compared items"})
    ci_low = fields.Float(metadata={"description": "95% percentile bootstrap interval of the score"})
    ci_high = fields.Float()
    wins = fields.Integer()
    losses = fields.Integer()
    ties = fields.Integer()


class LeaderboardSchema(ResponseSchema):
    question = fields.String()
    kind = fields.String(validate=validate.OneOf(["pairwise", "ranking"]))
    source = fields.String(validate=validate.OneOf(["answers", "consensus"]), metadata={
        "description": "answers: every counted answer is a vote; consensus: each task's merged answer once"})
    comparisons = fields.Integer(metadata={"description": "Pairwise comparisons counted (a ranking of n items "
                                                         "makes n(n-1)/2)"})
    items = fields.List(fields.Nested(LeaderboardEntrySchema), metadata={"description": "Best first"})


class LeaderboardArgsSchema(Schema):
    source = fields.String(load_default="answers", validate=validate.OneOf(["answers", "consensus"]))
