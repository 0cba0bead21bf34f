"""Working on tasks: claim, submit, release; a vendor's own workers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ._http import without_none
from ._projects import Resource
from .types import JSON, Assignment, MyAssignment, NoTask, Page, Worker, WorkerStats

REASON_HEADER = "X-Concord-Reason"


class Assignments(Resource):
    """Leases of tasks to workers. Organization keys name the worker they act for with ``worker=``
    (the vendor's own id, sent as ``X-Concord-Worker``), here or once on the Client."""

    def claim(self, project_id: int, *, worker: str | None = None,
              idempotency_key: str | None = None) -> Assignment | NoTask:
        """Lease the next task to the worker: a new lease, or the one it already holds.

        Returns ``NoTask(reason)`` (falsy) when there is nothing for this worker now.
        """
        response = self._http.request("POST", f"/projects/{project_id}/assignments", worker=worker,
                                      idempotency_key=idempotency_key)
        if response.status_code == 204:
            return NoTask(response.headers.get(REASON_HEADER, "no_task_available"))
        return response.json()

    def get(self, assignment_id: int, *, worker: str | None = None) -> Assignment:
        return self._http.json("GET", f"/assignments/{assignment_id}", worker=worker)

    def submit(self, assignment_id: int, answer: JSON, *, active_seconds: int | None = None,
               worker: str | None = None, idempotency_key: str | None = None) -> Assignment:
        """Submit the answer (its shape follows the task type, e.g. ``{"choice": "pos"}``).

        The same answer again is accepted; a different one raises Conflict ``already_submitted``;
        a late one Conflict ``lease_expired`` unless the task still needs it.
        """
        body = without_none(answer=answer, active_seconds=active_seconds)
        return self._http.json("POST", f"/assignments/{assignment_id}/submit", json=body, worker=worker,
                               idempotency_key=idempotency_key)

    def mine(self, *, status: str | None = None, review_status: str | None = None, project_id: int | None = None,
             limit: int = 50, cursor: str | None = None, worker: str | None = None) -> Page[MyAssignment]:
        """One page of the worker's own assignments, newest first, each with its review decision and
        the reviewer's reason. ``status``: leased, submitted, released or expired; ``review_status``:
        pending, approved or rejected."""
        return self._http.json("GET", "/me/assignments", worker=worker, params={
            "status": status, "review_status": review_status, "project_id": project_id, "limit": limit,
            "cursor": cursor})

    def iter_mine(self, *, status: str | None = None, review_status: str | None = None,
                  project_id: int | None = None, page_size: int = 100,
                  worker: str | None = None) -> Iterator[MyAssignment]:
        """Every one of the worker's own assignments, newest first, one page request at a time."""
        cursor = None
        while True:
            page = self.mine(status=status, review_status=review_status, project_id=project_id, limit=page_size,
                             cursor=cursor, worker=worker)
            yield from page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def release(self, assignment_id: int, *, reason: str | None = None, worker: str | None = None,
                idempotency_key: str | None = None) -> Assignment:
        """Give the task back (skip); the worker will not get it again."""
        return self._http.json("POST", f"/assignments/{assignment_id}/release", json={"reason": reason},
                               worker=worker, idempotency_key=idempotency_key)


class Workers(Resource):
    def register(self, external_id: str, *, idempotency_key: str | None = None) -> Worker:
        """Register one of the vendor's workers by its own id (organization keys). Registering again
        returns the same worker. Workers are also registered on their first claim."""
        return self._http.json("POST", "/workers", json={"external_id": external_id},
                               idempotency_key=idempotency_key)

    def stats(self, worker_id: int, *, by: str = "project", project_id: int | None = None,
              date_from: date | str | None = None, date_to: date | str | None = None) -> WorkerStats:
        """A worker's figures on the organization's projects and what the organization owes it."""
        return self._http.json("GET", f"/workers/{worker_id}/stats",
                               params={"by": by, "project_id": project_id, "from": date_from, "to": date_to})

    def my_stats(self, *, by: str = "project", project_id: int | None = None,
                 date_from: date | str | None = None, date_to: date | str | None = None) -> WorkerStats:
        """The calling annotator's own figures."""
        return self._http.json("GET", "/me/stats",
                               params={"by": by, "project_id": project_id, "from": date_from, "to": date_to})

