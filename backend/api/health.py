"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import jobs
from ..services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database and the job queue are reachable (503 when either is not)."""
    checks = {"database": health.database_ready(), "queue": jobs.backend().ping()}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks, "queue": jobs.backend().name}
    return jsonify(body), 200 if ready else 503
