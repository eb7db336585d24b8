"""PyMoDAQ's own savers (pymodaq-data) writing a scan or a logger, driven one step at a time.

Run in its own process; the tests control the pace through stdin::

    step K      write the next K points, flush             -> "ok <points written>"
    close       close the file                              -> "ok"
    finalize    ``finalize_swmr()``: close, reopen without SWMR to fix the
                attributes deferred during SWMR, close       -> "ok"

Kinds (``--kind``):

``scan1d`` / ``scan2d``
    ``DataToExportExtendedSaver`` on a navigation grid of :data:`NAV1D` or
    :data:`NAV2D` points, with a 0-D, a 1-D (wavelength axis in nm) and a 2-D
    detector. As in PyMoDAQ's DAQScan the arrays are pre-allocated (NaN) and
    filled in place; SWMR starts after the first point.
``logger``
    ``DataToExportEnlargeableSaver`` with a time axis in epoch seconds: two
    0-D channels, a 1-D and a 2-D detector, all growing by one row per point.

The values are random (seeded), so nothing but the file tells the reader what
they are. After every command the writer saves what it has written so far to
``<path>.written.npz`` (see :func:`written`), replaced atomically, before it
answers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from writers import LineWriter

NAV1D = (5,)
NAV2D = (5, 4)
WIDTH = 16
FRAME = (6, 8)
#: Epoch seconds of the first logger point (float32 would round it to 128 s).
T0 = 1.7e9
WAVELENGTH = np.linspace(500.0, 600.0, WIDTH)
NAV_VALUES = (np.linspace(0.0, 1.0, 5), np.linspace(-2.0, 2.0, 4))
NAV_LABELS = (("y", "mm"), ("x", "um"))

SCAN = "/RawData/Scan000/Detector000"
LOGGER = "/RawData/Detector000"
DATA0D = "Data0D/CH00/Data00"
DATA1D = "Data1D/CH00/Data00"
AXIS1D = "Data1D/CH00/Axis00"
DATA2D = "Data2D/CH00/Data00"
ENL0D = "Data0D/CH00/EnlData00"
ENL0D_OTHER = "Data0D/CH00/EnlData01"
ENL1D = "Data1D/CH00/EnlData00"
ENL2D = "Data2D/CH00/EnlData00"
NAV_AXIS = "NavAxes/Axis00"


def side_file(path: Path | str) -> Path:
    """Where the writer dumps what it wrote."""
    return Path(f"{path}.written.npz")


def written(path: Path | str) -> dict[str, np.ndarray]:
    """What the writer of `path` has written so far (read after its "ok")."""
    with np.load(side_file(path)) as npz:
        return {k: npz[k] for k in npz.files}


class _Writer:
    """One kind of PyMoDAQ file, written point by point with pymodaq-data's savers."""

    def __init__(self, path: Path, kind: str, seed: int) -> None:
        from pymodaq_data.h5modules.saving import H5SaverLowLevel

        self.path, self.kind = path, kind
        self.rng = np.random.default_rng(seed)
        self.n = 0
        save_type = "logger" if kind == "logger" else "scan"
        self.h5 = H5SaverLowLevel(save_type=save_type, backend="h5py")
        self.h5.init_file(path, new_file=True, swmr_mode=True)
        if kind == "logger":
            from pymodaq_data.h5modules.data_saving import DataToExportEnlargeableSaver

            self.group = self.h5.add_det_group(self.h5.raw_group, "Logger")
            self.saver = DataToExportEnlargeableSaver(
                self.h5, enl_axis_names=("time",), enl_axis_units=("s",)
            )
            self.total = None
            self.log: dict[str, list] = {"counter": [], "other": [], "d1": [], "d2": [], "time": []}
        else:
            from pymodaq_data.data import Axis
            from pymodaq_data.h5modules.data_saving import DataToExportExtendedSaver

            self.nav = NAV1D if kind == "scan1d" else NAV2D
            scan = self.h5.add_scan_group()
            self.group = self.h5.add_det_group(scan, "Detector")
            self.saver = DataToExportExtendedSaver(self.h5, extended_shape=self.nav)
            axes = [
                Axis(label, units, data=NAV_VALUES[k][: self.nav[k]], index=k)
                for k, (label, units) in enumerate(NAV_LABELS[: len(self.nav)])
            ]
            self.saver.add_nav_axes(self.group, axes)
            self.total = int(np.prod(self.nav))
            self.grid = {
                "d0": np.full(self.nav, np.nan),
                "d1": np.full((*self.nav, WIDTH), np.nan),
                "d2": np.full((*self.nav, *FRAME), np.nan),
            }
        self.h5.flush()
        self.dump()

    def point(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Random values of one point: two 0-D values, a trace and a frame."""
        rng = self.rng
        return (
            np.array([1e6 + rng.random()]),  # not exact in float32
            np.array([rng.normal()]),
            rng.normal(size=WIDTH) * 100.0,
            rng.random(FRAME) * 4096.0,
        )

    def step(self, k: int) -> None:
        from pymodaq_data.data import Axis, DataRaw, DataToExport

        for _ in range(k):
            if self.total is not None and self.n >= self.total:
                break
            v0, v0b, trace, frame = self.point()
            spectrum = DataRaw(
                "spectrometer",
                dim="Data1D",
                data=[trace],
                labels=["spectrum"],
                units="counts",
                axes=[Axis("wavelength", "nm", data=WAVELENGTH, index=0)],
            )
            camera = DataRaw("camera", dim="Data2D", data=[frame], labels=["frame"], units="ADU")
            if self.kind == "logger":
                counter = DataRaw(
                    "counters", dim="Data0D", data=[v0, v0b], labels=["counter", "other"], units="V"
                )
                t = T0 + 0.5 * self.n
                dte = DataToExport("logger", data=[counter, spectrum, camera])
                self.saver.add_data(self.group, dte, axis_values=[t])
                if self.n == 0:  # as PyMoDAQ's scans do: SWMR once the structure exists
                    self.h5.flush()
                    self.h5.enable_swmr()
                for key, value in zip(self.log, (v0[0], v0b[0], trace, frame, t), strict=True):
                    self.log[key].append(value)
            else:
                counter = DataRaw("counter", dim="Data0D", data=[v0], labels=["counter"], units="V")
                index = np.unravel_index(self.n, self.nav)
                dte = DataToExport("scan", data=[counter, spectrum, camera])
                self.saver.add_data(self.group, dte, indexes=tuple(int(i) for i in index))
                self.grid["d0"][index] = v0[0]
                self.grid["d1"][index] = trace
                self.grid["d2"][index] = frame
            self.n += 1
        self.h5.flush()
        self.dump()

    def dump(self) -> None:
        if self.kind == "logger":
            arrays = {
                "counter": np.array(self.log["counter"], dtype=float),
                "other": np.array(self.log["other"], dtype=float),
                "d1": np.array(self.log["d1"], dtype=float).reshape(-1, WIDTH),
                "d2": np.array(self.log["d2"], dtype=float).reshape(-1, *FRAME),
                "time": np.array(self.log["time"], dtype=float),
            }
        else:
            arrays = dict(self.grid)
            for k in range(len(self.nav)):
                arrays[f"nav{k}"] = NAV_VALUES[k][: self.nav[k]]
        arrays["wavelength"] = WAVELENGTH
        arrays["n"] = np.array(self.n)
        tmp = side_file(self.path).with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, side_file(self.path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--kind", choices=("scan1d", "scan2d", "logger"), default="scan2d")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    writer = _Writer(args.path, args.kind, args.seed)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "step":
            writer.step(int(rest[0]))
            print(f"ok {writer.n}", flush=True)
        elif cmd == "close":
            writer.h5.close_file()
            print("ok", flush=True)
            return
        elif cmd == "finalize":  # end SWMR: close, reopen in "a" mode, fix attributes, close
            writer.h5.finalize_swmr()
            print("ok", flush=True)
            return


class PymodaqWriter(LineWriter):
    """Drives this script in another process, one command at a time (for the tests)."""

    def __init__(self, path: Path, kind: str, seed: int = 0) -> None:
        self.kind = kind
        super().__init__(path, [__file__, str(path), "--kind", kind, "--seed", str(seed)])

    @property
    def base(self) -> str:
        """The group holding the detector's data."""
        return LOGGER if self.kind == "logger" else SCAN

    def step(self, k: int) -> int:
        """Write the next `k` points; return how many are written."""
        return self.count(f"step {k}")

    def close(self, command: str = "close") -> None:
        """Let the writer end the file with `command` ("close" or "finalize") and exit."""
        self.end(command)

    def written(self) -> dict[str, np.ndarray]:
        """What the writer has written so far."""
        return written(self.path)


if __name__ == "__main__":
    main()
