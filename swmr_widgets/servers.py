"""The Voilà and JupyterLab servers behind ``swmr-widgets``: what they serve and how they run.

* :func:`viewer_notebook` / :func:`write_viewer_notebook`: the one-cell notebook
  that shows ``SwmrView(FILE)``;
* :func:`voila_command`, :func:`lab_command` and :func:`write_lab_settings`: the
  server command lines, on ``127.0.0.1`` only, and a private JupyterLab
  settings directory;
* :func:`start_server`, :func:`wait_until_listening` and :func:`stop_server`:
  the server process, in a process group of its own
  (:mod:`swmr_widgets.processes`), with the environment that lets its kernels
  import this very package.

Like :mod:`swmr_widgets.cli`, it never imports ipywidgets, bqplot or Jupyter:
the servers run as ``sys.executable -m voila`` (or ``-m jupyter lab``).
"""

from __future__ import annotations

import html
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from swmr_widgets import processes

__all__ = [
    "HOST",
    "LAB_SETTINGS",
    "NOTEBOOK_NAME",
    "SERVER_START_TIMEOUT",
    "SERVER_STOP_TIMEOUT",
    "find_free_port",
    "lab_command",
    "port_accepts",
    "start_server",
    "stop_server",
    "viewer_notebook",
    "voila_command",
    "wait_until_listening",
    "write_lab_settings",
    "write_viewer_notebook",
]

HOST = "127.0.0.1"
NOTEBOOK_NAME = "swmr_viewer.ipynb"
#: Seconds to wait for the server to accept connections.
SERVER_START_TIMEOUT = 90.0
#: Seconds to wait for the server to exit after SIGTERM before SIGKILL.
SERVER_STOP_TIMEOUT = 15.0


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


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on ``host:port``.

    Parameters
    ----------
    host : str
        Address to connect to.
    port : int
        TCP port.
    timeout : float, optional
        Seconds to wait for the connection.

    Returns
    -------
    bool
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


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
        HDF5 file to watch, or a folder (the view follows its newest file). It
        is made absolute, since the kernel runs in the notebook's directory.
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
    if Path(path).is_dir():  # a folder of scan files: show the newest, switch to each new one
        extra += ", follow='newest'"
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


def start_server(cmd: list[str], *, quiet: bool) -> subprocess.Popen[bytes]:
    """Start the server command ``cmd`` in its own session, output to stderr (or nowhere).

    Own session: a terminal Ctrl-C reaches only this command, which then stops
    the server cleanly instead of Jupyter's "shut down? (y/n)".

    Parameters
    ----------
    cmd : list of str
        From :func:`voila_command` or :func:`lab_command`.
    quiet : bool
        Discard the server's output instead of passing it to stderr.

    Returns
    -------
    subprocess.Popen
        The server; stop it with :func:`stop_server`.
    """
    out: int = subprocess.DEVNULL if quiet else sys.stderr.fileno()
    return processes.spawn(cmd, stdout=out, stderr=out, env=_server_env())


def wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    """Block until the server accepts connections on ``127.0.0.1:port``.

    Parameters
    ----------
    proc : subprocess.Popen
        The server process.
    port : int
        Its TCP port.
    timeout : float
        Seconds to wait.

    Raises
    ------
    RuntimeError
        If the server exits first or does not listen in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"the server exited with code {code} before it was ready")
        if port_accepts(HOST, port):
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
