"""The import engine: stream checked items into tasks and batches, all or nothing.

PostgreSQL takes the fast path: rows are COPYed straight into ``tasks`` while
they are parsed, so the database works in parallel with the parser, and
batches are created ahead in small groups. A duplicate ``external_id`` (already
in the project, or repeated in the file) makes that COPY fail; the import then
rolls back to a savepoint and takes the staged path, which every SQLite import
takes too: rows go to a temporary table, duplicates are removed with set-based
SQL, and tasks are inserted from what remains. Either way memory does not grow
with the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import orjson
from psycopg import errors as pg_errors
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..errors import ValidationError
from ..models import Batch, Dataset, Project, utcnow
from ..models.base import utc_param
from ..questions import form_of
from .json_limits import TooDeep, check_depth
from .readers import RowError

Progress = Callable[[float], None]
Rows = Iterable[tuple[int, Any, int]]
RowSource = Callable[[], AbstractContextManager[Rows]]
RESERVED = ("external_id", "gold")
_WRAPPED_KEYS = frozenset({"data", *RESERVED})
SQLITE_CHUNK = 5_000
# The fast path pauses its COPY to create batches about this often (in rows).
ROWS_PER_BATCH_RESERVATION = 50_000
ANALYZE_AFTER_ROWS = 10_000


class ItemChecker:
    """Turns raw items into (external_id, data_json, gold_json) rows, or raises RowError."""

    def __init__(self, project: Project):
        self.form = form_of(project)
        # A CSV gold cell may be a bare label where the one question is a single choice.
        self.csv_bare_gold = self.form.legacy and self.form.questions[0].kind.name == "single_choice"

    def __call__(self, number: int, item: Any, from_csv: bool) -> tuple[str | None, str, str | None]:
        if not isinstance(item, dict):
            raise RowError(number, "an item must be an object")
        data = item.get("data")
        if isinstance(data, dict):
            if not item.keys() <= _WRAPPED_KEYS:
                extra = sorted(set(item) - _WRAPPED_KEYS)
                raise RowError(number, f"unknown field {extra[0]!r} next to 'data'", extra[0])
        else:
            data = {k: v for k, v in item.items() if k not in RESERVED}
        external_id = item.get("external_id")
        if external_id in ("", None):
            external_id = None
        elif isinstance(external_id, int | str) and not isinstance(external_id, bool):
            external_id = str(external_id)
            if len(external_id) > 255:
                raise RowError(number, "external_id is longer than 255 characters", "external_id")
        else:
            raise RowError(number, "external_id must be a string or an integer", "external_id")
        try:
            self.form.check_data(data)
        except ValidationError as exc:
            raise RowError(number, exc.message, next(iter(exc.details.get("fields", {})), None)) from exc
        gold = item.get("gold")
        if from_csv:
            gold = self._csv_gold(number, gold)
        if gold is not None:
            try:
                gold = self.form.check_gold(gold, data)
            except ValidationError as exc:
                raise RowError(number, exc.message, "gold") from exc
        data_json = _dumps(number, data, None)
        # PostgreSQL text and jsonb cannot hold NUL; say which row has one instead of failing later.
        gold_json = _dumps(number, gold, "gold") if gold is not None else None
        if "\\u0000" in data_json or (external_id and "\x00" in external_id) or \
                (gold_json and "\\u0000" in gold_json):
            raise RowError(number, "contains a NUL character (\\u0000), which cannot be stored")
        return (external_id, data_json, gold_json)

    def _csv_gold(self, number: int, raw: str | None) -> Any:
        if raw is None or raw == "":
            return None
        try:
            check_depth(raw.encode())
            return orjson.loads(raw)
        except TooDeep as exc:
            raise RowError(number, f"gold {exc}", "gold") from None
        except orjson.JSONDecodeError:
            if self.csv_bare_gold:
                return {"choice": raw}
            raise RowError(number, "gold must be a JSON answer", "gold") from None


def _dumps(number: int, value: Any, field: str | None) -> str:
    """A row's value as JSON text; a row whose integers do not fit in 64 bits is refused, not stored:
    nothing could read it back into a response or an export."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        raise RowError(number, f"holds a value that cannot be stored as JSON ({exc})", field) from None


class _ProgressMeter:
    def __init__(self, total_bytes: int | None, progress: Progress):
        self.total, self.progress, self.last = total_bytes, progress, 0

    def tick(self, rows: int, consumed: int) -> None:
        if self.total and rows - self.last >= 10_000:
            self.last = rows
            self.progress(min(0.9, 0.9 * consumed / self.total))


# --- fast path: COPY straight into tasks (PostgreSQL) ------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str | None) -> str:
    """A value in COPY's text format (\\N is NULL)."""
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


def _copy_json(value: str | None) -> str:
    # Serialised JSON holds no raw tabs or newlines; only backslashes need doubling.
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\") if "\\" in value else value


class _DuplicateExternalId(Exception):
    pass


