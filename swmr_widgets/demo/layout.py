"""What the demo acquisition writes: dataset paths, shapes and exact values.

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

The 0-D channels hold values computed from the row index alone
(:func:`trend_value`, :func:`temperature_value`, :func:`counter_value`), so a
reader in another process can check every row it reads, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "COUNTER_PATH",
    "COUNTER_START",
    "FRAME_PATH",
    "FRAME_SHAPE",
    "LOGGER_PATH",
    "LOGGER_TIME_PATH",
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
    "counter_value",
    "scan_positions",
    "temperature_value",
    "trend_value",
    "wavelengths",
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
#: Period (in rows) of the photodiode trend.
TREND_PERIOD = 200


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
