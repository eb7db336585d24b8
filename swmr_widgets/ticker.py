"""A periodic task on the kernel's asyncio loop.

An asyncio task keeps ticking after the cell that started it has finished, in
JupyterLab, Notebook 7 and Voilà alike; threads that set traits do not work
reliably with every ipykernel, and a ``Play`` widget ticks only while rendered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["Ticker", "loop_running"]


def loop_running() -> bool:
    """Whether an asyncio loop runs in this thread (always so in a Jupyter kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Ticker:
    """Call `tick` every `interval()` seconds until stopped.

    Parameters
    ----------
    tick : callable
        What to run; it must not raise.
    interval : callable
        Returns the seconds between two starts of `tick` (read at each tick).
    on_end : callable
        Called when the task ends, however it ends.
    """

    def __init__(
        self, tick: Callable[[], None], interval: Callable[[], float], on_end: Callable[[], None]
    ) -> None:
        self._tick, self._interval, self._on_end = tick, interval, on_end
        self._task: asyncio.Task | None = None  # a strong reference keeps the task alive

    @property
    def running(self) -> bool:
        """Whether the task runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running loop (or the thread's loop); no-op if it runs."""
        if self.running:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        self._task = loop.create_task(self._run())

    def stop(self) -> None:
        """Cancel the task."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def _run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                self._tick()
                await asyncio.sleep(max(self._interval() - (time.monotonic() - started), 0.005))
        finally:
            if self._task is asyncio.current_task():
                self._task = None
                self._on_end()
