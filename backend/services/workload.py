"""Workload: what each worker claimed, answered, had approved and earned, per project and per day.

Days are UTC calendar days of the claim. Time on task is the lease time capped
by the client's active seconds (see fair_pay.time_on_task).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ..db import is_postgres, read_session
from ..errors import ValidationError
from ..exports._common import csv_cell
from ..models import AgreementReport, Assignment, Project, WorkerQuality
from . import fair_pay, ledger
from .access import Principal, ensure_manage
from .pagination import decode_cursor, encode_cursor

GROUPINGS = {"project": ("project",), "day": ("project", "day"), "worker": ("worker",),
             "worker_day": ("worker", "day")}
CSV_COLUMNS = ("worker_id", "project_id", "day", "claimed", "submitted", "approved", "rejected", "pending", "expired",
               "released", "active_seconds", "answers_per_hour", "gold_answers", "gold_accuracy",
               "agreement_with_consensus", "effective_hourly_rate", "earnings")


def _day(session: Session, column):
    if is_postgres(session):
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day: daily caps reset then."""
    return datetime.combine(now.date(), time(), tzinfo=now.tzinfo)


def _keys(session: Session, grouping: tuple[str, ...]) -> list[ColumnElement]:
    a = Assignment
    columns = {"worker": a.worker_id.label("worker_id"), "project": a.project_id.label("project_id"),
               "day": _day(session, a.leased_at).label("day")}
    return [columns[g] for g in grouping]


def stats(session: Session, *, grouping: tuple[str, ...], where: list[ColumnElement]) -> list[dict[str, Any]]:
    """Counts, time, gold and earnings of the assignments matching ``where``, one row per group."""
    a = Assignment
    keys = _keys(session, grouping)
    submitted = a.status == "submitted"
    gold = submitted & a.is_gold
    rows = session.execute(select(
        *keys, func.count().label("claimed"), func.count().filter(submitted).label("submitted"),
        func.count().filter(a.review_status == "approved").label("approved"),
        func.count().filter(a.review_status == "rejected").label("rejected"),
        func.count().filter(a.review_status == "pending").label("pending"),
        func.count().filter(a.status == "expired").label("expired"),
        func.count().filter(a.status == "released").label("released"),
        func.coalesce(func.sum(fair_pay.time_on_task(session)).filter(submitted), 0).label("active_seconds"),
        func.count().filter(gold).label("gold_answers"),
        func.sum(a.gold_score).filter(gold).label("gold_score"),
    ).where(*where).group_by(*keys).order_by(*keys)).all()
    names = [k.name for k in keys]
    money: dict[tuple, list[dict[str, Any]]] = {}
    for row in session.execute(
            select(*keys, a.reward_currency, func.sum(a.reward_amount))
            .where(*where, a.review_status == "approved").group_by(*keys, a.reward_currency)
            .order_by(*keys, a.reward_currency)).all():
        money.setdefault(tuple(row[:len(keys)]), []).append({"currency": row[-2], "amount": int(row[-1])})
    out = []
    for row in rows:
        group = tuple(row[:len(keys)])
        seconds = int(round(row.active_seconds or 0))
        out.append({
            **dict(zip(names, group, strict=True)), "claimed": row.claimed, "submitted": row.submitted,
            "approved": row.approved, "rejected": row.rejected, "pending": row.pending, "expired": row.expired,
            "released": row.released, "active_seconds": seconds,
            "answers_per_hour": round(row.submitted * 3600 / seconds, 2) if seconds else None,
            "gold_answers": row.gold_answers,
            "gold_accuracy": (row.gold_score / row.gold_answers) if row.gold_answers else None,
            "earnings": money.get(group, [])})
    return out


def _period(date_from: date | None, date_to: date | None) -> list[ColumnElement]:
    where = []
    if date_from is not None:
        where.append(Assignment.leased_at >= datetime.combine(date_from, time(), tzinfo=UTC))
    if date_to is not None:
        where.append(Assignment.leased_at < datetime.combine(date_to + timedelta(days=1), time(), tzinfo=UTC))
    if date_from and date_to and date_to < date_from:
        raise ValidationError("to: on or after from", details={"fields": {"to": ["on or after from"]}})
    return where


