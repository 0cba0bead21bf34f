"""Consensus jobs and results; exports through the API."""

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.db import unit_of_work
from backend.models import Export, utcnow
from backend.services import datasets
from tests.conftest import principal_of


@pytest.fixture
def fill(manager):
    def run(project, items, batch_size=None):
        return datasets.import_items(principal=principal_of(manager), project_id=project.id, items=items,
                                     batch_size=batch_size)

    return run


@pytest.fixture
def crowd(user_factory, api_key):
    return lambda n: [api_key(user=user_factory("annotator")) for _ in range(n)]


@pytest.fixture
def mgr(login_as, manager):
    return login_as(manager)


def label_everything(worker, project_id, answer_for):
    while (r := worker.post(f"/api/v1/projects/{project_id}/assignments")).status_code == 201:
        done = worker.post(f"/api/v1/assignments/{r.json['id']}/submit", json={"answer": answer_for(r.json)})
        assert done.status_code == 200, done.json


def votes(*choices):
    """Worker i answers choices[i] on every task whose text is not overridden."""
    return [lambda lease, c=c: {"choice": c} for c in choices]


def test_completed_batches_get_consensus_automatically(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=3, batch_size=2, consensus_method="majority")
    fill(project, [{"text": f"t{i}"} for i in range(4)])
    for worker, pick in zip(crowd(3), votes("pos", "pos", "neg"), strict=True):
        label_everything(worker, project.id, pick)
    run_jobs()
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert len(results) == 4
    assert all(r["consensus"]["answer"] == {"choice": "pos"} for r in results)
    assert all(r["consensus"]["method"] == "majority" and r["consensus"]["answers_used"] == 3 for r in results)
    assert results[0]["consensus"]["confidence"] == pytest.approx(2 / 3)
    assert results[0]["data"] == {"text": "t0"}
    detail = mgr.get(f"/api/v1/tasks/{results[0]['task_id']}").json
    assert detail["consensus"]["answer"] == {"choice": "pos"}
    runs = mgr.get(f"/api/v1/projects/{project.id}/consensus/runs").json
    assert runs["next_cursor"] is None
    assert sorted(r["batch_ids"][0] for r in runs["items"]) == sorted({r["batch_id"] for r in results})


def test_on_demand_consensus_replaces_results_and_keeps_versions(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=2)
    fill(project, [{"text": "a"}, {"text": "b"}])
    for worker, pick in zip(crowd(2), votes("pos", "neg"), strict=True):
        label_everything(worker, project.id, pick)
    run_jobs()
    started = mgr.post(f"/api/v1/projects/{project.id}/consensus", json={"method": "majority"})
    assert started.status_code == 202 and started.json["job"]["status"] == "queued"
    run_jobs()
    assert mgr.get(f"/api/v1/jobs/{started.json['job']['id']}").json["status"] == "finished"
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    # One vote each: a tie, broken to the first label and flagged.
    assert [r["consensus"]["answer"]["choice"] for r in results] == ["pos", "pos"]
    assert all(r["flagged"] for r in results)
    assert mgr.get(f"/api/v1/projects/{project.id}/results?flagged=false").json["items"] == []
    again = mgr.post(f"/api/v1/projects/{project.id}/consensus", json={"method": "dawid_skene"})
    run_jobs()
    assert mgr.get(f"/api/v1/jobs/{again.json['job']['id']}").json["status"] == "finished"
    results = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert len(results) == 2 and {r["consensus"]["method"] for r in results} == {"dawid_skene"}
    versions = [r["version"] for r in mgr.get(f"/api/v1/projects/{project.id}/consensus/runs").json["items"]]
    assert versions == sorted(versions, reverse=True) and len(versions) >= 2
    first = mgr.get(f"/api/v1/projects/{project.id}/consensus/runs?limit=1").json
    rest = mgr.get(f"/api/v1/projects/{project.id}/consensus/runs?cursor={first['next_cursor']}").json
    assert [r["version"] for r in first["items"] + rest["items"]] == versions and rest["next_cursor"] is None
    bad = mgr.post(f"/api/v1/projects/{project.id}/consensus", json={"method": "median"})
    assert bad.status_code == 422 and "method" in bad.json["error"]["details"]["fields"]
    other = project_factory()
    other_batch = fill(other, [{"text": "x"}]).batches[0].id
    assert mgr.post(f"/api/v1/projects/{project.id}/consensus",
                    json={"batch_ids": [other_batch]}).status_code == 422


