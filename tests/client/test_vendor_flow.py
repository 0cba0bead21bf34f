"""A requester and a vendor using only the client, over HTTP: set up, label, merge, read results."""

from __future__ import annotations

import io

import pytest
from concord_client import Conflict, Forbidden, NoTask, NotFound, ValidationError

from .conftest import label_all

LONG = "x" * 800  # makes the CSV larger than the inline import limit of the test settings (4 KB)


def sentiment_project(requester, **fields):
    settings = {"labels": ["pos", "neg", "neu"], "overlap": 3, "batch_size": 3, "status": "active",
                "consensus_method": "majority", "reward": {"amount": 10, "currency": "USD"}}
    settings.update(fields)
    return requester.projects.create("Sentiment", "single_choice", **settings)


def by_parity(lease):
    """Two of the three workers answer pos on even rows, neg on odd rows."""
    return {"choice": "pos" if int(lease["task"]["external_id"][1:]) % 2 == 0 else "neg"}


def test_a_vendor_labels_a_csv_dataset_and_the_requester_reads_consensus(requester, vendor, tmp_path):
    project = sentiment_project(requester)
    assert project["status"] == "active" and project["reward"] == {"amount": 10, "currency": "USD"}
    assert project["id"] in [p["id"] for p in requester.projects.iter(page_size=1)]
    updated = requester.projects.update(project["id"], instructions="Is the review positive?")
    assert requester.projects.get(project["id"])["instructions"] == updated["instructions"] == \
        "Is the review positive?"

    csv_path = tmp_path / "reviews.csv"
    csv_path.write_text("external_id,text\n" + "".join(f"e{i},review {i} {LONG}\n" for i in range(6)))
    dataset = requester.datasets.upload(project["id"], csv_path, timeout=60)
    # Over the inline limit: imported by a background job that upload() waited for.
    assert dataset["job_id"] is not None
    assert dataset["status"] == "ready" and dataset["tasks_created"] == 6 and dataset["filename"] == "reviews.csv"
    batches = list(requester.batches.iter(project["id"], page_size=1))
    assert [b["task_count"] for b in batches] == [3, 3]
    rush = requester.batches.update(batches[1]["id"], priority=10)
    assert rush["priority"] == 10

    first = vendor.workers.register("w-1")
    assert vendor.workers.register("w-1")["id"] == first["id"] and first["external_id"] == "w-1"
    # The higher-priority batch is served first.
    lease = vendor.assignments.claim(project["id"], worker="w-1")
    assert lease["batch_id"] == rush["id"] and lease["task"]["data"]["text"].startswith("review")
    assert vendor.assignments.claim(project["id"], worker="w-1")["id"] == lease["id"]  # the lease it holds

    label_all(vendor, project["id"], "w-1", by_parity)
    label_all(vendor.acting_as("w-2"), project["id"], "w-2", by_parity)
    label_all(vendor, project["id"], "w-3", lambda lease: {"choice": "neu"})
    nothing = vendor.assignments.claim(project["id"], worker="w-4")
    assert isinstance(nothing, NoTask) and not nothing and nothing.reason == "no_task_available"
    assert requester.projects.progress(project["id"])["tasks_complete"] == 6

    job = requester.consensus.run(project["id"], method="majority", timeout=60, poll_interval=0.1)
    assert job["status"] == "finished"
    results = list(requester.results.iter(project["id"], page_size=2))
    assert sorted(r["external_id"] for r in results) == [f"e{i}" for i in range(6)]
    for result in results:
        expected = "pos" if int(result["external_id"][1:]) % 2 == 0 else "neg"
        assert result["consensus"]["answer"] == {"choice": expected}
        assert result["consensus"]["confidence"] == pytest.approx(2 / 3)
        assert result["consensus"]["answers_used"] == 3
    in_rush = list(requester.results.iter(project["id"], batch_id=rush["id"]))
    assert len(in_rush) == 3 and {r["batch_id"] for r in in_rush} == {rush["id"]}
    runs = list(requester.consensus.iter_runs(project["id"], page_size=1))
    assert runs[0]["method"] == "majority" and [r["version"] for r in runs] == sorted(
        (r["version"] for r in runs), reverse=True)

    task = requester.tasks.get(results[0]["task_id"])
    assert len(task["answers"]) == 3 and task["consensus"]["answer"] == results[0]["consensus"]["answer"]


