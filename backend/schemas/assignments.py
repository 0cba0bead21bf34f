"""Assignments, answers, workers and progress."""

from __future__ import annotations

from marshmallow import Schema, fields, pre_dump, validate

from ..models import ASSIGNMENT_STATUSES, REVIEW_STATUSES
from ..questions import FORM, form_of
from ..questions.display import rendered
from .common import MAX_ID, MoneySchema, PageArgsSchema, ResponseSchema
from .projects import TaskSchema

_LABEL_FIELDS = ("labels", "min", "max", "text_field", "image_field", "max_length")


class LeasedTaskSchema(ResponseSchema):
    optional = ("rendered",)  # in a lease; the worker's history leaves it out
    id = fields.Integer()
    batch_id = fields.Integer()
    external_id = fields.String(allow_none=True)
    data = fields.Dict()
    rendered = fields.Dict(metadata={
        "description": "Safe HTML of the data fields the project shows as markdown or html, by field"})


class LabelingProjectSchema(ResponseSchema):
    """What a labeling client needs to show the task."""

    optional = _LABEL_FIELDS  # those of the project's task type only

    id = fields.Integer()
    name = fields.String()
    task_type = fields.String()
    instructions = fields.String()
    lease_seconds = fields.Integer()
    labels = fields.List(fields.String())
    min = fields.Integer()
    max = fields.Integer()
    text_field = fields.String()
    image_field = fields.String()
    max_length = fields.Integer()
    questions = fields.List(fields.Dict(), metadata={
        "description": "What to ask, in order: [{name, kind, title, required, when, ...}]; an old project's one "
                       "question is named answer"})
    display = fields.List(fields.Dict(), metadata={"description": "How data fields are shown: [{field, as}]"})


class AssignmentSchema(ResponseSchema):
    id = fields.Integer()
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES))
    project_id = fields.Integer()
    batch_id = fields.Integer()
    worker_id = fields.Integer()
    task = fields.Nested(LeasedTaskSchema)
    project = fields.Nested(LabelingProjectSchema)
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    answer = fields.Dict(allow_none=True)
    active_seconds = fields.Integer(allow_none=True)
    release_reason = fields.String(allow_none=True)
    reward = fields.Nested(MoneySchema, metadata={"description": "Rate fixed when the task was claimed."})
    review_status = fields.String(allow_none=True, metadata={"description": "pending, approved or rejected"})
    review_reason = fields.String(allow_none=True, metadata={"description": "Why the answer was rejected"})
    reviewed_at = fields.DateTime(allow_none=True)

    @pre_dump
    def flatten(self, lease, **_kwargs):
        a, task, project = lease.assignment, lease.task, lease.project
        labeling = {"id": project.id, "name": project.name, "task_type": project.task_type,
                    "instructions": project.instructions, "lease_seconds": project.lease_seconds}
        form = form_of(project)
        if project.task_type != FORM:
            labeling.update({k: project.label_config[k] for k in _LABEL_FIELDS if k in project.label_config})
        labeling["questions"] = [q.as_dict() for q in form.questions]
        labeling["display"] = form.display
        return {
            "id": a.id, "status": a.status, "project_id": a.project_id, "batch_id": a.batch_id,
            "worker_id": a.worker_id, "leased_at": a.leased_at, "expires_at": a.expires_at,
            "submitted_at": a.submitted_at, "answer": a.answer, "active_seconds": a.active_seconds,
            "release_reason": a.release_reason,
            "reward": {"amount": a.reward_amount, "currency": a.reward_currency},
            "review_status": a.review_status, "review_reason": a.review_reason, "reviewed_at": a.reviewed_at,
            # Gold answers are never part of what a worker receives.
            "task": {"id": task.id, "batch_id": task.batch_id, "external_id": task.external_id, "data": task.data,
                     "rendered": rendered(form.display, task.data)},
            "project": labeling,
        }


class ProjectRefSchema(ResponseSchema):
    id = fields.Integer()
    name = fields.String()


class MyAssignmentArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ASSIGNMENT_STATUSES, error="Must be one of: {choices} (review decisions are filtered by review_status)."),
        metadata={"description": "The assignment's own state; `submitted` lists answers only"})
    review_status = fields.String(load_default=None, validate=validate.OneOf(
        REVIEW_STATUSES, error="Must be one of: {choices} (the lease's state is filtered by status)."),
        metadata={"description": "The review decision on an answer (implies status=submitted)"})
    project_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_ID))


class MyAssignmentSchema(ResponseSchema):
    """One of the caller's own assignments, as the worker may see it: its task's data and its own answer,
    never a gold answer nor anyone else's answer."""

    id = fields.Integer(metadata={"description": "The assignment"})
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES))
    project = fields.Nested(ProjectRefSchema)
    task = fields.Nested(LeasedTaskSchema)
    answer = fields.Dict(allow_none=True)
    leased_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    review_status = fields.String(allow_none=True, validate=validate.OneOf(REVIEW_STATUSES),
                                  metadata={"description": "pending, approved (paid) or rejected; null if no answer"})
    review_reason = fields.String(allow_none=True, metadata={"description": "The reviewer's reason for a rejection"})
    reviewed_at = fields.DateTime(allow_none=True)
    reward = fields.Nested(MoneySchema, metadata={"description": "Rate fixed when the task was claimed; earned "
                                                                 "once the answer is approved"})

    @pre_dump
    def flatten(self, item, **_kwargs):
        a = item.assignment
        return {
            "id": a.id, "status": a.status, "answer": a.answer, "leased_at": a.leased_at,
            "submitted_at": a.submitted_at, "review_status": a.review_status, "review_reason": a.review_reason,
            "reviewed_at": a.reviewed_at, "reward": {"amount": a.reward_amount, "currency": a.reward_currency},
            "project": {"id": a.project_id, "name": item.project_name},
            "task": {"id": a.task_id, "batch_id": a.batch_id, "external_id": item.task_external_id,
                     "data": item.task_data},
        }


class SubmitSchema(Schema):
    answer = fields.Dict(required=True, metadata={"description": "Shape depends on the project's task_type."})
    active_seconds = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=0, max=86_400),
                                    metadata={"description": "Seconds the client saw the worker actively working."})


class ReleaseSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class WorkerCreateSchema(Schema):
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=255))


class WorkerSchema(ResponseSchema):
    id = fields.Integer()
    external_id = fields.String(allow_none=True)
    organization_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class ProgressSchema(ResponseSchema):
    project_id = fields.Integer()
    batch_id = fields.Integer(allow_none=True)
    tasks_total = fields.Integer(metadata={"description": "Tasks that must complete; control tasks are apart"})
    tasks_complete = fields.Integer()
    control_tasks = fields.Integer(metadata={"description": "Control (gold) tasks: each worker answers one at most "
                                                            "once, and they never complete"})
    answers_required = fields.Integer(metadata={"description": "Answers the tasks that must complete need"})
    answers_submitted = fields.Integer(metadata={"description": "Counted answers to those tasks"})
    control_answers = fields.Integer(metadata={"description": "Counted answers to control tasks"})
    answers_in_flight = fields.Integer(metadata={"description": "Live leases, control tasks included"})
    active_workers = fields.Integer(metadata={"description": "Workers active in the last 15 minutes"})
    answers_per_hour = fields.Float(metadata={"description": "Pace of answers to the tasks that must complete, "
                                                             "over the last 15 minutes"})
    estimated_seconds_left = fields.Float(allow_none=True, metadata={
        "description": "Answers still needed at that pace; 0 when none is needed, null when there is no pace"})
    computed_at = fields.DateTime()


class AnswerSchema(ResponseSchema):
    worker_id = fields.Integer()
    answer = fields.Dict()
    submitted_at = fields.DateTime()
    active_seconds = fields.Integer(allow_none=True)
    flagged = fields.Boolean(metadata={"description": "From a worker suspended for failing gold"})
    gold_score = fields.Float(allow_none=True, metadata={"description": "Control tasks: score against gold"})


class TaskDetailSchema(TaskSchema):
    answers = fields.List(fields.Nested(AnswerSchema))
    consensus = fields.Dict(allow_none=True, metadata={"description": "answer, confidence, method, answers_used"})
    leased_count = fields.Integer()
