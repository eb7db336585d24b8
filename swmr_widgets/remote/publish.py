"""The publisher: a sidecar that mirrors live HDF5 files into a Tiled server.

It runs on the acquisition host, follows each file with the live engine
(:class:`~swmr_widgets.live.LiveFile`: waits, attaches, reopens a replaced
file) and mirrors it into Tiled: one container per file, named after its
stem, with children along the HDF5 paths (see :mod:`swmr_widgets.remote.schema`
for the layout, :mod:`swmr_widgets.remote.mirror` for what is sent). A
directory means every HDF5 file in it, including the ones that appear later
(PyMoDAQ writes one file per scan).

It never writes to the source files. When the server goes away, it stops
reading, reconnects, compares what the server has with what it sent, and
resends what is missing; the data waits in the file meanwhile, so memory stays
bounded.

Command line::

    swmr-widgets publish /data/scans --tiled http://tiled.example:8000 --api-key KEY
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from swmr_widgets.live import Change, LiveFile, State
from swmr_widgets.metadata import DatasetMeta, describe_dataset
from swmr_widgets.remote.mirror import ArrayMirror, conflict
from swmr_widgets.remote.schema import KEY, VERSION, jsonable, meta_to_json, tiled_dtype_ok
from swmr_widgets.swmr import refresh_cached

__all__ = ["HDF5_SUFFIXES", "FileMirror", "Publisher", "connect"]

#: File name endings taken for HDF5 files in a directory.
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".he5")
#: Seconds between two looks for new files in the directories followed.
SCAN_EVERY = 1.0
#: Seconds between two reconnection attempts.
RECONNECT_EVERY = 1.0

Log = Callable[[str], None]


def connect(uri: str, api_key: str | None = None) -> Any:
    """A Tiled client for the server at `uri` (its root container)."""
    from tiled.client import from_uri

    return from_uri(uri, api_key=api_key)


class FileMirror:
    """One followed file and its Tiled container.

    Parameters
    ----------
    path : pathlib.Path
        The HDF5 file (it may not exist yet).
    log : callable
        Where to say what happens.
    """

    def __init__(self, path: Path, log: Log) -> None:
        self.path = path
        self.key = path.stem
        self.log = log
        self.live = LiveFile(path, wait=True, stall_after=1e9)
        self.container: Any = None
        self.arrays: dict[str, ArrayMirror] = {}
        self.metas: dict[str, DatasetMeta] = {}
        self.finished_sent = False
        self._bound = False
        self.replaced = False

    # ------------------------------------------------------------------ local side

    def poll(self) -> bool:
        """Follow the file's life; ``True`` when its tree must be (re)published."""
        poll = self.live.poll()
        if not self.live.attached:
            return False
        if poll.structure_changed or not self._bound:
            # a replaced file (a restarted scan) starts again on the server
            self.replaced = self._bound and Change.REOPENED in poll.changes
            self._bind()
            return True
        return False

    def _bind(self) -> None:
        """Describe the datasets of the file just attached (or reopened)."""
        live = self.live
        self.arrays = {}
        self.metas = {}
        for path in live.paths:
            try:
                self.metas[path] = self._describe(path)
                ds = live.dataset(path)
                if not tiled_dtype_ok(ds.dtype) or ds.shape is None:
                    continue
                self.arrays[path] = ArrayMirror(path, ds, self.metas[path])
            except Exception as exc:  # a damaged dataset is left out, the others go on
                self.log(f"{self.path.name}: {path} left out: {type(exc).__name__}: {exc}")
        self.container = None
        self._groups: dict[str, Any] = {}
        self._bound = True
        self.finished_sent = False

    def file_metadata(self, state: str) -> dict[str, Any]:
        """The file container's metadata (tree, descriptions, state)."""
        metas = {path: meta_to_json(meta) for path, meta in self.metas.items()}
        return {
            KEY: {
                "version": VERSION,
                "source": self.path.name,
                "nodes": jsonable(self.live.nodes),
                "metas": metas,
                "mirrored": sorted(self.arrays),
                "default": next(iter(self._default()), None),
                "state": state,
            }
        }

    def _describe(self, path: str) -> DatasetMeta:
        """The description of `path`, through a handle opened at that very path.

        (The engine's shared handle of a hard-linked dataset carries the name of
        the link opened first, and the axes are looked up from that name.)
        """
        file = self.live.file
        if file is None:
            raise KeyError(path)
        return describe_dataset(file[path])

    def _default(self) -> tuple[str, ...]:
        try:
            return tuple(p for p in self.live.default_selection() if p in self.arrays)
        except Exception:
            return ()

    @property
    def state(self) -> str:
        """``"live"`` or ``"finished"`` (the writer closed the file or filled it)."""
        health = self.live.health
        return "finished" if health.state is State.FINISHED or not health.swmr else "live"

    # ------------------------------------------------------------------ remote side

    def publish_tree(self, root: Any) -> None:
        """Create (or find again) the file's container and its groups on the server."""
        existing = _child(root, self.key)
        if existing is not None and self.replaced:
            root.delete_contents([self.key], recursive=True)
            existing, self.replaced = None, False
        if existing is not None and self.container is None:
            source = (existing.metadata or {}).get(KEY, {}).get("source")
            if source not in (None, self.path.name):
                raise OSError(
                    f"the server already has {self.key!r} from {source!r}; rename one of the files"
                )
        meta = self.file_metadata(self.state)
        if existing is None:
            self.container, fresh = _create_container(root, self.key, meta)
        else:
            existing.update_metadata(metadata=meta)
            self.container = existing
            fresh = False
        self._groups = {"/": self.container}
        groups = [n for n in self.live.nodes if n.get("kind") == "group" and n["path"] != "/"]
        for node in groups:
            self._groups[node["path"]] = self._ensure_group(node["path"], fresh)
        for mirror in self.arrays.values():
            parent = self._parent(mirror.path)
            found = None if fresh else _child(parent, mirror.key)
            if found is not None and mirror.adopt(found):
                continue
            if found is not None:
                parent.delete_contents([mirror.key], recursive=True)
            mirror.client = None
        self.log(f"{self.path.name}: published as {self.key!r} ({len(self.arrays)} arrays)")

    def _ensure_group(self, path: str, fresh: bool) -> Any:
        parent = self._parent(path)
        key = path.rsplit("/", 1)[-1]
        found = None if fresh else _child(parent, key)
        if found is None:
            found, _ = _create_container(parent, key, {KEY: {"hdf5_path": path}})
        return found

    def _parent(self, path: str) -> Any:
        """The client of the container that holds `path` (created by :meth:`publish_tree`)."""
        return self._groups[path.rsplit("/", 1)[0] or "/"]

    def sync(self) -> int:
        """Send what changed in every dataset; the rows sent."""
        refresh_cached({p: m.dataset for p, m in self.arrays.items()})
        sent = 0
        for mirror in self.arrays.values():
            sent += mirror.sync(self._parent(mirror.path))
        state = self.state
        if state == "finished" and not self.finished_sent and not sent:
            for mirror in self.arrays.values():
                if mirror.progress[1]:
                    mirror._publish_progress(force=True)
            self.container.update_metadata(metadata=self.file_metadata(state))
            self.finished_sent = True
            self.log(f"{self.path.name}: finished")
        return sent

    def close(self) -> None:
        """Let go of the file."""
        self.live.close()


