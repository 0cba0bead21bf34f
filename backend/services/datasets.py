"""Datasets: uploaded items become tasks split into batches, all or nothing.

Small uploads and JSON bodies are imported inside the request; large files are
imported by a background job (``run_file_import``). The import itself lives in
``importer``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from ..db import read_session, unit_of_work
from ..errors import NotFound, ValidationError
from ..models import Batch, Dataset, JobRecord, Project, utcnow
from .access import Principal, ensure_manage
from .importer import Rows, RowSource, import_rows
from .pagination import Page, paginate
from .readers import READERS

Progress = Callable[[float], None]
MAX_BATCH_SIZE = 100_000


def _noop(_fraction: float) -> None:
    return None


def _check_batch_size(value: int | None, project: Project) -> int:
    size = value or project.batch_size
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValidationError(f"batch_size: must be between 1 and {MAX_BATCH_SIZE}",
                              details={"fields": {"batch_size": ["out of range"]}})
    return size


def _item_source(items: list[Any]) -> RowSource:
    @contextmanager
    def open_rows() -> Iterator[Rows]:
        yield ((number, item, number) for number, item in enumerate(items, 1))

    return open_rows


def _file_source(path: Path, fmt: str) -> RowSource:
    @contextmanager
    def open_rows() -> Iterator[Rows]:
        with open(path, "rb") as fh:
            yield READERS[fmt](fh)

    return open_rows


# --- the service functions ------------------------------------------------------


def import_items(*, principal: Principal, project_id: int, items: list[Any], batch_size: int | None = None,
                 filename: str | None = None) -> Dataset:
    """Import a list of items in one transaction. Raises NotFound, Forbidden, ValidationError/RowError."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format="json", status="importing",
                          batch_size=_check_batch_size(batch_size, project))
        session.add(dataset)
        session.flush()
        import_rows(session, dataset, _item_source(items), from_csv=False, total_bytes=None, progress=_noop)
    return get_dataset_detail(dataset_id=dataset.id)


def import_file(*, principal: Principal, project_id: int, path: Path, fmt: str, filename: str | None,
                batch_size: int | None = None) -> Dataset:
    """Import an uploaded file now, in one transaction. Raises like import_items."""
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format=fmt, status="importing",
                          batch_size=_check_batch_size(batch_size, project))
        session.add(dataset)
        session.flush()
        import_rows(session, dataset, _file_source(path, fmt), from_csv=fmt == "csv",
                    total_bytes=os.path.getsize(path), progress=_noop)
    return get_dataset_detail(dataset_id=dataset.id)


def queue_file_import(*, principal: Principal, project_id: int, fmt: str, filename: str | None,
                      batch_size: int | None, job_id: str, path: Path | None = None,
                      runner: str | None = None) -> tuple[Dataset, JobRecord]:
    """Record a dataset whose file a background job will import, and its job. Raises NotFound, Forbidden.

    The job record keeps the upload's path, so that the file is removed if the job is abandoned.
    """
    principal.require_scope("projects:write")
    with unit_of_work() as session:
        project = ensure_manage(principal, session.get(Project, project_id), project_id)
        dataset = Dataset(project_id=project.id, filename=filename, format=fmt, status="importing",
                          batch_size=_check_batch_size(batch_size, project), job_id=job_id)
        session.add(dataset)
        session.flush()
        job = JobRecord(id=job_id, kind="import_dataset", organization_id=project.organization_id,
                        project_id=project.id, status="queued", progress=0.0,
                        func="worker.jobs.import_dataset", queue="imports", runner=runner,
                        args={"dataset_id": dataset.id, "path": str(path) if path is not None else None})
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
        with unit_of_work() as session:
            dataset = session.get(Dataset, dataset_id)
            import_rows(session, dataset, _file_source(path, fmt), from_csv=fmt == "csv",
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

