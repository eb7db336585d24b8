"""The live engine, without any widget library, against real writers in other processes."""

from __future__ import annotations

import gc
import random
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import scan_writer as sw
import stream_writer
import swmr_writer

from swmr_widgets.live import (
    Change,
    FrameFeed,
    Latest,
    LiveFile,
    MapFeed,
    Rows,
    ScanMap,
    SeriesFeed,
    State,
    TraceFeed,
)

DEADLINE = 30.0


@pytest.fixture
def scan_factory(tmp_path):
    started: list[sw.ScanWriter] = []

    def start(*args: str, name: str = "scan2d.h5") -> sw.ScanWriter:
        w = sw.ScanWriter(tmp_path / name, *args)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def poll_until(live: LiveFile, condition, timeout: float = DEADLINE, step: float = 0.02):
    """Poll `live` until ``condition(poll)`` holds; return the polls seen."""
    polls = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        polls.append(live.poll())
        if condition(polls[-1]):
            return polls
        time.sleep(step)
    raise AssertionError(f"not reached in {timeout} s; last health: {live.health}")


def test_engine_imports_no_widget_library():
    code = (
        "import sys, swmr_widgets.live, swmr_widgets.tail; "
        "assert not {'ipywidgets', 'bqplot', 'anywidget', 'traitlets'} & set(sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in {'ipywidgets','bqplot','anywidget'})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_row_exactly_once_under_random_timing(writer, values, seed):
    rng = random.Random(seed)
    with LiveFile(writer.path) as live:
        trend = live.follow(swmr_writer.TREND)
        trace = live.follow(swmr_writer.TRACE)
        assert isinstance(trend, SeriesFeed) and isinstance(trace, TraceFeed)
        indices, got = [], []
        n = 0
        for _ in range(40):
            k = rng.choice([0, 0, 1, 3, 50, 400])
            if k:
                n = writer.append(k)
            for _ in range(rng.choice([1, 1, 2])):
                poll = live.poll()
                update = poll.updates.get(trend)
                if update is not None:
                    assert isinstance(update, Rows)
                    indices.append(update.indices)
                    got.append(update.values)
                latest = poll.updates.get(trace)
                if latest is not None and n:
                    np.testing.assert_array_equal(
                        latest.values, swmr_writer.trace_rows(n - 1, n)[0]
                    )
                    assert latest.index == (n - 1,)
        poll = live.poll()
        if trend in poll.updates:
            indices.append(poll.updates[trend].indices)
            got.append(poll.updates[trend].values)
    np.testing.assert_array_equal(np.concatenate(indices), np.arange(n))
    values_read = np.concatenate(got)
    assert values_read.dtype == np.float64
    np.testing.assert_array_equal(values_read, values(np.arange(n)))


def test_free_running_writer_every_row_once_exact_int64(stream_factory):
    w = stream_factory("stream.h5", "--rows-per-s", "3000", "--step", "0.005")
    for line in ("created", "swmr", "ready"):
        w.expect(line)
    rng = random.Random(7)
    with LiveFile(w.path) as live:
        feed = live.follow(stream_writer.COUNTER)
        seen_idx, seen = [], []
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            update = live.poll().updates.get(feed)
            if update is not None:
                seen_idx.append(update.indices)
                seen.append(update.values)
            time.sleep(rng.uniform(0, 0.03))
        totals = w.finish()
        for poll in poll_until(live, lambda p: feed.follower.progress[0] >= totals["rows"]):
            if feed in poll.updates:
                seen_idx.append(poll.updates[feed].indices)
                seen.append(poll.updates[feed].values)
    idx = np.concatenate(seen_idx)
    np.testing.assert_array_equal(idx, np.arange(totals["rows"]))
    got = np.concatenate(seen)
    assert got.dtype == np.int64  # exact: never through float32
    assert int(got.sum()) == totals["counter_sum"]


def test_fill_along_2d_navigation_latest_point_and_progress_in_points(scan_factory):
    w = scan_factory()
    with LiveFile(w.path) as live:
        m0, t1, f2 = (live.follow(p) for p in (sw.SCAN0D, sw.SCAN1D, sw.SCAN2D))
        assert (type(m0), type(t1), type(f2)) == (MapFeed, TraceFeed, FrameFeed)
        live.poll()
        assert live.health.progress == (0, 20)
        order = sw.order(snake=False)
        for k in (1, 5, 3, 11):
            filled = w.fill(k)
            poll = live.poll()
            last = order[filled - 1]
            where = divmod(last, sw.NAV[1])
            trace, frame, smap = poll.updates[t1], poll.updates[f2], poll.updates[m0]
            assert isinstance(trace, Latest) and isinstance(smap, ScanMap)
            assert trace.index == where and frame.index == where
            np.testing.assert_array_equal(trace.values, sw.trace(last))
            np.testing.assert_array_equal(frame.values, sw.frame(last))
            expected = np.full(sw.NAV, np.nan)
            expected.reshape(-1)[order[:filled]] = sw.point_value(np.array(order[:filled]))
            np.testing.assert_array_equal(smap.values, expected)
            assert smap.new == trace.new == k
            assert t1.progress == f2.progress == m0.progress == (filled, 20)
            assert poll.health.progress == (filled, 20)
        assert filled == 20
        assert live.health.state is State.FINISHED
        assert "scan complete" in live.health.describe()


def test_snake_scan_fills_out_of_order_are_all_found(scan_factory):
    w = scan_factory("--snake")
    with LiveFile(w.path) as live:
        trace = live.follow(sw.SCAN1D)
        smap = live.follow(sw.SCAN0D)
        live.poll()
        order = sw.order(snake=True)
        for filled in range(1, 21):
            assert w.fill(1) == filled
            poll = live.poll()
            p = order[filled - 1]
            assert poll.updates[trace].index == divmod(p, sw.NAV[1])
            np.testing.assert_array_equal(poll.updates[trace].values, sw.trace(p))
            assert trace.progress == (filled, 20)
        np.testing.assert_array_equal(
            poll.updates[smap].values.reshape(-1), sw.point_value(np.arange(20))
        )


def test_partly_filled_2d_scan_is_reported_stalled_and_not_redelivered(scan_factory):
    w = scan_factory()
    w.fill(6)
    with LiveFile(w.path, stall_after=0.5) as live:
        feed = live.follow(sw.SCAN1D)
        first = live.poll()
        assert first.updates[feed].index == (1, 1)
        assert live.health.state is State.LIVE
        polls = poll_until(live, lambda p: p.health.state is State.STALLED)
        assert all(feed not in p.updates for p in polls)  # nothing is delivered twice
        assert live.health.progress == (6, 20)
        assert "writer stalled or finished?" in live.health.describe()
        w.fill(1)
        poll = poll_until(live, lambda p: feed in p.updates)[-1]
        assert poll.health.state is State.LIVE
        assert poll.updates[feed].index == (1, 2)


def test_rate_is_plausible_right_after_attach(stream_factory):
    rate = 400.0
    w = stream_factory("stream.h5", "--rows-per-s", str(rate), "--step", "0.01")
    for line in ("created", "swmr", "ready"):
        w.expect(line)
    with h5py.File(w.path, "r", swmr=True) as f:  # let some history build up first
        ds = f[stream_writer.VALUE]
        end = time.monotonic() + DEADLINE
        while ds.shape[0] < 300 and time.monotonic() < end:
            time.sleep(0.02)
            ds.refresh()
    with LiveFile(w.path) as live:
        feed = live.follow(stream_writer.VALUE)
        first = live.poll()
        assert len(first.updates[feed].values) >= 300
        assert first.health.rate == 0  # what was there before attaching is no rate
        rates = []
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            time.sleep(0.05)
            rates.append(live.poll().health.rate)
    assert max(rates) < 4 * rate, rates
    assert 0.3 * rate < rates[-1] < 2 * rate, rates


def test_deleted_then_replaced_file_is_followed(writer_factory, values):
    a = writer_factory("scan.h5")
    a.append(10)
    with LiveFile(a.path) as live:
        feed = live.follow(swmr_writer.TREND)
        assert len(live.poll().updates[feed].values) == 10
        a.close()
        a.path.rename(a.path.with_name("old.h5"))
        poll = live.poll()
        assert Change.DELETED in poll.changes
        assert poll.health.state is State.DELETED
        assert "deleted; showing the last data read" in poll.health.note
        b = writer_factory("scan.h5")
        b.append(3)
        polls = poll_until(live, lambda p: Change.REOPENED in p.changes)
        assert "replaced by a new file; reopened it" in live.health.note
        update = next((p.updates[feed] for p in polls if feed in p.updates), None)
        if update is None:
            update = live.poll().updates[feed]
        assert update.reset
        np.testing.assert_array_equal(update.values, values(np.arange(3)))
        assert live.health.state is State.LIVE


def test_truncated_or_rewritten_file_is_reopened(tmp_path):
    path, other = tmp_path / "f.h5", tmp_path / "g.h5"
    for p, n in ((path, 1000), (other, 5)):
        with h5py.File(p, "w") as f:
            f.create_dataset("x", data=np.arange(float(n)), maxshape=(None,), chunks=(100,))
    with LiveFile(path) as live:
        feed = live.follow("/x")
        assert len(live.poll().updates[feed].values) == 1000
        shutil.copyfile(other, path)  # same inode, smaller: rewritten in place
        polls = poll_until(live, lambda p: Change.REOPENED in p.changes)
        assert "truncated or rewritten in place; reopened it" in live.health.note
        update = polls[-1].updates.get(feed) or live.poll().updates[feed]
        assert update.reset
        np.testing.assert_array_equal(update.values, np.arange(5.0))


def test_one_handle_per_dataset_axes_and_hard_links_included(scan_factory):
    w = scan_factory()
    w.fill(3)
    with LiveFile(w.path) as live, LiveFile(w.path) as other:
        a, b = live.follow(sw.SCAN0D), live.follow(sw.SCAN0D_LINK)
        logger = live.follow(sw.LOGGER)
        assert sw.SCAN0D_LINK in live.paths and sw.SCAN0D in live.paths
        assert a.dataset is b.dataset
        assert logger.axis.dataset is not None
        assert logger.axis.dataset.name == sw.LOGGER_TIME
        assert other.follow(sw.LOGGER).axis.dataset is logger.axis.dataset
        gc.collect()
        assert h5py.h5f.get_obj_count(live.file.id, h5py.h5f.OBJ_DATASET) == 3
        w.fill(2)
        update = live.poll().updates[logger]
        np.testing.assert_array_equal(update.values, sw.point_value(np.arange(5)))
        x, known = logger.axis.at(update.indices)
        assert known.all()
        np.testing.assert_array_equal(x, sw.T0 + np.arange(5))  # epoch seconds, exact
        assert logger.axis.title == "time (s)"
        gc.collect()
        assert h5py.h5f.get_obj_count(live.file.id, h5py.h5f.OBJ_DATASET) == 3


def test_poll_is_never_reentrant(writer):
    writer.append(5)
    with LiveFile(writer.path) as live:
        feed = live.follow(swmr_writer.TREND)
        inner = []
        original = feed.poll

        def nested_poll():
            inner.append(live.poll())  # as a callback from inside a poll would
            return original()

        feed.poll = nested_poll
        poll = live.poll()
        assert inner and inner[0].updates == {}  # the nested call returned at once
        assert len(poll.updates[feed].values) == 5


def test_waiting_for_a_late_file(tmp_path, writer_factory, values):
    path = tmp_path / "late.h5"
    with pytest.raises(FileNotFoundError):
        LiveFile(path)
    with LiveFile(path, wait=True) as live:
        assert live.health.state is State.WAITING
        assert "waiting for late.h5 to be created" in live.health.describe()
        with pytest.raises(KeyError):
            live.follow(swmr_writer.TREND)
        writer_factory("late.h5").append(4)
        poll = poll_until(live, lambda p: Change.ATTACHED in p.changes)[-1]
        assert poll.structure_changed and swmr_writer.TREND in live.paths
        feed = live.follow(swmr_writer.TREND)
        np.testing.assert_array_equal(live.poll().updates[feed].values, values(np.arange(4)))


def test_feed_errors_are_reported_and_others_go_on(writer, values):
    writer.append(3)
    with LiveFile(writer.path) as live:
        good = live.follow(swmr_writer.TREND)
        bad = live.follow(swmr_writer.TRACE)

        def broken():
            raise OSError("disk on fire")

        bad.poll = broken
        poll = live.poll()
        assert poll.health.state is State.ERROR
        assert "disk on fire" in poll.health.describe()
        assert bad.error == "OSError: disk on fire"
        np.testing.assert_array_equal(poll.updates[good].values, values(np.arange(3)))


def test_nexus_default_chain_picks_the_first_view(tmp_path):
    nx = pytest.importorskip("nexusformat.nexus")
    path = tmp_path / "nx.nxs"
    first = nx.NXdata(nx.NXfield(np.arange(5.0), name="counts"), name="aaa_first")
    wanted = nx.NXdata(
        nx.NXfield(np.linspace(0, 1, 7), name="intensity", units="counts"),
        nx.NXfield(np.linspace(400, 700, 7), name="wavelength", units="nm"),
        name="zzz_data",
    )
    entry = nx.NXentry(first, wanted, name="entry")
    entry.attrs["default"] = "zzz_data"
    root = nx.NXroot(entry)
    root.attrs["default"] = "entry"
    root.save(str(path), mode="w")
    with LiveFile(path) as live:
        assert live.default_selection() == ("/entry/zzz_data/intensity",)
        assert live.meta("/entry/zzz_data/intensity").axes[0].title == "wavelength (nm)"
