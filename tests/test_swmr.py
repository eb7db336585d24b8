"""The documented SWMR API against a real writer in another process."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import swmr_writer

import swmr_widgets
from swmr_widgets import swmr as core
from swmr_widgets.swmr import (
    FileLockedError,
    NotHDF5Error,
    UncleanFileError,
    collect_datasets,
    open_h5_file_for_reading,
    refresh_cached,
    refresh_datasets,
)


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def make_closed_file(path: Path, **attrs) -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("RawData/CH000/Data0D/Data00/data", data=np.arange(5.0))
        f.create_dataset("RawData/CH001/img", data=np.ones((3, 4)))
        f.attrs.update(attrs)
    return path


def test_public_imports():
    for name in (
        "open_h5_file_for_reading",
        "collect_datasets",
        "refresh_cached",
        "refresh_datasets",
    ):
        assert getattr(swmr_widgets, name) is getattr(core, name)
    assert swmr_widgets.__version__


def test_documented_loop_sees_every_flush(writer, values):
    f, is_swmr = open_h5_file_for_reading(writer.path)
    with f:
        assert is_swmr
        cache = collect_datasets(f["RawData"])
        assert swmr_writer.TREND in cache
        ds = cache[swmr_writer.TREND]
        assert ds.shape == (0,)
        length = 0
        for k in (1, 7, 100, 3):
            length = writer.append(k)
            refresh_cached(cache)
            assert ds.shape == (length,)
            assert len(ds) == length
            np.testing.assert_array_equal(ds[:], values(np.arange(length)))
            assert ds[-1] == values(length - 1)
            np.testing.assert_array_equal(
                cache[swmr_writer.TRACE][-1], swmr_writer.trace_rows(length - 1, length)[0]
            )


def test_id_refresh_alone_leaves_shape_stale(writer):
    """The premise of this package: the reference implementation's refresh shows nothing new."""
    with h5py.File(writer.path, "r", swmr=True) as f:
        ds = f[swmr_writer.TREND]
        assert ds.shape == (0,)
        writer.append(5)
        ds.id.refresh()
        assert ds.id.shape == (5,)
        assert ds.shape == (0,), "h5py no longer caches shapes; the workaround may be dropped"
        refresh_cached({"x": ds})
        assert ds.shape == (5,)


def test_refresh_datasets_one_shot(writer, values):
    f, _ = open_h5_file_for_reading(writer.path)
    with f:
        ds = f[swmr_writer.TREND]
        writer.append(11)
        refresh_datasets(f)
        np.testing.assert_array_equal(ds[:], values(np.arange(11)))


def test_collect_absolute_paths_and_links(tmp_path):
    path = make_closed_file(tmp_path / "a.h5")
    ext = make_closed_file(tmp_path / "ext.h5")
    with h5py.File(path, "a") as f:
        f["RawData/soft"] = h5py.SoftLink("/RawData/CH001/img")
        f["RawData/external"] = h5py.ExternalLink(ext.name, "/RawData/CH001/img")
        f["RawData/hard"] = f["RawData/CH001/img"]
    with h5py.File(path, "r") as f:
        sub = collect_datasets(f["RawData/CH000"])
        assert list(sub) == ["/RawData/CH000/Data0D/Data00/data"]
        everything = collect_datasets(f)
        assert "/RawData/CH001/img" in everything or "/RawData/hard" in everything
        assert not any("soft" in k or "external" in k for k in everything)
        assert len(everything) == 2
        assert all(k.startswith("/") for k in everything)


def test_refresh_on_plain_file_is_harmless(tmp_path):
    path = make_closed_file(tmp_path / "a.h5")
    f, is_swmr = open_h5_file_for_reading(path)
    with f:
        assert not is_swmr
        cache = collect_datasets(f)
        refresh_cached(cache)
        refresh_datasets(f)
        assert cache["/RawData/CH000/Data0D/Data00/data"][-1] == 4.0


def test_refresh_after_close_names_the_dataset(tmp_path):
    f, _ = open_h5_file_for_reading(make_closed_file(tmp_path / "a.h5"))
    cache = collect_datasets(f)
    f.close()
    with pytest.raises(ValueError, match=r"/RawData/CH000/Data0D/Data00/data.*closed"):
        refresh_cached(cache)


