"""Consensus runs and results; exports and their download."""

from __future__ import annotations

from flask import jsonify, make_response, send_file

from .. import jobs
from ..exports import FORMATS
from ..schemas.common import PageArgsSchema, page_of
from ..schemas.results import (
    ConsensusRequestSchema,
    ConsensusRunSchema,
    ExportAcceptedSchema,
    ExportRequestSchema,
    ExportSchema,
    JobAcceptedSchema,
    ResultArgsSchema,
    ResultPageSchema,
)
from ..services import consensus, exports
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

bp = api_blueprint("results", __name__, "Consensus results and exports.")


def _download_doc() -> dict:
    """The download's media types, one per format; a binary one first, since generated clients read every
    answer of an operation as its first media type says (bytes, here)."""
    content = {}
    for fmt in FORMATS.values():
        media_type = fmt.media_type.split(";")[0].strip()
        if media_type == "application/json":
            schema = {}  # a JSON document of the format's own shape
        elif media_type.startswith("text/") or media_type.endswith("json"):  # JSON Lines are text
            schema = {"type": "string"}
        else:
            schema = {"type": "string", "format": "binary"}
        content[media_type] = {"schema": schema}
    ordered = dict(sorted(content.items(), key=lambda item: "format" not in item[1]["schema"]))
    return {200: {"content": ordered, "headers": {"Content-Disposition": {
        "schema": {"type": "string"}, "description": "attachment, with the file's name"}}}}


@bp.post("/projects/<int:project_id>/consensus")
@idempotent
@auth_required("results:read")
@bp.arguments(ConsensusRequestSchema)
@bp.response(202, JobAcceptedSchema)
@bp.doc(security=security("results:read"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422, 503)
def start_consensus(body, project_id: int):
    """Merge answers into consensus now, for the project, some batches or some tasks. Rewrites their results."""
    project, method = consensus.prepare_run(principal=current_principal(), project_id=project_id,
                                            method=body["method"], batch_ids=body["batch_ids"],
                                            task_ids=body["task_ids"])
    record = jobs.start_job("worker.jobs.run_consensus", kind="consensus", organization_id=project.organization_id,
                            project_id=project_id, queue="consensus", retries=2,
                            args={"project_id": project_id, "method": method, "batch_ids": body["batch_ids"],
                                  "task_ids": body["task_ids"]})
    return make_response(jsonify(JobAcceptedSchema().dump({"job": jobs.job_status(record.id, record)})), 202)


@bp.get("/projects/<int:project_id>/consensus/runs")
@auth_required("results:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(ConsensusRunSchema))
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 422)
def list_runs(args, project_id: int):
    """The project's consensus runs, newest first: method, version, time."""
    return consensus.runs(principal=current_principal(), project_id=project_id, limit=args["limit"],
                          cursor=args["cursor"])


@bp.get("/projects/<int:project_id>/results")
@auth_required("results:read")
@bp.arguments(ResultArgsSchema, location="query")
@bp.response(200, ResultPageSchema)
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 422)
def list_results(args, project_id: int):
    """Consensus per task with the task's data; filter by batch, confidence and flagged.

    Incremental sync: pass `updated_since` (an epoch time for everything) and keep the returned
    `sync_cursor`; polling later with `cursor=<sync_cursor>` returns only results written since,
    each once, in the order they were written.
    """
    return consensus.list_results(principal=current_principal(), project_id=project_id, **args)


@bp.post("/projects/<int:project_id>/exports")
@idempotent
@auth_required("results:read")
@bp.arguments(ExportRequestSchema)
@bp.response(202, ExportAcceptedSchema)
@bp.doc(security=security("results:read"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422, 503)
def create_export(body, project_id: int):
    """Write the project's tasks, answers, consensus and agreement to a file in the background."""
    principal = current_principal()
    job_id = jobs.new_job_id()
    export = exports.create_export(principal=principal, project_id=project_id, fmt=body["format"],
                                   batch_ids=body["batch_ids"], include=body["include"], job_id=job_id,
                                   include_gold=body["include_gold"], include_empty=body["include_empty"],
                                   question=body["question"], include_ties=body["include_ties"])
    record = jobs.record_and_enqueue(job_id, "worker.jobs.run_export", kind="export",
                                     organization_id=principal.organization_id, project_id=project_id,
                                     queue="exports", args={"export_id": export.id})
    accepted = {"job": jobs.job_status(record.id, record), "export": export}
    return make_response(jsonify(ExportAcceptedSchema().dump(accepted)), 202)


def _with_progress(export):
    export.progress = 1.0 if export.status == "ready" else (
        jobs.backend().live_progress(export.job_id) if export.job_id and export.status in ("queued", "running")
        else None)
    return export


@bp.get("/projects/<int:project_id>/exports")
@auth_required("results:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(ExportSchema))
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404, 422)
def list_exports(args, project_id: int):
    """The project's exports, newest first: format, status, progress, size and expiry."""
    page = exports.list_exports(principal=current_principal(), project_id=project_id, **args)
    for export in page.items:
        _with_progress(export)
    return page


@bp.get("/exports/<int:export_id>")
@auth_required("results:read")
@bp.response(200, ExportSchema)
@bp.doc(security=security("results:read"))
@errors(bp, 401, 403, 404)
def get_export(export_id: int):
    """An export's status and progress."""
    return _with_progress(exports.get_export(principal=current_principal(), export_id=export_id))


@bp.get("/exports/<int:export_id>/download")
@auth_required("results:read")
@bp.response(200, description="The export file, streamed, in the media type of its format")
@bp.doc(security=security("results:read"), responses=_download_doc())
@errors(bp, 401, 403, 404, 409, 410)
def download_export(export_id: int):
    """Stream the export file (409 until it is ready, 410 once it has expired). Range and conditional requests
    are answered as for any static file."""
    path, name, mimetype = exports.download(principal=current_principal(), export_id=export_id)
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, conditional=True)
