"""How this tool opens a SQLite file it may not write, and switches files to WAL."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from mistral_db_manage.runner.sqlitefile import (
    connect_for_reading,
    journal_mode,
    may_write,
    switch_to_wal,
)


def _make(path: Path, *, wal: bool) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (a INTEGER)")
        connection.execute("INSERT INTO t VALUES (1)")


def _write_and_die(path: str) -> None:
    """A writer that commits and dies without closing: its commit is only in -wal."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("INSERT INTO t VALUES (2)")
    os._exit(0)


def test_a_file_alone_is_read_without_creating_any_file(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    _make(path, wal=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sqlite"]
    with closing(connect_for_reading(path)) as connection:
        assert connection.execute("SELECT a FROM t").fetchall() == [(1,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sqlite"]


def test_commits_left_in_the_log_by_a_dead_writer_are_read(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    _make(path, wal=True)
    writer = multiprocessing.get_context("fork").Process(target=_write_and_die,
                                                         args=(str(path),))
    writer.start()
    writer.join(timeout=30)
    assert writer.exitcode == 0
    assert (tmp_path / "x.sqlite-wal").stat().st_size > 0
    with closing(connect_for_reading(path)) as connection:  # the log is read, not ignored
        assert sorted(connection.execute("SELECT a FROM t").fetchall()) == [(1,), (2,)]


def test_a_reader_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    _make(path, wal=False)
    with closing(connect_for_reading(path)) as connection:
        try:
            connection.execute("INSERT INTO t VALUES (3)")
        except sqlite3.OperationalError as error:
            assert "readonly" in str(error)
        else:
            raise AssertionError("the reading connection wrote")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)


def test_may_write_looks_at_the_file_and_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    assert may_write(path)  # a file to create
    _make(path, wal=False)
    assert may_write(path)
    if os.geteuid() != 0:  # root writes anything
        path.chmod(0o444)
        assert not may_write(path)


def test_the_switch_to_wal_waits_for_no_reader_and_says_why_it_could_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.sqlite"
    _make(path, wal=False)
    service = sqlite3.connect(path, isolation_level=None)
    ours = sqlite3.connect(path, isolation_level=None, timeout=0.2)
    try:
        service.execute("BEGIN")
        service.execute("SELECT a FROM t").fetchall()
        why_not = switch_to_wal(ours)
        assert why_not is not None and "locked" in why_not
        assert journal_mode(ours) == "delete"
        service.execute("COMMIT")
        assert switch_to_wal(ours) is None
        assert journal_mode(ours) == "wal"
        assert switch_to_wal(ours) is None  # already
    finally:
        service.close()
        ours.close()
