"""A free-running SWMR writer for the reliability and soak tests, run in its own process.

Unlike ``swmr_writer.py`` (one command per line), this writer appends on its
own clock until it is stopped, like a real acquisition::

    python stream_writer.py FILE --rows-per-s 5000 --frame-hz 10 --frame-size 256

It appends rows to two growing 0-D channels, :data:`COUNTER` (int64 above
2**31) and :data:`VALUE` (float64), and, with ``--frame-hz``, frames to
:data:`FRAMES` (uint16, ``(N, size, size)``); it flushes after every step. Row
``i`` holds :func:`counter` ``(i)`` and :func:`value` ``(i)``, frame ``k`` is
:func:`frame` ``(k, size)``, so a reader can check every value it reads.

``--hostile`` also writes the datasets of ``hostile_zoo.py`` (before SWMR
starts). It prints ``created`` once the file exists, ``swmr T`` when it switches SWMR
on (``T``: its ``time.monotonic()``, comparable across processes on Linux),
``ready`` once the first step is flushed, and, when stopped by SIGTERM / SIGINT (or after
``--duration`` seconds), closes the file cleanly and prints one line::

    done rows=R frames=F counter_sum=S value_sum=V frame_sum=T steps=N

with the sums of everything it wrote (Python integers, exact). SIGKILL leaves
the file as a crash would.
"""

from __future__ import annotations

import argparse
import signal
import time

import h5py
import numpy as np

COUNTER = "/stream/counter"
VALUE = "/stream/value"
FRAMES = "/stream/frames"
#: First counter value: above 2**31, where bqplot would truncate an int64.
COUNTER_START = 2**33 + 7


def counter(i: np.ndarray | int) -> np.ndarray:
    """Value of row `i` of :data:`COUNTER`."""
    return np.asarray(i, dtype=np.int64) + COUNTER_START


def value(i: np.ndarray | int) -> np.ndarray:
    """Value of row `i` of :data:`VALUE` (exact in float64 and float32 for i < 2**23)."""
    return np.asarray(i, dtype=np.float64) * 0.5 + 1.0


def frame(k: int, size: int) -> np.ndarray:
    """Frame `k` of :data:`FRAMES`, a deterministic ``(size, size)`` uint16 image."""
    base = np.arange(size * size, dtype=np.int64).reshape(size, size)
    return ((base * 3 + k * 7919) % 65521).astype(np.uint16)


class _Stop:
    flag = False

    @classmethod
    def handler(cls, signum: int, frame: object) -> None:
        cls.flag = True


def main() -> None:
    """Run the writer until stopped."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path")
    p.add_argument("--rows-per-s", type=float, default=1000.0)
    p.add_argument("--step", type=float, default=0.01, help="seconds between flushes")
    p.add_argument("--frame-hz", type=float, default=0.0)
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--no-swmr", action="store_true", help="never switch SWMR mode on")
    p.add_argument("--swmr-delay", type=float, default=0.0, help="hold the lock without SWMR")
    p.add_argument("--hostile", action="store_true", help="also write hostile_zoo datasets")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, _Stop.handler)
    signal.signal(signal.SIGINT, _Stop.handler)

    size = args.frame_size
    f = h5py.File(args.path, "w", libver="latest")
    cnt = f.create_dataset(COUNTER, (0,), maxshape=(None,), dtype="i8", chunks=(8192,))
    cnt.attrs["units"] = "counts"
    val = f.create_dataset(VALUE, (0,), maxshape=(None,), dtype="f8", chunks=(8192,))
    val.attrs["units"] = "V"
    frames = f.create_dataset(
        FRAMES, (0, size, size), maxshape=(None, size, size), dtype="u2", chunks=(1, size, size)
    )
    if args.hostile:
        from hostile_zoo import make_zoo  # next to this script

        make_zoo(f)
    f.flush()  # the layout is on disk (still locked until SWMR starts)
    print("created", flush=True)
    if args.swmr_delay > 0:
        time.sleep(args.swmr_delay)
    if not args.no_swmr:
        f.swmr_mode = True
        print(f"swmr {time.monotonic()!r}", flush=True)  # CLOCK_MONOTONIC: system-wide

    rows = n_frames = steps = 0
    counter_sum = frame_sum = 0
    value_sum = 0.0
    t0 = time.monotonic()
    end = None if args.duration is None else t0 + args.duration
    while not _Stop.flag:
        now = time.monotonic()
        target = max(int(args.rows_per_s * (now - t0)), rows + 1)
        idx = np.arange(rows, target)
        c, v = counter(idx), value(idx)
        cnt.resize((target,))
        cnt[rows:target] = c
        val.resize((target,))
        val[rows:target] = v
        counter_sum += int(c.sum())
        value_sum += float(v.sum())
        rows = target
        if args.frame_hz > 0:
            want = int(args.frame_hz * (now - t0)) + 1
            for k in range(n_frames, want):
                image = frame(k, size)
                frames.resize((k + 1, size, size))
                frames[k] = image
                frame_sum += int(image.sum(dtype=np.int64))
            n_frames = max(n_frames, want)
        f.flush()
        steps += 1
        if steps == 1:
            print("ready", flush=True)
        if end is not None and now >= end:
            break
        time.sleep(max(t0 + steps * args.step - time.monotonic(), 0.0))
    f.close()
    print(
        f"done rows={rows} frames={n_frames} counter_sum={counter_sum} "
        f"value_sum={value_sum!r} frame_sum={frame_sum} steps={steps}",
        flush=True,
    )


if __name__ == "__main__":
    main()
