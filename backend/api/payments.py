"""Money: bonuses and adjustments, earnings, payout batches and their files, fair-pay top-ups."""

from __future__ import annotations

from flask import Response, jsonify, make_response

from .. import jobs
from ..errors import Forbidden
from ..schemas.common import page_of
from ..schemas.payments import (
    AdjustmentSchema,
    BonusSchema,
    EarningsArgsSchema,
    EarningsSchema,
    FairPayArgsSchema,
    FairPayConfirmResultSchema,
    FairPayConfirmSchema,
    FairPayTopUpSchema,
    LedgerEntrySchema,
    PayoutCreateSchema,
    PayoutFileArgsSchema,
    PayoutFileSchema,
    PayoutListArgsSchema,
    PayoutSchema,
    PayoutSettleSchema,
)
from ..schemas.results import JobAcceptedSchema
from ..services import fair_pay, ledger, payouts
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, replay_headers, request_key, security
from .security import auth_required, current_principal

bp = api_blueprint("payments", __name__, "Earnings ledger, bonuses, payouts and fair pay. Amounts in minor units.")


def _entry(worker_id: int, body: dict, kind: str):
    principal = current_principal()
    entry, replayed = ledger.add_entry(principal=principal, worker_id=worker_id, kind=kind,
                                       request=request_key(principal), **body)
    return entry, 200 if replayed else 201, replay_headers(replayed)


@bp.post("/workers/<int:worker_id>/bonuses")
@auth_required("payments:write")
@bp.arguments(BonusSchema)
@bp.response(201, LedgerEntrySchema)
@bp.alt_response(200, schema=LedgerEntrySchema, description="A replay of an earlier request with the same key")
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422)
def add_bonus(body, worker_id: int):
    """Pay a worker a bonus on top of its earnings."""
    return _entry(worker_id, body, "bonus")


@bp.post("/workers/<int:worker_id>/adjustments")
@auth_required("payments:write")
@bp.arguments(AdjustmentSchema)
@bp.response(201, LedgerEntrySchema)
@bp.alt_response(200, schema=LedgerEntrySchema, description="A replay of an earlier request with the same key")
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422)
def add_adjustment(body, worker_id: int):
    """Correct a worker's balance (signed). Entries are never edited: a correction is a new entry."""
    return _entry(worker_id, body, "adjustment")


def _earnings(balances, page) -> dict:
    return {"balances": balances, "entries": page.items, "next_cursor": page.next_cursor}


@bp.get("/workers/<int:worker_id>/earnings")
@auth_required("payments:read")
@bp.arguments(EarningsArgsSchema, location="query")
@bp.response(200, EarningsSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404, 422)
def worker_earnings(args, worker_id: int):
    """What the organization owes a worker, and the ledger entries behind it (oldest first; `order=newest`)."""
    return _earnings(*ledger.worker_earnings(principal=current_principal(), worker_id=worker_id, **args))


@bp.get("/me/earnings")
@auth_required("payments:read")
@bp.arguments(EarningsArgsSchema, location="query")
@bp.response(200, EarningsSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 422)
def my_earnings(args):
    """My balances per currency (balance, pending, paid out) and my ledger entries (oldest first; `order=newest`)."""
    principal = current_principal()
    if principal.worker_id is None:
        raise Forbidden("Only annotators have earnings of their own.", code="not_a_worker")
    return _earnings(*ledger.earnings(worker_id=principal.worker_id, organization_id=None, **args))


@bp.post("/payouts")
@auth_required("payments:write")
@bp.arguments(PayoutCreateSchema)
@bp.response(201, PayoutSchema)
@bp.alt_response(200, schema=PayoutSchema, description="A replay of an earlier request with the same key")
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 422)
def create_payout(body):
    """Pay out every worker whose unpaid balance in the currency reaches the minimum."""
    principal = current_principal()
    payout, replayed = payouts.create_payout(principal=principal, request=request_key(principal), **body)
    return payout, 200 if replayed else 201, replay_headers(replayed)


@bp.get("/payouts")
@auth_required("payments:read")
@bp.arguments(PayoutListArgsSchema, location="query")
@bp.response(200, page_of(PayoutSchema))
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 422)
def list_payouts(args):
    """The organization's payout batches, oldest first."""
    return payouts.list_payouts(principal=current_principal(), **args)