def test_answers_of_suspended_workers_are_left_out(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=3, gold_ratio=0.5, min_gold_accuracy=0.9, min_gold_answers=1,
                              consensus_method="majority")
    fill(project, [{"text": "r"}, {"text": "g", "gold": {"choice": "neg"}}])
    cheat, *honest = crowd(3)
    label_everything(cheat, project.id, lambda lease: {"choice": "pos"})
    for worker in honest:
        label_everything(worker, project.id, lambda lease: {"choice": "neg"})
    mgr.post(f"/api/v1/projects/{project.id}/consensus", json={})
    run_jobs()
    (result,) = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    assert result["consensus"]["answers_used"] == 2 and result["consensus"]["answer"] == {"choice": "neg"}


def download(mgr, export_id):
    response = mgr.get(f"/api/v1/exports/{export_id}/download")
    assert response.status_code == 200, response.json
    return response.data


def test_export_jsonl_csv_and_parquet(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=2, consensus_method="majority")
    fill(project, [{"external_id": f"e{i}", "text": f"t{i}"} for i in range(3)])
    for worker, pick in zip(crowd(2), votes("neu", "neu"), strict=True):
        label_everything(worker, project.id, pick)
    run_jobs()
    created = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"})
    assert created.status_code == 202 and created.json["export"]["status"] == "queued"
    export_id = created.json["export"]["id"]
    assert mgr.get(f"/api/v1/exports/{export_id}/download").status_code in (409, 200)
    run_jobs()
    status = mgr.get(f"/api/v1/exports/{export_id}").json
    assert status["status"] == "ready" and status["tasks"] == 3 and status["progress"] == 1.0
    lines = [json.loads(line) for line in download(mgr, export_id).decode().splitlines()]
    assert [line["external_id"] for line in lines] == ["e0", "e1", "e2"]
    assert lines[0]["consensus"]["answer"] == {"choice": "neu"} and len(lines[0]["answers"]) == 2
    workers = {a["worker"] for a in lines[0]["answers"]}
    assert all(w.startswith("w-") for w in workers) and len(workers) == 2

    csv_id = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "csv"}).json["export"]["id"]
    parquet_id = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "parquet"}).json["export"]["id"]
    run_jobs()
    import csv

    rows = list(csv.DictReader(io.StringIO(download(mgr, csv_id).decode())))
    assert [r["external_id"] for r in rows] == ["e0", "e1", "e2"]
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(download(mgr, parquet_id)))
    assert table.num_rows == 3 and table.column("external_id").to_pylist() == ["e0", "e1", "e2"]


def test_export_rules_expiry_and_tenancy(project_factory, fill, mgr, run_jobs, login_as, user_factory):
    project = project_factory()
    fill(project, [{"text": "x"}])
    assert mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "coco"}).status_code == 422
    assert mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "xml"}).status_code == 422
    export_id = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "jsonl"}).json["export"]["id"]
    run_jobs()
    assert login_as(user_factory("manager")).get(f"/api/v1/exports/{export_id}").status_code == 404
    with unit_of_work() as session:
        session.execute(update(Export).where(Export.id == export_id).values(expires_at=utcnow() - timedelta(1)))
    gone = mgr.get(f"/api/v1/exports/{export_id}/download")
    assert gone.status_code == 410 and gone.json["error"]["code"] == "export_expired"
    from worker.jobs import delete_expired_exports

    assert delete_expired_exports() == 1
    assert mgr.get(f"/api/v1/exports/{export_id}").json["status"] == "expired"


def test_a_projects_exports_are_listed_newest_first_with_their_state(project_factory, fill, mgr, run_jobs):
    project, other = project_factory(), project_factory()
    fill(project, [{"text": "x"}])
    made = [mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": fmt}).json["export"]["id"]
            for fmt in ("jsonl", "csv", "parquet")]
    run_jobs()
    first = mgr.get(f"/api/v1/projects/{project.id}/exports?limit=2").json
    rest = mgr.get(f"/api/v1/projects/{project.id}/exports?limit=2&cursor={first['next_cursor']}").json
    listed = first["items"] + rest["items"]
    assert [e["id"] for e in listed] == made[::-1] and rest["next_cursor"] is None
    assert all(e["status"] == "ready" and e["progress"] == 1.0 and e["tasks"] == 1 and e["expires_at"] for e in listed)
    assert [e["format"] for e in listed] == ["parquet", "csv", "jsonl"]
    assert mgr.get(f"/api/v1/projects/{other.id}/exports").json == {"items": [], "next_cursor": None}


