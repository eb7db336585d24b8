"""Following the newest scan file of a folder, with writers in other processes."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
import swmr_writer as sw
from waits import wait_for

from swmr_widgets import servers
from swmr_widgets.cli import view_target
from swmr_widgets.live import LiveFolder, State


def test_engine_switches_to_a_new_scan_and_carries_feeds(writer_factory, tmp_path):
    a = writer_factory("scan_000.h5")
    a.append(4)
    (tmp_path / "notes.txt").write_text("not a scan")
    with LiveFolder(tmp_path) as folder:
        assert folder.current == a.path
        feed = folder.live.follow(sw.TREND)
        trend = folder.live.add_trend("total", lambda t: t.sum(), sw.TRACE)
        folder.poll()
        b = writer_factory("scan_001.h5")
        b.append(3)
        poll = folder.poll()
        assert poll.switched and poll.structure_changed
        assert folder.current == b.path
        assert folder.files == [b.path, a.path]
        assert "scan_001.h5" in folder.describe() and "newest" in folder.describe()
        new_feed, new_trend = poll.moved[feed], poll.moved[trend]
        assert new_feed is not None and new_feed.path == sw.TREND
        b.append(2)
        poll = folder.poll()
        np.testing.assert_array_equal(new_trend.trend()[1], sw.trace_rows(0, 5).sum(axis=1))
        # the old file goes on growing: it never wins back "newest"
        a.append(10)
        assert not folder.poll().switched
        assert folder.current == b.path
        folder.show("scan_000.h5")
        assert folder.current == a.path and not folder.following_newest
        assert "picked" in folder.describe()
        c = writer_factory("scan_002.h5")
        assert not folder.poll().switched  # picked: stays
        folder.follow_newest()
        assert folder.poll().switched and folder.current == c.path
        with pytest.raises(FileNotFoundError, match="not an HDF5 file"):
            folder.show("notes.txt")


def test_engine_waits_for_a_scan_not_yet_in_swmr_mode(stream_factory, tmp_path):
    with LiveFolder(tmp_path) as folder:
        assert folder.current is None and "no HDF5 file" in folder.describe()
        assert folder.poll().health.state is State.WAITING
        w = stream_factory("late.h5", "--swmr-delay", "2.0")
        w.expect("created")
        poll = folder.poll()  # held without SWMR: waited for, not failed on
        assert folder.current == w.path
        assert poll.health.state is State.WAITING
        assert "SWMR" in poll.health.note or "created" in poll.health.note
        w.expect("swmr")
        wait_for(lambda: folder.poll().health.state is State.LIVE, 30, "the scan to attach")
        (tmp_path / "broken.h5").write_bytes(b"this is not HDF5 at all" * 10)
        folder.poll()
        assert folder.current == w.path  # a file that is not HDF5 is reported, not shown
        assert "cannot show broken.h5" in folder.describe()


def test_refuses_a_file_as_folder(tmp_path):
    f = tmp_path / "x.h5"
    f.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        LiveFolder(f)
    with pytest.raises(FileNotFoundError):
        LiveFolder(tmp_path / "missing")


def test_running_view_switches_keeps_selection_and_picker(writer_factory, views, tmp_path):
    pytest.importorskip("bqplot")
    from swmr_widgets.picker import NEWEST

    a = writer_factory("a.h5")
    a.append(6)
    view = views(tmp_path, interval=0.2, selected=[sw.TREND], follow="newest")
    assert view.folder is not None and view.live.path == str(a.path)
    total = view.add_trend("total", lambda t: float(t.sum()), sw.TRACE)
    errors: list[dict] = []
    state: dict = {}

    async def until(predicate, timeout=30.0):
        end = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < end, f"timed out; status {view.status!r}"
            await asyncio.sleep(0.01)

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _l, c: errors.append(c))
        view.start()
        await until(lambda: view.ticks > 2)
        b = await asyncio.to_thread(writer_factory, "b.h5")  # returns once b.h5 is SWMR
        state["ticks"] = view.ticks
        await until(lambda: view.live.path == str(b.path))
        state["switched_after"] = view.ticks - state["ticks"]
        n = await asyncio.to_thread(b.append, 5)
        await until(lambda: len(view.figures) and len(view.figures[0].marks[0].y) == n)
        await until(lambda: len(total.trend()[1]) == n)
        state["b_trend"] = total.trend()[1].copy()
        state["b"] = b
        state["status"] = view.status
        state["options"] = list(view._picker.widget.options)
        # pick the older file: shown, and no longer following the newest
        view._picker.widget.value = str(a.path)
        await until(lambda: view.live.path == str(a.path))
        c = await asyncio.to_thread(writer_factory, "c.h5")
        await asyncio.sleep(0.6)  # three intervals: a picked file stays
        state["stayed"] = view.live.path == str(a.path)
        state["picked_status"] = view.status
        view._picker.widget.value = NEWEST
        await until(lambda: view.live.path == str(c.path))
        view.stop()

    asyncio.run(main())
    assert errors == []
    assert state["switched_after"] <= 2, "not switched within two intervals"
    assert view.selected == (sw.TREND,)
    b = state["b"]
    assert "showing b.h5" in state["status"]
    labels = [label for label, _ in state["options"]]
    assert labels == ["newest (b.h5)", "b.h5", "a.h5"]
    np.testing.assert_array_equal(state["b_trend"], sw.trace_rows(0, 5).sum(axis=1))
    assert len(total.trend()[1]) == 0  # c.h5 has no trace yet: the trend starts again
    assert state["stayed"] and "showing a.h5 (picked" in state["picked_status"]
    assert [label for label, _ in view._picker.widget.options][:2] == ["newest (c.h5)", "c.h5"]
    assert b.path.exists()


def test_view_follow_needs_a_folder(writer, views):
    with pytest.raises(NotADirectoryError, match="needs a folder"):
        views(writer.path, follow="newest")


def test_cli_view_of_a_folder_serves_a_folder_view(tmp_path, capsys, writer_factory):
    pytest.importorskip("bqplot")
    w = writer_factory("scan.h5")
    w.append(3)
    path, wait, title = view_target(str(tmp_path))
    assert path == tmp_path.absolute() and wait is None and "newest" in title
    assert "Following the newest" in capsys.readouterr().out
    nb = json.loads(servers.write_viewer_notebook(tmp_path / "..", path).read_text())
    code = "".join(nb["cells"][1]["source"])
    assert "follow='newest'" in code
    scope: dict = {}
    exec(code.replace("view\n", "").rstrip() + "\nview.stop()\n", scope)  # the served cell
    view = scope["view"]
    try:
        assert view.folder is not None and view.live.path == str(w.path)
        assert sw.TREND in view.paths
    finally:
        view.close()
