"""Demo organization, accounts and projects with realistic data (``concord demo``)."""

from __future__ import annotations

from sqlalchemy import select

from ..db import read_session
from ..models import Organization, Project, User
from . import accounts, assignments, datasets, projects, review
from .assignments import Actor, NoTask

ORGANIZATION = "Northwind Data Labs"
VENDOR = "Blue Harbor Annotation"
LOGINS = (
    ("admin@concord.test", "concord-admin", "admin", None),
    ("manager@concord.test", "concord-manager", "manager", ORGANIZATION),
    ("ana@concord.test", "concord-annotator", "annotator", None),
    ("ben@concord.test", "concord-annotator", "annotator", None),
    ("chen@concord.test", "concord-annotator", "annotator", VENDOR),
)

REVIEWS = [
    ("rev-001", "A quiet, patient film that trusts its audience. The final scene stayed with me for days.", "positive"),
    ("rev-002", "Two hours I will never get back. The plot holes are big enough to drive a truck through.", "negative"),
    ("rev-003", "It is fine. Competent acting, forgettable script, pretty scenery.", "neutral"),
    ("rev-004", "The lead gives the performance of her career; everyone else seems to be sleepwalking.", None),
    ("rev-005", "Gorgeous cinematography cannot save dialogue this wooden.", None),
    ("rev-006", "My kids laughed the whole way through and so did I. Worth the ticket.", "positive"),
    ("rev-007", "The sequel nobody asked for, made by people who clearly did not care.", None),
    ("rev-008", "A solid thriller with one twist too many.", None),
    ("rev-009", "I walked out after forty minutes. The sound mix made every line a whisper.", None),
    ("rev-010", "An ambitious mess: half brilliant, half unwatchable.", None),
    ("rev-011", "Runs long, but the last act earns it. Bring tissues.", None),
    ("rev-012", "Exactly what it promises: car chases, explosions, and not a single surprise.", None),
    ("rev-013", "The director's best work since her debut. Funny, sharp and kind.", None),
    ("rev-014", "A documentary that mistakes volume for insight.", None),
    ("rev-015", "Charming small-town comedy; nothing new, but warm and well made.", None),
    ("rev-016", "The score is great. Everything else is a chore.", None),
    ("rev-017", "Seen it twice already and I would happily go again tomorrow.", None),
    ("rev-018", "Neither good nor bad; it simply exists for ninety minutes.", None),
    ("rev-019", "Terrific ensemble cast wasted on a script that goes nowhere.", None),
    ("rev-020", "A tender, funny portrait of three sisters. Highly recommended.", None),
    ("rev-021", "Some clever ideas buried under a muddy, confusing edit.", None),
    ("rev-022", "The effects look ten years old and the jokes even older.", None),
    ("rev-023", "Not for everyone, but if you like slow science fiction this is a gem.", None),
    ("rev-024", "Predictable, but the chemistry between the leads carries it.", None),
]

SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the budget.",
    "Shares of Toyota rose after the company opened a new plant in Kentucky.",
    "The World Health Organization said cases in Lagos had fallen for a third week.",
    "Serena Williams announced her retirement at a press conference in New York.",
    "Amazon will hire 2,000 workers for its new warehouse near Manchester.",
    "Researchers at the University of Tokyo published the study in Nature.",
    "Greta Thunberg spoke to reporters outside the European Parliament in Brussels.",
    "The Bank of England held rates steady, Andrew Bailey told the committee.",
    "Spotify said it would cut 6 percent of its staff, mostly in Stockholm.",
    "Lionel Messi scored twice as Inter Miami beat Orlando City on Saturday.",
]