# --------------------------------------------------------------------------- open: good cases


def test_open_closed_ordinary_file(tmp_path):
    path = make_closed_file(tmp_path / "a.h5")
    f, is_swmr = open_h5_file_for_reading(path)
    with f:
        assert is_swmr is False
        assert f.mode == "r"


def test_open_closed_pymodaq_file_with_swmr_active(tmp_path):
    path = make_closed_file(
        tmp_path / "pm.h5", swmr_active='{"module": "builtins", "type": "bool", "data": "True"}'
    )
    f, is_swmr = open_h5_file_for_reading(path)
    with f:
        assert is_swmr is True
        assert f.swmr_mode
    plain = make_closed_file(tmp_path / "plain.h5", swmr_active=True)
    f, is_swmr = open_h5_file_for_reading(plain)
    f.close()
    assert is_swmr is True


def test_core_does_not_import_attribute_decoding():
    code = "import sys, swmr_widgets.swmr; print(*sys.modules, sep='\\n')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "swmr_widgets.swmr" in loaded
    assert not loaded & {"swmr_widgets.attrs", "swmr_widgets.metadata", "swmr_widgets.nodes"}


PMD_TRUE = '{"module": "builtins", "type": "bool", "data": "True"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # PyMoDAQ's JSON
        (PMD_TRUE, True),
        (PMD_TRUE.replace("True", "False"), False),
        (np.bytes_(PMD_TRUE.encode()), True),
        ('{"module": "builtins", "type": "str", "data": "\'True\'"}', True),
        ('{"module": "numpy", "type": "bool", "data": "np.True_"}', True),
        ('{"data": true}', True),
        ('{"data": 0}', False),
        # plain, bytes and numpy
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (" Yes ", True),
        ("false", False),
        (b"true", True),
        (b"0", False),
        (np.bool_(True), True),
        (np.bool_(False), False),
        (np.array(True), True),
        (np.array([1], dtype="u1"), True),
        (np.int8(0), False),
        # garbage
        ("", False),
        ("maybe", False),
        (b"\xff\xfe", False),
        ('{"data": ', False),
        ('{"data": ' + "[" * 100_000, False),
        ('{"module": "os", "type": "system", "data": "__import__(\'os\').getpid()"}', False),
        ('{"data": [true]}', False),
        ("[true]", False),
        (np.array([True, False]), False),
        (h5py.Empty("f8"), False),
        (None, False),
        (object(), False),
    ],
)
def test_flag_forms(value, expected):
    assert core._flag(value) is expected


def test_open_live_swmr_writer_auto_and_forced(writer):
    for mode in ("auto", True):
        f, is_swmr = open_h5_file_for_reading(writer.path, swmr=mode)
        with f:
            assert is_swmr is True
    with pytest.raises(UncleanFileError, match=r"swmr=True"):
        open_h5_file_for_reading(writer.path, swmr=False)


def test_open_left_by_crashed_swmr_writer(writer, values):
    writer.append(9)
    writer.kill()
    f, is_swmr = open_h5_file_for_reading(writer.path)
    with f:
        assert is_swmr is True
        np.testing.assert_array_equal(f[swmr_writer.TREND][:], values(np.arange(9)))


# --------------------------------------------------------------------------- open: errors


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match=r"nope\.h5") as info:
        open_h5_file_for_reading(missing)
    assert "timeout" in str(info.value)
    assert isinstance(info.value, OSError)


def test_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        open_h5_file_for_reading(tmp_path)


@pytest.mark.parametrize("content", [b"hello, this is not HDF5\n" * 40, b""])
def test_not_hdf5(tmp_path, content):
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(NotHDF5Error, match=r"x\.h5.*not an HDF5 file") as info:
        open_h5_file_for_reading(path)
    assert isinstance(info.value, OSError)


