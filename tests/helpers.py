"""Small helpers shared by the tests (no fixtures here; see conftest.py)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
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


#: seconds one background run of the tool may take before the test fails (a hang is a failure)
RUN_TIMEOUT = 300.0


class Run:
    """One ``mistral-db-manage`` process; stderr is read line by line as it comes."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = dict(os.environ)
        env.pop("OS_DATABASE__CONNECTION", None)
        env["HOME"] = str(cwd)
        self.began = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mistral_db_manage", *argv], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stdout_parts: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()
        self.stdout = ""
        self.returncode: int | None = None
        self.seconds = 0.0

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self._stdout_parts.append(self.process.stdout.read())

    def wait_for_line(self, fragment: str, timeout: float = RUN_TIMEOUT) -> str:
        """Block until a stderr line contains ``fragment``; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {fragment!r} within {timeout:g} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"the run ended before printing {fragment!r}:\n" + "".join(self.stderr_lines))
            self.stderr_lines.append(line)
            if fragment in line:
                return line

    def kill(self) -> None:
        self.process.kill()

    def finish(self, timeout: float = RUN_TIMEOUT) -> Run:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            raise AssertionError(f"a run took over {timeout:g} s (hung?)") from None
        self._reader.join(timeout=10)
        self._out_reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        out = "".join(self._stdout_parts)
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.stderr_lines.append(line)
        self.stdout = out
        self.returncode = self.process.returncode
        self.seconds = time.monotonic() - self.began
        return self

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def describe(self) -> str:
        return f"exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def start_run(conf: Path, *args: str, cwd: Path) -> Run:
    return Run(["--config-file", str(conf), *args], cwd)


