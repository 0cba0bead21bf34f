"""The one place a process (API, `concord` commands, RQ workers and their jobs) applies its Settings.

create_app, the CLI and worker jobs all call ``configure_process``, so a setting read for the API
(the database, the queue, the networks webhooks may reach) is read the same way by every other process.
"""

from __future__ import annotations

from . import db, jobs
from .config import Settings
from .services import webhook_targets


def configure_process(settings: Settings) -> jobs.InProcessQueue | jobs.RQQueues:
    """Point this process's database, webhook guard and queue at ``settings``. Returns the queue backend."""
    db.configure(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    webhook_targets.configure(allowed_networks=settings.webhook_allowed_networks)
    return jobs.configure(settings.redis_url)
