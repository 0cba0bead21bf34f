"""The export job's JSON Lines: PostgreSQL builds them itself; they must equal the generic writer's."""

import io
import json

from backend.exports import write_export
from backend.services import consensus, datasets, exports
from backend.services.assignments import Actor, claim_next_task, submit_answer
from tests.conftest import principal_of


def test_export_job_jsonl_equals_the_generic_writer(project_factory, manager, user_factory, tmp_path):
    project = project_factory(overlap=2, consensus_method="majority")
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"external_id": f"e{i}", "data": {"text": f"t{i} \\ \"q\" é"}} for i in range(7)]
                          + [{"text": "control", "gold": {"choice": "pos"}}])
    for choice in ("pos", "neg"):
        worker = principal_of(user_factory("annotator"))
        while not hasattr(lease := claim_next_task(principal=worker, project_id=project.id,
                                                   worker_id=worker.worker_id), "reason"):
            submit_answer(assignment_id=lease.assignment.id, actor=Actor(worker_id=worker.worker_id),
                          answer={"choice": choice}, active_seconds=4)
    consensus.run_consensus(project_id=project.id)
    export = exports.create_export(principal=principal_of(manager), project_id=project.id, fmt="jsonl",
                                   batch_ids=None, include=None, job_id="00000000-0000-7000-8000-000000000000")
    result = exports.run_export(export_id=export.id, directory=tmp_path, salt="s", ttl_hours=1)
    produced = [json.loads(line) for line in (tmp_path / f"export-{export.id}.jsonl").read_text().splitlines()]
    generic = io.BytesIO()
    write_export("jsonl", exports.iter_rows(project.id, batch_ids=None, include=list(exports.INCLUDES), salt="s"),
                 generic, {"task_type": "single_choice", "labels": ["pos", "neg", "neu"]})
    expected = [json.loads(line) for line in generic.getvalue().decode().splitlines()]
    assert result["tasks"] == 7 and produced == expected
    assert produced[0]["answers"][0]["active_seconds"] == 4 and produced[0]["consensus"]["answers_used"] == 2
