"""Writers in other processes, driven by the tests (importable by any test module)."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from swmr_widgets.processes import kill, spawn, stop

HERE = Path(__file__).parent


@contextlib.contextmanager
def stopped_at_exit(make: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A `make` that keeps what it starts, to stop every one of them at exit (a fixture's)."""
    started: list[Any] = []

    def start(*args: Any, **kwargs: Any) -> Any:
        started.append(make(*args, **kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for writer in started:
            writer.stop()


def _spawn(script: str, path: Path, *args: str, stdin: int) -> subprocess.Popen:
    """Start ``tests/<script> PATH ARGS`` in its own process group, with text pipes."""
    cmd = [sys.executable, str(HERE / script), str(path), *args]
    return spawn(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class LineWriter:
    """A writer script in another process that answers each command on stdin with a line.

    Parameters
    ----------
    path : Path
        The file it writes.
    argv : list of str
        The script and its arguments (run with this Python).
    ready : str
        The line it prints once the file is ready.
    """

    def __init__(self, path: Path, argv: list[str], ready: str = "ready") -> None:
        self.path = path
        self.proc = spawn(
            [sys.executable, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._expect(ready)

    def _expect(self, prefix: str) -> str:
        line = self.proc.stdout.readline()
        if not line.startswith(prefix):
            kill(self.proc)
            stderr = self.proc.stderr.read()
            self.stop()
            name = Path(self.proc.args[1]).name
            raise RuntimeError(f"{name} said {line!r}; stderr: {stderr}")
        return line

    def send(self, command: str) -> str:
        """Send one command and return the writer's answer once it has flushed."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._expect("ok").strip()

    def count(self, command: str) -> int:
        """Send a command answered ``ok N`` and return N."""
        return int(self.send(command).split()[1])

    def end(self, command: str = "close", timeout: float = 30.0) -> None:
        """Let the writer end the file with `command` and exit (if it still runs)."""
        if self.proc.poll() is None:
            self.send(command)
            self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the writer, as a crash would."""
        kill(self.proc, timeout=10)

    def stop(self) -> None:
        """SIGKILL the writer if it still runs, and close its pipes."""
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


class ScriptedWriter(LineWriter):
    """Drives ``tests/swmr_writer.py`` in another process, one command at a time."""

    def __init__(self, path: Path, *args: str) -> None:
        super().__init__(path, [str(HERE / "swmr_writer.py"), str(path), *args])

    def append(self, k: int) -> int:
        return self.count(f"append {k}")

    def fill(self, k: int) -> int:
        return self.count(f"fill {k}")

    def close(self) -> None:
        self.end("close", timeout=10)


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