def worker_stats(*, principal: Principal, worker_id: int, by: str = "project", project_id: int | None = None,
                 date_from: date | None = None, date_to: date | None = None, own: bool = False) -> dict[str, Any]:
    """A worker's figures per project (or per project and day), and its balances.

    ``own``: the worker itself asking (every project); otherwise a manager, who sees
    only its organization's projects. Raises NotFound.
    """
    if by not in ("project", "day"):
        raise ValidationError("by: project or day", details={"fields": {"by": ["project or day"]}})
    where = [Assignment.worker_id == worker_id, *_period(date_from, date_to)]
    organization_id = None
    with read_session() as session:
        if not own:
            principal.require_scope("payments:read")
            ledger.visible_worker(session, principal, worker_id)
            if not principal.is_admin:
                organization_id = principal.organization_id
                where.append(Assignment.project_id.in_(
                    select(Project.id).where(Project.organization_id == organization_id)))
        if project_id is not None:
            where.append(Assignment.project_id == project_id)
        rows = stats(session, grouping=GROUPINGS[by], where=where)
        quality = {q.project_id: q for q in session.scalars(select(WorkerQuality).where(
            WorkerQuality.worker_id == worker_id))}
        for row in rows:
            q = quality.get(row["project_id"])
            row["suspended"] = bool(q and q.suspended_at is not None)
        balances = ledger.balances(session, worker_id=worker_id, organization_id=organization_id)
    return {"worker_id": worker_id, "by": by, "rows": rows, "balances": balances}


def project_workload(*, principal: Principal, project_id: int, by: str = "worker", worker_id: int | None = None,
                     date_from: date | None = None, date_to: date | None = None, limit: int = 100,
                     cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Per worker (or worker and day) figures of a project, a page of workers at a time. Raises NotFound,
    Forbidden, ValidationError."""
    if by not in ("worker", "worker_day"):
        raise ValidationError("by: worker or worker_day", details={"fields": {"by": ["worker or worker_day"]}})
    principal.require_scope("payments:read")
    where = [Assignment.project_id == project_id, *_period(date_from, date_to)]
    if worker_id is not None:
        where.append(Assignment.worker_id == worker_id)
    after = decode_cursor(cursor, int)
    with read_session() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        page_where = [*where] + ([Assignment.worker_id > after] if after is not None else [])
        workers = list(session.scalars(select(Assignment.worker_id).where(*page_where).distinct()
                                       .order_by(Assignment.worker_id).limit(limit + 1)))
        next_cursor = encode_cursor(workers[limit - 1]) if len(workers) > limit else None
        workers = workers[:limit]
        if not workers:
            return [], None
        rows = stats(session, grouping=GROUPINGS[by], where=[*where, Assignment.worker_id.in_(workers)])
        rates = fair_pay.hourly_rates(session, project)
        report = session.get(AgreementReport, project_id)
    with_consensus = {w["worker_id"]: w.get("agreement_with_consensus")
                      for w in (report.report.get("workers", []) if report else [])}
    for row in rows:
        row["project_id"] = project_id
        row["agreement_with_consensus"] = with_consensus.get(row["worker_id"])
        row["effective_hourly_rate"] = (rates.get(row["worker_id"]) or {}).get("effective_hourly_rate")
    return rows, next_cursor


def as_csv(rows: list[dict[str, Any]]) -> str:
    """Workload rows as CSV; earnings as "USD 1234; EUR 50" (minor units)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {**row, "earnings": "; ".join(f"{e['currency']} {e['amount']}" for e in row["earnings"])}
        writer.writerow({name: csv_cell(value) for name, value in cells.items()})
    return out.getvalue()


def answers_today(session: Session, *, project_id: int, worker_id: int, now: datetime) -> int:
    """Claims today (live leases and answers) of a worker in a project, for the daily cap."""
    a = Assignment
    return session.scalar(select(func.count()).where(
        a.worker_id == worker_id, a.project_id == project_id, a.leased_at >= day_start(now),
        a.status.in_(("leased", "submitted")))) or 0
