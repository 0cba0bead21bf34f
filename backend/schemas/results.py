"""Consensus runs, results and exports."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..exports import EMPTY_OPTIONAL, FORMATS
from .common import BIG_ID, ID, JobSchema, PageArgsSchema, ResponseSchema, UtcDateTime


class ConsensusRequestSchema(Schema):
    method = fields.String(load_default=None, metadata={
        "description": "majority, weighted_majority, dawid_skene, one_coin (single_choice); majority, dawid_skene "
                       "(multi_choice); median, mean (rating); box_cluster; span_vote; medoid. Default: the "
                       "project's."})
    batch_ids = fields.List(fields.Integer(validate=ID), load_default=None,
                            validate=validate.Length(min=1, max=10_000), metadata={
                                "description": "Recompute every task of these batches."})
    task_ids = fields.List(fields.Integer(validate=BIG_ID), load_default=None,
                           validate=validate.Length(min=1, max=10_000), metadata={
                               "description": "Recompute these tasks (those that have a result), e.g. after "
                                              "answers were rejected. Model-based methods also rewrite other "
                                              "results the refit changes."})


class JobAcceptedSchema(Schema):
    job = fields.Nested(JobSchema, required=True)


class ConsensusRunSchema(ResponseSchema):
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


class ConsensusSchema(ResponseSchema):
    optional = ("computed_at",)  # a result says it once, beside its consensus
    answer = fields.Dict(allow_none=True, metadata={
        "description": "null once the task has no counted answer left (answers_used 0, flagged, "
                       "details.reason no_counted_answers)"})
    confidence = fields.Float()
    method = fields.String()
    answers_used = fields.Integer()
    details = fields.Dict(allow_none=True)
    computed_at = fields.DateTime()


class ResultSchema(ResponseSchema):
    task_id = fields.Integer()
    external_id = fields.String(allow_none=True)
    batch_id = fields.Integer()
    data = fields.Dict()
    consensus = fields.Nested(ConsensusSchema)
    flagged = fields.Boolean(metadata={"description": "A tie, or a task flagged for review"})
    run_id = fields.Integer(metadata={"description": "The consensus run that wrote this result"})
    computed_at = fields.DateTime()


class ResultPageSchema(ResponseSchema):
    optional = ("sync_cursor",)  # with updated_since only
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


class JsonBoolean(fields.Boolean):
    """A JSON true or false, nothing else: "yes", 1 or "true" are 422s (marshmallow's Boolean takes them)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ExportRequestSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    batch_ids = fields.List(fields.Integer(strict=True, validate=ID), load_default=None,
                            validate=validate.Length(min=1, max=10_000))
    include = fields.List(fields.String(validate=validate.OneOf(["answers", "consensus", "agreement"])),
                          load_default=None)
    include_gold = JsonBoolean(load_default=True, metadata={
        "description": "Write control (gold) tasks, marked as gold with their expected answer (default true)"})
    include_empty = JsonBoolean(load_default=False, metadata={
        "description": f"{', '.join(sorted(EMPTY_OPTIONAL))} only: also write tasks without consensus, as images "
                       "or documents with no labels (default false: training would read them as background)"})
    question = fields.String(load_default=None, validate=validate.Length(min=1, max=64), metadata={
        "description": "preferences only: the pairwise or ranking question (default: the form's only one)"})
    include_ties = JsonBoolean(load_default=False, metadata={
        "description": "preferences only: also write ties, marked tie (default false: a tie prefers nothing)"})


class ExportSchema(ResponseSchema):
    optional = ("progress",)  # not yet in the answer that creates it
    id = fields.Integer()
    project_id = fields.Integer()
    format = fields.String()
    batch_ids = fields.List(fields.Integer(), allow_none=True)
    include = fields.List(fields.String(), attribute="parts")
    include_gold = fields.Boolean()
    include_empty = fields.Boolean()
    question = fields.String(allow_none=True, metadata={"description": "preferences exports: the question"})
    include_ties = fields.Boolean()
    label_config = fields.String(allow_none=True, metadata={
        "description": "label_studio exports: the Label Studio labeling config (XML) the results are named for"})
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
