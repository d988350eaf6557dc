"""The catalogue of careless and hostile input (issue 13), part 1: secrets, files, tracebacks.

Every case runs the console script's code in a subprocess, as an operator
would, and checks the one-line error, the exit code, that no secret appears
in any output (``--debug`` included), and that nothing changed (the bytes of
every file beside the database).  Part 2 (definitions, revisions, the chain)
is ``test_hostile_catalogue_input.py``; the cases that need a server are in
``tests/dialects/test_hostile_servers.py``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hostile import (
    assert_no_control_characters,
    assert_no_secret,
    assert_one_line_error,
    assert_usage_error,
    mdm,
    open_directory,
    sqlite_execute,
    tree_state,
    write_config,
)

SECRET = "Sekr1tX"


@pytest.fixture(scope="module")
def head_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at head, made once; tests work on copies."""
    directory = tmp_path_factory.mktemp("head")
    conf = write_config(directory, f"sqlite:///{directory / 'template.sqlite'}")
    run = mdm("--config-file", str(conf), "upgrade", "head", cwd=directory)
    assert run.returncode == 0, run
    return directory / "template.sqlite"


@pytest.fixture
def at_head(head_database: Path) -> Iterator[tuple[Path, Path]]:
    """(directory, config) of a copy of the head database, in a directory anyone may enter."""
    with open_directory() as directory:
        shutil.copy(head_database, directory / "mistral.sqlite")
        (directory / "mistral.sqlite").chmod(0o644)
        yield directory, write_config(directory, f"sqlite:///{directory / 'mistral.sqlite'}")


# --------------------------------------------------------------------------- secrets in URLs

