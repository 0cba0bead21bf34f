"""Workers: annotator accounts, and vendors' own workers acting through the vendor's key."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import read_session, unit_of_work
from ..errors import Forbidden, TooManyRequests, ValidationError
from ..models import ApiToken, Worker, utcnow
from .access import Principal


def _check_external_id(external_id: str) -> str:
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 255:
        raise ValidationError("external_id: 1 to 255 characters",
                              details={"fields": {"external_id": ["1 to 255 characters"]}})
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in external_id):
        # NUL would be stored by SQLite and refused by PostgreSQL; other control characters only
        # hide one worker's name behind another's in files and screens.
        raise ValidationError("external_id: no control characters",
                              details={"fields": {"external_id": ["no control characters"]}})
    return external_id


def register_vendor_worker(*, organization_id: int, external_id: str, token_id: int | None = None,
                           max_new_per_hour: int | None = None) -> tuple[Worker, bool]:
    """The vendor's worker with this external id, created on first use; and whether it was created.

    A key (``token_id``) creates at most ``max_new_per_hour`` new workers in any hour: beyond that,
    TooManyRequests. Raises ValidationError for a bad external id.
    """
    external_id = _check_external_id(external_id)
    with read_session() as session:
        worker = session.scalar(select(Worker).where(Worker.organization_id == organization_id,
                                                     Worker.external_id == external_id))
    if worker is not None:
        return worker, False
    try:
        with unit_of_work() as session:
            if token_id is not None and max_new_per_hour is not None:
                _check_new_worker_quota(session, token_id, max_new_per_hour)
            worker = Worker(organization_id=organization_id, external_id=external_id, created_by_token_id=token_id)
            session.add(worker)
        return worker, True
    except IntegrityError:
        # Registered concurrently by another request: use that one.
        with read_session() as session:
            return session.scalar(select(Worker).where(Worker.organization_id == organization_id,
                                                       Worker.external_id == external_id)), False


def _check_new_worker_quota(session, token_id: int, max_new_per_hour: int) -> None:
    # The key's row lock serializes its registrations, so concurrent ones cannot all slip under the cap.
    session.execute(select(ApiToken.id).where(ApiToken.id == token_id).with_for_update(key_share=True))
    since = utcnow() - timedelta(hours=1)
    made = session.scalar(select(func.count(Worker.id)).where(Worker.created_by_token_id == token_id,
                                                              Worker.created_at > since))
    if made >= max_new_per_hour:
        raise TooManyRequests(f"This key registered {made} new workers in the last hour, its limit; "
                              "known workers still work.", code="worker_registration_limited",
                              details={"limit_per_hour": max_new_per_hour})


def acting_worker_id(principal: Principal, vendor_worker: str | None, *, max_new_per_hour: int | None = None,
                     register: bool = True) -> int | None:
    """The worker a request acts as: the annotator itself, or a vendor key's named worker.

    A vendor's worker is registered on first use only when ``register`` (claiming a task); otherwise
    an unknown one is None, and acts on nothing. Raises Forbidden when the caller cannot work on
    tasks, ValidationError when a vendor key names no worker, TooManyRequests when the key made too
    many new workers this hour.
    """
    principal.require_scope("tasks:work")
    if principal.role == "organization":
        if not vendor_worker:
            raise ValidationError("An organization key acts for one of its workers: send X-Concord-Worker.",
                                  code="worker_required", details={"fields": {"X-Concord-Worker": ["required"]}})
        if not register:
            external_id = _check_external_id(vendor_worker)
            with read_session() as session:
                return session.scalar(select(Worker.id).where(Worker.organization_id == principal.organization_id,
                                                              Worker.external_id == external_id))
        worker, _created = register_vendor_worker(organization_id=principal.organization_id,
                                                  external_id=vendor_worker, token_id=principal.token_id,
                                                  max_new_per_hour=max_new_per_hour)
        return worker.id
    if vendor_worker:
        raise ValidationError("X-Concord-Worker is for organization keys only.", code="worker_header_not_allowed")
    if principal.worker_id is None:
        raise Forbidden("Only annotators and vendor keys work on tasks.", code="not_a_worker")
    return principal.worker_id
