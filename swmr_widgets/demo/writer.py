"""The demo writer process: a simulated acquisition written in SWMR mode.

This is what ``python -m swmr_widgets.demo FILE [options]`` runs (see
:func:`main`); :class:`~swmr_widgets.demo.DemoWriter` starts it in another
process. The writer creates every dataset of :mod:`swmr_widgets.demo.layout`,
sets the root attribute ``swmr_active`` and switches SWMR mode on (after
``--swmr-delay`` seconds, like PyMoDAQ between creating a scan file and its
first point), then at each step appends rows, fills the next scan point in
place and flushes. It prints ``created PATH`` once the file exists and ``ready
PATH`` once SWMR is on and the first step is flushed. SIGTERM or SIGINT stop it
cleanly: the file is flushed, ``swmr_active`` set to False, the file closed,
and the exit status is 0. It also stops when the process that started it dies.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from swmr_widgets.demo.config import DemoConfig
from swmr_widgets.demo.layout import (
    COUNTER_PATH,
    FRAME_PATH,
    FRAME_SHAPE,
    LOGGER_PATH,
    LOGGER_TIME_PATH,
    SCAN_AXIS_PATH,
    SCAN_NAV_PATH,
    SCAN_PATH,
    SCAN_SPECTRUM_PATH,
    SCAN_SPECTRUM_SIZE,
    SPECTRUM_PATH,
    SPECTRUM_SIZE,
    TEMPERATURE_PATH,
    TREND_PATH,
    counter_value,
    scan_positions,
    temperature_value,
    trend_value,
    wavelengths,
)

__all__ = ["CREATED", "READY", "build_parser", "main", "run"]

#: First word of the line printed once SWMR is on and the first step is flushed.
READY = "ready"
#: First word of the line printed once the file exists.
CREATED = "created"


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

    def __init__(self, path: Path, config: DemoConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.steps = 0  # steps written (spectra, logger)
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
        chunk0d = (max(1024, min(65536, 64 * self.config.step_rows)),)

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
        n = self.config.scan_points
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

    # -- progress, from the steps written

    @property
    def rows(self) -> int:
        """Rows written to each 0-D channel."""
        return self.steps * self.config.step_rows

    @property
    def frames(self) -> int:
        """Camera frames written (one every ``frame_steps`` steps, from the first)."""
        return -(-self.steps // self.config.frame_steps)

    @property
    def filled(self) -> int:
        """Scan points filled (one per step until the scan is complete)."""
        return 0 if self.scan is None else min(self.steps, len(self.scan))

    # -- one step

    def step(self) -> None:
        start, stop = self.rows, self.rows + self.config.step_rows
        idx, seed = np.arange(start, stop), self.config.seed
        for ds, values in (
            (self.trend, trend_value(idx, seed)),
            (self.temperature, temperature_value(idx, seed)),
            (self.counter, counter_value(idx, seed)),
        ):
            ds.resize((stop,))
            ds[start:stop] = values

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

        if s % self.config.frame_steps == 0:
            self._write_frame()

        if self.scan is not None and self.filled < len(self.scan):
            j = self.filled
            x = self._nav[j]
            self.scan[j] = np.exp(-0.5 * ((x - 5.0) / 1.5) ** 2) + 0.02 * self.rng.random()
            peak = 550.0 + 10.0 * x
            self.scan_spectrum[j] = 100.0 * np.exp(-0.5 * ((self._scan_wl - peak) / 8.0) ** 2)

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


def run(path: str | os.PathLike[str], config: DemoConfig, parent: int | None = None) -> int:
    """Run the simulated acquisition until stopped; return the exit status.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file to create (overwritten).
    config : DemoConfig
        What to write, and how fast.
    parent : int, optional
        PID of the process that started this one: stop when it dies (POSIX).

    Returns
    -------
    int
        0 after a clean stop (duration reached, SIGTERM or SIGINT).
    """
    path = Path(path)
    sim = _Simulation(path, config)
    try:
        _say(f"{CREATED} {path}")
        if config.swmr_delay > 0:  # like PyMoDAQ before the first point: no SWMR yet
            _sleep_until(time.monotonic() + config.swmr_delay, parent)
        if config.swmr and not _Stop.flag:
            sim.start_swmr()
        period = config.period
        t0 = time.monotonic()
        end = t0 + config.duration if config.duration is not None else None
        while not _Stop.flag:
            sim.step()
            if sim.steps == 1 and config.swmr:
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


def build_parser() -> argparse.ArgumentParser:
    """The command line parser of ``python -m swmr_widgets.demo``: the file and :class:`DemoConfig`.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = argparse.ArgumentParser(
        prog="python -m swmr_widgets.demo",
        description="Write a simulated PyMoDAQ-like acquisition to an HDF5 file in SWMR mode.",
    )
    p.add_argument("path", help="HDF5 file to create (overwritten)")
    DemoConfig.add_arguments(p)
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
        return run(args.path, DemoConfig.from_args(args), args.parent_pid)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
