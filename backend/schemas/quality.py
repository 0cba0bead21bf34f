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
