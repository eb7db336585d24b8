"""Start child processes in a process group of their own, and stop the whole group.

Every helper process of the package and of its tests (demo writers, Voilà and
JupyterLab servers, scripted writers, benchmark agents) is started with
:func:`spawn` and ended with :func:`stop` or :func:`kill`:

* :func:`spawn` starts the command in a new session, so that it leads its own
  process group: a Ctrl-C in the terminal reaches only the parent, which then
  stops its children cleanly, and the children's own children can be signalled
  with them.
* :func:`stop` sends SIGTERM to the group, waits, sends SIGKILL to whatever is
  left of the group, and reaps the child. :func:`kill` skips SIGTERM, as a crash
  would.

Neither raises for a child that has already exited. Standard library only; on
systems without process groups only the child itself is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["kill", "spawn", "stop"]

_POSIX = os.name == "posix"
#: What ``stdin``, ``stdout`` and ``stderr`` of :func:`spawn` accept.
Stream = int | IO[Any] | None


def spawn(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdin: Stream = subprocess.DEVNULL,
    stdout: Stream = None,
    stderr: Stream = None,
    text: bool = False,
    **popen_options: Any,
) -> subprocess.Popen:
    """Start `cmd` as the leader of a new session and process group.

    Parameters
    ----------
    cmd : sequence of str or os.PathLike
        The command line.
    env : dict, optional
        Environment (default: this process's).
    cwd : str or os.PathLike, optional
        Working directory (default: this process's).
    stdin, stdout, stderr : int, file object or None
        As for :class:`subprocess.Popen`; `stdin` defaults to
        :data:`subprocess.DEVNULL` so that a child never reads the terminal.
    text : bool
        Text mode pipes.
    **popen_options
        Further :class:`subprocess.Popen` options (``encoding``, ``bufsize``...).

    Returns
    -------
    subprocess.Popen
        The child; its PID is also its process group id (POSIX).
    """
    return subprocess.Popen(
        list(cmd),
        env=env,
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        text=text,
        start_new_session=_POSIX,
        **popen_options,
    )


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send `sig` to the group led by `proc`, or to `proc` alone if it leads none."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _POSIX and (proc.poll() is not None or os.getpgid(proc.pid) == proc.pid):
            os.killpg(proc.pid, sig)  # also after the leader exited: its group may live on
        elif proc.poll() is None:
            proc.send_signal(sig)


def _reap(proc: subprocess.Popen, timeout: float) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    return proc.poll()


def stop(proc: subprocess.Popen, timeout: float = 10.0, *, kill_timeout: float = 5.0) -> int | None:
    """Stop a child started by :func:`spawn`, and every process left in its group.

    SIGTERM goes to the group; after `timeout` seconds, or as soon as the child
    has exited, SIGKILL goes to whatever is left of the group (grandchildren
    included); then the child is reaped.

    Parameters
    ----------
    proc : subprocess.Popen
        A child that leads its own process group.
    timeout : float
        Seconds the child gets to exit after SIGTERM.
    kill_timeout : float
        Seconds to wait for the child to be reaped after SIGKILL.

    Returns
    -------
    int or None
        The exit status (negative: ended by that signal), or ``None`` if the
        child could not be reaped in time.
    """
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        _reap(proc, timeout)
    return kill(proc, kill_timeout)


def kill(proc: subprocess.Popen, timeout: float = 5.0) -> int | None:
    """SIGKILL the group of a child started by :func:`spawn`, as a crash would; reap it.

    Parameters
    ----------
    proc : subprocess.Popen
        A child that leads its own process group.
    timeout : float
        Seconds to wait for the child to be reaped.

    Returns
    -------
    int or None
        The exit status, or ``None`` if the child could not be reaped in time.
    """
    _signal_group(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
    return _reap(proc, timeout)
