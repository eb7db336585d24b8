"""End to end: an ROI trend and a derived trend drawn live in a Voilà page in Chromium.

The notebook shows the demo spectrum and adds an ROI of the camera (in µm) and
a trend of the spectrum's peak position from Python. The page must draw the trend panel with
one line per trend and a legend, and keep redrawing it as frames arrive. (The
export button's action is tested in the kernel, tests/test_export.py: through a
loaded machine's Chromium its round trip took from 20 s to over a minute.)
"""

from __future__ import annotations

import time

import pytest
from live_servers import write_code_notebook
from live_view import line_paths, status, wait_for_drawn_line, wait_for_line_change, wait_for_view

from swmr_widgets.demo import FRAME_PATH, SPECTRUM_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TRENDS = ".swmr-trends "


def test_trend_panel_draws_live(demo_writer, jupyter_server, page, screenshot, tmp_path):
    h5 = tmp_path / "scan.h5"
    demo_writer(h5, rate=10, duration=120)
    code = (
        "import numpy as np\n"
        "from swmr_widgets import SwmrView\n"
        # the spectrum is shown; the ROI is taken on the camera, which is not shown
        f"view = SwmrView({str(h5)!r}, interval=0.3, selected=({SPECTRUM_PATH!r},))\n"
        f"roi = view.add_roi({FRAME_PATH!r}, x=(200, 500), y=(150, 400))\n"
        f"peak = view.add_trend('peak', lambda s: float(np.argmax(s)), {SPECTRUM_PATH!r})\n"
        "view"
    )
    server = jupyter_server("voila", write_code_notebook(tmp_path, code, "trends.ipynb"))
    page.goto(server.url("/"), wait_until="domcontentloaded", timeout=60_000)
    wait_for_view(page, timeout=90)
    first = wait_for_drawn_line(page, timeout=30, scope=TRENDS)
    # one line per trend (the legend's two swatches are short paths too)
    assert len([d for d in line_paths(page, TRENDS) if len(d) > 40]) == 2
    texts = page.eval_on_selector_all(f"{TRENDS}svg text", "els => els.map(e => e.textContent)")
    assert "ROI 1 sum" in texts and "peak" in texts, texts  # the legend
    time.sleep(1.0)
    wait_for_line_change(page, first, timeout=15, scope=TRENDS, what="the ROI trend")
    assert "error" not in status(page), status(page)
    assert page.locator("button.swmr-export").count() == 1  # its action: test_export.py
    screenshot(page, "trends_page")