def _copy_direct(session: Session, project: Project, dataset: Dataset, checker: ItemChecker, rows: Rows,
                 from_csv: bool, meter: _ProgressMeter) -> None:
    raw = session.connection().connection.driver_connection
    size = dataset.batch_size
    reserve_step = max(1, math.ceil(ROWS_PER_BATCH_RESERVATION / size))
    first = project.batch_seq + 1
    ordinal0 = project.task_seq
    now = utcnow()
    batch_ids: list[int] = []
    count = 0
    copy_sql = ("COPY tasks (project_id, batch_id, ordinal, external_id, data, gold, required_overlap,"
                " answer_count, status, created_at) FROM STDIN")

    def reserve(cursor) -> None:
        start = first + len(batch_ids)
        cursor.execute(
            "INSERT INTO batches (project_id, dataset_id, number, priority, status, task_count, completed_count,"
            " created_at) SELECT %s, %s, g, 0, 'active', %s, 0, %s FROM generate_series(%s::int, %s::int) g"
            " RETURNING id, number",
            (project.id, dataset.id, size, now, start, start + reserve_step - 1))
        batch_ids.extend(row[0] for row in sorted(cursor.fetchall(), key=lambda r: r[1]))

    base, frac = divmod(project.overlap_centi, 100)
    pid = project.id
    stamp = f"\t{now.isoformat()}\n"
    with raw.cursor() as cursor:
        rows_iter = iter(rows)
        exhausted = False
        try:
            while not exhausted:
                reserve(cursor)
                limit = len(batch_ids) * size
                with cursor.copy(copy_sql) as copy:
                    # Text-format lines built here cost a fraction of write_row() per row.
                    lines: list[str] = []
                    for number, item, consumed in rows_iter:
                        external_id, data, gold = checker(number, item, from_csv)
                        ordinal = ordinal0 + count
                        required = base + ((ordinal + 1) * frac) // 100 - (ordinal * frac) // 100
                        lines.append(
                            f"{pid}\t{batch_ids[count // size]}\t{ordinal}\t{_copy_field(external_id)}\t"
                            f"{_copy_json(data)}\t{_copy_json(gold)}\t{required}\t0\t"
                            f"{'open' if gold is None else 'gold'}{stamp}")
                        count += 1
                        if len(lines) == 2000:
                            copy.write("".join(lines))
                            lines.clear()
                            meter.tick(count, consumed)
                        if count == limit:
                            break
                    else:
                        exhausted = True
                    if lines:
                        copy.write("".join(lines))
        except pg_errors.UniqueViolation as exc:
            raise _DuplicateExternalId() from exc
        if count == 0:
            raise ValidationError("The dataset has no items.", code="empty_dataset")
        used = math.ceil(count / size)
        cursor.execute("DELETE FROM batches WHERE id = ANY(%s)", (batch_ids[used:],))
        cursor.execute("UPDATE batches SET task_count = %s WHERE id = %s",
                       (count - (used - 1) * size, batch_ids[used - 1]))
    project.batch_seq += used
    project.task_seq += count
    dataset.items_total = dataset.tasks_created = count
    dataset.duplicates_skipped = 0


# --- staged path: a temporary table, then set-based SQL -----------------------------


class _Stager:
    """Writes checked rows into a temporary table inside the import's transaction."""

    def __init__(self, session: Session):
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.rows = 0
        self.with_external_ids = False

    def __enter__(self) -> _Stager:
        if self.dialect == "postgresql":
            self.session.execute(text("DROP TABLE IF EXISTS import_staging"))
            self.session.execute(text(
                "CREATE TEMP TABLE import_staging (seq bigint, external_id text, data jsonb, gold jsonb) "
                "ON COMMIT DROP"))
            raw = self.session.connection().connection.driver_connection
            self._cursor = raw.cursor()
            self._copy_cm = self._cursor.copy("COPY import_staging (seq, external_id, data, gold) FROM STDIN")
            self._copy = self._copy_cm.__enter__()
        else:
            self.session.execute(text("DROP TABLE IF EXISTS temp.import_staging"))
            self.session.execute(text(
                "CREATE TEMP TABLE import_staging (seq INTEGER, external_id TEXT, data TEXT, gold TEXT)"))
            self._pending: list[tuple] = []
        return self

    def add(self, external_id: str | None, data: str, gold: str | None) -> None:
        self.rows += 1
        if external_id is not None:
            self.with_external_ids = True
        if self.dialect == "postgresql":
            self._copy.write_row((self.rows, external_id, data, gold))
        else:
            self._pending.append((self.rows, external_id, data, gold))
            if len(self._pending) >= SQLITE_CHUNK:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.session.connection().exec_driver_sql(
                "INSERT INTO import_staging (seq, external_id, data, gold) VALUES (?, ?, ?, ?)", self._pending)
            self._pending = []

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.dialect == "postgresql":
            self._copy_cm.__exit__(exc_type, exc, tb)
            self._cursor.close()
        elif exc_type is None:
            self._flush()


