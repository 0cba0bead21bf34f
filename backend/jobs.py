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
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import ConcordError, ServiceUnavailable
from .models import utcnow
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
    ("worker.jobs.purge_ended_sessions", "default", 3600),
    ("worker.jobs.recover_jobs", "default", 60),
    ("worker.jobs.settle_suspensions", "default", 60),
)

# A job recorded this long ago whose enqueue never succeeded is queued again by the reaper
# (shorter would race the request that is still enqueueing it; running twice is safe anyway).
OUTBOX_GRACE = timedelta(seconds=60)

ABANDONED = "The worker running this job stopped before it ended (killed or crashed); start it again."
RESTARTED = "The server restarted while this job ran; start it again."
FAILED = "The job failed; see the server log for the cause."


class QueueUnavailable(ServiceUnavailable):
    """The job queue (Redis) cannot be reached; the job stays recorded and is queued once it is back."""

    code = "queue_unavailable"
    retry_after = 30


def _export_dir() -> Path:
    from .config import Settings

    return Settings.from_env().export_dir


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
        # The process start time tells this process from a later one given the same pid (a
        # restarted container starts its server as pid 1 again).
        self.runner = f"inproc:{socket.gethostname()}:{os.getpid()}.{_started(os.getpid())}"
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
                        after_final_failure(job_id, reason=FAILED, upload_path=kwargs.get("path"))
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

    def recover(self, at: float | None = None) -> int:
        """Retry or fail the jobs that in-process runners on this host left behind when they ended.

        A job left queued is queued here again; one left started (the process died mid-way) is failed
        with a reason and its files removed. Jobs of runners still alive are left to them.
        """
        prefix = self.runner.rpartition(":")[0] + ":"
        count = 0
        for record in job_records.unfinished_on(runner_prefix=prefix):
            pid, dot, started = record.runner.rpartition(":")[2].partition(".")
            if record.runner == self.runner or (pid.isdigit() and _alive(int(pid))
                                                and (not dot or started == _started(int(pid)))):
                continue
            if record.status == "queued" and record.func:
                log.warning("job %s was left queued by %s; queueing it again", record.id, record.runner)
                job_records.mark_enqueued(job_id=record.id, runner=self.runner)
                self.enqueue(record.func, job_id=record.id, queue=record.queue or "default",
                             kwargs=dict(record.args or {}), retries=record.retries)
            else:
                log.warning("job %s was left %s by %s; failing it", record.id, record.status, record.runner)
                job_records.fail_abandoned(job_id=record.id, reason=RESTARTED, export_dir=_export_dir())
            count += 1
        return count

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=False)


