"""What a model-based consensus run keeps for the next one: its fit and the results it left.

One ``consensus_models`` row per project and method: the fitted parameters (per-worker confusion
or accuracy and class priors, numpy bytes keyed by worker id and label), from which a run on a
large project starts (a warm start), and, for single_choice, the project's stored results right
after that run, packed, so that the next run compares its fit with them without reading every
result. The packed results are valid only while the run that wrote them is the project's last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..models import ConsensusModel
from ..quality.consensus import ModelParams
from .consensus_data import StoredChoices


@dataclass(frozen=True)
class StoredModel:
    """A method's last fit: its labels, one ModelParams per part, the run that made it, and (single_choice)
    the project's stored results right after that run."""

    labels: list[str]
    params: list[ModelParams]
    run_id: int
    results: StoredChoices | None


_PACKED_RESULTS = np.dtype([("task", "<i8"), ("batch", "<i4"), ("code", "<i2"), ("confidence", "<f8"),
                            ("used", "<i4"), ("flagged", "?"), ("same", "?")])


def pack_results(stored: StoredChoices) -> bytes:
    packed = np.empty(stored.task.size, dtype=_PACKED_RESULTS)
    for name, values in (("task", stored.task), ("batch", stored.batch), ("code", stored.code),
                         ("confidence", stored.confidence), ("used", stored.used), ("flagged", stored.flagged),
                         ("same", stored.same_method)):
        packed[name] = values
    return packed.tobytes()


def unpack_results(blob: bytes) -> StoredChoices:
    packed = np.frombuffer(blob, dtype=_PACKED_RESULTS)
    return StoredChoices(*(packed[name].astype(kind) for name, kind in (
        ("task", np.int64), ("batch", np.int64), ("code", np.int64), ("confidence", np.float64), ("used", np.int64),
        ("flagged", bool), ("same", bool))))


def load_model(session: Session, project_id: int, method: str, *, per_label: bool) -> StoredModel | None:
    """The stored fit of a method (one part, or with ``per_label`` one two-class part per label)."""
    row = session.get(ConsensusModel, (project_id, method))
    if row is None:
        return None
    worker_ids = np.frombuffer(row.worker_ids, dtype="<i8")
    priors = np.frombuffer(row.priors, dtype="<f8")
    parts = len(row.labels) if per_label else 1
    if not parts:
        return None
    k = priors.size // parts
    workers = np.frombuffer(row.workers, dtype="<f8").reshape(parts, worker_ids.size, -1)
    shape = (worker_ids.size, k, k) if workers.shape[2] == k * k else (worker_ids.size,)
    params = [ModelParams(worker_ids, workers[i].reshape(shape), priors.reshape(parts, k)[i]) for i in range(parts)]
    results = unpack_results(row.results) if row.results is not None else None
    return StoredModel(list(row.labels), params, row.run_id, results)


def save_model(session: Session, *, project_id: int, method: str, run_id: int, labels: Sequence[str],
               params: Sequence[ModelParams], answers: int, now, results: bytes | None = None) -> None:
    """Keep a fit's parameters for the next run's warm start; all parts must share their workers."""
    worker_ids = np.asarray(params[0].worker_ids, dtype="<i8")
    values = {"run_id": run_id, "labels": list(labels), "worker_ids": worker_ids.tobytes(),
              "workers": np.stack([np.asarray(p.workers, dtype="<f8").reshape(worker_ids.size, -1)
                                   for p in params]).tobytes(),
              "priors": np.stack([np.asarray(p.prior, dtype="<f8") for p in params]).tobytes(),
              "answers": answers, "results": results, "updated_at": now}
    row = session.get(ConsensusModel, (project_id, method))
    if row is None:
        session.execute(insert(ConsensusModel), [{"project_id": project_id, "method": method, **values}])
    else:
        for key, value in values.items():
            setattr(row, key, value)
