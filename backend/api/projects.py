"""Projects and their settings."""

from __future__ import annotations

from ..schemas.common import page_of
from ..schemas.projects import ProjectCreateSchema, ProjectListArgsSchema, ProjectSchema, ProjectUpdateSchema
from ..services import projects
from .common import api_blueprint, errors, security
from .security import auth_required, current_principal

bp = api_blueprint("projects", __name__, "Projects: instructions, label schema, overlap, rates.")


@bp.post("/projects")
@auth_required("projects:write")
@bp.arguments(ProjectCreateSchema)
@bp.response(201, ProjectSchema)
@bp.doc(security=security("projects:write"))
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
    return projects.list_projects(principal=current_principal(), limit=args["limit"], cursor=args["cursor"],
                                  status=args["status"])


@bp.get("/projects/<int:project_id>")
@auth_required("projects:read")
@bp.response(200, ProjectSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_project(project_id: int):
    """One project."""
    return projects.get_project(principal=current_principal(), project_id=project_id)


@bp.patch("/projects/<int:project_id>")
@auth_required("projects:write")
@bp.arguments(ProjectUpdateSchema)
@bp.response(200, ProjectSchema)
@bp.doc(security=security("projects:write"))
@errors(bp, 401, 403, 404, 422)
def update_project(body, project_id: int):
    """Change settings; a new overlap applies to every open task."""
    return projects.update_project(principal=current_principal(), project_id=project_id, fields=body)
