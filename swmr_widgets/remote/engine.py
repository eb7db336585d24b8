"""``TiledLive``: the live engine fed by a Tiled server instead of a local file.

It follows one file container written by the publisher
(:mod:`swmr_widgets.remote.publish`) and offers the interface of
:class:`~swmr_widgets.live.LiveFile` (``nodes``, ``paths``, ``meta()``,
``default_selection()``, ``follow()``, ``poll()``, ``health``, ``close()``)
with the same feeds and the same typed updates, so ``SwmrView``, its panels and
any plain-Python loop use it unchanged::

    from swmr_widgets.remote.engine import TiledLive   # or SwmrView("http://...")

    live = TiledLive("http://tiled:8000/api/v1/metadata/scan_0001", api_key="...")
    feed = live.follow("/RawData/CH000/Data0D/Data00/data")
    poll = live.poll()

Each followed array is a :class:`~swmr_widgets.remote.dataset.RemoteArray`:
it takes the rows Tiled streams over its websocket, and polls the server when
the stream is not available.
"""

from __future__ import annotations

import time
from pathlib import PurePosixPath
from typing import Any

from swmr_widgets.live.engine import LiveFile
from swmr_widgets.live.problems import Problems
from swmr_widgets.live.source import Change
from swmr_widgets.metadata import DatasetMeta, broken_meta
from swmr_widgets.remote.dataset import RemoteArray
from swmr_widgets.remote.schema import KEY, key_parts, meta_from_json

__all__ = ["TiledLive", "TiledSource", "open_node"]

#: Seconds between two looks at the file container's metadata (state, tree).
CHECK_EVERY = 1.0


def open_node(source: Any, api_key: str | None = None) -> Any:
    """The Tiled node at `source`: a client node as is, or a URL opened with ``from_uri``.

    A URL names the server and the node, e.g.
    ``http://host:8000/api/v1/metadata/scan_0001`` (or ``http://host:8000/scan_0001``).

    Raises
    ------
    ConnectionError
        If the server cannot be reached (the message names it).
    FileNotFoundError
        If the server has no such node.
    """
    if not isinstance(source, str):
        return source
    from tiled.client import from_uri

    uri, path = _split_url(source)
    try:
        node = from_uri(uri, api_key=api_key)
    except Exception as exc:
        raise ConnectionError(
            f"cannot reach the Tiled server at {uri}: {type(exc).__name__}: {exc}; "
            "check the address, the API key and that `tiled serve` runs"
        ) from exc
    for part in path:
        try:
            node = node[part]
        except KeyError:
            raise FileNotFoundError(
                f"the Tiled server at {uri} has no node {'/'.join(path)!r}; "
                f"is `swmr-widgets publish` running for it?"
            ) from None
    return node


