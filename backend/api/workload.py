"""Workload and cost: per-worker figures for workers and managers, and a project's spend."""

from __future__ import annotations

from flask import Response

from ..errors import Forbidden
from ..schemas.payments import CostSchema, StatsArgsSchema, WorkerStatsSchema, WorkloadArgsSchema, WorkloadSchema
from ..services import budget, workload
from .common import api_blueprint, errors, security
from .security import auth_required, current_principal

bp = api_blueprint("workload", __name__, "Workload per worker, project and day; project cost and budget.")
_CSV_RESPONSE = {200: {
    "description": "The rows; `format=csv`: the same rows as CSV, one page of workers",
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "headers": {
        "Content-Disposition": {"schema": {"type": "string"}, "description": "`format=csv`: the file's name"},
        "X-Next-Cursor": {"schema": {"type": "string"}, "description": "`format=csv`: the next page's cursor"},
    },
}}


@bp.get("/me/stats")
@auth_required("payments:read")
@bp.arguments(StatsArgsSchema, location="query")
@bp.response(200, WorkerStatsSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 422)
def my_stats(args):
    """My figures per project (or per project and day, `by=day`) and my balances."""
    principal = current_principal()
    if principal.worker_id is None:
        raise Forbidden("Only annotators have figures of their own.", code="not_a_worker")
    return workload.worker_stats(principal=principal, worker_id=principal.worker_id, own=True, **args)


@bp.get("/workers/<int:worker_id>/stats")
@auth_required("payments:read")
@bp.arguments(StatsArgsSchema, location="query")
@bp.response(200, WorkerStatsSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404, 422)
def worker_stats(args, worker_id: int):
    """A worker's figures on the organization's projects, and what the organization owes it."""
    return workload.worker_stats(principal=current_principal(), worker_id=worker_id, **args)


@bp.get("/projects/<int:project_id>/workload")
@auth_required("payments:read")
@bp.arguments(WorkloadArgsSchema, location="query")
@bp.response(200, WorkloadSchema)
@bp.doc(security=security("payments:read"), responses=_CSV_RESPONSE)
@errors(bp, 401, 403, 404, 422)
def project_workload(args, project_id: int):
    """Per worker (or worker and day) figures of a project, a page of workers at a time."""
    fmt = args.pop("format")
    rows, next_cursor = workload.project_workload(principal=current_principal(), project_id=project_id, **args)
    if fmt == "csv":
        headers = {"Content-Disposition": f'attachment; filename="workload-{project_id}.csv"'}
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        return Response(workload.as_csv(rows), mimetype="text/csv", headers=headers)
    return {"items": rows, "next_cursor": next_cursor}


@bp.get("/projects/<int:project_id>/cost")
@auth_required("payments:read")
@bp.response(200, CostSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404)
def project_cost(project_id: int):
    """Spent, committed and remaining budget, and the forecast cost to finish at the current pace."""
    return budget.project_cost(principal=current_principal(), project_id=project_id)