class Publisher:
    """Mirror the HDF5 files at `paths` into the Tiled server at `uri`.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files (which may not exist yet) and directories (every HDF5 file in
        them, new ones included).
    uri : str
        The Tiled server, e.g. ``http://127.0.0.1:8000``.
    api_key : str, optional
        Its API key.
    interval : float, default 0.02
        Seconds between two looks at the files; rows written meanwhile go in
        one patch per dataset.
    log : callable, optional
        Where to say what happens (default: standard error).
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        uri: str,
        *,
        api_key: str | None = None,
        interval: float = 0.02,
        log: Log | None = None,
    ) -> None:
        self.uri = uri
        self.api_key = api_key
        self.interval = interval
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.files: dict[Path, FileMirror] = {}
        self.dirs: list[Path] = []
        self.rows_sent = 0
        self.reconnections = 0
        self._root: Any = None
        self._published: set[Path] = set()
        self._next_scan = 0.0
        self._next_connect = 0.0
        for p in paths:
            path = Path(p)
            if path.is_dir():
                self.dirs.append(path)
            else:
                self._add(path)
        self._scan(force=True)

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event | None = None) -> None:
        """Publish until `stop` is set (or forever); then close."""
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                began = time.monotonic()
                self.step()
                stop.wait(max(self.interval - (time.monotonic() - began), 0.0))
        finally:
            self.close()

    def step(self) -> int:
        """One look at every file: publish what changed; the rows sent."""
        self._scan()
        for mirror in list(self.files.values()):
            try:
                if mirror.poll():
                    self._published.discard(mirror.path)
            except Exception as exc:
                self.log(f"{mirror.path.name}: {type(exc).__name__}: {exc}")
        if self._root is None and not self._connect():
            return 0
        sent = 0
        try:
            for mirror in list(self.files.values()):
                if not mirror.live.attached:
                    continue
                if mirror.path not in self._published:
                    mirror.publish_tree(self._root)
                    self._published.add(mirror.path)
                sent += mirror.sync()
        except Exception as exc:  # the server went away (or refused): reconnect, resend
            self.log(f"lost the Tiled server ({type(exc).__name__}: {exc}); reconnecting")
            self._root = None
            self._published.clear()
            self._next_connect = time.monotonic() + RECONNECT_EVERY
        self.rows_sent += sent
        return sent

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._next_connect:
            return False
        self._next_connect = now + RECONNECT_EVERY
        try:
            self._root = connect(self.uri, self.api_key)
        except Exception as exc:
            self.log(f"cannot reach {self.uri} yet: {type(exc).__name__}: {exc}")
            return False
        if self.reconnections or self._published:
            self.log(f"reconnected to {self.uri}")
        self.reconnections += 1
        return True

    # ------------------------------------------------------------------ files

    def _scan(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_scan:
            return
        self._next_scan = now + SCAN_EVERY
        for folder in self.dirs:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for path in entries:
                if path.suffix.lower() in HDF5_SUFFIXES and path not in self.files:
                    self._add(path)

    def _add(self, path: Path) -> None:
        try:
            self.files[path] = FileMirror(path, self.log)
        except OSError as exc:  # not HDF5, unreadable: say so and go on with the others
            self.log(f"{path.name}: not followed: {exc}")

    def close(self) -> None:
        """Stop following every file (the server keeps what was sent)."""
        for mirror in self.files.values():
            mirror.close()
        self.files.clear()


def _create_container(parent: Any, key: str, metadata: dict[str, Any]) -> tuple[Any, bool]:
    """A new container, or the one a retried request made already (and ``False``)."""
    try:
        return parent.create_container(key, metadata=metadata), True
    except Exception as exc:
        if not conflict(exc):
            raise
    found = parent[key]
    found.update_metadata(metadata=metadata)
    return found, False


def _child(node: Any, key: str) -> Any:
    """The child `key` of a Tiled container, or ``None``."""
    try:
        return node[key]
    except KeyError:
        return None


def add_arguments(parser: Any) -> None:
    """The options of ``swmr-widgets publish``."""
    parser.add_argument(
        "paths", metavar="PATH", nargs="+", help="HDF5 files or directories (new files included)"
    )
    parser.add_argument("--tiled", required=True, metavar="URL", help="the Tiled server")
    parser.add_argument("--api-key", default=None, help="its API key (default: $TILED_API_KEY)")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.02,
        help="seconds between two looks at the files (default: 0.02)",
    )


def run(args: Any) -> int:
    """Publish until SIGTERM or Ctrl-C; exit status 0."""
    import signal

    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)
    # the publisher reconnects by itself: the client's own retries (45 s) would only
    # delay a clean stop and the resending
    os.environ.setdefault("TILED_RETRY_ATTEMPTS", "3")
    os.environ.setdefault("TILED_RETRY_TIMEOUT", "10")
    api_key = args.api_key or os.environ.get("TILED_API_KEY")
    publisher = Publisher(args.paths, args.tiled, api_key=api_key, interval=args.interval)
    print(f"publishing {len(publisher.files)} file(s) to {args.tiled}", file=sys.stderr, flush=True)
    publisher.run(stop)
    print(f"stopped; {publisher.rows_sent} rows sent", file=sys.stderr, flush=True)
    return 0