def _split_url(url: str) -> tuple[str, list[str]]:
    """``(server URI, node keys)`` of a Tiled URL."""
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    for prefix in ("api/v1/metadata/", "api/v1/metadata", "api/v1/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return f"{scheme}://{host}", [p for p in path.split("/") if p]


class _Shared:
    """One :class:`RemoteArray` per dataset path, made when first asked for."""

    def __init__(self, source: TiledSource) -> None:
        self.source = source
        self.arrays: dict[str, RemoteArray] = {}

    def dataset(self, path: str) -> RemoteArray:
        found = self.arrays.get(path)
        if found is None:
            found = self.arrays[path] = self.source.make_array(path)
        return found

    def park(self) -> None:
        """Nothing to close between reads (the engine parks local linked datasets)."""

    def close(self) -> None:
        for array in self.arrays.values():
            array.close()
        self.arrays.clear()


class TiledSource:
    """The file container on the server, in the role of the engine's file source.

    Parameters
    ----------
    node : tiled.client.container.Container
        The file's container written by the publisher.
    subscribe : bool
        Whether arrays follow Tiled's websocket stream (else they poll).
    """

    rewrite = "replaced"
    deleted = False
    waiting_for = ""
    owned = True
    #: A published file has no SWMR mode to switch to (the publisher reads it so).
    can_switch_to_swmr = False

    def linked_file_live(self) -> bool:
        """Whether linked files became live (never: the publisher follows them)."""
        return False

    def links_finished(self, now: float | None = None) -> bool:
        """Whether a master's linked data files were closed (not known here: False)."""
        return False

    def switch_to_swmr(self) -> bool:
        """Not applicable to a Tiled source."""
        return False

    def __init__(self, node: Any, *, subscribe: bool = True, poll_every: float = 1.0) -> None:
        self.node = node
        self.subscribe = subscribe
        self.poll_every = poll_every
        self.path = PurePosixPath("/".join(getattr(node, "path_parts", []) or ["tiled"]))
        self.section: dict[str, Any] = {}
        self.error = ""
        self._checked = 0.0
        self._read_section()
        self.shared: _Shared | None = _Shared(self)

    def _read_section(self) -> None:
        section = dict((self.node.metadata or {}).get(KEY, {}))
        if "nodes" not in section:
            raise OSError(
                f"the Tiled node {self.path} was not written by `swmr-widgets publish` "
                "(no file description in its metadata); open the file's container"
            )
        self.section = section

    # ------------------------------------------------------------------ FileSource's role

    @property
    def attached(self) -> bool:
        return self.shared is not None

    @property
    def is_swmr(self) -> bool:
        """Whether the publisher still follows a live writer."""
        return self.section.get("state", "live") == "live"

    root = None

    def check(self, invalid: bool = False) -> Change | None:
        """Look at the container's metadata now and then: finished, or a new file."""
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return None
        self._checked = now
        before = self.section
        try:
            self.node.refresh()
            self._read_section()
            self.error = ""
        except Exception as exc:  # the server is away: keep what is known
            self.error = f"Tiled server unreachable ({type(exc).__name__})"
            return None
        if self.section.get("nodes") != before.get("nodes"):
            if self.shared is not None:
                self.shared.close()
            self.shared = _Shared(self)
            return Change.REOPENED
        return Change.GREW if self.section.get("state") != before.get("state") else None

    def find(self, path: str) -> Any:
        """The client of the array mirroring `path` (KeyError until the publisher made it)."""
        node = self.node
        for part in key_parts(path):
            node = node[part]
        return node

    def make_array(self, path: str) -> RemoteArray:
        try:
            node = self.find(path)
        except KeyError:  # published without rows yet: found later
            meta = self.section.get("metas", {}).get(path, {})
            return RemoteArray(
                path,
                None,
                growing=bool(meta.get("growing")),
                find=lambda: self.find(path),
                dtype=str(meta.get("dtype") or "float64"),
                shape=tuple(meta.get("shape") or (0,)),
                poll_every=self.poll_every,
                subscribe=self.subscribe,
            )
        section = (node.metadata or {}).get(KEY, {})
        meta = section.get("meta", {})
        return RemoteArray(
            path,
            node,
            growing=bool(meta.get("growing")),
            poll_every=self.poll_every,
            subscribe=self.subscribe,
            fillvalue=section.get("fillvalue"),
            attrs=(node.metadata or {}).get("attrs", {}),
        )

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        self.shared = None


class TiledLive(LiveFile):
    """A file mirrored in Tiled by the publisher, followed live.

    Parameters
    ----------
    source : tiled client node or str
        The file's container, or its URL
        (``http://host:port/api/v1/metadata/<stem>``).
    api_key : str, optional
        The server's API key (for a URL).
    subscribe : bool, default True
        Follow Tiled's websocket stream; ``False`` polls (``refresh()``) only.
    poll_every : float, default 1.0
        Seconds between two HTTP checks of an array's shape while its stream
        is quiet (each poll when there is no stream).
    stall_after, tree_interval : float
        As for :class:`~swmr_widgets.live.LiveFile`.

    Raises
    ------
    ConnectionError, FileNotFoundError, OSError
        If the server cannot be reached, has no such node, or the node was not
        written by the publisher.
    """

    def __init__(
        self,
        source: Any,
        *,
        api_key: str | None = None,
        subscribe: bool = True,
        poll_every: float = 1.0,
        stall_after: float = 5.0,
        tree_interval: float = 2.0,
    ) -> None:
        self._tiled = (open_node(source, api_key), subscribe, poll_every)
        super().__init__(source, stall_after=stall_after, tree_interval=tree_interval)

    def _open_source(self, source: Any, *, wait: bool | None, swmr: Any) -> Any:
        node, subscribe, poll_every = self._tiled
        return TiledSource(node, subscribe=subscribe, poll_every=poll_every)

    @property
    def node(self) -> Any:
        """The file's container on the server."""
        return self._source.node

    @property
    def arrays(self) -> dict[str, RemoteArray]:
        """The arrays read so far, by dataset path."""
        shared = self._source.shared
        return dict(shared.arrays) if shared is not None else {}

    def meta(self, path: str) -> DatasetMeta:
        """Description of the dataset at `path`, as published, with its current shape."""
        data = self._source.section.get("metas", {}).get(path)
        if data is None:
            if path not in self._path_set:
                raise KeyError(path)
            return broken_meta(path, "not described by the publisher")
        shape = None
        shared = self._source.shared
        if shared is not None and path in shared.arrays:
            shape = shared.arrays[path].shape
        return meta_from_json(data, shape)

    def _nexus_default(self) -> str | None:
        found = self._source.section.get("default")
        return found if found in self._path_set else None

    def _on_attach(self) -> None:
        self._metas = {}
        self._nodes = list(self._source.section.get("nodes", []))
        self._switch = False
        self._problems = Problems(self._nodes)
        mirrored = set(self._source.section.get("mirrored", ()))
        datasets = [n for n in self._nodes if n.get("kind") == "dataset"]
        self._dataset_paths = tuple(n["path"] for n in datasets if n["path"] in mirrored)
        self._path_set = frozenset(self._dataset_paths)
        self._growing = []
        self._tree_pos, self._tree_next = 0, float("inf")
        self._rate.restart()
        self._last_change = time.monotonic()
        for feed in list(self._feeds):
            self._rebind(feed)

    def _refresh_handles(self, handles: dict[str, Any]) -> None:
        for array in handles.values():
            array.refresh()

    def _refresh_tree(self, now: float, shapes: dict[str, tuple[int, ...]]) -> None:
        self._tree_next = float("inf")  # followed arrays report their shapes

    def _make_health(self, now: float):
        health = super()._make_health(now)
        error = getattr(self._source, "error", "")
        if error and not health.note:
            from dataclasses import replace

            health = replace(health, note=error)
        return health

    def __repr__(self) -> str:
        return f"<TiledLive {self.path!r} {self._health.state.value}>"
