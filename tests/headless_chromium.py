"""The one place that launches headless Chromium for the browser tests and benchmarks.

``tests/test_tree.py`` (the tree's JavaScript on a harness page),
``tests/e2e/conftest.py`` (real Jupyter and Voila servers) and
``benchmarks/browser_latency.py`` all use :func:`shared_browser`.

Playwright's synchronous API allows only one running instance per thread, so
the browser is shared: the first user starts Playwright and Chromium, later
users get the same ``Browser``, and the last one to leave closes it. A
module-scoped fixture of ``test_tree.py`` and the session-scoped fixture of the
e2e tests can therefore be active at the same time.

Chromium is the system's (Debian package ``chromium``); ``playwright install``
is never used. Set ``SWMR_TEST_CHROMIUM`` to use another executable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM_ARGS", "find_chromium", "shared_browser"]

#: Command-line switches of every headless Chromium we start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Environment variable naming the Chromium executable to use.
CHROMIUM_ENV = "SWMR_TEST_CHROMIUM"
#: Milliseconds allowed for Chromium to start.
LAUNCH_TIMEOUT_MS = 60_000

_state: dict[str, Any] = {"users": 0, "playwright": None, "browser": None}


def find_chromium() -> Path | None:
    """Return the Chromium executable to drive, or None if there is none.

    ``$SWMR_TEST_CHROMIUM`` wins; otherwise ``chromium`` (or
    ``chromium-browser``) on ``PATH``.
    """
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        path = Path(configured)
        return path if path.is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


@contextlib.contextmanager
def shared_browser() -> Iterator[Any]:
    """Yield the process-wide headless Chromium ``Browser`` (Playwright, sync API).

    The browser is started on first use and closed when the last user exits.

    Raises
    ------
    FileNotFoundError
        If no Chromium executable is found (see :func:`find_chromium`).
    ImportError
        If Playwright is not installed.
    """
    if _state["users"] == 0:
        executable = find_chromium()
        if executable is None:
            raise FileNotFoundError(f"no chromium executable (set ${CHROMIUM_ENV})")
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(
                executable_path=str(executable),
                args=CHROMIUM_ARGS,
                headless=True,
                timeout=LAUNCH_TIMEOUT_MS,
            )
        except BaseException:
            pw.stop()
            raise
        _state.update(playwright=pw, browser=browser)
    _state["users"] += 1
    try:
        yield _state["browser"]
    finally:
        _state["users"] -= 1
        if _state["users"] == 0:
            browser, pw = _state["browser"], _state["playwright"]
            _state.update(playwright=None, browser=None)
            try:
                with contextlib.suppress(Exception):
                    browser.close()
            finally:
                pw.stop()
