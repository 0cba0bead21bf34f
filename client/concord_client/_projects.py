"""Projects, datasets, batches and tasks: what a requester sets up."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any, cast

from ._http import HttpCore, without_none
from .types import (
    JSON,
    Batch,
    Cost,
    Dataset,
    DisplayEntry,
    Leaderboard,
    Page,
    Progress,
    Project,
    Question,
    Task,
    TaskDetail,
    WorkloadRow,
)

FileInput = str | os.PathLike[str] | IO[bytes]
_UNSET: Any = object()
_CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson"}


class Resource:
    def __init__(self, http: HttpCore, client: Any = None):
        self._http = http
        self._client = client


class Projects(Resource):
    """``/projects``: create, read, change settings; progress, cost and workload."""

    def create(self, name: str, task_type: str | None = None, *, questions: list[Question] | None = None,
               display: list[DisplayEntry] | None = None, idempotency_key: str | None = None,
               **fields: Any) -> Project:
        """Create a project (status ``draft`` unless ``status="active"`` is given).

        Either one question of ``task_type`` (``create("Sentiment", "single_choice", labels=[...])``) or a
        form: ``questions=[{"name", "kind", "title"?, "required"?, "when"?, ...the kind's fields}]`` with
        ``display=[{"field", "as"}]`` saying how task data is shown (docs/FORMS.md lists every kind).
        ``fields`` are the project settings: ``labels``, ``overlap``, ``reward={"amount", "currency"}``,
        ``batch_size``, ``consensus_method``, ``instructions``...
        """
        body = {"name": name, **without_none(task_type=task_type, questions=questions, display=display), **fields}
        return self._http.json("POST", "/projects", json=body, idempotency_key=idempotency_key)

    def get(self, project_id: int) -> Project:
        return self._http.json("GET", f"/projects/{project_id}")

    def list(self, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Project]:
        return self._http.json("GET", "/projects", params={"status": status, "limit": limit, "cursor": cursor})

    def iter(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Project]:
        """Every project the credential sees (its organization's, or the active ones open to a worker)."""
        return self._http.iterate("/projects", {"status": status}, page_size=page_size)

    def update(self, project_id: int, **fields: Any) -> Project:
        """Change settings (PATCH); e.g. ``status="active"``, ``overlap=5``. A new overlap applies to open tasks."""
        return self._http.json("PATCH", f"/projects/{project_id}", json=fields)

    def progress(self, project_id: int) -> Progress:
        return self._http.json("GET", f"/projects/{project_id}/progress")

    def agreement(self, project_id: int) -> JSON:
        """Inter-annotator agreement: the project's, per batch, per day and per worker; for a form, also
        ``questions: {name: ...}`` with each question's figures."""
        return self._http.json("GET", f"/projects/{project_id}/agreement")

    def leaderboard(self, project_id: int, question: str, *, source: str = "answers") -> Leaderboard:
        """What a pairwise or ranking question compares, best first, with Bradley-Terry scores and 95%
        intervals; ``source="consensus"`` counts each task's merged answer once instead of every answer."""
        return self._http.json("GET", f"/projects/{project_id}/questions/{question}/leaderboard",
                               params={"source": source})

    def cost(self, project_id: int) -> Cost:
        """Spent, pending, in flight, committed and remaining budget; the forecast to finish."""
        return self._http.json("GET", f"/projects/{project_id}/cost")

    def iter_workload(self, project_id: int, *, by: str = "worker", worker_id: int | None = None,
                      date_from: date | str | None = None, date_to: date | str | None = None,
                      page_size: int = 100) -> Iterator[WorkloadRow]:
        """Per worker (``by="worker_day"``: per worker and day) figures of a project, every page."""
        params = {"by": by, "worker_id": worker_id, "from": date_from, "to": date_to}
        return self._http.iterate(f"/projects/{project_id}/workload", params, page_size=page_size)

    def workload_csv(self, project_id: int, *, by: str = "worker", worker_id: int | None = None,
                     date_from: date | str | None = None, date_to: date | str | None = None,
                     page_size: int = 500) -> str:
        """The workload as one CSV document (pages are joined; the header appears once)."""
        params: dict[str, Any] = {"by": by, "worker_id": worker_id, "from": date_from, "to": date_to,
                                  "format": "csv", "limit": page_size}
        parts: list[str] = []
        cursor = None
        while True:
            response = self._http.request("GET", f"/projects/{project_id}/workload",
                                          params={**params, "cursor": cursor})
            text = response.text
            if parts:  # drop the repeated header line
                text = text.split("\n", 1)[1] if "\n" in text else ""
            parts.append(text)
            # CSV pages carry their cursor in a header, not in the body.
            cursor = response.headers.get("X-Next-Cursor")
            if not cursor:
                return "".join(parts)

    def iter_tasks(self, project_id: int, *, flagged: bool | None = None, status: str | None = None,
                   batch_id: int | None = None, page_size: int = 100) -> Iterator[Task]:
        """A project's tasks; ``flagged=True``: those that reached max_overlap without agreement."""
        params = {"flagged": flagged, "status": status, "batch_id": batch_id}
        return self._http.iterate(f"/projects/{project_id}/tasks", params, page_size=page_size)


class Datasets(Resource):
    """``/projects/{id}/datasets``: items in, batches of tasks out."""

    def upload(self, project_id: int, file: FileInput, *, format: str | None = None, batch_size: int | None = None,
               filename: str | None = None, wait: bool = True, timeout: float = 600,
               idempotency_key: str | None = None) -> Dataset:
        """Upload a CSV (with a header), JSON array or JSON Lines file, from a path or a binary file object
        (sent whole, from its first byte). The format follows ``format``, else the file name, else the content.

        Small files are imported at once; larger ones by a background job, which this
        waits for unless ``wait=False`` (then the dataset is ``importing``; see ``wait``).
        Raises JobFailed when the import fails (all or nothing: no task is created).
        """
        if isinstance(file, str | os.PathLike):
            path = Path(file)
            name = filename or path.name
            rewindable = True

            def opener() -> IO[bytes]:
                return open(path, "rb")  # noqa: SIM115 - reopened for every attempt, closed by the ExitStack
        else:
            name = filename or os.path.basename(str(getattr(file, "name", "") or "")) or f"upload.{format or 'csv'}"
            handle = file
            # The whole file is sent, from its first byte, on every attempt; a stream that cannot
            # be rewound is sent once.
            rewindable = handle.seekable()

            def opener() -> IO[bytes]:
                if rewindable:
                    handle.seek(0)
                return handle

        fmt = format or name.rsplit(".", 1)[-1].lower()
        form = {k: str(v) for k, v in {"format": format, "batch_size": batch_size}.items() if v is not None}
        with contextlib.ExitStack() as stack:
            def body() -> dict[str, Any]:
                fh = opener()
                if fh is not file:
                    stack.callback(fh.close)
                files = {"file": (name, fh, _CONTENT_TYPES.get(fmt, "application/octet-stream"))}
                return {"files": files, "data": form}

            response = self._http.request("POST", f"/projects/{project_id}/datasets", body=body,
                                          idempotency_key=idempotency_key, retries=rewindable)
        if response.status_code == 202:
            dataset = cast(Dataset, response.json()["dataset"])
            return self.wait(dataset, timeout=timeout) if wait else dataset
        return response.json()

    def push(self, project_id: int, items: Iterable[JSON], *, batch_size: int | None = None,
             filename: str | None = None, idempotency_key: str | None = None) -> Dataset:
        """Import items sent as JSON: ``{"external_id"?, "gold"?, "data": {...}}`` or flat objects."""
        body = without_none(items=list(items), batch_size=batch_size, filename=filename)
        return self._http.json("POST", f"/projects/{project_id}/datasets", json=body,
                               idempotency_key=idempotency_key)

    def get(self, dataset_id: int) -> Dataset:
        return self._http.json("GET", f"/datasets/{dataset_id}")

    def list(self, project_id: int, *, limit: int = 50, cursor: str | None = None) -> Page[Dataset]:
        return self._http.json("GET", f"/projects/{project_id}/datasets", params={"limit": limit, "cursor": cursor})

    def iter(self, project_id: int, *, page_size: int = 100) -> Iterator[Dataset]:
        return self._http.iterate(f"/projects/{project_id}/datasets", page_size=page_size)

    def wait(self, dataset: Dataset | int, *, timeout: float = 600, poll_interval: float = 1.0) -> Dataset:
        """Wait until a dataset has left ``importing``; returns it with its batches. Raises JobFailed, WaitTimeout."""
        if isinstance(dataset, int):
            dataset = self.get(dataset)
        if dataset.get("status") == "importing" and dataset.get("job_id"):
            self._client.jobs.wait(dataset["job_id"], timeout=timeout, poll_interval=poll_interval)
        return self.get(dataset["id"])


class Batches(Resource):
    """Batches of a project: priority, pause and resume, rush rates; their tasks."""

    def list(self, project_id: int, *, status: str | None = None, limit: int = 50,
             cursor: str | None = None) -> Page[Batch]:
        return self._http.json("GET", f"/projects/{project_id}/batches",
                               params={"status": status, "limit": limit, "cursor": cursor})

    def iter(self, project_id: int, *, status: str | None = None, page_size: int = 100) -> Iterator[Batch]:
        return self._http.iterate(f"/projects/{project_id}/batches", {"status": status}, page_size=page_size)

    def get(self, batch_id: int) -> Batch:
        return self._http.json("GET", f"/batches/{batch_id}")

    def update(self, batch_id: int, *, priority: int | None = None, status: str | None = None,
               reward_amount: int | None = _UNSET) -> Batch:
        """Set priority (higher first), ``status`` (``active``/``paused``) or a rush ``reward_amount``
        (minor units; ``None`` goes back to the project's reward)."""
        body = without_none(priority=priority, status=status)
        if reward_amount is not _UNSET:
            body["reward_amount"] = reward_amount
        return self._http.json("PATCH", f"/batches/{batch_id}", json=body)

    def pause(self, batch_id: int) -> Batch:
        return self.update(batch_id, status="paused")

    def resume(self, batch_id: int) -> Batch:
        return self.update(batch_id, status="active")

    def iter_tasks(self, batch_id: int, *, page_size: int = 100) -> Iterator[Task]:
        return self._http.iterate(f"/batches/{batch_id}/tasks", page_size=page_size)

    def progress(self, batch_id: int) -> Progress:
        return self._http.json("GET", f"/batches/{batch_id}/progress")


class Tasks(Resource):
    def get(self, task_id: int) -> TaskDetail:
        """One task with its data, overlap, status, answers and consensus."""
        return self._http.json("GET", f"/tasks/{task_id}")

    def iter(self, project_id: int, *, flagged: bool | None = None, status: str | None = None,
             batch_id: int | None = None, page_size: int = 100) -> Iterator[Task]:
        return self._client.projects.iter_tasks(project_id, flagged=flagged, status=status, batch_id=batch_id,
                                                page_size=page_size)
