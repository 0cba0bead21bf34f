"""The distribution benchmark's floor: a Flask app that answers claim and submit without doing anything.

Served by the same gunicorn configuration as `concord serve` and driven by the same load as the real
server (`python bench/assign.py --floor`), it shows what HTTP, Flask and the load generator alone cost
on this machine: no token lookup, no database, no rate limit, no schema. No real server can beat it.
"""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)

_TASK = {"id": 1, "batch_id": 1, "data": {"text": "review number 1 with some words"}}


@app.post("/api/v1/projects/<int:project_id>/assignments")
def claim(project_id: int):
    return {"id": 1, "task": _TASK, "project_id": project_id, "expires_at": "2026-01-01T00:00:00+00:00"}, 201


@app.post("/api/v1/assignments/<int:assignment_id>/submit")
def submit(assignment_id: int):
    return {"id": assignment_id, "status": "submitted", "answer": request.get_json()["answer"]}
