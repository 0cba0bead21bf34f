"""What review and suspension decide reaches the results: rejected answers stop counting everywhere.

A rejected answer (one by one, in bulk, or by a suspension) leaves the task's overlap, the
consensus, the agreement figures and the worker's gold accuracy; the task goes back to the pool for
a replacement; its stored result is recomputed and incremental sync returns it. Reversing the
rejection (or lifting the suspension) puts the answer back the same way.
"""

from __future__ import annotations

import pytest

from backend.db import read_session
from backend.models import Assignment, Batch, Task
from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def crowd(user_factory, api_key):
    return lambda n: [api_key(user=user_factory("annotator")) for _ in range(n)]


def fill(manager, project, items, batch_size=None):
    return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items,
                                 batch_size=batch_size)


def answer(worker, project_id, choice):
    """Claim one task and answer it; returns the assignment id (None when nothing is offered)."""
    lease = worker.post(f"/api/v1/projects/{project_id}/assignments")
    if lease.status_code != 201:
        return None
    if callable(choice):
        choice = choice(lease.json["task"]["data"])
    done = worker.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": choice}})
    assert done.status_code == 200, done.json
    return lease.json["id"]


def task_state(task_id):
    with read_session() as session:
        task = session.get(Task, task_id)
        batch = session.get(Batch, task.batch_id)
        return task.status, task.answer_count, batch.completed_at is not None


def result_of(mgr, project_id):
    (result,) = mgr.get(f"/api/v1/projects/{project_id}/results").json["items"]
    return result


def reject(mgr, assignment_id, reason="Spam: the same answer for every item"):
    response = mgr.post(f"/api/v1/assignments/{assignment_id}/reject", json={"reason": reason})
    assert response.status_code == 200, response.json
    return response


def test_a_rejected_answer_leaves_consensus_and_its_task_gets_a_replacement(
        project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=3, consensus_method="majority")
    fill(manager, project, [{"text": "one"}])
    first, spammer, third, replacement = crowd(4)
    answer(first, project.id, "neg")
    spam = answer(spammer, project.id, "pos")
    answer(third, project.id, "pos")
    run_jobs()
    before = result_of(mgr, project.id)
    assert before["consensus"]["answer"] == {"choice": "pos"} and before["consensus"]["answers_used"] == 3
    with read_session() as session:
        task_id = session.get(Assignment, spam).task_id
    assert task_state(task_id) == ("complete", 3, True)
    # Nothing more is offered while the task is full.
    assert replacement.post(f"/api/v1/projects/{project.id}/assignments").status_code == 204

    reject(mgr, spam)
    run_jobs()
    # Back in the pool: 2 of 3 answers count, the batch is open again.
    assert task_state(task_id) == ("open", 2, False)
    after = result_of(mgr, project.id)
    assert after["run_id"] != before["run_id"] and after["consensus"]["answers_used"] == 2
    # The rejecting worker can never take it again; a new one replaces the answer.
    assert spammer.post(f"/api/v1/projects/{project.id}/assignments").status_code == 204
    assert answer(replacement, project.id, "neg") is not None
    run_jobs()
    assert task_state(task_id) == ("complete", 3, True)
    final = result_of(mgr, project.id)
    assert final["consensus"]["answer"] == {"choice": "neg"} and final["consensus"]["answers_used"] == 3


