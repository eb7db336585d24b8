"""A NeXus file made with nexusformat, then extended in SWMR mode with nexusformat, step by step.

Run in its own process; the tests control the pace through stdin::

    step K      append K points to every growing field, flush  -> "ok <points>"
    close       close the file                                 -> "ok"

The tree is built with nexusformat's classes and saved with
``libver="latest"``. nexusformat opens and closes the h5py file for every
operation and has no SWMR switch of its own, but it keeps the file open inside
``with root.nxfile:``; opening it there first with ``libver="latest"`` lets the
h5py file be switched to SWMR mode and the fields be extended through
nexusformat (``resize`` and item assignment). Linked fields are written
through their targets (an ``NXlink`` does not resize its target).

Layout::

    /@default = "entry"
    /entry (NXentry) @default = "data"
      instrument/detector (NXdetector)
        counts          (N,)     units, long_name   = hard link /entry/data/counts
        counts_errors   (N,)                        = hard link /entry/data/counts_errors
        spectra         (N, 16)                     = hard link /entry/spectra/spectra
      data (NXdata) @signal = counts, @axes = time, @auxiliary_signals = monitor
        counts, counts_errors, monitor (N,), time (N,) epoch seconds
      spectra (NXdata) @signal = spectra, @axes = [time, energy]
        spectra, time (hard link /entry/data/time), energy (16,) in eV
      image (NXdata) @signal = frame, @axes = [y, x]: a static 6 x 8 frame

Values are random (seeded); after every command the writer saves what it has
written to ``<path>.written.npz`` before answering.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from writers import LineWriter

WIDTH = 16
FRAME = (6, 8)
T0 = 1.7e9
ENERGY = np.linspace(1.0, 2.0, WIDTH)
DETECTOR = "/entry/instrument/detector"
COUNTS = "/entry/data/counts"
ERRORS = "/entry/data/counts_errors"
MONITOR = "/entry/data/monitor"
TIME = "/entry/data/time"
SPECTRA = "/entry/spectra/spectra"
SPECTRA_TIME = "/entry/spectra/time"
ENERGY_PATH = "/entry/spectra/energy"
FRAME_PATH = "/entry/image/frame"


def side_file(path: Path | str) -> Path:
    """Where the writer dumps what it wrote."""
    return Path(f"{path}.written.npz")


def build(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Write the empty tree with nexusformat; return the static arrays written."""
    from nexusformat.nexus import (
        NXdata,
        NXdetector,
        NXentry,
        NXfield,
        NXinstrument,
        NXlink,
        NXroot,
    )

    root = NXroot()
    root.entry = NXentry()
    root.entry.instrument = NXinstrument()
    det = root.entry.instrument.detector = NXdetector()
    det.counts = NXfield(np.zeros(0), maxshape=(None,), units="counts", long_name="Detector counts")
    det.counts_errors = NXfield(np.zeros(0), maxshape=(None,), units="counts")
    det.spectra = NXfield(
        np.zeros((0, WIDTH)), maxshape=(None, WIDTH), units="a.u.", long_name="Spectrum"
    )
    data = root.entry.data = NXdata()
    data.counts = NXlink(det.counts)
    data.counts_errors = NXlink(det.counts_errors)
    data.monitor = NXfield(np.zeros(0), maxshape=(None,), units="mon", long_name="Monitor")
    data.time = NXfield(np.zeros(0), maxshape=(None,), units="s", long_name="Time")
    data.nxsignal = data.counts
    data.nxaxes = [data.time]
    data.nxauxiliary_signals = [data.monitor]
    energy = NXfield(ENERGY, name="energy", units="eV", long_name="Photon energy")
    root.entry.spectra = NXdata(NXlink(det.spectra), [NXlink(data.time), energy])
    frame = rng.random(FRAME) * 100.0
    y = NXfield(np.arange(FRAME[0]) * 0.5, name="y", units="mm", long_name="Height")
    x = NXfield(np.arange(FRAME[1]) * 0.25, name="x", units="mm", long_name="Width")
    root.entry.image = NXdata(NXfield(frame, name="frame", long_name="Frame"), [y, x])
    root.entry.data.set_default()
    root.save(str(path), mode="w", libver="latest")
    return {"frame": frame, "energy": ENERGY, "y": np.asarray(y), "x": np.asarray(x)}


class _Writer:
    def __init__(self, path: Path, seed: int) -> None:
        from nexusformat.nexus import nxload

        self.path = path
        self.rng = np.random.default_rng(seed)
        self.static = build(path, self.rng)
        self.root = nxload(str(path), "rw")
        self.root.nxfile.open(libver="latest")  # nexusformat's own open, with SWMR bounds
        self.nxfile = self.root.nxfile.__enter__()  # kept open until close
        self.nxfile.file.swmr_mode = True
        self.rows: dict[str, list] = {k: [] for k in ("counts", "errors", "monitor", "time")}
        self.rows["spectra"] = []
        self.dump()

    def step(self, k: int) -> None:
        det = self.root.entry.instrument.detector
        data = self.root.entry.data
        fields = {
            "counts": det.counts,
            "errors": det.counts_errors,
            "monitor": data.monitor,
            "time": data.time,
            "spectra": det.spectra,
        }
        for _ in range(k):
            n = len(self.rows["time"])
            values = {
                "counts": 1e6 + self.rng.random(),  # not exact in float32
                "errors": self.rng.random(),
                "monitor": self.rng.normal(),
                "time": T0 + 0.25 * n,
                "spectra": self.rng.normal(size=WIDTH),
            }
            for key, field in fields.items():
                field.resize((n + 1, *field.shape[1:]))
                field[n] = values[key]
                self.rows[key].append(values[key])
        self.nxfile.file.flush()
        self.dump()

    def dump(self) -> None:
        arrays = {k: np.array(v, dtype=float) for k, v in self.rows.items()}
        arrays["spectra"] = arrays["spectra"].reshape(-1, WIDTH)
        arrays.update(self.static)
        tmp = side_file(self.path).with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, side_file(self.path))

    def close(self) -> None:
        self.nxfile.__exit__(None, None, None)
        self.root.nxfile.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    writer = _Writer(args.path, args.seed)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "step":
            writer.step(int(rest[0]))
            print(f"ok {len(writer.rows['time'])}", flush=True)
        elif cmd == "close":
            writer.close()
            print("ok", flush=True)
            return


class NexusWriter(LineWriter):
    """Drives this script in another process, one command at a time (for the tests)."""

    def __init__(self, path: Path, seed: int = 0) -> None:
        super().__init__(path, [__file__, str(path), "--seed", str(seed)])

    def step(self, k: int) -> int:
        """Append `k` points; return how many there are."""
        return self.count(f"step {k}")

    def close(self) -> None:
        """Let the writer close the file and exit."""
        self.end("close")

    def written(self) -> dict[str, np.ndarray]:
        """What the writer has written so far."""
        with np.load(side_file(self.path)) as npz:
            return {k: npz[k] for k in npz.files}


if __name__ == "__main__":
    main()
