import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from backend import db
from backend.cli import alembic_config
from backend.models import Base


def test_alembic_has_a_single_head(settings):
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    assert len(script.get_heads()) == 1


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrated_schema_matches_the_models(app):
    with db.get_engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_the_claim_order_index_exists(app):
    # Autogenerate cannot compare expression indexes, so check this one by name.
    from sqlalchemy import text

    engine = db.get_engine()
    sql = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'"
           if engine.dialect.name == "sqlite" else "SELECT indexname FROM pg_indexes WHERE tablename = 'tasks'")
    with engine.connect() as conn:
        names = set(conn.execute(text(sql)).scalars())
    assert "ix_tasks_claim_order" in names


def test_database_is_at_the_head_revision(app, settings):
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    with db.get_engine().connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == script.get_current_head()
