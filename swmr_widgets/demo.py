"""A simulated acquisition that writes an HDF5 file in SWMR mode, in another process.

The file is laid out like a PyMoDAQ file under ``/RawData`` and uses the three
attribute conventions :mod:`swmr_widgets.metadata` understands:

==========================  ========================================  ============
constant                    what                                      attributes
==========================  ========================================  ============
:data:`TREND_PATH`          photodiode, growing float64 ``(N,)``      plain
:data:`TEMPERATURE_PATH`    temperature, growing float64 ``(N,)``     plain
:data:`COUNTER_PATH`        counter > 2**31, growing int64 ``(N,)``   plain
:data:`SPECTRUM_PATH`       spectra, growing float64 ``(N, 512)``     NeXus
:data:`FRAME_PATH`          camera, growing uint16 ``(N, 120, 160)``  NeXus
:data:`SCAN_PATH`           scan, pre-allocated NaN ``(n_scan,)``     PyMoDAQ JSON
:data:`SCAN_SPECTRUM_PATH`  scan, pre-allocated NaN ``(n_scan, 256)`` PyMoDAQ JSON
:data:`LOGGER_PATH`         logger, growing float64 ``(N,)``          PyMoDAQ JSON
==========================  ========================================  ============

Run it from Python::

    from swmr_widgets.demo import DemoWriter
    with DemoWriter("scan.h5", rate=20) as writer:   # starts; stops on exit
        ...

or from a shell: ``python -m swmr_widgets.demo scan.h5 --rate 20 --duration 60``.

The writer creates every dataset, sets the root attribute ``swmr_active`` and
switches SWMR mode on (after ``--swmr-delay`` seconds, like PyMoDAQ between
creating a scan file and its first point), then at each step appends rows, fills
the next scan point in place and flushes. It prints ``created PATH`` once the
file exists and ``ready PATH`` once SWMR is on and the first step is flushed.
SIGTERM or SIGINT stop it cleanly: the file is flushed, ``swmr_active`` set to
False, the file closed, and the exit status is 0.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

__all__ = [
    "COUNTER_PATH",
    "FRAME_PATH",
    "LOGGER_PATH",
    "LOGGER_TIME_PATH",
    "SCAN_AXIS_PATH",
    "SCAN_NAV_PATH",
    "SCAN_PATH",
    "SCAN_SPECTRUM_PATH",
    "SPECTRUM_PATH",
    "TEMPERATURE_PATH",
    "TREND_PATH",
    "WAVELENGTH_PATH",
    "DemoWriter",
    "main",
    "start_demo",
    "trend_value",
]

TREND_PATH = "/RawData/CH000/Data0D/Data00/data"
TEMPERATURE_PATH = "/RawData/CH000/Data0D/Data01/data"
COUNTER_PATH = "/RawData/CH000/Data0D/Data02/data"
SPECTRUM_PATH = "/RawData/CH001/Data1D/Data00/data"
WAVELENGTH_PATH = "/RawData/CH001/Data1D/Data00/wavelength"
FRAME_PATH = "/RawData/CH002/Data2D/Data00/data"
SCAN_NAV_PATH = "/RawData/Scan000/NavAxes/Axis00"
SCAN_PATH = "/RawData/Scan000/Detector000/Data0D/CH00/Data00"
SCAN_SPECTRUM_PATH = "/RawData/Scan000/Detector000/Data1D/CH00/Data00"
SCAN_AXIS_PATH = "/RawData/Scan000/Detector000/Data1D/CH00/Axis00"
LOGGER_PATH = "/RawData/Logger/EnlData00"
LOGGER_TIME_PATH = "/RawData/Logger/NavAxes/Axis00"

#: Points per spectrum, scan spectrum, and camera frame shape.
SPECTRUM_SIZE = 512
SCAN_SPECTRUM_SIZE = 256
FRAME_SHAPE = (120, 160)
#: First value of the int64 counter (above 2**31, which bqplot would truncate).
COUNTER_START = 2**33 + 12345
#: Camera frames per second written at most by default (frames are the bulk of the file).
MAX_FPS = 5.0
#: Period (in rows) of the photodiode trend.
TREND_PERIOD = 200

READY = "ready"
CREATED = "created"


# --------------------------------------------------------------------------- simulated signals


def _noise(i: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Deterministic pseudo-random numbers in [0, 1) from integer hashing (exact)."""
    x = (np.asarray(i, dtype=np.uint64) + np.uint64(salt)) * np.uint64(2654435761)
    x = (x + np.uint64((seed * 40503 + salt * 97) % 2**32)) % np.uint64(2**32)
    x = (x ^ (x >> np.uint64(13))) * np.uint64(1274126177) % np.uint64(2**32)
    return x.astype(np.float64) / 2.0**32


