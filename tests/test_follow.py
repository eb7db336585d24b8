"""The incremental follower against a real writer in another process."""

from __future__ import annotations

import random
import threading
import time

import h5py
import numpy as np
import pytest
import swmr_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from swmr_widgets import follow as follow_module
from swmr_widgets.follow import DatasetFollower, History
from swmr_widgets.swmr import open_h5_file_for_reading


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_append_every_row_once_in_order_random_timing(writer, values, seed):
    rng = random.Random(seed)
    f, _ = open_h5_file_for_reading(writer.path)
    done = threading.Event()
    written = []

    def write() -> None:
        try:
            for _ in range(60):
                written.append(writer.append(rng.choice([1, 1, 2, 5, 17, 300])))
                time.sleep(rng.uniform(0, 0.01))
        finally:
            done.set()

    with f:
        trend = DatasetFollower(f[swmr_writer.TREND])
        trace = DatasetFollower(f[swmr_writer.TRACE], history=50)
        got, got_trace, starts = [], [], []
        thread = threading.Thread(target=write)
        thread.start()
        while True:
            finished = done.is_set()
            update = trend.poll()
            starts.append((update.start, len(update)))
            got.append(update.rows)
            got_trace.append(trace.poll().rows)
            if finished:
                break
            time.sleep(rng.uniform(0, 0.004))
        thread.join(timeout=60)
    total = written[-1]
    got = np.concatenate(got)
    np.testing.assert_array_equal(got, values(np.arange(total)))
    np.testing.assert_array_equal(np.concatenate(got_trace), swmr_writer.trace_rows(0, total))
    # contiguous and never overlapping
    pos = 0
    for start, n in starts:
        assert start == pos
        pos += n
    assert trend.progress == (total, None)
    assert len(trace.history) == min(50, total)
    np.testing.assert_array_equal(
        trace.history.indices, np.arange(total - len(trace.history), total)
    )


def test_fill_in_place_progress_and_rows(writer, values):
    f, _ = open_h5_file_for_reading(writer.path)
    with f:
        scan0 = DatasetFollower(f[swmr_writer.SCAN0D])
        scan1 = DatasetFollower(f[swmr_writer.SCAN1D])
        assert scan0.mode == scan1.mode == "fill"
        first = scan0.poll()
        assert len(first) == 0
        assert scan0.progress == (0, 50)
        filled = 0
        for k in (1, 3, 10, 1, 30, 20):
            filled = writer.fill(k)
            u0, u1 = scan0.poll(), scan1.poll()
            assert scan0.progress == (filled, 50)
            assert u0.total == filled and u0.capacity == 50
            np.testing.assert_array_equal(u0.rows, values(np.arange(u0.start, u0.stop)))
            np.testing.assert_array_equal(u1.rows, swmr_writer.trace_rows(u1.start, u1.stop))
            assert u0.stop == filled
        assert filled == 50
        np.testing.assert_array_equal(scan0.history.values, values(np.arange(50)))


def test_fill_reads_only_from_the_cursor(tmp_path, monkeypatch):
    """A large pre-allocated array is not re-read at every poll."""
    path = tmp_path / "big.h5"
    n = 200_000
    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset("scan", data=np.full(n, np.nan), chunks=(4096,))
        ds[:1000] = np.arange(1000.0)
    reads: list[tuple[int, int]] = []
    real_read = follow_module._read

    def counting_read(ds, start, stop):
        reads.append((start, stop))
        return real_read(ds, start, stop)

    monkeypatch.setattr(follow_module, "_read", counting_read)
    with h5py.File(path, "r") as f:
        fol = DatasetFollower(f["scan"])
        fol.poll()
        assert fol.progress == (1000, n)
        reads.clear()
        for _ in range(5):
            fol.poll()
    rows_read = sum(stop - start for start, stop in reads)
    assert rows_read < 5 * 20_000, reads


def test_fill_detects_user_fill_value(tmp_path):
    path = tmp_path / "fv.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("scan", shape=(10,), dtype="i4", fillvalue=-1)
        ds[:4] = [0, 1, 0, 3]
        f.create_dataset("plain", data=np.zeros(6, dtype="i4"))
    with h5py.File(path, "r") as f:
        fol = DatasetFollower(f["scan"])
        update = fol.poll()
        assert fol.progress == (4, 10)
        np.testing.assert_array_equal(update.rows, [0, 1, 0, 3])
        plain = DatasetFollower(f["plain"])
        plain.poll()
        assert plain.progress == (6, 6)  # zeros are data when no fill value was set


def test_shrink_or_reshape_resets(tmp_path):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("x", data=np.arange(10.0), maxshape=(None,), chunks=True)
        fol = DatasetFollower(ds)
        assert len(fol.poll()) == 10
        ds.resize((4,))
        ds[:] = [7.0, 8.0, 9.0, 10.0]
        update = fol.poll()
        assert update.reset
        np.testing.assert_array_equal(update.rows, [7.0, 8.0, 9.0, 10.0])
        np.testing.assert_array_equal(fol.history.values, [7.0, 8.0, 9.0, 10.0])
        ds.resize((6,))
        ds[4:] = [11.0, 12.0]
        update = fol.poll()
        assert not update.reset
        np.testing.assert_array_equal(update.rows, [11.0, 12.0])


def test_tail_start_and_max_rows(tmp_path):
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(1000.0), maxshape=(None,), chunks=True)
    with h5py.File(path, "r") as f:
        tail = DatasetFollower(f["x"], start=None, history=100)
        update = tail.poll()
        assert update.start == 900
        np.testing.assert_array_equal(update.rows, np.arange(900.0, 1000.0))
        chunked = DatasetFollower(f["x"], max_rows=300)
        seen = []
        while True:
            update = chunked.poll()
            seen.append(update.rows)
            if not chunked.pending:
                break
        np.testing.assert_array_equal(np.concatenate(seen), np.arange(1000.0))


def test_history_memory_is_bounded(tmp_path):
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "frames", data=np.zeros((40, 64, 64)), maxshape=(None, 64, 64), chunks=True
        )
    with h5py.File(path, "r") as f:
        fol = DatasetFollower(f["frames"], history=10_000, history_bytes=10 * 64 * 64 * 8)
        fol.poll()
        assert fol.history.capacity == 10
        assert len(fol.history) == 10
        assert fol.history.nbytes <= 2 * 10 * 64 * 64 * 8 + 2 * 10 * 8


def test_closed_file_and_scalar(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3.0)
        f["s"] = 1.0
    f = h5py.File(path, "r")
    with pytest.raises(ValueError, match="scalar"):
        DatasetFollower(f["s"])
    fol = DatasetFollower(f["x"])
    f.close()
    with pytest.raises(ValueError, match="closed"):
        fol.poll()


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 20),
    steps=st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 30)), max_size=30),
)
def test_history_matches_a_plain_model(capacity, steps):
    hist = History(capacity, (), np.dtype("f8"))
    model: dict[int, float] = {}
    nxt = 0
    for back, n in steps:
        start = max(0, nxt - max(back, 0)) if model else nxt
        rows = np.arange(start, start + n, dtype="f8") * 10 + len(model)
        hist.extend(start, rows)
        for k in [k for k in model if k >= start]:
            del model[k]
        model.update({start + i: v for i, v in enumerate(rows)})
        nxt = max(model) + 1 if model else start
        keep = sorted(model)[-capacity:]
        model = {k: model[k] for k in keep}  # evicted rows are gone for good
        np.testing.assert_array_equal(hist.indices, keep)
        np.testing.assert_array_equal(hist.values, [model[k] for k in keep])
