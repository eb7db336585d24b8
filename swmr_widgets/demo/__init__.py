"""A simulated acquisition that writes an HDF5 file in SWMR mode, in another process.

Run it from Python::

    from swmr_widgets.demo import DemoWriter
    with DemoWriter("scan.h5", rate=20) as writer:   # starts; stops on exit
        ...

or from a shell: ``python -m swmr_widgets.demo scan.h5 --rate 20 --duration 60``.

The package has four parts:

* :mod:`~swmr_widgets.demo.config`: :class:`DemoConfig`, the one frozen set of
  options (rate, duration, scan points, seed...) from which the command line is
  generated;
* :mod:`~swmr_widgets.demo.layout`: the dataset paths, shapes and exact value
  functions (:func:`trend_value`...) that readers check against;
* :mod:`~swmr_widgets.demo.writer`: the writer process itself (:func:`main`);
* :mod:`~swmr_widgets.demo.process`: :class:`DemoWriter` and
  :func:`start_demo`, the parent's handle on a writer process.
"""

from __future__ import annotations

from swmr_widgets.demo.config import MAX_FPS, DemoConfig, positive_float
from swmr_widgets.demo.layout import (
    COUNTER_PATH,
    COUNTER_START,
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
    TREND_PERIOD,
    WAVELENGTH_PATH,
    counter_value,
    scan_positions,
    temperature_value,
    trend_value,
    wavelengths,
)
from swmr_widgets.demo.process import DemoWriter, start_demo
from swmr_widgets.demo.writer import CREATED, READY, build_parser, main

__all__ = [
    "COUNTER_PATH",
    "COUNTER_START",
    "CREATED",
    "FRAME_PATH",
    "FRAME_SHAPE",
    "LOGGER_PATH",
    "LOGGER_TIME_PATH",
    "MAX_FPS",
    "READY",
    "SCAN_AXIS_PATH",
    "SCAN_NAV_PATH",
    "SCAN_PATH",
    "SCAN_SPECTRUM_PATH",
    "SCAN_SPECTRUM_SIZE",
    "SPECTRUM_PATH",
    "SPECTRUM_SIZE",
    "TEMPERATURE_PATH",
    "TREND_PATH",
    "TREND_PERIOD",
    "WAVELENGTH_PATH",
    "DemoConfig",
    "DemoWriter",
    "build_parser",
    "counter_value",
    "main",
    "positive_float",
    "scan_positions",
    "start_demo",
    "temperature_value",
    "trend_value",
    "wavelengths",
]
