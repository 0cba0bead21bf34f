"""The export job's fast paths on PostgreSQL (JSON Lines and Parquet built from PostgreSQL's JSON text):
their files must hold what the generic writers make of ``iter_rows``."""

import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from backend import db
from backend.exports import write_export
from backend.services import consensus, datasets, exports
from backend.services.assignments import Actor, claim_next_task, submit_answer
from tests.conftest import principal_of

PROJECT = {"id": 1, "name": "p", "task_type": "single_choice", "labels": ["pos", "neg", "neu"]}


@pytest.fixture
def answered(project_factory, manager, user_factory):
    """Seven tasks (and a gold one) in three batches, answered by two workers, with consensus."""
    project = project_factory(overlap=2, consensus_method="majority", batch_size=3)
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
    return project


def run(project, manager, tmp_path, fmt, include=None, batch_ids=None, **options):
    export = exports.create_export(principal=principal_of(manager), project_id=project.id, fmt=fmt,
                                   batch_ids=batch_ids, include=include, job_id="00000000-0000-7000-8000-000000000000",
                                   **options)
    result = exports.run_export(export_id=export.id, directory=tmp_path, salt="s", ttl_hours=1)
    return result, tmp_path / f"export-{export.id}.{exports.EXTENSIONS[fmt]}"


def decoded(rows):
    """Parquet rows with their JSON text columns decoded: the same values, whatever the spacing."""
    json_columns = ("data", "answers", "consensus_answer", "expected")
    return [{k: json.loads(v) if k in json_columns and v is not None else v for k, v in r.items()} for r in rows]


def generic(project, fmt, include, batch_ids=None, include_gold=True):
    out = io.BytesIO()
    write_export(fmt, exports.iter_rows(project.id, batch_ids=batch_ids, include=include, salt="s",
                                        include_gold=include_gold), out, PROJECT)
    return out


@pytest.mark.parametrize("include_gold", [True, False])
@pytest.mark.parametrize("ranges", [1, 2])
@pytest.mark.parametrize("include", [None, ["consensus"]])
@pytest.mark.parametrize("tasks_per_row", [1, 3, 256])
def test_export_job_jsonl_equals_the_generic_writer(answered, manager, tmp_path, monkeypatch, ranges, include,
                                                     tasks_per_row, include_gold):
    # Two ranges: each copied by its own connection (in the same snapshot), then joined in task order.
    # Each COPY row carries the lines of a span of task ids; the control task's span holds none.
    monkeypatch.setattr(exports, "JSONL_STREAMS", ranges)
    monkeypatch.setattr(exports, "JSONL_MIN_RANGE", 1)
    monkeypatch.setattr(exports, "JSONL_TASKS_PER_ROW", tasks_per_row)
    copied, copy_range = [], exports._copy_range
    monkeypatch.setattr(exports, "_copy_range", lambda conn, sql, params, *rest: (
        copied.append((params["lo"], params["hi"])), copy_range(conn, sql, params, *rest))[1])
    result, path = run(answered, manager, tmp_path, "jsonl", include, include_gold=include_gold)
    if db.is_postgres():  # the ranges are the PostgreSQL path's; they meet end to end
        assert len(copied) == ranges and all(a[1] == b[0] for a, b in zip(copied, copied[1:], strict=False))
    produced = [json.loads(line) for line in path.read_text().splitlines()]
    expected = [json.loads(line) for line in generic(answered, "jsonl", include or list(exports.INCLUDES),
                                                     include_gold=include_gold).getvalue().decode().splitlines()]
    assert result["tasks"] == (8 if include_gold else 7) and produced == expected
    # The control task is marked, with its expected answer; the others are not.
    assert [(row["gold"], row["expected"]) for row in produced if row["gold"]] == (
        [(True, {"choice": "pos"})] if include_gold else [])
    assert all(row["expected"] is None for row in produced if not row["gold"])
    assert [row["task_id"] for row in produced] == sorted(row["task_id"] for row in produced)
    if include is None:
        assert produced[0]["answers"][0]["active_seconds"] == 4 and produced[0]["consensus"]["answers_used"] == 2
        assert {(a["review_status"], a["counted"]) for row in produced for a in row["answers"]} == {("pending", True)}
    else:
        assert produced[0]["answers"] == [] and produced[0]["agreement"] is None and produced[0]["consensus"]


