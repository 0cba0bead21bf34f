"""The audit log: writes made through the API (with which key or session) and domain decisions."""

from __future__ import annotations

from sqlalchemy import insert, select

from ..db import read_session, unit_of_work
from ..models import AuditRecord, utcnow
from .access import Principal
from .pagination import Page, paginate


def record_write(*, principal: Principal, method: str, path: str, status: int, endpoint: str | None,
                 request_id: str | None = None) -> None:
    """One row per successful write request, in a transaction of its own (after the response is decided)."""
    with unit_of_work() as session:
        session.execute(insert(AuditRecord.__table__).values(
            kind="api.write", organization_id=principal.organization_id, actor=principal.actor, created_at=utcnow(),
            details={"method": method, "path": path, "status": status, "endpoint": endpoint,
                     "request_id": request_id}))


def list_records(*, principal: Principal, limit: int, cursor: str | None, actor: str | None = None,
                 kind: str | None = None) -> Page:
    """The organization's audit records, oldest first (managers and organization keys)."""
    principal.require_scope("projects:read")
    with read_session() as session:
        stmt = select(AuditRecord)
        if not principal.is_admin:
            if principal.role not in ("manager", "organization") or principal.organization_id is None:
                return Page([], None)
            stmt = stmt.where(AuditRecord.organization_id == principal.organization_id)
        if actor:
            stmt = stmt.where(AuditRecord.actor == actor)
        if kind:
            stmt = stmt.where(AuditRecord.kind == kind)
        return paginate(session, stmt, AuditRecord.id, limit=limit, cursor=cursor)
