"""Health of a followed file, as typed state: is the writer alive, how fast, how far.

:class:`Health` is a snapshot the engine hands to every front end after a
poll; :class:`RateMeter` measures points per second over a sliding window.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Health", "RateMeter", "State"]

#: Seconds over which the rate of new points is measured.
RATE_WINDOW = 5.0
#: Shortest span a rate is computed over (a poll right after attaching must not
#: turn a few points into "a million per second").
MIN_RATE_SPAN = 0.2


class State(str, enum.Enum):
    """What the followed file is doing."""

    WAITING = "waiting"  #: not open yet: missing, being created, or not yet SWMR
    LIVE = "live"  #: written in SWMR mode, with recent changes
    STALLED = "stalled"  #: written in SWMR mode, but nothing changed for a while
    FINISHED = "finished"  #: cannot change any more (closed file, or scan complete)
    DELETED = "deleted"  #: the path is gone; the last data read stays
    ERROR = "error"  #: the last poll failed (see :attr:`Health.errors`)


@dataclass(frozen=True)
class Health:
    """A snapshot of the followed file's state after a poll.

    Attributes
    ----------
    state : State
        What the file is doing.
    swmr : bool
        Whether the file is read in SWMR mode (so new data can show up).
    rate : float
        New points per second over the last few seconds (rows of growing
        datasets, points of scans), not counting what was there before.
    idle : float
        Seconds since the last change seen.
    progress : tuple of int or None
        ``(points filled, points in total)`` of the first scan array followed.
    refreshed : float or None
        Wall-clock time of the last successful poll.
    note : str
        What happened lately, e.g. "scan.h5 was replaced by a new file; reopened it".
    errors : tuple of str
        Errors of the last poll, one per failing feed (or the whole poll).
    warnings : tuple of str
        What in the file cannot be read and what to do: damaged objects,
        datasets compressed with a filter that is not installed.
    catching_up : bool
        Whether rows written before attaching are still being read.
    """

    state: State = State.WAITING
    swmr: bool = False
    rate: float = 0.0
    idle: float = 0.0
    progress: tuple[int, int] | None = None
    refreshed: float | None = None
    note: str = ""
    errors: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    catching_up: bool = False

    def describe(self, running: bool | None = None) -> str:
        """One human-readable status line.

        Parameters
        ----------
        running : bool, optional
            Whether a periodic refresh runs; adds "live" or "paused".
        """
        parts: list[str] = []
        if self.state is State.WAITING:
            parts.append(self.note or "no file")
        else:
            parts.append("SWMR" if self.swmr else "not SWMR (file is not being written)")
            if running is not None:
                parts.append("live" if running else "paused")
            if self.refreshed is not None:
                stamp = datetime.fromtimestamp(self.refreshed).strftime("%H:%M:%S")
                parts.append(f"refreshed {stamp}")
            parts.append(f"{self.rate:,.0f} rows/s")
            if self.state is State.STALLED:
                parts.append(f"no change for {self.idle:.0f} s (writer stalled or finished?)")
            elif self.state is State.FINISHED and self.swmr:
                parts.append("scan complete")
            elif self.swmr:
                parts.append(f"last change {self.idle:.1f} s ago")
            if self.catching_up:
                parts.append("loading earlier rows…")
            if self.note:
                parts.append(self.note)
        if self.progress:
            parts.append(f"scan {self.progress[0]}/{self.progress[1]}")
        parts.extend(f"warning: {w}" for w in self.warnings)
        text = " · ".join(parts)
        if self.errors:
            text += " · error: " + "; ".join(self.errors)
        return text


class RateMeter:
    """Points per second over a sliding window of polls.

    Parameters
    ----------
    window : float
        Seconds of polls taken into account.
    """

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()
        self._since: float | None = None

    def restart(self, now: float | None = None) -> None:
        """Start measuring afresh from `now` (after attaching: what was there is no rate)."""
        self._samples.clear()
        self._since = time.monotonic() if now is None else now

    def add(self, n: int, now: float | None = None) -> None:
        """Count `n` new points seen at `now` (monotonic seconds)."""
        now = time.monotonic() if now is None else now
        if self._since is None:
            self._since = now
        if n:
            self._samples.append((now, n))

    def rate(self, now: float | None = None) -> float:
        """Points per second over the window ending at `now`."""
        now = time.monotonic() if now is None else now
        start = now - self.window
        while self._samples and self._samples[0][0] <= start:
            self._samples.popleft()
        if self._since is None:
            return 0.0
        span = max(now - max(start, self._since), MIN_RATE_SPAN)
        return sum(n for _, n in self._samples) / span
