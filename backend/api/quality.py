"""Agreement, worker standing and suspensions, worker groups."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .. import jobs
from ..errors import ServiceUnavailable
from ..schemas.common import JobSchema, PageArgsSchema, page_of
from ..schemas.quality import (
    AgreementReportSchema,
    LeaderboardArgsSchema,
    LeaderboardSchema,
    WorkerAgreementSchema,
    WorkerGroupSchema,
    WorkerGroupUpdateSchema,
    WorkerStandingSchema,
)
from ..services import agreement, leaderboard, workforce
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

bp = api_blueprint("quality", __name__, "Agreement between annotators, gold results, suspensions, groups.")


def _report(project_id: int, *, force: bool = False) -> tuple[dict, object | None]:
    """The stored report and, when it is missing or stale, the job refreshing it."""
    principal = current_principal()
    state = agreement.report_state(principal=principal, project_id=project_id)
    job = state["running"]
    if state["small"] and not force:
        agreement.compute_report(project_id=project_id)
        state = agreement.report_state(principal=principal, project_id=project_id)
    elif (state["stale"] or force) and job is None:
        try:
            job = jobs.start_job("worker.jobs.compute_agreement", kind="compute_agreement",
                                 organization_id=state["project"].organization_id, project_id=project_id,
                                 queue="consensus", args={"project_id": project_id})
        except Exception as exc:
            raise ServiceUnavailable("The job queue is unreachable; the report cannot be refreshed.") from exc
    stored = state["stored"]
    status = "pending" if stored is None else ("stale" if state["stale"] else "fresh")
    body = {"status": status, "computed_at": stored.computed_at if stored else None,
            "answers_counted": stored.answers_counted if stored else None,
            "job": jobs.job_status(job.id, job) if job is not None else None}
    return body, (stored.report if stored else None)


@bp.get("/projects/<int:project_id>/agreement")
@auth_required("results:read")
@bp.response(200, AgreementReportSchema)
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 503)
def project_agreement(project_id: int):
    """Alpha (with its level and 95% interval), kappa where it applies and percent agreement: for the
    project, per batch, per label and per day. Served from the last computed report; a stale report
    starts a refresh job."""
    body, report = _report(project_id)
    report = report or {}
    body.update(project=report.get("project"), batches=report.get("batches", []), labels=report.get("labels", []),
                daily=report.get("daily", []), questions=report.get("questions", {}))
    return body


@bp.post("/projects/<int:project_id>/agreement/refresh")
@idempotent
@auth_required("results:read")
@bp.response(202, Schema.from_dict({"job": fields.Nested(JobSchema, required=True)}, name="AgreementRefresh"))
@bp.doc(security=security("results:read"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 503)
def refresh_agreement(project_id: int):
    """Recompute the agreement report now, in the background."""
    body, _report_data = _report(project_id, force=True)
    return {"job": body["job"]}, 202


@bp.get("/projects/<int:project_id>/workers/agreement")
@auth_required("results:read")
@bp.response(200, WorkerAgreementSchema)
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 503)
def worker_agreement(project_id: int):
    """Per worker: agreement with the other annotators, gold accuracy; Cohen's kappa between the most
    active workers."""
    body, report = _report(project_id)
    report = report or {}
    body.update(workers=report.get("workers", []), pairwise_kappa=report.get("pairwise_kappa", {}))
    return body


@bp.get("/projects/<int:project_id>/questions/<string:name>/leaderboard")
@auth_required("results:read")
@bp.arguments(LeaderboardArgsSchema, location="query")
@bp.response(200, LeaderboardSchema)
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 422)
def question_leaderboard(args, project_id: int, name: str):
    """What a pairwise or ranking question compares (models, say), best first: Bradley-Terry scores with
    95% bootstrap intervals, wins, losses and ties, from every counted answer or from each task's
    consensus. Gold tasks and rejected answers do not count."""
    return leaderboard.question_leaderboard(principal=current_principal(), project_id=project_id, name=name,
                                            source=args["source"])


class SuspendSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Shown to the worker and kept in the audit log"})


class _StandingArgs(PageArgsSchema):
    suspended = fields.Boolean(load_default=None)


@bp.get("/projects/<int:project_id>/workers")
@auth_required("projects:read")
@bp.arguments(_StandingArgs, location="query")
@bp.response(200, page_of(WorkerStandingSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_standings(args, project_id: int):
    """Workers of a project: claims, gold accuracy, suspension."""
    return workforce.list_standings(principal=current_principal(), project_id=project_id, limit=args["limit"],
                                    cursor=args["cursor"], suspended=args["suspended"])


@bp.post("/projects/<int:project_id>/workers/<int:worker_id>/lift-suspension")
@auth_required("projects:write")
@bp.response(200, WorkerStandingSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404)
def lift_suspension(project_id: int, worker_id: int):
    """Let a suspended worker back in: gold results start afresh and its answers count again."""
    row = workforce.lift_suspension(principal=current_principal(), project_id=project_id, worker_id=worker_id)
    jobs.dispatch_soon(f"lifting the suspension of worker {worker_id}")
    return row


@bp.post("/projects/<int:project_id>/workers/<int:worker_id>/suspend")
@auth_required("projects:write")
@bp.arguments(SuspendSchema)
@bp.response(200, WorkerStandingSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 422)
def suspend_worker(body, project_id: int, worker_id: int):
    """Suspend a worker from the project by hand: it cannot claim, its answers stop counting."""
    row = workforce.suspend_worker(principal=current_principal(), project_id=project_id, worker_id=worker_id,
                                   reason=body["reason"])
    jobs.dispatch_soon(f"the suspension of worker {worker_id}")
    return row


@bp.put("/worker-groups/<name>")
@auth_required("projects:write")
@bp.arguments(WorkerGroupUpdateSchema)
@bp.response(200, WorkerGroupSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 422)
def set_worker_group(body, name: str):
    """Set the members of one of the organization's worker groups (used by project qualification)."""
    members = workforce.set_group(principal=current_principal(), name=name, worker_ids=body["worker_ids"])
    return {"name": name, "worker_ids": members}


@bp.get("/worker-groups/<name>")
@auth_required("projects:write")
@bp.response(200, WorkerGroupSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403)
def get_worker_group(name: str):
    """The members of one of the organization's worker groups."""
    return {"name": name, "worker_ids": workforce.get_group(principal=current_principal(), name=name)}
