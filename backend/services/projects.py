"""Projects: creation, settings and the label schema they carry."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, or_, select, update

from ..db import read_session, unit_of_work
from ..errors import Forbidden, NotFound, ValidationError
from ..models import PAYMENT_FIELDS, Assignment, Project, Task, WorkerGroupMember
from ..questions import FORM, check_display, check_questions, legacy_config, methods_of
from . import budget
from .access import Principal, can_manage, can_view, ensure_manage, ensure_view
from .money import check_currency
from .pagination import Page, paginate

LABEL_FIELDS = ("labels", "min", "max", "text_field", "image_field", "max_length")
MAX_OVERLAP = 100
MAX_LEASE_SECONDS = 7 * 24 * 3600


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", details={"fields": {field: [message]}})


def overlap_to_centi(value: float | int) -> int:
    centi = round(value * 100)
    if abs(centi - value * 100) > 1e-6:
        raise _field_error("overlap", "at most two decimals (2.5, 1.25)")
    if centi < 100 or centi > MAX_OVERLAP * 100:
        raise _field_error("overlap", f"must be between 1 and {MAX_OVERLAP}")
    return centi


# Settings that decide what is paid: changing any of them moves money, so it takes payments:write too.
MONEY_SETTINGS = frozenset({"reward", *PAYMENT_FIELDS})


def _require_money_scope(principal: Principal, fields: dict[str, Any]) -> None:
    touched = sorted(MONEY_SETTINGS & fields.keys())
    if touched and "payments:write" not in principal.scopes:
        raise Forbidden(f"Changing {', '.join(touched)} decides what is paid and needs the payments:write scope.",
                        code="insufficient_scope", details={"required_scope": "payments:write", "fields": touched})


def _apply_settings(project: Project, fields: dict[str, Any], *, creating: bool) -> bool:
    """Copy validated settings onto the project; True when the overlap changed."""
    overlap_changed = False
    if "task_type" in fields and not creating and fields["task_type"] != project.task_type:
        raise _field_error("task_type", "cannot change once the project exists")
    if creating or "questions" in fields or any(key in fields for key in LABEL_FIELDS):
        _apply_questions(project, fields, creating=creating)
    if "display" in fields:
        project.display = check_display(fields["display"]) or None
    for key in ("name", "instructions", "lease_seconds", "batch_size", "status", "max_active_leases",
                "gold_ratio", "min_gold_accuracy", "min_gold_answers", "rating_tolerance", "agreement_threshold",
                *PAYMENT_FIELDS):
        if key in fields:
            setattr(project, key, fields[key])
    if "qualification" in fields:
        project.qualification = _check_qualification(fields["qualification"], project.organization_id)
    if "consensus_method" in fields:
        method = fields["consensus_method"]
        if method is not None and method not in methods_of(project):
            raise _field_error("consensus_method", f"one of {', '.join(methods_of(project))}")
        project.consensus_method = method
    if "overlap" in fields:
        centi = overlap_to_centi(fields["overlap"])
        overlap_changed = centi != project.overlap_centi
        project.overlap_centi = centi
    if "max_overlap" in fields and fields["max_overlap"] is not None:
        project.max_overlap = fields["max_overlap"]
    elif creating or overlap_changed:
        project.max_overlap = max(project.max_overlap or 0, math.ceil(project.overlap_centi / 100))
    if project.max_overlap < math.ceil(project.overlap_centi / 100):
        raise _field_error("max_overlap", "must be at least the overlap")
    if "reward" in fields:
        reward = fields["reward"]
        project.reward_amount = reward["amount"]
        project.reward_currency = check_currency(reward["currency"], "reward.currency")
    if not (5 <= project.lease_seconds <= MAX_LEASE_SECONDS):
        raise _field_error("lease_seconds", f"must be between 5 and {MAX_LEASE_SECONDS}")
    return overlap_changed


def _apply_questions(project: Project, fields: dict[str, Any], *, creating: bool) -> None:
    """The project's questions: a form's list, or the one question of a project made the old way."""
    given = sorted(key for key in LABEL_FIELDS if key in fields and fields[key] is not None)
    task_type = fields.get("task_type") or (FORM if creating and "questions" in fields else project.task_type)
    if task_type == FORM:
        if "questions" not in fields and creating:
            raise _field_error("questions", "a form needs its questions")
        if given:
            raise _field_error(given[0], "a form takes each question's settings inside the question")
        if "questions" not in fields:
            return
        questions = check_questions(fields["questions"])
        if not creating:
            _keep_answered_questions(project, questions)
        project.task_type = FORM
        project.label_config = {"questions": questions}
        return
    if "questions" in fields:
        raise _field_error("questions", "this project asks one question; create a form project to ask several"
                           if not creating else "give either task_type and its fields, or questions")
    if task_type is None:
        raise _field_error("task_type", "give task_type (one question) or questions (a form)")
    merged = {} if creating else dict(project.label_config)
    merged.update({k: fields[k] for k in LABEL_FIELDS if k in fields})
    project.task_type = task_type
    project.label_config = legacy_config(task_type, merged)


def _keep_answered_questions(project: Project, questions: list[dict[str, Any]]) -> None:
    """Once answers exist, each answered question keeps its name and kind: the answers stay readable."""
    with read_session() as session:
        answered = session.scalar(select(Assignment.id).where(Assignment.project_id == project.id,
                                                              Assignment.submitted_at.is_not(None)).limit(1))
    if answered is None:
        return
    kinds = {q["name"]: q["kind"] for q in questions}
    for question in project.label_config.get("questions", []):
        if kinds.get(question["name"]) != question["kind"]:
            raise _field_error("questions", f"{question['name']} has answers: it must stay, as a "
                                            f"{question['kind']} question")


def _check_qualification(rules: dict | None, organization_id: int) -> dict | None:
    """Keep the non-empty rules; named gold projects must be the organization's own."""
    if not rules:
        return None
    rules = {k: v for k, v in rules.items() if v not in (None, [])}
    projects = rules.get("gold_projects") or []
    if projects:
        with read_session() as session:
            own = set(session.scalars(select(Project.id).where(Project.id.in_(projects),
                                                               Project.organization_id == organization_id)))
        unknown = sorted(set(projects) - own)
        if unknown:
            raise _field_error("qualification.gold_projects", f"unknown projects {unknown}")
    if rules.get("min_gold_accuracy") is not None and not projects:
        raise _field_error("qualification.gold_projects", "name the projects whose gold accuracy counts")
    return rules or None