def test_truncated(tmp_path):
    path = make_closed_file(tmp_path / "full.h5")
    with h5py.File(path, "a") as f:
        f["big"] = np.arange(100_000.0)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(NotHDF5Error, match="truncated"):
        open_h5_file_for_reading(cut)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_permission_denied(tmp_path):
    path = make_closed_file(tmp_path / "a.h5")
    path.chmod(0)
    with pytest.raises(PermissionError, match="read access"):
        open_h5_file_for_reading(path)


def test_live_non_swmr_writer(writer_factory):
    w = writer_factory("plain.h5", "--no-swmr")
    for mode in ("auto", True, False):
        with pytest.raises(FileLockedError, match=r"libver='latest'.*swmr_mode=True") as info:
            open_h5_file_for_reading(w.path, swmr=mode)
        assert "plain.h5" in str(info.value)
        assert isinstance(info.value, OSError)


def test_crashed_non_swmr_writer_needs_h5clear(writer_factory):
    w = writer_factory("crashed.h5", "--no-swmr")
    w.append(3)
    w.kill()
    with pytest.raises(UncleanFileError, match=r"h5clear -s") as info:
        open_h5_file_for_reading(w.path)
    assert "crashed.h5" in str(info.value)
    h5clear = shutil.which("h5clear")
    if h5clear is None:
        pytest.skip("h5clear (Debian package hdf5-tools) is not installed")
    subprocess.run([h5clear, "-s", str(w.path)], check=True, timeout=30)
    f, _ = open_h5_file_for_reading(w.path)
    f.close()


# --------------------------------------------------------------------------- waiting


def test_timeout_waits_for_file_to_appear(tmp_path, writer_factory):
    path = tmp_path / "later.h5"
    timer = threading.Timer(0.8, writer_factory, args=("later.h5",))
    timer.start()
    try:
        t0 = time.monotonic()
        f, is_swmr = open_h5_file_for_reading(path, timeout=20)
        f.close()
    finally:
        timer.join()
    assert is_swmr
    assert time.monotonic() - t0 >= 0.5


def test_timeout_waits_for_writer_to_enable_swmr(writer_factory):
    w = writer_factory("late.h5", "--no-swmr")
    with pytest.raises(FileLockedError):
        open_h5_file_for_reading(w.path)
    timer = threading.Timer(1.0, w.send, args=("swmr",))
    timer.start()
    try:
        t0 = time.monotonic()
        f, is_swmr = open_h5_file_for_reading(w.path, timeout=20)
        waited = time.monotonic() - t0
        with f:
            assert is_swmr
            w_len = w.append(4)
            refresh_datasets(f)
            assert f[swmr_writer.TREND].shape == (w_len,)
    finally:
        timer.join()
    assert 0.8 <= waited < 5


def test_timeout_still_fails_clearly(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(FileNotFoundError):
        open_h5_file_for_reading(tmp_path / "never.h5", timeout=0.5)
    assert 0.4 <= time.monotonic() - t0 < 3


# --------------------------------------------------------------------------- read-only


def test_reader_never_modifies_the_file(tmp_path, writer_factory):
    w = writer_factory("done.h5")
    w.append(50)
    w.fill(10)
    w.close()
    before = fingerprint(w.path)
    for _ in range(3):
        f, _ = open_h5_file_for_reading(w.path)
        cache = collect_datasets(f)
        refresh_cached(cache)
        refresh_datasets(f)
        for ds in cache.values():
            ds[...]
        f.close()
    assert fingerprint(w.path) == before


def test_reader_in_subprocess_while_writer_writes(writer, values):
    """Two processes read one live file: a subprocess reader and this one."""
    writer.append(10)
    code = (
        "import sys\n"
        "from swmr_widgets import open_h5_file_for_reading, collect_datasets, refresh_cached\n"
        "f, s = open_h5_file_for_reading(sys.argv[1]); c = collect_datasets(f)\n"
        "refresh_cached(c); print(s, c[sys.argv[2]].shape[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(writer.path), swmr_writer.TREND],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == ["True", "10"]
    f, _ = open_h5_file_for_reading(writer.path)
    with f:
        writer.append(5)
        refresh_datasets(f)
        np.testing.assert_array_equal(f[swmr_writer.TREND][:], values(np.arange(15)))
