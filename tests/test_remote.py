"""Writer process → ``swmr-widgets publish`` process → a real Tiled server → remote views.

One ``tiled serve catalog --temp`` on 127.0.0.1 is shared by the module; the
restart test runs its own server on a catalog directory, stopped and started
again on the same port. Every file gets a stem of its own, so tests never see
each other's containers.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import scan_writer as scan
import swmr_writer as sw
from waits import wait_for
from writers import ScriptedWriter

from swmr_widgets.live import LiveFile, Rows
from swmr_widgets.processes import spawn, stop

tiled_client = pytest.importorskip("tiled.client")
from swmr_widgets.remote.engine import TiledLive  # noqa: E402
from swmr_widgets.remote.server import TiledServer  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
)

#: Seconds anything crossing the three processes gets (the machine is shared and slow).
DEADLINE = 90.0


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> TiledServer:
    log = open(tmp_path_factory.mktemp("tiled") / "server.log", "w")  # noqa: SIM115
    srv = TiledServer(log=log).start()
    yield srv
    srv.stop()
    log.close()


@pytest.fixture
def root(server):
    return tiled_client.from_uri(server.uri, api_key=server.api_key)


class Publish:
    """``swmr-widgets publish PATH... --tiled URL`` in its own process."""

    def __init__(self, paths: list[Path], server: TiledServer, log: Path) -> None:
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115
        cmd = [sys.executable, "-m", "swmr_widgets.cli", "publish", *map(str, paths)]
        cmd += ["--tiled", server.uri, "--api-key", server.api_key, "--interval", "0.05"]
        self.proc = spawn(cmd, stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self) -> int | None:
        status = stop(self.proc, timeout=30)
        self._out.close()
        return status

    def text(self) -> str:
        return self.log.read_text()


@pytest.fixture
def publish(tmp_path, server):
    started: list[Publish] = []

    def start(*paths: Path) -> Publish:
        p = Publish(list(paths), server, tmp_path / f"publish{len(started)}.log")
        started.append(p)
        return p

    yield start
    for p in started:
        if p.proc.poll() is None:
            p.stop()


def stem(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def remote(root, name: str, path: str = ""):
    """The node at `name` + HDF5 `path`, fetched again (fresh shape), or None."""
    key = "/".join([name, *[p for p in path.split("/") if p]])
    try:
        return root[key]
    except KeyError:
        return None


def remote_len(root, name: str, path: str) -> int:
    node = remote(root, name, path)
    return -1 if node is None else int(node.shape[0])


# --------------------------------------------------------------------------- the publisher


def test_appended_rows_and_in_place_fills_arrive_exactly(tmp_path, root, publish):
    name = stem("rows")
    w = ScriptedWriter(tmp_path / f"{name}.h5")
    try:
        w.append(7)
        w.fill(3)
        pub = publish(tmp_path / f"{name}.h5")
        wait_for(lambda: remote_len(root, name, sw.TREND) == 7, DEADLINE, "the first rows")
        for _ in range(4):
            w.append(5)
            w.fill(4)
        wait_for(lambda: remote_len(root, name, sw.TREND) == 27, DEADLINE, "the later rows")
        trend = remote(root, name, sw.TREND).read()
        np.testing.assert_array_equal(trend.reshape(-1), sw.value(np.arange(27)))
        trace = remote(root, name, sw.TRACE).read()
        np.testing.assert_array_equal(trace, sw.trace_rows(0, 27))

        def filled() -> int:
            values = remote(root, name, sw.SCAN0D).read().reshape(-1)
            return int(np.count_nonzero(~np.isnan(values)))

        wait_for(lambda: filled() == 19, DEADLINE, "19 filled scan points")
        scan0d = remote(root, name, sw.SCAN0D)
        values = scan0d.read().reshape(-1)
        assert values.shape == (50,)  # full shape, pre-allocated
        np.testing.assert_array_equal(values[:19], sw.value(np.arange(19)))
        assert np.isnan(values[19:]).all()
        scan1d = remote(root, name, sw.SCAN1D).read()
        np.testing.assert_array_equal(scan1d[:19], sw.trace_rows(0, 19))
        wait_for(
            lambda: remote(root, name, sw.SCAN0D).metadata["swmr_widgets"]["progress"] == [19, 50],
            DEADLINE,
            "the progress in the metadata",
        )
        assert remote(root, name, sw.TREND).metadata["attrs"]["units"] == "V"
    finally:
        w.stop()
    assert pub.stop() == 0, pub.text()  # SIGTERM is a clean stop
    assert "stopped;" in pub.text()


def test_labels_axes_and_2d_scan_fills_match_the_local_view(tmp_path, root, publish):
    name = stem("labels")
    path = tmp_path / f"{name}.h5"
    w = scan.ScanWriter(path)
    try:
        w.fill(6)
        publish(path)
        wait_for(lambda: remote(root, name, scan.SCAN2D) is not None, DEADLINE, "the scan arrays")
        live = TiledLive(root[name])
        local = LiveFile(path)
        try:
            for p in (scan.SCAN0D, scan.SCAN1D, scan.SCAN2D, scan.LOGGER):
                mine, theirs = live.meta(p), local.meta(p)
                assert (mine.label, mine.units, mine.value_title) == (
                    theirs.label,
                    theirs.units,
                    theirs.value_title,
                )
                assert [a.title for a in mine.axes] == [a.title for a in theirs.axes]
                assert [a.title for a in mine.nav_axes] == [a.title for a in theirs.nav_axes]
                assert (mine.nav_ndim, mine.signal_ndim, mine.prefilled) == (
                    theirs.nav_ndim,
                    theirs.signal_ndim,
                    theirs.prefilled,
                )
            assert live.default_selection() == local.default_selection()
            w.fill(5)

            def frames_done() -> bool:
                data = remote(root, name, scan.SCAN2D).read()
                return not np.isnan(data.reshape(20, -1)[10]).any()

            wait_for(frames_done, DEADLINE, "11 frames")
            data = remote(root, name, scan.SCAN2D).read().reshape(20, *scan.FRAME)
            for p in range(11):
                np.testing.assert_array_equal(data[p], scan.frame(p))
            assert np.isnan(data[11:]).all()
        finally:
            live.close()
            local.close()
    finally:
        w.stop()


def test_a_new_scan_file_in_the_directory_appears_remotely(tmp_path, root, publish):
    folder = tmp_path / "scans"
    folder.mkdir()
    first, second = stem("scan"), stem("scan")
    w1 = ScriptedWriter(folder / f"{first}.h5")
    w2 = None
    try:
        w1.append(3)
        publish(folder)
        wait_for(lambda: remote_len(root, first, sw.TREND) == 3, DEADLINE, "the first scan")
        assert remote(root, second) is None
        w2 = ScriptedWriter(folder / f"{second}.h5")
        w2.append(4)
        wait_for(lambda: remote_len(root, second, sw.TREND) == 4, DEADLINE, "the new scan")
        values = remote(root, second, sw.TREND).read().reshape(-1)
        np.testing.assert_array_equal(values, sw.value(np.arange(4)))
        meta = root[second].metadata["swmr_widgets"]
        assert meta["source"] == f"{second}.h5"
        assert sw.TREND in meta["mirrored"]
    finally:
        w1.stop()
        if w2 is not None:
            w2.stop()


# --------------------------------------------------------------------------- remote views


def _collect(live: TiledLive, feed, rows: dict[int, float], timeout: float, n: int) -> None:
    def more() -> bool:
        poll = live.poll()
        update = poll.updates.get(feed)
        if isinstance(update, Rows):
            rows.update(zip(update.indices.tolist(), update.values.tolist(), strict=True))
        return len(rows) >= n

    wait_for(more, timeout, f"{n} rows in the remote view")


def test_live_and_late_viewers_get_every_row_exactly(tmp_path, root, publish, server):
    name = stem("viewers")
    w = ScriptedWriter(tmp_path / f"{name}.h5")
    try:
        w.append(10)
        publish(tmp_path / f"{name}.h5")
        wait_for(lambda: remote_len(root, name, sw.TREND) == 10, DEADLINE, "the history")
        url = f"{server.uri}/api/v1/metadata/{name}"
        early = TiledLive(url, api_key=server.api_key)
        feed = early.follow(sw.TREND)
        seen: dict[int, float] = {}
        _collect(early, feed, seen, DEADLINE, 10)
        for _ in range(5):
            w.append(6)
            _collect(early, feed, seen, DEADLINE, len(seen) + 6)
        assert early.arrays[sw.TREND].streaming  # fed by the websocket...
        assert early.arrays[sw.TREND].events > 0
        # a late joiner sees the whole history, then the new rows
        late = TiledLive(root[name])
        late_feed = late.follow(sw.TREND)
        late_seen: dict[int, float] = {}
        _collect(late, late_feed, late_seen, DEADLINE, 40)
        w.append(4)
        _collect(late, late_feed, late_seen, DEADLINE, 44)
        _collect(early, feed, seen, DEADLINE, 44)
        for got in (seen, late_seen):
            assert sorted(got) == list(range(44))
            np.testing.assert_array_equal([got[i] for i in range(44)], sw.value(np.arange(44)))
        assert early.health.swmr and early.health.state.value in ("live", "stalled")
        # a growing dataset still empty when published shows up with its first rows
        noise = early.follow(sw.NOISE)
        assert early.arrays[sw.NOISE].shape == (0,)
        w.send("noise 5 3")
        noisy: dict[int, float] = {}
        _collect(early, noise, noisy, DEADLINE, 5)
        with h5py.File(tmp_path / f"{name}.h5", "r", swmr=True) as f:
            written = f[sw.NOISE][:]
        np.testing.assert_array_equal([noisy[i] for i in range(5)], written.reshape(-1))
        early.close()
        late.close()
    finally:
        w.stop()


def test_polling_viewer_without_websocket(tmp_path, root, publish):
    name = stem("polling")
    w = ScriptedWriter(tmp_path / f"{name}.h5")
    try:
        w.append(5)
        publish(tmp_path / f"{name}.h5")
        wait_for(lambda: remote_len(root, name, sw.TREND) == 5, DEADLINE, "the rows")
        live = TiledLive(root[name], subscribe=False)
        feed = live.follow(sw.TREND)
        seen: dict[int, float] = {}
        _collect(live, feed, seen, DEADLINE, 5)
        w.append(3)
        _collect(live, feed, seen, DEADLINE, 8)
        np.testing.assert_array_equal([seen[i] for i in range(8)], sw.value(np.arange(8)))
        assert not live.arrays[sw.TREND].streaming
        live.close()
    finally:
        w.stop()


def test_errors_name_the_server_and_the_node(server):
    with pytest.raises(FileNotFoundError, match="no node"):
        TiledLive(f"{server.uri}/api/v1/metadata/nothing_here", api_key=server.api_key)


# --------------------------------------------------------------------------- a Tiled restart


def test_a_tiled_restart_loses_nothing(tmp_path):
    srv = TiledServer(directory=tmp_path / "catalog", log=open(tmp_path / "srv.log", "w"))  # noqa: SIM115
    srv.start()
    name = stem("restart")
    w = ScriptedWriter(tmp_path / f"{name}.h5")
    try:
        w.append(8)
        w.fill(2)
        p = Publish([tmp_path / f"{name}.h5"], srv, tmp_path / "publish.log")
        try:
            client = tiled_client.from_uri(srv.uri, api_key=srv.api_key)
            wait_for(lambda: remote_len(client, name, sw.TREND) == 8, DEADLINE, "the rows")
            viewer = TiledLive(client[name])
            feed = viewer.follow(sw.TREND)
            seen: dict[int, float] = {}
            _collect(viewer, feed, seen, DEADLINE, 8)
            srv.stop()
            for _ in range(3):  # written while the server is away
                w.append(5)
                w.fill(3)
            viewer.poll()  # a poll while the server is away never raises
            srv.start()
            client = tiled_client.from_uri(srv.uri, api_key=srv.api_key)
            wait_for(lambda: remote_len(client, name, sw.TREND) == 23, DEADLINE, "the resent rows")
            w.append(2)
            wait_for(lambda: remote_len(client, name, sw.TREND) == 25, DEADLINE, "new rows")
            values = remote(client, name, sw.TREND).read().reshape(-1)
            np.testing.assert_array_equal(values, sw.value(np.arange(25)))

            def filled() -> int:
                v = remote(client, name, sw.SCAN0D).read().reshape(-1)
                return int(np.count_nonzero(~np.isnan(v)))

            wait_for(lambda: filled() == 11, DEADLINE, "the resent fills")
            v = remote(client, name, sw.SCAN0D).read().reshape(-1)
            np.testing.assert_array_equal(v[:11], sw.value(np.arange(11)))
            # the viewer made before the restart catches up by itself
            _collect(viewer, feed, seen, DEADLINE, 25)
            np.testing.assert_array_equal([seen[i] for i in range(25)], sw.value(np.arange(25)))
            viewer.close()
            assert "reconnected" in p.text()
        finally:
            assert p.stop() == 0, p.text()
    finally:
        w.stop()
        srv.stop()


# --------------------------------------------------------------------------- SwmrView over Tiled


def _drawn(view) -> list:
    """What every mark of every figure shows, as comparable bytes."""
    out = []
    for fig in view.figures:
        for mark in fig.marks:
            for trait in ("x", "y", "image", "color"):
                value = getattr(mark, trait, None)
                if value is not None and not hasattr(value, "trait_names"):
                    out.append((trait, np.asarray(value, dtype=float).tobytes()))
    return out


def _figure_labels(view) -> list[tuple[str, ...]]:
    return [tuple(ax.label for ax in fig.axes) for fig in view.figures]


@pytest.mark.xfail(
    strict=True,
    reason="known regression since the image and engine changes merged: the remote view's "
    "in-place scan arrays stop at their first rows (4 of 10 points drawn) while progress "
    "advances; to fix with issue 12",
)
def test_swmr_view_over_tiled_matches_the_local_view(tmp_path, root, publish, server, views):
    name = stem("view")
    path = tmp_path / f"{name}.h5"
    w = scan.ScanWriter(path)
    try:
        w.fill(4)
        publish(path)
        wait_for(lambda: remote(root, name, scan.LOGGER) is not None, DEADLINE, "the scan")
        shown = (scan.SCAN1D, scan.SCAN2D, scan.LOGGER)
        local = views(path, selected=shown)
        url = f"{server.uri}/api/v1/metadata/{name}"
        far = views(url, api_key=server.api_key, selected=shown)
        assert type(far.live).__name__ == "TiledLive"
        assert set(far.paths) <= set(local.paths) and scan.SCAN2D in far.paths
        w.fill(6)

        def done(view) -> bool:
            view.refresh()
            return view.live.health.progress == (10, 20)

        wait_for(lambda: done(local), DEADLINE, "10 points in the local view")
        wait_for(lambda: done(far), DEADLINE, "10 points in the remote view")

        def same_drawing() -> bool:
            local.refresh()
            far.refresh()
            return _drawn(far) == _drawn(local)

        wait_for(same_drawing, DEADLINE, "the remote view to draw what the local one draws")
        assert _figure_labels(far) == _figure_labels(local)
        assert any("ch 2D (V)" in labels for labels in _figure_labels(far))
        assert "10/20" in far.status
    finally:
        w.stop()