def test_bounding_boxes_consensus_and_coco_export(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(task_type="bounding_boxes", labels=["car", "person"], overlap=3)
    fill(project, [{"image": "https://img.test/1.jpg", "width": 200, "height": 100}])
    boxes = [[{"label": "car", "x": 10, "y": 10, "width": 50, "height": 30}],
             [{"label": "car", "x": 12, "y": 11, "width": 50, "height": 30}],
             [{"label": "person", "x": 150, "y": 50, "width": 10, "height": 20}]]
    for worker, drawn in zip(crowd(3), boxes, strict=True):
        label_everything(worker, project.id, lambda lease, drawn=drawn: {"boxes": drawn})
    run_jobs()
    (result,) = mgr.get(f"/api/v1/projects/{project.id}/results").json["items"]
    merged = result["consensus"]["answer"]["boxes"]
    assert len(merged) == 1 and merged[0]["label"] == "car" and merged[0]["x"] == pytest.approx(11)
    export_id = mgr.post(f"/api/v1/projects/{project.id}/exports", json={"format": "coco"}).json["export"]["id"]
    run_jobs()
    import tempfile

    from pycocotools.coco import COCO

    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(download(mgr, export_id))
        fh.flush()
        coco = COCO(fh.name)
    assert len(coco.getImgIds()) == 1 and len(coco.getAnnIds()) == 1


def test_worker_agreement_with_consensus(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=3, consensus_method="majority")
    fill(project, [{"text": f"t{i}"} for i in range(4)])
    for worker, pick in zip(crowd(3), votes("pos", "pos", "neg"), strict=True):
        label_everything(worker, project.id, pick)
    run_jobs()
    mgr.post(f"/api/v1/projects/{project.id}/agreement/refresh")
    run_jobs()
    workers = mgr.get(f"/api/v1/projects/{project.id}/workers/agreement").json["workers"]
    assert sorted(w["agreement_with_consensus"] for w in workers) == [0.0, 1.0, 1.0]


def test_incremental_sync_returns_each_new_or_recomputed_result_once(project_factory, fill, crowd, mgr, run_jobs):
    project = project_factory(overlap=2, batch_size=3, consensus_method="majority")
    fill(project, [{"text": f"t{i}"} for i in range(6)])
    workers = crowd(2)
    url = f"/api/v1/projects/{project.id}/results"

    def sync(cursor=None):
        """Poll like a vendor: page through, return what was new and where to resume."""
        seen, params = [], ("?updated_since=1970-01-01T00:00:00Z&limit=2" if cursor is None
                            else f"?cursor={cursor}&limit=2")
        while True:
            page = mgr.get(url + params).json
            seen += [(r["task_id"], r["run_id"]) for r in page["items"]]
            if page["next_cursor"] is None:
                return seen, page["sync_cursor"]
            params = f"?cursor={page['next_cursor']}&limit=2"

    assert sync() == ([], sync()[1])
    # The first batch completes: its three results arrive.
    for worker in workers:
        for _ in range(3):
            lease = worker.post(f"/api/v1/projects/{project.id}/assignments").json
            worker.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "pos"}})
    run_jobs()
    first, cursor = sync()
    assert len(first) == 3 and len({t for t, _ in first}) == 3
    nothing, cursor = sync(cursor)
    assert nothing == []
    # The second batch completes, then the whole project is recomputed: 3 new, then 6 updated.
    for worker in workers:
        for _ in range(3):
            lease = worker.post(f"/api/v1/projects/{project.id}/assignments").json
            worker.post(f"/api/v1/assignments/{lease['id']}/submit", json={"answer": {"choice": "neg"}})
    run_jobs()
    second, cursor = sync(cursor)
    assert len(second) == 3 and not {t for t, _ in second} & {t for t, _ in first}
    mgr.post(f"/api/v1/projects/{project.id}/consensus", json={"method": "majority"})
    run_jobs()
    recomputed, cursor = sync(cursor)
    assert sorted(t for t, _ in recomputed) == sorted(t for t, _ in first + second)
    assert len({run for _, run in recomputed}) == 1
    assert sync(cursor)[0] == []
    bad = mgr.get(url + "?cursor=bm90LWEtY3Vyc29y")
    assert bad.status_code == 422
