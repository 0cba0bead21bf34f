"""Review of answers, the earnings ledger and payouts. Amounts are integer minor units."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from ._http import without_none
from ._projects import Resource
from .types import BulkReviewResult, Earnings, LedgerEntry, Page, Payout, ReviewedAnswer, ReviewQueueItem


class Reviews(Resource):
    """Approve (the worker earns the rate fixed at claim time) or reject (with a reason) submitted answers."""

    def approve(self, assignment_id: int, *, reason: str | None = None,
                idempotency_key: str | None = None) -> ReviewedAnswer:
        """Approve an answer; also reverses a recent rejection. An approval stands (Conflict ``approval_stands``)."""
        return self._http.json("POST", f"/assignments/{assignment_id}/approve", json=without_none(reason=reason),
                               idempotency_key=idempotency_key)

    def reject(self, assignment_id: int, reason: str, *, idempotency_key: str | None = None) -> ReviewedAnswer:
        """Reject a pending answer with a reason the worker can read."""
        return self._http.json("POST", f"/assignments/{assignment_id}/reject", json={"reason": reason},
                               idempotency_key=idempotency_key)

    def bulk(self, project_id: int, action: Literal["approve", "reject"], *, reason: str | None = None,
             batch_id: int | None = None, worker_id: int | None = None, assignment_ids: list[int] | None = None,
             submitted_before: datetime | str | None = None, gold: bool | None = None,
             idempotency_key: str | None = None) -> BulkReviewResult:
        """Approve or reject every pending answer of a project matching the filters."""
        if isinstance(submitted_before, datetime):
            submitted_before = submitted_before.isoformat()
        body = without_none(action=action, reason=reason, batch_id=batch_id, worker_id=worker_id,
                            assignment_ids=assignment_ids, submitted_before=submitted_before, gold=gold)
        return self._http.json("POST", f"/projects/{project_id}/reviews", json=body, idempotency_key=idempotency_key)

    def iter_queue(self, project_id: int, *, review_status: str = "pending", batch_id: int | None = None,
                   worker_id: int | None = None, gold: bool | None = None,
                   page_size: int = 100) -> Iterator[ReviewQueueItem]:
        """Submitted answers with their tasks, oldest first (pending ones by default)."""
        params = {"review_status": review_status, "batch_id": batch_id, "worker_id": worker_id, "gold": gold}
        return self._http.iterate(f"/projects/{project_id}/reviews", params, page_size=page_size)


class Payments(Resource):
    """Bonuses and adjustments on the ledger; what workers earned and are owed."""

    def bonus(self, worker_id: int, amount: int, currency: str, reason: str, *, project_id: int | None = None,
              idempotency_key: str | None = None) -> LedgerEntry:
        """Pay a worker a bonus. The same ``idempotency_key`` again (24 h) returns the first entry, paying once."""
        body = without_none(amount=amount, currency=currency, reason=reason, project_id=project_id)
        return self._http.json("POST", f"/workers/{worker_id}/bonuses", json=body, idempotency_key=idempotency_key)

    def adjustment(self, worker_id: int, amount: int, currency: str, reason: str, *,
                   project_id: int | None = None, idempotency_key: str | None = None) -> LedgerEntry:
        """Correct a worker's balance with a signed amount (negative takes money back)."""
        body = without_none(amount=amount, currency=currency, reason=reason, project_id=project_id)
        return self._http.json("POST", f"/workers/{worker_id}/adjustments", json=body,
                               idempotency_key=idempotency_key)

    def earnings(self, worker_id: int, *, currency: str | None = None, kind: str | None = None, limit: int = 50,
                 cursor: str | None = None, order: str | None = None) -> Earnings:
        """Balances per currency (balance, pending, paid out...) and one page of ledger entries, oldest first
        (``order="newest"``: newest first)."""
        return self._http.json("GET", f"/workers/{worker_id}/earnings",
                               params={"currency": currency, "kind": kind, "limit": limit, "cursor": cursor,
                                       "order": order})

    def iter_entries(self, worker_id: int, *, currency: str | None = None, kind: str | None = None,
                     page_size: int = 100) -> Iterator[LedgerEntry]:
        """Every ledger entry of a worker with the organization."""
        return self._http.iterate(f"/workers/{worker_id}/earnings", {"currency": currency, "kind": kind},
                                  page_size=page_size, items_key="entries")

    def my_earnings(self, *, currency: str | None = None, kind: str | None = None, limit: int = 50,
                    cursor: str | None = None, order: str | None = None) -> Earnings:
        """The calling annotator's own balances and entries, oldest first (``order="newest"``: newest first)."""
        return self._http.json("GET", "/me/earnings",
                               params={"currency": currency, "kind": kind, "limit": limit, "cursor": cursor,
                                       "order": order})


class Payouts(Resource):
    """Payout batches: pay every worker whose unpaid balance reaches a minimum; the file for the processor."""

    def create(self, currency: str, *, minimum: int = 0, note: str | None = None,
               idempotency_key: str | None = None) -> Payout:
        body = without_none(currency=currency, minimum=minimum, note=note)
        return self._http.json("POST", "/payouts", json=body, idempotency_key=idempotency_key)

    def list(self, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[Payout]:
        return self._http.json("GET", "/payouts", params={"status": status, "limit": limit, "cursor": cursor})

    def iter(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Payout]:
        return self._http.iterate("/payouts", {"status": status}, page_size=page_size)

    def get(self, payout_id: int) -> Payout:
        return self._http.json("GET", f"/payouts/{payout_id}")

    def mark_paid(self, payout_id: int, *, note: str | None = None, idempotency_key: str | None = None) -> Payout:
        """The payment processor paid the batch."""
        return self._http.json("POST", f"/payouts/{payout_id}/paid", json=without_none(note=note),
                               idempotency_key=idempotency_key)

    def mark_failed(self, payout_id: int, *, note: str | None = None, idempotency_key: str | None = None) -> Payout:
        """The batch was not paid: every amount returns to the workers' balances."""
        return self._http.json("POST", f"/payouts/{payout_id}/failed", json=without_none(note=note),
                               idempotency_key=idempotency_key)

    def file(self, payout_id: int, *, format: Literal["csv", "json"] = "csv") -> bytes:
        """The payout file (worker, external id, email, amount, amount_decimal, currency) as bytes."""
        response = self._http.request("GET", f"/payouts/{payout_id}/file", params={"format": format},
                                      headers={"Accept": "*/*"})
        return response.content
