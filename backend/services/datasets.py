"""Datasets: stream items into tasks, split into batches, all or nothing.

Items are validated one by one while they stream into a per-transaction
staging table (COPY on PostgreSQL, batched inserts on SQLite). Duplicates and
batch numbers are then settled with set-based SQL, so the cost per row stays
flat and memory does not grow with the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from ..db import read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import Batch, Dataset, JobRecord, Project, utcnow
from ..models.base import UTCDateTime
from .access import Principal, ensure_manage
from .pagination import Page, paginate
from .readers import READERS, RowError
from .task_types import check_task_data, validate_answer

Progress = Callable[[float], None]
RESERVED = ("external_id", "gold")
MAX_BATCH_SIZE = 100_000
SQLITE_CHUNK = 5_000


def _noop(_fraction: float) -> None:
    return None


def _check_batch_size(value: int | None, project: Project) -> int:
    size = value or project.batch_size
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValidationError(f"batch_size: must be between 1 and {MAX_BATCH_SIZE}",
                              details={"fields": {"batch_size": ["out of range"]}})
    return size


class _ItemChecker:
    """Turns raw items into (external_id, data_json, gold_json) rows, or raises RowError."""

    def __init__(self, project: Project):
        self.task_type = project.task_type
        self.config = project.label_config
        self.csv_bare_gold = project.task_type == "single_choice"

    def __call__(self, number: int, item: Any, from_csv: bool) -> tuple[str | None, bytes, bytes | None]:
        if not isinstance(item, dict):
            raise RowError(number, "an item must be an object")
        if "data" in item and isinstance(item["data"], dict):
            extra = sorted(set(item) - {"data", *RESERVED})
            if extra:
                raise RowError(number, f"unknown field {extra[0]!r} next to 'data'", extra[0])
            data = item["data"]
        else:
            data = {k: v for k, v in item.items() if k not in RESERVED}
        external_id = item.get("external_id")
        if external_id in ("", None):
            external_id = None
        elif isinstance(external_id, int | str) and not isinstance(external_id, bool):
            external_id = str(external_id)
            if len(external_id) > 255:
                raise RowError(number, "external_id is longer than 255 characters", "external_id")
        else:
            raise RowError(number, "external_id must be a string or an integer", "external_id")
        try:
            check_task_data(self.task_type, self.config, data)
        except ValidationError as exc:
            raise RowError(number, exc.message, next(iter(exc.details.get("fields", {})), None)) from exc
        gold = item.get("gold")
        if from_csv:
            gold = self._csv_gold(number, gold)
        if gold is not None:
            try:
                gold = validate_answer(self.task_type, self.config, gold, data, path="gold")
            except ValidationError as exc:
                raise RowError(number, exc.message, "gold") from exc
        return external_id, orjson.dumps(data), orjson.dumps(gold) if gold is not None else None

    def _csv_gold(self, number: int, raw: str | None) -> Any:
        if raw is None or raw == "":
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            if self.csv_bare_gold:
                return {"choice": raw}
            raise RowError(number, "gold must be a JSON answer", "gold") from None


# --- staging ------------------------------------------------------------------


class _Stager:
    """Writes checked rows into a temporary table inside the import's transaction."""

    def __init__(self, session: Session):
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.rows = 0
        self.with_external_ids = False

    def __enter__(self) -> _Stager:
        if self.dialect == "postgresql":
            self.session.execute(text(
                "CREATE TEMP TABLE import_staging (seq bigint, external_id text, data jsonb, gold jsonb) "
                "ON COMMIT DROP"))
            raw = self.session.connection().connection.driver_connection
            self._cursor = raw.cursor()
            self._copy_cm = self._cursor.copy("COPY import_staging (seq, external_id, data, gold) FROM STDIN")
            self._copy = self._copy_cm.__enter__()
        else:
            self.session.execute(text("DROP TABLE IF EXISTS temp.import_staging"))
            self.session.execute(text(
                "CREATE TEMP TABLE import_staging (seq INTEGER, external_id TEXT, data TEXT, gold TEXT)"))
            self._pending: list[tuple] = []
        return self

    def add(self, external_id: str | None, data: bytes, gold: bytes | None) -> None:
        self.rows += 1
        if external_id is not None:
            self.with_external_ids = True
        if self.dialect == "postgresql":
            self._copy.write_row((self.rows, external_id, data.decode(), gold.decode() if gold else None))
        else:
            self._pending.append((self.rows, external_id, data.decode(), gold.decode() if gold else None))
            if len(self._pending) >= SQLITE_CHUNK:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.session.connection().exec_driver_sql(
                "INSERT INTO import_staging (seq, external_id, data, gold) VALUES (?, ?, ?, ?)", self._pending)
            self._pending = []

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.dialect == "postgresql":
            self._copy_cm.__exit__(exc_type, exc, tb)
            self._cursor.close()
        elif exc_type is None:
            self._flush()


