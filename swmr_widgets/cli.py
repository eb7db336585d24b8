"""Command line entry point: ``swmr-widgets demo`` and ``swmr-widgets view FILE``.

Both commands write a small viewer notebook into a temporary directory and
serve it with Voilà (default) or JupyterLab on ``127.0.0.1``.  The address is
printed on one line starting with ``URL:`` so that scripts and tests can parse
it.  Ctrl-C or SIGTERM stops the server and, for ``demo``, the simulated
writer, and removes the temporary directory.

The module stays import-light on purpose: it never imports ipywidgets, bqplot
or Jupyter itself.  The server runs as ``sys.executable -m voila`` (or
``-m jupyter lab``), so the kernel uses the same Python environment as the
command.

Examples
--------
.. code-block:: console

    $ swmr-widgets demo                      # simulated acquisition + Voilà page
    $ swmr-widgets demo --server lab --rate 20
    $ swmr-widgets view scan.h5 --port 8866 --no-browser
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from swmr_widgets import processes
from swmr_widgets.demo import DemoConfig, DemoWriter, positive_float

__all__ = [
    "find_free_port",
    "lab_command",
    "main",
    "stop_server",
    "viewer_notebook",
    "voila_command",
    "write_lab_settings",
    "write_viewer_notebook",
]

HOST = "127.0.0.1"
NOTEBOOK_NAME = "swmr_viewer.ipynb"
DEMO_FILE_NAME = "demo_scan.h5"

#: Seconds to wait for the server to accept connections.
SERVER_START_TIMEOUT = 90.0
#: Seconds to wait for the server to exit after SIGTERM before SIGKILL.
SERVER_STOP_TIMEOUT = 15.0


class _Terminate(Exception):
    """Raised from the SIGINT/SIGTERM/SIGHUP handler to unwind into the cleanup code."""


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def _version() -> str:
    from swmr_widgets import __version__

    return __version__


def find_free_port(host: str = HOST) -> int:
    """Return a TCP port on ``host`` that is free at the time of the call.

    Parameters
    ----------
    host : str, optional
        Interface to bind, ``127.0.0.1`` by default.

    Returns
    -------
    int
        A port number chosen by the operating system.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _say(msg: str, stream: IO[str] | None = None) -> None:
    """Print ``msg`` and flush at once (the output is often a pipe)."""
    stream = sys.stdout if stream is None else stream
    print(msg, file=stream, flush=True)


# ----------------------------------------------------------------------------
# the viewer notebook
# ----------------------------------------------------------------------------
def _cell_lines(text: str) -> list[str]:
    """Split ``text`` into the list-of-lines form used in ``.ipynb`` files."""
    return text.splitlines(keepends=True)


def viewer_notebook(
    h5_path: str | os.PathLike[str],
    *,
    interval: float = 0.5,
    title: str | None = None,
    explain: bool = False,
    wait: bool | None = None,
) -> dict[str, Any]:
    """Build a notebook (as a JSON-ready dict) that shows ``SwmrView(h5_path)``.

    The file path is embedded with :func:`repr` of a ``str``, so quotes,
    backslashes or non-ASCII characters in the path cannot break the code.

    Parameters
    ----------
    h5_path : str or os.PathLike
        HDF5 file to watch. It is made absolute, since the kernel runs in the
        notebook's directory.
    interval : float, optional
        Polling interval in seconds passed to ``SwmrView``.
    title : str, optional
        Heading shown above the view; defaults to the file name.
    explain : bool, optional
        Add a short explanation for interactive use (JupyterLab), by default
        False (the Voilà page shows only the heading and the view).
    wait : bool or None, optional
        Passed to ``SwmrView`` when not None; ``True`` makes the view wait for
        a file that does not exist yet.

    Returns
    -------
    dict
        An nbformat 4 notebook.
    """
    path = str(Path(h5_path).expanduser().absolute())
    heading = html.escape(title if title is not None else Path(path).name)
    md = f"# {heading}\n\nLive view of <code>{html.escape(path)}</code>."
    if explain:
        md += (
            "\n\nRun the cell below. The view polls the file every "
            f"{float(interval):g} s while the writer appends data. Pick datasets in the "
            "tree, pause with the play/pause button, or set `view.selected` from code."
        )
    extra = "" if wait is None else f", wait={bool(wait)!r}"
    code = (
        "from swmr_widgets import SwmrView\n"
        "\n"
        f"view = SwmrView({path!r}, interval={float(interval)!r}{extra})\n"
        "view"
    )
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "swmr-title",
                "metadata": {},
                "source": _cell_lines(md),
            },
            {
                "cell_type": "code",
                "id": "swmr-view",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": _cell_lines(code),
            },
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_viewer_notebook(
    directory: str | os.PathLike[str],
    h5_path: str | os.PathLike[str],
    *,
    interval: float = 0.5,
    title: str | None = None,
    explain: bool = False,
    wait: bool | None = None,
    name: str = NOTEBOOK_NAME,
) -> Path:
    """Write :func:`viewer_notebook` into ``directory`` and return its path.

    Parameters
    ----------
    directory : str or os.PathLike
        Existing directory that receives the notebook.
    h5_path : str or os.PathLike
        HDF5 file to watch.
    interval : float, optional
        Polling interval in seconds.
    title : str, optional
        Heading of the page.
    explain : bool, optional
        Add a short usage note.
    wait : bool or None, optional
        Passed on to ``SwmrView`` when not None.
    name : str, optional
        File name of the notebook.

    Returns
    -------
    pathlib.Path
        Path of the written notebook.
    """
    nb = viewer_notebook(h5_path, interval=interval, title=title, explain=explain, wait=wait)
    out = Path(directory) / name
    out.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return out


