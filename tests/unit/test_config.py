"""Unit tests for mistral_db_manage.config: file discovery, INI reading, connection resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from mistral_db_manage.config import (
    CONNECTION_ENV_VAR,
    Settings,
    default_search_dirs,
    find_default_config,
    load_settings,
)
from mistral_db_manage.errors import ConfigError, MistralDbManageError

PG = "postgresql+psycopg2://mistral:secret@db.example.com/mistral"
MY = "mysql+pymysql://mistral:secret@db.example.com/mistral?charset=utf8"
LITE = "sqlite:///mistral.sqlite"

NO_ENV: dict[str, str] = {}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def db_conf(url: str) -> str:
    return f"[database]\nconnection = {url}\n"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, ...]:
    """Injected search roots standing in for ~/.mistral, ~, /etc/mistral, /etc."""
    home = tmp_path / "home"
    etc = tmp_path / "etc"
    dirs = (home / ".mistral", home, etc / "mistral", etc)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def load(
    files: list[Path] | None = None,
    dirs: list[Path] | None = None,
    *,
    search: tuple[Path, ...] | list[Path] = (),
    env: dict[str, str] | None = None,
    require: bool = True,
) -> Settings:
    return load_settings(
        files or [],
        dirs or [],
        NO_ENV if env is None else env,
        require_connection=require,
        search_dirs=search,
    )


def expect_error(text_parts: list[str], **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    for part in text_parts:
        assert part in message, (part, message)
    return message


# --------------------------------------------------------------------------- basics


def test_single_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "mistral.conf", db_conf(PG))
    settings = load([conf])
    assert settings == Settings(
        connection=PG, config_files=(conf,), source=f"{conf} [database] connection"
    )
    assert settings.has_connection
    assert settings.warnings == ()


def test_later_file_overrides_earlier(tmp_path: Path) -> None:
    first = write(tmp_path / "a.conf", db_conf(PG))
    second = write(tmp_path / "b.conf", db_conf(MY))
    settings = load([first, second])
    assert settings.connection == MY
    assert settings.config_files == (first, second)
    assert settings.source == f"{second} [database] connection"
    assert load([second, first]).connection == PG


def test_later_file_without_connection_keeps_earlier_value(tmp_path: Path) -> None:
    first = write(tmp_path / "a.conf", db_conf(PG))
    second = write(tmp_path / "b.conf", "[DEFAULT]\ndebug = true\n")
    settings = load([first, second])
    assert settings.connection == PG
    assert settings.source == f"{first} [database] connection"


def test_relative_and_tilde_paths_are_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "home" / "x.conf", db_conf(PG))
    write(tmp_path / "work" / "y.conf", db_conf(MY))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "work")
    settings = load_settings(["~/x.conf", "y.conf"], environ=NO_ENV, search_dirs=[])
    assert settings.config_files == (tmp_path / "home" / "x.conf", tmp_path / "work" / "y.conf")
    assert settings.connection == MY


def test_config_dir_sorted_after_files(tmp_path: Path) -> None:
    conf = write(tmp_path / "main.conf", db_conf(PG))
    d = tmp_path / "conf.d"
    b = write(d / "20-b.conf", "[DEFAULT]\n")
    a = write(d / "10-a.conf", db_conf(MY))
    write(d / "30-ignored.txt", db_conf("sqlite:///ignored"))
    write(d / ".hidden.conf", db_conf("sqlite:///hidden"))
    settings = load([conf], [d])
    assert settings.config_files == (conf, a, b)
    assert settings.connection == MY  # the directory is read after the file
    assert settings.source == f"{a} [database] connection"


def test_config_dir_later_entries_win(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    write(d / "01.conf", db_conf(PG))
    write(d / "02.conf", db_conf(MY))
    assert load(dirs=[d]).connection == MY


def test_several_config_dirs_in_order(tmp_path: Path) -> None:
    d1 = tmp_path / "d1"
    d2 = tmp_path / "d2"
    write(d1 / "z.conf", db_conf(MY))
    write(d2 / "a.conf", db_conf(PG))
    assert load(dirs=[d1, d2]).connection == PG
    assert load(dirs=[d2, d1]).connection == MY


def test_empty_config_dir_is_fine_when_a_file_has_the_connection(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", db_conf(PG))
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = load([conf], [empty])
    assert settings.config_files == (conf,)


# --------------------------------------------------------------------------- default locations


def test_default_search_dirs_order(tmp_path: Path) -> None:
    assert default_search_dirs(tmp_path) == (
        tmp_path / ".mistral",
        tmp_path,
        Path("/etc/mistral"),
        Path("/etc"),
    )


def test_default_search_first_found_of_each_name(roots: tuple[Path, ...]) -> None:
    dot_mistral, home, etc_mistral, etc = roots
    write(home / "mistral.conf", db_conf(PG))
    write(etc_mistral / "mistral.conf", db_conf("sqlite:///not-read"))
    write(etc / "mistral-db-manage.conf", db_conf(MY))
    write(etc / "mistral.conf", db_conf("sqlite:///not-read-either"))
    write(dot_mistral / "unrelated.conf", db_conf("sqlite:///unrelated"))
    settings = load(search=roots)
    assert settings.config_files == (home / "mistral.conf", etc / "mistral-db-manage.conf")
    assert settings.connection == MY  # prog file is read after the project file


def test_default_search_prefers_dot_mistral(roots: tuple[Path, ...]) -> None:
    dot_mistral, home, _, _ = roots
    write(dot_mistral / "mistral.conf", db_conf(PG))
    write(home / "mistral.conf", db_conf(MY))
    settings = load(search=roots)
    assert settings.config_files == (dot_mistral / "mistral.conf",)
    assert settings.connection == PG


def test_default_config_dirs(roots: tuple[Path, ...]) -> None:
    _, home, etc_mistral, etc = roots
    write(etc_mistral / "mistral.conf", db_conf(PG))
    p1 = write(home / "mistral.conf.d" / "b.conf", "[DEFAULT]\n")
    p0 = write(home / "mistral.conf.d" / "a.conf", "[DEFAULT]\n")
    write(etc / "mistral.conf.d" / "z.conf", db_conf("sqlite:///not-read"))
    p2 = write(etc / "mistral-db-manage.conf.d" / "x.conf", db_conf(MY))
    settings = load(search=roots)
    assert settings.config_files == (etc_mistral / "mistral.conf", p0, p1, p2)
    assert settings.connection == MY
    assert find_default_config(roots) == (
        (etc_mistral / "mistral.conf",),
        (home / "mistral.conf.d", etc / "mistral-db-manage.conf.d"),
    )


def test_explicit_file_replaces_default_files_but_not_default_dirs(
    tmp_path: Path, roots: tuple[Path, ...]
) -> None:
    # oslo.config: defaults of --config-file and --config-dir are independent.
    _, home, _, _ = roots
    write(home / "mistral.conf", db_conf("sqlite:///default-file"))
    from_dir = write(home / "mistral.conf.d" / "a.conf", "[DEFAULT]\n")
    conf = write(tmp_path / "given.conf", db_conf(PG))
    settings = load([conf], search=roots)
    assert settings.config_files == (from_dir, conf)
    assert settings.connection == PG


def test_explicit_dir_replaces_default_dirs_but_not_default_files(
    tmp_path: Path, roots: tuple[Path, ...]
) -> None:
    _, home, _, _ = roots
    default_file = write(home / "mistral.conf", db_conf(PG))
    write(home / "mistral.conf.d" / "a.conf", db_conf("sqlite:///default-dir"))
    given = write(tmp_path / "given.d" / "x.conf", "[DEFAULT]\n")
    settings = load(dirs=[tmp_path / "given.d"], search=roots)
    assert settings.config_files == (default_file, given)
    assert settings.connection == PG


def test_nothing_found_in_default_locations(roots: tuple[Path, ...]) -> None:
    message = expect_error(
        [
            "no database connection is configured",
            "no config file was given",
            "mistral.conf",
            str(roots[0]),
            str(roots[3]),
            "--config-file",
            "[database]",
            CONNECTION_ENV_VAR,
        ],
        search=roots,
    )
    assert message.index(str(roots[0])) < message.index(str(roots[2]))


def test_nothing_found_not_required(roots: tuple[Path, ...]) -> None:
    settings = load(search=roots, require=False)
    assert settings.connection == ""
    assert not settings.has_connection
    assert settings.config_files == ()
    assert settings.source == "not configured"


# --------------------------------------------------------------------------- INI syntax


REAL_MISTRAL_CONF = """\
[DEFAULT]
# Mistral services configuration
transport_url = rabbit://openstack:rabbit-pass@controller:5672/
debug = True
log_dir = /var/log/mistral
; a semicolon comment
auth_type = keystone
js_implementation = pyv8