def _drop_duplicates(session: Session, project_id: int) -> int:
    """Remove staged rows whose external_id exists in the project or earlier in the file."""
    before = session.execute(text("SELECT count(*) FROM import_staging")).scalar_one()
    session.execute(text("CREATE INDEX ix_import_staging_external_id ON import_staging (external_id, seq)"))
    session.execute(text(
        "DELETE FROM import_staging WHERE external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM tasks t WHERE t.project_id = :p AND t.external_id = import_staging.external_id)"),
        {"p": project_id})
    session.execute(text(
        "DELETE FROM import_staging WHERE external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM import_staging s2 WHERE s2.external_id = import_staging.external_id"
        " AND s2.seq < import_staging.seq)"))
    after = session.execute(text("SELECT count(*) FROM import_staging")).scalar_one()
    return before - after


_INSERT_TASKS = text(
    "INSERT INTO tasks (project_id, batch_id, ordinal, external_id, data, gold, required_overlap,"
    " answer_count, status, created_at)"
    " SELECT :p, b.id, r.ordinal, r.external_id, r.data, r.gold,"
    "  :base + ((r.ordinal + 1) * :frac) / 100 - (r.ordinal * :frac) / 100, 0, 'open', :now"
    " FROM (SELECT external_id, data, gold, :o0 + row_number() OVER (ORDER BY seq) - 1 AS ordinal,"
    "        row_number() OVER (ORDER BY seq) - 1 AS idx FROM import_staging) r"
    " JOIN batches b ON b.project_id = :p AND b.number = :first + r.idx / :bs"
    # Ids follow file order, so listing tasks by id lists them in order.
    " ORDER BY r.ordinal"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _materialise(session: Session, project: Project, dataset: Dataset, staged: int) -> None:
    """Create the dataset's batches and tasks from the staging table."""
    if dataset.duplicates_skipped is None:
        dataset.duplicates_skipped = 0
    count = staged - dataset.duplicates_skipped
    size = dataset.batch_size
    n_batches = math.ceil(count / size) if count else 0
    first = project.batch_seq + 1
    ordinal0 = project.task_seq
    project.batch_seq += n_batches
    project.task_seq += count
    now = utcnow()
    session.add_all(
        Batch(project_id=project.id, dataset_id=dataset.id, number=first + i, priority=0, status="active",
              task_count=min(size, count - i * size), completed_count=0, created_at=now)
        for i in range(n_batches)
    )
    session.flush()
    if count:
        base, frac = divmod(project.overlap_centi, 100)
        session.execute(_INSERT_TASKS, {"p": project.id, "base": base, "frac": frac, "now": now,
                                        "o0": ordinal0, "first": first, "bs": size})
    dataset.tasks_created = count
    dataset.status = "ready"
    dataset.finished_at = now


def _import_into(session: Session, dataset: Dataset, rows: Iterable[tuple[int, Any, int]], *,
                 from_csv: bool, total_bytes: int | None, progress: Progress) -> Dataset:
    # The project row lock orders concurrent imports and guards task/batch numbering.
    project = session.get(Project, dataset.project_id, with_for_update=True)
    checker = _ItemChecker(project)
    last_report = 0
    with _Stager(session) as stager:
        for number, item, consumed in rows:
            stager.add(*checker(number, item, from_csv))
            if total_bytes and stager.rows - last_report >= 10_000:
                last_report = stager.rows
                progress(min(0.9, 0.9 * consumed / total_bytes))
    if stager.rows == 0:
        raise ValidationError("The dataset has no items.", code="empty_dataset")
    dataset.items_total = stager.rows
    dataset.duplicates_skipped = _drop_duplicates(session, project.id) if stager.with_external_ids else 0
    _materialise(session, project, dataset, stager.rows)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TABLE IF EXISTS temp.import_staging"))
    progress(1.0)
    return dataset


def _items_rows(items: list[Any]) -> Iterator[tuple[int, Any, int]]:
    for number, item in enumerate(items, 1):
        yield number, item, number


# --- the service functions ------------------------------------------------------


def import_items(*, principal: Principal, project_id: int, items: list[Any], batch_size: int | None = None,
                 filename: str | None = None) -> Dataset:
    """Import a list of items in one transaction. Raises NotFound, Forbidden, ValidationError/RowError."""
    principal.require_scope("projects:write")
    with unit_of_work(immediate=True) as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format="json", status="importing",
                          batch_size=_check_batch_size(batch_size, project))
        session.add(dataset)
        session.flush()
        _import_into(session, dataset, _items_rows(items), from_csv=False, total_bytes=None, progress=_noop)
    return get_dataset_detail(dataset_id=dataset.id)


