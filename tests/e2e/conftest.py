"""Fixtures for end-to-end tests: a real ``swmr-widgets`` server and headless Chromium.

Every test in this directory is marked ``e2e``. Select or skip them with
``pytest -m e2e`` / ``pytest -m "not e2e"``.

Fixtures
--------
free_port
    A free TCP port on 127.0.0.1.
artifacts_dir
    ``test-artifacts/`` at the repository root (git-ignored), created on demand.
browser
    A session-wide Playwright ``Browser`` on the system Chromium
    (``/usr/bin/chromium``); the tests are skipped if it is missing.
page
    A fresh browser context and page per test (1280x900). If the test fails,
    a screenshot ``<test>-failure.png`` is saved in ``artifacts_dir``.
screenshot
    ``screenshot(page, name) -> Path`` saves a full-page PNG in ``artifacts_dir``.
swmr_cli
    Factory ``swmr_cli(*args, timeout=90) -> CliServer``: runs the
    ``swmr-widgets`` command (e.g. ``"demo", "--no-browser", "--port", "8866"``)
    in its own process group, waits for its ``URL:`` line, and tears it down by
    PID (SIGTERM, wait, SIGKILL) after the test, also when the test fails.

Chromium is never downloaded: ``playwright install`` is not used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
URL_RE = re.compile(r"^URL:\s*(?P<url>https?://\S+)\s*$")


# ----------------------------------------------------------------------------
# marking
# ----------------------------------------------------------------------------
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from this directory with ``pytest.mark.e2e``."""
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item so fixtures can see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# ----------------------------------------------------------------------------
# process helpers
# ----------------------------------------------------------------------------
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


def _alive(procs: list[Any]) -> list[Any]:
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


class CliServer:
    """A running ``swmr-widgets`` command started by the :func:`swmr_cli` fixture.

    Attributes
    ----------
    proc : subprocess.Popen
        The command; it leads its own process group.
    url : str or None
        The address from its ``URL:`` line.
    lines : list of str
        Its standard output so far.
    log_path : pathlib.Path
        File that receives its standard error (server logs).
    """

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self.lines: list[str] = []
        self.url: str | None = None
        self._url_event = threading.Event()
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            cwd=str(REPO_ROOT),
            start_new_session=True,
        )
        self._known: dict[int, Any] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """PID of the command."""
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = URL_RE.match(line)
            if m and self.url is None:
                self.url = m.group("url")
                self._url_event.set()
        self._url_event.set()  # EOF: wake up waiters

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
        """Last ``n`` characters of the command's standard error."""
        with contextlib.suppress(OSError):
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
        """Terminate, then SIGKILL the group and any recorded descendant left over."""
        code = self.terminate(timeout)
        if code is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        for p in _alive(self.known_children):
            with contextlib.suppress(Exception):
                p.kill()
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            self._log.close()
        return self.proc.poll()


def cli_command() -> list[str]:
    """Return the command that runs ``swmr-widgets`` in the current environment.

    The console script next to the interpreter is preferred; otherwise the
    module is run with ``python -m swmr_widgets.cli``.
    """
    script = Path(sys.executable).parent / "swmr-widgets"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "swmr_widgets.cli"]


# ----------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------
@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when the fixture ran."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` at the repository root (git-ignored)."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless system Chromium driven by Playwright (skipped if unavailable)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        br = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield br
        finally:
            br.close()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120] or "shot"


@pytest.fixture
def screenshot(artifacts_dir: Path) -> Callable[[Any, str], Path]:
    """Return ``shot(page, name)`` that saves a full-page PNG in ``artifacts_dir``."""

    def shot(page: Any, name: str) -> Path:
        path = artifacts_dir / f"{_safe_name(name)}.png"
        page.screenshot(path=str(path), full_page=True, timeout=20_000)
        return path

    return shot


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[Any]:
    """A new page in a fresh context; a screenshot is saved if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    pg.console_messages_seen = console  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            name = _safe_name(request.node.nodeid.split("::")[-1])
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(artifacts_dir / f"{name}-failure.png"), full_page=True)
            with contextlib.suppress(OSError):
                (artifacts_dir / f"{name}-console.txt").write_text("\n".join(console))
        context.close()


@pytest.fixture
def swmr_cli(
    tmp_path: Path, request: pytest.FixtureRequest, artifacts_dir: Path
) -> Iterator[Callable[..., CliServer]]:
    """Factory that starts ``swmr-widgets ARGS...`` and waits for its URL line.

    Every command it started is stopped by PID at teardown (SIGTERM, wait,
    SIGKILL of its group and of the descendants it was seen with).
    """
    started: list[CliServer] = []

    def start(*args: str, timeout: float = 90.0) -> CliServer:
        log = tmp_path / f"swmr-widgets-{len(started)}.log"
        server = CliServer([*cli_command(), *map(str, args)], log)
        started.append(server)
        server.wait_url(timeout)
        return server

    try:
        yield start
    finally:
        rep = getattr(request.node, "rep_call", None)
        for server in started:
            server.stop()
            if rep is not None and rep.failed:
                name = _safe_name(request.node.nodeid.split("::")[-1])
                with contextlib.suppress(OSError):
                    shutil.copy(server.log_path, artifacts_dir / f"{name}-{server.log_path.name}")
