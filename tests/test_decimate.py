"""Decimation keeps extremes and bounds what is sent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from swmr_widgets import decimate as dec
from swmr_widgets.decimate import (
    MinMaxSummary,
    decimate_image,
    decimate_trace,
    exact_float,
    minmax_indices,
    to_float,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@settings(max_examples=150, deadline=None)
@given(y=hnp.arrays(np.float64, st.integers(1, 5000), elements=finite), n_out=st.integers(2, 300))
def test_minmax_keeps_global_extremes(y, n_out):
    for use_ts in (False, True):
        idx = minmax_indices(y, n_out, use_tsdownsample=use_ts)
        assert np.all(np.diff(idx) > 0)
        assert idx[0] == 0 and idx[-1] == len(y) - 1
        assert len(idx) <= max(n_out, 2) + 2
        assert y[idx].max() == y.max()
        assert y[idx].min() == y.min()


def test_nan_buckets_and_ints():
    y = np.full(10_000, np.nan)
    y[1234] = 5.0
    y[8000] = -2.0
    idx = minmax_indices(y, 100, use_tsdownsample=False)
    assert 1234 in idx and 8000 in idx
    big = np.arange(3_000_000_000, 3_000_100_000, dtype=np.int64)
    x, v = decimate_trace(big, 1000)
    assert v.dtype == np.float64  # float32 would round 3e9 + i to a multiple of 256
    assert v.max() == big.max()
    np.testing.assert_array_equal(v, big[x.astype(np.int64)])
    assert x[-1] == len(big) - 1


def test_decimate_trace_with_x_and_short_input():
    y = np.sin(np.linspace(0, 20, 1_000_000))
    y[654_321] = 9.0
    x = np.linspace(400, 800, y.size)
    xs, ys = decimate_trace(y, 2000, x)
    assert len(xs) == len(ys) <= 2002
    assert ys.max() == 9.0
    np.testing.assert_array_equal(ys, y[np.searchsorted(x, xs)])
    assert xs[np.argmax(ys)] == pytest.approx(x[654_321])
    xs, ys = decimate_trace(np.array([1, 2, 3], dtype=np.uint16))
    np.testing.assert_array_equal(ys, [1, 2, 3])
    np.testing.assert_array_equal(xs, [0, 1, 2])
    with pytest.raises(ValueError, match="1-D"):
        decimate_trace(np.zeros((2, 2)))


@pytest.mark.skipif(dec._TsMinMax is None, reason="tsdownsample not installed")
def test_tsdownsample_and_numpy_agree_on_extremes():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200_000)
    a = minmax_indices(y, 2000, use_tsdownsample=True)
    b = minmax_indices(y, 2000, use_tsdownsample=False)
    assert y[a].max() == y[b].max() == y.max()
    assert y[a].min() == y[b].min() == y.min()


def test_decimate_image():
    img = np.arange(2048 * 1500, dtype=np.uint16).reshape(2048, 1500)
    small, factors = decimate_image(img)
    assert small.dtype == np.float32
    assert small.shape[0] <= 512 and small.shape[1] <= 512
    assert factors == (4, 3)
    assert small[0, 0] == pytest.approx(img[:4, :3].mean())
    same, f1 = decimate_image(np.ones((10, 20), dtype=np.int64))
    assert same.shape == (10, 20) and f1 == (1, 1)
    assert same.dtype == np.float32  # exact: nothing to gain from float64
    holes = np.full((1024, 1024), np.nan)
    holes[:2, :2] = 4.0
    red, _ = decimate_image(holes)
    assert red[0, 0] == 4.0 and np.isnan(red[-1, -1])


def test_to_float_handles_awkward_dtypes():
    assert to_float(np.array([True, False])).tolist() == [1.0, 0.0]
    assert to_float(np.array([3 + 4j])).tolist() == [5.0]
    assert to_float(np.array([2**40], dtype=np.uint64), np.float64).tolist() == [2.0**40]
    assert to_float(np.array([1.5], dtype=np.float16)).dtype == np.float32


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(
        hnp.arrays(
            np.float64, st.integers(0, 400), elements=st.floats(-1e3, 1e3) | st.just(np.nan)
        ),
        max_size=12,
    ),
    n_buckets=st.integers(1, 20),
    first=st.integers(0, 1000),
)
def test_summary_matches_full_series(chunks, n_buckets, first):
    summary = MinMaxSummary(n_buckets)
    for i, chunk in enumerate(chunks):
        summary.extend(chunk, start=first if i == 0 else None)
    series = np.concatenate(chunks) if chunks else np.empty(0)
    assert len(summary) == len(series)
    x, y = summary.points()
    assert len(x) <= 4 * n_buckets + 4
    assert np.all(np.diff(x) > 0)
    finite = series[~np.isnan(series)]
    if len(finite) == 0:
        assert len(y) == 0
        return
    assert y.max() == finite.max()
    assert y.min() == finite.min()
    finite_at = np.flatnonzero(~np.isnan(series)) + first
    assert x[0] == finite_at[0]
    assert x[-1] == finite_at[-1]
    # every point is a real (index, value) pair of the series
    np.testing.assert_array_equal(y, series[x.astype(int) - first])


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (np.arange(2**24, 2**24 + 50, dtype=np.int64), np.float64),
        (1e12 + np.arange(50.0), np.float64),
        (1.7e9 + np.arange(50.0) * 0.1, np.float64),
        (2**40 + np.arange(50, dtype=np.uint64), np.float64),
        (np.arange(50, dtype=np.uint16), np.float32),
        (np.arange(50, dtype=np.int64), np.float32),
        (np.array([0.5, np.nan, 2.25]), np.float32),
        (np.array([0.1, 0.2]), np.float64),
        (np.array([True, False]), np.float32),
    ],
)
def test_exact_float_is_float32_only_when_exact(values, dtype):
    out = exact_float(values)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, values.astype(np.float64))
    x, y = decimate_trace(values, 10)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, values[x.astype(np.int64)].astype(np.float64))
    summary = MinMaxSummary(4)
    summary.extend(values)
    x, y = summary.points()
    np.testing.assert_array_equal(y, values[x.astype(np.int64)].astype(np.float64))


def test_decimate_image_keeps_large_values_within_the_byte_budget():
    ramp = 1e12 + np.arange(100 * 80, dtype=np.float64).reshape(100, 80)
    small, factors = decimate_image(ramp)
    assert small.dtype == np.float64 and factors == (1, 1)
    np.testing.assert_array_equal(small, ramp)
    huge = 1e12 + np.arange(1024 * 1024, dtype=np.float64).reshape(1024, 1024)
    reduced, factors = decimate_image(huge)
    assert reduced.nbytes <= 512 * 512 * 4
    assert reduced.dtype == np.float64  # float32 would flatten the ramp into steps
    assert reduced[0, 0] == huge[: factors[0], : factors[1]].mean()
    noise = np.random.default_rng(3).normal(size=(1024, 1024))
    reduced, factors = decimate_image(noise)
    assert reduced.dtype == np.float32 and factors == (2, 2)  # rounding far below the range


def test_summary_memory_is_bounded_and_rejects_gaps():
    summary = MinMaxSummary(100)
    rng = np.random.default_rng(1)
    for _ in range(50):
        summary.extend(rng.normal(size=20_000))
    assert len(summary) == 1_000_000
    assert len(summary._vmin) <= 200
    assert len(summary._tail) < summary.bucket_size
    with pytest.raises(ValueError, match="expected 1000000"):
        summary.extend(np.ones(3), start=5)


@pytest.mark.parametrize("shape", [(1024, 1024), (1030, 1100)])  # blocks tile it, or not
def test_decimate_image_leaves_invalid_pixels_out(shape):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 1000, shape).astype(np.uint32)
    invalid = np.zeros(shape, dtype=bool)
    invalid[::7, ::5] = True
    image[invalid] = np.iinfo(np.uint32).max  # a detector's gap value
    reduced, (fy, fx) = decimate_image(image, invalid=invalid)
    block = image[:fy, :fx][~invalid[:fy, :fx]]
    assert reduced[0, 0] == pytest.approx(block.mean(), rel=1e-6)
    assert reduced.max() < 1000


def test_reduced_camera_frames_keep_values_float32_would_round():
    from swmr_widgets.frames import reduce_frame

    frame = 1e12 + np.arange(1024 * 1024, dtype=np.float64).reshape(1024, 1024)
    reduced, factors = reduce_frame(frame, None)
    assert reduced.dtype == np.float64 and reduced.nbytes <= 512 * 512 * 4
    assert reduced[0, 0] == frame[: factors[0], : factors[1]].mean()
