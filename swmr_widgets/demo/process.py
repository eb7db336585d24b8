"""The parent's handle on a demo writer process: :class:`DemoWriter` and :func:`start_demo`.

The writer (:mod:`swmr_widgets.demo.writer`) runs as ``python -m
swmr_widgets.demo FILE [options]`` in a process group of its own, started and
stopped with :mod:`swmr_widgets.processes`. Its options are one
:class:`~swmr_widgets.demo.config.DemoConfig`, turned into the child's command
line by :meth:`~swmr_widgets.demo.config.DemoConfig.to_argv`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from swmr_widgets import processes
from swmr_widgets.demo.config import DemoConfig
from swmr_widgets.demo.writer import CREATED, READY

__all__ = ["DemoWriter", "start_demo"]


_LIVE: set[DemoWriter] = set()


@atexit.register
def _stop_all() -> None:
    for writer in list(_LIVE):
        with contextlib.suppress(Exception):
            writer.stop(timeout=5)


class DemoWriter:
    """Handle on a demo writer process (``python -m swmr_widgets.demo``).

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file to write (overwritten).
    config : DemoConfig, optional
        What to write and how fast (default: ``DemoConfig()``).
    **options
        :class:`~swmr_widgets.demo.config.DemoConfig` fields (``rate``,
        ``duration``, ``scan_points``, ``seed``, ``swmr_delay``, ``swmr``...),
        which replace those of `config`.

    Attributes
    ----------
    path : pathlib.Path
        The file written.
    config : DemoConfig
        The writer's options.

    Notes
    -----
    The process leads its own process group and stops by itself if the
    process that started it dies (POSIX), or at interpreter exit.
    """

    def __init__(
        self, path: str | os.PathLike[str], config: DemoConfig | None = None, **options: Any
    ) -> None:
        self.path = Path(path)
        self.config = dataclasses.replace(config or DemoConfig(), **options)
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._ready = threading.Event()
        self._created = threading.Event()
        self._reader: threading.Thread | None = None

    # -- properties

    @property
    def pid(self) -> int | None:
        """Process id of the writer (``None`` before :meth:`start`)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the writer process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended, else ``None``."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def ready(self) -> bool:
        """Whether the writer has reported SWMR on and its first step flushed."""
        return self._ready.is_set()

    def command(self) -> list[str]:
        """The command line that runs the writer."""
        return [
            sys.executable, "-m", "swmr_widgets.demo", os.fspath(self.path),
            *self.config.to_argv(), "--parent-pid", str(os.getpid()),
        ]  # fmt: skip

    # -- life cycle

    def start(self, timeout: float = 30.0, wait_ready: bool | None = None) -> DemoWriter:
        """Start the writer process and wait until it has got going.

        Parameters
        ----------
        timeout : float
            Seconds to wait.
        wait_ready : bool, optional
            ``True`` waits for ``ready`` (SWMR on, first step flushed); ``False``
            only for ``created`` (the file exists, possibly still without SWMR).
            The default waits for ``ready`` unless ``swmr_delay > 0`` or
            ``swmr=False``; use :meth:`wait_ready` later.

        Returns
        -------
        DemoWriter
            self.

        Raises
        ------
        RuntimeError
            If the process exits or does not report in time (its stderr is
            included); the process is stopped.
        """
        if self.running:
            return self
        if wait_ready is None:
            wait_ready = self.config.swmr and self.config.swmr_delay <= 0
        self._ready.clear()
        self._created.clear()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the handle)
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        package_root = Path(__file__).resolve().parents[2]
        if package_root not in {Path(p or ".").resolve() for p in sys.path}:
            # running from a source tree: let the child import this very package
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(package_root), env.get("PYTHONPATH", "")) if p
            )
        self._proc = processes.spawn(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read_stdout, args=(self._proc,), daemon=True)
        self._reader.start()
        _LIVE.add(self)
        event = self._ready if wait_ready else self._created
        if not self._wait(event, timeout):
            self._fail(f"the demo writer did not report {'ready' if wait_ready else 'created'}")
        return self

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the writer reports ``ready``; return whether it did."""
        return self._wait(self._ready, timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end by itself (``duration``); return its exit status."""
        if self._proc is None:
            raise RuntimeError("the demo writer was not started")
        code = self._proc.wait(timeout)
        _LIVE.discard(self)
        return code

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the writer: SIGTERM, then SIGKILL after `timeout` seconds.

        Returns
        -------
        int or None
            Exit status (0 after a clean stop, also before :meth:`start`;
            negative: killed by that signal; None: it could not be reaped).
        """
        proc = self._proc
        if proc is None:
            return 0
        _LIVE.discard(self)
        code = processes.stop(proc, timeout)
        if self._reader is not None:  # it sees end-of-file now that the process is gone
            self._reader.join(2)
        return code

    def stderr(self) -> str:
        """What the writer wrote to stderr so far."""
        if self._stderr is None:
            return ""
        with contextlib.suppress(Exception):
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        return ""

    # -- helpers

    def _read_stdout(self, proc: subprocess.Popen[str]) -> None:
        if proc.stdout is None:
            return
        with contextlib.suppress(ValueError, OSError):  # pipe closed
            for line in proc.stdout:
                word = line.split(" ", 1)[0].strip()
                if word == CREATED:
                    self._created.set()
                elif word == READY:
                    self._created.set()
                    self._ready.set()

    def _wait(self, event: threading.Event, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not event.wait(0.05):
            if self._proc is None or self._proc.poll() is not None:
                return event.is_set()
            if time.monotonic() > deadline:
                return False
        return True

    def _fail(self, what: str) -> None:
        code = self._proc.poll() if self._proc is not None else None
        self.stop(timeout=5)
        status = "it is still running" if code is None else f"it exited with status {code}"
        raise RuntimeError(f"{what} ({status}); stderr:\n{self.stderr()}")

    def __enter__(self) -> DemoWriter:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DemoWriter {os.fspath(self.path)!r} pid={self.pid} {state}>"


def start_demo(path: str | os.PathLike[str], **options: Any) -> DemoWriter:
    """Start a :class:`DemoWriter` on `path` and return it once it has got going.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file to write.
    **options
        :class:`DemoWriter` options, plus ``timeout`` and ``wait_ready`` for
        :meth:`DemoWriter.start`.

    Returns
    -------
    DemoWriter
        The running writer; call :meth:`DemoWriter.stop` when done.
    """
    start_kwargs = {k: options.pop(k) for k in ("timeout", "wait_ready") if k in options}
    return DemoWriter(path, **options).start(**start_kwargs)
