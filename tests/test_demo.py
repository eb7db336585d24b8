"""The demo writer, run as a real process, read with h5py in SWMR mode from this one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from waits import gone, wait_for

from swmr_widgets import demo
from swmr_widgets.attrs import decode_attr, read_attrs
from swmr_widgets.demo import DemoConfig, DemoWriter, build_parser, start_demo, trend_value
from swmr_widgets.metadata import describe_dataset

pytestmark = pytest.mark.timeout(60)

ALL_PATHS = [
    demo.TREND_PATH,
    demo.TEMPERATURE_PATH,
    demo.COUNTER_PATH,
    demo.SPECTRUM_PATH,
    demo.WAVELENGTH_PATH,
    demo.FRAME_PATH,
    demo.SCAN_NAV_PATH,
    demo.SCAN_PATH,
    demo.SCAN_SPECTRUM_PATH,
    demo.SCAN_AXIS_PATH,
    demo.LOGGER_PATH,
    demo.LOGGER_TIME_PATH,
]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., DemoWriter]]:
    """Start demo writers on files in ``tmp_path``; each is stopped (by pid) at teardown."""
    writers: list[DemoWriter] = []

    def _start(name: str = "demo.h5", wait_ready: bool | None = None, **options) -> DemoWriter:
        writer = DemoWriter(tmp_path / name, **options)
        writers.append(writer)
        return writer.start(timeout=30, wait_ready=wait_ready)

    yield _start
    for writer in writers:
        writer.stop(timeout=5)
        if writer.pid is not None and not gone(writer.pid):
            os.kill(writer.pid, signal.SIGKILL)


def test_trend_value_is_exact_and_chunk_independent():
    i = np.arange(10_000)
    whole = trend_value(i, seed=3)
    parts = np.concatenate([trend_value(i[k : k + 7], seed=3) for k in range(0, len(i), 7)])
    assert whole.dtype == np.float64
    assert np.array_equal(whole, parts)
    assert np.array_equal(whole[5], trend_value(5, seed=3))
    assert not np.array_equal(whole, trend_value(i, seed=4))
    assert whole.min() > 0.9 and whole.max() < 1.6
    assert (demo.counter_value(i) > 2**31).all()


def test_config_round_trips_through_the_command_line():
    parse = build_parser().parse_args
    assert DemoConfig.from_args(parse(["x.h5"])) == DemoConfig()
    assert DemoConfig().to_argv() == []
    config = DemoConfig(
        rate=0.1, duration=2.5, rows_per_step=3, scan_points=0, frame_every=4, seed=-7,
        swmr_delay=1e-3, swmr=False,
    )  # fmt: skip
    assert DemoConfig.from_args(parse(["x.h5", *config.to_argv()])) == config
    assert DemoConfig(rate="20", frame_every=None, seed="3") == DemoConfig(rate=20.0, seed=3)
    assert DemoConfig(rate=50).frame_steps == 10 and DemoConfig(frame_every=2).frame_steps == 2
    assert DemoConfig(rows_per_step=0).step_rows == 1 and DemoConfig(rate=4).period == 0.25
    for bad in ({"rate": 0}, {"rate": "fast"}, {"scan_points": -1}, {"swmr_delay": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            DemoConfig(**bad)


def test_writer_command_comes_from_its_config(tmp_path):
    base = DemoConfig(rate=20, seed=5)
    writer = DemoWriter(tmp_path / "c.h5", base, scan_points=0)
    assert writer.config == DemoConfig(rate=20, seed=5, scan_points=0)
    cmd = writer.command()
    assert cmd[:4] == [sys.executable, "-m", "swmr_widgets.demo", str(tmp_path / "c.h5")]
    assert cmd[4:-2] == writer.config.to_argv()
    assert cmd[-2:] == ["--parent-pid", str(os.getpid())]
    assert DemoWriter(tmp_path / "d.h5", rate=20).config == DemoConfig(rate=20)


def test_layout_and_attributes(start):
    writer = start(rate=50, scan_points=30)
    assert writer.running and writer.ready and writer.pid > 0
    with h5py.File(writer.path, "r", swmr=True) as f:
        for path in ALL_PATHS:
            assert isinstance(f[path], h5py.Dataset), path
        assert f.attrs["TITLE"] == "swmr_widgets demo: simulated acquisition"
        assert bool(f.attrs["swmr_active"]) is True
        # growing datasets
        for path, dtype, row in [
            (demo.TREND_PATH, "f8", ()),
            (demo.TEMPERATURE_PATH, "f8", ()),
            (demo.COUNTER_PATH, "i8", ()),
            (demo.SPECTRUM_PATH, "f8", (512,)),
            (demo.FRAME_PATH, "u2", (120, 160)),
            (demo.LOGGER_PATH, "f8", ()),
        ]:
            ds = f[path]
            assert ds.dtype == np.dtype(dtype), path
            assert ds.maxshape == (None, *row), path
            assert ds.chunks is not None
        # plain attributes
        trend = f[demo.TREND_PATH]
        assert (trend.attrs["label"], trend.attrs["units"]) == ("photodiode", "V")
        temp = f[demo.TEMPERATURE_PATH]
        assert (temp.attrs["label"], temp.attrs["units"]) == ("temperature", "K")
        assert f[demo.COUNTER_PATH][0] > 2**31
        # NeXus attributes
        group = f[demo.SPECTRUM_PATH].parent
        assert group.attrs["NX_class"] == "NXdata"
        assert group.attrs["signal"] == "data"
        assert list(group.attrs["axes"]) == [".", "wavelength"]
        assert f[demo.SPECTRUM_PATH].attrs["long_name"] == "intensity"
        wl = f[demo.WAVELENGTH_PATH]
        assert (wl.attrs["long_name"], wl.attrs["units"]) == ("wavelength", "nm")
        assert wl.shape == (512,) and 399 < wl[0] < wl[-1] < 801
        # PyMoDAQ JSON attributes
        raw = f[demo.SCAN_PATH].attrs["data_dimension"]
        assert json.loads(raw) == {"module": "builtins", "type": "str", "data": "'Data0D'"}
        scan = read_attrs(f[demo.SCAN_PATH])
        assert (scan["label"], scan["units"], scan["nav_indexes"]) == ("photodiode", "V", (0,))
        nav = read_attrs(f[demo.SCAN_NAV_PATH])
        assert (nav["label"], nav["units"], nav["index"]) == ("x_position", "mm", 0)
        axis = read_attrs(f[demo.SCAN_AXIS_PATH])
        assert (axis["label"], axis["units"]) == ("wavelength", "nm")
        assert json.loads(f[demo.SCAN_AXIS_PATH].attrs["offset"])["data"] == "np.float64(500.0)"
        logger = read_attrs(f[demo.LOGGER_PATH])
        assert logger["data_dimension"] == "Data0D"
        assert decode_attr(f[demo.LOGGER_TIME_PATH].attrs["units"]) == "s"
        # as the viewer will see it
        meta = {p: describe_dataset(f[p]) for p in ALL_PATHS}
    assert meta[demo.TREND_PATH].value_title == "photodiode (V)"
    assert meta[demo.TREND_PATH].kind == "0d" and meta[demo.TREND_PATH].growing
    assert meta[demo.COUNTER_PATH].dtype == "int64"
    assert meta[demo.SPECTRUM_PATH].axes[0].title == "wavelength (nm)"
    assert meta[demo.SPECTRUM_PATH].kind == "1d"
    assert meta[demo.FRAME_PATH].kind == "2d"
    assert [a.title for a in meta[demo.FRAME_PATH].axes] == ["y (µm)", "x (µm)"]
    assert meta[demo.SCAN_PATH].prefilled and not meta[demo.SCAN_PATH].growing
    assert meta[demo.SCAN_PATH].nav_axes[0].title == "x_position (mm)"
    assert meta[demo.SCAN_SPECTRUM_PATH].axes[0].title == "wavelength (nm)"
    assert meta[demo.SCAN_SPECTRUM_PATH].prefilled
    assert meta[demo.LOGGER_PATH].value_title == "pressure (mbar)"
    assert meta[demo.LOGGER_PATH].nav_axes[0].title == "time (s)"
    assert writer.stop() == 0


def test_data_grows_across_refresh(start):
    writer = start(rate=50, rows_per_step=3, seed=7)
    with h5py.File(writer.path, "r", swmr=True) as f:
        trend, spectra, frames = f[demo.TREND_PATH], f[demo.SPECTRUM_PATH], f[demo.FRAME_PATH]
        n0, s0 = trend.shape[0], spectra.shape[0]
        assert n0 >= 3

        def grew() -> bool:
            for ds in (trend, spectra, frames):
                ds.refresh()
            return trend.shape[0] >= n0 + 30 and spectra.shape[0] >= s0 + 10

        wait_for(grew, 10, "the datasets to grow")
        n = trend.shape[0]
        assert spectra.shape[1:] == (512,) and frames.shape[1:] == (120, 160)
        assert frames.shape[0] >= 1
        # rows flushed by earlier steps hold exactly the documented values
        wait_for(lambda: (trend.refresh(), trend.shape[0] > n)[1], 10, "one more step")
        np.testing.assert_array_equal(trend[:n], trend_value(np.arange(n), seed=7))
        temperature = f[demo.TEMPERATURE_PATH]
        temperature.refresh()
        m = min(n, temperature.shape[0])
        np.testing.assert_array_equal(temperature[:m], demo.temperature_value(np.arange(m), 7))
        assert (spectra[s0] > 0).all()
    assert writer.stop() == 0


def test_scan_is_filled_in_place(start):
    writer = start(rate=50, scan_points=25)
    with h5py.File(writer.path, "r", swmr=True) as f:
        scan, scan1d, trend = f[demo.SCAN_PATH], f[demo.SCAN_SPECTRUM_PATH], f[demo.TREND_PATH]
        assert scan.shape == (25,) and scan.maxshape == (25,)
        assert scan1d.shape == (25, 256)
        first = np.count_nonzero(~np.isnan(scan[:]))
        assert first < 25

        def filled() -> int:
            scan.refresh()
            return int(np.count_nonzero(~np.isnan(scan[:])))

        wait_for(lambda: filled() == 25, 10, "the scan to be complete")
        values = scan[:]
        assert np.isfinite(values).all() and scan.shape == (25,)  # never resized
        scan1d.refresh()
        assert np.isfinite(scan1d[:]).all()
        # once the scan is complete, the growing channels go on
        trend.refresh()
        n = trend.shape[0]
        wait_for(lambda: (trend.refresh(), trend.shape[0] > n + 5)[1], 10, "more trend rows")
        scan.refresh()
        np.testing.assert_array_equal(scan[:], values)
    assert writer.stop() == 0


def test_stop_is_clean(start):
    writer = start(rate=100)
    pid = writer.pid
    assert writer.stop() == 0
    assert not writer.running and writer.returncode == 0
    wait_for(lambda: gone(pid), 5, "the writer process to be gone")
    assert writer.stop() == 0  # idempotent
    with h5py.File(writer.path, "r") as f:  # closed properly: a plain open works
        assert bool(f.attrs["swmr_active"]) is False
        n = f[demo.TREND_PATH].shape[0]
        assert n > 0
        np.testing.assert_array_equal(f[demo.TREND_PATH][:], trend_value(np.arange(n)))


def test_sigint_stops_cleanly(start):
    writer = start(rate=20)
    os.kill(writer.pid, signal.SIGINT)
    assert writer.wait(timeout=10) == 0
    with h5py.File(writer.path, "r") as f:
        assert f[demo.TREND_PATH].shape[0] > 0


def test_duration_and_context_manager(tmp_path):
    with DemoWriter(tmp_path / "short.h5", rate=50, duration=0.5) as writer:
        assert writer.running
        assert writer.wait(timeout=10) == 0
    with h5py.File(tmp_path / "short.h5", "r") as f:
        assert 15 <= f[demo.TREND_PATH].shape[0] <= 30


def test_start_demo(tmp_path):
    writer = start_demo(tmp_path / "s.h5", rate=20, scan_points=0, timeout=30)
    try:
        assert writer.ready and writer.running
        with h5py.File(writer.path, "r", swmr=True) as f:
            assert "Scan000" not in f["RawData"]
            assert demo.TREND_PATH in f
    finally:
        assert writer.stop() == 0


def test_swmr_delay_locks_readers_out_first(start):
    t = time.monotonic()
    writer = start(rate=20, swmr_delay=3.0)
    assert time.monotonic() - t < 3.0  # start() only waited for the file to exist
    assert writer.running and not writer.ready
    with pytest.raises(OSError, match="lock"):  # a writer without SWMR holds the file
        h5py.File(writer.path, "r", swmr=True)
    assert writer.wait_ready(timeout=15)
    with h5py.File(writer.path, "r", swmr=True) as f:
        assert bool(f.attrs["swmr_active"]) is True
        assert f[demo.TREND_PATH].shape[0] >= 1
    assert writer.stop() == 0


def test_swmr_delay_can_wait_for_ready(start):
    t = time.monotonic()
    writer = start(rate=20, swmr_delay=1.0, wait_ready=True)
    assert time.monotonic() - t >= 1.0
    assert writer.ready
    assert writer.stop() == 0


def test_no_swmr_keeps_readers_out(start):
    writer = start(rate=20, swmr=False)
    assert not writer.ready
    for _ in range(3):
        with pytest.raises(OSError, match="lock"):
            h5py.File(writer.path, "r", swmr=True)
        time.sleep(0.2)
    assert not writer.wait_ready(timeout=0.5)
    assert writer.stop() == 0
    with h5py.File(writer.path, "r") as f:
        assert bool(f.attrs["swmr_active"]) is False
        assert f[demo.TREND_PATH].shape[0] > 0


def test_start_failure_reports_stderr(tmp_path):
    writer = DemoWriter(tmp_path / "missing-dir" / "x.h5")
    with pytest.raises(RuntimeError, match="exited with status") as err:
        writer.start(timeout=30)
    assert "Traceback" in str(err.value) or "rror" in str(err.value)
    assert not writer.running


def test_cli_help_and_bad_arguments(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "swmr_widgets.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0
    for option in ("--duration", "--rate", "--rows-per-step", "--swmr-delay", "--no-swmr"):
        assert option in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "swmr_widgets.demo", str(tmp_path / "x.h5"), "--rate", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "rate" in bad.stderr


def test_cli_runs_for_a_duration(tmp_path):
    path = tmp_path / "cli.h5"
    out = subprocess.run(
        [sys.executable, "-m", "swmr_widgets.demo", str(path), "--duration", "0.3", "--rate", "50"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert f"ready {path}" in out.stdout.splitlines()
    with h5py.File(path, "r") as f:
        assert f[demo.TREND_PATH].shape[0] > 5


def test_writer_stops_when_its_parent_dies(tmp_path):
    path = tmp_path / "orphan.h5"
    script = textwrap.dedent(
        f"""
        import os
        from swmr_widgets.demo import DemoWriter
        w = DemoWriter({str(path)!r}, rate=20).start(timeout=30)
        print(w.pid, flush=True)
        os._exit(0)  # no clean-up: the writer must notice on its own
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    try:
        wait_for(lambda: gone(pid), 10, "the orphaned writer to stop")
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _can_open(path), 5, "the file to be closed")
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["swmr_active"]) is False


def _can_open(path: Path) -> bool:
    try:
        h5py.File(path, "r").close()
    except OSError:
        return False
    return True


def test_writer_keeps_up_at_100_hz(start):
    writer = start(rate=100, rows_per_step=10)
    with h5py.File(writer.path, "r", swmr=True) as f:
        spectra = f[demo.SPECTRUM_PATH]
        spectra.refresh()
        s0, t0 = spectra.shape[0], time.monotonic()
        time.sleep(2.0)
        spectra.refresh()
        rate = (spectra.shape[0] - s0) / (time.monotonic() - t0)
    assert rate > 70, f"{rate:.0f} steps/s"
    assert writer.stop() == 0
