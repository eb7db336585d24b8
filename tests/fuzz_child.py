"""Read damaged HDF5 files through the whole reading stack, one after the other.

Run by ``tests/fuzzing.py`` in a process of its own: it reads one file path per
line on stdin and, for each, answers one line on stdout, ``<outcome>\\t<detail>``,
once it is done with the file:

* ``ok``: every step ran (what a damaged file could not give is reported in
  errors and warnings, with documented messages);
* the name of a documented error class (``DamagedFileError``, ``NotHDF5Error``,
  ...): the first one a step raised;
* ``other:<type>``: a step raised an undocumented exception, or a status line
  or feed error quoted one (``<type>`` is its class name; the detail says
  where).

The steps: :func:`open_h5_file_for_reading` (auto, and with ``swmr=True``),
:func:`collect_datasets`, :func:`refresh_cached`, a :class:`LiveFile`
following every dataset and polled twice, and a :class:`SwmrView` built,
refreshed, shown every plottable dataset and refreshed again. A crash
(segfault) or a hang shows as a missing answer; the parent's watchdog sees it.
"""

from __future__ import annotations

import faulthandler
import re
import sys
from collections.abc import Callable
from typing import Any

from swmr_widgets.errors import SwmrOpenError
from swmr_widgets.filters import MissingFilterError
from swmr_widgets.live import LiveFile
from swmr_widgets.swmr import (
    DamagedFileError,
    collect_datasets,
    open_h5_file_for_reading,
    refresh_cached,
)

#: Errors the reading API documents.
DOCUMENTED = (SwmrOpenError, MissingFilterError)
#: How an undocumented exception shows in an error text ("RuntimeError: ...").
RAW = re.compile(
    r"\b(RuntimeError|KeyError|ValueError|SystemError|TypeError|IndexError|AttributeError|"
    r"AssertionError|ZeroDivisionError|OverflowError|MemoryError|RecursionError|"
    r"UnicodeDecodeError|OSError|Exception)\b:"
)
#: Datasets a view is asked to show at most at once.
SHOWN = 3


class Outcome:
    """The first documented error and the first undocumented one seen for a file."""

    def __init__(self) -> None:
        self.documented = ""
        self.other = ""
        self.detail = ""

    def run(self, step: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except DOCUMENTED as exc:
            self.documented = self.documented or type(exc).__name__
        except Exception as exc:
            self.note_other(type(exc).__name__, f"{step}: {exc}")
        return None

    def note_other(self, kind: str, detail: str) -> None:
        if not self.other:
            self.other, self.detail = kind, detail[:300]

    def check_texts(self, step: str, texts: Any) -> None:
        for text in texts:
            found = RAW.search(text)
            if found:
                self.note_other(found.group(1), f"{step} says: …{text[found.start() - 80 :]}")

    def word(self) -> str:
        if self.other:
            return f"other:{self.other}"
        return self.documented or "ok"


def read_with_core_api(path: str, out: Outcome) -> None:
    opened = out.run("open", lambda: open_h5_file_for_reading(path))
    if opened is None:
        return
    f, _ = opened
    try:
        cache = out.run("collect_datasets", lambda: _collect(f))
        if cache:
            out.run("refresh_cached", lambda: refresh_cached(cache))
    finally:
        f.close()
    opened = out.run("open swmr=True", lambda: open_h5_file_for_reading(path, swmr=True))
    if opened is None:
        return
    f, _ = opened
    try:
        cache = out.run("collect_datasets (swmr)", lambda: _collect(f))
        if cache:
            out.run("refresh_cached (swmr)", lambda: refresh_cached(cache))
    finally:
        f.close()


def _collect(f: Any) -> dict:
    try:
        return collect_datasets(f)
    except DamagedFileError as exc:  # documented; go on with what could be read
        skipped = collect_datasets(f, errors="skip")
        if set(skipped) != set(exc.datasets):
            raise AssertionError("errors='skip' and the error's .datasets differ") from None
        raise


def follow_live(path: str, out: Outcome) -> None:
    live = out.run("LiveFile", lambda: LiveFile(path))
    if live is None:
        return
    try:
        for p in live.paths:
            out.run(f"follow {p}", lambda p=p: live.follow(p))
        for _ in range(2):
            poll = out.run("poll", live.poll)
            if poll is not None:
                out.check_texts("poll", poll.health.errors)
                out.check_texts("health", [poll.health.describe()])
        out.check_texts("feed", [feed.error for feed in live.feeds])
    finally:
        out.run("LiveFile.close", live.close)


def show_view(path: str, out: Outcome) -> None:
    from swmr_widgets import SwmrView

    view = out.run("SwmrView", lambda: SwmrView(path, autostart=False))
    if view is None:
        return
    try:
        out.check_texts("view status", [view.status])
        out.run("refresh", view.refresh)
        shown = [p for p in view.paths if _plottable(view, p)][:SHOWN]

        def show() -> None:
            view.selected = tuple(shown)

        out.run("select", show)
        out.run("refresh", view.refresh)
        out.check_texts("view status", [view.status])
    finally:
        out.run("SwmrView.close", view.close)


def _plottable(view: Any, path: str) -> bool:
    try:
        return view.live.meta(path).plottable
    except Exception:
        return False


def run_one(path: str) -> Outcome:
    """Every step on one file."""
    out = Outcome()
    read_with_core_api(path, out)
    follow_live(path, out)
    show_view(path, out)
    return out


def main() -> None:
    faulthandler.enable()  # a segfault prints where it happened to stderr
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        out = run_one(path)
        detail = out.detail.replace("\t", " ").replace("\n", " ")
        print(f"{out.word()}\t{detail}", flush=True)


if __name__ == "__main__":
    main()
