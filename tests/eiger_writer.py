"""A scriptable Eiger/Odin-style detector writer for the tests, run in its own process.

It writes the layout of an Eiger or Odin acquisition in directory ``DIR``:

* data files ``scan_data_000001.h5``, ``scan_data_000002.h5``, ... written in
  SWMR mode, each with a growing ``/entry/data/data`` of frames
  (``maxshape=(None, ny, nx)``, one chunk per frame), holding
  ``--frames-per-file`` frames each, filled one file after the other;
* a master ``scan_master.h5``, created and closed before the first frame, with
  NeXus groups (``/entry`` NXentry, ``/entry/data`` NXdata with
  ``@signal="data"``), one external link per data file
  (``/entry/data/data_000001`` -> ``scan_data_000001.h5:/entry/data/data``) and
  ``/entry/data/data``, an unlimited virtual dataset concatenating the data
  files along axis 0: it grows as the data files do.

It reads one command per line on stdin, performs it, flushes, and answers one
line on stdout::

    frames K    append K frames (to the current data file)  -> "ok <frames written>"
    close       close the data files and exit                -> "ok"

Frame ``i`` is :func:`frame` ``(i, ny, nx, dtype)``, so readers can check
values exactly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

MASTER = "scan_master.h5"
DATA = "/entry/data/data"
#: Name of data file `k` (from 1), and of its external link in the master's NXdata group.
DATA_FILE = "scan_data_{:06d}.h5"
LINK = "data_{:06d}"


def frame(i: int, ny: int, nx: int, dtype: str = "u2") -> np.ndarray:
    """Frame `i`: a deterministic ``(ny, nx)`` image, different for every `i`.

    For ``uint32`` the values lie above 2**16, so a reader that narrows them is caught.
    """
    base = np.arange(ny * nx, dtype=np.int64).reshape(ny, nx)
    image = (base * 3 + i * 7919 + 1) % 65521
    if np.dtype(dtype) == np.uint32:
        image = image + 70_000
    return image.astype(dtype)


def data_paths(directory: Path, files: int) -> list[Path]:
    """Paths of the data files."""
    return [directory / DATA_FILE.format(k + 1) for k in range(files)]


def write_master(
    directory: Path,
    files: int,
    per_file: int,
    ny: int,
    nx: int,
    dtype: str,
    *,
    name: str = MASTER,
    links: bool = True,
) -> Path:
    """Create and close a master file `name` (before any frame exists).

    With ``links=False`` it holds the virtual dataset only (as Odin's masters do).
    """
    layout = h5py.VirtualLayout(
        shape=(files * per_file, ny, nx), dtype=dtype, maxshape=(None, ny, nx)
    )
    for k, path in enumerate(data_paths(directory, files)):
        source = h5py.VirtualSource(
            path.name, DATA, shape=(per_file, ny, nx), dtype=dtype, maxshape=(None, ny, nx)
        )
        # unlimited on both sides: the virtual extent follows the frames written
        layout[k * per_file : h5py.h5s.UNLIMITED] = source[: h5py.h5s.UNLIMITED]
    master = directory / name
    with h5py.File(master, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "data"
        data.create_virtual_dataset("data", layout, fillvalue=0)
        for k, path in enumerate(data_paths(directory, files) if links else []):
            data[LINK.format(k + 1)] = h5py.ExternalLink(path.name, DATA)
        det = entry.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["count_time"] = 0.05
        det["count_time"].attrs["units"] = "s"
        det["x_pixel_size"] = 75e-6
        det["x_pixel_size"].attrs["units"] = "m"
    return master


def main() -> None:
    """Write the master, open the data files in SWMR mode, then obey stdin."""
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--frames-per-file", type=int, default=4)
    parser.add_argument("--ny", type=int, default=16)
    parser.add_argument("--nx", type=int, default=24)
    parser.add_argument("--dtype", default="u2", choices=["u2", "u4"])
    parser.add_argument(
        "--keep-master", action="store_true", help="use the master already there (made earlier)"
    )
    args = parser.parse_args()
    ny, nx, per_file = args.ny, args.nx, args.frames_per_file
    args.directory.mkdir(parents=True, exist_ok=True)
    if not (args.keep_master and (args.directory / MASTER).exists()):
        write_master(args.directory, args.files, per_file, ny, nx, args.dtype)

    handles: list[h5py.File] = []
    datasets: list[h5py.Dataset] = []
    for path in data_paths(args.directory, args.files):
        f = h5py.File(path, "w", libver="latest")
        ds = f.create_dataset(
            DATA, (0, ny, nx), maxshape=(None, ny, nx), dtype=args.dtype, chunks=(1, ny, nx)
        )
        f["entry"].attrs["NX_class"] = "NXentry"
        f.swmr_mode = True
        handles.append(f)
        datasets.append(ds)
    print("ready", flush=True)

    written = 0
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "frames":
            for _ in range(int(rest[0])):
                k = written // per_file
                if k >= len(datasets):
                    break
                ds = datasets[k]
                ds.resize((ds.shape[0] + 1, ny, nx))
                ds[-1] = frame(written, ny, nx, args.dtype)
                ds.flush()
                written += 1
            print(f"ok {written}", flush=True)
        elif cmd == "close":
            for f in handles:
                f.close()
            print("ok", flush=True)
            return
        else:
            print(f"error unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