def test_a_reversed_rejection_counts_again_and_completes_the_task(project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority")
    fill(manager, project, [{"text": "one"}])
    a, b = crowd(2)
    answer(a, project.id, "pos")
    second = answer(b, project.id, "pos")
    run_jobs()
    with read_session() as session:
        task_id = session.get(Assignment, second).task_id
    reject(mgr, second, reason="Looked rushed")
    run_jobs()
    assert task_state(task_id) == ("open", 1, False)
    assert result_of(mgr, project.id)["consensus"]["answers_used"] == 1
    # A change of mind inside the window: approved, paid, counting again.
    approved = mgr.post(f"/api/v1/assignments/{second}/approve", json={})
    assert approved.status_code == 200, approved.json
    run_jobs()
    assert task_state(task_id) == ("complete", 2, True)
    assert result_of(mgr, project.id)["consensus"]["answers_used"] == 2
    # Repeating either decision changes nothing.
    assert mgr.post(f"/api/v1/assignments/{second}/approve", json={}).status_code == 200
    assert task_state(task_id) == ("complete", 2, True)


def test_a_bulk_rejection_reopens_every_task_it_touches(project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority", batch_size=3)
    fill(manager, project, [{"text": f"t{i}"} for i in range(3)])
    honest, spammer = crowd(2)
    for _ in range(3):
        answer(honest, project.id, "neg")
        answer(spammer, project.id, "pos")
    run_jobs()
    spammer_id = spammer.get("/api/v1/me").json["worker_id"]
    done = mgr.post(f"/api/v1/projects/{project.id}/reviews",
                    json={"action": "reject", "worker_id": spammer_id, "reason": "Always the same label"})
    assert done.status_code == 200 and done.json["rejected"] == 3
    run_jobs()
    with read_session() as session:
        tasks = session.query(Task).filter_by(project_id=project.id).all()
        assert {(t.status, t.answer_count) for t in tasks} == {("open", 1)}
        assert session.get(Batch, tasks[0].batch_id).completed_count == 0
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert {r["consensus"]["answers_used"] for r in results} == {1}
    assert {r["consensus"]["answer"]["choice"] for r in results} == {"neg"}


def test_incremental_sync_returns_the_recomputed_result(project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority")
    fill(manager, project, [{"text": "one"}, {"text": "two"}], batch_size=1)
    a, b = crowd(2)
    ids = [answer(w, project.id, "pos") for w in (a, b) for _ in range(2)]
    run_jobs()
    url = f"/api/v1/projects/{project.id}/results"
    start = mgr.get(url + "?updated_since=1970-01-01T00:00:00Z").json
    assert len(start["items"]) == 2
    with read_session() as session:
        rejected_task = session.get(Assignment, ids[0]).task_id
    reject(mgr, ids[0])
    run_jobs()
    changed = mgr.get(url + f"?cursor={start['sync_cursor']}").json["items"]
    assert [r["task_id"] for r in changed] == [rejected_task]
    assert changed[0]["consensus"]["answers_used"] == 1


def test_suspension_takes_the_workers_answers_out_and_lifting_puts_them_back(
        project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority", batch_size=2)
    fill(manager, project, [{"text": "one"}, {"text": "two"}])
    honest, suspect, replacement = crowd(3)
    for _ in range(2):
        answer(honest, project.id, "neg")
        answer(suspect, project.id, "pos")
    run_jobs()
    with read_session() as session:
        task_ids = [t.id for t in session.query(Task).filter_by(project_id=project.id)]
    assert [task_state(t) for t in task_ids] == [("complete", 2, True)] * 2
    suspect_id = suspect.get("/api/v1/me").json["worker_id"]
    done = mgr.post(f"/api/v1/projects/{project.id}/workers/{suspect_id}/suspend", json={"reason": "Copying"})
    assert done.status_code == 200, done.json
    run_jobs()
    # Today's bug: the tasks stayed "complete 2/2" with the suspended worker's answer in the result.
    assert [task_state(t) for t in task_ids] == [("open", 1, False)] * 2
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert {(r["consensus"]["answers_used"], r["consensus"]["answer"]["choice"]) for r in results} == {(1, "neg")}
    # Replacements fill the tasks again.
    assert answer(replacement, project.id, "neg") and answer(replacement, project.id, "neg")
    run_jobs()
    assert [task_state(t) for t in task_ids] == [("complete", 2, True)] * 2
    lifted = mgr.post(f"/api/v1/projects/{project.id}/workers/{suspect_id}/lift-suspension")
    assert lifted.status_code == 200, lifted.json
    run_jobs()
    assert [task_state(t)[:2] for t in task_ids] == [("complete", 3)] * 2
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert {r["consensus"]["answers_used"] for r in results} == {3}


def test_auto_rejection_on_suspension_reopens_tasks(project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority", gold_ratio=0.5, min_gold_accuracy=0.9,
                              min_gold_answers=1, auto_reject_suspended=True, batch_size=2)
    fill(manager, project, [{"text": "r1"}, {"text": "r2"}, {"text": "g", "gold": {"choice": "neg"}}])
    honest, cheat = crowd(2)
    for worker, choice in ((honest, "neg"), (cheat, "pos")):
        while answer(worker, project.id, choice):
            pass
    run_jobs()
    with read_session() as session:
        regular = session.query(Task).filter(Task.project_id == project.id, Task.status != "gold").all()
        cheat_answers = session.query(Assignment).filter_by(project_id=project.id, worker_id=cheat.get(
            "/api/v1/me").json["worker_id"], status="submitted").all()
        counts = {t.id: t.answer_count for t in regular}
    # The cheat failed its control task and was suspended: its pending answers were rejected, they
    # do not count, and no task that has one of them is complete.
    assert cheat_answers and {a.review_status for a in cheat_answers} == {"rejected"}
    cheat_tasks = {a.task_id for a in cheat_answers}
    for task_id in cheat_tasks & set(counts):
        assert task_state(task_id)[0] == "open" and counts[task_id] <= 1


def test_a_rejected_control_answer_leaves_the_workers_gold_accuracy(project_factory, manager, mgr, crowd):
    project = project_factory(overlap=1, gold_ratio=0.5, batch_size=5)
    fill(manager, project, [{"text": f"r{i}"} for i in range(2)]
         + [{"text": f"g{i}", "gold": {"choice": "neg"}} for i in range(2)])
    (worker,) = crowd(1)
    ids = []
    while (a := answer(worker, project.id, "pos")) is not None:
        ids.append(a)
    worker_id = worker.get("/api/v1/me").json["worker_id"]

    def standing():
        rows = mgr.get(f"/api/v1/projects/{project.id}/workers").json["items"]
        (row,) = [r for r in rows if r["worker_id"] == worker_id]
        return row["gold_answers"], row["gold_accuracy"]

    assert standing() == (2, 0.0)
    with read_session() as session:
        gold_ids = [i for i in ids if session.get(Assignment, i).is_gold]
    reject(mgr, gold_ids[0], reason="Skipped the instructions")
    assert standing() == (1, 0.0)
    assert mgr.post(f"/api/v1/assignments/{gold_ids[0]}/approve", json={}).status_code == 200
    assert standing() == (2, 0.0)


def test_agreement_figures_leave_rejected_answers_out(project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=3, consensus_method="majority", batch_size=4)
    fill(manager, project, [{"text": label} for label in ("pos", "pos", "neg", "neg")])
    a, b, noisy = crowd(3)
    noisy_ids = []
    for _ in range(4):
        answer(a, project.id, lambda data: data["text"])
        answer(b, project.id, lambda data: data["text"])
        noisy_ids.append(answer(noisy, project.id, lambda data: "neu" if data["text"] == "pos" else "pos"))
    run_jobs()

    def report():
        return mgr.get(f"/api/v1/projects/{project.id}/agreement").json

    before = report()  # small: computed in the request
    assert before["status"] == "fresh" and before["answers_counted"] == 12
    for assignment_id in noisy_ids:
        reject(mgr, assignment_id)
    assert report()["status"] == "stale"  # the rejections make the stored report stale
    run_jobs()
    after = report()
    assert after["status"] == "fresh" and after["answers_counted"] == 8
    assert after["project"]["alpha"]["value"] == pytest.approx(1.0)
    assert before["project"]["alpha"]["value"] < 0.5


def test_rejections_racing_claims_and_submits_keep_every_count_exact(project_factory, manager, mgr, crowd):
    """Annotators work while a manager rejects: no deadlock, no 500, and afterwards every task's count,
    status and batch progress match the answers that count."""
    import threading

    project = project_factory(overlap=2, consensus_method="majority", batch_size=5, max_active_leases=1)
    fill(manager, project, [{"text": f"t{i}"} for i in range(15)])
    workers = crowd(6)
    statuses: list[int] = []
    rejections: list[int] = []
    failures: list[BaseException] = []

    def guarded(work):
        def run(*args):
            try:
                work(*args)
            except BaseException as exc:  # surfaced by the assertion below, not lost in the thread
                failures.append(exc)
        return run

    def annotate(worker):
        while True:
            lease = worker.post(f"/api/v1/projects/{project.id}/assignments")
            statuses.append(lease.status_code)
            if lease.status_code != 201:
                return
            submit = worker.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "pos"}})
            statuses.append(submit.status_code)

    annotators = [threading.Thread(target=guarded(annotate), args=(w,)) for w in workers]

    def review():
        while any(t.is_alive() for t in annotators) or not rejections:
            page = mgr.get(f"/api/v1/projects/{project.id}/reviews?limit=5").json["items"]
            for item in page[::2]:
                response = mgr.post(f"/api/v1/assignments/{item['id']}/reject", json={"reason": "racing"})
                statuses.append(response.status_code)
                rejections.append(item["id"])

    threads = [*annotators, threading.Thread(target=guarded(review))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert rejections
    assert not [s for s in statuses if s >= 500], statuses
    with read_session() as session:
        for task in session.query(Task).filter_by(project_id=project.id):
            counted = session.query(Assignment).filter(
                Assignment.task_id == task.id, Assignment.status == "submitted",
                Assignment.review_status != "rejected").count()
            assert task.answer_count == counted and counted <= task.required_overlap
            assert task.status == ("complete" if counted >= task.required_overlap else "open")
        for batch in session.query(Batch).filter_by(project_id=project.id):
            complete = session.query(Task).filter_by(batch_id=batch.id, status="complete").count()
            assert batch.completed_count == complete
            assert (batch.completed_at is not None) == (complete == batch.task_count)


def test_a_suspension_cut_short_by_a_crash_is_settled_by_the_periodic_job(project_factory, manager, mgr, crowd):
    from backend.db import unit_of_work
    from backend.models import Project, utcnow
    from backend.services import quality
    from worker import jobs as worker_jobs

    project = project_factory(overlap=2, consensus_method="majority", batch_size=2, auto_reject_suspended=True)
    fill(manager, project, [{"text": "one"}, {"text": "two"}])
    honest, suspect = crowd(2)
    for _ in range(2):
        answer(honest, project.id, "neg")
        answer(suspect, project.id, "pos")
    suspect_id = suspect.get("/api/v1/me").json["worker_id"]
    # The suspension commits, and the process dies before its follow-up (settle_suspension) runs.
    with unit_of_work() as session:
        row = quality.standing(session, project.id, suspect_id)
        quality.suspend(session, session.get(Project, project.id), row, reason="Copying", actor="test",
                        now=utcnow())
    with read_session() as session:
        task_ids = [t.id for t in session.query(Task).filter_by(project_id=project.id)]
    assert [task_state(t) for t in task_ids] == [("complete", 2, True)] * 2  # what the crash leaves
    assert worker_jobs.settle_suspensions() == 1
    assert [task_state(t) for t in task_ids] == [("open", 1, False)] * 2
    with read_session() as session:
        rejected = session.query(Assignment).filter_by(worker_id=suspect_id, review_status="rejected").count()
    assert rejected == 2
    assert worker_jobs.settle_suspensions() == 0  # settled once; nothing is due any more


@pytest.mark.parametrize("fmt", ["label_studio", "jsonl", "csv", "parquet", "spacy", "conll"])
def test_a_task_whose_every_answer_was_rejected_exports_without_a_consensus(
        fmt, project_factory, manager, mgr, crowd, run_jobs):
    kind = {"spacy": "text_spans", "conll": "text_spans"}.get(fmt, "single_choice")
    fields = {"task_type": kind, "labels": ["PER", "LOC"]} if kind == "text_spans" else {}
    project = project_factory(overlap=1, consensus_method="span_vote" if kind == "text_spans" else "majority",
                              **fields)
    fill(manager, project, [{"text": "Ada Lovelace"}])
    (worker,) = crowd(1)
    lease = worker.post(f"/api/v1/projects/{project.id}/assignments").json
    given = {"spans": [{"start": 0, "end": 3, "label": "PER"}]} if kind == "text_spans" else {"choice": "pos"}
    assert worker.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": given}).status_code == 200
    run_jobs()
    reject(mgr, lease["id"])
    run_jobs()
    (result,) = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert result["consensus"]["answer"] is None and result["consensus"]["answers_used"] == 0
    export = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": fmt})
    assert export.status_code == 202, export.json
    run_jobs()
    state = mgr.get(f"/api/v1/exports/{export.json['export']['id']}").json
    assert state["status"] == "ready", state
    assert mgr.get(f"/api/v1/exports/{export.json['export']['id']}/download").status_code == 200


@pytest.mark.parametrize("then", ["submit", "release"])
def test_a_replacement_at_work_when_the_rejection_is_reversed_is_never_refused(
        then, project_factory, manager, mgr, crowd, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority")
    fill(manager, project, [{"text": "one"}])
    a, b, replacement = crowd(3)
    answer(a, project.id, "pos")
    second = answer(b, project.id, "pos")
    with read_session() as session:
        task_id = session.get(Assignment, second).task_id
    reject(mgr, second)
    lease = replacement.post(f"/api/v1/projects/{project.id}/assignments")
    assert lease.status_code == 201
    assert mgr.post(f"/api/v1/assignments/{second}/approve", json={}).status_code == 200
    # Full again, but the replacement holds a live lease: the task waits for it.
    assert task_state(task_id) == ("open", 2, False)
    if then == "submit":
        done = replacement.post(f"/api/v1/assignments/{lease.json['id']}/submit", json={"answer": {"choice": "neg"}})
        assert done.status_code == 200, done.json
        assert task_state(task_id) == ("complete", 3, True)
    else:
        assert replacement.post(f"/api/v1/assignments/{lease.json['id']}/release").status_code == 200
        assert task_state(task_id) == ("complete", 2, True)
