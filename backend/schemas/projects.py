"""Projects, datasets, batches and tasks."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_dump, pre_load, validate

from ..models import BATCH_STATUSES, MAX_AMOUNT, PAYMENT_FIELDS, PROJECT_STATUSES, TASK_TYPES
from ..questions import DISPLAY_AS, FORM, KINDS, MAX_QUESTIONS, form_of
from .common import ID, JobSchema, MoneySchema, PageArgsSchema, ResponseSchema

_LABEL_FIELDS = ("labels", "min", "max", "text_field", "image_field", "max_length")
_AMOUNT = validate.Range(min=0, max=MAX_AMOUNT)


class QualificationSchema(Schema):
    min_gold_accuracy = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1),
                                     metadata={"description": "Needed on the gold tasks of gold_projects"})
    gold_projects = fields.List(fields.Integer(validate=ID), load_default=list)
    worker_groups = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    vendor_organizations = fields.List(fields.Integer(validate=ID), load_default=list)


class _ProjectFields(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    instructions = fields.String(validate=validate.Length(max=100_000), metadata={"format": "markdown"})
    task_type = fields.String(validate=validate.OneOf((*TASK_TYPES, FORM)), metadata={
        "description": "The one question's kind, for a project made the old way; \"form\" for a form"})
    questions = fields.List(fields.Dict(), validate=validate.Length(min=1, max=MAX_QUESTIONS), metadata={
        "description": "A form: [{name, kind, title, required, when, ...the kind's fields}]; kinds: "
                       + ", ".join(KINDS) + ". See docs/FORMS.md."})
    display = fields.List(fields.Dict(), allow_none=True, validate=validate.Length(max=MAX_QUESTIONS), metadata={
        "description": "How data fields are shown: [{field, as}], as one of " + ", ".join(DISPLAY_AS)})
    labels = fields.List(fields.String(), allow_none=True)
    min = fields.Integer(strict=True, allow_none=True, metadata={"description": "rating: lowest value"})
    max = fields.Integer(strict=True, allow_none=True, metadata={"description": "rating: highest value"})
    text_field = fields.String(allow_none=True, metadata={"description": "text_spans: data field holding the text"})
    image_field = fields.String(allow_none=True,
                                metadata={"description": "bounding_boxes: data field with the image URL"})
    max_length = fields.Integer(strict=True, allow_none=True, metadata={"description": "free_text: longest answer"})
    overlap = fields.Float(validate=validate.Range(min=1, max=100), metadata={
        "description": "Distinct annotators per task; 2.5 = half the tasks get 3, half 2."})
    max_overlap = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=100))
    lease_seconds = fields.Integer(strict=True, validate=validate.Range(min=5, max=7 * 24 * 3600))
    max_active_leases = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    reward = fields.Nested(MoneySchema)
    batch_size = fields.Integer(strict=True, validate=validate.Range(min=1, max=100_000))
    status = fields.String(validate=validate.OneOf(PROJECT_STATUSES))
    gold_ratio = fields.Float(validate=validate.Range(min=0, max=1), metadata={
        "description": "Share of each worker's stream made of control (gold) tasks, e.g. 0.1"})
    min_gold_accuracy = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1), metadata={
        "description": "Suspend a worker whose gold accuracy falls below this"})
    min_gold_answers = fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000), metadata={
        "description": "Gold answers needed before the suspension rule applies"})
    rating_tolerance = fields.Integer(strict=True, validate=validate.Range(min=0), metadata={
        "description": "rating: a gold answer within this distance counts as correct"})
    agreement_threshold = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1), metadata={
        "description": "Dynamic overlap: below this agreement a task gets one more answer, up to max_overlap"})
    qualification = fields.Nested(QualificationSchema, allow_none=True)
    consensus_method = fields.String(allow_none=True, metadata={
        "description": "Method used when a batch completes; null: the task type's default"})
    # Payments. Amounts are integer minor units of the reward's currency.
    gold_reward_amount = fields.Integer(strict=True, allow_none=True, validate=_AMOUNT, metadata={
        "description": "Reward for a control (gold) answer; null: the regular reward"})
    auto_approve_hours = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=24 * 365),
                                        metadata={"description": "Approve answers still pending after this long"})
    auto_approve_consensus = fields.Boolean(metadata={"description": "Approve answers that agree with consensus"})
    auto_reject_suspended = fields.Boolean(metadata={
        "description": "Reject the pending answers of workers suspended for failing gold"})
    rejection_window_hours = fields.Integer(strict=True, validate=validate.Range(min=0, max=24 * 365), metadata={
        "description": "How long a rejection may still be turned into an approval"})
    min_hourly_rate = fields.Integer(strict=True, allow_none=True, validate=_AMOUNT, metadata={
        "description": "Fair pay: approved work earns at least this per hour on task (top-ups)"})
    fair_pay_auto_apply = fields.Boolean(metadata={"description": "Apply fair-pay top-ups without confirmation"})
    max_answers_per_worker_per_day = fields.Integer(strict=True, allow_none=True,
                                                    validate=validate.Range(min=1, max=1_000_000))
    budget_amount = fields.Integer(strict=True, allow_none=True, validate=_AMOUNT, metadata={
        "description": "Cap on answer rewards committed (approved, pending and leased); claims stop at it"})


class ProjectCreateSchema(_ProjectFields):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organization_id = fields.Integer(load_default=None, metadata={"description": "admins only"})


class ProjectUpdateSchema(_ProjectFields):
    """Every setting but task_type, which is fixed when the project is created."""

    class Meta:
        exclude = ("task_type",)

    @pre_load
    def _task_type_is_fixed(self, data, **_kwargs):
        if isinstance(data, dict) and "task_type" in data:
            raise ValidationError({"task_type": ["cannot change once the project exists"]})
        return data


class ProjectSchema(ResponseSchema, _ProjectFields):
    # A worker sees a project without its owner's settings (api/projects.py), and any project has the
    # label fields of its task type only.
    optional = (*(name for name in _ProjectFields._declared_fields if name not in (
        "name", "instructions", "task_type", "lease_seconds", "max_active_leases", "max_answers_per_worker_per_day",
        "reward", "status", "questions", "display")),)

    id = fields.Integer()
    organization_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    @pre_dump
    def flatten(self, project, **_kwargs):
        if isinstance(project, dict):  # already shaped (e.g. the view a worker gets)
            return project
        out = {key: getattr(project, key) for key in (
            "id", "organization_id", "name", "instructions", "task_type", "max_overlap", "lease_seconds",
            "max_active_leases", "batch_size", "status", "created_at", "updated_at", "gold_ratio",
            "min_gold_accuracy", "min_gold_answers", "rating_tolerance", "agreement_threshold", "qualification",
            "consensus_method", *PAYMENT_FIELDS)}
        out["overlap"] = project.overlap
        out["reward"] = {"amount": project.reward_amount, "currency": project.reward_currency}
        if project.task_type != FORM:
            for key in _LABEL_FIELDS:
                if key in project.label_config:
                    out[key] = project.label_config[key]
        out["questions"] = [q.as_dict() for q in form_of(project).questions]
        out["display"] = project.display or []
        return out


class ProjectListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(PROJECT_STATUSES))


class BatchSchema(ResponseSchema):
    id = fields.Integer()
    project_id = fields.Integer()
    dataset_id = fields.Integer()
    number = fields.Integer()
    priority = fields.Integer()
    status = fields.String()
    task_count = fields.Integer()
    completed_count = fields.Integer()
    gold_count = fields.Integer(metadata={"description": "Control tasks; they never complete by overlap"})
    reward_amount = fields.Integer(allow_none=True, metadata={"description": "Overrides the project's reward"})
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class BatchUpdateSchema(Schema):
    priority = fields.Integer(strict=True, validate=validate.Range(min=-1_000_000, max=1_000_000),
                              metadata={"description": "Higher first."})
    status = fields.String(validate=validate.OneOf(BATCH_STATUSES))
    reward_amount = fields.Integer(strict=True, allow_none=True, validate=_AMOUNT, metadata={
        "description": "Rush batches: reward per accepted answer in minor units of the project's currency; "
                       "null: the project's reward"})


class BatchListArgsSchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(BATCH_STATUSES))


class DatasetSchema(ResponseSchema):
    optional = ("batches",)  # one dataset has them, lists leave them out
    id = fields.Integer()
    project_id = fields.Integer()
    filename = fields.String(allow_none=True)
    format = fields.String()
    status = fields.String(validate=validate.OneOf(["importing", "ready", "failed"]))
    batch_size = fields.Integer()
    items_total = fields.Integer()
    tasks_created = fields.Integer()
    duplicates_skipped = fields.Integer()
    error = fields.Dict(allow_none=True)
    job_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    batches = fields.List(fields.Nested(BatchSchema))


# The column's width (datasets.filename).
FILENAME_MAX = 255


class DatasetItemsSchema(Schema):
    items = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1), metadata={
        "description": "Objects: {external_id?, gold?, data} or flat objects whose other fields are the data."})
    batch_size = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=100_000))
    filename = fields.String(load_default=None, validate=validate.Length(max=FILENAME_MAX))


class DatasetUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    format = fields.String(validate=validate.OneOf(["csv", "json", "jsonl"]))
    batch_size = fields.Integer(validate=validate.Range(min=1, max=100_000))


class DatasetAcceptedSchema(Schema):
    job = fields.Nested(JobSchema, required=True)
    dataset = fields.Nested(DatasetSchema, required=True)


class TaskSchema(ResponseSchema):
    id = fields.Integer()
    project_id = fields.Integer()
    batch_id = fields.Integer()
    external_id = fields.String(allow_none=True)
    data = fields.Dict()
    gold = fields.Dict(allow_none=True, metadata={"description": "Managers only; never shown to workers."})
    required_overlap = fields.Integer()
    answer_count = fields.Integer()
    status = fields.String(metadata={"description": "open, complete, or gold (a control task)"})
    agreement = fields.Float(allow_none=True)
    flagged = fields.Boolean()
    flag_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class TaskListArgsSchema(PageArgsSchema):
    flagged = fields.Boolean(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "complete", "gold"]))
    batch_id = fields.Integer(load_default=None)
