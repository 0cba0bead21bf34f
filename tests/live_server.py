"""The test app served over real HTTP, for the client's and the browser's tests.

On the embedded default the app's in-process queue runs the jobs; on PostgreSQL and
Redis a thread runs an RQ worker (no signals, timer-based job timeouts) that keeps
working the queues in bursts, as ``concord worker`` would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from backend import jobs
from tests.conftest import TEST_REDIS_URL

log = logging.getLogger(__name__)


def _rq_worker_thread() -> tuple[threading.Thread, threading.Event]:
    from rq import SimpleWorker
    from rq.timeouts import TimerDeathPenalty

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty

        def _install_signal_handlers(self) -> None:  # signals belong to the main thread
            return None

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                ThreadWorker(list(jobs.QUEUES), connection=jobs.backend().redis).work(burst=True,
                                                                                     logging_level="WARNING")
            except Exception:  # a test's cleanup flushing Redis mid-burst: try again
                log.exception("RQ worker burst failed")
            stop.wait(0.05)

    thread = threading.Thread(target=loop, name="rq-test-worker", daemon=True)
    thread.start()
    return thread, stop


@contextmanager
def serving(app, name: str = "live-server") -> Iterator[str]:
    """The base URL of ``app`` served by werkzeug in a thread (with an RQ worker thread on Redis)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    worker = _rq_worker_thread() if TEST_REDIS_URL else None
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        if worker is not None:
            worker[1].set()
            worker[0].join(timeout=30)


def keep_exports_in_test_dir(settings, monkeypatch) -> None:
    """Export jobs read their directory from the environment (as a worker process would): keep them
    in the test's var dir rather than the project's."""
    monkeypatch.setenv("CONCORD_EXPORT_DIR", str(settings.export_dir))
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
