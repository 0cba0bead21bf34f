from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from backend import db
from backend.cli import alembic_config
from backend.models import Base


def test_alembic_has_a_single_head(settings):
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    assert len(script.get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    with db.get_engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_is_at_the_head_revision(app, settings):
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    with db.get_engine().connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == script.get_current_head()
