"""A SWMR writer for the benchmarks, run in its own process and driven over stdin.

It is started as a script (``python benchmarks/writer.py FILE``), so it needs
only h5py and numpy. It answers each command with one line once the data is
flushed, so the benchmark process knows exactly what a reader can see::

    many PREFIX N                 create N small growing datasets under PREFIX,
                                  100 per group                       -> "ok N"
    create NAME DTYPE ROW CHUNK INITIAL
                                  create a growing dataset of rows of shape ROW
                                  ("-" for 0-D rows, "64x64" for frames), CHUNK
                                  rows per chunk, and fill its first INITIAL rows
                                  in large blocks                     -> "ok INITIAL"
    swmr                          switch SWMR mode on                 -> "ok"
    append NAME:K [NAME:K ...]    append K rows to each NAME, then flush once
                                                                      -> "ok L1 L2 ..."
    stream NAME N PERIOD          append N rows to the 0-D dataset NAME one at a
                                  time, every PERIOD seconds, each holding the
                                  CLOCK_MONOTONIC time at which it was written,
                                  flushing after each                 -> "ok N"
    close                         close the file and exit             -> "ok"

With ``--existing`` the file is opened in append mode instead of being created,
so a large file built once can be followed by several benchmarks.
"""

from __future__ import annotations

import argparse
import sys
import time

import h5py
import numpy as np

#: Rows written at once while filling a dataset's initial rows (8 MB of float64).
FILL_BLOCK_BYTES = 8 * 2**20


def row_shape(text: str) -> tuple[int, ...]:
    """Parse a row shape: ``"-"`` for 0-D rows, ``"128"`` or ``"64x64"`` otherwise.

    Parameters
    ----------
    text : str
        The shape as written on the command line.

    Returns
    -------
    tuple of int
        The shape of one row.
    """
    if text in ("-", "", "()"):
        return ()
    return tuple(int(s) for s in text.split("x"))


def rows(start: int, stop: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Deterministic, cheap, non-constant values for rows ``start .. stop``.

    Parameters
    ----------
    start, stop : int
        Row range.
    shape : tuple of int
        Shape of one row.
    dtype : numpy.dtype
        Element type.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(stop - start, *shape)``.
    """
    i = np.arange(start, stop, dtype=np.float64)
    base = np.sin(i * 1e-3) + ((i * 7919.0) % 1000.0) * 1e-4
    if not shape:
        return base.astype(dtype)
    n = int(np.prod(shape))
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float64).reshape(shape)
    return (base.reshape(-1, *([1] * len(shape))) + ramp).astype(dtype)


class Writer:
    """The writer's state: one open file and its growing datasets.

    Parameters
    ----------
    path : str
        The HDF5 file.
    existing : bool
        Open an existing file for appending instead of creating it.
    """

    def __init__(self, path: str, existing: bool) -> None:
        self.file = h5py.File(path, "a" if existing else "w", libver="latest")
        self.datasets: dict[str, h5py.Dataset] = {}
        if existing:
            self.file.visititems(self._remember)

    def _remember(self, name: str, obj: h5py.HLObject) -> None:
        if isinstance(obj, h5py.Dataset) and obj.maxshape and obj.maxshape[0] is None:
            self.datasets["/" + name] = obj

    def many(self, prefix: str, n: int) -> str:
        """Create `n` small growing float64 datasets (16 rows) under `prefix`."""
        data = np.arange(16, dtype=np.float64)
        for k in range(n):
            self.file.create_dataset(
                f"{prefix}/G{k // 100:03d}/d{k:05d}",
                data=data,
                maxshape=(None,),
                chunks=(64,),
            )
        return f"ok {n}"

    def create(self, name: str, dtype: str, shape_text: str, chunk: int, initial: int) -> str:
        """Create a growing dataset and fill its first `initial` rows."""
        shape = row_shape(shape_text)
        dt = np.dtype(dtype)
        ds = self.file.create_dataset(
            name,
            shape=(initial, *shape),
            maxshape=(None, *shape),
            dtype=dt,
            chunks=(chunk, *shape),
        )
        row_bytes = max(int(np.prod(shape, dtype=np.int64)) * dt.itemsize, 1)
        block = max(1, FILL_BLOCK_BYTES // row_bytes)
        for start in range(0, initial, block):
            stop = min(start + block, initial)
            ds[start:stop] = rows(start, stop, shape, dt)
        self.datasets[name] = ds
        self.file.flush()
        return f"ok {initial}"

    def append(self, specs: list[str]) -> str:
        """Append rows to several datasets and flush once."""
        lengths = []
        for spec in specs:
            name, k_text = spec.rsplit(":", 1)
            ds = self.datasets[name]
            k = int(k_text)
            n = ds.shape[0]
            ds.resize(n + k, axis=0)
            ds[n:] = rows(n, n + k, ds.shape[1:], ds.dtype)
            lengths.append(str(n + k))
        self.file.flush()
        return "ok " + " ".join(lengths)

    def stream(self, name: str, n: int, period: float) -> str:
        """Append `n` time-stamped rows one at a time, every `period` seconds."""
        ds = self.datasets[name]
        length = ds.shape[0]
        deadline = time.monotonic()
        for _ in range(n):
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ds.resize(length + 1, axis=0)
            ds[length] = time.monotonic()
            ds.flush()
            length += 1
        return f"ok {n}"

    def handle(self, line: str) -> str | None:
        """Perform one command; return the answer, or ``None`` to stop."""
        cmd, *args = line.split()
        if cmd == "many":
            return self.many(args[0], int(args[1]))
        if cmd == "create":
            return self.create(args[0], args[1], args[2], int(args[3]), int(args[4]))
        if cmd == "swmr":
            self.file.swmr_mode = True
            return "ok"
        if cmd == "append":
            return self.append(args)
        if cmd == "stream":
            return self.stream(args[0], int(args[1]), float(args[2]))
        if cmd == "close":
            self.file.close()
            return None
        return f"error unknown command {cmd!r}"


def main(argv: list[str] | None = None) -> int:
    """Run the writer until ``close`` or the end of stdin.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--existing", action="store_true", help="append to an existing file")
    args = parser.parse_args(argv)
    writer = Writer(args.path, args.existing)
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = writer.handle(line)
        except Exception as exc:  # report, keep serving: the benchmark decides
            answer = f"error {type(exc).__name__}: {exc}"
        if answer is None:
            print("ok", flush=True)
            return 0
        print(answer, flush=True)
    writer.file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
