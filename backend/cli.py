"""The ``concord`` command."""

from __future__ import annotations

import logging
import os
import sys

import click

from . import db, jobs
from .config import PROJECT_ROOT, Settings
from .errors import ConcordError


def _settings() -> Settings:
    """Settings from the environment, applied to this process the way create_app applies them."""
    from .runtime import configure_process

    settings = Settings.from_env()
    configure_process(settings)
    return settings


def _fail(exc: ConcordError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(1)


def alembic_config(database_url: str):
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


@click.group()
def main() -> None:
    """Concord: distribute labeling tasks, measure agreement, merge answers, pay annotators."""


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations."""
    from alembic import command

    settings = Settings.from_env()
    command.upgrade(alembic_config(settings.database_url), revision)
    click.echo(f"database at {revision}: {db.make_engine(settings.database_url).url.render_as_string()}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Processes (default: 2 per core, 1 on SQLite).")
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the API (gunicorn when available; the same app either way)."""
    settings = Settings.from_env()
    if workers is None:
        # The in-process queue lives in the server process: keep one on the embedded default.
        workers = 1 if settings.redis_url is None else max(2, 2 * (os.cpu_count() or 1))
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - gunicorn is a dependency; this is for odd platforms
        from . import create_app

        create_app(settings).run(host=host, port=port, threaded=True)
        return

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # threads=1 uses gunicorn's sync worker: no GIL contention, one request per process.
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", os.environ.get("CONCORD_ACCESS_LOG") or None)
            self.cfg.set("timeout", 120)
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            from . import create_app

            return create_app(Settings.from_env())

    click.echo(f"Concord on http://{host}:{port} ({workers} process(es), queue: "
               f"{'RQ on ' + settings.redis_url if settings.redis_url else 'in-process'})")
    _Server().run()


@main.command()
@click.option("--queues", default=",".join(jobs.QUEUES), show_default=True)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(queues: str, burst: bool) -> None:
    """Run an RQ worker (with RQ's scheduler) for the background jobs. Needs REDIS_URL."""
    settings = _settings()
    if not settings.redis_url:
        click.echo("error: REDIS_URL is not set; on the embedded default jobs run inside `concord serve`.",
                   err=True)
        sys.exit(2)
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(settings.redis_url)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    # Jobs abandoned by a worker that was killed, and jobs whose enqueue failed: dealt with at start,
    # then by the periodic worker.jobs.recover_jobs.
    from worker.jobs import recover_jobs

    try:
        recover_jobs()
    except Exception:  # noqa: BLE001 - never keep a worker from starting
        logging.getLogger(__name__).warning("job recovery at start failed", exc_info=True)
    Worker(names, connection=connection).work(burst=burst, with_scheduler=True)


@main.command()
def cron() -> None:
    """Run RQ's cron scheduler for the periodic jobs (lease expiry). Needs REDIS_URL; one is enough."""
    settings = _settings()
    if not settings.redis_url:
        click.echo("error: REDIS_URL is not set; on the embedded default `concord serve` runs them.", err=True)
        sys.exit(2)
    from redis import Redis
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=Redis.from_url(settings.redis_url))
    jobs.register_periodic(scheduler)
    scheduler.start()


@main.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.argument("name")
def org_create(name: str) -> None:
    """Create an organization."""
    from .services import accounts

    _settings()
    try:
        organization = accounts.create_organization(name=name)
    except ConcordError as exc:
        _fail(exc)
    click.echo(f"organization {organization.id}: {organization.name}")


@main.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["admin", "manager", "annotator"]), required=True)
@click.option("--org", "organization", default=None, help="Organization name.")
def user_create(email: str, password: str, role: str, organization: str | None) -> None:
    """Create a user account."""
    from .services import accounts

    _settings()
    try:
        account = accounts.create_user(email=email, password=password, role=role,
                                       organization_name=organization)
    except ConcordError as exc:
        _fail(exc)
    click.echo(f"user {account.id}: {account.email} ({account.role})")


@user.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_set_password(email: str, password: str) -> None:
    """Reset a user's password; every browser session of the user ends."""
    from .services import accounts

    _settings()
    try:
        accounts.set_password(email=email, password=password)
    except ConcordError as exc:
        _fail(exc)
    click.echo(f"password changed for {email}; its sessions ended")


@user.command("deactivate")
@click.argument("email")
@click.option("--reactivate", is_flag=True, help="Let the user log in again.")
def user_deactivate(email: str, reactivate: bool) -> None:
    """Stop a user: its sessions end at once and its tokens stop working."""
    from .services import accounts

    _settings()
    try:
        account = accounts.set_active(email=email, active=reactivate)
    except ConcordError as exc:
        _fail(exc)
    click.echo(f"user {account.email} {'reactivated' if reactivate else 'deactivated'}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--user", "email", default=None, help="Personal token for this user.")
@click.option("--org", "organization", default=None, help="Organization key for this organization.")
@click.option("--scopes", default=None, help="Comma-separated; default: every scope the user's role allows.")
@click.option("--name", default="cli", show_default=True)
def token_create(email: str | None, organization: str | None, scopes: str | None, name: str) -> None:
    """Create a token; the secret is the last word printed."""
    from sqlalchemy import select

    from .models import User
    from .services import accounts

    _settings()
    if (email is None) == (organization is None):
        click.echo("error: give exactly one of --user or --org", err=True)
        sys.exit(2)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()] if scopes else None
    try:
        with db.read_session() as session:
            if email:
                account = session.scalar(select(User).where(User.email == email.strip().lower()))
                if account is None:
                    raise ConcordError(f"No user with email {email}.")
                kwargs = {"user_id": account.id}
            else:
                kwargs = {"organization_id": accounts.get_organization_by_name(session, organization).id}
        created, secret = accounts.create_token(name=name, scopes=scope_list, **kwargs)
    except ConcordError as exc:
        _fail(exc)
    click.echo(f"token {created.id} ({created.kind}) scopes: {','.join(created.scopes)}")
    click.echo(f"secret (shown once): {secret}")


@main.command()
def demo() -> None:
    """Load the demo organization, accounts and projects (safe to run again)."""
    from .services.demo import load_demo

    _settings()
    logins = load_demo()
    jobs.backend().drain()
    click.echo("Demo logins (email / password / role):")
    for email, password, role in logins:
        click.echo(f"  {email:<24} {password:<20} {role}")


if __name__ == "__main__":  # pragma: no cover
    main()

