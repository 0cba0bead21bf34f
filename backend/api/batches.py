"""Batches and tasks."""

from __future__ import annotations

from ..schemas.assignments import ProgressSchema, TaskDetailSchema
from ..schemas.common import PageArgsSchema, page_of
from ..schemas.projects import BatchListArgsSchema, BatchSchema, BatchUpdateSchema, TaskListArgsSchema, TaskSchema
from ..services import batches, progress
from .common import api_blueprint, errors, security
from .security import auth_required, current_principal

bp = api_blueprint("batches", __name__, "Batches of tasks: priority, pause and resume; the tasks in them.")


@bp.get("/projects/<int:project_id>/batches")
@auth_required("projects:read")
@bp.arguments(BatchListArgsSchema, location="query")
@bp.response(200, page_of(BatchSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_batches(args, project_id: int):
    """A project's batches, oldest first."""
    return batches.list_batches(principal=current_principal(), project_id=project_id, limit=args["limit"],
                                cursor=args["cursor"], status=args["status"])


@bp.get("/batches/<int:batch_id>")
@auth_required("projects:read")
@bp.response(200, BatchSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_batch(batch_id: int):
    """One batch."""
    return batches.get_batch(principal=current_principal(), batch_id=batch_id)


@bp.patch("/batches/<int:batch_id>")
@auth_required("projects:write")
@bp.arguments(BatchUpdateSchema)
@bp.response(200, BatchSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 422)
def update_batch(body, batch_id: int):
    """Set a batch's priority (higher first) or pause and resume it."""
    return batches.update_batch(principal=current_principal(), batch_id=batch_id, fields=body)


@bp.get("/batches/<int:batch_id>/tasks")
@auth_required("projects:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(TaskSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_batch_tasks(args, batch_id: int):
    """A batch's tasks in order."""
    return batches.list_batch_tasks(principal=current_principal(), batch_id=batch_id, limit=args["limit"],
                                    cursor=args["cursor"])


@bp.get("/tasks/<bigint:task_id>")
@auth_required("projects:read")
@bp.response(200, TaskDetailSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_task(task_id: int):
    """One task with its data, required overlap, status and answers."""
    return batches.get_task_detail(principal=current_principal(), task_id=task_id)


@bp.get("/projects/<int:project_id>/progress")
@auth_required("projects:read")
@bp.response(200, ProgressSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def project_progress(project_id: int):
    """Tasks and answers done, in flight and left; active workers; time left at the current pace."""
    return progress.project_progress(principal=current_principal(), project_id=project_id)


@bp.get("/batches/<int:batch_id>/progress")
@auth_required("projects:read")
@bp.response(200, ProgressSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def batch_progress(batch_id: int):
    """The same figures for one batch."""
    return progress.batch_progress(principal=current_principal(), batch_id=batch_id)


@bp.get("/projects/<int:project_id>/tasks")
@auth_required("projects:read")
@bp.arguments(TaskListArgsSchema, location="query")
@bp.response(200, page_of(TaskSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_project_tasks(args, project_id: int):
    """A project's tasks; `flagged=true` lists those that reached max_overlap without agreement."""
    return batches.list_project_tasks(principal=current_principal(), project_id=project_id, limit=args["limit"],
                                      cursor=args["cursor"], flagged=args["flagged"], status=args["status"],
                                      batch_id=args["batch_id"])
