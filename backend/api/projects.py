"""Projects and their settings."""

from __future__ import annotations

from ..schemas.common import page_of
from ..schemas.projects import ProjectCreateSchema, ProjectListArgsSchema, ProjectSchema, ProjectUpdateSchema
from ..services import projects
from ..services.access import can_manage
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

bp = api_blueprint("projects", __name__, "Projects: instructions, label schema, overlap, rates.")


@bp.post("/projects")
@idempotent
@auth_required("projects:write")
@bp.arguments(ProjectCreateSchema)
@bp.response(201, ProjectSchema)
@bp.doc(security=security("projects:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 422)
def create_project(body):
    """Create a project in the caller's organization (status draft unless given)."""
    return projects.create_project(principal=current_principal(), fields=body)


@bp.get("/projects")
@auth_required("projects:read")
@bp.arguments(ProjectListArgsSchema, location="query")
@bp.response(200, page_of(ProjectSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 422)
def list_projects(args):
    """Projects the caller manages, or the active projects open to a worker."""
    principal = current_principal()
    page = projects.list_projects(principal=principal, limit=args["limit"], cursor=args["cursor"],
                                  status=args["status"])
    page.items = [_for(principal, p) for p in page.items]
    return page


# What a worker (an annotator, or another organization's vendor key) sees of a project it may work
# on: what it needs to label and what it is paid. Budgets, pay rules, review and gold settings, the
# qualification rules and the consensus method are the owner's business; a new setting stays hidden
# from workers until it is named here.
WORKER_FIELDS = ("id", "organization_id", "name", "instructions", "task_type", "labels", "min", "max", "text_field",
                 "image_field", "max_length", "lease_seconds", "max_active_leases", "max_answers_per_worker_per_day",
                 "reward", "status", "created_at", "updated_at", "questions", "display")


def _for(principal, project):
    if can_manage(principal, project):
        return project
    shown = ProjectSchema().flatten(project)
    return {k: shown[k] for k in WORKER_FIELDS if k in shown}


@bp.get("/projects/<int:project_id>")
@auth_required("projects:read")
@bp.response(200, ProjectSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_project(project_id: int):
    """One project (workers see it without its quality-control settings)."""
    principal = current_principal()
    return _for(principal, projects.get_project(principal=principal, project_id=project_id))


@bp.patch("/projects/<int:project_id>")
@auth_required("projects:write")
@bp.arguments(ProjectUpdateSchema)
@bp.response(200, ProjectSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 422)
def update_project(body, project_id: int):
    """Change settings; a new overlap applies to every open task."""
    return projects.update_project(principal=current_principal(), project_id=project_id, fields=body)
