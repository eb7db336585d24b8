"""Compressed data as detectors write it (Bitshuffle/LZ4, Blosc, Zstd), live and without the plugin.

A SWMR writer in another process (``compressed_writer.py``) appends chunks
compressed by hdf5plugin's filters. The reader follows them with exact
values; a reader started without hdf5plugin (``filter_child.py``) says which
filter is missing and how to get it, and reads the exact values at the next
poll once ``hdf5plugin`` is imported.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import compressed_writer as cw
import h5py
import numpy as np
import pytest

hdf5plugin = pytest.importorskip("hdf5plugin")

from swmr_widgets import MissingFilterError  # noqa: E402
from swmr_widgets.filters import (  # noqa: E402
    NO_PLUGIN_ENV,
    dataset_filters,
    missing_filters,
    register_plugins,
)
from swmr_widgets.live import Latest, LiveFile, Rows  # noqa: E402
from swmr_widgets.processes import kill, spawn  # noqa: E402

HERE = Path(__file__).parent
DEADLINE = 60.0
PATHS = (cw.COUNTS, cw.FRAMES, cw.VALUES)


class LineProcess:
    """A child process driven by one command line, answering one line each."""

    def __init__(self, args: list[str], env: dict | None = None) -> None:
        self.proc = spawn(
            [sys.executable, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self, timeout: float = DEADLINE) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line:
            kill(self.proc)
            pytest.fail(f"{self.proc.args[1]} gave no answer: {self.proc.stderr.read()[-3000:]}")
        return line.strip()

    def send(self, command: str, timeout: float = DEADLINE) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def stop(self) -> None:
        kill(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def compressed(tmp_path):
    """A compressed SWMR writer in another process; its ``send`` returns the answer."""
    started: list[LineProcess] = []

    def start(name: str = "detector.h5") -> tuple[LineProcess, Path]:
        path = tmp_path / name
        w = LineProcess([str(HERE / "compressed_writer.py"), str(path)])
        started.append(w)
        assert w.read() == "ready"
        return w, path

    yield start
    for w in started:
        w.stop()


def expected(path: str, i: int):
    if path == cw.FRAMES:
        return cw.frame(i)
    if path == cw.VALUES:
        return cw.value(i)
    return cw.counter(i)


# --------------------------------------------------------------------------- with hdf5plugin


def test_filters_of_a_dataset_are_named_with_their_ids(compressed):
    writer, path = compressed()
    assert writer.send("append 3") == "ok 3"
    register_plugins()
    with h5py.File(path, "r", swmr=True) as f:
        for name, fid in cw.FILTER_IDS.items():
            filters = dataset_filters(f[name])
            assert [x.id for x in filters] == [fid]
            assert filters[0].available
            assert missing_filters(f[name]) == ()
        assert dataset_filters(f[cw.FRAMES])[0].title == "Bitshuffle (HDF5 filter 32008)"
        assert dataset_filters(f[cw.VALUES])[0].name == "Blosc"
        assert "Zstd" in dataset_filters(f[cw.COUNTS])[0].name


def test_live_file_follows_compressed_chunks_with_exact_values(compressed):
    writer, path = compressed()
    assert writer.send("append 5") == "ok 5"
    seen: dict[str, dict[int, np.ndarray]] = {p: {} for p in PATHS}
    with LiveFile(path) as live:
        assert live.is_swmr
        feeds = {p: live.follow(p) for p in PATHS}
        for total in (5, 37, 101):  # chunks of 32 rows: several full and partial ones
            if total > 5:
                assert writer.send(f"append {total - len(seen[cw.VALUES])}") == f"ok {total}"
            end = time.monotonic() + DEADLINE
            while time.monotonic() < end:
                poll = live.poll()
                assert not poll.health.errors, poll.health.errors
                for feed, update in poll.updates.items():
                    if isinstance(update, Rows):
                        for i, v in zip(update.indices, update.values, strict=True):
                            seen[feed.path][int(i)] = v
                    elif isinstance(update, Latest):
                        seen[feed.path][update.index[0]] = update.values
                if len(seen[cw.VALUES]) == total and max(seen[cw.FRAMES]) == total - 1:
                    break
                time.sleep(0.02)
            assert sorted(seen[cw.VALUES]) == list(range(total))
            assert sorted(seen[cw.COUNTS]) == list(range(total))
        for p in (cw.VALUES, cw.COUNTS):
            got = np.array([seen[p][i] for i in range(101)])
            np.testing.assert_array_equal(got, expected(p, np.arange(101)))
            assert got.dtype == feeds[p].dataset.dtype
        for i, frame in seen[cw.FRAMES].items():  # the latest frame of each poll
            np.testing.assert_array_equal(frame, cw.frame(i))
            assert frame.dtype == np.uint16


def test_swmr_view_shows_compressed_series_and_frames_exactly(compressed, views):
    pytest.importorskip("bqplot")
    writer, path = compressed()
    assert writer.send("append 40") == "ok 40"
    view = views(path, selected=(cw.VALUES, cw.FRAMES))
    assert writer.send("append 30") == "ok 70"
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        view.refresh()
        ys = [np.asarray(m.y) for fig in view.figures for m in fig.marks if hasattr(m, "y")]
        if any(len(y) == 70 for y in ys):
            break
        time.sleep(0.02)
    assert "error" not in view.status and "warning" not in view.status, view.status
    series = [y for y in ys if len(y) == 70]
    assert series, [len(y) for y in ys]
    np.testing.assert_array_equal(series[0], cw.value(np.arange(70)))
    frames = [p for p in view.panels if cw.FRAMES in p.paths]
    assert frames
    feed = next(f for f in frames[0].feeds if f.path == cw.FRAMES)
    np.testing.assert_array_equal(feed.follower.latest, cw.frame(69))


# --------------------------------------------------------------------------- without hdf5plugin


@pytest.mark.parametrize("how", ["not-installed", "env"])
def test_without_hdf5plugin_the_filter_is_named_and_getting_it_recovers(compressed, how):
    """Not installed: named with the fix; once installed, the next polls read it by themselves.

    With SWMR_WIDGETS_NO_HDF5PLUGIN set: named, and ``import hdf5plugin`` recovers.
    """
    writer, path = compressed()
    assert writer.send("append 20") == "ok 20"
    env = {**os.environ}
    args = [str(HERE / "filter_child.py")]
    if how == "env":
        env[NO_PLUGIN_ENV] = "1"
    else:
        env.pop(NO_PLUGIN_ENV, None)
        args.append("--not-installed")
    child = LineProcess(args, env=env)
    try:
        before = json.loads(child.send(f"open {path}"))
        assert not before["hdf5plugin"]
        # the engine, the status line and the tree name each filter and the fix
        text = " ".join([*before["errors"], *before["warnings"], before["status"]])
        for name, fid in (("Bitshuffle", 32008), ("Blosc", 32001), ("Zstd", 32015)):
            assert f"{name}" in text and f"HDF5 filter {fid}" in text, text
        status = before["status"]
        if how == "env":
            assert NO_PLUGIN_ENV in status and "import hdf5plugin" in status, status
        else:
            assert "pip install hdf5plugin" in status and "conda-forge" in status, status
        assert "/usr/local/lib/plugin" not in status
        for p, fid in cw.FILTER_IDS.items():
            node = before["nodes"][p]
            assert node["filters"] == [fid], node
            assert f"HDF5 filter {fid}" in node["reason"] and "hdf5plugin" in node["reason"]
            assert before["feed_errors"][p].startswith("MissingFilterError: Cannot read " + p)
        follower = before["follower"]
        assert follower["error"] == "MissingFilterError" and follower["oserror"], follower
        assert follower["filters"] == [cw.FILTER_IDS[cw.COUNTS]]
        assert not any(before["rows"].values())

        assert writer.send("append 13") == "ok 33"
        if how == "env":
            assert "imported" in json.loads(child.send("import"))
            after = json.loads(child.send("poll"))
            assert after["nodes_changed"]
        else:  # installed meanwhile: a later poll imports it by itself
            assert "installed" in json.loads(child.send("install"))
            end = time.monotonic() + DEADLINE
            after = json.loads(child.send("poll"))
            while not after["hdf5plugin"] and time.monotonic() < end:
                time.sleep(0.2)
                after = json.loads(child.send("poll"))
        assert after["hdf5plugin"]
        assert not after["errors"] and not after["warnings"], after
        assert "error" not in after["status"] and "warning" not in after["status"]
        for p in cw.FILTER_IDS:
            assert after["nodes"][p]["filters"] is None and after["nodes"][p]["reason"] == ""
            assert after["feed_errors"][p] == ""
        rows = after["rows"]
        for p in (cw.VALUES, cw.COUNTS):
            got = [rows[p][str(i)] for i in range(33)]
            np.testing.assert_array_equal(got, expected(p, np.arange(33)))
        np.testing.assert_array_equal(rows[cw.FRAMES]["32"], cw.frame(32))
        assert "rows" in after["follower"], after["follower"]
        assert child.send("close") == '{"closed": true}'
    finally:
        child.stop()


def test_missing_filter_error_is_an_oserror_naming_file_dataset_and_fix(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(10.0), **hdf5plugin.Zstd())
    code = (
        "import sys, h5py\n"
        "from swmr_widgets import open_h5_file_for_reading, MissingFilterError\n"
        "from swmr_widgets.follow import DatasetFollower\n"
        "f, _ = open_h5_file_for_reading(sys.argv[1])\n"
        "try:\n"
        "    DatasetFollower(f['x']).poll()\n"
        "except MissingFilterError as e:\n"
        "    print(type(e).__mro__[1].__name__, e.path == f.filename, e.dataset)\n"
        "    print(e)\n"
        "print('hdf5plugin' in sys.modules)\n"
    )
    env = {**os.environ, NO_PLUGIN_ENV: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "OSError True /x", out.stderr
    assert "Zstd (HDF5 filter 32015)" in lines[1]
    assert repr(str(path)) in lines[1] and NO_PLUGIN_ENV in lines[1]
    assert lines[2] == "False"
    assert issubclass(MissingFilterError, OSError)


def test_hdf5plugin_is_imported_before_the_first_read_only_when_installed(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(10.0), **hdf5plugin.Blosc())
    code = (
        "import sys\n"
        "import swmr_widgets\n"
        "print('hdf5plugin' in sys.modules)\n"
        "f, _ = swmr_widgets.open_h5_file_for_reading(sys.argv[1])\n"
        "print('hdf5plugin' in sys.modules, f['x'][:].tolist() == list(range(10)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True", "True"], out.stderr
