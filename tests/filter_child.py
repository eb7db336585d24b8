"""A reader without hdf5plugin, then with it: run by test_filters.py in its own process.

Started with ``SWMR_WIDGETS_NO_HDF5PLUGIN=1``, so that swmr_widgets does not
import ``hdf5plugin`` and the compressed datasets of ``compressed_writer.py``
cannot be decompressed. Commands on stdin, one JSON answer per line::

    open PATH   follow every dataset with a LiveFile and a SwmrView, poll once
    poll        poll again (LiveFile and SwmrView)
    import      import hdf5plugin (what a user does in the kernel)
    install     make hdf5plugin importable again (as ``pip install`` would), no import
    close       close both and exit

With ``--not-installed``, ``hdf5plugin`` cannot be imported at all (as when it is
not installed) until ``install``.

Every answer tells what the reader shows: the engine's errors and warnings,
the view's status line, the tree's node of each dataset, what a
:class:`DatasetFollower` read or raised, and every value the feeds delivered
so far (as lists, for exact comparison).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from swmr_widgets import SwmrView
from swmr_widgets.follow import DatasetFollower
from swmr_widgets.live import Latest, LiveFile, Rows


class Reader:
    def __init__(self, path: str) -> None:
        self.live = LiveFile(path)
        self.feeds = [self.live.follow(p) for p in self.live.paths]
        self.view = SwmrView(path, autostart=False)
        self.view.selected = tuple(self.live.paths)
        self.rows: dict[str, dict[int, Any]] = {p: {} for p in self.live.paths}
        self.follower_ds = self.feeds[-1].dataset  # the shared handle: never two per dataset

    def poll(self) -> dict[str, Any]:
        poll = self.live.poll()
        for feed, update in poll.updates.items():
            if isinstance(update, Rows):
                for i, v in zip(update.indices.tolist(), update.values.tolist(), strict=True):
                    self.rows[feed.path][i] = v
            elif isinstance(update, Latest) and update.index:
                self.rows[feed.path][update.index[0]] = np.asarray(update.values).tolist()
        self.view.refresh()
        try:
            rows = DatasetFollower(self.follower_ds).poll().rows.tolist()
            follower = {"rows": rows}
        except Exception as exc:
            follower = {"error": type(exc).__name__, "oserror": isinstance(exc, OSError)}
            follower["message"] = str(exc)
            follower["filters"] = [f.id for f in getattr(exc, "filters", ())]
        nodes = {n["path"]: n for n in self.view._tree.nodes if n.get("kind") == "dataset"}
        return {
            "errors": list(poll.health.errors),
            "warnings": list(poll.health.warnings),
            "status": self.view.status,
            "nodes_changed": poll.nodes_changed,
            "nodes": {
                p: {"reason": n.get("reason", ""), "filters": n.get("filters")}
                for p, n in nodes.items()
            },
            "feed_errors": {f.path: f.error for f in self.feeds},
            "follower": follower,
            "rows": {p: {str(i): v for i, v in r.items()} for p, r in self.rows.items()},
            "hdf5plugin": sys.modules.get("hdf5plugin") is not None,
        }

    def close(self) -> None:
        self.view.close()
        self.live.close()


def main() -> None:
    if "--not-installed" in sys.argv:
        sys.modules["hdf5plugin"] = None  # type: ignore[assignment]  # import fails
    reader: Reader | None = None
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "open":
            reader = Reader(arg)
            answer = reader.poll()
        elif cmd == "poll" and reader is not None:
            answer = reader.poll()
        elif cmd == "import":
            import hdf5plugin

            answer = {"imported": hdf5plugin.version}
        elif cmd == "install":
            if sys.modules.get("hdf5plugin", 0) is None:
                del sys.modules["hdf5plugin"]
            answer = {"installed": True}
        elif cmd == "close":
            if reader is not None:
                reader.close()
            print(json.dumps({"closed": True}), flush=True)
            return
        else:
            answer = {"unknown": line}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
