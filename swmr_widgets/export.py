"""Write what a view shows to CSV, NumPy or NeXus HDF5 files, chosen by the file's suffix.

The data written are :class:`~swmr_widgets.live.snapshot.Curve` objects: the
values as stored at full resolution, with their axes, labels and units.

==============  ==============================================================
suffix          what is written
==============  ==============================================================
``.csv``        1-D curves: one column per axis and per curve (``name (units)``
                headers; curves of different lengths are padded with empty
                cells). A 2-D curve: a grid, x coordinates in the first row,
                y coordinates in the first column. ``#`` lines above the
                header say what each curve is.
``.npy``        the values of one curve, in their dtype (no axes).
``.npz``        each curve's values under its name, each axis under
                ``<curve>__<axis>``, and a ``metadata`` JSON text with labels,
                units and axis names.
``.h5``         NeXus: an ``NXentry`` with one ``NXdata`` per curve (``@signal``,
``.hdf5``       ``@axes``, ``@<axis>_indices``; ``@long_name`` and ``@units`` on
``.nxs``        each dataset), the first one as ``@default``.
==============  ==============================================================

The file followed is never written: an export to its own path is refused.
Framework-free (numpy and h5py only).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from swmr_widgets.live.snapshot import Curve, snapshots

__all__ = ["FORMATS", "ExportError", "export_panels", "panel_curves", "write_curves"]

#: Suffixes understood, and the format each one means.
FORMATS = {
    ".csv": "csv",
    ".npy": "npy",
    ".npz": "npz",
    ".h5": "nexus",
    ".hdf5": "nexus",
    ".nxs": "nexus",
}


class ExportError(OSError):
    """An export that cannot be written as asked (the message says what to do)."""


def write_curves(
    curves: Sequence[Curve], path: str | os.PathLike[str], *, protect: Sequence[str] = ()
) -> list[Path]:
    """Write `curves` to `path`, in the format its suffix names.

    Parameters
    ----------
    curves : sequence of Curve
        What to write.
    path : str or os.PathLike
        Where; the suffix picks the format (see :data:`FORMATS`). ``.csv`` and
        ``.npy`` hold one table: several curves that do not fit one go to
        ``<stem>_1<suffix>``, ``<stem>_2<suffix>``, ...
    protect : sequence of str
        Files that must not be written (the file being followed).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ExportError
        For an unknown suffix, nothing to write, or a protected path.
    """
    path = Path(path).expanduser()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ExportError(
            f"cannot export to {path.name}: use one of the suffixes {', '.join(FORMATS)}"
        )
    if not curves:
        raise ExportError("nothing to export: no panel shows data yet")
    for protected in protect:
        if _same_file(path, Path(protected)):
            raise ExportError(
                f"refusing to export to {path}: it is the file being followed; pick another name"
            )
    if fmt in ("csv", "npy") and not _one_table(curves, fmt):
        targets = [
            path.with_name(f"{path.stem}_{k}{path.suffix}") for k in range(1, len(curves) + 1)
        ]
        for curve, target in zip(curves, targets, strict=True):
            _WRITERS[fmt]([curve], target)
        return targets
    _WRITERS[fmt](list(curves), path)
    return [path]


def panel_curves(panel: Any) -> list[Curve]:
    """What a view's panel shows: the snapshots of its feeds within its zoom.

    The zoom is the x (and, for images, y) range a pan/zoom set on the
    panel's first figure; a series drawn as seconds since ``t0`` is cropped
    in epoch seconds.
    """
    plot = panel._plots[0] if panel._plots else None
    ranges = []
    for name in ("x_scale", "y_scale"):
        scale = getattr(plot, name, None)
        lo, hi = getattr(scale, "min", None), getattr(scale, "max", None)
        ranges.append((float(lo), float(hi)) if lo is not None and hi is not None else None)
    x_range, y_range = ranges
    if hasattr(plot, "lines"):  # a line figure: the values are not cropped by a y zoom
        y_range = None
        elapsed = getattr(panel, "_elapsed", None)  # a series panel's per-line offsets
        offset = elapsed[0].t0 if isinstance(elapsed, list) and elapsed else None
        if x_range is not None and offset:
            x_range = (x_range[0] + offset, x_range[1] + offset)
    return snapshots(panel.feeds, x_range, y_range)


def export_panels(panels: Sequence[Any], path: str | os.PathLike[str]) -> list[Path]:
    """Write what `panels` show to `path` (see :func:`write_curves`), never to their files."""
    sources = []
    for feed in (f for panel in panels for f in panel.feeds):
        try:
            sources.append(feed.dataset.file.filename)
        except Exception:  # a closed file: nothing to protect
            continue
    curves = [c for panel in panels for c in panel_curves(panel)]
    return write_curves(curves, path, protect=sources)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.absolute() == b.absolute()


def _one_table(curves: Sequence[Curve], fmt: str) -> bool:
    if fmt == "npy":
        return len(curves) == 1
    return len(curves) == 1 or all(c.values.ndim <= 1 for c in curves)


# --------------------------------------------------------------------------- CSV


def _title(name: str, units: str) -> str:
    return f"{name} ({units})" if units else name


def _write_csv(curves: list[Curve], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        for c in curves:
            axes = ", ".join(_title(a.label or a.name, a.units) for a in c.axes)
            fh.write(f"# {c.name}: {_title(c.label, c.units)} from {c.source} against {axes}\n")
        if len(curves) == 1 and curves[0].values.ndim == 2:
            c = curves[0]
            y, x = c.axes
            out.writerow(
                [f"{_title(y.name, y.units)} \\ {_title(x.name, x.units)}", *_cells(x.values)]
            )
            for yv, row in zip(_cells(y.values), c.values, strict=True):
                out.writerow([yv, *_cells(row)])
            return
        header, columns = [], []
        for c in curves:
            values = np.atleast_1d(c.values)
            for a in c.axes:
                header.append(_title(a.name, a.units) if len(curves) == 1 else f"{c.name}.{a.name}")
                columns.append(_cells(a.values))
            header.append(_title(c.name, c.units))
            columns.append(_cells(values))
        out.writerow(header)
        for k in range(max(len(col) for col in columns)):
            out.writerow([col[k] if k < len(col) else "" for col in columns])


def _cells(values: np.ndarray) -> list[str]:
    """Text that reads back as the same number (``repr`` of Python scalars)."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return [repr(float(v)) for v in values.tolist()]
    return [str(v) for v in values.tolist()]


