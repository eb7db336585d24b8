"""Colour ranges that ignore detector sentinels and masked pixels."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from swmr_widgets.contrast import color_range, invalid_pixels


def test_eiger_sentinels_and_pixel_mask_are_left_out():
    rng = np.random.default_rng(0)
    frame = rng.poisson(100, size=(64, 80)).astype(np.uint32)
    frame[:, 40] = 2**32 - 1  # a module gap
    mask = np.zeros(frame.shape, dtype=np.uint32)
    mask[3, 5] = 8  # a hot pixel listed in pixel_mask
    frame[3, 5] = 10**6
    lo, hi = color_range(frame, mask, percentiles=(0, 100))
    good = ~invalid_pixels(frame, mask)
    assert (lo, hi) == (float(frame[good].min()), float(frame[good].max()))
    assert hi < 1000
    lo, hi = color_range(frame, mask)
    assert frame[good].min() <= lo < hi <= frame[good].max()


def test_signed_minus_one_only_when_it_is_a_sentinel():
    img = np.array([[-1, 5], [7, 9]], dtype=np.int32)
    assert color_range(img, percentiles=(0, 100)) == (5.0, 9.0)
    real = np.array([[-1, -5], [7, 9]], dtype=np.int32)  # negative data: -1 is a value
    assert color_range(real, percentiles=(0, 100)) == (-5.0, 9.0)


def test_no_valid_pixel_and_flat_images():
    assert color_range(np.full((3, 3), np.nan)) is None
    lo, hi = color_range(np.full((3, 3), 4.0))
    assert lo == 4.0 and hi > lo


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=30)))
def test_range_lies_within_the_valid_values(image):
    found = color_range(image, percentiles=(0, 100))
    valid = image[np.isfinite(image)]
    if not valid.size:
        assert found is None
        return
    lo, hi = found
    assert lo == valid.min() and hi >= lo
    if valid.max() > valid.min():
        assert hi == valid.max()


@given(st.integers(1, 2**31))
def test_percentile_range_is_inside_min_max(seed):
    img = np.random.default_rng(seed).normal(size=(20, 20))
    lo, hi = color_range(img)
    assert img.min() <= lo < hi <= img.max()
