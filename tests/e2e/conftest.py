"""Fixtures for end-to-end tests: real writers, real Jupyter/Voila servers, headless Chromium.

Every test in this directory is marked ``e2e``. Select or skip them with
``pytest -m e2e`` / ``pytest -m "not e2e"``.

Fixtures
--------
free_port
    A free TCP port on 127.0.0.1.
artifacts_dir
    ``test-artifacts/`` at the repository root (git-ignored), created on demand.
browser
    A session-wide Playwright ``Browser`` on the system Chromium, shared with
    ``tests/test_tree.py`` through ``tests/headless_chromium.py``; the tests
    are skipped if Chromium or Playwright is missing.
page
    A fresh browser context and page per test (1280x900). If the test fails,
    a screenshot ``<test>-failure.png`` and the console log are saved in
    ``artifacts_dir``.
screenshot
    ``screenshot(page, name) -> Path`` saves a full-page PNG in ``artifacts_dir``.
swmr_cli
    Factory ``swmr_cli(*args, timeout=90) -> CliServer``: runs the
    ``swmr-widgets`` command (e.g. ``"demo", "--no-browser", "--port", "8866"``)
    in its own process group, waits for its ``URL:`` line, and tears it down by
    PID (SIGTERM, wait, SIGKILL) after the test, also when the test fails.
demo_writer
    Factory ``demo_writer(path, rate=10, **options) -> DemoWriter``: the
    simulated acquisition of :mod:`swmr_widgets.demo` in another process,
    stopped (and, if need be, killed by PID) at teardown.
jupyter_server
    Factory ``jupyter_server(kind, target, timeout=90) -> JupyterServer`` with
    ``kind`` one of ``"voila"`` (``target``: a notebook), ``"lab"`` or
    ``"notebook"`` (``target``: the root directory). Each server listens on a
    free port of 127.0.0.1, with a random token for Jupyter, and is stopped by
    PID at teardown together with every kernel (and writer) seen below it.

The processes themselves are in ``live_servers.py`` (also as context managers,
``running_demo_writer`` and ``running_server``, for module-scoped fixtures),
and the page helpers in ``live_view.py``.

Chromium is never downloaded: ``playwright install`` is not used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_servers import (
    SERVER_START_TIMEOUT,
    CliServer,
    JupyterServer,
    cli_command,
    pick_free_port,
    safe_name,
    save_log,
    start_server,
    stop_demo_writer,
    stop_server,
)

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent


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


def _failed(request: pytest.FixtureRequest) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is not None and rep.failed


# ----------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------
@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when the fixture ran."""
    return pick_free_port()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` at the repository root (git-ignored)."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium driven by Playwright (skipped if unavailable).

    Module-scoped on purpose: while Playwright's sync API runs, the main thread
    has a running asyncio loop, so tests that call ``asyncio.run()`` must not
    run before it is stopped.
    """
    from headless_chromium import find_chromium, shared_browser

    if find_chromium() is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    with shared_browser() as br:
        yield br


@pytest.fixture
def screenshot(artifacts_dir: Path) -> Callable[[Any, str], Path]:
    """Return ``shot(page, name)`` that saves a full-page PNG in ``artifacts_dir``."""

    def shot(page: Any, name: str) -> Path:
        path = artifacts_dir / f"{safe_name(name)}.png"
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
    pg.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    pg.console_messages_seen = console  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        if _failed(request):
            name = safe_name(request.node.nodeid.split("::")[-1])
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
        for server in started:
            server.stop()
            if _failed(request):
                save_log(server.log_path, artifacts_dir, request.node.nodeid.split("::")[-1])


@pytest.fixture
def demo_writer(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory ``demo_writer(path, rate=10, **options)``: started demo writers, stopped by PID."""
    from swmr_widgets.demo import DemoWriter

    started: list[Any] = []

    def start(path: Path | None = None, rate: float = 10.0, **options: Any) -> Any:
        writer = DemoWriter(path or tmp_path / "scan.h5", rate=rate, **options)
        started.append(writer)
        writer.start(timeout=30)
        return writer

    try:
        yield start
    finally:
        for writer in started:
            stop_demo_writer(writer)


@pytest.fixture
def jupyter_server(
    tmp_path: Path, request: pytest.FixtureRequest, artifacts_dir: Path
) -> Iterator[Callable[..., JupyterServer]]:
    """Factory ``jupyter_server(kind, target)``: Voila / Lab / Notebook 7 servers.

    At teardown, also after a failure, the kernels are shut down through the
    REST API, then each server and every process seen below it is stopped by PID.
    """
    started: list[JupyterServer] = []

    def start(kind: str, target: Path, timeout: float = SERVER_START_TIMEOUT) -> JupyterServer:
        server = start_server(kind, target, tmp_path, timeout)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            stop_server(server)
            if _failed(request):
                save_log(server.log_path, artifacts_dir, request.node.nodeid.split("::")[-1])