def trend_value(i: Any, seed: int = 0) -> np.ndarray:
    """Photodiode value at row `i` of :data:`TREND_PATH`.

    Only exactly rounded operations are used, so the values are bit-identical in
    every process and for any chunking of the rows.

    Parameters
    ----------
    i : int or array of int
        Row indices (>= 0).
    seed : int
        The writer's ``--seed``.

    Returns
    -------
    numpy.ndarray
        Float64 values, same shape as `i`.
    """
    i = np.asarray(i, dtype=np.int64)
    p = (i % TREND_PERIOD).astype(np.float64) / TREND_PERIOD
    hump = 4.0 * p * (1.0 - p)
    return 1.0 + 0.5 * hump + 0.05 * _noise(i, seed, 1)


def temperature_value(i: Any, seed: int = 0) -> np.ndarray:
    """Temperature (K) at row `i` of :data:`TEMPERATURE_PATH` (exact, like :func:`trend_value`)."""
    i = np.asarray(i, dtype=np.int64)
    drift = (i % 6000).astype(np.float64) / 6000.0
    return 295.0 + 2.0 * drift + 0.02 * _noise(i, seed, 2)


def counter_value(i: Any, seed: int = 0) -> np.ndarray:
    """Counter (int64, above 2**31) at row `i` of :data:`COUNTER_PATH`."""
    i = np.asarray(i, dtype=np.int64)
    return COUNTER_START + 7 * i + (_noise(i, seed, 3) * 5).astype(np.int64)


def wavelengths() -> np.ndarray:
    """The wavelength axis of :data:`SPECTRUM_PATH`, in nm (400-800)."""
    return np.linspace(400.0, 800.0, SPECTRUM_SIZE)


def scan_positions(n: int) -> np.ndarray:
    """Scan positions in mm."""
    return np.linspace(0.0, 10.0, n) if n > 1 else np.zeros(n)


def _pymodaq(value: Any) -> str:
    """Encode an attribute the way PyMoDAQ does (JSON around the value's repr)."""
    return json.dumps(
        {"module": type(value).__module__, "type": type(value).__name__, "data": repr(value)}
    )


def _set_pymodaq_attrs(obj: h5py.HLObject, **attrs: Any) -> None:
    for key, value in attrs.items():
        obj.attrs[key] = _pymodaq(value)


