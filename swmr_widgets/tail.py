"""``swmr-widgets tail``: follow a live HDF5 file in a terminal, in the spirit of ``h5watch``.

Each new row of each followed 0-D dataset is printed as it arrives, exactly
(the shortest text that reads back as the same float64, integers in full),
one line per row with the dataset's label; scan arrays add a progress line.
``--json`` prints one JSON object per row instead, for piping. The writer's
health (waiting, stalled, finished, replaced, ...) goes to stderr. On a
terminal the rows scroll above a live status line drawn with :mod:`rich`
(when installed); elsewhere output is plain lines. Ctrl-C or SIGTERM exit 0.

It is a thin front end of :class:`~swmr_widgets.live.LiveFile`, like the widget.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from swmr_widgets.live import Feed, Health, Latest, LiveFile, Rows, ScanMap, SeriesFeed, State

__all__ = ["add_arguments", "format_value", "run"]


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave the loop."""


def format_value(value: Any) -> Any:
    """A plain Python number (or text) that prints and serialises the stored value exactly."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``tail`` to `parser`."""
    parser.add_argument("file", metavar="FILE", help="HDF5 file to follow")
    parser.add_argument(
        "datasets",
        metavar="DATASET",
        nargs="*",
        help="absolute paths of datasets to follow (default: every 0-D channel)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    parser.add_argument(
        "--interval", type=float, default=0.5, help="seconds between polls (default: 0.5)"
    )
    parser.add_argument(
        "--wait", action="store_true", help="wait for a file that does not exist yet"
    )
    parser.add_argument(
        "-n",
        "--lines",
        type=int,
        default=10,
        help="rows already written to print first, per dataset (default: 10; -1: all)",
    )
    parser.add_argument(
        "--stall-after", type=float, default=5.0, help="seconds without change = stalled"
    )
    parser.add_argument(
        "--no-lock",
        action="store_true",
        help="read without HDF5's file lock, so the writer can reopen the file in 'a' mode "
        "(pymodaq-data's finalize_swmr)",
    )


class _Printer:
    """Writes rows to stdout and health to stderr, plain or through rich."""

    def __init__(self, as_json: bool, out: IO[str], err: IO[str]) -> None:
        self.as_json = as_json
        self.out, self.err = out, err
        self._live: Any = None
        self._console: Any = None
        if not as_json and out.isatty():
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:  # plain lines without the tui extra
                pass
            else:
                self._console = Console(file=out, highlight=False)
                self._live = Live(console=self._console, auto_refresh=False, transient=True)
                self._live.start()

    def row(
        self, feed: Feed, index: int | tuple[int, ...], value: Any, x: float | None, progress: Any
    ) -> None:
        meta = feed.meta
        value = format_value(value)
        if self.as_json:
            where = list(index) if isinstance(index, tuple) else index
            obj: dict[str, Any] = {"path": feed.path, "label": meta.label, "index": where}
            obj["value"] = value
            if meta.units:
                obj["units"] = meta.units
            if x is not None:
                obj["x"] = x
            if progress:
                obj["progress"] = list(progress)
            self._line(json.dumps(obj))
            return
        where = ", ".join(map(str, index)) if isinstance(index, tuple) else index
        text = f"{meta.label or meta.name}[{where}] = {value}"
        if meta.units:
            text += f" {meta.units}"
        axis = feed.axis.axis if isinstance(feed, SeriesFeed) else None
        if x is not None and axis is not None and axis.label:
            text += f"  ({axis.label} = {x}{' ' + axis.units if axis.units else ''})"
        self._line(text)

    def progress(self, feed: Feed) -> None:
        if self.as_json or not feed.progress:
            return
        filled, total = feed.progress
        self._line(f"scan {feed.meta.label or feed.meta.name}: {filled}/{total} points")

    def other(self, feed: Feed, update: Latest) -> None:
        meta = feed.meta
        values = np.asarray(update.values)
        where = getattr(update, "index", None)
        if self.as_json:
            obj = {"path": feed.path, "label": meta.label, "shape": list(values.shape)}
            if where is not None:
                obj["index"] = list(where)
            self._line(json.dumps(obj))
        else:
            at = f" at {tuple(where)}" if where else ""
            self._line(f"{meta.label or meta.name}{at}: new {'×'.join(map(str, values.shape))}")
        self.progress(feed)

    def health(self, text: str) -> None:
        print(f"swmr-widgets tail: {text}", file=self.err, flush=True)

    def status(self, health: Health) -> None:
        if self._live is not None:
            from rich.text import Text

            style = {State.LIVE: "green", State.STALLED: "yellow", State.ERROR: "red"}
            self._live.update(
                Text(health.describe(), style=style.get(health.state, "dim")), refresh=True
            )

    def _line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def _channels(live: LiveFile) -> list[str]:
    """The 0-D channels of the file, without the datasets that are other ones' axes."""
    metas = [live.meta(p) for p in live.paths]
    channels = [m for m in metas if m.plottable and m.kind == "0d" and m.nav_ndim]
    axes = {a.path for m in metas for a in (*m.axes, *m.nav_axes) if a.path}
    return [m.path for m in channels if m.path not in axes]


