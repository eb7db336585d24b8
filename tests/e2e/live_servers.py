"""Processes of the e2e tests: demo writers, ``swmr-widgets`` commands, Voila and Jupyter servers.

Everything here runs on 127.0.0.1, leads its own process group, and is stopped
by PID (SIGTERM, wait, SIGKILL), together with every descendant seen below it
(kernels, and the writers those kernels started). No pytest dependency: the
browser benchmark (``benchmarks/browser_latency.py``) uses it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from swmr_widgets import processes

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
HOST = "127.0.0.1"
URL_RE = re.compile(r"^URL:\s*(?P<url>https?://\S+)\s*$")
#: Seconds a server may take to listen on its port.
SERVER_START_TIMEOUT = 90.0


def _descendants(pid: int) -> list[Any]:
    """Return psutil processes below ``pid`` (empty if psutil or the process is gone)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a test dependency
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _alive(procs: Iterable[Any]) -> list[Any]:
    """Return the processes of ``procs`` still running (zombies count as gone)."""
    import psutil

    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.Error:
            pass
    return alive


def wait_gone(procs: list[Any], timeout: float) -> list[Any]:
    """Wait up to ``timeout`` s for ``procs`` to end; return those still alive."""
    deadline = time.monotonic() + timeout
    left = _alive(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _alive(left)
    return left


def pid_alive(pid: int) -> bool:
    """Return True if process ``pid`` runs (a zombie counts as gone)."""
    import psutil

    try:
        return bool(_alive([psutil.Process(pid)]))
    except psutil.Error:
        return False


def kill_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM process ``pid``, wait up to ``timeout`` s, then SIGKILL it."""
    import psutil

    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    with contextlib.suppress(psutil.Error):
        proc.terminate()
    if wait_gone([proc], timeout):
        with contextlib.suppress(psutil.Error):
            proc.kill()
        wait_gone([proc], 5.0)


def pick_free_port(host: str = HOST) -> int:
    """Return a TCP port on ``host`` that is free at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def server_env() -> dict[str, str]:
    """Environment of the servers started here (inherits ``PYTHONPATH`` for kernels)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ManagedProcess:
    """A command started in its own process group, stopped by PID.

    Parameters
    ----------
    args : list of str
        The command line.
    log_path : pathlib.Path
        File that receives standard error (and standard output unless
        ``pipe_stdout``).
    pipe_stdout : bool
        Read standard output line by line into :attr:`lines`.
    env : dict, optional
        Environment; :func:`server_env` by default.

    Attributes
    ----------
    proc : subprocess.Popen
        The command; it leads its own process group.
    lines : list of str
        Its standard output so far (with ``pipe_stdout``).
    """

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        *,
        pipe_stdout: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = args
        self.log_path = log_path
        self.lines: list[str] = []
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = processes.spawn(
            args,
            stdout=subprocess.PIPE if pipe_stdout else self._log,
            stderr=self._log,
            text=True,
            bufsize=1,
            cwd=REPO_ROOT,
            env=env if env is not None else server_env(),
        )
        self._known: dict[int, Any] = {}
        self._reader: threading.Thread | None = None
        if pipe_stdout:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    @property
    def pid(self) -> int:
        """PID of the command."""
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.on_line(line.rstrip("\n"))
        self.on_eof()

    def on_line(self, line: str) -> None:
        """Handle one line of standard output."""
        self.lines.append(line)

    def on_eof(self) -> None:
        """Called when standard output ends."""

    def remember_children(self) -> list[Any]:
        """Record the current descendants (server, kernels, writer) for later checks."""
        for p in _descendants(self.pid):
            self._known.setdefault(p.pid, p)
        return list(self._known.values())

    @property
    def known_children(self) -> list[Any]:
        """Descendants recorded so far by :meth:`remember_children`."""
        return list(self._known.values())

    def wait_children_gone(self, timeout: float) -> list[Any]:
        """Wait up to ``timeout`` s for every recorded descendant to end.

        Returns
        -------
        list of psutil.Process
            The descendants still alive (empty when all are gone).
        """
        return wait_gone(self.known_children, timeout)

    @property
    def output(self) -> str:
        """Standard output so far as one string."""
        return "\n".join(self.lines)

    def log_tail(self, n: int = 4000) -> str:
        """Last ``n`` characters of the command's log."""
        with contextlib.suppress(OSError, ValueError):
            self._log.flush()
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def terminate(self, timeout: float = 30.0) -> int | None:
        """Send SIGTERM to the command by PID and wait up to ``timeout`` s for it."""
        self.remember_children()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        return self.proc.poll()

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the command's group (SIGTERM, wait, SIGKILL), then any recorded descendant left."""
        self.remember_children()
        code = processes.stop(self.proc, timeout, kill_timeout=10)
        for p in _alive(self.known_children):
            with contextlib.suppress(Exception):
                p.kill()
        if self._reader is not None:
            self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            self._log.close()
        return code


class CliServer(ManagedProcess):
    """A running ``swmr-widgets`` command started by the :func:`swmr_cli` fixture.

    Attributes
    ----------
    url : str or None
        The address from its ``URL:`` line.
    log_path : pathlib.Path
        File that receives its standard error (server logs).
    """

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.url: str | None = None
        self._url_event = threading.Event()
        super().__init__(args, log_path, pipe_stdout=True, env=dict(os.environ))

    def on_line(self, line: str) -> None:
        super().on_line(line)
        m = URL_RE.match(line)
        if m and self.url is None:
            self.url = m.group("url")
            self._url_event.set()

    def on_eof(self) -> None:
        self._url_event.set()  # wake up waiters

    def wait_url(self, timeout: float) -> str:
        """Wait for the ``URL:`` line and return the address.

        Raises
        ------
        AssertionError
            If the command exits or times out first (its output is included).
        """
        self._url_event.wait(timeout)
        if self.url is None:
            raise AssertionError(
                f"no URL line within {timeout:g} s (exit code {self.proc.poll()}).\n"
                f"stdout:\n{self.output}\nstderr (tail):\n{self.log_tail()}"
            )
        self.remember_children()
        return self.url


class JupyterServer(ManagedProcess):
    """A Voila, JupyterLab or Notebook 7 server on 127.0.0.1 (see :func:`start_server`).

    Attributes
    ----------
    kind : str
        ``"voila"``, ``"lab"`` or ``"notebook"``.
    port : int
        Its TCP port.
    token : str
        The Jupyter token (empty for Voila).
    base : str
        ``http://127.0.0.1:PORT``.
    """

    def __init__(self, kind: str, args: list[str], log_path: Path, port: int, token: str) -> None:
        self.kind = kind
        self.port = port
        self.token = token
        self.base = f"http://{HOST}:{port}"
        super().__init__(args, log_path)

    def url(self, path: str = "/") -> str:
        """Address of ``path`` on this server, with the token for Jupyter servers."""
        url = self.base + path
        if self.token:
            url += ("&" if "?" in url else "?") + f"token={self.token}"
        return url

    def wait_listening(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Block until the server accepts connections.

        Raises
        ------
        AssertionError
            If it exits or does not listen in time (the log tail is included).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if port_accepts(self.port):
                return
            time.sleep(0.2)
        raise AssertionError(
            f"{self.kind} did not listen on {HOST}:{self.port} within {timeout:g} s "
            f"(exit code {self.proc.poll()}).\nlog (tail):\n{self.log_tail()}"
        )

    def api(self, method: str, path: str, timeout: float = 20.0) -> Any:
        """Call the Jupyter REST API; return the decoded JSON answer (None if empty)."""
        req = urllib.request.Request(
            self.base + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict[str, Any]]:
        """The kernels the Jupyter server runs."""
        return list(self.api("GET", "/api/kernels"))

    def wait_kernel_idle(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until a kernel is idle with a browser connected; return its model.

        Raises
        ------
        AssertionError
            If no such kernel shows up in time.
        """
        deadline = time.monotonic() + timeout
        kernels: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                kernels = self.kernels()
            for k in kernels:
                if k.get("execution_state") == "idle" and k.get("connections", 0) > 0:
                    return k
            time.sleep(0.25)
        raise AssertionError(f"no idle, connected kernel within {timeout:g} s: {kernels}")

    def shutdown_kernels(self, timeout: float = 20.0) -> list[str]:
        """Shut every kernel down through the REST API; return their ids."""
        ids = [k["id"] for k in self.kernels()]
        for kid in ids:
            with contextlib.suppress(Exception):
                self.api("DELETE", f"/api/kernels/{kid}", timeout=timeout)
        return ids


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def server_command(kind: str, target: Path, port: int, token: str, state: Path) -> list[str]:
    """Command line of a ``kind`` server on ``target`` (the flags of ``swmr_widgets.servers``).

    Parameters
    ----------
    kind : str
        ``"voila"`` (``target`` is a notebook), ``"lab"`` or ``"notebook"``
        (``target`` is the root directory).
    target : pathlib.Path
        Notebook or root directory.
    port : int
        TCP port on 127.0.0.1.
    token : str
        Jupyter token (ignored by Voila).
    state : pathlib.Path
        Directory for this server's user settings and workspaces.
    """
    from swmr_widgets.servers import lab_command, voila_command, write_lab_settings

    if kind == "voila":
        return voila_command(target, port)
    write_lab_settings(state / "settings")
    (state / "workspaces").mkdir(parents=True, exist_ok=True)
    if kind == "lab":
        return lab_command(target, port, token, state_dir=state)
    if kind == "notebook":
        app = "JupyterNotebookApp"
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "notebook",
            "--no-browser",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={target}",
            f"--{app}.user_settings_dir={state / 'settings'}",
            f"--{app}.workspaces_dir={state / 'workspaces'}",
        ]
        return [*cmd, "--allow-root"] if _is_root() else cmd
    raise ValueError(f"unknown server kind {kind!r}")


def start_server(
    kind: str, target: Path, workdir: Path, timeout: float = SERVER_START_TIMEOUT
) -> JupyterServer:
    """Start a ``kind`` server on ``target`` and wait until it listens.

    Its log and state go to ``workdir``. The caller must :meth:`~ManagedProcess.stop` it.
    """
    port = pick_free_port()
    token = "" if kind == "voila" else secrets.token_hex(16)
    state = workdir / f".{kind}-{port}"
    state.mkdir(parents=True, exist_ok=True)
    args = server_command(kind, Path(target), port, token, state)
    server = JupyterServer(kind, args, workdir / f"{kind}-{port}.log", port, token)
    try:
        server.wait_listening(timeout)
    except BaseException:
        server.stop()
        raise
    return server


def stop_server(server: JupyterServer) -> None:
    """Shut kernels down (Jupyter), then stop the server and everything seen below it."""
    server.remember_children()
    if server.kind != "voila" and server.proc.poll() is None:
        with contextlib.suppress(Exception):
            server.shutdown_kernels()
    server.stop()


@contextlib.contextmanager
def running_server(
    kind: str, target: Path, workdir: Path, timeout: float = SERVER_START_TIMEOUT
) -> Iterator[JupyterServer]:
    """Context manager around :func:`start_server` / :func:`stop_server`."""
    server = start_server(kind, target, workdir, timeout)
    try:
        yield server
    finally:
        stop_server(server)


# ----------------------------------------------------------------------------
# writers and notebooks
# ----------------------------------------------------------------------------
def stop_demo_writer(writer: Any) -> None:
    """Stop a :class:`~swmr_widgets.demo.DemoWriter`; kill it by PID if it is still alive."""
    pid = writer.pid
    with contextlib.suppress(Exception):
        writer.stop(timeout=10)
    if pid is not None and pid_alive(pid):
        kill_pid(pid)


@contextlib.contextmanager
def running_demo_writer(path: Path, rate: float = 10.0, **options: Any) -> Iterator[Any]:
    """Run the demo writer on ``path`` (SWMR on and first step flushed on entry)."""
    from swmr_widgets.demo import DemoWriter

    writer = DemoWriter(path, rate=rate, **options)
    try:
        writer.start(timeout=30)
        yield writer
    finally:
        stop_demo_writer(writer)


def write_view_notebook(
    directory: Path,
    h5_path: Path,
    *,
    interval: float = 0.2,
    tree_interval: float = 0.5,
    selected: tuple[str, ...] | None = None,
    name: str = "viewer.ipynb",
) -> Path:
    """Write a one-cell notebook that displays ``SwmrView(h5_path, ...)``; return its path."""
    extra = f", selected={selected!r}" if selected else ""
    code = (
        "from swmr_widgets import SwmrView\n"
        "\n"
        f"view = SwmrView({str(h5_path.absolute())!r}, interval={interval!r}, "
        f"tree_interval={tree_interval!r}{extra})\n"
        "view"
    )
    return write_code_notebook(directory, code, name)


def write_code_notebook(directory: Path, code: str, name: str) -> Path:
    """Write a one-cell notebook running ``code``; return its path."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "id": "swmr-code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": code.splitlines(keepends=True),
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    out = directory / name
    out.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return out


def cli_command() -> list[str]:
    """Return the command that runs ``swmr-widgets`` in the current environment.

    The console script next to the interpreter is preferred; otherwise the
    module is run with ``python -m swmr_widgets.cli``.
    """
    script = Path(sys.executable).parent / "swmr-widgets"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "swmr_widgets.cli"]


def safe_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120] or "shot"


def save_log(log_path: Path, artifacts_dir: Path, prefix: str) -> None:
    """Copy a server log into ``artifacts_dir`` as ``<prefix>-<name>``."""
    with contextlib.suppress(OSError):
        shutil.copy(log_path, artifacts_dir / f"{safe_name(prefix)}-{log_path.name}")
