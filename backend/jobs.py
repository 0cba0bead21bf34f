"""Queue names, enqueue helpers and the two queue backends.

With ``REDIS_URL`` jobs go to RQ queues served by ``concord worker``; without
it they run on an in-process thread pool. Either way a job is a function in
``worker.jobs`` named by its dotted path, every job has a ``JobRecord`` row,
and callers enqueue only after the transaction that made the work committed.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from .errors import ConcordError
from .services import jobs as job_records

log = logging.getLogger(__name__)

QUEUES = ("imports", "consensus", "exports", "default")

# Jobs that run on a timer: (function, queue, every N seconds). On RQ, `concord cron`
# schedules them with RQ's CronScheduler; on the in-process queue a timer thread does.
PERIODIC_JOBS: tuple[tuple[str, str, int], ...] = (
    ("worker.jobs.expire_leases", "default", 15),
    ("worker.jobs.dispatch_events", "default", 10),
    ("worker.jobs.deliver_webhooks", "default", 10),
    ("worker.jobs.delete_expired_exports", "default", 600),
    ("worker.jobs.auto_approve_answers", "default", 60),
    ("worker.jobs.refresh_fair_pay", "default", 3600),
    ("worker.jobs.purge_idempotency_keys", "default", 3600),
)


def new_job_id() -> str:
    """A time-ordered UUID (version 7 layout), so listing jobs by id lists them by age."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class InProcessQueue:
    """Runs jobs on a small thread pool inside the API process (the embedded default)."""

    name = "in-process"
    redis_url = None

    def __init__(self, workers: int = 2):
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="concord-job")
        self._futures: set[Future] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self.progress: dict[str, float] = {}

    def start_periodic(self, jobs: tuple[tuple[str, str, int], ...] = PERIODIC_JOBS, tick: float = 1.0) -> None:
        """Run the periodic jobs on a timer thread (the embedded default's scheduler)."""
        if self._timer is not None:
            return
        due = {func: time.monotonic() + every for func, _queue, every in jobs}

        def loop() -> None:
            while not self._stop.wait(tick):
                for func, _queue, every in jobs:
                    if time.monotonic() >= due[func]:
                        due[func] = time.monotonic() + every
                        self._submit(_resolve(func))

        self._timer = threading.Thread(target=loop, name="concord-periodic", daemon=True)
        self._timer.start()

    def _submit(self, fn: Callable[[], Any]) -> None:
        def run() -> Any:
            try:
                return fn()
            except Exception:
                log.exception("periodic job %s failed", getattr(fn, "__name__", fn))
                raise

        try:
            future = self._executor.submit(run)
        except RuntimeError:
            if self._stop.is_set():  # shut down between the timer's tick and this submit
                return
            raise
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def enqueue(self, func: str, *, job_id: str, queue: str, kwargs: dict, retries: int = 0,
                timeout: int | None = None) -> None:
        def run() -> Any:
            attempts = retries + 1
            for attempt in range(attempts):
                try:
                    return _resolve(func)(job_id=job_id, **kwargs)
                except Exception:
                    if attempt + 1 == attempts:
                        log.exception("job %s (%s) failed", job_id, func)
                        raise
                    time.sleep(min(2**attempt, 30))
            return None

        future = self._executor.submit(run)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._futures.discard(future)

    def report_progress(self, job_id: str, fraction: float) -> None:
        self.progress[job_id] = fraction

    def live_progress(self, job_id: str) -> float | None:
        return self.progress.get(job_id)

    def retries_left(self) -> int:
        return 0

    def drain(self, timeout: float = 60) -> None:
        """Wait for every queued job to end (tests and one-shot commands)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = set(self._futures)
            if not pending:
                return
            wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                raise TimeoutError("jobs still running")

    def ping(self) -> bool:
        return not self._executor._shutdown

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=False)


class RQQueues:
    """RQ queues on Redis; jobs are run by ``concord worker`` processes."""

    name = "rq"

    def __init__(self, redis_url: str):
        from redis import Redis

        self.redis_url = redis_url
        self.redis = Redis.from_url(redis_url)

    def queue(self, name: str):
        from rq import Queue

        return Queue(name, connection=self.redis)

    def enqueue(self, func: str, *, job_id: str, queue: str, kwargs: dict, retries: int = 0,
                timeout: int | None = None) -> None:
        from rq import Retry

        retry = Retry(max=retries, interval=[5, 30, 120][:retries] or None) if retries else None
        self.queue(queue).enqueue(func, job_id=job_id, kwargs={"job_id": job_id, **kwargs}, retry=retry,
                                  job_timeout=timeout or 3600, result_ttl=7 * 24 * 3600,
                                  failure_ttl=7 * 24 * 3600)

    def _current(self):
        from rq import get_current_job

        return get_current_job()

    def report_progress(self, job_id: str, fraction: float) -> None:
        job = self._current()
        if job is not None and job.id == job_id:
            job.meta["progress"] = fraction
            job.save_meta()

    def live_progress(self, job_id: str) -> float | None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            return Job.fetch(job_id, connection=self.redis).meta.get("progress")
        except NoSuchJobError:
            return None

    def retries_left(self) -> int:
        job = self._current()
        return (job.retries_left or 0) if job is not None else 0

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False

    def drain(self, timeout: float = 60) -> None:
        return None

    def start_periodic(self, *_args, **_kwargs) -> None:
        """On RQ the periodic jobs belong to `concord cron`, not to API processes."""
        return None

    def shutdown(self) -> None:
        self.redis.close()


_backend: InProcessQueue | RQQueues | None = None


def configure(redis_url: str | None) -> InProcessQueue | RQQueues:
    """Choose the queue backend for this process."""
    global _backend
    if _backend is not None:
        if getattr(_backend, "redis_url", None) == redis_url:
            return _backend
        _backend.shutdown()
    _backend = RQQueues(redis_url) if redis_url else InProcessQueue()
    return _backend


def register_periodic(scheduler) -> None:
    """Register the periodic jobs on an RQ CronScheduler."""
    for func, queue, every in PERIODIC_JOBS:
        scheduler.register(_resolve(func), queue_name=queue, interval=every, job_timeout=600, result_ttl=600)


def backend() -> InProcessQueue | RQQueues:
    if _backend is None:
        configure(os.environ.get("REDIS_URL") or None)
    return _backend


def enqueue(func: str, *, job_id: str, queue: str = "default", retries: int = 0, timeout: int | None = None,
            **kwargs: Any) -> str:
    """Queue ``worker.jobs`` function ``func``. Call only after the work's transaction committed."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    backend().enqueue(func, job_id=job_id, queue=queue, kwargs=kwargs, retries=retries, timeout=timeout)
    return job_id


