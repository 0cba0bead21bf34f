"""Settings read from the environment, with embedded defaults.

With no configuration Concord runs on a SQLite file under ``var/`` and an
in-process job queue. ``DATABASE_URL`` and ``REDIS_URL`` switch it to
PostgreSQL, Redis and RQ workers.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(env: dict[str, str], var_dir: Path, production: bool) -> str:
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    if production:
        raise ConfigError("SECRET_KEY is required when CONCORD_ENV=production")
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written with 0600 so other local users cannot forge sessions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    # Uploads larger than this are imported by a background job (202), smaller ones inline (201).
    import_inline_max_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 2 * 1024 * 1024 * 1024
    max_json_bytes: int = 32 * 1024 * 1024
    default_page_size: int = 50
    max_page_size: int = 500
    login_rate_limit: str = "10 per minute"
    # Per key (or per address without one): stops abuse, lets a busy integration run at full speed.
    api_rate_limit: str = "100 per second;6000 per minute"
    token_rate_limit: str = "10 per minute"
    # How many reverse proxies in front of Concord to trust for X-Forwarded-For/-Proto/-Host
    # (Werkzeug's ProxyFix). 0: none, the socket's address is the client's.
    proxy_count: int = 0
    # New vendor workers (X-Concord-Worker, POST /workers) one organization key may create in an hour.
    max_new_workers_per_key_per_hour: int = 1000
    # Private networks webhooks may still target (comma-separated CIDRs); none by default.
    webhook_allowed_networks: str = ""
    sqlite_busy_timeout_ms: int = 30_000
    # Run periodic jobs (lease expiry) on the in-process queue's timer.
    periodic_jobs: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def upload_dir(self) -> Path:
        return Path(self.extra.get("upload_dir") or self.var_dir / "uploads")

    @property
    def export_dir(self) -> Path:
        return Path(self.extra.get("export_dir") or self.var_dir / "exports")

    @property
    def export_image_dir(self) -> Path | None:
        """Where exports may read images named by a local path, to learn their size (None: nowhere)."""
        value = self.extra.get("export_image_dir")
        return Path(value) if value else None

    @property
    def export_ttl_hours(self) -> int:
        return int(self.extra.get("export_ttl_hours") or 168)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        concord_env = env.get("CONCORD_ENV", "development")
        production = concord_env == "production"
        var_dir = Path(env.get("CONCORD_VAR_DIR") or PROJECT_ROOT / "var")
        database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'concord.db'}"
        if database_url.startswith("sqlite"):
            var_dir.mkdir(parents=True, exist_ok=True)
        extra = {}
        if env.get("CONCORD_UPLOAD_DIR"):
            extra["upload_dir"] = env["CONCORD_UPLOAD_DIR"]
        if env.get("CONCORD_EXPORT_DIR"):
            extra["export_dir"] = env["CONCORD_EXPORT_DIR"]
        if env.get("CONCORD_EXPORT_IMAGE_DIR"):
            extra["export_image_dir"] = env["CONCORD_EXPORT_IMAGE_DIR"]
        extra["export_ttl_hours"] = _int(env, "CONCORD_EXPORT_TTL_HOURS", 168)
        return cls(
            env=concord_env,
            var_dir=var_dir,
            database_url=normalise_database_url(database_url),
            redis_url=env.get("REDIS_URL") or None,
            secret_key=_secret_key(env, var_dir, production),
            import_inline_max_bytes=_int(env, "CONCORD_IMPORT_INLINE_MAX_BYTES", 2 * 1024 * 1024),
            max_upload_bytes=_int(env, "CONCORD_MAX_UPLOAD_BYTES", 2 * 1024 * 1024 * 1024),
            max_json_bytes=_int(env, "CONCORD_MAX_JSON_BYTES", 32 * 1024 * 1024),
            login_rate_limit=env.get("CONCORD_LOGIN_RATE_LIMIT", "10 per minute"),
            api_rate_limit=env.get("CONCORD_API_RATE_LIMIT", "100 per second;6000 per minute"),
            token_rate_limit=env.get("CONCORD_TOKEN_RATE_LIMIT", "10 per minute"),
            proxy_count=_int(env, "CONCORD_PROXY_COUNT", 0),
            max_new_workers_per_key_per_hour=_int(env, "CONCORD_MAX_NEW_WORKERS_PER_KEY_PER_HOUR", 1000),
            webhook_allowed_networks=env.get("CONCORD_WEBHOOK_ALLOWED_NETWORKS", ""),
            periodic_jobs=env.get("CONCORD_PERIODIC_JOBS", "1") not in ("0", "false", "no"),
            extra=extra,
        )
