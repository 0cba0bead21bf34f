"""Control (gold) tasks in a project's progress and cost: a project with control tasks reaches 100% and a
time left of zero, and the cost forecast counts the control answers that every worker's stream holds."""

from __future__ import annotations

import pytest

from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture
def fill(manager):
    def run(project, regular, control):
        items = [{"external_id": f"t{i}", "text": f"item {i}"} for i in range(regular)]
        items += [{"external_id": f"g{i}", "text": f"control {i}", "gold": {"choice": "pos"}} for i in range(control)]
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items)

    return run


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


@pytest.fixture
def annotators(user_factory, login_as):
    return lambda n: [login_as(user_factory("annotator")) for _ in range(n)]


def work_until_done(client, project_id) -> list[dict]:
    done = []
    while (lease := client.post(f"/api/v1/projects/{project_id}/assignments")).status_code == 201:
        assert client.post(f"/api/v1/assignments/{lease.json['id']}/submit",
                           json={"answer": {"choice": "pos"}}).status_code == 200
        done.append(lease.json)
    assert lease.status_code == 204
    return done


def test_a_project_with_control_tasks_reaches_complete_and_no_time_left(project_factory, fill, mgr, annotators):
    project = project_factory(overlap=2, gold_ratio=0.25, batch_size=10)
    dataset = fill(project, 12, 6)
    ana, ben = annotators(2)
    assert len(work_until_done(ana, project.id)) > 12  # twelve tasks and a few control tasks
    halfway = mgr.get(f"/api/v1/projects/{project.id}/progress").json
    assert halfway["tasks_total"] == 12 and halfway["control_tasks"] == 6 and halfway["tasks_complete"] == 0
    assert halfway["answers_required"] == 24 and halfway["answers_submitted"] == 12
    # The pace is that of the answers still needed: twelve in the last 15 minutes, control answers apart.
    assert halfway["answers_per_hour"] == 48.0
    assert halfway["estimated_seconds_left"] == pytest.approx(12 / 48 * 3600)
    work_until_done(ben, project.id)

    done = mgr.get(f"/api/v1/projects/{project.id}/progress").json
    assert done["tasks_complete"] == done["tasks_total"] == 12 and done["control_tasks"] == 6
    assert done["answers_submitted"] == done["answers_required"] == 24
    assert done["control_answers"] >= 8  # each worker answered at least four control tasks
    assert done["estimated_seconds_left"] == 0.0
    # The last batch holds the two last tasks and every control task; it is complete too.
    last = max(dataset.batches, key=lambda b: b.number)
    batch = mgr.get(f"/api/v1/batches/{last.id}/progress").json
    assert (batch["tasks_total"], batch["tasks_complete"], batch["control_tasks"]) == (2, 2, 6)
    assert batch["estimated_seconds_left"] == 0.0


def test_the_cost_forecast_counts_control_answers_and_equals_what_was_spent(project_factory, fill, mgr, annotators):
    # Ten tasks x overlap 2 at 3 cents; every worker's stream is half control tasks, paid 2 cents each.
    project = project_factory(overlap=2, gold_ratio=0.5, reward={"amount": 3, "currency": "USD"},
                              gold_reward_amount=2)
    fill(project, 10, 10)
    cost = mgr.get(f"/api/v1/projects/{project.id}/cost").json
    assert cost["answers_remaining"] == 20 and cost["control_answers_expected"] == 20
    assert cost["forecast_total"] == 20 * 3 + 20 * 2 == 100

    ana, ben = annotators(2)
    assert len(work_until_done(ana, project.id)) == 20  # ten tasks and ten control tasks
    assert mgr.get(f"/api/v1/projects/{project.id}/cost").json["forecast_total"] == 100
    # Ben's first claim is a control task; his second a regular one, held while the forecast is read: a lease
    # is paid once, not once as in flight and again as an answer still needed.
    first = ben.post(f"/api/v1/projects/{project.id}/assignments").json
    assert first["reward"]["amount"] == 2
    ben.post(f"/api/v1/assignments/{first['id']}/submit", json={"answer": {"choice": "pos"}})
    held = ben.post(f"/api/v1/projects/{project.id}/assignments").json
    assert held["reward"]["amount"] == 3
    during = mgr.get(f"/api/v1/projects/{project.id}/cost").json
    assert during["in_flight"] == 3 and during["answers_remaining"] == 10 and during["control_answers_expected"] == 9
    assert during["forecast_total"] == 100
    ben.post(f"/api/v1/assignments/{held['id']}/submit", json={"answer": {"choice": "pos"}})
    work_until_done(ben, project.id)

    assert mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"}).json["approved"] == 40
    final = mgr.get(f"/api/v1/projects/{project.id}/cost").json
    assert final["spent"] == final["forecast_total"] == 100
    assert final["answers_remaining"] == 0 and final["control_answers_expected"] == 0 and final["eta_seconds"] == 0.0


def test_control_answers_at_the_regular_rate_and_a_stream_of_only_control_tasks(project_factory, fill, mgr,
                                                                                annotators):
    # Without a control rate, a control task pays its batch's rate, as the claim does.
    plain = project_factory(overlap=1, gold_ratio=0.2, reward={"amount": 5, "currency": "USD"}, batch_size=8)
    fill(plain, 8, 4)
    cost = mgr.get(f"/api/v1/projects/{plain.id}/cost").json
    assert cost["control_answers_expected"] == 2 and cost["forecast_total"] == 8 * 5 + 2 * 5
    # gold_ratio 1: each worker takes every control task it has not had before any regular one.
    only = project_factory(overlap=1, gold_ratio=1, reward={"amount": 5, "currency": "USD"})
    fill(only, 3, 2)
    (ana,) = annotators(1)
    lease = ana.post(f"/api/v1/projects/{only.id}/assignments").json
    ana.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}})
    body = mgr.get(f"/api/v1/projects/{only.id}/cost")
    assert body.status_code == 200 and body.json["control_answers_expected"] == 1
    # A project whose control tasks are all in paused batches expects none.
    batch = mgr.get(f"/api/v1/projects/{plain.id}/batches").json["items"][-1]
    assert mgr.patch(f"/api/v1/batches/{batch['id']}", json={"status": "paused"}).status_code == 200
    assert mgr.get(f"/api/v1/projects/{plain.id}/cost").json["control_answers_expected"] == 0