def start_job(func: str, *, kind: str, organization_id: int | None, project_id: int | None = None,
              queue: str = "default", retries: int = 0, args: dict[str, Any] | None = None):
    """Record a job and queue it with ``args`` (the record commits first). Returns the JobRecord."""
    return record_and_enqueue(new_job_id(), func, kind=kind, organization_id=organization_id, project_id=project_id,
                              queue=queue, retries=retries, args=args)


def record_and_enqueue(job_id: str, func: str, *, kind: str, organization_id: int | None,
                       project_id: int | None = None, queue: str = "default", retries: int = 0,
                       args: dict[str, Any] | None = None):
    """Like start_job, for a job id chosen beforehand (when another row refers to it)."""
    record = job_records.record_job(job_id=job_id, kind=kind, organization_id=organization_id,
                                    project_id=project_id)
    try:
        enqueue(func, job_id=job_id, queue=queue, retries=retries, **(args or {}))
    except Exception as exc:
        job_records.mark_failed(job_id=job_id, error={"code": "queue_unavailable", "message": str(exc),
                                                      "details": {}})
        raise
    return record


def run_soon(func: str) -> None:
    """Run a periodic job now instead of at its next tick (e.g. dispatch right after a batch completes)."""
    queue = backend()
    if isinstance(queue, InProcessQueue):
        queue._submit(_resolve(func))
    else:
        queue.queue("default").enqueue(func, job_timeout=600, result_ttl=600)


def report_progress(job_id: str, fraction: float) -> None:
    backend().report_progress(job_id, round(max(0.0, min(1.0, fraction)), 4))


def run_tracked(job_id: str, work: Callable[[Callable[[float], None]], dict | None]) -> dict | None:
    """Run a job's work, keeping its JobRecord current. Re-raises so the queue sees the failure."""
    job_records.mark_started(job_id=job_id)
    try:
        result = work(lambda fraction: report_progress(job_id, fraction))
    except ConcordError as exc:
        # A domain error will fail the same way again: record it as final.
        job_records.mark_failed(job_id=job_id, error={"code": exc.code, "message": exc.message,
                                                      "details": exc.details})
        raise
    except Exception as exc:
        final = backend().retries_left() == 0
        job_records.mark_failed(job_id=job_id, final=final, error={
            "code": "job_error", "message": f"{type(exc).__name__}: {exc}",
            "details": {"traceback": traceback.format_exc(limit=5)}})
        raise
    job_records.mark_finished(job_id=job_id, result=result)
    return result


def job_status(job_id: str, record) -> dict:
    """A job record with live progress overlaid, as the API shows it."""
    progress = record.progress
    if record.status in ("queued", "started"):
        live = backend().live_progress(job_id)
        if live is not None:
            progress = live
    return {"id": record.id, "kind": record.kind, "status": record.status, "progress": progress,
            "result": record.result, "error": record.error, "project_id": record.project_id,
            "created_at": record.created_at, "started_at": record.started_at,
            "finished_at": record.finished_at}