def _started(pid: int) -> str:
    """When a process started, in clock ticks since boot (Linux); "" where /proc does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RQQueues:
    """RQ queues on Redis; jobs are run by ``concord worker`` processes."""

    name = "rq"

    def __init__(self, redis_url: str):
        from redis import Redis

        self.redis_url = redis_url
        # A Redis host that is down (not refusing) must not hold a request: it answers 503 instead.
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=5)

    def queue(self, name: str):
        from rq import Queue

        return Queue(name, connection=self.redis)

    def enqueue(self, func: str, *, job_id: str, queue: str, kwargs: dict, retries: int = 0,
                timeout: int | None = None) -> None:
        from rq import Callback, Retry

        retry = Retry(max=retries, interval=[5, 30, 120][:retries] or None) if retries else None
        # The callbacks also run when RQ finds the job abandoned (its worker and work horse died):
        # StartedJobRegistry.cleanup() calls on_failure with AbandonedJobError.
        self.queue(queue).enqueue(func, job_id=job_id, kwargs={"job_id": job_id, **kwargs}, retry=retry,
                                  job_timeout=timeout or 3600, result_ttl=7 * 24 * 3600,
                                  failure_ttl=7 * 24 * 3600,
                                  on_failure=Callback("worker.jobs.on_job_failure"),
                                  on_stopped=Callback("worker.jobs.on_job_stopped"))

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
        except Exception:  # noqa: BLE001 - Redis down: the database's record is the answer
            log.warning("live progress of job %s unavailable", job_id, exc_info=True)
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

    def recover(self, at: float | None = None) -> int:
        """Hand abandoned jobs to RQ's own cleanup, then queue the jobs whose enqueue failed.

        A started job is abandoned once its worker missed its heartbeat deadline (RQ: the job
        monitoring interval plus 60 seconds); ``at`` (a Unix time) judges as if it were then.

        StartedJobRegistry.cleanup() finds jobs whose worker stopped heartbeating and runs their
        on_failure callback (worker.jobs.on_job_failure), which fails the job record, the dataset or
        export, and removes the files; RQ retries the job if it has retries left.
        """
        from rq.registry import StartedJobRegistry

        for name in QUEUES:
            StartedJobRegistry(queue=self.queue(name)).cleanup(timestamp=at)
        return flush_outbox(None if at is None else datetime.fromtimestamp(at, UTC))

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


def require_queue() -> None:
    """Raise QueueUnavailable (503 with Retry-After) when the job queue cannot be reached."""
    if not backend().ping():
        raise QueueUnavailable("The job queue is unreachable; try again shortly.")


def recover(at: float | None = None) -> int:
    """Deal with abandoned jobs and the outbox (periodic, and when a worker or the server starts)."""
    return backend().recover(at)


def flush_outbox(now: datetime | None = None) -> int:
    """Queue the recorded jobs whose enqueue failed (the queue was down). Returns how many."""
    queued = 0
    for record in job_records.not_enqueued(created_before=(now or utcnow()) - OUTBOX_GRACE):
        try:
            enqueue(record.func, job_id=record.id, queue=record.queue or "default", retries=record.retries,
                    **(record.args or {}))
        except Exception:  # noqa: BLE001 - still down: try again next time
            log.warning("job %s still cannot be queued", record.id, exc_info=True)
            break
        job_records.mark_enqueued(job_id=record.id, runner=getattr(backend(), "runner", None))
        queued += 1
    return queued


def after_final_failure(job_id: str, *, reason: str, upload_path: str | None = None,
                        code: str = "job_failed") -> None:
    """A job failed for good: fail what it was making (dataset, export) if still unfinished; clean files."""
    try:
        job_records.fail_abandoned(job_id=job_id, reason=reason, export_dir=_export_dir(),
                                   upload_path=upload_path, code=code)
    except Exception:  # noqa: BLE001 - the failure itself is already logged and raised
        log.exception("could not clean up after job %s", job_id)


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
                                    project_id=project_id, func=func, queue=queue, args=args or {},
                                    retries=retries, runner=getattr(backend(), "runner", None))
    try:
        enqueue(func, job_id=job_id, queue=queue, retries=retries, **(args or {}))
    except Exception as exc:
        # The record stays queued: it is the outbox entry, queued by flush_outbox once the queue is back.
        log.warning("job %s (%s) could not be queued; it stays in the outbox", job_id, func, exc_info=True)
        raise QueueUnavailable("The job queue is unreachable; the job is recorded and starts once it is back.",
                               details={"job_id": job_id}) from exc
    job_records.mark_enqueued(job_id=job_id, runner=getattr(backend(), "runner", None))
    return record


def run_soon(func: str) -> None:
    """Run a periodic job now instead of at its next tick (e.g. dispatch right after a batch completes)."""
    queue = backend()
    if isinstance(queue, InProcessQueue):
        queue._submit(_resolve(func))
    else:
        try:
            queue.queue("default").enqueue(func, job_timeout=600, result_ttl=600)
        except Exception as exc:
            raise QueueUnavailable("The job queue is unreachable; the work is recorded and runs once it is back.") \
                from exc


def dispatch_soon(why: str) -> None:
    """Dispatch committed events now rather than at the next tick (consensus of a completed batch, of
    tasks whose answers stopped counting). With the queue down the periodic dispatcher does it later."""
    try:
        run_soon("worker.jobs.dispatch_events")
    except QueueUnavailable:
        log.warning("queue unreachable; %s is dispatched later", why, exc_info=True)


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
        # The traceback goes to the log only; managers see a short reason.
        log.exception("job %s failed", job_id)
        job_records.mark_failed(job_id=job_id, final=final, error={
            "code": "job_error", "message": FAILED, "details": {"exception": type(exc).__name__}})
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
            "result": record.result, "error": job_records.public_error(record.error), "project_id": record.project_id,
            "created_at": record.created_at, "started_at": record.started_at,
            "finished_at": record.finished_at}
