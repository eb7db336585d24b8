"""A scriptable writer of PyMoDAQ-style scan arrays on a 2-D navigation grid.

Run in its own process. The arrays are pre-allocated to the full scan shape,
filled with NaN, and filled in place one point at a time, as PyMoDAQ's
``DataToExportExtendedSaver`` does::

    fill K      fill the next K points (raster order, or snake with --snake) -> "ok <filled>"
    close       close the file and exit                                     -> "ok"

Point ``p`` (flat index in raster order) of every array holds :func:`point_value`
``(p)``, so readers can check values exactly. It also writes a growing logger
channel with a growing time axis (``LOGGER`` and ``LOGGER_TIME``) and a second
hard link to ``SCAN0D`` (``SCAN0D_LINK``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np
from writers import LineWriter

NAV = (5, 4)
WIDTH = 16
FRAME = (6, 8)
BASE = "/RawData/Scan000/Detector000"
SCAN0D = f"{BASE}/Data0D/CH00/Data00"
SCAN1D = f"{BASE}/Data1D/CH00/Data00"
SCAN2D = f"{BASE}/Data2D/CH00/Data00"
SCAN0D_LINK = "/Links/scan0d"
LOGGER = "/Logger/Detector000/Data0D/CH00/EnlData00"
LOGGER_TIME = "/Logger/Detector000/NavAxes/Axis00"
#: Epoch seconds of the first logger row (float32 would round it to 128 s).
T0 = 1.7e9


def pm(value: object) -> str:
    """A PyMoDAQ JSON attribute."""
    return json.dumps({"module": "builtins", "type": type(value).__name__, "data": repr(value)})


def point_value(p: np.ndarray | int) -> np.ndarray:
    """The 0-D value of point `p` (exact in float64)."""
    return np.asarray(p, dtype=np.float64) * 0.25 + 10.0


def trace(p: int) -> np.ndarray:
    """The 1-D trace of point `p`."""
    return point_value(p) * np.arange(1, WIDTH + 1)


def frame(p: int) -> np.ndarray:
    """The 2-D frame of point `p`."""
    return point_value(p) + np.arange(FRAME[0] * FRAME[1]).reshape(FRAME)


def order(snake: bool) -> list[int]:
    """Flat indices of the points in the order they are filled."""
    out = []
    for i in range(NAV[0]):
        cols = range(NAV[1])
        if snake and i % 2:
            cols = reversed(cols)
        out += [i * NAV[1] + j for j in cols]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--snake", action="store_true")
    args = parser.parse_args()
    f = h5py.File(args.path, "w", libver="latest")
    f.attrs["TITLE"] = "scan"
    datasets = []
    for path, dims, point in ((SCAN0D, "0D", ()), (SCAN1D, "1D", (WIDTH,)), (SCAN2D, "2D", FRAME)):
        ds = f.create_dataset(path, data=np.full(NAV + point, np.nan), chunks=True)
        ds.attrs.update(
            label=pm(f"ch {dims}"), units=pm("V"), data_dimension=pm(dims), nav_indexes=pm((0, 1))
        )
        datasets.append(ds)
    nav = f.require_group(f"{BASE}/NavAxes")
    for k, (n, label) in enumerate(zip(NAV, ("y", "x"), strict=True)):
        ax = nav.create_dataset(f"Axis0{k}", data=np.linspace(0.0, 1.0, n))
        ax.attrs.update(label=pm(label), units=pm("mm"), index=pm(k))
    f[SCAN0D_LINK] = f[SCAN0D]
    logger = f.create_dataset(LOGGER, (0,), maxshape=(None,), dtype="f8", chunks=(256,))
    logger.attrs.update(label=pm("logger"), units=pm("V"), data_dimension=pm("0D"))
    times = f.create_dataset(LOGGER_TIME, (0,), maxshape=(None,), dtype="f8", chunks=(256,))
    times.attrs.update(label=pm("time"), units=pm("s"), index=pm(0))
    f.swmr_mode = True
    print("ready", flush=True)
    points = order(args.snake)
    filled = 0
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "fill":
            for p in points[filled : filled + int(rest[0])]:
                i, j = divmod(p, NAV[1])
                datasets[0][i, j] = point_value(p)
                datasets[1][i, j] = trace(p)
                datasets[2][i, j] = frame(p)
                n = len(logger)
                logger.resize((n + 1,))
                times.resize((n + 1,))
                logger[n] = point_value(p)
                times[n] = T0 + n
                filled += 1
            f.flush()
            print(f"ok {filled}", flush=True)
        elif cmd == "close":
            f.close()
            print("ok", flush=True)
            return


class ScanWriter(LineWriter):
    """Drives this script in another process, one command at a time (for the tests)."""

    def __init__(self, path: Path, *args: str) -> None:
        super().__init__(path, [__file__, str(path), *args])

    def fill(self, k: int) -> int:
        """Fill the next `k` points; return how many are filled."""
        return self.count(f"fill {k}")


if __name__ == "__main__":
    main()
