"""Shared fixtures: one new, empty database per test on SQLite, PostgreSQL and MariaDB.

* ``fresh_db`` -- parametrised over ``sqlite``, ``postgresql``, ``mysql`` (test ids are
  exactly these).  Restrict it with ``@pytest.mark.dialects("postgresql", "mysql")``.
* ``sqlite_db``, ``pg_db``, ``mysql_db`` -- one specific dialect.
* ``make_db`` -- factory, ``make_db("postgresql")``, for tests needing several databases.

Every database is new and empty and is dropped after the test.

Server availability: each server is probed once per session, the first time a test
needs it.  An unreachable server makes its tests skip, unless its name is listed in
the comma-separated ``MDM_REQUIRE_SERVERS`` (``postgresql``, ``mysql``): then they fail.
The same variable accepts ``galera`` and ``pgbouncer`` for the clusters that the tests of
``tests/clusters`` start themselves (see ``tests/clusters/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dbs import (
    DIALECTS,
    SQLITE,
    FreshDatabase,
    ServerAvailability,
    create_server_database,
    create_sqlite_database,
    drop_database,
    required_servers,
    server_config,
)

MakeDb = Callable[[str], FreshDatabase]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dialects(*names): run the fresh_db test only on these dialects "
        f"(any of {', '.join(DIALECTS)})",
    )
    required_servers()  # reject a misspelt MDM_REQUIRE_SERVERS before running anything


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fresh_db" not in metafunc.fixturenames:
        return
    dialects: tuple[str, ...] = DIALECTS
    marker = metafunc.definition.get_closest_marker("dialects")
    if marker is not None:
        dialects = tuple(marker.args)
        bad = [d for d in dialects if d not in DIALECTS]
        if not dialects or bad:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: @pytest.mark.dialects{marker.args!r}: "
                f"expected one or more of {list(DIALECTS)}"
            )
    metafunc.parametrize("fresh_db", dialects, indirect=True, ids=list(dialects))


@pytest.fixture(scope="session")
def server_availability() -> ServerAvailability:
    return ServerAvailability(required_servers())


@pytest.fixture
def make_db(server_availability: ServerAvailability, tmp_path: Path) -> Iterator[MakeDb]:
    """Factory: ``make_db(dialect)`` returns a new empty database, dropped after the test."""
    created: list[FreshDatabase] = []

    def make(dialect: str) -> FreshDatabase:
        __tracebackhide__ = True
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of {list(DIALECTS)}")
        server_availability.ensure(dialect)
        if dialect == SQLITE:
            db = create_sqlite_database(tmp_path)
        else:
            db = create_server_database(server_config(dialect))
        created.append(db)
        return db

    yield make

    errors: list[str] = []
    for db in reversed(created):
        try:
            drop_database(db)
        except Exception as exc:
            errors.append(f"{db.dialect} {db.name}: {type(exc).__name__}: {exc}")
    if errors:
        pytest.fail("could not drop test database(s):\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def fresh_db(request: pytest.FixtureRequest, make_db: MakeDb) -> FreshDatabase:
    """A new empty database; parametrised over the dialects (see ``dialects`` marker)."""
    dialect = getattr(request, "param", None)
    if dialect is None:
        raise RuntimeError("fresh_db is parametrised by pytest_generate_tests only")
    return make_db(str(dialect))


@pytest.fixture
def sqlite_db(make_db: MakeDb) -> FreshDatabase:
    return make_db("sqlite")


@pytest.fixture
def pg_db(make_db: MakeDb) -> FreshDatabase:
    return make_db("postgresql")


@pytest.fixture
def mysql_db(make_db: MakeDb) -> FreshDatabase:
    return make_db("mysql")