SECRET_URLS = [
    # (URL, what it must say); none of them may show any part of the password
    (f"mysql+pymysql://u:Zq@:/%#{SECRET}@127.0.0.1:1/db", "line 5"),
    (f"mysql+pymysql://u:ab@cd{SECRET}@127.0.0.1:1/db", "line 5"),
    (f"mysql+pymysql://u:Zq$r1{SECRET}@127.0.0.1:1/db", "line 5"),
    (f"mysql+pymysql://u:{SECRET}/mistral", "line 5"),
    (f"mysql+pymysql://u@127.0.0.1:1/db?password={SECRET}", "127.0.0.1:1"),
    (f"oracle://u:{SECRET}@127.0.0.1:1/db?password={SECRET}", "oracle"),
    (f"postgresql://u:{SECRET}@127.0.0.1:1/db?sslpassword={SECRET}", "127.0.0.1:1"),
    (f"mysql+pymysql://root:%zz{SECRET}@127.0.0.1:1/db", "127.0.0.1:1"),
    (f"mysql+pymysql://root:пароль{SECRET}@127.0.0.1:1/db", "Latin-1"),
    (f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/db?charset=bogus", "character set 'bogus'"),
    (f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/db?read_timeout=abc", "read_timeout=abc"),
]


@pytest.mark.parametrize(("url", "fragment"), SECRET_URLS)
@pytest.mark.parametrize("command", [("current",), ("upgrade", "head"), ("history",)])
def test_no_part_of_a_password_is_shown(
    tmp_path: Path, url: str, fragment: str, command: tuple[str, ...]
) -> None:
    conf = write_config(tmp_path, url)
    before = tree_state(tmp_path)
    run = mdm("--config-file", str(conf), *command, cwd=tmp_path)
    assert_one_line_error(run, fragment)
    assert_no_secret(run, [SECRET, "r1" + SECRET])
    debug = mdm("--debug", "--config-file", str(conf), *command, cwd=tmp_path)
    assert debug.returncode != 0
    assert_no_secret(debug, [SECRET])
    assert tree_state(tmp_path) == before


def test_a_password_in_the_environment_is_not_shown(tmp_path: Path) -> None:
    url = f"mysql+pymysql://u:ab@cd{SECRET}@127.0.0.1:1/db"
    run = mdm("current", cwd=tmp_path, env={"OS_DATABASE__CONNECTION": url})
    assert_one_line_error(run, "environment OS_DATABASE__CONNECTION", "not a valid database URL")
    assert_no_secret(run, [SECRET])


# --------------------------------------------------------------------------- the audit trail


def test_the_audit_records_the_os_user_and_printing_is_escaped(
    at_head: tuple[Path, Path],
) -> None:
    import pwd

    directory, conf = at_head
    forged = "alice\n2026-01-01 00:00:00 mallory@x upgrade 001 -> 045 succeeded (0.1 s)"
    stamp = mdm("--config-file", str(conf), "stamp", "045", "--force", cwd=directory,
                env={"LOGNAME": forged, "USER": forged, "LNAME": forged, "USERNAME": forged})
    assert stamp.returncode == 0, stamp
    database = directory / "mistral.sqlite"
    with sqlite3.connect(database) as connection:
        [(user,)] = connection.execute(
            "SELECT user_name FROM mistral_db_manage_runs WHERE command = 'stamp'"
        )
        assert user == pwd.getpwuid(os.getuid()).pw_name
        connection.execute(
            "UPDATE mistral_db_manage_runs SET host = ?, detail = ?",
            ("h\x1b[2J\nFAKE 2026", "\x1b]0;owned\x07\u202egnp.exe"),
        )
    applied = mdm("--config-file", str(conf), "history", "--applied", cwd=directory)
    assert applied.returncode == 0, applied
    assert len(applied.stdout.splitlines()) == 2, applied.stdout  # the upgrade, the stamp
    assert "mallory" not in applied.stdout
    assert_no_control_characters(applied.stdout)
    assert "\\x1b[2J\\nFAKE" in applied.stdout and "\\u202e" in applied.stdout
    as_json = mdm("--config-file", str(conf), "history", "--applied", "--format", "json",
                  cwd=directory)
    assert_no_control_characters(as_json.stdout)


# --------------------------------------------------------------------------- files the tool writes


def _upgrade_from(directory: Path, conf: Path, start: str, *more: str) -> None:
    for target in (start, *more):
        run = mdm("--config-file", str(conf), "upgrade", target, "--keep-backups", "2",
                  cwd=directory)
        assert run.returncode == 0, run


def test_backups_are_as_private_as_the_database_and_pruned(tmp_path: Path) -> None:
    conf = write_config(tmp_path, f"sqlite:///{tmp_path / 'mistral.sqlite'}")
    _upgrade_from(tmp_path, conf, "010")
    database = tmp_path / "mistral.sqlite"
    database.chmod(0o600)
    group = os.getgid()
    if os.geteuid() == 0:
        group = 1  # root may give the database any group: the backup must keep it
        os.chown(database, -1, group)
    old_umask = os.umask(0)
    try:
        _upgrade_from(tmp_path, conf, "011", "012", "013")
    finally:
        os.umask(old_umask)
    backups = sorted(tmp_path.glob("mistral.sqlite.*.bak"))
    assert [b.name.split(".")[2].split("-")[0] for b in backups] == ["011", "012"]
    for backup in backups:
        info = backup.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)
        assert info.st_gid == group
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == sorted(["mistral.conf", "mistral.sqlite", *(b.name for b in backups)])


def test_the_lock_file_has_the_database_mode(tmp_path: Path) -> None:
    from mistral_db_manage.runner.lock import sqlite_file_lock

    database = tmp_path / "mistral.sqlite"
    database.touch()
    database.chmod(0o640)
    with sqlite_file_lock(database, 1.0, lambda message: None):
        lock = tmp_path / "mistral.sqlite.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o640
    assert not lock.exists()  # lock files do not pile up


# --------------------------------------------------------------------------- SQLite files


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.parametrize("command", [("current",), ("upgrade", "head"), ("verify",),
                                     ("populate",), ("history", "--applied")])
def test_a_damaged_sqlite_file(
    at_head: tuple[Path, Path], damage: str, command: tuple[str, ...]
) -> None:
    directory, conf = at_head
    database = directory / "mistral.sqlite"
    data = database.read_bytes()
    database.write_bytes(os.urandom(5000) if damage == "garbage" else data[: len(data) // 3])
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), *command, cwd=directory)
    assert_one_line_error(run, str(database), "restore it from a backup")
    assert tree_state(directory) == before


def _unprivileged_sqlite(directory: Path, *, writable_directory: bool) -> Path:
    database = directory / "mistral.sqlite"
    data_dir = directory / "data"
    data_dir.mkdir()
    moved = data_dir / "mistral.sqlite"
    database.rename(moved)
    moved.chmod(0o444 if writable_directory else 0o644)
    data_dir.chmod(0o777 if writable_directory else 0o755)
    if os.geteuid() != 0:
        data_dir.chmod(0o755 if writable_directory else 0o555)
    return write_config(directory, f"sqlite:///{moved}")


@pytest.mark.parametrize("writable_directory", [False, True], ids=["directory", "file"])
@pytest.mark.parametrize("command", [("upgrade", "head"), ("stamp", "044"), ("populate",)])
def test_a_read_only_sqlite_database(
    at_head: tuple[Path, Path], writable_directory: bool, command: tuple[str, ...]
) -> None:
    directory, _conf = at_head
    conf = _unprivileged_sqlite(directory, writable_directory=writable_directory)
    if command[0] == "upgrade":  # something to do, and a backup to make
        sqlite_execute(directory / "data" / "mistral.sqlite",
                       "UPDATE alembic_version SET version_num = '044'")
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), *command, cwd=directory, unprivileged=True)
    fragment = "is read-only for" if writable_directory else "is not writable for"
    assert_one_line_error(run, fragment, "nothing was changed")
    assert tree_state(directory) == before
    (directory / "data").chmod(0o755)