def import_file(*, principal: Principal, project_id: int, path: Path, fmt: str, filename: str | None,
                batch_size: int | None = None) -> Dataset:
    """Import an uploaded file now, in one transaction. Raises like import_items."""
    principal.require_scope("projects:write")
    with unit_of_work(immediate=True) as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format=fmt, status="importing",
                          batch_size=_check_batch_size(batch_size, project))
        session.add(dataset)
        session.flush()
        with open(path, "rb") as fh:
            _import_into(session, dataset, READERS[fmt](fh), from_csv=fmt == "csv",
                         total_bytes=os.path.getsize(path), progress=_noop)
    return get_dataset_detail(dataset_id=dataset.id)


def queue_file_import(*, principal: Principal, project_id: int, fmt: str, filename: str | None,
                      batch_size: int | None, job_id: str) -> tuple[Dataset, JobRecord]:
    """Record a dataset whose file a background job will import, and its job. Raises NotFound, Forbidden."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format=fmt, status="importing",
                          batch_size=_check_batch_size(batch_size, project), job_id=job_id)
        session.add(dataset)
        job = JobRecord(id=job_id, kind="import_dataset", organization_id=project.organization_id,
                        project_id=project.id, status="queued", progress=0.0)
        session.add(job)
    dataset.batches = []
    return dataset, job


def run_file_import(*, dataset_id: int, path: Path, progress: Progress = _noop) -> dict:
    """Import a queued dataset's file (the background job's work). Safe to run twice.

    On a bad row the dataset is marked failed with the row and reason, and the
    RowError is raised again so the job fails with it.
    """
    with read_session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise ValidationError(f"Dataset {dataset_id} does not exist.")
        if dataset.status == "ready":
            return _summary(dataset)
        fmt = dataset.format
    try:
        with unit_of_work(immediate=True) as session:
            dataset = session.get(Dataset, dataset_id)
            with open(path, "rb") as fh:
                _import_into(session, dataset, READERS[fmt](fh), from_csv=fmt == "csv",
                             total_bytes=os.path.getsize(path), progress=progress)
    except ValidationError as exc:
        with unit_of_work() as session:
            failed = session.get(Dataset, dataset_id)
            failed.status = "failed"
            failed.error = {"code": exc.code, "message": exc.message, "details": exc.details}
            failed.finished_at = utcnow()
        raise
    return _summary(get_dataset_detail(dataset_id=dataset_id))


def _summary(dataset: Dataset) -> dict:
    return {"dataset_id": dataset.id, "items_total": dataset.items_total, "tasks_created": dataset.tasks_created,
            "duplicates_skipped": dataset.duplicates_skipped}


def get_dataset_detail(*, dataset_id: int, principal: Principal | None = None) -> Dataset:
    """A dataset with its batches attached as ``dataset.batches``. Raises NotFound."""
    with read_session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise NotFound(f"Dataset {dataset_id} not found.")
        if principal is not None:
            ensure_manage(principal, session.get(Project, dataset.project_id), dataset.project_id)
        dataset.batches = list(session.scalars(
            select(Batch).where(Batch.dataset_id == dataset.id).order_by(Batch.number)))
        return dataset


def list_datasets(*, principal: Principal, project_id: int, limit: int, cursor: str | None) -> Page:
    """A project's datasets, oldest first. Raises NotFound or Forbidden."""
    with read_session() as session:
        ensure_manage(principal, session.get(Project, project_id), project_id)
        stmt = select(Dataset).where(Dataset.project_id == project_id)
        return paginate(session, stmt, Dataset.id, limit=limit, cursor=cursor)


def discard_dataset(*, dataset_id: int) -> None:
    """Forget a dataset that never imported (its job could not be queued)."""
    with unit_of_work() as session:
        session.execute(delete(JobRecord).where(JobRecord.id == select(Dataset.job_id).where(
            Dataset.id == dataset_id).scalar_subquery()))
        session.execute(delete(Dataset).where(Dataset.id == dataset_id, Dataset.status == "importing"))

