"""End to end: ``swmr-widgets demo`` in headless Chromium.

The command starts the simulated SWMR writer and a Voilà server. The page must
show the dataset tree and a bqplot figure whose line keeps changing without any
user action, and stopping the command must end every process it started.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from live_view import (
    FIGURE_SVG,
    KERNEL_IDLE_JS,
    TREE,
    line_paths,
    wait_for_drawn_line,
)
from live_view import STDERR_OUTPUT as ERROR_OUTPUT

pytestmark = pytest.mark.e2e


def _demo_file(output: str) -> Path | None:
    """Return the HDF5 path the demo command announced, if any."""
    m = re.search(r"demo writer on (\S+\.h5)", output)
    return Path(m.group(1)) if m else None


def test_demo_page_updates_live(swmr_cli, page, screenshot, free_port):
    server = swmr_cli("demo", "--no-browser", "--port", str(free_port), "--rate", "10")
    assert server.url == f"http://127.0.0.1:{free_port}/"

    page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
    # Whichever comes first: the tree, or a traceback (fail fast with its text).
    page.wait_for_selector(f"{TREE}, {ERROR_OUTPUT}", timeout=90_000)
    errors = page.locator(ERROR_OUTPUT)
    if errors.count():
        pytest.fail("the viewer notebook failed:\n" + errors.first.inner_text()[-3000:])
    page.wait_for_selector(FIGURE_SVG, timeout=60_000)
    first = wait_for_drawn_line(page, timeout=30)

    # No clicks from here on: the view must redraw by itself.
    time.sleep(2.0)
    second = line_paths(page)
    deadline = time.monotonic() + 8.0
    while second == first and time.monotonic() < deadline:
        time.sleep(0.5)
        second = line_paths(page)
    shot = screenshot(page, "cli_demo_live")
    assert second != first, "the plotted line did not change while the writer was running"
    assert shot.is_file() and shot.stat().st_size > 0

    # The tree lists the demo datasets.
    rows = page.eval_on_selector_all(
        ".swmr-tree-row[data-path]", "els => els.map(e => e.dataset.path)"
    )
    assert any(r.endswith("/data") for r in rows), rows

    # Stopping the command ends the server, its kernels and the writer.
    children = server.remember_children()
    assert children, "the command started no child processes?"
    h5 = _demo_file(server.output)
    page.close()
    code = server.terminate(timeout=30)
    assert code == 0, f"exit code {code}\n{server.output}\n{server.log_tail()}"
    left = server.wait_children_gone(timeout=15)
    assert not left, f"processes left after stop: {[p.pid for p in left]}"
    if h5 is not None:
        assert not h5.parent.exists(), f"temporary directory {h5.parent} was not removed"


def test_demo_in_jupyterlab(swmr_cli, page, screenshot, free_port):
    """``--server lab`` opens the viewer notebook in JupyterLab; running it shows the view."""
    server = swmr_cli("demo", "--no-browser", "--server", "lab", "--port", str(free_port))
    assert server.url.startswith(f"http://127.0.0.1:{free_port}/lab/tree/")
    assert "token=" in server.url

    page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
    cell = page.locator(".jp-Notebook .jp-CodeCell .cm-content").first
    cell.wait_for(timeout=90_000)
    # Run the cell only once its kernel is up: earlier key presses can get lost.
    page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
    cell.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(
        f".jp-Notebook {TREE}, .jp-Notebook {ERROR_OUTPUT}, .jp-Notebook .jp-RenderedText"
        "[data-mime-type='application/vnd.jupyter.error']",
        timeout=120_000,
    )
    errors = page.locator(".jp-Notebook [data-mime-type*='error'], .jp-Notebook " + ERROR_OUTPUT)
    if errors.count():
        pytest.fail("the viewer notebook failed:\n" + errors.first.inner_text()[-3000:])
    page.wait_for_selector(f".jp-Notebook {FIGURE_SVG}", timeout=60_000)
    wait_for_drawn_line(page, timeout=30)
    screenshot(page, "cli_demo_lab")

    children = server.remember_children()
    code = server.terminate(timeout=30)
    assert code == 0, f"exit code {code}\n{server.output}\n{server.log_tail()}"
    left = server.wait_children_gone(timeout=15)
    assert not left, f"processes left after stop: {[p.pid for p in left]}"
    assert children
