"""End to end: ``swmr-widgets view DIR`` follows the newest scan file of a folder in Chromium.

A first demo acquisition writes ``scan_000.h5`` in a folder; the page shows it
and a "scan" picker. A second acquisition then creates ``scan_001.h5``: without
any click the page switches to it, says so in the status line, lists both files
newest first in the picker, and its figure keeps being redrawn.
"""

from __future__ import annotations

import time

import pytest
from live_view import status, wait_for_line_change, wait_for_view

pytestmark = pytest.mark.e2e

PICKER = ".swmr-file-picker select"


def picker_labels(page) -> list[str]:
    """The picker's entries (ipywidgets draws their spaces as no-break spaces)."""
    labels = page.eval_on_selector_all(f"{PICKER} option", "els => els.map(e => e.textContent)")
    return [label.replace("\xa0", " ") for label in labels]


def wait_for_status(page, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    now = status(page)
    while text not in now and time.monotonic() < deadline:
        time.sleep(0.1)
        now = status(page)
    assert text in now, f"status never said {text!r}: {now!r}"
    return now


def test_folder_view_switches_to_the_new_scan(swmr_cli, demo_writer, page, screenshot, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    demo_writer(folder / "scan_000.h5", rate=10, duration=120)
    server = swmr_cli("view", str(folder), "--no-browser", "--interval", "0.3")
    assert "Following the newest" in server.output
    page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
    first = wait_for_view(page)
    wait_for_status(page, "showing scan_000.h5", 30)
    assert picker_labels(page) == ["newest (scan_000.h5)", "scan_000.h5"]

    demo_writer(folder / "scan_001.h5", rate=10, duration=120)
    wait_for_status(page, "showing scan_001.h5", 30)
    deadline = time.monotonic() + 15
    while picker_labels(page)[:1] != ["newest (scan_001.h5)"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert picker_labels(page) == ["newest (scan_001.h5)", "scan_001.h5", "scan_000.h5"]
    wait_for_line_change(page, first, timeout=30, what="the line of the new scan")
    shot = screenshot(page, "folder_view_switched")
    assert shot.is_file()