class _Simulation:
    """Owns the open file and writes one step at a time."""

    def __init__(self, path: Path, args: argparse.Namespace) -> None:
        self.args = args
        self.seed = int(args.seed)
        self.rng = np.random.default_rng(self.seed)
        self.rows = 0  # rows of the 0-D channels
        self.steps = 0  # steps written (spectra, logger)
        self.frames = 0
        self.filled = 0  # scan points filled
        every = args.frame_every
        self.frame_every = max(int(every), 1) if every else max(round(args.rate / MAX_FPS), 1)
        self.t0 = time.time()
        self.f = h5py.File(path, "w", libver="latest")
        self._create()
        self.f.flush()

    # -- layout

    def _create(self) -> None:
        f = self.f
        f.attrs["TITLE"] = "swmr_widgets demo: simulated acquisition"
        f.attrs["swmr_active"] = False
        raw = f.create_group("RawData")
        raw.attrs["TITLE"] = "Data from the swmr_widgets demo"
        raw.attrs["CLASS"] = "GROUP"
        k = max(int(self.args.rows_per_step), 1)
        chunk0d = (max(1024, min(65536, 64 * k)),)

        def growing(path: str, dtype: str, row: tuple[int, ...], rows: int) -> h5py.Dataset:
            return f.create_dataset(
                path, shape=(0, *row), maxshape=(None, *row), dtype=dtype, chunks=(rows, *row)
            )

        # plain attributes
        self.trend = growing(TREND_PATH, "f8", (), chunk0d[0])
        self.trend.attrs.update({"label": "photodiode", "units": "V"})
        self.temperature = growing(TEMPERATURE_PATH, "f8", (), chunk0d[0])
        self.temperature.attrs.update({"label": "temperature", "units": "K"})
        self.counter = growing(COUNTER_PATH, "i8", (), chunk0d[0])
        self.counter.attrs.update({"label": "photon counter", "units": "counts"})

        # NeXus attributes
        self.spectrum = growing(SPECTRUM_PATH, "f8", (SPECTRUM_SIZE,), 16)
        group = self.spectrum.parent
        group.attrs.update({"NX_class": "NXdata", "signal": "data", "axes": [".", "wavelength"]})
        group.attrs["wavelength_indices"] = np.int32(1)
        self.spectrum.attrs.update({"long_name": "intensity", "units": "counts"})
        wl = group.create_dataset("wavelength", data=wavelengths())
        wl.attrs.update({"long_name": "wavelength", "units": "nm"})
        self._wl = wavelengths()

        self.frame = growing(FRAME_PATH, "u2", FRAME_SHAPE, 1)
        group = self.frame.parent
        group.attrs.update({"NX_class": "NXdata", "signal": "data", "axes": [".", "y", "x"]})
        self.frame.attrs.update({"long_name": "camera", "units": "counts"})
        pixel = 5.5  # µm
        for name, n in (("y", FRAME_SHAPE[0]), ("x", FRAME_SHAPE[1])):
            axis = group.create_dataset(name, data=np.arange(n) * pixel)
            axis.attrs.update({"long_name": name, "units": "µm"})
        yy, xx = np.mgrid[0 : FRAME_SHAPE[0], 0 : FRAME_SHAPE[1]]
        self._yy, self._xx = yy.astype(np.float32), xx.astype(np.float32)
        self._frame_noise = [
            self.rng.integers(0, 200, FRAME_SHAPE).astype(np.float32) for _ in range(8)
        ]

        # PyMoDAQ attributes: a pre-allocated scan ...
        n = int(self.args.scan_points)
        if n > 0:
            scan = f.create_group("/RawData/Scan000")
            scan.attrs["TITLE"] = ""
            scan.attrs["CLASS"] = "GROUP"
            _set_pymodaq_attrs(scan, type="scan", description="")
            nav = f.create_dataset(SCAN_NAV_PATH, data=scan_positions(n))
            self._nav = scan_positions(n)
            self._axis_attrs(nav, "x_position", "mm", 0, self._nav, "uniform")
            det = f["/RawData/Scan000"].create_group("Detector000")
            det.attrs["TITLE"] = "Detector000"
            _set_pymodaq_attrs(det, type="detector")
            self.scan = f.create_dataset(SCAN_PATH, data=np.full(n, np.nan), chunks=(min(n, 4096),))
            self._data_attrs(self.scan, "photodiode", "V", "Data0D", "CARRAY", (n,), (0,))
            self.scan_spectrum = f.create_dataset(
                SCAN_SPECTRUM_PATH,
                data=np.full((n, SCAN_SPECTRUM_SIZE), np.nan),
                chunks=(min(n, 16), SCAN_SPECTRUM_SIZE),
            )
            self._data_attrs(
                self.scan_spectrum, "spectrum", "counts", "Data1D", "CARRAY",
                (n, SCAN_SPECTRUM_SIZE), (0,),
            )  # fmt: skip
            axis_values = np.linspace(500.0, 700.0, SCAN_SPECTRUM_SIZE)
            self._scan_wl = axis_values
            axis = f.create_dataset(SCAN_AXIS_PATH, data=axis_values)
            # PyMoDAQ counts the axis index over the whole array: 1 = first signal dim
            self._axis_attrs(axis, "wavelength", "nm", 1, axis_values, "uniform")
            for path, title in ((SCAN_PATH, "photodiode"), (SCAN_SPECTRUM_PATH, "spectrum")):
                ch = f[path].parent
                ch.attrs["TITLE"] = title
                ch.attrs["origin"] = "demo"
        else:
            self.scan = self.scan_spectrum = None

        # ... and a logger channel that grows
        self.logger = f.create_dataset(
            LOGGER_PATH, shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,)
        )
        self._data_attrs(self.logger, "pressure", "mbar", "Data0D", "EARRAY", (0,), (0,))
        self.logger.parent.attrs["TITLE"] = "pressure"
        _set_pymodaq_attrs(self.logger.parent, type="data_logger")
        self.logger_time = f.create_dataset(
            LOGGER_TIME_PATH, shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,)
        )
        self._axis_attrs(self.logger_time, "time", "s", 0, None, "spread")

    @staticmethod
    def _data_attrs(
        ds: h5py.Dataset,
        label: str,
        units: str,
        dim: str,
        klass: str,
        shape: tuple[int, ...],
        nav_indexes: tuple[int, ...],
    ) -> None:
        ds.attrs["TITLE"] = label
        ds.attrs["CLASS"] = klass
        _set_pymodaq_attrs(
            ds,
            backend="h5py",
            data_dimension=dim,
            data_type="data",
            distribution="uniform",
            dtype=ds.dtype.name,
            label=label,
            units=units,
            nav_indexes=nav_indexes,
            origin="demo",
            shape=shape,
            source="raw",
            subdtype="",
            timestamp=time.time(),
        )

    @staticmethod
    def _axis_attrs(
        ds: h5py.Dataset,
        label: str,
        units: str,
        index: int,
        values: np.ndarray | None,
        distribution: str,
    ) -> None:
        ds.attrs["TITLE"] = label
        ds.attrs["CLASS"] = "CARRAY" if values is not None else "EARRAY"
        offset = np.float64(values[0]) if values is not None and len(values) else np.float64(0)
        scaling = (
            np.float64(values[1] - values[0])
            if values is not None and len(values) > 1
            else np.float64(1)
        )
        _set_pymodaq_attrs(
            ds,
            backend="h5py",
            data_dimension="Data1D",
            data_type="axis",
            distribution=distribution,
            dtype=ds.dtype.name,
            index=index,
            label=label,
            units=units,
            offset=offset,  # numpy scalars: encoded as "np.float64(...)" like PyMoDAQ
            scaling=scaling,
            shape=tuple(ds.shape),
            size=int(ds.shape[0]),
            spread_order=0,
            subdtype="",
        )

    # -- SWMR

    def start_swmr(self) -> None:
        self.f.attrs["swmr_active"] = True  # before SWMR: attributes cannot be created after
        self.f.swmr_mode = True

    # -- one step

    def step(self) -> None:
        k = max(int(self.args.rows_per_step), 1)
        start, stop = self.rows, self.rows + k
        idx = np.arange(start, stop)
        for ds, values in (
            (self.trend, trend_value(idx, self.seed)),
            (self.temperature, temperature_value(idx, self.seed)),
            (self.counter, counter_value(idx, self.seed)),
        ):
            ds.resize((stop,))
            ds[start:stop] = values
        self.rows = stop

        s = self.steps
        centre = 600.0 + 150.0 * np.sin(2 * np.pi * s / 300.0)
        spectrum = 1000.0 * np.exp(-0.5 * ((self._wl - centre) / 12.0) ** 2)
        spectrum += 20.0 + 5.0 * self.rng.standard_normal(SPECTRUM_SIZE)
        self.spectrum.resize((s + 1, SPECTRUM_SIZE))
        self.spectrum[s] = spectrum

        self.logger.resize((s + 1,))
        self.logger[s] = 1.0e-6 * (1.0 + 0.1 * np.cos(s / 50.0)) + 1e-8 * self.rng.random()
        self.logger_time.resize((s + 1,))
        self.logger_time[s] = time.time() - self.t0

        if s % self.frame_every == 0:
            self._write_frame()

        if self.scan is not None and self.filled < len(self.scan):
            j = self.filled
            x = self._nav[j]
            self.scan[j] = np.exp(-0.5 * ((x - 5.0) / 1.5) ** 2) + 0.02 * self.rng.random()
            peak = 550.0 + 10.0 * x
            self.scan_spectrum[j] = 100.0 * np.exp(-0.5 * ((self._scan_wl - peak) / 8.0) ** 2)
            self.filled += 1

        self.steps += 1
        self.f.flush()

    def _write_frame(self) -> None:
        n = self.frames
        cy = 60.0 + 35.0 * np.sin(n / 15.0)
        cx = 80.0 + 55.0 * np.cos(n / 23.0)
        spot = 3000.0 * np.exp(-((self._yy - cy) ** 2 + (self._xx - cx) ** 2) / 200.0)
        image = spot + self._frame_noise[n % len(self._frame_noise)]
        self.frame.resize((n + 1, *FRAME_SHAPE))
        self.frame[n] = image.astype(np.uint16)
        self.frames += 1

    def close(self) -> None:
        if not self.f.id.valid:
            return
        with contextlib.suppress(Exception):
            self.f.flush()
        with contextlib.suppress(Exception):  # an existing attribute may be modified in SWMR
            self.f.attrs.modify("swmr_active", False)
        self.f.close()


