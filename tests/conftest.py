"""Shared fixtures: real writer processes, never mocks of h5py."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import swmr_writer  # noqa: E402

from swmr_widgets.processes import kill, spawn, stop  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long tests (soak)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long test: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _spawn(script: str, path: Path, *args: str, stdin: int) -> subprocess.Popen:
    """Start ``tests/<script> PATH ARGS`` in its own process group, with text pipes."""
    cmd = [sys.executable, str(HERE / script), str(path), *args]
    return spawn(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class ScriptedWriter:
    """Drives ``tests/swmr_writer.py`` in another process, one command at a time."""

    def __init__(self, path: Path, *args: str) -> None:
        self.path = path
        self.proc = _spawn("swmr_writer.py", path, *args, stdin=subprocess.PIPE)
        self._expect("ready")

    def _expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline()
        if not line.startswith(prefix):
            kill(self.proc)
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
        kill(self.proc, timeout=10)

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


class StreamWriter:
    """Runs ``tests/stream_writer.py`` (a free-running SWMR writer) in another process."""

    def __init__(self, path: Path, *args: str) -> None:
        self.path = path
        self.proc = _spawn("stream_writer.py", path, *args, stdin=subprocess.DEVNULL)
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("")  # end of output

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """Wait for the next output line, which must start with `prefix`; return it."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = f"<nothing within {timeout} s>"
        if not line.startswith(prefix):
            self.kill()
            err = self.stderr()
            self.stop()
            raise RuntimeError(f"stream writer said {line!r}, expected {prefix!r}: {err}")
        return line

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr.closed:
            return ""
        return self.proc.stderr.read()

    def kill(self) -> None:
        """SIGKILL the writer, as a crash would."""
        kill(self.proc, timeout=10)

    def finish(self, timeout: float = 30.0) -> dict[str, float]:
        """Stop the writer cleanly (SIGTERM) and return the totals of its ``done`` line."""
        stop(self.proc, timeout)
        while True:
            line = self.expect("", timeout=timeout)
            if line.startswith("done") or not line:
                break
        if not line:
            raise RuntimeError(f"stream writer ended without totals: {self.stderr()}")
        return {
            key: (float(value) if "." in value or "e" in value else int(value))
            for key, value in (item.split("=") for item in line.split()[1:])
        }

    def stop(self) -> None:
        self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def stream_factory(tmp_path: Path) -> Iterator:
    """Start free-running writers (``stream_writer.py``); all are stopped at teardown."""
    started: list[StreamWriter] = []

    def start(name: str | Path = "stream.h5", *args: str) -> StreamWriter:
        """`name` is a file name in ``tmp_path``, or a :class:`~pathlib.Path`."""
        w = StreamWriter(name if isinstance(name, Path) else tmp_path / name, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def views() -> Iterator:
    """Make :class:`~swmr_widgets.SwmrView` objects that do not start by themselves.

    Pass ``autostart=True`` to override; every view made is closed at teardown.
    """
    from swmr_widgets import SwmrView

    made: list[SwmrView] = []

    def make(*args, **kwargs) -> SwmrView:
        kwargs.setdefault("autostart", False)
        view = SwmrView(*args, **kwargs)
        made.append(view)
        return view

    yield make
    for view in made:
        view.close()