def _health_text(health: Health, path: str) -> str:
    if health.state is State.WAITING:
        return health.note or f"waiting for {path}"
    if health.state is State.STALLED:
        return f"writer stalled or finished? no change for {health.idle:.0f} s"
    if health.state is State.FINISHED:
        return "scan complete" if health.swmr else "file is not being written (not SWMR)"
    if health.state is State.DELETED:
        return health.note
    if health.state is State.ERROR:
        return "error: " + "; ".join(health.errors)
    return f"following {path} ({'SWMR' if health.swmr else 'not SWMR'})" + (
        f"; {health.note}" if health.note else ""
    )


class _Tail:
    """The follow loop: which feeds, what was printed, when to report health."""

    def __init__(self, args: argparse.Namespace, printer: _Printer) -> None:
        self.args = args
        self.printer = printer
        self.live = LiveFile(
            args.file,
            wait=args.wait or None,
            stall_after=args.stall_after,
            locking=False if args.no_lock else None,
        )
        self.feeds: list[Feed] = []
        self.skip: dict[Feed, int] = {}
        self._reported: tuple | None = None

    def follow(self) -> None:
        live, args = self.live, self.args
        wanted = args.datasets or _channels(live)
        unknown = [p for p in wanted if p not in live.paths]
        if unknown:
            raise KeyError(f"not datasets of {args.file}: {', '.join(unknown)}")
        self.feeds = [live.follow(p) for p in wanted]
        for feed in self.feeds:
            shape = feed.dataset.shape or (0,)
            self.skip[feed] = (
                0 if args.lines < 0 else max(0, (shape[0] if shape else 0) - args.lines)
            )
        if not self.feeds:
            self.printer.health("no 0-D dataset to follow; name the datasets to follow")

    def step(self) -> None:
        poll = self.live.poll()
        if poll.structure_changed and not self.feeds:
            self.follow()
        for feed, update in poll.updates.items():
            if isinstance(update, Rows):
                self._rows(feed, update)
            elif isinstance(update, ScanMap):
                self._points(feed, update)
            elif isinstance(update, Latest):
                self.printer.other(feed, update)
        health = poll.health
        key = (health.state, health.note, health.errors)
        if key != self._reported:
            self._reported = key
            self.printer.health(_health_text(health, self.args.file))
        self.printer.status(health)

    def _rows(self, feed: Feed, update: Rows) -> None:
        keep = update.indices >= self.skip.get(feed, 0)
        indices, values = update.indices[keep], update.values[keep]
        if not len(indices):
            return
        xs: Sequence[float | None] = [None] * len(indices)
        if feed.axis.explicit:
            x, known = feed.axis.at(indices)
            full = np.full(len(indices), math.nan)
            full[known] = x
            xs = [None if math.isnan(v) else float(v) for v in full]
        progress = feed.progress
        for i, v, x in zip(indices.tolist(), values, xs, strict=True):
            self.printer.row(feed, i, v, x, progress)
        self.printer.progress(feed)

    def _points(self, feed: Feed, update: ScanMap) -> None:
        shape = update.values.shape
        flat = update.values.reshape(-1)
        for p in update.indices.tolist():
            where = tuple(int(i) for i in np.unravel_index(p, shape))
            self.printer.row(feed, where, flat[p], None, feed.progress)
        self.printer.progress(feed)

    @property
    def done(self) -> bool:
        """A file that is not being written has nothing more to give."""
        h = self.live.health
        return self.live.attached and not h.swmr and not h.catching_up


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Follow ``args.file`` until interrupted; return the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        raise _Stop

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not in the main thread
        previous = None
    printer = _Printer(args.json, out, err)
    try:
        tail = _Tail(args, printer)
        if tail.live.attached:
            tail.follow()
        while True:
            started = time.monotonic()
            tail.step()
            if tail.done:
                return 0
            time.sleep(max(args.interval - (time.monotonic() - started), 0.005))
    except (KeyboardInterrupt, _Stop):
        return 0
    except (OSError, KeyError) as exc:
        printer.health(f"error: {exc}")
        return 2
    finally:
        printer.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