@bp.get("/payouts/<int:payout_id>")
@auth_required("payments:read")
@bp.response(200, PayoutSchema)
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404)
def get_payout(payout_id: int):
    """One payout batch."""
    return payouts.get_payout(principal=current_principal(), payout_id=payout_id)


def _settle(payout_id: int, status: str, body: dict):
    principal = current_principal()
    payout, replayed = payouts.settle_payout(principal=principal, payout_id=payout_id, status=status,
                                             note=body["note"], request=request_key(principal))
    return payout, 200, replay_headers(replayed)


@bp.post("/payouts/<int:payout_id>/paid")
@auth_required("payments:write")
@bp.arguments(PayoutSettleSchema)
@bp.response(200, PayoutSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def mark_paid(body, payout_id: int):
    """The payment processor paid the batch."""
    return _settle(payout_id, "paid", body)


@bp.post("/payouts/<int:payout_id>/failed")
@auth_required("payments:write")
@bp.arguments(PayoutSettleSchema)
@bp.response(200, PayoutSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 409, 422)
def mark_failed(body, payout_id: int):
    """The batch was not paid: every worker gets its money back in its balance."""
    return _settle(payout_id, "failed", body)


@bp.get("/payouts/<int:payout_id>/file")
@auth_required("payments:read")
@bp.arguments(PayoutFileArgsSchema, location="query")
@bp.response(200, description="CSV or JSON: payout_id, worker_id, external_id, email, amount, amount_decimal, "
                              "currency")
@bp.doc(security=security("payments:read"), responses={200: {
    "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": PayoutFileSchema}},
    "headers": {"Content-Disposition": {"schema": {"type": "string"}, "description": "attachment, with the file's "
                                                                                     "name"}}}})
@errors(bp, 401, 403, 404, 422)
def payout_file(args, payout_id: int):
    """The payout file for the payment processor."""
    content, media_type = payouts.payout_file(principal=current_principal(), payout_id=payout_id, fmt=args["format"])
    return Response(content, mimetype=media_type, headers={
        "Content-Disposition": f'attachment; filename="payout-{payout_id}.{args["format"]}"'})


@bp.post("/projects/<int:project_id>/fair-pay")
@idempotent
@auth_required("payments:write")
@bp.response(202, JobAcceptedSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 503)
def propose_fair_pay(project_id: int):
    """Compute fair-pay top-ups for the project's min_hourly_rate (a job); applied at once if the project says so."""
    project = fair_pay.prepare_run(principal=current_principal(), project_id=project_id)
    record = jobs.start_job("worker.jobs.propose_fair_pay", kind="fair_pay", organization_id=project.organization_id,
                            project_id=project_id, args={"project_id": project_id})
    return make_response(jsonify(JobAcceptedSchema().dump({"job": jobs.job_status(record.id, record)})), 202)


@bp.get("/projects/<int:project_id>/fair-pay")
@auth_required("payments:read")
@bp.arguments(FairPayArgsSchema, location="query")
@bp.response(200, page_of(FairPayTopUpSchema))
@bp.doc(security=security("payments:read"))
@errors(bp, 401, 403, 404, 422)
def list_fair_pay(args, project_id: int):
    """The project's fair-pay top-ups (proposed by default), a page at a time."""
    return fair_pay.list_topups(principal=current_principal(), project_id=project_id, status=args["status"],
                                limit=args["limit"], cursor=args["cursor"])


@bp.post("/projects/<int:project_id>/fair-pay/confirm")
@auth_required("payments:write")
@bp.arguments(FairPayConfirmSchema)
@bp.response(200, FairPayConfirmResultSchema)
@bp.doc(security=security("payments:write"), parameters=[IDEMPOTENCY_PARAM])
@errors(bp, 401, 403, 404, 422)
def confirm_fair_pay(body, project_id: int):
    """Confirm proposed top-ups (all, or the listed ids): each becomes a bonus in the ledger."""
    principal = current_principal()
    result = fair_pay.confirm_topups(principal=principal, project_id=project_id, topup_ids=body["ids"],
                                     request=request_key(principal))
    return result, 200, replay_headers(result["replayed"])

