"""Claiming tasks, submitting answers and releasing leases; vendors' workers."""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from marshmallow import RAISE

from .. import jobs
from ..errors import Forbidden
from ..schemas.assignments import (
    AssignmentSchema,
    MyAssignmentArgsSchema,
    MyAssignmentSchema,
    ReleaseSchema,
    SubmitSchema,
    WorkerCreateSchema,
    WorkerSchema,
)
from ..schemas.common import page_of
from ..services import assignments, worker_assignments, workers
from ..services.assignments import Actor, NoTask
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

log = logging.getLogger(__name__)
bp = api_blueprint("assignments", __name__, "Leases of tasks to workers, and the answers that come back.")
WORKER_HEADER = "X-Concord-Worker"
REASON_HEADER = "X-Concord-Reason"
MESSAGE_HEADER = "X-Concord-Message"
_WORKER_PARAM = {"in": "header", "name": WORKER_HEADER, "required": False, "schema": {"type": "string"},
                 "description": "Organization keys: the vendor's own id of the worker to act for."}
_NO_TASK_HEADERS = {
    REASON_HEADER: {"required": True, "schema": {"type": "string"}, "description": (
        "Why: no_task_available, project_not_active, not_qualified, suspended, daily_cap_reached or "
        "budget_exhausted")},
    MESSAGE_HEADER: {"required": True, "schema": {"type": "string"}, "description": "The reason in words (latin-1)"},
}


def _new_worker_cap() -> int:
    return current_app.config["CONCORD_SETTINGS"].max_new_workers_per_key_per_hour


def _actor() -> Actor:
    principal = current_principal()
    header = request.headers.get(WORKER_HEADER)
    if principal.role == "organization" and not header:
        principal.require_scope("tasks:work")
        return Actor(vendor_organization_id=principal.organization_id)
    # Reading, submitting or releasing a lease never registers a worker: an unknown one holds none.
    return Actor(worker_id=workers.acting_worker_id(principal, header, register=False))


@bp.post("/projects/<int:project_id>/assignments")
@auth_required("tasks:work")
@bp.response(201, AssignmentSchema, description="A new lease")
@bp.alt_response(200, schema=AssignmentSchema, description="The lease the worker already holds")
@bp.alt_response(204, description=f"Nothing for this worker now; {REASON_HEADER} says why (a code), "
                                  f"{MESSAGE_HEADER} in words", headers=_NO_TASK_HEADERS)
@bp.doc(security=security("tasks:work"), parameters=[_WORKER_PARAM])
@errors(bp, 401, 403, 404, 422, 429)
def claim(project_id: int):
    """Lease the next task of a project to the calling worker."""
    principal = current_principal()
    worker_id = workers.acting_worker_id(principal, request.headers.get(WORKER_HEADER),
                                         max_new_per_hour=_new_worker_cap())
    result = assignments.claim_next_task(principal=principal, project_id=project_id, worker_id=worker_id)
    if isinstance(result, NoTask):
        # The message is for people (a labeling client shows it); header values must be latin-1.
        message = result.message.encode("latin-1", "replace").decode("latin-1")
        return Response(status=204, headers={REASON_HEADER: result.reason, MESSAGE_HEADER: message})
    return result, 201 if result.created else 200


@bp.get("/assignments/<bigint:assignment_id>")
@auth_required("tasks:work")
@bp.response(200, AssignmentSchema)
@bp.doc(security=security("tasks:work"), parameters=[_WORKER_PARAM])
@errors(bp, 401, 403, 404)
def get_assignment(assignment_id: int):
    """One of the caller's assignments."""
    return assignments.get_assignment(assignment_id=assignment_id, actor=_actor())


# The header is declared on the route: parameters given to doc() would replace the query's.
@bp.get("/me/assignments", parameters=[_WORKER_PARAM])
@auth_required("tasks:work")
# A misspelt filter would otherwise list everything: unknown parameters are a 422 here.
@bp.arguments(MyAssignmentArgsSchema, location="query", unknown=RAISE)
@bp.response(200, page_of(MyAssignmentSchema))
@bp.doc(security=security("tasks:work"))
@errors(bp, 401, 403, 422)
def my_assignments(args):
    """My assignments, newest first: each answer with its review decision, the reviewer's reason and the reward.

    Organization keys name the vendor's worker in X-Concord-Worker and see that worker's assignments only.
    """
    # Listing never registers a vendor's worker: one that never claimed anything has an empty list.
    worker_id = workers.acting_worker_id(current_principal(), request.headers.get(WORKER_HEADER), register=False)
    return worker_assignments.list_worker_assignments(worker_id=worker_id, **args)


@bp.post("/assignments/<bigint:assignment_id>/submit")
@auth_required("tasks:work")
@bp.arguments(SubmitSchema)
@bp.response(200, AssignmentSchema)
@bp.doc(security=security("tasks:work"), parameters=[_WORKER_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def submit(body, assignment_id: int):
    """Submit the answer. The same answer again returns 200; a different one is 409."""
    lease = assignments.submit_answer(assignment_id=assignment_id, actor=_actor(), answer=body["answer"],
                                      active_seconds=body["active_seconds"])
    if lease.batch_completed:
        # The batch's completion event is committed (the outbox); start its consensus now rather than at
        # the next tick. The answer is stored whatever happens here: with the queue down, the periodic
        # dispatcher picks the event up once it is back.
        jobs.dispatch_soon(f"the batch completion of assignment {assignment_id}")
    return lease


@bp.post("/assignments/<bigint:assignment_id>/release")
@auth_required("tasks:work")
@bp.arguments(ReleaseSchema)
@bp.response(200, AssignmentSchema)
@bp.doc(security=security("tasks:work"), parameters=[_WORKER_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def release(body, assignment_id: int):
    """Give the task back (skip). The worker will not get it again."""
    return assignments.release_assignment(assignment_id=assignment_id, actor=_actor(), reason=body["reason"])


@bp.post("/workers")
@idempotent
@auth_required("tasks:work")
@bp.arguments(WorkerCreateSchema)
@bp.response(201, WorkerSchema, description="Registered")
@bp.alt_response(200, schema=WorkerSchema, description="Already registered")
@bp.doc(security=security("tasks:work"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 422, 429)
def register_worker(body):
    """Register one of a vendor's own workers (organization keys). Workers are also registered on first use."""
    principal = current_principal()
    if principal.role != "organization":
        raise Forbidden("Only organization keys register their own workers.")
    worker, created = workers.register_vendor_worker(organization_id=principal.organization_id,
                                                     external_id=body["external_id"], token_id=principal.token_id,
                                                     max_new_per_hour=_new_worker_cap())
    return worker, 201 if created else 200
