"""Concord: a crowdsourcing task-distribution backend.

``create_app(settings=None)`` wires the extensions; nothing connects at import.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import jobs
from .config import Settings
from .extensions import MEMORY_LIMITS_URI

__version__ = "0.1.0"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        CONCORD_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        REMEMBER_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        API_TITLE="Concord",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_STORAGE_URI=settings.redis_url or MEMORY_LIMITS_URI,
        # An unreachable limit store (Redis down) is logged and replaced by an in-process one, so the
        # login limits keep holding (per process) instead of letting everything through.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_KEY_PREFIX="concord-limit",
        RATELIMIT_HEADERS_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from .runtime import configure_process

    queue = configure_process(settings)
    if isinstance(queue, jobs.InProcessQueue):
        _recover_jobs(queue)
    if settings.periodic_jobs:
        queue.start_periodic()

    from .api import register_api
    from .api.security import login_manager
    from .extensions import limiter

    login_manager.init_app(app)
    limiter.init_app(app)
    register_api(app)
    app.wsgi_app = trust_proxies(app.wsgi_app, settings.proxy_count)
    return app


def trust_proxies(wsgi_app, count: int):
    """Trust exactly ``count`` reverse proxies (CONCORD_PROXY_COUNT): the client's address is the one
    the nearest of them saw, and a client cannot pick its own by sending X-Forwarded-For."""
    if count <= 0:
        return wsgi_app
    return ProxyFix(wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def _recover_jobs(queue) -> None:
    """On the in-process queue, retry or fail the jobs an earlier server process left behind."""
    try:
        recovered = queue.recover()
    except Exception:  # noqa: BLE001 - e.g. a database not migrated yet: the periodic reaper tries again
        logging.getLogger(__name__).warning("could not recover jobs left by an earlier process", exc_info=True)
        return
    if recovered:
        logging.getLogger(__name__).warning("recovered %d job(s) left by an earlier process", recovered)
