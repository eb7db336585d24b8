"""End to end: a live 512x512 uint16 camera at 20 Hz in Voila, painted by WebGL.

A camera (``tests/camera_writer.py``, another process) writes frames in SWMR
mode and reports each flush. The page shows ``SwmrView(file, interval=0.05)``.
The package's paint acknowledgement dispatches a ``swmr-painted`` event with
the frame's index for each frame on screen. The machine may be loaded, so the
thresholds are loose: distinct frames keep being painted, and the latency
stays bounded (it does not grow with time as a backlog would).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import camera_writer as cam
import pytest
from live_servers import running_server, save_log, write_code_notebook
from live_view import image_colors, status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RATE = 20.0
SHAPE = (512, 512)
MEASURE = 10.0
PAINTS_JS = """() => {
  window.__paints = [];
  document.addEventListener('swmr-painted', (e) => window.__paints.push(e.detail));
}"""


def test_live_camera_paints_distinct_frames_with_bounded_latency(
    page: Any, tmp_path: Any, artifacts_dir: Any, screenshot: Any
) -> None:
    h5 = tmp_path / "camera.h5"
    camera = cam.RunningCamera(h5, SHAPE, RATE)
    try:
        code = (
            "from swmr_widgets import SwmrView\n"
            f"view = SwmrView({str(h5)!r}, interval=0.05, selected=({cam.DATA!r},))\n"
            "view"
        )
        nb = write_code_notebook(tmp_path, code, "camera.ipynb")
        with running_server("voila", nb, tmp_path) as server:
            try:
                page.add_init_script(f"({PAINTS_JS})()")
                page.goto(server.url("/"), wait_until="domcontentloaded", timeout=90_000)
                page.wait_for_function("() => window.__paints.length >= 3", timeout=120_000)
                start = page.evaluate("() => window.__paints.length")
                time.sleep(MEASURE)
                paints = page.evaluate("() => window.__paints")[start:]
                text = status(page)
                colors = image_colors(page)
                screenshot(page, "camera_live_512_20hz")
            finally:
                save_log(server.log_path, artifacts_dir, "camera_view")
    finally:
        camera.stop()

    tags = [p["tag"] for p in paints if p["tag"]]
    assert len(set(tags)) >= 0.2 * MEASURE, f"only {len(set(tags))} frames in {MEASURE} s"
    indices = [int(t) for t in tags]
    assert indices == sorted(indices), "frames painted out of order"
    latency = [p["time"] / 1000.0 - camera.flushes[int(p["tag"])] for p in paints if p["tag"]]
    # bounded: no backlog (a backlog grows by ~1 s every second: ~10 s over the window)
    assert statistics.median(latency) < 3.0, latency
    half = len(latency) // 2
    assert statistics.median(latency[half:]) < statistics.median(latency[:half]) + 1.5, latency
    assert "painted" in text and "frames/s" in text, text
    assert colors and max(c["colors"] for c in colors) > 64, colors
