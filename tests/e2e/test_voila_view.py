"""End to end: a viewer notebook served by Voila follows a demo writer in headless Chromium.

One demo writer (another process, 10 Hz) and one Voila server run for the
whole module. Each test opens its own page, hence its own kernel and its own
``SwmrView``, so the tests do not depend on each other. The view polls every
0.2 s and refreshes the tree's shapes every 0.5 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from live_servers import (
    JupyterServer,
    pid_alive,
    running_demo_writer,
    running_server,
    save_log,
    write_view_notebook,
)
from live_view import (
    PLAY,
    ROW,
    assert_line_still,
    axis_labels,
    image_colors,
    line_paths,
    status,
    tree_shape,
    wait_for_axis_label,
    wait_for_line_change,
    wait_for_play_state,
    wait_for_tree_growth,
    wait_for_view,
)

from swmr_widgets.demo import FRAME_PATH, SPECTRUM_PATH, TREND_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

INTERVAL = 0.2
TREE_INTERVAL = 0.5
WRITER_RATE = 10.0


@dataclass
class VoilaView:
    """The module's writer and Voila server."""

    server: JupyterServer
    writer: Any
    h5: Path

    @property
    def url(self) -> str:
        return self.server.url("/")


@pytest.fixture(scope="module")
def voila_view(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[VoilaView]:
    """A running demo writer and a Voila server on a viewer notebook of its file."""
    workdir = tmp_path_factory.mktemp("voila_view")
    h5 = workdir / "scan.h5"
    with running_demo_writer(h5, rate=WRITER_RATE) as writer:
        nb = write_view_notebook(workdir, h5, interval=INTERVAL, tree_interval=TREE_INTERVAL)
        server_log = None
        try:
            with running_server("voila", nb, workdir) as server:
                server_log = server.log_path
                yield VoilaView(server, writer, h5)
                server.remember_children()
        finally:
            if server_log is not None:
                save_log(server_log, artifacts_dir, "voila_view")
        assert writer.running, "the demo writer died during the tests"
    assert not pid_alive(writer.pid)


def _open(page: Any, view: VoilaView) -> list[str]:
    page.goto(view.url, wait_until="domcontentloaded", timeout=60_000)
    return wait_for_view(page, timeout=90)


def test_view_follows_the_writer_without_user_action(
    page: Any, voila_view: VoilaView, screenshot: Any
) -> None:
    first = _open(page, voila_view)
    assert "live" in status(page), status(page)
    screenshot(page, "voila_view_first_paint")

    # no clicks from here on: the figure and the tree must follow the writer
    time.sleep(3 * INTERVAL)
    wait_for_line_change(page, first, timeout=10 * INTERVAL + 3)
    old, new = wait_for_tree_growth(page, TREND_PATH, timeout=4 * TREE_INTERVAL + 4)
    assert len(new) == len(old) == 1
    # and it keeps following: a second change a few intervals later
    second = line_paths(page)
    time.sleep(3 * INTERVAL)
    wait_for_line_change(page, second, timeout=10 * INTERVAL + 3)
    screenshot(page, "voila_view_live")


def test_click_spectrum_switches_the_figure(
    page: Any, voila_view: VoilaView, screenshot: Any
) -> None:
    _open(page, voila_view)
    assert "wavelength (nm)" not in axis_labels(page)  # the default is the photodiode trend

    row = page.locator(f'{ROW}[data-path="{SPECTRUM_PATH}"]')
    assert row.get_attribute("data-kind") == "dataset"
    assert len(tree_shape(page, SPECTRUM_PATH).split(",")) == 2  # (N, 512)
    row.click()
    page.wait_for_selector(f'{ROW}.selected[data-path="{SPECTRUM_PATH}"]', timeout=10_000)
    labels = wait_for_axis_label(page, "wavelength (nm)", timeout=15)
    assert "photodiode (V)" not in labels, labels
    assert page.locator(f"{ROW}.selected").count() == 1

    # the latest spectrum keeps changing too
    drawn = line_paths(page)
    assert any(len(d) > 10 for d in drawn), drawn
    wait_for_line_change(page, drawn, timeout=10 * INTERVAL + 3, what="the latest spectrum")
    screenshot(page, "voila_view_spectrum")


def test_pause_stops_updates_and_live_resumes(
    page: Any, voila_view: VoilaView, screenshot: Any
) -> None:
    first = _open(page, voila_view)
    wait_for_play_state(page, "Pause")  # live: the button offers to pause
    wait_for_line_change(page, first, timeout=10 * INTERVAL + 3)

    page.click(PLAY)
    wait_for_play_state(page, "Live")
    deadline = time.monotonic() + 5
    while "paused" not in status(page) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "paused" in status(page), status(page)
    time.sleep(2 * INTERVAL)  # a refresh already on the wire may still land
    shape = tree_shape(page, TREND_PATH)
    paused = assert_line_still(page, duration=12 * INTERVAL)
    assert tree_shape(page, TREND_PATH) == shape, "the tree kept refreshing while paused"
    screenshot(page, "voila_view_paused")

    page.click(PLAY)
    wait_for_play_state(page, "Pause")
    wait_for_line_change(page, paused, timeout=10 * INTERVAL + 3, what="the line after resuming")
    assert "live" in status(page), status(page)
    screenshot(page, "voila_view_resumed")


def test_camera_frame_is_drawn_with_a_colour_map(
    page: Any, voila_view: VoilaView, screenshot: Any
) -> None:
    _open(page, voila_view)
    page.click(f'{ROW}[data-path="{FRAME_PATH}"]')
    page.wait_for_selector(f'{ROW}.selected[data-path="{FRAME_PATH}"]', timeout=10_000)
    wait_for_axis_label(page, "x (\N{MICRO SIGN}m)", timeout=15)
    deadline = time.monotonic() + 6
    images = image_colors(page)
    while not any(i["colors"] > 16 for i in images) and time.monotonic() < deadline:
        time.sleep(0.5)
        images = image_colors(page)
    screenshot(page, "voila_view_camera")
    assert images, "no image drawn"
    assert any(i["colors"] > 16 for i in images), f"the camera image is flat: {images}"
