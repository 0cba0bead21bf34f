"""Background jobs: status, progress and outcome."""

from __future__ import annotations

from .. import jobs
from ..schemas.common import JobArgsSchema, JobSchema, page_of
from ..services import jobs as job_records
from .common import api_blueprint, errors, security
from .security import auth_required, current_principal

bp = api_blueprint("jobs", __name__, "Background jobs of the caller's organization.")


@bp.get("/jobs/<job_id>")
@auth_required()
@bp.response(200, JobSchema)
@bp.doc(security=security(None))
@errors(bp, 401, 404)
def get_job(job_id: str):
    """A job's status (queued, started, finished, failed), progress 0..1, result or error."""
    record = job_records.get_job(principal=current_principal(), job_id=job_id)
    return jobs.job_status(job_id, record)


@bp.get("/jobs")
@auth_required()
@bp.arguments(JobArgsSchema, location="query")
@bp.response(200, page_of(JobSchema))
@bp.doc(security=security(None))
@errors(bp, 401, 422)
def list_jobs(args):
    """The organization's jobs, oldest first."""
    page = job_records.list_jobs(principal=current_principal(), limit=args["limit"], cursor=args["cursor"],
                                 status=args["status"])
    page.items = [jobs.job_status(record.id, record) for record in page.items]
    return page