def create_project(*, principal: Principal, fields: dict[str, Any]) -> Project:
    """Create a project in the caller's organization. Raises ValidationError or Forbidden."""
    principal.require_scope("projects:write")
    _require_money_scope(principal, fields)
    organization_id = principal.organization_id
    if principal.is_admin and fields.get("organization_id"):
        organization_id = fields["organization_id"]
    if principal.role not in ("admin", "manager", "organization") or organization_id is None:
        raise Forbidden("Only an organization's managers create projects.")
    project = Project(organization_id=organization_id, overlap_centi=100, max_overlap=0,
                      lease_seconds=600, batch_size=500, status="draft", instructions="",
                      max_active_leases=1, reward_amount=0, reward_currency="USD", gold_ratio=0.0,
                      min_gold_answers=10, rating_tolerance=0)
    _apply_settings(project, fields, creating=True)
    with unit_of_work() as session:
        session.add(project)
    return project


def _open_to(session, principal: Principal, project: Project) -> bool:
    """Whether a project restricted to vendors or worker groups is open to this worker at all.

    Managers see their own projects whatever the rules. A gold-accuracy requirement does not
    hide a project: the worker sees it and is told at claim time what it lacks.
    """
    rules = project.qualification or {}
    if can_manage(principal, project) or not rules:
        return True
    vendors = rules.get("vendor_organizations")
    if vendors and principal.organization_id not in vendors:
        return False
    groups = rules.get("worker_groups")
    if groups and principal.worker_id is not None:
        return session.scalar(select(WorkerGroupMember.id).where(
            WorkerGroupMember.organization_id == project.organization_id,
            WorkerGroupMember.group_name.in_(groups), WorkerGroupMember.worker_id == principal.worker_id)
            .limit(1)) is not None
    return True


def get_project(*, principal: Principal, project_id: int) -> Project:
    """A project the caller may see. Raises NotFound."""
    with read_session() as session:
        project = ensure_view(principal, session.get(Project, project_id), project_id)
        if not _open_to(session, principal, project):
            raise NotFound(f"Project {project_id} not found.")
        return project


def list_projects(*, principal: Principal, limit: int, cursor: str | None, status: str | None = None) -> Page:
    """Projects the caller manages, or (workers) the active projects open to it."""
    stmt = select(Project)
    if not principal.is_admin:
        manages = principal.role in ("manager", "organization") and principal.organization_id is not None
        works = principal.role == "annotator" or "tasks:work" in principal.scopes
        clauses = []
        if manages:
            clauses.append(Project.organization_id == principal.organization_id)
        if works:
            clauses.append(Project.status == "active")
        if not clauses:
            return Page([], None)
        stmt = stmt.where(or_(*clauses))
    if status:
        stmt = stmt.where(Project.status == status)
    with read_session() as session:
        page = paginate(session, stmt, Project.id, limit=limit, cursor=cursor)
        page.items = [p for p in page.items if can_view(principal, p) and _open_to(session, principal, p)]
    return page


def update_project(*, principal: Principal, project_id: int, fields: dict[str, Any]) -> Project:
    """Change a project's settings. A new overlap is applied to every task still open.

    Raises NotFound, Forbidden or ValidationError.
    """
    principal.require_scope("projects:write")
    _require_money_scope(principal, fields)
    with unit_of_work() as session:
        # Setting a budget takes the row exclusively: claims in flight finish first and are counted.
        lock = True if "budget_amount" in fields else {"key_share": True}
        project = session.get(Project, project_id, with_for_update=lock)
        project = ensure_manage(principal, project, project_id)
        if project.status == "archived" and fields.get("status", "archived") == "archived" and fields:
            raise ValidationError("An archived project is read-only; set status first to reopen it.",
                                  code="project_archived")
        had_budget = project.budget_amount is not None
        overlap_changed = _apply_settings(project, fields, creating=False)
        if project.budget_amount is not None and not had_budget:
            budget.recount(session, project)
    if overlap_changed:
        # Its own transaction, without the project lock: claims and submits lock a task and then,
        # on completion, the project, so holding the project while updating tasks could deadlock.
        with unit_of_work() as session:
            _reapply_overlap(session, project)
    return project


def _reapply_overlap(session, project: Project) -> None:
    """Apply a new overlap to open tasks with the same spreading rule as import.

    A higher overlap applies to every open task; a lower one only to tasks nobody has
    answered or leased yet, so no task ends with more answers than it requires.
    """
    base, frac = divmod(project.overlap_centi, 100)
    required = base + ((Task.ordinal + 1) * frac) // 100 - (Task.ordinal * frac) // 100
    session.execute(
        update(Task)
        .where(Task.project_id == project.id, Task.status == "open",
               or_(required >= Task.required_overlap, and_(Task.answer_count == 0, Task.leased_count == 0)))
        .values(required_overlap=required)
        .execution_options(synchronize_session=False)
    )
