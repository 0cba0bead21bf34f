"""The outbox: events written inside the transactions that caused them, dispatched afterwards."""

from __future__ import annotations

from sqlalchemy import func, select, update

from ..db import read_session, unit_of_work
from ..models import WEBHOOK_EVENTS, Event, Project, utcnow
from . import webhooks

# Events that start work of their own (consensus) or go out to webhooks when dispatched.
# results.stale: answers of tasks with stored consensus stopped or started counting.
DISPATCHED_KINDS = tuple(sorted({"batch.completed", "results.stale", *WEBHOOK_EVENTS}))


def undispatched(*, limit: int = 100) -> list[tuple[Event, int]]:
    """Events still waiting for their follow-up work, with their organization, oldest first."""
    with read_session() as session:
        return [tuple(row) for row in session.execute(
            select(Event, func.coalesce(Event.organization_id, Project.organization_id))
            .outerjoin(Project, Project.id == Event.project_id)
            .where(Event.dispatched_at.is_(None), Event.kind.in_(DISPATCHED_KINDS))
            .order_by(Event.id).limit(limit))]


def mark_dispatched(*, event_id: int, organization_id: int) -> int:
    """Record that an event's follow-up work is queued, and create its webhook deliveries in the same
    transaction (so each subscriber gets one delivery per event). Returns the deliveries created.

    Marking after queueing the follow-up jobs means a crash in between queues them twice, never zero
    times; they are safe to repeat.
    """
    with unit_of_work() as session:
        marked = session.execute(update(Event).where(Event.id == event_id, Event.dispatched_at.is_(None))
                                 .values(dispatched_at=utcnow())).rowcount
        if not marked:
            return 0
        return webhooks.fan_out(session, session.get(Event, event_id), organization_id)
