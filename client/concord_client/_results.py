"""Background jobs, consensus, results and exports."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from ._http import RETRYABLE_TRANSPORT, without_none
from ._projects import Resource
from .errors import ExportFailed, JobFailed, TransportError, WaitTimeout
from .types import ConsensusRun, Export, Job, Page, Result


def poll(fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], *, what: str,
         timeout: float, poll_interval: float, sleep: Callable[[float], None]) -> dict[str, Any]:
    """Fetch until ``done``; polls quickly at first, then every ``poll_interval`` seconds."""
    deadline = time.monotonic() + timeout
    interval = min(0.05, poll_interval)
    while True:
        state = fetch()
        if done(state):
            return state
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"{what} still {state.get('status')!r} after {timeout:g} s.", last=state)
        sleep(min(interval, left))
        interval = min(interval * 2, poll_interval)


class Jobs(Resource):
    """``/jobs``: imports, consensus runs, exports and reports running in the background."""

    def get(self, job_id: str) -> Job:
        return self._http.json("GET", f"/jobs/{job_id}")

    def list(self, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Job]:
        return self._http.json("GET", "/jobs", params={"status": status, "limit": limit, "cursor": cursor})

    def iter(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Job]:
        return self._http.iterate("/jobs", {"status": status}, page_size=page_size)

    def wait(self, job: Job | str, *, timeout: float = 600, poll_interval: float = 1.0) -> Job:
        """Poll a job until it finishes; returns it. Raises JobFailed (with the job's error) or WaitTimeout."""
        job_id = job if isinstance(job, str) else job["id"]
        state = poll(lambda: self.get(job_id), lambda j: j.get("status") in ("finished", "failed"),
                     what=f"Job {job_id}", timeout=timeout, poll_interval=poll_interval, sleep=self._http.sleep)
        if state["status"] == "failed":
            raise JobFailed(state)
        return state  # type: ignore[return-value]


class Consensus(Resource):
    def start(self, project_id: int, *, method: str | None = None, batch_ids: list[int] | None = None,
              idempotency_key: str | None = None) -> Job:
        """Merge answers into consensus now (a job); replaces earlier results of the batches it covers."""
        body = without_none(method=method, batch_ids=batch_ids)
        return self._http.json("POST", f"/projects/{project_id}/consensus", json=body,
                               idempotency_key=idempotency_key)["job"]

    def run(self, project_id: int, *, method: str | None = None, batch_ids: list[int] | None = None,
            timeout: float = 600, poll_interval: float = 1.0) -> Job:
        """Start a consensus run and wait for it. Raises JobFailed or WaitTimeout."""
        job = self.start(project_id, method=method, batch_ids=batch_ids)
        return self._client.jobs.wait(job, timeout=timeout, poll_interval=poll_interval)

    def iter_runs(self, project_id: int, *, page_size: int = 100) -> Iterator[ConsensusRun]:
        """The project's consensus runs, newest first (one per completed batch), a page at a time."""
        return self._http.iterate(f"/projects/{project_id}/consensus/runs", page_size=page_size)


class Results(Resource):
    """``/projects/{id}/results``: the consensus answer of each task, with the task's data."""

    def list(self, project_id: int, *, batch_id: int | None = None, min_confidence: float | None = None,
             max_confidence: float | None = None, flagged: bool | None = None, limit: int = 50,
             cursor: str | None = None) -> Page[Result]:
        params = {"batch_id": batch_id, "min_confidence": min_confidence, "max_confidence": max_confidence,
                  "flagged": flagged, "limit": limit, "cursor": cursor}
        return self._http.json("GET", f"/projects/{project_id}/results", params=params)

    def iter(self, project_id: int, *, batch_id: int | None = None, min_confidence: float | None = None,
             max_confidence: float | None = None, flagged: bool | None = None,
             page_size: int = 100) -> Iterator[Result]:
        """Every result matching the filters, following the cursor across pages."""
        params = {"batch_id": batch_id, "min_confidence": min_confidence, "max_confidence": max_confidence,
                  "flagged": flagged}
        return self._http.iterate(f"/projects/{project_id}/results", params, page_size=page_size)


_FILENAME = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


class Exports(Resource):
    """Exports of a project's tasks, answers, consensus and agreement to a file."""

    def create(self, project_id: int, format: str, *, batch_ids: list[int] | None = None,
               include: list[str] | None = None, include_gold: bool | None = None,
               include_empty: bool | None = None, question: str | None = None,
               include_ties: bool | None = None, idempotency_key: str | None = None) -> Export:
        """Start an export (``jsonl``, ``csv``, ``parquet``, ``coco``, ``label_studio``, ``conll``, ``spacy``,
        ``preferences``).

        ``include_gold=False`` leaves control tasks out (by default they are in, marked as gold with their
        expected answer); ``include_empty=True`` (coco, conll, spacy) also writes tasks without consensus.
        ``question`` names the form's question a one-question format writes (``preferences``: a pairwise or
        ranking question); ``include_ties=True`` also writes tied preferences.
        """
        body = without_none(format=format, batch_ids=batch_ids, include=include, include_gold=include_gold,
                            include_empty=include_empty, question=question, include_ties=include_ties)
        return self._http.json("POST", f"/projects/{project_id}/exports", json=body,
                               idempotency_key=idempotency_key)["export"]

    def get(self, export_id: int) -> Export:
        return self._http.json("GET", f"/exports/{export_id}")

    def iter(self, project_id: int, *, page_size: int = 100) -> Iterator[Export]:
        """The project's exports, newest first (expired ones too), a page at a time."""
        return self._http.iterate(f"/projects/{project_id}/exports", page_size=page_size)

    def wait(self, export: Export | int, *, timeout: float = 600, poll_interval: float = 1.0) -> Export:
        """Poll until the export is ready. Raises ExportFailed (failed or expired) or WaitTimeout."""
        export_id = export if isinstance(export, int) else export["id"]
        state = poll(lambda: self.get(export_id), lambda e: e.get("status") in ("ready", "failed", "expired"),
                     what=f"Export {export_id}", timeout=timeout, poll_interval=poll_interval,
                     sleep=self._http.sleep)
        if state["status"] != "ready":
            raise ExportFailed(state)
        return state  # type: ignore[return-value]

    def download(self, export: Export | int, dest: str | os.PathLike[str] | IO[bytes], *,
                 chunk_size: int = 1 << 16) -> Path | None:
        """Stream a ready export to ``dest``: a file path, a directory (the server's file name is used)
        or a binary file object. A path is written whole or not at all. Returns the path written.

        Raises Conflict (not ready yet), Gone (expired), NotFound.
        """
        export_id = export if isinstance(export, int) else export["id"]
        path = f"/exports/{export_id}/download"
        attempts = 1 + self._http.max_retries
        for attempt in range(attempts):
            response = self._http.request("GET", path, stream=True, headers={"Accept": "*/*"})
            try:
                if not isinstance(dest, str | os.PathLike):
                    if attempt:
                        dest.seek(0)
                        dest.truncate()
                    _copy(response, dest, chunk_size)
                    return None
                target = Path(dest)
                if target.is_dir():
                    target = target / _download_name(response, f"export-{export_id}")
                partial = target.with_name(target.name + ".part")
                try:
                    with open(partial, "wb") as out:
                        _copy(response, out, chunk_size)
                    os.replace(partial, target)
                finally:
                    partial.unlink(missing_ok=True)
                return target
            except RETRYABLE_TRANSPORT as exc:
                # The connection broke mid-file: start over (a seekable object or a fresh .part file).
                if attempt == attempts - 1 or (not isinstance(dest, str | os.PathLike) and not dest.seekable()):
                    raise TransportError(None, "connection_error", f"GET {path}: {type(exc).__name__}: {exc}") \
                        from exc
                self._http.sleep(self._http.backoff(attempt))
            finally:
                response.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def export(self, project_id: int, format: str, dest: str | os.PathLike[str] | IO[bytes], *,
               batch_ids: list[int] | None = None, include: list[str] | None = None,
               include_gold: bool | None = None, include_empty: bool | None = None, question: str | None = None,
               include_ties: bool | None = None, timeout: float = 600, poll_interval: float = 1.0) -> Path | None:
        """Create an export, wait for it and download it to ``dest``."""
        created = self.create(project_id, format, batch_ids=batch_ids, include=include, include_gold=include_gold,
                              include_empty=include_empty, question=question, include_ties=include_ties)
        ready = self.wait(created, timeout=timeout, poll_interval=poll_interval)
        return self.download(ready, dest)


def _copy(response: httpx.Response, out: IO[bytes], chunk_size: int) -> None:
    for chunk in response.iter_bytes(chunk_size):
        out.write(chunk)


def _download_name(response: httpx.Response, fallback: str) -> str:
    match = _FILENAME.search(response.headers.get("Content-Disposition", ""))
    name = os.path.basename(match.group(1).strip()) if match else ""
    return name or fallback
