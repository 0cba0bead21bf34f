"""Review of submitted answers: approve, reject (with a reason), in bulk; the review queue."""

from __future__ import annotations

from .. import jobs
from ..schemas.common import page_of
from ..schemas.payments import (
    BulkReviewResultSchema,
    BulkReviewSchema,
    ReviewDecisionSchema,
    ReviewedAnswerSchema,
    ReviewQueueArgsSchema,
    ReviewQueueItemSchema,
)
from ..services import review
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, replay_headers, request_key, security
from .security import auth_required, current_principal

bp = api_blueprint("review", __name__, "Review of answers: pending, then approved (paid) or rejected.")


def _decide(assignment_id: int, *, approve: bool, reason: str | None):
    principal = current_principal()
    decision = review.decide(principal=principal, assignment_id=assignment_id, approve=approve, reason=reason,
                             request=request_key(principal))
    jobs.dispatch_soon(f"the review of assignment {assignment_id}")  # a task reopened, consensus stale
    return decision.assignment, 200, replay_headers(decision.replayed)


@bp.post("/assignments/<bigint:assignment_id>/approve")
@auth_required("payments:write")
@bp.arguments(ReviewDecisionSchema)
@bp.response(200, ReviewedAnswerSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def approve(body, assignment_id: int):
    """Approve an answer: the worker earns the rate fixed at claim time. Also reverses a recent rejection."""
    return _decide(assignment_id, approve=True, reason=body["reason"])


@bp.post("/assignments/<bigint:assignment_id>/reject")
@auth_required("payments:write")
@bp.arguments(ReviewDecisionSchema)
@bp.response(200, ReviewedAnswerSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def reject(body, assignment_id: int):
    """Reject a pending answer with a reason the worker can read. An approved answer cannot be rejected."""
    return _decide(assignment_id, approve=False, reason=body["reason"])


@bp.post("/projects/<int:project_id>/reviews")
@auth_required("payments:write")
@bp.arguments(BulkReviewSchema)
@bp.response(200, BulkReviewResultSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422)
def review_in_bulk(body, project_id: int):
    """Approve or reject every pending answer matching the filters (batch, worker, ids, submitted before, gold)."""
    principal = current_principal()
    result = review.review_in_bulk(principal=principal, project_id=project_id, request=request_key(principal),
                                   **body)
    jobs.dispatch_soon(f"the bulk review of project {project_id}")
    return result, 200, replay_headers(result["replayed"])


@bp.get("/projects/<int:project_id>/reviews")
@auth_required("payments:read")
@bp.arguments(ReviewQueueArgsSchema, location="query")
@bp.response(200, page_of(ReviewQueueItemSchema))
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404, 422)
def review_queue(args, project_id: int):
    """The review queue: submitted answers with their tasks, oldest first (pending by default)."""
    return review.list_answers(principal=current_principal(), project_id=project_id, **args)
