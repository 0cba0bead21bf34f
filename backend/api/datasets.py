"""Datasets: upload items, get batches of tasks."""

from __future__ import annotations

import contextlib
import os
import uuid

from flask import current_app, jsonify, make_response, request
from marshmallow import ValidationError as SchemaError

from .. import jobs
from ..errors import ServiceUnavailable, UnsupportedMediaType, ValidationError
from ..schemas.common import PageArgsSchema, page_of
from ..schemas.projects import (
    FILENAME_MAX,
    DatasetAcceptedSchema,
    DatasetItemsSchema,
    DatasetSchema,
    DatasetUploadSchema,
)
from ..services import datasets
from ..services.readers import detect_format
from .common import IDEMPOTENCY_PARAM, api_blueprint, errors, idempotent, security
from .security import auth_required, current_principal

bp = api_blueprint("datasets", __name__, "Datasets: items in, batches of tasks out.")


def _form_int(name: str) -> int | None:
    raw = request.form.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationError(f"{name}: must be an integer", details={"fields": {name: ["not an integer"]}}) from exc


@bp.post("/projects/<int:project_id>/datasets")
@idempotent
@auth_required("projects:write")
@bp.doc(
    security=security("projects:write"),
    parameters=[IDEMPOTENCY_PARAM],
    requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": DatasetUploadSchema},
        "application/json": {"schema": DatasetItemsSchema},
    }},
)
@bp.response(201, DatasetSchema, description="Imported now (small uploads and JSON bodies).")
@bp.alt_response(202, schema=DatasetAcceptedSchema, description="A background job imports the file.")
@errors(bp, 401, 403, 404, 413, 415, 422, 503)
def upload_dataset(project_id: int):
    """Import items as tasks split into batches; all or nothing, duplicates by external_id skipped."""
    principal = current_principal()
    settings = current_app.config["CONCORD_SETTINGS"]
    if request.is_json:
        try:
            body = DatasetItemsSchema().load(request.get_json())
        except SchemaError as exc:
            raise ValidationError("The dataset body is invalid.", details={"fields": exc.messages_dict}) from exc
        dataset = datasets.import_items(principal=principal, project_id=project_id, items=body["items"],
                                        batch_size=body["batch_size"], filename=body["filename"])
        return dataset
    if not request.mimetype.startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send multipart/form-data with a 'file' field, or application/json.")
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("file: a multipart field named 'file' is required",
                              details={"fields": {"file": ["required"]}})
    if len(upload.filename or "") > FILENAME_MAX or "\x00" in (upload.filename or ""):
        raise ValidationError(f"file: the file name must be at most {FILENAME_MAX} characters, without NUL",
                              details={"fields": {"file": [f"name longer than {FILENAME_MAX} characters"]}})
    batch_size = _form_int("batch_size")
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    path = settings.upload_dir / f"{uuid.uuid4().hex}.upload"
    upload.save(path)
    queued = False
    try:
        with open(path, "rb") as fh:
            fmt = detect_format(upload.filename, request.form.get("format"), fh.read(512))
        if os.path.getsize(path) <= settings.import_inline_max_bytes:
            dataset = datasets.import_file(principal=principal, project_id=project_id, path=path, fmt=fmt,
                                           filename=upload.filename, batch_size=batch_size)
            return dataset
        job_id = jobs.new_job_id()
        dataset, job = datasets.queue_file_import(principal=principal, project_id=project_id, fmt=fmt,
                                             filename=upload.filename, batch_size=batch_size, job_id=job_id,
                                             path=path, runner=getattr(jobs.backend(), "runner", None))
        try:
            jobs.enqueue("worker.jobs.import_dataset", job_id=job_id, queue="imports",
                         dataset_id=dataset.id, path=str(path))
        except Exception as exc:
            datasets.discard_dataset(dataset_id=dataset.id)
            raise ServiceUnavailable("The job queue is unreachable; nothing was imported.") from exc
        queued = True
        jobs.job_records.mark_enqueued(job_id=job_id, runner=getattr(jobs.backend(), "runner", None))
        accepted = DatasetAcceptedSchema().dump({"job": jobs.job_status(job_id, job), "dataset": dataset})
        return make_response(jsonify(accepted), 202)
    finally:
        if not queued:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@bp.get("/projects/<int:project_id>/datasets")
@auth_required("projects:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, page_of(DatasetSchema))
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404, 422)
def list_datasets(args, project_id: int):
    """A project's datasets and their import state."""
    return datasets.list_datasets(principal=current_principal(), project_id=project_id, limit=args["limit"],
                                  cursor=args["cursor"])


@bp.get("/datasets/<int:dataset_id>")
@auth_required("projects:read")
@bp.response(200, DatasetSchema)
@bp.doc(security=security("projects:read"))
@errors(bp, 401, 403, 404)
def get_dataset(dataset_id: int):
    """One dataset with its batches."""
    return datasets.get_dataset_detail(dataset_id=dataset_id, principal=current_principal())
