"""netCDF-4 files written by xarray and by h5netcdf, in their own process.

Kinds (``--kind``):

``xarray``
    An ``xarray.Dataset`` with coordinates ``time`` (datetime64, stored the CF
    way: integers with ``@units = "milliseconds since ..."``) and ``x`` (mm), data
    variables on them, and a variable on a dimension ``sample`` that has no
    coordinate variable (netCDF stores a placeholder dataset for it), written
    with ``to_netcdf(engine="h5netcdf")``. With ``--invalid`` it adds a complex
    variable and a boolean attribute, which need ``invalid_netcdf=True``. The
    process writes the file, dumps the truth and exits.
``h5netcdf``
    h5netcdf's own API with an unlimited ``time`` dimension, opened with
    ``libver="latest"``; after the variables are defined the underlying h5py
    file is switched to SWMR mode (h5netcdf has no SWMR switch of its own, so
    this uses its ``_h5file`` attribute) and grown step by step. h5netcdf's
    ``flush()`` does not flush the HDF5 file, so the writer also calls
    ``_h5file.flush()``, or a SWMR reader would see no new point::

        step K      append K points along time, flush  -> "ok <points>"
        close       close the file                     -> "ok"

Values are random (seeded); what was written is saved to
``<path>.written.npz`` before the writer answers (or exits).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from writers import LineWriter

WIDTH = 16
N_TIME = 10
X = np.linspace(0.0, 3.0, WIDTH)
TIME0 = np.datetime64("2026-01-01T00:00:00", "ms")


def side_file(path: Path | str) -> Path:
    """Where the writer dumps what it wrote."""
    return Path(f"{path}.written.npz")


def _dump(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = side_file(path).with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, side_file(path))


def write_xarray(path: Path, rng: np.random.Generator, invalid: bool) -> None:
    """Write a closed netCDF file with xarray's h5netcdf engine."""
    import xarray as xr

    ms = np.arange(N_TIME) * 500
    time = TIME0 + ms.astype("timedelta64[ms]")
    temperature = 290.0 + rng.random(N_TIME)
    profile = rng.normal(size=(N_TIME, WIDTH))
    weights = rng.random(3)
    ds = xr.Dataset(
        {
            "temperature": ("time", temperature, {"units": "K", "long_name": "Sample temperature"}),
            "profile": (("time", "x"), profile, {"units": "counts"}),
            "weights": ("sample", weights),
        },
        coords={
            "time": time,
            "x": ("x", X, {"units": "mm", "long_name": "Position"}),
        },
    )
    ds["time"].encoding["units"] = "milliseconds since 2026-01-01"
    truth = {"time": ms.astype(float), "x": X, "temperature": temperature, "profile": profile}
    truth["weights"] = weights
    if invalid:
        wave = np.exp(1j * X)
        ds["wave"] = ("x", wave, {"units": "V", "calibrated": True})
        truth["wave"] = wave
        ds.to_netcdf(path, engine="h5netcdf", invalid_netcdf=True)
    else:
        ds.to_netcdf(path, engine="h5netcdf")
    _dump(path, truth)


class _Growing:
    """An h5netcdf file with an unlimited time dimension, grown in SWMR mode."""

    def __init__(self, path: Path, rng: np.random.Generator) -> None:
        import h5netcdf

        self.path, self.rng = path, rng
        f = self.file = h5netcdf.File(path, "w", libver="latest")
        f.dimensions = {"time": None, "x": WIDTH}
        self.time = f.create_variable("time", ("time",), float, chunks=(256,))
        self.time.attrs.update(units="s", long_name="Time")
        x = f.create_variable("x", ("x",), float)
        x[:] = X
        x.attrs.update(units="mm", long_name="Position")
        self.temperature = f.create_variable("temperature", ("time",), float, chunks=(256,))
        self.temperature.attrs.update(units="K", long_name="Sample temperature")
        self.profile = f.create_variable("profile", ("time", "x"), float, chunks=(64, WIDTH))
        self.profile.attrs["units"] = "counts"
        f.flush()
        f._h5file.swmr_mode = True  # h5netcdf has no public SWMR switch
        self.rows: dict[str, list] = {"time": [], "temperature": [], "profile": []}
        self.dump()

    def step(self, k: int) -> int:
        for _ in range(k):
            n = len(self.rows["time"])
            values = {
                "time": 1000.0 + 0.1 * n,
                "temperature": 290.0 + self.rng.random(),
                "profile": self.rng.normal(size=WIDTH),
            }
            self.file.resize_dimension("time", n + 1)
            for key, var in (
                ("time", self.time),
                ("temperature", self.temperature),
                ("profile", self.profile),
            ):
                var[n] = values[key]
                self.rows[key].append(values[key])
        self.file.flush()
        # h5netcdf's flush() only writes its _NCProperties attribute: without an
        # HDF5 flush, SWMR readers see nothing until the file is closed
        self.file._h5file.flush()
        self.dump()
        return len(self.rows["time"])

    def dump(self) -> None:
        arrays = {k: np.array(v, dtype=float) for k, v in self.rows.items()}
        arrays["profile"] = arrays["profile"].reshape(-1, WIDTH)
        arrays["x"] = X
        _dump(self.path, arrays)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--kind", choices=("xarray", "h5netcdf"), default="xarray")
    parser.add_argument("--invalid", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.kind == "xarray":
        write_xarray(args.path, rng, args.invalid)
        print("done", flush=True)
        return
    writer = _Growing(args.path, rng)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "step":
            print(f"ok {writer.step(int(rest[0]))}", flush=True)
        elif cmd == "close":
            writer.file.close()
            print("ok", flush=True)
            return


class NetcdfWriter(LineWriter):
    """Runs this script in another process (for the tests)."""

    def __init__(self, path: Path, kind: str, *args: str) -> None:
        ready = "done" if kind == "xarray" else "ready"
        super().__init__(path, [__file__, str(path), "--kind", kind, *args], ready)
        if kind == "xarray":
            self.proc.wait(timeout=60)

    def step(self, k: int) -> int:
        """Append `k` points along time; return how many there are."""
        return self.count(f"step {k}")

    def written(self) -> dict[str, np.ndarray]:
        """What the writer has written so far."""
        with np.load(side_file(self.path)) as npz:
            return {k: npz[k] for k in npz.files}


if __name__ == "__main__":
    main()
