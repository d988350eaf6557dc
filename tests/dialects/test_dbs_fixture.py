"""Sanity checks of the database fixtures, the dump pipeline and run_sql_script."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from dbs import (
    MYSQL,
    POSTGRESQL,
    SQLITE,
    ClientError,
    FreshDatabase,
    ServerAvailability,
    ServerConfig,
    assert_same_schema,
    dump_sqlite,
    reference_dump,
    required_servers,
    run_sql_script,
)

MakeDb = Callable[[str], FreshDatabase]


def _create_probe_table(db: FreshDatabase, table: str) -> None:
    metadata = sa.MetaData()
    sa.Table(
        table,
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(80), index=True),
    )
    engine = sa.create_engine(db.url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def _table_names(db: FreshDatabase) -> set[str]:
    engine = sa.create_engine(db.url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_fresh_db_starts_empty_and_dump_shows_new_table(fresh_db: FreshDatabase) -> None:
    assert _table_names(fresh_db) == set()
    assert "CREATE TABLE" not in fresh_db.dump()

    _create_probe_table(fresh_db, "mdm_probe")

    dump = fresh_db.dump()
    assert _table_names(fresh_db) == {"mdm_probe"}
    table_line = {
        SQLITE: "CREATE TABLE mdm_probe (",
        POSTGRESQL: "CREATE TABLE public.mdm_probe (",
        MYSQL: "CREATE TABLE `mdm_probe` (",
    }[fresh_db.dialect]
    assert table_line in dump.splitlines(), dump
    assert "ix_mdm_probe_name" in dump
    assert dump.endswith("\n") and not dump.endswith("\n\n")


def test_fresh_databases_are_independent(fresh_db: FreshDatabase, make_db: MakeDb) -> None:
    other = make_db(fresh_db.dialect)
    assert other.name != fresh_db.name
    assert other.url != fresh_db.url

    _create_probe_table(fresh_db, "only_in_first")

    assert _table_names(fresh_db) == {"only_in_first"}
    assert _table_names(other) == set()
    assert "only_in_first" not in other.dump()


@pytest.mark.dialects(POSTGRESQL, MYSQL)
def test_server_database_names_are_prefixed_random(fresh_db: FreshDatabase) -> None:
    assert re.fullmatch(r"mdm_[0-9a-f]{16}", fresh_db.name)
    url = sa.make_url(fresh_db.url)
    assert url.database == fresh_db.name
    assert (
        url.drivername
        == {POSTGRESQL: "postgresql+psycopg2", MYSQL: "mysql+pymysql"}[fresh_db.dialect]
    )


def test_sqlite_db_is_a_file(sqlite_db: FreshDatabase) -> None:
    url = sa.make_url(sqlite_db.url)
    assert url.drivername == "sqlite"
    assert url.database == sqlite_db.name
    assert sqlite_db.name.endswith(".sqlite")


def test_mysql_database_has_reference_charset_and_collation(mysql_db: FreshDatabase) -> None:
    engine = sa.create_engine(mysql_db.url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT default_character_set_name, default_collation_name "
                    "FROM information_schema.schemata WHERE schema_name = :name"
                ),
                {"name": mysql_db.name},
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("utf8mb4", "utf8mb4_general_ci")

    # ...and tables get exactly the table options the reference dumps show.
    _create_probe_table(mysql_db, "mdm_probe")
    reference_options = {
        line for line in reference_dump(MYSQL, 1).splitlines() if line.startswith(") ENGINE=")
    }
    mine = {line for line in mysql_db.dump().splitlines() if line.startswith(") ENGINE=")}
    assert reference_options == {
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;"
    }
    assert mine == reference_options


def test_run_sql_script_stops_at_first_error(fresh_db: FreshDatabase) -> None:
    script = (
        "CREATE TABLE before_error (id INTEGER);\n"
        "CREATE TABLE broken (id INTEGER NOT A TYPE (;\n"
        "CREATE TABLE after_error (id INTEGER);\n"
    )
    with pytest.raises(ClientError) as excinfo:
        run_sql_script(fresh_db, script)

    assert excinfo.value.returncode != 0
    assert excinfo.value.stderr.strip(), "the client's error message must be kept"
    assert excinfo.value.stderr.strip() in str(excinfo.value)
    # Each statement autocommits in all three clients: the one before the error stays.
    assert _table_names(fresh_db) == {"before_error"}


def test_run_sql_script_applies_a_good_script(fresh_db: FreshDatabase) -> None:
    run_sql_script(fresh_db, "CREATE TABLE t1 (id INTEGER);\nCREATE TABLE t2 (id INTEGER);\n")
    assert _table_names(fresh_db) == {"t1", "t2"}


@pytest.mark.dialects(POSTGRESQL, MYSQL)
def test_dump_pipeline_reproduces_reference_008(fresh_db: FreshDatabase) -> None:
    """Upstream's offline SQL for base->008, applied with the client, dumps as 008.sql.

    This validates the whole dump/normalise pipeline byte for byte against the vendored
    reference, which was dumped from upstream's *online* upgrade to 008.
    """
    run_sql_script(fresh_db, reference_dump(fresh_db.dialect, "offline-base-008"))
    assert_same_schema(
        reference_dump(fresh_db.dialect, 8),
        fresh_db.dump(),
        expected_label=f"reference/{fresh_db.dialect}/008.sql",
        actual_label=f"offline-base-008.sql applied to {fresh_db.name}",
    )


def test_sqlite_dump_sorts_index_runs(sqlite_db: FreshDatabase) -> None:
    run_sql_script(
        sqlite_db,
        "CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER);\n"
        "CREATE INDEX ix_t_c ON t (c);\n"
        "CREATE UNIQUE INDEX ix_t_b ON t (b);\n"
        "CREATE INDEX ix_t_a ON t (a);\n",
    )
    assert dump_sqlite(sqlite_db.name).splitlines() == [
        "CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER);",
        "CREATE INDEX ix_t_a ON t (a);",
        "CREATE INDEX ix_t_c ON t (c);",
        "CREATE UNIQUE INDEX ix_t_b ON t (b);",
    ]


def test_assert_same_schema_shows_unified_diff() -> None:
    assert_same_schema("a\nb\n", "a\nb\n")
    with pytest.raises(AssertionError) as excinfo:
        assert_same_schema("a\nb\nc\n", "a\nB\nc\n", expected_label="ref", actual_label="mine")
    message = str(excinfo.value)
    assert "--- ref" in message and "+++ mine" in message
    assert "\n-b\n" in message and "\n+B\n" in message
    with pytest.raises(AssertionError, match="No newline at end of file"):
        assert_same_schema("a\n", "a")


def test_unreachable_server_skips_or_fails() -> None:
    closed = ServerConfig(dialect=POSTGRESQL, host="127.0.0.1", port=1, user="nobody")
    optional = ServerAvailability(frozenset(), config=lambda _dialect: closed)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        optional.ensure(POSTGRESQL)
    optional.ensure(SQLITE)  # SQLite needs no server

    required = ServerAvailability(frozenset({POSTGRESQL}), config=lambda _dialect: closed)
    with pytest.raises(pytest.fail.Exception, match="MDM_REQUIRE_SERVERS"):
        required.ensure(POSTGRESQL)


def test_require_servers_variable_is_validated() -> None:
    env = {"MDM_REQUIRE_SERVERS": " postgresql , mysql "}
    assert required_servers(env) == {POSTGRESQL, MYSQL}
    assert required_servers({}) == frozenset()
    everything = {"MDM_REQUIRE_SERVERS": "postgresql,mysql,galera,pgbouncer"}
    assert required_servers(everything) == {POSTGRESQL, MYSQL, "galera", "pgbouncer"}
    with pytest.raises(pytest.UsageError, match="postgres"):
        required_servers({"MDM_REQUIRE_SERVERS": "postgres"})
