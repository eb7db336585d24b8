"""A scriptable SWMR writer for the tests, run in its own process.

It reads one command per line on stdin, performs it, flushes, and answers one
line on stdout, so a test in another process knows exactly what was written::

    append K      append K rows to every growing dataset     -> "ok <length>"
    fill K        fill the next K points of the scan arrays   -> "ok <filled>"
    noise K SEED  append K random values, with spikes, to NOISE -> "ok <length>"
    precise K     append K rows to each of PRECISE's datasets -> "ok <length>"
    swmr          switch SWMR mode on (with --no-swmr)        -> "ok"
    close         close the file and exit                     -> "ok"

Row ``i`` of every dataset holds :func:`value` ``(i)`` (times the column index
plus one for 1-D rows), so readers can check values exactly.
"""

from __future__ import annotations

import argparse
import sys

import h5py
import numpy as np

TREND = "/RawData/CH000/Data0D/Data00/data"
TRACE = "/RawData/CH000/Data1D/Data00/data"
SCAN0D = "/RawData/Scan000/Detector000/Data0D/CH00/Data00"
SCAN1D = "/RawData/Scan000/Detector000/Data1D/CH00/Data00"
NOISE = "/RawData/CH000/Data0D/Data01/data"
WIDTH = 8
#: Growing channels whose values float32 cannot hold: name -> (dtype, row i's value).
PRECISE = {
    "/precise/counter24": ("i8", lambda i: 2**24 + np.asarray(i, dtype=np.int64)),
    "/precise/tera": ("f8", lambda i: 1e12 + np.asarray(i, dtype=np.float64)),
    "/precise/epoch": ("f8", lambda i: 1.7e9 + 0.25 * np.asarray(i, dtype=np.float64)),
    "/precise/int40": ("i8", lambda i: 2**40 + 3 * np.asarray(i, dtype=np.int64)),
}


def value(i: np.ndarray | int) -> np.ndarray:
    """Value written at row `i` (exact in float64)."""
    return np.asarray(i, dtype=np.float64) * 0.5 + 1.0


def trace_rows(start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop`` of the 1-D datasets."""
    return value(np.arange(start, stop))[:, None] * np.arange(1, WIDTH + 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--no-swmr", action="store_true", help="start without SWMR mode")
    parser.add_argument("--scan-points", type=int, default=50)
    parser.add_argument("--extra-datasets", type=int, default=0)
    args = parser.parse_args()

    f = h5py.File(args.path, "w", libver="latest")
    trend = f.create_dataset(TREND, (0,), maxshape=(None,), dtype="f8", chunks=(4096,))
    trend.attrs["units"] = "V"
    trace = f.create_dataset(
        TRACE, (0, WIDTH), maxshape=(None, WIDTH), dtype="f8", chunks=(256, WIDTH)
    )
    noise = f.create_dataset(NOISE, (0,), maxshape=(None,), dtype="f8", chunks=(65536,))
    scan0 = f.create_dataset(SCAN0D, data=np.full(args.scan_points, np.nan), chunks=True)
    scan1 = f.create_dataset(SCAN1D, data=np.full((args.scan_points, WIDTH), np.nan), chunks=True)
    precise = {
        name: f.create_dataset(name, (0,), maxshape=(None,), dtype=dtype, chunks=(1024,))
        for name, (dtype, _) in PRECISE.items()
    }
    for k in range(args.extra_datasets):
        f.create_dataset(f"/Extra/G{k // 100:03d}/d{k:05d}", data=np.arange(4.0))
    if not args.no_swmr:
        f.swmr_mode = True
    print("ready", flush=True)

    length = filled = 0
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "append":
            k = int(rest[0])
            trend.resize((length + k,))
            trend[length:] = value(np.arange(length, length + k))
            trace.resize((length + k, WIDTH))
            trace[length:] = trace_rows(length, length + k)
            length += k
            f.flush()
            print(f"ok {length}", flush=True)
        elif cmd == "fill":
            k = min(int(rest[0]), args.scan_points - filled)
            scan0[filled : filled + k] = value(np.arange(filled, filled + k))
            scan1[filled : filled + k] = trace_rows(filled, filled + k)
            filled += k
            f.flush()
            print(f"ok {filled}", flush=True)
        elif cmd == "noise":
            k, rng = int(rest[0]), np.random.default_rng(int(rest[1]))
            n = noise.shape[0]
            chunk = rng.normal(size=k)
            chunk[rng.integers(k)] = 50.0 + n
            chunk[rng.integers(k)] = -50.0 - n
            noise.resize((n + k,))
            noise[n:] = chunk
            f.flush()
            print(f"ok {n + k}", flush=True)
        elif cmd == "precise":
            k = int(rest[0])
            n = precise["/precise/tera"].shape[0]
            for name, ds in precise.items():
                ds.resize((n + k,))
                ds[n:] = PRECISE[name][1](np.arange(n, n + k))
            f.flush()
            print(f"ok {n + k}", flush=True)
        elif cmd == "swmr":
            f.swmr_mode = True
            print("ok", flush=True)
        elif cmd == "close":
            f.close()
            print("ok", flush=True)
            return
        else:
            print(f"error unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
