"""The outbox: events written inside the transactions that caused them, dispatched afterwards."""

from __future__ import annotations

from sqlalchemy import select, update

from ..db import read_session, unit_of_work
from ..models import Event, Project, utcnow

# Events that start work of their own when dispatched.
DISPATCHED_KINDS = ("batch.completed",)


def undispatched(*, limit: int = 100) -> list[tuple[Event, int]]:
    """Events still waiting for their follow-up work, with their project's organization, oldest first."""
    with read_session() as session:
        return [tuple(row) for row in session.execute(
            select(Event, Project.organization_id).join(Project, Project.id == Event.project_id)
            .where(Event.dispatched_at.is_(None), Event.kind.in_(DISPATCHED_KINDS))
            .order_by(Event.id).limit(limit))]


def mark_dispatched(*, event_id: int) -> None:
    """Record that an event's follow-up work is queued. Marking after queueing means a crash in
    between queues the work twice, never zero times; the follow-up jobs are safe to repeat."""
    with unit_of_work() as session:
        session.execute(update(Event).where(Event.id == event_id).values(dispatched_at=utcnow()))