@pytest.mark.parametrize("include_gold", [True, False])
def test_export_job_parquet_equals_the_generic_writer(answered, manager, tmp_path, include_gold):
    result, path = run(answered, manager, tmp_path, "parquet", include_gold=include_gold)
    produced = pq.read_table(path).to_pylist()
    expected = pq.read_table(generic(answered, "parquet", list(exports.INCLUDES),
                                     include_gold=include_gold)).to_pylist()
    assert result["tasks"] == (8 if include_gold else 7) and decoded(produced) == decoded(expected)
    assert [(row["gold"], json.loads(row["expected"])) for row in produced if row["gold"]] == (
        [(True, {"choice": "pos"})] if include_gold else [])
    assert json.loads(produced[0]["answers"])[0]["worker"].startswith("w-")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_job_of_some_batches_holds_only_their_tasks(project_factory, manager, tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(exports, "JSONL_MIN_RANGE", 1)
    project = project_factory(batch_size=3)
    datasets.import_items(principal=principal_of(manager), project_id=project.id,
                          items=[{"external_id": f"e{i}", "text": f"t{i}"} for i in range(7)])
    first = exports.iter_rows(project.id, batch_ids=None, include=[], salt="s")
    batch = next(first)["batch_id"]
    first.close()
    result, path = run(project, manager, tmp_path, fmt, batch_ids=[batch])
    expected = generic(project, fmt, list(exports.INCLUDES), batch_ids=[batch]).getvalue()
    if fmt == "jsonl":
        produced = [json.loads(line) for line in path.read_text().splitlines()]
        assert produced == [json.loads(line) for line in expected.decode().splitlines()]
    else:
        produced = pq.read_table(path).to_pylist()
        assert decoded(produced) == decoded(pq.read_table(io.BytesIO(expected)).to_pylist())
    assert result["tasks"] == 3 and {row["batch_id"] for row in produced} == {batch}


def test_answer_times_are_spelled_alike_on_every_path(answered, manager, tmp_path):
    # PostgreSQL's own JSON spelling of a time: no trailing zeros in the fraction, no fraction on a whole second.
    with db.get_engine().begin() as conn:
        conn.execute(text(
            "UPDATE assignments SET submitted_at = CASE id % 3 WHEN 0 THEN :whole WHEN 1 THEN :half ELSE :micro END "
            "WHERE project_id = :p AND status = 'submitted'"),
            {"p": answered.id, "whole": datetime(2026, 3, 1, 10, tzinfo=UTC),
             "half": datetime(2026, 3, 1, 10, 0, 0, 500_000, tzinfo=UTC),
             "micro": datetime(2026, 3, 1, 10, 0, 0, 123_456, tzinfo=UTC)})
    spelled = {"2026-03-01T10:00:00+00:00", "2026-03-01T10:00:00.5+00:00", "2026-03-01T10:00:00.123456+00:00"}
    _, jsonl = run(answered, manager, tmp_path, "jsonl")
    _, parquet = run(answered, manager, tmp_path, "parquet")
    generic_rows = generic(answered, "jsonl", list(exports.INCLUDES)).getvalue().splitlines()
    for answers in ([a for line in jsonl.read_text().splitlines() for a in json.loads(line)["answers"]],
                    [a for row in pq.read_table(parquet).to_pylist() for a in json.loads(row["answers"])],
                    [a for line in generic_rows for a in json.loads(line)["answers"]]):
        assert len(answers) == 14 and {a["submitted_at"] for a in answers} == spelled


def test_answer_time_is_utc_whatever_the_zone():
    paris = timezone(timedelta(hours=1))
    assert exports.answer_time(datetime(2026, 3, 1, 11, 0, 0, 10, tzinfo=paris)) == "2026-03-01T10:00:00.00001+00:00"
    assert exports.answer_time(datetime(2026, 3, 1, 10, 0, 0)) == "2026-03-01T10:00:00+00:00"


def test_an_export_reads_only_its_own_projects_span_of_task_ids(project_factory, manager, tmp_path, monkeypatch):
    # An older, smaller project amid a later one's tasks: its export spans its own ids, not the table's.
    monkeypatch.setattr(exports, "JSONL_TASKS_PER_ROW", 2)
    older, later = project_factory(batch_size=2), project_factory(batch_size=2)
    for project, n in ((older, 3), (later, 5), (older, 2)):
        datasets.import_items(principal=principal_of(manager), project_id=project.id,
                              items=[{"text": f"p{project.id} t{i}"} for i in range(n)])
    with db.get_engine().connect() as conn:
        ids, later_ids = ([*conn.execute(text("SELECT id FROM tasks WHERE project_id = :p ORDER BY id"),
                                         {"p": project.id}).scalars()] for project in (older, later))
        assert exports._id_bounds(conn, older.id, None) == (ids[0] - 1, ids[-1])
        assert exports._id_bounds(conn, later.id, None) == (later_ids[0] - 1, later_ids[-1]) and later_ids[-1] < ids[-1]
        assert exports._id_bounds(conn, project_factory().id, None) == (0, 0)
    result, path = run(older, manager, tmp_path, "jsonl")
    assert result["tasks"] == 5 and [json.loads(line)["task_id"] for line in path.read_text().splitlines()] == ids


def test_an_export_that_breaks_midway_fails_whole_and_leaves_no_file(answered, manager, tmp_path, monkeypatch):
    # On PostgreSQL the second of two ranges breaks while the first is written; elsewhere the writer breaks.
    monkeypatch.setattr(exports, "JSONL_MIN_RANGE", 1)
    copy_range, write_export = exports._copy_range, exports.write_export

    def second_range_breaks(conn, sql, params, out, counted, slot, *rest):
        if slot == 1:
            raise RuntimeError("connection lost")
        return copy_range(conn, sql, params, out, counted, slot, *rest)

    def writer_breaks(fmt, rows, out, *args, **kwargs):
        def breaking():
            for n, row in enumerate(rows):
                if n == 3:
                    raise RuntimeError("connection lost")
                yield row

        return write_export(fmt, breaking(), out, *args, **kwargs)

    monkeypatch.setattr(exports, "_copy_range", second_range_breaks)
    monkeypatch.setattr(exports, "write_export", writer_breaks)
    export = exports.create_export(principal=principal_of(manager), project_id=answered.id, fmt="jsonl",
                                   batch_ids=None, include=None, job_id="00000000-0000-7000-8000-000000000001")
    with pytest.raises(RuntimeError, match="connection lost"):
        exports.run_export(export_id=export.id, directory=tmp_path, salt="s", ttl_hours=1)
    assert exports.get_export(principal=principal_of(manager), export_id=export.id).status == "failed"
    assert list(tmp_path.iterdir()) == []


def test_large_tasks_travel_fewer_to_a_copy_row(project_factory, manager, tmp_path, monkeypatch):
    # A row of lines is held whole by PostgreSQL and by the exporter: its size stays bounded, not its count.
    monkeypatch.setattr(exports, "JSONL_MIN_RANGE", 1)
    small, large = project_factory(batch_size=4), project_factory(batch_size=4)
    datasets.import_items(principal=principal_of(manager), project_id=small.id, items=[{"text": "short"}] * 9)
    datasets.import_items(principal=principal_of(manager), project_id=large.id,
                          items=[{"external_id": f"e{i}", "text": f"{i} " + "long text " * 4_000} for i in range(9)])
    if db.is_postgres():  # rows of lines are the PostgreSQL path's
        with db.get_engine().connect() as conn:
            steps = [exports._tasks_per_row(conn, p.id, exports._id_bounds(conn, p.id, None)[0])
                     for p in (small, large)]
        assert steps[0] == exports.JSONL_TASKS_PER_ROW and 20 <= steps[1] <= 30  # 1 MiB / about 40 kB a task
    monkeypatch.setattr(exports, "JSONL_ROW_BYTES", 100_000)  # two tasks to a row
    result, path = run(large, manager, tmp_path, "jsonl")
    expected = generic(large, "jsonl", list(exports.INCLUDES)).getvalue().decode().splitlines()
    assert result["tasks"] == 9 and [json.loads(line) for line in path.read_text().splitlines()] == [
        json.loads(line) for line in expected]
