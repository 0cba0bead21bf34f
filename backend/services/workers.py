"""Workers: annotator accounts, and vendors' own workers acting through the vendor's key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..db import read_session, unit_of_work
from ..errors import Forbidden, ValidationError
from ..models import Worker
from .access import Principal


def _check_external_id(external_id: str) -> str:
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 255:
        raise ValidationError("external_id: 1 to 255 characters",
                              details={"fields": {"external_id": ["1 to 255 characters"]}})
    return external_id


def register_vendor_worker(*, organization_id: int, external_id: str) -> tuple[Worker, bool]:
    """The vendor's worker with this external id, created on first use; and whether it was created."""
    external_id = _check_external_id(external_id)
    with read_session() as session:
        worker = session.scalar(select(Worker).where(Worker.organization_id == organization_id,
                                                     Worker.external_id == external_id))
    if worker is not None:
        return worker, False
    try:
        with unit_of_work() as session:
            worker = Worker(organization_id=organization_id, external_id=external_id)
            session.add(worker)
        return worker, True
    except IntegrityError:
        # Registered concurrently by another request: use that one.
        with read_session() as session:
            return session.scalar(select(Worker).where(Worker.organization_id == organization_id,
                                                       Worker.external_id == external_id)), False


def acting_worker_id(principal: Principal, vendor_worker: str | None) -> int:
    """The worker a request acts as: the annotator itself, or a vendor key's named worker.

    Raises Forbidden when the caller cannot work on tasks, ValidationError when a
    vendor key names no worker.
    """
    principal.require_scope("tasks:work")
    if principal.role == "organization":
        if not vendor_worker:
            raise ValidationError("An organization key acts for one of its workers: send X-Concord-Worker.",
                                  code="worker_required", details={"fields": {"X-Concord-Worker": ["required"]}})
        worker, _created = register_vendor_worker(organization_id=principal.organization_id,
                                                  external_id=vendor_worker)
        return worker.id
    if vendor_worker:
        raise ValidationError("X-Concord-Worker is for organization keys only.", code="worker_header_not_allowed")
    if principal.worker_id is None:
        raise Forbidden("Only annotators and vendor keys work on tasks.", code="not_a_worker")
    return principal.worker_id
