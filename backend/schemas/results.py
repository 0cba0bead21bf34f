"""Consensus runs, results and exports."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..exports import FORMATS
from .common import JobSchema, PageArgsSchema, UtcDateTime


class ConsensusRequestSchema(Schema):
    method = fields.String(load_default=None, metadata={
        "description": "majority, weighted_majority, dawid_skene, one_coin (single_choice); majority, dawid_skene "
                       "(multi_choice); median, mean (rating); box_cluster; span_vote; medoid. Default: the "
                       "project's."})
    batch_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
                            load_default=None, validate=validate.Length(min=1, max=10_000), metadata={
                                "description": "Recompute every task of these batches."})
    task_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**63 - 1)),
                           load_default=None, validate=validate.Length(min=1, max=10_000), metadata={
                               "description": "Recompute these tasks (those that have a result), e.g. after "
                                              "answers were rejected. Model-based methods also rewrite other "
                                              "results the refit changes."})


class JobAcceptedSchema(Schema):
    job = fields.Nested(JobSchema, required=True)


class ConsensusRunSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    method = fields.String()
    batch_ids = fields.List(fields.Integer(), allow_none=True)
    status = fields.String()
    tasks = fields.Integer()
    details = fields.Dict()
    job_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class ConsensusSchema(Schema):
    answer = fields.Dict(allow_none=True, metadata={
        "description": "null once the task has no counted answer left (answers_used 0, flagged, "
                       "details.reason no_counted_answers)"})
    confidence = fields.Float()
    method = fields.String()
    answers_used = fields.Integer()
    details = fields.Dict(allow_none=True)
    computed_at = fields.DateTime()


class ResultSchema(Schema):
    task_id = fields.Integer()
    external_id = fields.String(allow_none=True)
    batch_id = fields.Integer()
    data = fields.Dict()
    consensus = fields.Nested(ConsensusSchema)
    flagged = fields.Boolean(metadata={"description": "A tie, or a task flagged for review"})
    run_id = fields.Integer(metadata={"description": "The consensus run that wrote this result"})
    computed_at = fields.DateTime()


class ResultPageSchema(Schema):
    items = fields.List(fields.Nested(ResultSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    sync_cursor = fields.String(allow_none=True, metadata={
        "description": "With updated_since: poll again later with cursor=sync_cursor to get only what changed"})


class ResultArgsSchema(PageArgsSchema):
    batch_id = fields.Integer(load_default=None)
    min_confidence = fields.Float(load_default=None, validate=validate.Range(min=0, max=1))
    max_confidence = fields.Float(load_default=None, validate=validate.Range(min=0, max=1))
    flagged = fields.Boolean(load_default=None)
    updated_since = UtcDateTime(load_default=None, metadata={
        "description": "Incremental sync: results written after this time, in the order they were written"})


class ExportRequestSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    batch_ids = fields.List(fields.Integer(), load_default=None, validate=validate.Length(min=1, max=10_000))
    include = fields.List(fields.String(validate=validate.OneOf(["answers", "consensus", "agreement"])),
                          load_default=None)


class ExportSchema(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    format = fields.String()
    batch_ids = fields.List(fields.Integer(), allow_none=True)
    include = fields.List(fields.String(), allow_none=True)
    status = fields.String(validate=validate.OneOf(["queued", "running", "ready", "failed", "expired"]))
    job_id = fields.String(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    tasks = fields.Integer(allow_none=True)
    error = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    progress = fields.Float(allow_none=True)


class ExportAcceptedSchema(Schema):
    job = fields.Nested(JobSchema, required=True)
    export = fields.Nested(ExportSchema, required=True)
