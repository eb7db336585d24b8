"""Shared fixtures: real writer processes, never mocks of h5py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import swmr_writer  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long tests (soak)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long test: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class ScriptedWriter:
    """Drives ``tests/swmr_writer.py`` in another process, one command at a time."""

    def __init__(self, path: Path, *args: str) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "swmr_writer.py"), str(path), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._expect("ready")

    def _expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline()
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"writer said {line!r}; stderr: {self.proc.stderr.read()}")
        return line

    def send(self, command: str) -> str:
        """Send one command and return the writer's answer once it has flushed."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._expect("ok").strip()

    def append(self, k: int) -> int:
        return int(self.send(f"append {k}").split()[1])

    def fill(self, k: int) -> int:
        return int(self.send(f"fill {k}").split()[1])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send("close")
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL the writer, as a crash would."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def writer_factory(tmp_path: Path) -> Iterator:
    """Start scripted writers on files in ``tmp_path``; all are stopped at teardown."""
    started: list[ScriptedWriter] = []

    def start(name: str = "scan.h5", *args: str) -> ScriptedWriter:
        w = ScriptedWriter(tmp_path / name, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def writer(writer_factory) -> ScriptedWriter:
    """A SWMR writer in another process on ``tmp_path / 'scan.h5'``."""
    return writer_factory()


@pytest.fixture
def values():
    """The writer's value function."""
    return swmr_writer.value
