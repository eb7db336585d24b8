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
    $ swmr-widgets view data/2026-12-02/     # the newest scan file of a folder
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import sys
import tempfile
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from swmr_widgets.demo import DemoConfig, DemoWriter, positive_float
from swmr_widgets.servers import (
    HOST,
    SERVER_START_TIMEOUT,
    find_free_port,
    lab_command,
    port_accepts,
    start_server,
    stop_server,
    voila_command,
    wait_until_listening,
    write_lab_settings,
    write_viewer_notebook,
)

__all__ = ["build_parser", "main"]

DEMO_FILE_NAME = "demo_scan.h5"


class _Terminate(Exception):
    """Raised from the SIGINT/SIGTERM/SIGHUP handler to unwind into the cleanup code."""


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------
def _version() -> str:
    from swmr_widgets import __version__

    return __version__


def _say(msg: str, stream: IO[str] | None = None) -> None:
    """Print ``msg`` and flush at once (the output is often a pipe)."""
    stream = sys.stdout if stream is None else stream
    print(msg, file=stream, flush=True)


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

    if port_accepts(HOST, port):
        _say(f"error: port {port} on {HOST} is already in use", sys.stderr)
        return 2

    proc = start_server(cmd, quiet=args.quiet)
    try:
        _say(f"Starting {args.server} (pid {proc.pid}) on {HOST}:{port} ...")
        wait_until_listening(proc, port, SERVER_START_TIMEOUT)
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
            h5_path, wait, title = view_target(args.file)
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


def view_target(arg: str) -> tuple[Path, bool | None, str]:
    """What ``swmr-widgets view ARG`` shows: ``(path, wait, page title)``.

    A folder is followed: the view switches to each new HDF5 file in it (one
    file per scan). A file that does not exist yet is waited for.
    """
    path = Path(arg).expanduser().absolute()
    if path.is_dir():
        _say(f"Following the newest HDF5 file in {path} (one file per scan).")
        return path, None, f"{path.name}/ (newest scan)"
    if not path.exists():
        _say(f"note: {path} does not exist yet; the view waits for it.")
        return path, True, path.name
    return path, None, path.name


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
        help="watch an existing (or future) HDF5 file, or the newest file of a folder",
        description="Serve a live view of FILE, or of the newest HDF5 file in DIR.",
    )
    view.add_argument(
        "file", metavar="FILE|DIR", help="HDF5 file to watch, or a folder of scan files"
    )
    add_server_options(view)

    from swmr_widgets import tail

    tail.add_arguments(
        sub.add_parser(
            "tail",
            help="print new rows of a live file in the terminal",
            description="Follow FILE and print each new row of its 0-D datasets (like h5watch).",
        )
    )
    from swmr_widgets.remote import publish

    publish.add_arguments(
        sub.add_parser(
            "publish",
            help="mirror live HDF5 files into a Tiled server",
            description="Follow PATH (files, or directories of scan files) and mirror them "
            "into the Tiled server at URL, for viewers on other machines.",
        )
    )
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
    if args.command == "tail":
        from swmr_widgets import tail

        return tail.run(args)
    if args.command == "publish":
        from swmr_widgets.remote import publish

        return publish.run(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