# ----------------------------------------------------------------------------
# servers
# ----------------------------------------------------------------------------
def _is_installed() -> bool:
    """Return True if the ``swmr-widgets`` distribution is installed (also editable)."""
    from importlib import metadata

    try:
        metadata.distribution("swmr-widgets")
    except metadata.PackageNotFoundError:
        return False
    return True


def _server_env() -> dict[str, str]:
    """Environment for the server and its kernels.

    When the package is used from a source checkout that is not installed, the
    checkout is put on ``PYTHONPATH`` so the kernel imports the same
    ``swmr_widgets`` as this command.
    """
    env = dict(os.environ)
    pkg_parent = Path(__file__).resolve().parent.parent
    if not _is_installed() and (pkg_parent / "pyproject.toml").is_file():
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(pkg_parent) not in parts:
            env["PYTHONPATH"] = os.pathsep.join([str(pkg_parent), *parts])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def voila_command(notebook: str | os.PathLike[str], port: int) -> list[str]:
    """Return the command line that serves ``notebook`` with Voilà.

    Parameters
    ----------
    notebook : str or os.PathLike
        Notebook to serve (single-notebook mode, page at ``/``).
    port : int
        TCP port on 127.0.0.1; no fallback to another port.

    Returns
    -------
    list of str
        Arguments for :class:`subprocess.Popen`.
    """
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--Voila.ip={HOST}",
        "--show_tracebacks=True",
    ]


#: JupyterLab settings of the throw-away session: start the notebook's kernel
#: without asking, and do not ask about (or fetch) Jupyter news.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def write_lab_settings(directory: str | os.PathLike[str]) -> Path:
    """Write :data:`LAB_SETTINGS` as a JupyterLab user-settings directory.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory to create the settings in (it is created if needed).

    Returns
    -------
    pathlib.Path
        The settings directory, for ``--LabApp.user_settings_dir``.
    """
    root = Path(directory)
    for plugin, values in LAB_SETTINGS.items():
        package, _, name = plugin.rpartition("/")
        folder = root / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(
            json.dumps(values, indent=2), encoding="utf-8"
        )
    return root