# --------------------------------------------------------------------------- the writer process


class _Stop:
    """Set by SIGTERM / SIGINT; the loop checks it between steps."""

    flag = False

    @classmethod
    def handler(cls, signum: int, frame: Any) -> None:
        cls.flag = True


def _sleep_until(deadline: float, parent: int | None) -> None:
    """Sleep until `deadline` (monotonic) in short naps, waking on a stop request."""
    while not _Stop.flag:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))
        _check_parent(parent)


def _check_parent(parent: int | None) -> None:
    """Stop when the process that started us is gone (POSIX: we were re-parented)."""
    if parent is not None and os.name == "posix" and os.getppid() != parent:
        _Stop.flag = True


def _say(text: str) -> None:
    with contextlib.suppress(Exception):
        print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the simulated acquisition until stopped; return the exit status."""
    path = Path(args.path)
    parent = args.parent_pid
    sim = _Simulation(path, args)
    try:
        _say(f"{CREATED} {path}")
        if args.swmr_delay > 0:  # like PyMoDAQ before the first point: no SWMR yet
            _sleep_until(time.monotonic() + args.swmr_delay, parent)
        if not args.no_swmr and not _Stop.flag:
            sim.start_swmr()
        period = 1.0 / args.rate
        t0 = time.monotonic()
        end = t0 + args.duration if args.duration is not None else None
        while not _Stop.flag:
            sim.step()
            if sim.steps == 1 and not args.no_swmr:
                _say(f"{READY} {path}")
            next_t = t0 + sim.steps * period
            now = time.monotonic()
            if next_t < now - 1.0:  # fell behind: do not try to catch up in a burst
                t0 = now - sim.steps * period
                next_t = now
            if end is not None and next_t >= end:
                break
            _sleep_until(next_t, parent)
            _check_parent(parent)
    finally:
        sim.close()
    _say(f"stopped {path} after {sim.steps} steps")
    return 0


def positive_float(text: str) -> float:
    """Argument type of command-line options that take a positive number."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line parser of ``python -m swmr_widgets.demo``.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = argparse.ArgumentParser(
        prog="python -m swmr_widgets.demo",
        description="Write a simulated PyMoDAQ-like acquisition to an HDF5 file in SWMR mode.",
    )
    p.add_argument("path", help="HDF5 file to create (overwritten)")
    p.add_argument("--rate", type=positive_float, default=10.0, help="steps per second (10)")
    p.add_argument(
        "--duration", type=_non_negative, default=None, help="seconds to run (until stopped)"
    )
    p.add_argument(
        "--rows-per-step", type=_count, default=1, help="rows appended to 0-D channels per step"
    )
    p.add_argument(
        "--scan-points", type=_count, default=200, help="points of the pre-allocated scan (200)"
    )
    p.add_argument(
        "--frame-every",
        type=_count,
        default=0,
        help=f"write a camera frame every N steps (default: at most {MAX_FPS:g} frames/s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated signals")
    p.add_argument(
        "--swmr-delay",
        type=_non_negative,
        default=0.0,
        help="hold the file open without SWMR for this long first (readers are locked out)",
    )
    p.add_argument("--no-swmr", action="store_true", help="never switch SWMR mode on")
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m swmr_widgets.demo PATH [options]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 after a clean stop (duration reached, SIGTERM or SIGINT).
    """
    args = build_parser().parse_args(argv)
    _Stop.flag = False
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not in the main thread
            previous[sig] = signal.signal(sig, _Stop.handler)
    try:
        return run(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- the handle


_LIVE: set[DemoWriter] = set()


@atexit.register
def _stop_all() -> None:
    for writer in list(_LIVE):
        with contextlib.suppress(Exception):
            writer.stop(timeout=5)


class DemoWriter:
    """Handle on a demo writer process (``python -m swmr_widgets.demo``).

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file to write (overwritten).
    rate : float
        Steps per second.
    duration : float, optional
        Seconds to run; ``None`` runs until :meth:`stop`.
    rows_per_step : int
        Rows appended to each 0-D channel per step.
    scan_points : int
        Points of the pre-allocated scan (0: no scan arrays).
    frame_every : int, optional
        Write a camera frame every this many steps (default: at most
        :data:`MAX_FPS` frames per second).
    seed : int
        Seed of the simulated signals (see :func:`trend_value`).
    swmr_delay : float
        Seconds the file is held open *without* SWMR before SWMR starts; readers
        are locked out meanwhile, as with PyMoDAQ before the first scan point.
    swmr : bool
        ``False`` never switches SWMR on (to test readers' error handling).

    Notes
    -----
    The process is started in its own session and stops by itself if the
    process that started it dies (POSIX), or at interpreter exit.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rate: float = 10.0,
        duration: float | None = None,
        rows_per_step: int = 1,
        scan_points: int = 200,
        frame_every: int | None = None,
        seed: int = 0,
        swmr_delay: float = 0.0,
        swmr: bool = True,
    ) -> None:
        self.path = Path(path)
        self.rate = float(rate)
        self.duration = duration
        self.rows_per_step = int(rows_per_step)
        self.scan_points = int(scan_points)
        self.frame_every = frame_every
        self.seed = int(seed)
        self.swmr_delay = float(swmr_delay)
        self.swmr = bool(swmr)
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._ready = threading.Event()
        self._created = threading.Event()
        self._reader: threading.Thread | None = None

    # -- properties

    @property
    def pid(self) -> int | None:
        """Process id of the writer (``None`` before :meth:`start`)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the writer process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status once the process has ended, else ``None``."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def ready(self) -> bool:
        """Whether the writer has reported SWMR on and its first step flushed."""
        return self._ready.is_set()

    def command(self) -> list[str]:
        """The command line that runs the writer."""
        cmd = [sys.executable, "-m", "swmr_widgets.demo", os.fspath(self.path)]
        cmd += ["--rate", repr(self.rate), "--seed", str(self.seed)]
        cmd += ["--rows-per-step", str(self.rows_per_step)]
        cmd += ["--scan-points", str(self.scan_points)]
        if self.frame_every:
            cmd += ["--frame-every", str(int(self.frame_every))]
        if self.duration is not None:
            cmd += ["--duration", repr(float(self.duration))]
        if self.swmr_delay > 0:
            cmd += ["--swmr-delay", repr(self.swmr_delay)]
        if not self.swmr:
            cmd.append("--no-swmr")
        cmd += ["--parent-pid", str(os.getpid())]
        return cmd

    # -- life cycle

    def start(self, timeout: float = 30.0, wait_ready: bool | None = None) -> DemoWriter:
        """Start the writer process and wait until it has got going.

        Parameters
        ----------
        timeout : float
            Seconds to wait.
        wait_ready : bool, optional
            ``True`` waits for ``ready`` (SWMR on, first step flushed); ``False``
            only for ``created`` (the file exists, possibly still without SWMR).
            The default waits for ``ready`` unless ``swmr_delay > 0`` or
            ``swmr=False``; use :meth:`wait_ready` later.

        Returns
        -------
        DemoWriter
            self.

        Raises
        ------
        RuntimeError
            If the process exits or does not report in time (its stderr is
            included); the process is stopped.
        """
        if self.running:
            return self
        if wait_ready is None:
            wait_ready = self.swmr and self.swmr_delay <= 0
        self._ready.clear()
        self._created.clear()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the handle)
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
        package_root = Path(__file__).resolve().parent.parent
        if package_root not in {Path(p or ".").resolve() for p in sys.path}:
            # running from a source tree: let the child import this very package
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(package_root), env.get("PYTHONPATH", "")) if p
            )
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            **kwargs,
        )
        self._reader = threading.Thread(target=self._read_stdout, args=(self._proc,), daemon=True)
        self._reader.start()
        _LIVE.add(self)
        event = self._ready if wait_ready else self._created
        if not self._wait(event, timeout):
            self._fail(f"the demo writer did not report {'ready' if wait_ready else 'created'}")
        return self

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the writer reports ``ready``; return whether it did."""
        return self._wait(self._ready, timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end by itself (``duration``); return its exit status."""
        if self._proc is None:
            raise RuntimeError("the demo writer was not started")
        code = self._proc.wait(timeout)
        _LIVE.discard(self)
        return code

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the writer: SIGTERM, then SIGKILL after `timeout` seconds.

        Returns
        -------
        int
            Exit status (0 after a clean stop; negative: killed by that signal).
        """
        proc = self._proc
        if proc is None:
            return 0
        _LIVE.discard(self)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(10)
        if self._reader is not None:  # it sees end-of-file now that the process is gone
            self._reader.join(2)
        return int(proc.returncode)

    def stderr(self) -> str:
        """What the writer wrote to stderr so far."""
        if self._stderr is None:
            return ""
        with contextlib.suppress(Exception):
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        return ""

    # -- helpers

    def _read_stdout(self, proc: subprocess.Popen[str]) -> None:
        if proc.stdout is None:
            return
        with contextlib.suppress(ValueError, OSError):  # pipe closed
            for line in proc.stdout:
                word = line.split(" ", 1)[0].strip()
                if word == CREATED:
                    self._created.set()
                elif word == READY:
                    self._created.set()
                    self._ready.set()

    def _wait(self, event: threading.Event, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not event.wait(0.05):
            if self._proc is None or self._proc.poll() is not None:
                return event.is_set()
            if time.monotonic() > deadline:
                return False
        return True

    def _fail(self, what: str) -> None:
        code = self._proc.poll() if self._proc is not None else None
        self.stop(timeout=5)
        status = "it is still running" if code is None else f"it exited with status {code}"
        raise RuntimeError(f"{what} ({status}); stderr:\n{self.stderr()}")

    def __enter__(self) -> DemoWriter:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DemoWriter {os.fspath(self.path)!r} pid={self.pid} {state}>"


def start_demo(path: str | os.PathLike[str], **options: Any) -> DemoWriter:
    """Start a :class:`DemoWriter` on `path` and return it once it has got going.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file to write.
    **options
        :class:`DemoWriter` options, plus ``timeout`` and ``wait_ready`` for
        :meth:`DemoWriter.start`.

    Returns
    -------
    DemoWriter
        The running writer; call :meth:`DemoWriter.stop` when done.
    """
    start_kwargs = {k: options.pop(k) for k in ("timeout", "wait_ready") if k in options}
    return DemoWriter(path, **options).start(**start_kwargs)


if __name__ == "__main__":
    sys.exit(main())