@pytest.mark.parametrize("writable_directory", [False, True], ids=["directory", "file"])
@pytest.mark.parametrize("command", [("current",), ("verify",), ("status",),
                                     ("history", "--applied")])
def test_a_reader_without_write_access_reads_a_wal_file_and_leaves_no_file(
    at_head: tuple[Path, Path], writable_directory: bool, command: tuple[str, ...]
) -> None:
    """In WAL mode a reader maps the -shm file: one that may not write there fails
    ("attempt to write a readonly database"), or leaves -wal/-shm files the services
    may not write.  This tool reads such a file without creating any."""
    directory, _conf = at_head
    with closing(sqlite3.connect(directory / "mistral.sqlite")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conf = _unprivileged_sqlite(directory, writable_directory=writable_directory)
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), *command, cwd=directory, unprivileged=True)
    assert run.returncode == 0 and "error" not in run.stderr, run
    if command == ("current",):
        assert run.stdout.split()[0] == "045", run
    assert tree_state(directory) == before
    (directory / "data").chmod(0o755)


def test_an_unreadable_home_is_not_a_traceback(at_head: tuple[Path, Path]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs a home directory the test user cannot read")
    directory, _conf = at_head
    run = mdm("current", cwd=directory, unprivileged=True, env={"HOME": "/root"})
    assert_one_line_error(run, "no database connection is configured")


# --------------------------------------------------------------------------- closed stdout


@pytest.mark.parametrize(
    "command",
    [("history",), ("verify",), ("upgrade", "--plan"), ("upgrade", "030:head", "--sql"),
     ("status",), ("history", "--verbose")],
)
def test_a_closed_stdout_is_not_an_error(at_head: tuple[Path, Path],
                                         command: tuple[str, ...]) -> None:
    directory, conf = at_head
    sqlite_execute(directory / "mistral.sqlite", "UPDATE alembic_version SET version_num = '030'")
    before = tree_state(directory)
    expected = mdm("--config-file", str(conf), *command, cwd=directory).returncode
    for _attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, "-m", "mistral_db_manage", "--config-file", str(conf), *command],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=directory,
            env={**os.environ, "HOME": str(directory)},
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        stderr = process.stderr.read().decode()
        process.stderr.close()
        code = process.wait(timeout=120)
        # the result of the command (verify: drift, status: pending), or 0 if cut short
        assert "Error" not in stderr and code in (0, expected), (code, stderr)
    assert tree_state(directory) == before


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("upgrade", "--plan", "--sql"), "--plan and --sql"),
        (("upgrade", "--delta", "-1"), "--delta"),
        (("--lock-timeout", "-5", "upgrade"), "--lock-timeout"),
        (("upgrade", "--lock-timeout", "nan"), "--lock-timeout"),
        (("upgrade", "--keep-backups", "0"), "--keep-backups"),
        (("populate", "--max-definition-kb", "0"), "--max-definition-kb"),
        (("populate_actions", "--path", "/nonexistent"), "--path"),
        (("stamp",), "revision"),
    ],
)
def test_usage_errors_exit_2(at_head: tuple[Path, Path], args: tuple[str, ...],
                             fragment: str) -> None:
    directory, conf = at_head
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), *args, cwd=directory)
    assert_usage_error(run, fragment)
    assert tree_state(directory) == before


def test_a_missing_path_is_an_error(at_head: tuple[Path, Path]) -> None:
    directory, conf = at_head
    before = tree_state(directory)
    run = mdm("--config-file", str(conf), "populate", "--path", "/nonexistent", cwd=directory)
    assert_one_line_error(run, "/nonexistent", "no such directory")
    assert tree_state(directory) == before


def test_skipped_definition_files_are_named(at_head: tuple[Path, Path]) -> None:
    directory, conf = at_head
    definitions = directory / "definitions"
    definitions.mkdir()
    (definitions / "dangling.yaml").symlink_to(definitions / "nowhere")
    (definitions / "loop.yaml").symlink_to(definitions / "loop.yaml")
    os.mkfifo(definitions / "fifo.yaml")
    (definitions / "folder.yml").mkdir()
    run = mdm("--config-file", str(conf), "populate", "--path", str(definitions),
              "--dry-run", cwd=directory, timeout=60)
    assert run.returncode == 0, run
    for name, reason in [("dangling.yaml", "a symbolic link to nothing"),
                         ("loop.yaml", "a symbolic link that loops"),
                         ("fifo.yaml", "a FIFO"), ("folder.yml", "a directory")]:
        assert f"skipped {definitions / name}: {reason}" in run.stderr, run.stderr
