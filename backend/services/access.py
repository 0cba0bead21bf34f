"""Who is asking, and what they may see. Plain values; no Flask here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Forbidden, NotFound, ValidationError
from ..models import Project


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user (by session or personal token) or an organization key."""

    role: str  # admin | manager | annotator | organization
    scopes: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    organization_id: int | None = None
    worker_id: int | None = None
    token_id: int | None = None
    via: str = "session"  # session | token

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """Who did it, for ledgers and audit records: the key if one was used, else the user."""
        return f"token:{self.token_id}" if self.token_id is not None else f"user:{self.user_id}"

    def require_organization(self, what: str) -> int:
        """The caller's organization; a ValidationError when ``what`` needs one and it has none."""
        if self.organization_id is None:
            raise ValidationError(f"{what} belong to an organization; this caller has none.",
                                  code="no_organization")
        return self.organization_id

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This credential lacks the {scope} scope.", code="insufficient_scope",
                            details={"required_scope": scope})


def can_manage(principal: Principal, project: Project) -> bool:
    if principal.is_admin:
        return True
    if principal.role in ("manager", "organization"):
        return principal.organization_id is not None and principal.organization_id == project.organization_id
    return False


def can_view(principal: Principal, project: Project) -> bool:
    if can_manage(principal, project):
        return True
    works = principal.role == "annotator" or (
        principal.role == "organization" and "tasks:work" in principal.scopes
    )
    return works and project.status == "active"


def ensure_view(principal: Principal, project: Project | None, project_id: int) -> Project:
    """The project if the caller may see it; otherwise a 404 that reveals nothing."""
    if project is None or not can_view(principal, project):
        raise NotFound(f"Project {project_id} not found.")
    return project


def ensure_manage(principal: Principal, project: Project | None, project_id: int) -> Project:
    """The project if the caller manages it. Workers who can see it get 403; others 404."""
    project = ensure_view(principal, project, project_id)
    if not can_manage(principal, project):
        raise Forbidden(f"Only the project's managers may do this on project {project_id}.")
    return project


def managed_row(session, principal: Principal, model, row_id: int, label: str, *, lock: bool = False):
    """A row (batch, task, export...) of a project the caller manages. Anything else, including
    another organization's row, is a 404 named after the row, never after its project."""
    row = session.get(model, row_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"{label} {row_id} not found.")
    try:
        ensure_manage(principal, session.get(Project, row.project_id), row.project_id)
    except (NotFound, Forbidden) as exc:
        # A worker who may see the project still learns nothing of its rows, not even its id.
        raise NotFound(f"{label} {row_id} not found.") from exc
    return row
