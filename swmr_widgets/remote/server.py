"""Start and stop a local Tiled server (``tiled serve catalog``), for tests and benchmarks.

The server listens on 127.0.0.1 only. :class:`TiledServer` with a
`directory` keeps its catalog there (SQLite and array storage), so a server
started again on the same directory finds what was written before; without
one it uses ``--temp`` (everything is lost when it stops).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from swmr_widgets.processes import spawn, stop
from swmr_widgets.servers import HOST, find_free_port

__all__ = ["TiledServer"]

_TILED = [sys.executable, "-m", "tiled", "serve"]
#: Seconds a server gets to answer HTTP after it starts (it takes 5-30 s on 2 busy cores).
START_TIMEOUT = 120.0


class TiledServer:
    """A ``tiled serve catalog`` child process on 127.0.0.1.

    Parameters
    ----------
    port : int, optional
        TCP port (default: a free one). A restarted server keeps its port.
    api_key : str, optional
        The single-user API key (alphanumeric; default: a random one).
    directory : str or os.PathLike, optional
        Where to keep the catalog across restarts (default: ``--temp``).
    log : file object, optional
        Where the server's output goes (default: discarded).
    """

    def __init__(
        self,
        port: int | None = None,
        api_key: str | None = None,
        directory: str | os.PathLike[str] | None = None,
        log: IO[Any] | None = None,
    ) -> None:
        self.port = port or find_free_port()
        self.api_key = api_key or secrets.token_hex(16)
        self.directory = Path(directory) if directory is not None else None
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The ``tiled serve catalog`` command line."""
        where = ["--host", HOST, "--port", str(self.port)]
        if self.directory is None:
            return [*_TILED, "catalog", "--temp", "--api-key", self.api_key, *where]
        # a kept catalog with streaming needs a configuration file: tiled 0.2.20's
        # `serve catalog --cache` without --temp fails
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        config = {
            "authentication": {"single_user_api_key": self.api_key},
            "trees": [
                {
                    "path": "/",
                    "tree": "catalog",
                    "args": {
                        "uri": f"sqlite:///{self.directory / 'catalog.db'}",
                        "writable_storage": str(data),
                        "init_if_not_exists": True,
                    },
                }
            ],
            "streaming_cache": {"uri": "memory"},
        }
        path = self.directory / "config.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return [*_TILED, "config", str(path), *where]

    def start(self, timeout: float = START_TIMEOUT) -> TiledServer:
        """Start the server and wait until it answers HTTP.

        Raises
        ------
        TimeoutError
            If it does not answer within `timeout` seconds (it is stopped then).
        ChildProcessError
            If it exits while starting.
        """
        out = self.log if self.log is not None else subprocess.DEVNULL
        self.proc = spawn(self.command(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ChildProcessError(
                    f"tiled serve exited with status {self.proc.returncode} while starting"
                )
            if self.answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"tiled serve did not answer on {self.uri} within {timeout:.0f} s")

    def answers(self) -> bool:
        """Whether the server answers its ``/api/v1/`` (server information) request."""
        try:
            with urllib.request.urlopen(f"{self.uri}/api/v1/", timeout=2) as reply:
                return bool(json.load(reply))
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM to its process group, then SIGKILL)."""
        if self.proc is not None:
            stop(self.proc, timeout)
            self.proc = None

    def __enter__(self) -> TiledServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
