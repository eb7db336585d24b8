"""Damaged files: the reader opens what it can, marks the rest, and raises only documented errors.

Each test damages a known object of a file it wrote (one byte of its object
header, whose checksum then fails) and reads the file through every layer:
the core functions, the live engine and the widget.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from swmr_widgets import (
    DamagedFileError,
    SwmrOpenError,
    collect_datasets,
    open_h5_file_for_reading,
    refresh_cached,
)
from swmr_widgets.hdf5lib import SWMR_READ_ATTEMPTS, hdf5_library, read_attempts
from swmr_widgets.live import LiveFile, Rows

GOOD = "/good/x"
BAD = "/bad/y"
#: Seconds a read of a damaged file may take at most (HDF5's own SWMR retries never end).
QUICK = 15.0


def good_values() -> np.ndarray:
    return np.arange(10.0) * 1.5


def write(path: Path) -> dict[str, int]:
    """A small file; returns the object header address of each object."""
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset(GOOD, data=good_values(), maxshape=(None,), chunks=(4,))
        f[GOOD].attrs["units"] = "V"
        f.create_dataset(BAD, data=np.arange(5.0))
        f.create_dataset("/bad/z", data=np.arange(3.0))
        return {name: h5py.h5o.get_info(f[name].id).addr for name in ("/", GOOD, BAD, "/bad")}


def damage(path: Path, address: int, offset: int = 6) -> None:
    """Overwrite one byte of the object header at `address` (its checksum then fails)."""
    with open(path, "r+b") as fh:
        fh.seek(address)
        assert fh.read(4) == b"OHDR"
        fh.seek(address + offset)
        byte = fh.read(1)
        fh.seek(address + offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def damaged(tmp_path) -> Path:
    """A file whose dataset BAD has a damaged object header."""
    path = tmp_path / "damaged.h5"
    damage(path, write(path)[BAD])
    return path


@pytest.mark.parametrize("swmr", [False, True])
def test_core_api_names_the_damaged_object_and_gives_the_rest(damaged, swmr):
    start = time.monotonic()
    f, _ = open_h5_file_for_reading(damaged, swmr=swmr)
    with f:
        with pytest.raises(DamagedFileError) as info:
            collect_datasets(f)
        err = info.value
        assert isinstance(err, SwmrOpenError) and isinstance(err, OSError)
        assert err.path == str(damaged) and repr(str(damaged)) in str(err)
        assert BAD in str(err) and "checksum" in str(err)
        assert list(err.damaged) == [BAD]
        assert sorted(err.datasets) == ["/bad/z", GOOD]
        skipped = collect_datasets(f, errors="skip")
        assert sorted(skipped) == ["/bad/z", GOOD]
        # one handle per dataset: HDF5 mis-reads a refreshed chunked dataset open twice
        del skipped
        gc.collect()
        refresh_cached(err.datasets)
        np.testing.assert_array_equal(err.datasets[GOOD][:], good_values())
    assert time.monotonic() - start < QUICK


def test_swmr_reads_retry_bad_metadata_only_briefly(damaged):
    if hdf5_library() is None:
        pytest.skip("h5py's libhdf5 cannot be found in this process (not Linux?)")
    f, is_swmr = open_h5_file_for_reading(damaged, swmr=True)
    with f:
        assert is_swmr
        assert read_attempts(f.id.get_access_plist()) == SWMR_READ_ATTEMPTS
        start = time.monotonic()
        with pytest.raises(KeyError):  # h5py's own error, in the caller's own code
            f[BAD]
        assert time.monotonic() - start < QUICK


def test_live_file_marks_the_damaged_object_and_follows_the_rest(damaged):
    with LiveFile(damaged) as live:
        nodes = {n["path"]: n for n in live.nodes}
        assert nodes[BAD]["broken"] and "checksum" in nodes[BAD]["reason"]
        assert nodes[BAD]["reason"].startswith("damaged: ")
        assert not nodes[GOOD].get("broken") and not nodes["/bad/z"].get("broken")
        assert BAD not in live.paths and GOOD in live.paths
        feed = live.follow(GOOD)
        poll = live.poll()
        assert not poll.health.errors
        (warning,) = poll.health.warnings
        assert "damaged" in warning and BAD in warning and "checksum" in warning
        update = poll.updates[feed]
        assert isinstance(update, Rows)
        np.testing.assert_array_equal(update.values, good_values())
        assert "warning: the file is damaged" in poll.health.describe()


def test_swmr_view_opens_what_it_can_and_says_what_is_damaged(damaged, views):
    pytest.importorskip("bqplot")
    view = views(damaged, selected=(GOOD,))
    view.refresh()
    assert "damaged" in view.status and BAD in view.status, view.status
    assert "error" not in view.status
    node = next(n for n in view._tree.nodes if n["path"] == BAD)
    assert node["broken"] and "checksum" in node["reason"]
    ys = [np.asarray(m.y) for fig in view.figures for m in fig.marks if hasattr(m, "y")]
    assert any(len(y) == 10 and np.array_equal(y, good_values()) for y in ys)


def test_damaged_group_is_marked_and_its_datasets_left_out(tmp_path, views):
    path = tmp_path / "group.h5"
    damage(path, write(path)["/bad"])
    with LiveFile(path) as live:
        nodes = {n["path"]: n for n in live.nodes}
        assert nodes["/bad"]["broken"] and "checksum" in nodes["/bad"]["reason"]
        assert live.paths == (GOOD,)
    f, _ = open_h5_file_for_reading(path)
    with f, pytest.raises(DamagedFileError) as info:
        collect_datasets(f)
    assert list(info.value.damaged) == ["/bad"] and list(info.value.datasets) == [GOOD]
    view = views(path)
    assert view.selected == (GOOD,) and "/bad" in view.status


def test_damaged_root_group_raises_a_documented_error_everywhere(tmp_path, views):
    path = tmp_path / "root.h5"
    damage(path, write(path)["/"])
    for call in (
        lambda: open_h5_file_for_reading(path),
        lambda: open_h5_file_for_reading(path, swmr=True),
        lambda: LiveFile(path),
        lambda: views(path),
    ):
        with pytest.raises(DamagedFileError) as info:
            call()
        assert repr(str(path)) in str(info.value) and "damaged" in str(info.value)


def test_refresh_of_a_dataset_damaged_under_the_reader(tmp_path):
    """The writer's disk fails after the reader opened the file: refresh says so, the poll too."""
    path = tmp_path / "later.h5"
    addresses = write(path)
    f, _ = open_h5_file_for_reading(path, swmr=True)
    with f:
        cache = collect_datasets(f)
        refresh_cached(cache)
        with LiveFile(path) as live:  # shares the open file
            feed = live.follow(GOOD)
            assert not live.poll().health.errors
            damage(path, addresses[GOOD])
            with pytest.raises(DamagedFileError) as info:
                refresh_cached(cache)
            assert GOOD in str(info.value) and repr(str(path)) in str(info.value)
            poll = live.poll()  # never raises: the error names the file and dataset
            assert poll.health.errors, poll.health
            assert all(e.startswith(f"{GOOD}: DamagedFileError: ") for e in poll.health.errors)
            assert feed.error.startswith("DamagedFileError")
