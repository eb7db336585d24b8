"""A scriptable SWMR writer of compressed datasets, as detectors write them, in its own process.

Three growing datasets, each chunk compressed by a filter of ``hdf5plugin``:
Bitshuffle/LZ4 camera frames (as Eiger/Dectris files), Blosc (LZ4 + shuffle)
float64 values and Zstandard int32 counters. One command per line on stdin,
one answer per line on stdout once flushed::

    append K   append K rows to every dataset  -> "ok <length>"
    close      close the file and exit         -> "ok"

Row ``i`` holds :func:`frame` ``(i)``, :func:`value` ``(i)`` and
:func:`counter` ``(i)``, so readers can check values exactly.
"""

from __future__ import annotations

import argparse
import sys

import h5py
import numpy as np

FRAMES = "/entry/instrument/detector/data"
VALUES = "/entry/blosc/values"
COUNTS = "/entry/zstd/counts"
FRAME = (12, 10)
#: Filter ids of each dataset (Bitshuffle 32008, Blosc 32001, Zstd 32015).
FILTER_IDS = {FRAMES: 32008, VALUES: 32001, COUNTS: 32015}


def frame(i: int) -> np.ndarray:
    """Frame of row `i` (uint16, compressible)."""
    y, x = np.indices(FRAME)
    return ((i * 7 + y * 3 + x) % 4096).astype(np.uint16)


def value(i: np.ndarray | int) -> np.ndarray:
    """float64 value of row `i`."""
    return np.asarray(i, dtype=np.float64) * 0.25 - 3.0


def counter(i: np.ndarray | int) -> np.ndarray:
    """int32 counter of row `i`."""
    return (np.asarray(i, dtype=np.int64) * 1000 + 7).astype(np.int32)


def main() -> None:
    import hdf5plugin

    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    args = parser.parse_args()
    f = h5py.File(args.path, "w", libver="latest")
    frames = f.create_dataset(
        FRAMES,
        (0, *FRAME),
        maxshape=(None, *FRAME),
        dtype="u2",
        chunks=(1, *FRAME),
        **hdf5plugin.Bitshuffle(cname="lz4"),
    )
    frames.attrs["units"] = "counts"
    values = f.create_dataset(
        VALUES,
        (0,),
        maxshape=(None,),
        dtype="f8",
        chunks=(32,),
        **hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
    )
    values.attrs["units"] = "V"
    counts = f.create_dataset(
        COUNTS, (0,), maxshape=(None,), dtype="i4", chunks=(32,), **hdf5plugin.Zstd(clevel=3)
    )
    f.swmr_mode = True
    print("ready", flush=True)
    n = 0
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "append":
            k = int(rest[0])
            for ds in (frames, values, counts):
                ds.resize((n + k, *ds.shape[1:]))
            frames[n : n + k] = np.stack([frame(i) for i in range(n, n + k)])
            values[n : n + k] = value(np.arange(n, n + k))
            counts[n : n + k] = counter(np.arange(n, n + k))
            n += k
            f.flush()
            print(f"ok {n}", flush=True)
        elif cmd == "close":
            f.close()
            print("ok", flush=True)
            return


if __name__ == "__main__":
    main()