[api]
host = 0.0.0.0
port = 8989
api_workers = 4

[coordination]

[database]
max_pool_size = 50
connection = mysql+pymysql://mistral:mistral-pass@controller/mistral
# connection = sqlite:///commented-out.sqlite
max_overflow: 20

[engine]
execution_field_size_limit_kb = 1024

[executor]
type = remote

[keystone_authtoken]
www_authenticate_uri = http://controller:5000/v3
auth_url = http://controller:5000/v3
memcached_servers = controller:11211
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = mistral
password = mistral-pass

[oslo_policy]
policy_file = /etc/mistral/policy.yaml

[pecan]
auth_enable = true

[scheduler]
fixed_delay = 1
random_delay = 0

[oslo_messaging_notifications]
driver = messagingv2
topics = notifications,
    more_notifications
"""


def test_real_mistral_conf(tmp_path: Path) -> None:
    conf = write(tmp_path / "mistral.conf", REAL_MISTRAL_CONF)
    settings = load([conf])
    assert settings.connection == "mysql+pymysql://mistral:mistral-pass@controller/mistral"


def test_sample_config_loads() -> None:
    sample = Path(__file__).resolve().parents[2] / "etc" / "mistral.conf.sample"
    settings = load([sample])
    assert settings.connection == LITE


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"connection = {PG}", PG),
        (f"connection={PG}", PG),
        (f"connection: {PG}", PG),
        (f"connection:{PG}", PG),
        (f"connection   =   {PG}   ", PG),
        (f'connection = "{PG}"', PG),
        (f"connection = '{PG}'", PG),
        (
            "connection = sqlite:////var/lib/mistral/100%.sqlite",
            "sqlite:////var/lib/mistral/100%.sqlite",
        ),
        ("connection = mysql+pymysql://u:p%(x)s@h/db", "mysql+pymysql://u:p%(x)s@h/db"),
        ("connection = sqlite:///a.db # not a comment", "sqlite:///a.db # not a comment"),
        ("connection = mysql+pymysql://u:a=b@h/db", "mysql+pymysql://u:a=b@h/db"),
    ],
)
def test_assignment_forms(tmp_path: Path, line: str, expected: str) -> None:
    conf = write(tmp_path / "m.conf", f"[database]\n{line}\n")
    assert load([conf]).connection == expected


def test_comments_blank_lines_and_default_section(tmp_path: Path) -> None:
    text = (
        "# leading comment\n"
        "; another\n"
        "\n"
        "[DEFAULT]\n"
        "connection = sqlite:///default-section-does-not-count\n"
        "\n"
        "\n"
        "[database]\n"
        "#connection = sqlite:///commented\n"
        ";connection = sqlite:///commented-too\n"
        f"connection = {PG}\n"
        "\n"
    )
    conf = write(tmp_path / "m.conf", text)
    assert load([conf]).connection == PG


def test_option_in_default_only_is_not_the_database_connection(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", f"[DEFAULT]\nconnection = {PG}\n")
    expect_error(["no database connection is configured in", str(conf)], files=[conf])


def test_duplicate_keys_last_wins(tmp_path: Path) -> None:
    text = f"[database]\nconnection = {PG}\nconnection = {MY}\n"
    conf = write(tmp_path / "m.conf", text)
    assert load([conf]).connection == MY


def test_repeated_section_last_wins(tmp_path: Path) -> None:
    text = f"[database]\nconnection = {PG}\n[api]\nport = 1\n[database]\nconnection = {MY}\n"
    conf = write(tmp_path / "m.conf", text)
    assert load([conf]).connection == MY


def test_continuation_lines(tmp_path: Path) -> None:
    text = "[database]\nconnection = sqlite:///a\n  b\n\tc\n"
    conf = write(tmp_path / "m.conf", text)
    assert load([conf]).connection == "sqlite:///a\nb\nc"


def test_crlf_line_endings(tmp_path: Path) -> None:
    conf = tmp_path / "m.conf"
    conf.write_bytes(b"[database]\r\nconnection = " + PG.encode() + b"\r\n")
    assert load([conf]).connection == PG


def test_a_byte_order_mark_is_refused_as_the_services_refuse_it(tmp_path: Path) -> None:
    conf = tmp_path / "m.conf"
    conf.write_bytes(b"\xef\xbb\xbf[database]\r\nconnection = " + PG.encode() + b"\r\n")
    expect_error([str(conf), "byte-order mark", "without BOM"], files=[conf])


def test_section_names_are_case_insensitive_except_default(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", f"[DATABASE]\nconnection = {PG}\n")
    settings = load([conf])
    assert settings.connection == PG
    assert settings.source == f"{conf} [database] connection"
    lower_default = write(tmp_path / "d.conf", f"[default]\nsql_connection = {PG}\n")
    settings = load([lower_default], require=False)  # [default] is not [DEFAULT]
    assert (settings.connection, settings.warnings) == ("", ())


def test_option_names_are_case_sensitive(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", f"[database]\nConnection = {PG}\n")
    expect_error(["no database connection"], files=[conf])


# --------------------------------------------------------------------------- removed names
# oslo.db 15.0 removed them and Mistral 23 ignores them: they never choose the database.


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (f"[DEFAULT]\nsql_connection = {PG}\n", "[DEFAULT] sql_connection"),
        (f"[DATABASE]\nsql_connection = {PG}\n", "[database] sql_connection"),
        (f"[database]\nsql_connection = {PG}\n", "[database] sql_connection"),
        (f"[sql]\nconnection = {PG}\n", "[sql] connection"),
    ],
)
def test_a_removed_name_alone_is_an_error_naming_file_and_line(
    tmp_path: Path, text: str, label: str
) -> None:
    conf = write(tmp_path / "m.conf", "# comment\n" + text)
    message = expect_error([f"{conf}, line 3", label, "the Mistral services ignore it",
                            "[database]"], files=[conf])
    assert PG not in message and "secret" not in message


def test_a_removed_name_beside_the_connection_is_a_warning(tmp_path: Path) -> None:
    text = (
        f"[database]\nconnection = {PG}\n"
        "[DEFAULT]\nsql_connection = sqlite:///alias1\n"
        "[sql]\nconnection = sqlite:///alias2\n"
    )
    conf = write(tmp_path / "m.conf", text)
    settings = load([conf])
    assert settings.connection == PG
    assert [w.split(":")[0] for w in settings.warnings] == [f"{conf}, line 4", f"{conf}, line 6"]
    assert all("services ignore it" in w and "\n" not in w for w in settings.warnings)


def test_a_removed_name_in_a_later_file_does_not_override(tmp_path: Path) -> None:
    # Before: the later sql_connection won for this tool only (another database than
    # the services use).
    first = write(tmp_path / "a.conf", db_conf(PG))
    second = write(tmp_path / "b.conf", f"[DEFAULT]\nsql_connection = {MY}\n")
    conf_d = tmp_path / "conf.d"
    write(conf_d / "10-old.conf", f"[sql]\nconnection = {MY}\n")
    settings = load([first, second], [conf_d])
    assert settings.connection == PG
    assert len(settings.warnings) == 2


def test_history_without_connection_keeps_the_warning(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", f"[DEFAULT]\nsql_connection = {PG}\n")
    settings = load([conf], require=False)
    assert settings.connection == "" and len(settings.warnings) == 1


# --------------------------------------------------------------------------- environment


def test_environment_overrides_files(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", db_conf(PG))
    settings = load([conf], env={CONNECTION_ENV_VAR: MY, "OS_OTHER": "x"})
    assert settings.connection == MY
    assert settings.source == f"environment {CONNECTION_ENV_VAR}"
    assert settings.config_files == (conf,)


def test_environment_alone(roots: tuple[Path, ...]) -> None:
    settings = load(search=roots, env={CONNECTION_ENV_VAR: LITE})
    assert settings.connection == LITE
    assert settings.config_files == ()


def test_environment_defaults_to_os_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONNECTION_ENV_VAR, MY)
    conf = write(tmp_path / "m.conf", db_conf(PG))
    assert load_settings([conf], search_dirs=[]).connection == MY


def test_environment_empty_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", db_conf(PG))
    expect_error(
        [CONNECTION_ENV_VAR, "is set but empty", "unset it"],
        files=[conf],
        env={CONNECTION_ENV_VAR: ""},
    )


def test_files_are_still_checked_when_environment_is_set(tmp_path: Path) -> None:
    expect_error(
        ["does not exist", str(tmp_path / "missing.conf")],
        files=[tmp_path / "missing.conf"],
        env={CONNECTION_ENV_VAR: PG},
    )


# --------------------------------------------------------------------------- $ substitution


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mysql+pymysql://u:pa$$word@h/db", "mysql+pymysql://u:pa$word@h/db"),
        ("mysql+pymysql://u:pa\\$word@h/db", "mysql+pymysql://u:pa$word@h/db"),
        ("mysql+pymysql://u:p$1@h/db", "mysql+pymysql://u:p$1@h/db"),
        ("mysql+pymysql://u:p$@h/db", "mysql+pymysql://u:p$@h/db"),
        ("mysql+pymysql://$db_user:x@h/db", "mysql+pymysql://mistral:x@h/db"),
        ("mysql+pymysql://${db_user}:x@h/db", "mysql+pymysql://mistral:x@h/db"),
        ("mysql+pymysql://u:x@${api.host}/db", "mysql+pymysql://u:x@db.example.com/db"),
        ("sqlite:///$state_path/m.sqlite", "sqlite:////var/lib/mistral/m.sqlite"),
    ],
)
def test_dollar_substitution(tmp_path: Path, value: str, expected: str) -> None:
    text = (
        "[DEFAULT]\nstate_path = /var/lib/mistral\n"
        "[API]\nhost = db.example.com\n"
        f"[database]\ndb_user = mistral\nconnection = {value}\n"
    )
    conf = write(tmp_path / "m.conf", text)
    assert load([conf]).connection == expected


def test_dollar_substitution_in_environment(tmp_path: Path) -> None:
    settings = load(search=[], env={CONNECTION_ENV_VAR: "mysql+pymysql://u:a$$b@h/db"})
    assert settings.connection == "mysql+pymysql://u:a$b@h/db"


def test_dollar_unknown_name_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", db_conf("mysql+pymysql://u:pa$Zq9x@h/db"))
    message = expect_error(
        [str(conf), "line 2", "not an option", "'$$'"],
        files=[conf],
    )
    assert "Zq9x" not in message  # no part of the value is echoed: it may be a password


def test_dollar_self_reference_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", "[database]\nconnection = $connection\n")
    expect_error(["nests more than", "'$$'"], files=[conf])


# --------------------------------------------------------------------------- file errors


def test_missing_config_file(tmp_path: Path) -> None:
    good = write(tmp_path / "good.conf", db_conf(PG))
    missing = tmp_path / "nope.conf"
    expect_error(
        ["config file", str(missing), "does not exist", "--config-file"],
        files=[good, missing],
    )
    assert issubclass(ConfigError, MistralDbManageError)


def test_missing_config_dir(tmp_path: Path) -> None:
    expect_error(
        ["config directory", str(tmp_path / "nodir"), "does not exist", "--config-dir"],
        dirs=[tmp_path / "nodir"],
    )


def test_config_dir_that_is_a_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", db_conf(PG))
    expect_error([str(conf), "is not a directory", "--config-file"], dirs=[conf])


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    expect_error([str(tmp_path), "is a directory", "--config-dir"], files=[tmp_path])


def test_config_file_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write(tmp_path / "m.conf", db_conf(PG))
    original = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self == conf:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    expect_error(["cannot read config file", str(conf), "permission denied"], files=[conf])


def test_config_dir_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    monkeypatch.setattr("mistral_db_manage.config.os.access", lambda *_a, **_k: False)
    expect_error(["cannot read config directory", str(d), "permission denied"], dirs=[d])


def test_config_file_not_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "m.conf"
    conf.write_bytes(b"[database]\n# caf\xe9\nconnection = sqlite:///x\n")
    expect_error([str(conf), "line 2", "not valid UTF-8"], files=[conf])


# --------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize(
    ("text", "lineno", "hint"),
    [
        ("connection = sqlite:///x\n[database]\n", 1, "before any [section] header"),
        ("# comment\n\nfoo = bar\n", 3, "before any [section] header"),
        ("[database]\nconnection sqlite-without-separator\n", 2, "no '=' or ':'"),
        ("[DEFAULT]\ndebug = true\n[database\nconnection = x\n", 3, "is not closed"),
        ("[DEFAULT]\n[]\n", 2, "empty section name"),
        ("[DEFAULT]\n= value\n", 2, "option name missing"),
        ("[DEFAULT]\n: value\n", 2, "option name missing"),
        ("[DEFAULT]\n\n  indented = value\n", 3, "remove the indentation"),
        ("  [database]\nconnection = x\n", 1, "does not continue an option"),
    ],
)
def test_malformed_file(tmp_path: Path, text: str, lineno: int, hint: str) -> None:
    conf = write(tmp_path / "bad.conf", text)
    expect_error(
        ["malformed config file", str(conf), f"line {lineno}:", hint],
        files=[conf],
    )


def test_malformed_line_does_not_echo_secrets(tmp_path: Path) -> None:
    conf = write(tmp_path / "bad.conf", "[database]\nmy-secret-password\n")
    message = expect_error(["line 2"], files=[conf])
    assert "my-secret-password" not in message


def test_malformed_file_in_config_dir(tmp_path: Path) -> None:
    bad = write(tmp_path / "d" / "50-bad.conf", "[database]\n[oops\n")
    expect_error([str(bad), "line 2"], dirs=[tmp_path / "d"])


def test_malformed_unrelated_section_still_fails(tmp_path: Path) -> None:
    # oslo.config rejects the whole file; so do we.
    conf = write(tmp_path / "m.conf", db_conf(PG) + "[api]\nport\n")
    expect_error([str(conf), "line 4"], files=[conf])


# --------------------------------------------------------------------------- connection errors


def test_no_connection_names_files_read(tmp_path: Path) -> None:
    a = write(tmp_path / "a.conf", "[DEFAULT]\n")
    b = write(tmp_path / "b.conf", "[database]\nmax_pool_size = 5\n")
    message = expect_error(
        [
            "no database connection is configured in",
            f"{a}, {b}",
            "--config-file",
            "connection = <database URL>",
            CONNECTION_ENV_VAR,
        ],
        files=[a, b],
    )
    assert "no config file was given" not in message


def test_no_connection_in_empty_config_dir(tmp_path: Path, roots: tuple[Path, ...]) -> None:
    empty = tmp_path / "empty.d"
    empty.mkdir()
    expect_error(
        ["--config-dir", str(empty), "holds no *.conf files", CONNECTION_ENV_VAR],
        dirs=[empty],
        search=roots,
    )


def test_no_connection_not_required_still_lists_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.conf", "[DEFAULT]\n")
    settings = load([a], require=False)
    assert settings == Settings(connection="", config_files=(a,), source="not configured")


@pytest.mark.parametrize("value", ["", "   ", '""', "''"])
def test_empty_connection_value(tmp_path: Path, value: str) -> None:
    conf = write(tmp_path / "m.conf", f"[DEFAULT]\n[database]\nconnection = {value}\n")
    expect_error(
        [str(conf), "line 3", "[database] connection is empty", "database URL"], files=[conf]
    )


def test_empty_value_in_later_file_overrides(tmp_path: Path) -> None:
    first = write(tmp_path / "a.conf", db_conf(PG))
    second = write(tmp_path / "b.conf", "[database]\nconnection =\n")
    expect_error([str(second), "is empty"], files=[first, second])


def test_empty_value_not_required(tmp_path: Path) -> None:
    conf = write(tmp_path / "m.conf", "[database]\nconnection =\n")
    settings = load([conf], require=False)
    assert settings.connection == ""
    assert settings.source == f"{conf} [database] connection"
