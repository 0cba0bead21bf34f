"""Demo organization, accounts and projects with realistic data (``concord demo``)."""

from __future__ import annotations

from sqlalchemy import select

from ..db import read_session
from ..models import Organization, Project, User
from . import accounts, assignments, consensus, datasets, projects, review
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

    feedback = projects.create_project(principal=principal, fields={
        "name": "Assistant replies",
        "instructions": "Read the conversation and the two replies to its last message.\n\n"
                        "1. Pick the better reply (or call it a tie when neither is better).\n"
                        "2. Rate the reply you preferred on each criterion, 1 (not at all) to 5 (fully).\n"
                        "3. Optionally, say in a sentence why.",
        "questions": FEEDBACK_QUESTIONS, "display": FEEDBACK_DISPLAY,
        "overlap": 3, "batch_size": 6, "lease_seconds": 600, "status": "active",
        "reward": {"amount": 20, "currency": "USD"},
    })
    datasets.import_items(principal=principal, project_id=feedback.id, filename="replies.json",
                          items=_feedback_items())
    _feedback_activity(feedback.id)


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


# An LLM-feedback project: a conversation, two replies from different models, a preference between them,
# three Likert criteria and an optional reason. The models differ in quality, so that the leaderboard has
# a story to tell; the annotators mostly agree, with the slips real annotators make.
LIKERT = {"1": "not at all", "2": "barely", "3": "partly", "4": "mostly", "5": "fully"}
FEEDBACK_QUESTIONS = [
    {"name": "preference", "kind": "pairwise", "title": "Which reply is better?", "prompt": "conversation",
     "a": "reply_a", "b": "reply_b", "a_id": "model_a", "b_id": "model_b"},
    *({"name": name, "kind": "rating", "title": f"How {name} is the reply you preferred?", "min": 1, "max": 5,
       "labels": LIKERT} for name in ("helpful", "harmless", "honest")),
    {"name": "reason", "kind": "free_text", "title": "Why? (optional)", "required": False},
]
FEEDBACK_DISPLAY = [{"field": "conversation", "as": "chat"}, {"field": "reply_a", "as": "markdown"},
                    {"field": "reply_b", "as": "markdown"}]
MODELS = {"lumen-large": 3, "lumen-small": 2, "echo-1": 1}  # how good each model's replies are
PROMPTS = [
    ("How do I boil an egg so the yolk stays runny?",
     {"lumen-large": "Lower the egg into **boiling** water and cook it for **6 minutes**, then move it to "
                     "ice water for a minute. The white sets and the yolk stays runny.",
      "lumen-small": "Boil it for about 6 minutes, then cool it in cold water.",
      "echo-1": "Eggs are a good source of protein. Boil for 12 minutes."}),
    ("What is the capital of Australia?",
     {"lumen-large": "The capital of Australia is **Canberra**, not Sydney as many people assume.",
      "lumen-small": "Canberra.",
      "echo-1": "The capital of Australia is Sydney."}),
    ("Can you summarise what a Roth IRA is in two sentences?",
     {"lumen-large": "A Roth IRA is a US retirement account funded with money you have already paid tax on. "
                     "Its growth and qualified withdrawals in retirement are tax-free.",
      "lumen-small": "It is a retirement account where you pay taxes now and not later.",
      "echo-1": "A Roth IRA is a kind of bank loan for retirees."}),
    ("My code says `TypeError: 'NoneType' object is not subscriptable`. What does that mean?",
     {"lumen-large": "You indexed a value that is `None`, e.g. `result[0]` where `result` came from a "
                     "function that returned nothing. Check where that variable is assigned.",
      "lumen-small": "Some variable is None and you used `[...]` on it.",
      "echo-1": "Reinstall Python; your installation is broken."}),
    ("Write a haiku about autumn rain.",
     {"lumen-large": "Cold rain on the roof\nmaple leaves loosen their grip\nthe gutter runs red",
      "lumen-small": "Rain falls in autumn\nleaves are falling down as well\nit is very wet",
      "echo-1": "Autumn rain is rain that falls in autumn, which is a season."}),
    ("Is it safe to mix bleach and ammonia for a stronger cleaner?",
     {"lumen-large": "**No.** Mixing them releases toxic chloramine gas. Use one product at a time, rinse "
                     "in between, and keep the room ventilated.",
      "lumen-small": "No, it makes a dangerous gas.",
      "echo-1": "Yes, the mixture cleans twice as well."}),
]


def _feedback_items() -> list[dict]:
    """Each prompt answered by two of the three models (every pair, sides alternating): 18 tasks."""
    names = list(MODELS)
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    items = []
    for p, (question, replies) in enumerate(PROMPTS):
        for k, (first, second) in enumerate(pairs):
            a, b = (first, second) if (p + k) % 2 == 0 else (second, first)
            items.append({"external_id": f"chat-{p + 1:02d}-{k + 1}", "data": {
                "conversation": [{"role": "system", "content": "You are a helpful assistant."},
                                 {"role": "user", "content": question}],
                "reply_a": replies[a], "reply_b": replies[b], "model_a": a, "model_b": b}})
    return items


def _feedback_answer(data: dict, n: int, i: int) -> dict:
    gap = MODELS[data["model_a"]] - MODELS[data["model_b"]]
    choice = "a" if gap > 0 else "b"
    if abs(gap) == 1 and (n + i) % 4 == 3:
        choice = "tie"  # close calls are sometimes called even
    if n == 1 and i % 5 == 4:
        choice = {"a": "b", "b": "a"}.get(choice, choice)  # ben slips now and then
    quality = max(MODELS[data["model_a"]], MODELS[data["model_b"]]) if choice != "b" else MODELS[data["model_b"]]
    score = min(5, 1 + quality + (n + i) % 2)
    answer = {"preference": {"choice": choice}, "helpful": {"value": score},
              "harmless": {"value": min(5, score + 1)}, "honest": {"value": max(1, score - (i % 3 == 0))}}
    if (n + i) % 3 == 0:
        answer["reason"] = {"text": "It answers the question directly and gets the facts right." if choice != "tie"
                            else "Both replies are about equally good."}
    return answer


def _feedback_activity(project_id: int) -> None:
    """Every annotator answers every task, then the answers are merged: consensus, agreement and the
    leaderboard of the three models have real data."""
    for n, email in enumerate(("ana@concord.test", "ben@concord.test", "chen@concord.test")):
        with read_session() as session:
            user = session.scalar(select(User).where(User.email == email))
        worker = accounts.principal_for_user(user)
        for i in range(len(PROMPTS) * len(MODELS)):
            lease = assignments.claim_next_task(principal=worker, project_id=project_id, worker_id=worker.worker_id)
            if isinstance(lease, NoTask):
                break
            assignments.submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                                      answer=_feedback_answer(lease.task.data, n, i), active_seconds=40 + 3 * i)
    consensus.run_consensus(project_id=project_id)