def _drop_duplicates(session: Session, project_id: int) -> int:
    """Remove staged rows whose external_id exists in the project or earlier in the file."""
    before = session.execute(text("SELECT count(*) FROM import_staging")).scalar_one()
    session.execute(text("CREATE INDEX ix_import_staging_external_id ON import_staging (external_id, seq)"))
    session.execute(text(
        "DELETE FROM import_staging WHERE external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM tasks t WHERE t.project_id = :p AND t.external_id = import_staging.external_id)"),
        {"p": project_id})
    session.execute(text(
        "DELETE FROM import_staging WHERE external_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM import_staging s2 WHERE s2.external_id = import_staging.external_id"
        " AND s2.seq < import_staging.seq)"))
    after = session.execute(text("SELECT count(*) FROM import_staging")).scalar_one()
    return before - after


_INSERT_TASKS = text(
    "INSERT INTO tasks (project_id, batch_id, ordinal, external_id, data, gold, required_overlap,"
    " answer_count, status, created_at)"
    " SELECT :p, b.id, r.ordinal, r.external_id, r.data, r.gold,"
    "  :base + ((r.ordinal + 1) * :frac) / 100 - (r.ordinal * :frac) / 100, 0,"
    "  CASE WHEN r.gold IS NULL THEN 'open' ELSE 'gold' END, :now"
    " FROM (SELECT external_id, data, gold, :o0 + row_number() OVER (ORDER BY seq) - 1 AS ordinal,"
    "        row_number() OVER (ORDER BY seq) - 1 AS idx FROM import_staging) r"
    " JOIN batches b ON b.project_id = :p AND b.number = :first + r.idx / :bs"
    # Ids follow file order, so listing tasks by id lists them in order.
    " ORDER BY r.ordinal"
).bindparams(utc_param("now"))


def _import_staged(session: Session, project: Project, dataset: Dataset, checker: ItemChecker, rows: Rows,
                   from_csv: bool, meter: _ProgressMeter) -> None:
    with _Stager(session) as stager:
        for number, item, consumed in rows:
            stager.add(*checker(number, item, from_csv))
            meter.tick(stager.rows, consumed)
    if stager.rows == 0:
        raise ValidationError("The dataset has no items.", code="empty_dataset")
    dataset.items_total = stager.rows
    dataset.duplicates_skipped = _drop_duplicates(session, project.id) if stager.with_external_ids else 0
    count = stager.rows - dataset.duplicates_skipped
    size = dataset.batch_size
    n_batches = math.ceil(count / size)
    first, ordinal0 = project.batch_seq + 1, project.task_seq
    project.batch_seq += n_batches
    project.task_seq += count
    now = utcnow()
    session.add_all(
        Batch(project_id=project.id, dataset_id=dataset.id, number=first + i, priority=0, status="active",
              task_count=min(size, count - i * size), completed_count=0, created_at=now)
        for i in range(n_batches))
    session.flush()
    if count:
        base, frac = divmod(project.overlap_centi, 100)
        session.execute(_INSERT_TASKS, {"p": project.id, "base": base, "frac": frac, "now": now,
                                        "o0": ordinal0, "first": first, "bs": size})
    dataset.tasks_created = count
    session.execute(text("DROP TABLE IF EXISTS temp.import_staging" if stager.dialect == "sqlite"
                         else "DROP TABLE IF EXISTS import_staging"))


def import_rows(session: Session, dataset: Dataset, open_rows: RowSource, *, from_csv: bool,
                total_bytes: int | None, progress: Progress) -> Dataset:
    """Import the rows ``open_rows()`` yields into ``dataset``, inside the caller's transaction."""
    # The project row lock orders concurrent imports and guards task and batch numbering.
    project = session.get(Project, dataset.project_id, with_for_update={"key_share": True},
                          populate_existing=True)
    checker = ItemChecker(project)
    meter = _ProgressMeter(total_bytes, progress)
    done = False
    if is_postgres(session):
        try:
            with session.begin_nested(), open_rows() as rows:
                _copy_direct(session, project, dataset, checker, rows, from_csv, meter)
            done = True
        except (_DuplicateExternalId, IntegrityError):
            # Duplicates are expected on re-uploads; settle them on the staged path.
            project = session.get(Project, dataset.project_id, populate_existing=True)
            meter = _ProgressMeter(total_bytes, progress)
    if not done:
        with open_rows() as rows:
            _import_staged(session, project, dataset, checker, rows, from_csv, meter)
    if is_postgres(session) and dataset.tasks_created >= ANALYZE_AFTER_ROWS:
        # Fresh statistics now, not when autovacuum gets round to it: the claim query's plan depends on them.
        session.execute(text("ANALYZE tasks"))
    _count_gold(session, dataset)
    dataset.status = "ready"
    dataset.finished_at = utcnow()
    progress(1.0)
    return dataset


def _count_gold(session: Session, dataset: Dataset) -> None:
    """Record each batch's control tasks; a batch of nothing but control tasks is complete at once."""
    session.execute(text(
        "UPDATE batches SET gold_count = (SELECT count(*) FROM tasks t WHERE t.batch_id = batches.id "
        "AND t.status = 'gold') WHERE dataset_id = :d"), {"d": dataset.id})
    session.execute(text("UPDATE batches SET completed_at = :now WHERE dataset_id = :d AND task_count = gold_count")
                    .bindparams(utc_param("now")), {"d": dataset.id, "now": utcnow()})
