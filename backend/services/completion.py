"""A task that reached its overlap: complete it (or ask for one more answer) and cascade to its batch
and project, with their events, in the submitting transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..models import Event, Project, Task
from ..models.base import JSONType, utc_param
from ..questions import form_of
from . import quality

_TASKS = Task.__table__
_EVENTS = Event.__table__
_BATCH_COMPLETED_COUNT = text("UPDATE batches SET completed_count = completed_count + 1 WHERE id = :b "
                              "RETURNING completed_count, task_count - gold_count")
# PostgreSQL: complete the task, record its event and count it in its batch in one statement.
_COMPLETE_TASK_PG = text(
    "WITH t AS (UPDATE tasks SET status = 'complete', completed_at = :now, agreement = :agreement, "
    "flagged = :flagged, flag_reason = :flag_reason WHERE id = :t RETURNING id), "
    "e AS (INSERT INTO events (kind, project_id, batch_id, task_id, payload, created_at) "
    "SELECT 'task.completed', :p, :b, t.id, :payload, :now FROM t) "
    "UPDATE batches SET completed_count = completed_count + 1 WHERE id = :b "
    "RETURNING completed_count, task_count - gold_count"
).bindparams(utc_param("now"), bindparam("payload", type_=JSONType), bindparam("agreement", type_=Float()),
             bindparam("flag_reason", type_=String()))


def finish_task(session: Session, project: Project, *, task_id: int, batch_id: int, answers: int, required: int,
                now: datetime) -> bool:
    """A task reached its overlap: complete it, or (dynamic overlap) ask for one more answer.

    Returns whether a batch completed.
    """
    agreement, flag = None, None
    if project.agreement_threshold is not None:
        agreement = form_of(project).task_agreement(quality.task_answers(session, task_id))
        if agreement is not None and agreement < project.agreement_threshold:
            if required < project.max_overlap:
                session.execute(update(_TASKS).where(_TASKS.c.id == task_id).values(
                    required_overlap=_TASKS.c.required_overlap + 1, agreement=agreement))
                return False
            flag = "no_agreement"
    return record_completion(session, task_id=task_id, batch_id=batch_id, project_id=project.id, answers=answers,
                             now=now, agreement=agreement, flag=flag)


def record_completion(session: Session, *, task_id: int, batch_id: int, project_id: int, answers: int,
                       now: datetime, agreement: float | None = None, flag: str | None = None) -> bool:
    """Mark a task complete and cascade to its batch and project, with their events.

    Returns whether the task's batch completed with it.
    """
    if is_postgres(session):
        done, total = session.execute(_COMPLETE_TASK_PG, {
            "t": task_id, "b": batch_id, "p": project_id, "now": now, "agreement": agreement,
            "flagged": flag is not None, "flag_reason": flag, "payload": {"answers": answers}}).one()
    else:
        session.execute(update(_TASKS).where(_TASKS.c.id == task_id).values(
            status="complete", completed_at=now, agreement=agreement, flagged=flag is not None, flag_reason=flag))
        session.execute(insert(_EVENTS).values(kind="task.completed", project_id=project_id, batch_id=batch_id,
                                               task_id=task_id, payload={"answers": answers}, created_at=now))
        done, total = session.execute(_BATCH_COMPLETED_COUNT, {"b": batch_id}).one()
    if done < total:
        return False
    session.execute(text("UPDATE batches SET completed_at = :now WHERE id = :b").bindparams(utc_param("now")),
                    {"b": batch_id, "now": now})
    session.execute(insert(_EVENTS).values(kind="batch.completed", project_id=project_id, batch_id=batch_id,
                                           payload={"tasks": total}, created_at=now))
    # Two last batches may finish at once: the project lock makes the later one see the earlier.
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update(key_share=True))
    open_batches = session.execute(
        text("SELECT count(*) FROM batches WHERE project_id = :p AND completed_at IS NULL"),
        {"p": project_id}).scalar_one()
    if open_batches == 0:
        session.execute(insert(_EVENTS).values(kind="project.completed", project_id=project_id, payload={},
                                               created_at=now))
    return True
