"""The command line's configuration options: order, placement, oslo.log's options,
``--version``, the ``config`` command, and ``upgrade`` without a target."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli


def conf(path: Path, url: str, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{extra}[database]\nconnection = {url}\n", encoding="utf-8")
    return path


def shown(tmp_path: Path, *args: str) -> dict[str, object]:
    result = run_cli(*args, "config", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)
    assert isinstance(value, dict)
    return value


def test_files_and_directories_in_command_line_order(tmp_path: Path) -> None:
    a = conf(tmp_path / "a.conf", "sqlite:///a.sqlite")
    conf(tmp_path / "d" / "x.conf", "sqlite:///d.sqlite")
    first = shown(tmp_path, "--config-dir", "d", "--config-file", str(a))
    assert first["connection"] == "sqlite:///a.sqlite"
    assert first["files"] == [str(tmp_path / "d" / "x.conf"), str(a)]
    second = shown(tmp_path, "--config-file", str(a), "--config-dir", "d")
    assert second["connection"] == "sqlite:///d.sqlite"


def test_options_after_the_command_are_merged_in_order_never_dropped(tmp_path: Path) -> None:
    a = conf(tmp_path / "a.conf", "sqlite:///a.sqlite")
    b = conf(tmp_path / "b.conf", "sqlite:///b.sqlite", extra="[DEFAULT]\ndebug = 1\n")
    result = run_cli("--config-file", str(a), "config", "--format", "json",
                     "--config-file", str(b), cwd=tmp_path)
    value = json.loads(result.stdout)
    assert value["files"] == [str(a), str(b)] and value["connection"] == "sqlite:///b.sqlite"


def test_config_shows_source_masked_password_and_warnings(tmp_path: Path) -> None:
    path = conf(tmp_path / "m.conf", "postgresql://mistral:s3cr3t@db/mistral",
                extra="[DEFAULT]\nsql_connection = sqlite:///old.sqlite\n")
    value = shown(tmp_path, "--config-file", str(path))
    assert set(value) == {"connection", "source", "files", "warnings"}
    assert value["connection"] == "postgresql://mistral:***@db/mistral"
    assert value["source"] == f"{path}, line 4 ([database] connection)"
    warnings = value["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 1
    assert f"{path}, line 2" in warnings[0] and "services ignore it" in warnings[0]
    text = run_cli("--config-file", str(path), "config", cwd=tmp_path)
    assert "s3cr3t" not in text.stdout + text.stderr
    assert "source:" in text.stdout and "line 4" in text.stdout
    from_env = run_cli("--config-file", str(path), "config", "--format", "json", cwd=tmp_path,
                       env={"OS_DATABASE__CONNECTION": "sqlite:///env.sqlite"})
    assert json.loads(from_env.stdout)["source"] == "environment OS_DATABASE__CONNECTION"


def test_only_a_removed_name_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "m.conf"
    path.write_text("[DEFAULT]\nsql_connection = sqlite:///old.sqlite\n", encoding="utf-8")
    result = run_cli("--config-file", str(path), "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert f"{path}, line 2" in result.stderr and "ignore it" in result.stderr
    assert not (tmp_path / "old.sqlite").exists()


def test_version_and_oslo_log_options(tmp_path: Path) -> None:
    version = run_cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("mistral-db-manage ")
    a = conf(tmp_path / "a.conf", f"sqlite:///{tmp_path}/a.sqlite")
    result = run_cli("-d", "--config-file", str(a), "--log-dir", str(tmp_path), "--log-file",
                     "mdm.log", "--use-syslog", "--nouse-journal", "--log-date-format", "%H",
                     "--log-config-append", "/nonexistent", "upgrade", "head", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision 045" in (tmp_path / "mdm.log").read_text(encoding="utf-8")


def test_upgrade_without_a_target_refuses_and_changes_nothing(tmp_path: Path) -> None:
    a = conf(tmp_path / "a.conf", f"sqlite:///{tmp_path}/a.sqlite")
    result = run_cli("--config-file", str(a), "upgrade", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "You must provide a revision or relative delta" in result.stderr
    assert f"--config-file {a} upgrade head" in result.stderr
    assert not (tmp_path / "a.sqlite").exists()
