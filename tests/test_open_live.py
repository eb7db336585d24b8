"""A file a fast SWMR writer is extending is never reported as damaged; a damaged one still is."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest

from swmr_widgets.live import LiveFile
from swmr_widgets.processes import spawn, stop
from swmr_widgets.superblock import held_by_swmr_writer, status_flags
from swmr_widgets.swmr import NotHDF5Error, open_h5_file_for_reading

#: A fast writer: a flush every millisecond, a frame every 5 ms.
FAST = ("--rows-per-s", "20000", "--step", "0.001", "--frame-hz", "200", "--frame-size", "64")


@pytest.fixture
def cpu_load():
    """One busy process beside the test, as on a loaded machine (the race shows more often)."""
    burner = spawn([sys.executable, "-c", "while True: pass"])
    yield
    stop(burner)


def test_many_opens_of_a_live_file_never_see_truncation(stream_factory, cpu_load):
    """Before the fix, a non-SWMR first try saw "truncated file" about once in 50 opens here."""
    w = stream_factory("fast.h5", *FAST)
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    failures: list[str] = []
    for _ in range(2000):
        try:
            f, is_swmr = open_h5_file_for_reading(w.path)
        except NotHDF5Error as exc:
            failures.append(str(exc))
            continue
        with f:
            assert is_swmr is True
    assert w.proc.poll() is None, "the writer must still run: the test is about a live file"
    assert failures == []


def test_live_file_engine_always_attaches_to_a_live_file(stream_factory, cpu_load):
    w = stream_factory("fast.h5", *FAST)
    w.expect("created")
    w.expect("swmr")
    w.expect("ready")
    for _ in range(300):
        live = LiveFile(w.path, wait=False)
        try:
            assert live.attached and live.is_swmr
            assert "/stream/frames" in live.paths
        finally:
            live.close()
    assert w.proc.poll() is None


def _cut_tail(path, nbytes: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - nbytes])


@pytest.mark.parametrize("libver", ["earliest", "latest"])
@pytest.mark.parametrize("swmr", ["auto", False])
def test_truncated_closed_file_is_reported_with_its_name(tmp_path, libver, swmr):
    """Cut like the live case (the superblock intact, the end missing): still damaged.

    An SWMR open would not notice (HDF5 skips the end-of-file check in SWMR mode),
    so "auto" must not fall back to it for a closed file.
    """
    path = tmp_path / "damaged_scan.h5"
    with h5py.File(path, "w", libver=libver) as f:
        f.create_dataset("data", data=np.arange(200_000.0), chunks=(1000,))
    _cut_tail(path, 2048)
    assert status_flags(path) == 0 and not held_by_swmr_writer(path)
    with pytest.raises(NotHDF5Error, match=r"damaged_scan\.h5.*truncated") as info:
        open_h5_file_for_reading(path, swmr=swmr)
    assert "damaged" in str(info.value)
    assert "h5clear" not in str(info.value)
    with pytest.raises(NotHDF5Error, match=r"damaged_scan\.h5"):
        LiveFile(path, wait=False)


def test_swmr_writer_flags_are_read_from_the_superblock(writer_factory, tmp_path):
    w = writer_factory("flags.h5", "--no-swmr")
    assert status_flags(w.path) == 1  # open for write, SWMR not on yet
    assert not held_by_swmr_writer(w.path)
    w.send("swmr")
    assert held_by_swmr_writer(w.path)
    w.close()
    assert status_flags(w.path) == 0 and not held_by_swmr_writer(w.path)
    text = tmp_path / "notes.txt"
    text.write_text("not HDF5")
    assert status_flags(text) is None and not held_by_swmr_writer(text)
    assert status_flags(tmp_path / "missing.h5") is None