# --------------------------------------------------------------------------- NumPy


def _write_npy(curves: list[Curve], path: Path) -> None:
    np.save(path, curves[0].values, allow_pickle=False)


def _write_npz(curves: list[Curve], path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for c in curves:
        key = _unique(c.name, arrays)
        arrays[key] = c.values
        axes = []
        for a in c.axes:
            akey = _unique(f"{key}__{a.name}", arrays)
            arrays[akey] = a.values
            axes.append({"key": akey, "label": a.label, "units": a.units})
        meta.append(
            {"key": key, "label": c.label, "units": c.units, "source": c.source, "axes": axes}
        )
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, allow_pickle=False, **arrays)


def _unique(name: str, taken: dict | h5py.Group) -> str:
    key, n = name, 1
    while key in taken or key == "metadata":
        n += 1
        key = f"{name}_{n}"
    return key


# --------------------------------------------------------------------------- NeXus


def _write_nexus(curves: list[Curve], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["creator"] = "swmr_widgets export"
        entry = f.create_group("entry", track_order=True)  # panels in the order shown
        entry.attrs["NX_class"] = "NXentry"
        f.attrs["default"] = "entry"
        for c in curves:
            group = entry.create_group(_unique(c.name, entry))
            group.attrs["NX_class"] = "NXdata"
            group.attrs["signal"] = "data"
            data = group.create_dataset("data", data=c.values)
            data.attrs["long_name"] = c.label or c.name
            if c.units:
                data.attrs["units"] = c.units
            if c.source:
                data.attrs["source"] = c.source
            names = []
            for dim, a in enumerate(c.axes):
                name = _unique(a.name, group)
                ds = group.create_dataset(name, data=a.values)
                ds.attrs["long_name"] = a.label or a.name
                if a.units:
                    ds.attrs["units"] = a.units
                group.attrs[f"{name}_indices"] = dim
                names.append(name)
            if names:
                group.attrs["axes"] = names
            if "default" not in entry.attrs:
                entry.attrs["default"] = group.name.rsplit("/", 1)[-1]
    os.replace(tmp, path)


_WRITERS = {"csv": _write_csv, "npy": _write_npy, "npz": _write_npz, "nexus": _write_nexus}
