"""Batches and tasks."""

from __future__ import annotations

from ..schemas.common import PageArgsSchema, page_of
from ..schemas.projects import BatchListArgsSchema, BatchSchema, BatchUpdateSchema, TaskSchema
from ..services import batches
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


@bp.get("/tasks/<int:task_id>")
@auth_required("projects:read")
@bp.response(200, TaskSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_task(task_id: int):
    """One task with its data, required overlap and status."""
    return batches.get_task(principal=current_principal(), task_id=task_id)