def load_demo() -> list[tuple[str, str, str]]:
    """Create the demo data if missing; return (email, password, role) of the demo logins."""
    with read_session() as session:
        have_orgs = set(session.scalars(select(Organization.name)))
        have_users = set(session.scalars(select(User.email)))
    for name in (ORGANIZATION, VENDOR):
        if name not in have_orgs:
            accounts.create_organization(name=name)
    for email, password, role, org in LOGINS:
        if email not in have_users:
            accounts.create_user(email=email, password=password, role=role, organization_name=org)
    with read_session() as session:
        manager = session.scalar(select(User).where(User.email == "manager@concord.test"))
        has_projects = session.scalar(
            select(Project.id).where(Project.organization_id == manager.organization_id).limit(1))
    if has_projects is None:
        _demo_projects(accounts.principal_for_user(manager))
    return [(email, password, role) for email, password, role, _org in LOGINS]


def _demo_projects(principal) -> None:
    sentiment = projects.create_project(principal=principal, fields={
        "name": "Movie review sentiment",
        "instructions": "Read the review and pick the **overall** sentiment of its author.\n\n"
                        "- *positive*: the author recommends the film\n"
                        "- *negative*: the author advises against it\n"
                        "- *neutral*: mixed or no clear opinion",
        "task_type": "single_choice", "labels": ["positive", "negative", "neutral"],
        "overlap": 3, "batch_size": 8, "lease_seconds": 300, "status": "active",
        "reward": {"amount": 5, "currency": "USD"}, "gold_ratio": 0.1, "min_gold_accuracy": 0.5,
        "min_gold_answers": 3, "agreement_threshold": 0.6, "max_overlap": 5,
    })
    items = [{"external_id": ext, "data": {"text": text}, **({"gold": {"choice": gold}} if gold else {})}
             for ext, text, gold in REVIEWS]
    datasets.import_items(principal=principal, project_id=sentiment.id, items=items, filename="reviews.json")
    _demo_activity(principal, sentiment.id)

    entities = projects.create_project(principal=principal, fields={
        "name": "News entities",
        "instructions": "Highlight every person (PER), organization (ORG) and location (LOC).",
        "task_type": "text_spans", "labels": ["PER", "ORG", "LOC"], "text_field": "text",
        "overlap": 2.5, "batch_size": 5, "lease_seconds": 600, "status": "active",
        "reward": {"amount": 12, "currency": "USD"},
    })
    datasets.import_items(principal=principal, project_id=entities.id, filename="news.json",
                          items=[{"external_id": f"news-{i + 1:03d}", "text": s} for i, s in enumerate(SENTENCES)])


NEGATIVE = ("never get back", "walked out", "wooden", "did not care", "whisper", "boring", "waste")
POSITIVE = ("stayed with me", "laughed", "career", "solid", "worth", "beautiful", "loved")
GOLD = {ext: gold for ext, _text, gold in REVIEWS if gold}


def _truth(text: str) -> str:
    lowered = text.lower()
    if any(word in lowered for word in NEGATIVE):
        return "negative"
    if any(word in lowered for word in POSITIVE):
        return "positive"
    return "neutral"


def _demo_activity(principal, project_id: int) -> None:
    """Some work already done in the sentiment project, so that the dashboard has something to show:
    the three annotators answer a first round (one of them carelessly now and then), and the manager
    approves two of them; the third one's answers wait in the review queue."""
    for n, email in enumerate(("ana@concord.test", "ben@concord.test", "chen@concord.test")):
        with read_session() as session:
            user = session.scalar(select(User).where(User.email == email))
        worker = accounts.principal_for_user(user)
        for i in range(8):
            lease = assignments.claim_next_task(principal=worker, project_id=project_id, worker_id=worker.worker_id)
            if isinstance(lease, NoTask):
                break
            task = lease.task
            label = GOLD.get(task.external_id) or _truth(task.data["text"])
            if n == 1 and i % 3 == 2 and task.external_id not in GOLD:
                label = "neutral"  # ben is in a hurry now and then
            assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                                      answer={"choice": label}, active_seconds=20 + 7 * i)
        if n < 2:
            review.review_in_bulk(principal=principal, project_id=project_id, action="approve",
                                  worker_id=worker.worker_id)
