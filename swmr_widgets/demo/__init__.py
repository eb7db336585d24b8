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

from swmr_widgets.demo import layout
from swmr_widgets.demo.config import MAX_FPS, DemoConfig, positive_float
from swmr_widgets.demo.layout import *  # noqa: F403 (its __all__ is public API)
from swmr_widgets.demo.process import DemoWriter, start_demo
from swmr_widgets.demo.writer import CREATED, READY, build_parser, main

__all__ = [
    "CREATED",
    "MAX_FPS",
    "READY",
    "DemoConfig",
    "DemoWriter",
    "build_parser",
    "main",
    "positive_float",
    "start_demo",
    *layout.__all__,
]
