"""Backpressure from the browser: a frame is sent once the previous one is painted.

A camera writes faster than a browser may draw. Without a limit the frames
queue up (in the kernel's socket, the Jupyter server, the page) and the
picture falls further behind every second. Here the browser says when it has
painted a frame, and the kernel sends nothing new before that: the newest
frame waits, the ones in between are dropped.

* :class:`PaintAck` is a tiny anywidget. Its JavaScript, in every browser
  page showing the widgets, watches the mark's ``frame_id`` trait; after the
  mark has taken the new data it waits for the next animation frame (the one
  that shows it) to be rendered and sends ``{"painted": frame_id}`` back. It also
  dispatches a ``swmr-painted`` DOM event (detail: ``frame``, ``tag``, and
  ``received`` and ``time``, when the page took the frame and when it was
  painted, in ms since the epoch) for benchmarks and tests. A hidden tab runs
  no animation frames, so it never acknowledges.
* :class:`PaintGate` sits in the kernel before a mark. :meth:`PaintGate.offer`
  applies an update at once, unless a frame is still being drawn: then the
  update is kept (replacing any kept before) and applied when the
  acknowledgement comes, or at the next :meth:`PaintGate.poll` after
  :attr:`PaintGate.timeout` seconds without a word from the page (a closed or
  hidden page must not freeze the view). The page says hello when it loads,
  and frames sent before are not waited for. Outside a Jupyter kernel (a
  script, the tests) the gate holds nothing back.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import anywidget
import comm
import traitlets
from ipywidgets import Widget

__all__ = ["PaintAck", "PaintGate"]

#: Seconds without any acknowledgement after which the next frame is sent anyway.
ACK_TIMEOUT = 2.0
#: In a kernel, seconds between two frames sent before any page said hello.
PRELOAD_TIMEOUT = 5.0
#: Seconds over which the painted frame rate is counted.
RATE_WINDOW = 2.0

_ESM = """
function wait(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function findMark(model) {
  const ref = model.get("mark") || "";
  const id = ref.replace(/^IPY_MODEL_/, "");
  for (let i = 0; i < 600 && id; i++) {
    try {
      const mark = await model.widget_manager.get_model(id);
      if (mark) return mark;
    } catch (e) { /* not created yet */ }
    await wait(100);
  }
  return null;
}

export default {
  async initialize({ model }) {
    const mark = await findMark(model);
    if (!mark) return;
    model.send({ hello: true });  // a page is there: from now on, one frame at a time
    const painted = () => {
      const frame = mark.get("frame_id");
      const tag = mark.get("frame_tag");
      const received = performance.timeOrigin + performance.now();
      // the task queued from an animation frame callback runs once that frame is rendered
      requestAnimationFrame(() => setTimeout(() => {
        const time = performance.timeOrigin + performance.now();
        model.send({ painted: frame });
        const detail = { frame, tag, time, received };
        document.dispatchEvent(new CustomEvent("swmr-painted", { detail }));
      }, 0));
    };
    mark.on("change:frame_id", painted);
    return () => mark.off("change:frame_id", painted);
  },
  render({ el }) { el.style.display = "none"; },
};
"""


class PaintAck(anywidget.AnyWidget):
    """Sends ``{"painted": frame_id}`` from the browser once the mark's frame is on screen.

    The mark must have an integer ``frame_id`` trait (and may have a string
    ``frame_tag``), set in the same message as its data.
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    mark = traitlets.Unicode("", help="IPY_MODEL_ reference of the watched mark").tag(sync=True)


class PaintGate:
    """Holds back a mark's updates while the browser is still painting the previous one.

    Parameters
    ----------
    mark : ipywidgets.Widget
        The mark; it must have an integer ``frame_id`` and a string ``frame_tag`` trait.
    timeout : float
        Seconds after which an unacknowledged frame no longer holds the next back.
    """

    def __init__(self, mark: Widget, timeout: float = ACK_TIMEOUT) -> None:
        self.mark = mark
        self.timeout = timeout
        self.ack = PaintAck(mark=f"IPY_MODEL_{mark.model_id}")
        self.ack.on_msg(self._on_msg)
        self.sent = 0  # frames applied to the mark
        self.dropped = 0  # updates replaced by a newer one before being sent
        self.acked = 0  # highest frame_id acknowledged
        self.timeouts = 0  # frames sent without the previous one acknowledged
        self._sent_at = 0.0
        self._sent_times: deque[tuple[int, float]] = deque(maxlen=64)
        #: Seconds from sending the last acknowledged frame to its acknowledgement.
        self.paint_time = 0.0
        self._acked_at = 0.0
        self._hello_at = 0.0
        self._in_kernel = not isinstance(self.ack.comm, comm.DummyComm)
        self._pending: tuple[Callable[[], None], str] | None = None
        self._painted: deque[float] = deque()

    @property
    def engaged(self) -> bool:
        """Whether a browser page may watch the mark (only then is anything held back).

        True once a page said hello, and from the start in a kernel, where a
        page may connect at any time: frames sent before it loads would all
        queue up in front of it. Outside a kernel (a script, the tests) no page
        can connect, and every update is applied at once.
        """
        return self._hello_at > 0 or self._in_kernel

    @property
    def busy(self) -> bool:
        """Whether the last frame sent is still being painted.

        A browser that keeps acknowledging (older frames) is slow, not gone: it
        is waited for. Only :attr:`timeout` seconds (or four times the last
        frame's paint time, if longer) without any message from it, since the
        last frame was sent, free the next frame.
        """
        if not self.engaged or self.acked >= self.sent:
            return False
        last_word = max(self._sent_at, self._acked_at, self._hello_at)
        # a browser that needs seconds per frame is slow, not gone; a page still
        # loading must not find a queue of frames sent while nobody painted
        timeout = max(self.timeout, 4 * self.paint_time)
        if self._hello_at == 0:
            timeout = max(timeout, PRELOAD_TIMEOUT)
        return time.monotonic() - last_word < timeout

    @property
    def pending(self) -> bool:
        """Whether an update waits for the browser."""
        return self._pending is not None

    def offer(self, apply: Callable[[], None], tag: str = "") -> bool:
        """Apply `apply` (which sets the mark's traits) now, or keep it for later.

        Returns whether it was applied now.
        """
        if self.busy:
            if self._pending is not None:
                self.dropped += 1
            self._pending = (apply, tag)
            return False
        self._send(apply, tag)
        return True

    def poll(self) -> None:
        """Send a kept update whose predecessor's acknowledgement timed out."""
        if self._pending is not None and not self.busy:
            apply, tag = self._pending
            self._pending = None
            self._send(apply, tag)

    def painted_rate(self) -> float | None:
        """Distinct frames painted per second over the last seconds; None before any."""
        if self._hello_at == 0 and not self._painted:
            return None
        now = time.monotonic()
        while self._painted and now - self._painted[0] > RATE_WINDOW:
            self._painted.popleft()
        return len(self._painted) / RATE_WINDOW

    def close(self) -> None:
        """Close the acknowledging widget."""
        self.ack.close()

    def _send(self, apply: Callable[[], None], tag: str) -> None:
        if self.engaged and self.acked < self.sent:
            self.timeouts += 1
        self.sent += 1
        with self.mark.hold_sync():
            apply()
            self.mark.frame_tag = tag
            self.mark.frame_id = self.sent
        self._sent_at = time.monotonic()
        self._sent_times.append((self.sent, self._sent_at))

    def _on_msg(self, _widget: Widget, content: dict, _buffers: list) -> None:
        if not isinstance(content, dict):
            return
        if content.get("hello") is True:  # frames sent before it are not waited for
            self._hello_at = time.monotonic()
            self.acked = self.sent
            self.poll()
            return
        frame = content.get("painted")
        if not isinstance(frame, int) or frame <= self.acked or frame > self.sent:
            return  # another page's duplicate, or garbage
        self.acked = frame
        self._acked_at = time.monotonic()
        sent_at = next((t for n, t in self._sent_times if n == frame), None)
        if sent_at is not None:
            self.paint_time = self._acked_at - sent_at
        self._painted.append(self._acked_at)
        self.poll()
