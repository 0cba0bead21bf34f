import pytest

from backend.config import ConfigError, Settings


def test_embedded_default_is_sqlite_under_var_with_a_kept_secret(tmp_path):
    first = Settings.from_env({"CONCORD_VAR_DIR": str(tmp_path)})
    assert first.database_url == f"sqlite:///{tmp_path / 'concord.db'}"
    assert first.redis_url is None
    assert len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    again = Settings.from_env({"CONCORD_VAR_DIR": str(tmp_path)})
    assert again.secret_key == first.secret_key


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"CONCORD_VAR_DIR": str(tmp_path), "CONCORD_ENV": "production"})


def test_postgres_urls_use_psycopg3(tmp_path):
    settings = Settings.from_env({"CONCORD_VAR_DIR": str(tmp_path), "SECRET_KEY": "x",
                                  "DATABASE_URL": "postgres://u@db:5432/concord", "REDIS_URL": "redis://r:6379/0"})
    assert settings.database_url == "postgresql+psycopg://u@db:5432/concord"
    assert settings.redis_url == "redis://r:6379/0"


def test_bad_integer_setting_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="CONCORD_IMPORT_INLINE_MAX_BYTES"):
        Settings.from_env({"CONCORD_VAR_DIR": str(tmp_path), "CONCORD_IMPORT_INLINE_MAX_BYTES": "lots"})
