"""End to end over Tiled: demo writer → ``swmr-widgets publish`` → ``tiled serve`` → a Voilà
page whose ``SwmrView`` follows the Tiled URL, in headless Chromium.

The page never touches the HDF5 file: its kernel knows only the Tiled URL and key.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from live_servers import running_demo_writer, running_server, save_log, write_code_notebook
from live_view import axis_labels, status, wait_for_line_change, wait_for_view

from swmr_widgets.demo import TREND_PATH
from swmr_widgets.processes import spawn, stop

pytest.importorskip("tiled.client")
from swmr_widgets.remote.server import TiledServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

INTERVAL = 0.2


def test_voila_page_follows_a_live_writer_through_tiled(
    tmp_path: Path, page: Any, screenshot: Any, artifacts_dir: Path
) -> None:
    from tiled.client import from_uri

    h5 = tmp_path / "beamline_scan.h5"
    log = open(tmp_path / "tiled.log", "w")  # noqa: SIM115
    server = TiledServer(log=log).start()
    try:
        with running_demo_writer(h5, rate=10.0):
            cmd = [sys.executable, "-m", "swmr_widgets.cli", "publish", str(h5)]
            cmd += ["--tiled", server.uri, "--api-key", server.api_key]
            pub = spawn(cmd, stdout=log, stderr=subprocess.STDOUT)
            try:
                root = from_uri(server.uri, api_key=server.api_key)
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if root["beamline_scan"]["RawData"] is not None:
                            break
                    except KeyError:
                        pass
                    assert time.monotonic() < deadline, "the publisher did not publish the file"
                    time.sleep(0.5)
                url = f"{server.uri}/api/v1/metadata/beamline_scan"
                code = (
                    "from swmr_widgets import SwmrView\n\n"
                    f"view = SwmrView({url!r}, api_key={server.api_key!r}, "
                    f"interval={INTERVAL!r}, selected=({TREND_PATH!r},))\n"
                    "view"
                )
                nb = write_code_notebook(tmp_path, code, "tiled_viewer.ipynb")
                with running_server("voila", nb, tmp_path) as voila:
                    try:
                        page.goto(voila.url("/"), wait_until="domcontentloaded", timeout=60_000)
                        first = wait_for_view(page, timeout=120)
                        # no clicks: the remote view follows the writer by itself
                        wait_for_line_change(page, first, timeout=60, what="the remote trend")
                        second = wait_for_line_change(page, first, timeout=60)
                        wait_for_line_change(page, second, timeout=60, what="a later update")
                        text = status(page)
                        assert "live" in text or "rows/s" in text, text
                        assert any("(V)" in label for label in axis_labels(page))
                        shot = screenshot(page, "tiled_view_live")
                        assert shot.stat().st_size > 10_000
                    finally:
                        save_log(voila.log_path, artifacts_dir, "tiled_view_voila")
            finally:
                assert stop(pub, 30) == 0
    finally:
        server.stop()
        log.close()
