"""A camera that writes frames in SWMR mode, in its own process (tests and benchmarks).

The file has a NeXus detector layout: ``/entry/instrument/detector/data``
(frames, growing along the first axis) next to a ``pixel_mask``. Frame ``k``
is :func:`frame` ``(k, shape, dtype)``: a pattern that moves with ``k``, with
detector sentinels (the dtype's maximum) on a few pixels and a hot pixel that
only the ``pixel_mask`` flags. Two ways to drive it:

* scripted (default): one command per line on stdin, one answer per line::

      frame K    append K frames           -> "ok <number of frames>"
      close      close the file and exit   -> "ok"

* free-running (``--rate R``): R frames per second, printing
  ``flushed <index> <time.time()>`` after each flush, for ``--duration`` s or
  until stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np

from swmr_widgets import processes

DATA = "/entry/instrument/detector/data"
MASK = "/entry/instrument/detector/pixel_mask"
#: Values of the moving pattern lie in [LOW, LOW + SPAN).
LOW, SPAN = 100, 4000
#: Value of the hot pixel that only the pixel_mask flags.
HOT = 60_000


def sentinel_pixels(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels holding the sentinel value (a detector gap)."""
    h, w = shape
    rows = np.concatenate([np.full(w, h // 3), np.arange(h)])
    cols = np.concatenate([np.arange(w), np.full(h, w // 2)])
    return rows, cols


def hot_pixel(shape: tuple[int, int]) -> tuple[int, int]:
    """Where the masked hot pixel is."""
    return shape[0] // 5, shape[1] // 7


def pixel_mask(shape: tuple[int, int]) -> np.ndarray:
    """The detector's mask: the hot pixel (8, NeXus 'noisy') and the gap (1, 'gap')."""
    mask = np.zeros(shape, dtype=np.uint32)
    mask[sentinel_pixels(shape)] = 1
    mask[hot_pixel(shape)] = 8
    return mask


def frame(k: int, shape: tuple[int, int], dtype: str) -> np.ndarray:
    """Frame `k` as the camera writes it."""
    h, w = shape
    pattern = (np.arange(h)[:, None] * 7 + np.arange(w)[None, :] * 3 + 11 * k) % SPAN + LOW
    image = pattern.astype(dtype)
    image[sentinel_pixels(shape)] = np.iinfo(np.dtype(dtype)).max
    image[hot_pixel(shape)] = HOT
    return image


class RunningCamera:
    """A free-running camera in another process; records ``index -> flush time``."""

    def __init__(
        self,
        path: Path,
        shape: tuple[int, int],
        rate: float,
        duration: float = 3600.0,
        dtype: str = "u2",
    ) -> None:
        self.path = path
        cmd = [sys.executable, str(Path(__file__).resolve()), str(path)]
        cmd += ["--shape", *map(str, shape), "--dtype", dtype]
        cmd += ["--rate", str(rate), "--duration", str(duration)]
        self.proc = processes.spawn(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"the camera said {line!r}")
        self.flushes: dict[int, float] = {}
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "flushed":
                self.flushes[int(parts[1])] = float(parts[2])

    def stop(self) -> None:
        """Close its stdin (it stops), kill it by PID if it does not."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            processes.kill(self.proc, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--shape", type=int, nargs=2, default=(64, 48))
    parser.add_argument("--dtype", default="u2")
    parser.add_argument("--rate", type=float, default=0.0, help="free-running frames/s")
    parser.add_argument("--duration", type=float, default=3600.0)
    args = parser.parse_args()
    shape = tuple(args.shape)

    with h5py.File(args.path, "w", libver="latest") as f:
        det = f.require_group("/entry/instrument/detector")
        f["/entry"].attrs["NX_class"] = "NXentry"
        f["/entry/instrument"].attrs["NX_class"] = "NXinstrument"
        det.attrs["NX_class"] = "NXdetector"
        ds = det.create_dataset(
            "data", (0, *shape), maxshape=(None, *shape), dtype=args.dtype, chunks=(1, *shape)
        )
        ds.attrs["units"] = "counts"
        det["pixel_mask"] = pixel_mask(shape)
        f.swmr_mode = True
        f.flush()
        print("ready", flush=True)

        def append(n: int) -> None:
            for _ in range(n):
                k = ds.shape[0]
                ds.resize((k + 1, *shape))
                ds[k] = frame(k, shape, args.dtype)
                ds.flush()

        if args.rate > 0:
            period, start = 1.0 / args.rate, time.monotonic()
            k = 0
            while time.monotonic() - start < args.duration:
                append(1)
                print(f"flushed {k} {time.time():.6f}", flush=True)
                k += 1
                wait = start + k * period - time.monotonic()
                ready, _, _ = select.select([sys.stdin], [], [], max(wait, 0.0))
                if ready and not sys.stdin.readline():
                    break
            return
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "frame":
                append(int(rest[0]))
                print(f"ok {ds.shape[0]}", flush=True)
            elif command == "close":
                print("ok", flush=True)
                break


if __name__ == "__main__":
    main()
