"""Shapes of the resources the API returns. They are plain dicts at runtime; these annotate them.

Every TypedDict is ``total=False``: the server may add fields, and a worker sees a
project without its quality-control settings. Times are ISO-8601 strings as sent.
Amounts are integer minor units (cents for USD) with an ISO-4217 ``currency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar

T = TypeVar("T")

JSON = dict[str, Any]


class Page(TypedDict, Generic[T]):
    """One page of a list endpoint; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None


class Money(TypedDict):
    amount: int
    currency: str


class OrganizationRef(TypedDict, total=False):
    id: int
    name: str | None


class Me(TypedDict, total=False):
    id: int | None
    email: str | None
    role: str
    organization: OrganizationRef | None
    worker_id: int | None
    scopes: list[str]


class Qualification(TypedDict, total=False):
    min_gold_accuracy: float | None
    gold_projects: list[int]
    worker_groups: list[str]
    vendor_organizations: list[int]


class Question(TypedDict, total=False):
    """One question of a form: the common fields, plus the kind's own (labels, min/max, a/b, items...)."""

    name: str
    kind: str
    title: str
    required: bool
    when: JSON | None
    consensus_method: str | None


# How a data field is shown: ``as`` is text, markdown, html, image, images, audio, video or chat.
DisplayEntry = TypedDict("DisplayEntry", {"field": str, "as": str})


class Project(TypedDict, total=False):
    id: int
    organization_id: int
    name: str
    instructions: str
    task_type: Literal["single_choice", "multi_choice", "rating", "bounding_boxes", "text_spans", "free_text",
                       "form"]
    questions: list[Question]
    display: list[DisplayEntry]
    labels: list[str] | None
    min: int | None
    max: int | None
    text_field: str | None
    image_field: str | None
    max_length: int | None
    overlap: float
    max_overlap: int | None
    lease_seconds: int
    max_active_leases: int
    reward: Money
    batch_size: int
    status: str
    gold_ratio: float
    min_gold_accuracy: float | None
    min_gold_answers: int
    rating_tolerance: int
    agreement_threshold: float | None
    qualification: Qualification | None
    consensus_method: str | None
    gold_reward_amount: int | None
    auto_approve_hours: int | None
    auto_approve_consensus: bool
    auto_reject_suspended: bool
    rejection_window_hours: int
    min_hourly_rate: int | None
    fair_pay_auto_apply: bool
    max_answers_per_worker_per_day: int | None
    budget_amount: int | None
    created_at: str
    updated_at: str


class Batch(TypedDict, total=False):
    id: int
    project_id: int
    dataset_id: int
    number: int
    priority: int
    status: str
    task_count: int
    completed_count: int
    gold_count: int
    reward_amount: int | None
    created_at: str
    completed_at: str | None


class Dataset(TypedDict, total=False):
    id: int
    project_id: int
    filename: str | None
    format: str
    status: Literal["importing", "ready", "failed"]
    batch_size: int
    items_total: int
    tasks_created: int
    duplicates_skipped: int
    error: JSON | None
    job_id: str | None
    created_at: str
    finished_at: str | None
    batches: list[Batch]


class Job(TypedDict, total=False):
    id: str
    kind: str
    status: Literal["queued", "started", "finished", "failed"]
    progress: float
    result: JSON | None
    error: JSON | None
    project_id: int | None
    created_at: str
    started_at: str | None
    finished_at: str | None


class Task(TypedDict, total=False):
    id: int
    project_id: int
    batch_id: int
    external_id: str | None
    data: JSON
    gold: JSON | None
    required_overlap: int
    answer_count: int
    status: str
    agreement: float | None
    flagged: bool
    flag_reason: str | None
    created_at: str
    completed_at: str | None


class Answer(TypedDict, total=False):
    worker_id: int
    answer: JSON
    submitted_at: str
    active_seconds: int | None
    flagged: bool
    gold_score: float | None


class TaskDetail(Task, total=False):
    answers: list[Answer]
    consensus: JSON | None
    leased_count: int


class Progress(TypedDict, total=False):
    project_id: int
    batch_id: int | None
    tasks_total: int  # tasks that must complete; control tasks are counted apart
    tasks_complete: int
    control_tasks: int
    answers_required: int
    answers_submitted: int
    control_answers: int
    answers_in_flight: int
    active_workers: int
    answers_per_hour: float
    estimated_seconds_left: float | None
    computed_at: str


class LeasedTask(TypedDict, total=False):
    id: int
    batch_id: int
    external_id: str | None
    data: JSON


class Assignment(TypedDict, total=False):
    id: int
    status: str
    project_id: int
    batch_id: int
    worker_id: int
    task: LeasedTask
    project: JSON
    leased_at: str
    expires_at: str
    submitted_at: str | None
    answer: JSON | None
    active_seconds: int | None
    release_reason: str | None
    reward: Money
    review_status: str | None
    review_reason: str | None
    reviewed_at: str | None


class ProjectRef(TypedDict, total=False):
    id: int
    name: str


