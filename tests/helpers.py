"""Small helpers shared by the tests (no fixtures here; see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mistral_db_manage.config import Settings


def settings_for(url: str) -> Settings:
    return Settings(connection=url, config_files=(), source="test")


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def write_config(directory: Path, url: str, name: str = "mistral.conf") -> Path:
    path = directory / name
    path.write_text(
        "[DEFAULT]\ndebug = False\n\n[database]\nconnection = " + url + "\n", encoding="utf-8"
    )
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
    """Run the real console entry point in a subprocess (as an operator would)."""
    full_env = dict(os.environ)
    full_env.pop("OS_DATABASE__CONNECTION", None)
    full_env["HOME"] = str(cwd or Path.cwd())
    if env:
        full_env.update(env)
    process = subprocess.run(
        [sys.executable, "-m", "mistral_db_manage", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )
    return CliResult(process.returncode, process.stdout, process.stderr)