def test_uploads_from_file_objects_and_json_items(requester):
    project = sentiment_project(requester, batch_size=2)
    small = requester.datasets.upload(project["id"], io.BytesIO(b"text\nhello\nworld\n"), filename="two.csv")
    assert small["status"] == "ready" and small["tasks_created"] == 2 and small["job_id"] is None
    pushed = requester.datasets.push(project["id"], [{"external_id": "j1", "data": {"text": "a"}},
                                                     {"external_id": "j2", "text": "b"}, {"text": "c"}])
    assert pushed["tasks_created"] == 3 and [b["task_count"] for b in pushed["batches"]] == [2, 1]
    again = requester.datasets.push(project["id"], [{"external_id": "j1", "data": {"text": "a"}}])
    assert again["duplicates_skipped"] == 1 and again["tasks_created"] == 0
    assert len(list(requester.datasets.iter(project["id"], page_size=1))) == 3
    texts = sorted(t["data"]["text"] for t in requester.tasks.iter(project["id"], page_size=2))
    assert texts == ["a", "b", "c", "hello", "world"]

    with pytest.raises(ValidationError) as bad:
        requester.datasets.upload(project["id"], io.BytesIO(b"not,a\n\"broken"), filename="bad.csv")
    assert bad.value.status == 422


def test_releasing_skips_a_task_and_answers_are_final(requester, vendor):
    project = sentiment_project(requester, overlap=1)
    requester.datasets.push(project["id"], [{"external_id": "a", "text": "a"}, {"external_id": "b", "text": "b"}])
    worker = vendor.acting_as("skipper")
    skipped = worker.assignments.claim(project["id"])
    released = worker.assignments.release(skipped["id"], reason="cannot read it")
    assert released["status"] == "released" and released["release_reason"] == "cannot read it"
    other = worker.assignments.claim(project["id"])
    assert other["task"]["id"] != skipped["task"]["id"]

    done = worker.assignments.submit(other["id"], {"choice": "pos"})
    assert done["status"] == "submitted" and done["answer"] == {"choice": "pos"}
    assert worker.assignments.submit(other["id"], {"choice": "pos"})["id"] == done["id"]  # same answer: fine
    with pytest.raises(Conflict) as changed:
        worker.assignments.submit(other["id"], {"choice": "neg"})
    assert changed.value.code == "already_submitted"
    assert worker.assignments.get(other["id"])["answer"] == {"choice": "pos"}
    # Another worker of the same vendor cannot see it.
    with pytest.raises(NotFound):
        vendor.assignments.get(other["id"], worker="someone-else")


def test_batches_pause_and_resume(requester, vendor):
    project = sentiment_project(requester, overlap=1, batch_size=1)
    requester.datasets.push(project["id"], [{"text": "only"}])
    (batch,) = requester.batches.iter(project["id"])
    assert requester.batches.pause(batch["id"])["status"] == "paused"
    assert vendor.assignments.claim(project["id"], worker="w") == NoTask("no_task_available")
    assert requester.batches.resume(batch["id"])["status"] == "active"
    assert vendor.assignments.claim(project["id"], worker="w")["batch_id"] == batch["id"]


def test_errors_carry_the_servers_code_and_details(requester, vendor):
    with pytest.raises(NotFound) as missing:
        requester.projects.get(999_999)
    assert missing.value.status == 404 and missing.value.code == "not_found"
    with pytest.raises(ValidationError) as invalid:
        requester.projects.create("Bad", "poetry")
    assert "task_type" in invalid.value.fields
    with pytest.raises(Forbidden) as scope:
        vendor.projects.create("Not mine", "single_choice", labels=["a"])
    assert scope.value.code == "insufficient_scope" and scope.value.details["required_scope"] == "projects:write"
    # A vendor key must say which worker it acts for.
    project = sentiment_project(requester)
    with pytest.raises(ValidationError) as anonymous:
        vendor.assignments.claim(project["id"])
    assert anonymous.value.code == "worker_required"