class MyAssignment(TypedDict, total=False):
    """One of the worker's own assignments, with the review decision and the reviewer's reason."""

    id: int
    status: str
    project: ProjectRef
    task: LeasedTask
    answer: JSON | None
    leased_at: str
    submitted_at: str | None
    review_status: str | None
    review_reason: str | None
    reviewed_at: str | None
    reward: Money


@dataclass(frozen=True)
class NoTask:
    """A claim that got nothing (HTTP 204). Falsy, so ``if not lease:`` reads naturally.

    ``reason`` is the server's ``X-Concord-Reason``: ``no_task_available``, ``project_not_active``,
    ``suspended``, ``not_qualified``, ``daily_cap_reached``, ``budget_exhausted``...
    """

    reason: str

    def __bool__(self) -> bool:
        return False


class Worker(TypedDict, total=False):
    id: int
    external_id: str | None
    organization_id: int | None
    created_at: str


class ConsensusRun(TypedDict, total=False):
    id: int
    version: int
    method: str
    batch_ids: list[int] | None
    status: str
    tasks: int
    details: JSON
    job_id: str | None
    created_at: str
    finished_at: str | None


class Consensus(TypedDict, total=False):
    answer: JSON
    confidence: float
    method: str
    answers_used: int
    details: JSON | None
    computed_at: str


class Result(TypedDict, total=False):
    task_id: int
    external_id: str | None
    batch_id: int
    data: JSON
    consensus: Consensus
    flagged: bool
    computed_at: str


class LeaderboardEntry(TypedDict):
    item: str
    score: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int


class Leaderboard(TypedDict):
    question: str
    kind: Literal["pairwise", "ranking"]
    source: Literal["answers", "consensus"]
    comparisons: int
    items: list[LeaderboardEntry]


class Export(TypedDict, total=False):
    id: int
    project_id: int
    format: str
    batch_ids: list[int] | None
    include: list[str] | None
    include_gold: bool
    include_empty: bool
    question: str | None
    include_ties: bool
    label_config: str | None
    status: Literal["queued", "running", "ready", "failed", "expired"]
    job_id: str | None
    size_bytes: int | None
    tasks: int | None
    error: JSON | None
    created_at: str
    finished_at: str | None
    expires_at: str | None
    progress: float | None


class ReviewedAnswer(TypedDict, total=False):
    id: int
    project_id: int
    batch_id: int
    task_id: int
    worker_id: int
    status: str
    answer: JSON | None
    submitted_at: str | None
    active_seconds: int | None
    is_gold: bool
    flagged: bool
    review_status: Literal["pending", "approved", "rejected"] | None
    review_reason: str | None
    reviewed_at: str | None
    reviewed_by: str | None
    reward: Money


class ReviewQueueItem(ReviewedAnswer, total=False):
    task: JSON
    worker_external_id: str | None


class BulkReviewResult(TypedDict, total=False):
    approved: int
    rejected: int
    replayed: bool


class LedgerEntry(TypedDict, total=False):
    id: int
    organization_id: int
    worker_id: int
    kind: str
    amount: int
    currency: str
    reference: str | None
    project_id: int | None
    assignment_id: int | None
    payout_id: int | None
    reason: str | None
    actor: str
    created_at: str


class Balance(TypedDict, total=False):
    currency: str
    balance: int
    pending: int
    paid_out: int
    earned: int
    bonuses: int
    adjustments: int


class Earnings(TypedDict, total=False):
    balances: list[Balance]
    entries: list[LedgerEntry]
    next_cursor: str | None


class Payout(TypedDict, total=False):
    id: int
    organization_id: int
    currency: str
    minimum: int
    status: str
    total_amount: int
    worker_count: int
    note: str | None
    actor: str
    created_at: str
    settled_at: str | None


class Cost(TypedDict, total=False):
    project_id: int
    currency: str
    budget: int | None
    spent: int
    approved: int
    bonuses: int
    pending: int
    in_flight: int
    committed: int
    remaining_budget: int | None
    rejection_rate: float
    answers_remaining: int
    control_answers_expected: int
    forecast_total: int
    answers_per_hour: float | None
    eta_seconds: float | None


class WorkloadRow(TypedDict, total=False):
    worker_id: int
    project_id: int
    day: str
    claimed: int
    submitted: int
    approved: int
    rejected: int
    pending: int
    expired: int
    released: int
    active_seconds: int
    answers_per_hour: float | None
    gold_answers: int
    gold_accuracy: float | None
    agreement_with_consensus: float | None
    effective_hourly_rate: int | None
    suspended: bool
    earnings: list[Money]


class WorkerStats(TypedDict, total=False):
    worker_id: int
    by: str
    rows: list[WorkloadRow]
    balances: list[Balance]


class Webhook(TypedDict, total=False):
    id: int
    organization_id: int
    url: str
    events: list[str]
    secret: str  # in the answer to create only
    description: str | None
    active: bool
    created_at: str


class WebhookDelivery(TypedDict, total=False):
    id: int
    webhook_id: int
    event_id: int | None
    event: str
    payload: JSON
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    last_response: str | None
    created_at: str
    delivered_at: str | None