def lab_command(
    root_dir: str | os.PathLike[str],
    port: int,
    token: str,
    state_dir: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Return the command line that runs JupyterLab on ``root_dir``.

    Parameters
    ----------
    root_dir : str or os.PathLike
        Directory served by JupyterLab.
    port : int
        TCP port on 127.0.0.1; no fallback to another port.
    token : str
        Authentication token.
    state_dir : str or os.PathLike, optional
        Directory for this session's workspaces and user settings (see
        :func:`write_lab_settings`), so that it neither reads nor changes the
        user's own JupyterLab state.

    Returns
    -------
    list of str
        Arguments for :class:`subprocess.Popen`.
    """
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.news_url=None",
    ]
    if state_dir is not None:
        state = Path(state_dir)
        cmd += [
            f"--LabApp.workspaces_dir={state / 'workspaces'}",
            f"--LabApp.user_settings_dir={state / 'settings'}",
        ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def _start_server(cmd: list[str], *, quiet: bool) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session, output to stderr (or nowhere).

    Own session: a terminal Ctrl-C reaches only this command, which then stops
    the server cleanly instead of Jupyter's "shut down? (y/n)".
    """
    out: int = subprocess.DEVNULL if quiet else sys.stderr.fileno()
    return processes.spawn(cmd, stdout=out, stderr=out, env=_server_env())


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    """Block until the server accepts connections; raise if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"the server exited with code {code} before it was ready")
        if _port_accepts(HOST, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not listen on {HOST}:{port} within {timeout:g} s")


def stop_server(proc: subprocess.Popen[bytes], timeout: float = SERVER_STOP_TIMEOUT) -> int | None:
    """Stop a server started by this module, and what is left of its process group.

    Parameters
    ----------
    proc : subprocess.Popen
        The server process; it leads its own process group.
    timeout : float, optional
        Seconds to wait after SIGTERM before SIGKILL.

    Returns
    -------
    int or None
        The exit code, or None if it could not be collected.

    See Also
    --------
    swmr_widgets.processes.stop
    """
    return processes.stop(proc, timeout)


# ----------------------------------------------------------------------------
# the commands
# ----------------------------------------------------------------------------
def _raise_terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminate(signum)


def _serve(
    args: argparse.Namespace,
    workdir: Path,
    h5_path: Path,
    *,
    title: str,
    writer: Any = None,
    wait: bool | None = None,
) -> int:
    """Write the viewer notebook, run the server until interrupted, then clean up."""
    port = args.port or find_free_port()
    if args.server == "lab":
        nb = write_viewer_notebook(
            workdir, h5_path, interval=args.interval, title=title, explain=True, wait=wait
        )
        token = secrets.token_hex(16)
        # Session state in a hidden folder (not listed by Lab), removed at exit.
        state = workdir / ".jupyterlab-session"
        write_lab_settings(state / "settings")
        (state / "workspaces").mkdir(parents=True, exist_ok=True)
        cmd = lab_command(workdir, port, token, state_dir=state)
        url = f"http://{HOST}:{port}/lab/tree/{nb.name}?token={token}"
    else:
        nb = write_viewer_notebook(workdir, h5_path, interval=args.interval, title=title, wait=wait)
        cmd = voila_command(nb, port)
        url = f"http://{HOST}:{port}/"

    if _port_accepts(HOST, port):
        _say(f"error: port {port} on {HOST} is already in use", sys.stderr)
        return 2

    proc = _start_server(cmd, quiet=args.quiet)
    try:
        _say(f"Starting {args.server} (pid {proc.pid}) on {HOST}:{port} ...")
        _wait_until_listening(proc, port, SERVER_START_TIMEOUT)
        _say(f"URL: {url}")
        _say("Press Ctrl-C to stop.")
        if not args.no_browser:
            with contextlib.suppress(Exception):
                webbrowser.open(url)
        writer_reported = False
        while True:
            code = proc.poll()
            if code is not None:
                _say(f"The server exited with code {code}.", sys.stderr)
                return 1
            if writer is not None and not writer_reported and not writer.running:
                _say("The demo writer has finished; the file stays on view.")
                writer_reported = True
            time.sleep(0.5)
    except (KeyboardInterrupt, _Terminate):
        _say("Stopping ...")
        return 0
    except RuntimeError as exc:
        _say(f"error: {exc}", sys.stderr)
        return 1
    finally:
        stop_server(proc)


def _run(args: argparse.Namespace) -> int:
    """Run ``demo`` or ``view`` with signal handling and temp-dir cleanup."""
    old_handlers: dict[int, Any] = {}
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python
    # then never raises KeyboardInterrupt.
    stop_signals = ("SIGINT", "SIGTERM", "SIGHUP")
    for sig in (getattr(signal, name, None) for name in stop_signals):
        if sig is not None:
            with contextlib.suppress(ValueError):  # not in the main thread
                old_handlers[sig] = signal.signal(sig, _raise_terminate)

    workdir = Path(tempfile.mkdtemp(prefix="swmr-widgets-"))
    writer = None
    wait: bool | None = None
    try:
        if args.command == "demo":
            h5_path = workdir / DEMO_FILE_NAME
            writer = DemoWriter(h5_path, DemoConfig.from_args(args))
            _say(f"Starting the demo writer on {h5_path} ({args.rate:g} Hz) ...")
            writer.start()
            _say(f"Demo writer running (pid {writer.pid}).")
            title = "swmr_widgets demo: simulated acquisition"
        else:
            h5_path = Path(args.file).expanduser().absolute()
            if h5_path.is_dir():
                _say(f"error: {h5_path} is a directory", sys.stderr)
                return 2
            if not h5_path.exists():
                _say(f"note: {h5_path} does not exist yet; the view waits for it.")
                wait = True
            title = h5_path.name
        return _serve(args, workdir, h5_path, title=title, writer=writer, wait=wait)
    except (KeyboardInterrupt, _Terminate):
        _say("Stopping ...")
        return 0
    finally:
        try:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            for sig, handler in old_handlers.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, handler)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``swmr-widgets``.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the ``demo`` and ``view`` sub-commands.
    """
    parser = argparse.ArgumentParser(
        prog="swmr-widgets",
        description="Watch an HDF5 file live in the browser while another program writes it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--port", type=_port, default=0, help="TCP port on 127.0.0.1 (default: a free port)"
        )
        p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
        p.add_argument(
            "--interval",
            type=positive_float,
            default=0.5,
            help="polling interval of the view in seconds (default: 0.5)",
        )
        p.add_argument(
            "--server",
            choices=("voila", "lab"),
            default="voila",
            help="serve a Voilà page (default) or a JupyterLab session",
        )
        p.add_argument("-q", "--quiet", action="store_true", help="hide the server's log output")

    demo = sub.add_parser(
        "demo",
        help="run a simulated SWMR acquisition and watch it",
        description="Write a simulated acquisition to a temporary HDF5 file and serve a live view.",
    )
    add_server_options(demo)
    DemoConfig.add_arguments(demo, ("rate", "duration"))

    view = sub.add_parser(
        "view",
        help="watch an existing (or future) HDF5 file",
        description="Serve a live view of FILE.",
    )
    view.add_argument("file", metavar="FILE", help="HDF5 file to watch")
    add_server_options(view)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``swmr-widgets`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit status: 0 on a normal stop (Ctrl-C or SIGTERM), 1 if the server
        failed, 2 on a usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
