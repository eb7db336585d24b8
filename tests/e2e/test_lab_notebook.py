"""End to end: the live view run from notebooks in JupyterLab 4 and Notebook 7.

* JupyterLab runs ``notebooks/quickstart.ipynb`` cell by cell, as a reader of
  the README would: the notebook starts its own demo writer, shows the view,
  then selects the trend, the spectrum and the camera. Shutting the kernel down
  through the Jupyter REST API must end the writer too.
* Notebook 7 runs a one-cell viewer notebook against a demo writer started by
  the test, and the figure and the tree must follow the writer.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from live_servers import REPO_ROOT, JupyterServer, kill_pid, pid_alive, write_view_notebook
from live_view import (
    KERNEL_IDLE_JS,
    line_paths,
    wait_for_axis_label,
    wait_for_line_change,
    wait_for_tree_growth,
    wait_for_view,
)

from swmr_widgets.demo import TREND_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

NOTEBOOK = ".jp-Notebook "
CODE_EDITOR = ".jp-Notebook .jp-CodeCell .cm-content"
QUICKSTART = REPO_ROOT / "notebooks" / "quickstart.ipynb"
WRITER_PID_RE = re.compile(r"writer pid (\d+)")


def _run_cells(page: Any, count: int) -> None:
    """Press Shift+Enter ``count`` times: run (or render) and advance, cell by cell."""
    for _ in range(count):
        page.keyboard.press("Shift+Enter")
        time.sleep(0.15)


def _wait_for_text(page: Any, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    """Wait until the notebook's outputs contain ``pattern``; return the match."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.locator(f"{NOTEBOOK}.jp-OutputArea").all_text_contents()
        m = pattern.search("\n".join(text))
        if m:
            return m
        time.sleep(0.2)
    raise AssertionError(f"no output matching {pattern.pattern!r} within {timeout:g} s: {text}")


@pytest.mark.skipif(not QUICKSTART.is_file(), reason="notebooks/quickstart.ipynb is missing")
def test_quickstart_notebook_in_jupyterlab(
    jupyter_server: Callable[..., JupyterServer],
    page: Any,
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(QUICKSTART, root / QUICKSTART.name)
    server = jupyter_server("lab", root)
    page.goto(server.url(f"/lab/tree/{QUICKSTART.name}"), wait_until="domcontentloaded")
    page.locator(CODE_EDITOR).first.wait_for(timeout=90_000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)

    writer_pid: int | None = None
    try:
        # cell 2 starts the writer, cell 3 is markdown, cell 4 shows the view
        page.locator(CODE_EDITOR).first.click()
        _run_cells(page, 3)
        writer_pid = int(_wait_for_text(page, WRITER_PID_RE, timeout=60).group(1))
        server.remember_children()
        assert pid_alive(writer_pid), f"the notebook's writer (pid {writer_pid}) is not running"

        first = wait_for_view(page, scope=NOTEBOOK, timeout=90)
        time.sleep(1.0)
        wait_for_line_change(page, first, timeout=8, scope=NOTEBOOK)
        screenshot(page, "lab_quickstart_view")

        # cells 5-7: list the paths, then select trend, spectrum and camera from code
        _run_cells(page, 3)
        _wait_for_text(page, re.compile(r"selected:"), timeout=60)
        page.locator(f"{NOTEBOOK}.swmr-view").first.scroll_into_view_if_needed()
        wait_for_axis_label(page, "wavelength (nm)", timeout=20, scope=NOTEBOOK)
        drawn = line_paths(page, NOTEBOOK)
        wait_for_line_change(page, drawn, timeout=8, scope=NOTEBOOK)
        screenshot(page, "lab_quickstart_three_panels")

        # the writer belongs to the kernel: shutting the kernel down ends it
        assert server.shutdown_kernels(), "JupyterLab runs no kernel?"
        deadline = time.monotonic() + 20
        while pid_alive(writer_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pid_alive(writer_pid), (
            f"the quick-start writer (pid {writer_pid}) survived its kernel's shutdown"
        )
    finally:
        if writer_pid is not None and pid_alive(writer_pid):
            kill_pid(writer_pid)


def test_viewer_notebook_in_notebook7(
    jupyter_server: Callable[..., JupyterServer],
    demo_writer: Callable[..., Any],
    page: Any,
    screenshot: Callable[[Any, str], Path],
    tmp_path: Path,
) -> None:
    root = tmp_path / "nb7"
    root.mkdir()
    h5 = root / "scan.h5"
    demo_writer(h5, rate=10)
    nb = write_view_notebook(root, h5, interval=0.2, tree_interval=0.5)
    server = jupyter_server("notebook", root)
    page.goto(server.url(f"/notebooks/{nb.name}"), wait_until="domcontentloaded")
    page.locator(CODE_EDITOR).first.wait_for(timeout=90_000)
    server.wait_kernel_idle(timeout=90)

    page.locator(CODE_EDITOR).first.click()
    page.keyboard.press("Shift+Enter")
    first = wait_for_view(page, scope=NOTEBOOK, timeout=90)
    time.sleep(0.6)
    wait_for_line_change(page, first, timeout=5, scope=NOTEBOOK)
    wait_for_tree_growth(page, TREND_PATH, timeout=6, scope=NOTEBOOK)
    screenshot(page, "notebook7_view")
