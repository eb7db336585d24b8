"""Labels, units, axes and plot kind of HDF5 datasets, read from their attributes.

Three attribute conventions are understood, in this order of precedence:

* **PyMoDAQ**: attributes are JSON strings such as
  ``{"module": "builtins", "type": "str", "data": "'nm'"}`` whose ``data`` is the
  Python ``repr`` of the value. They are decoded with :func:`ast.literal_eval`
  (plus a few whitelisted numpy forms such as ``np.float64(1.5)``), never with
  ``eval``. ``data_dimension`` and ``nav_indexes`` split the dimensions into
  navigation (scan steps, time) and signal dimensions; axes are the sibling
  ``AxisNN`` datasets and the ``NavAxes`` group of the scan.
* **NeXus**: the parent group's ``@signal`` names the dataset and its ``@axes``
  (or ``@<name>_indices``) name the sibling axis datasets, each with
  ``@long_name`` and ``@units``.
* **Plain**: ``@units`` / ``@unit`` and ``@long_name`` / ``@label`` / ``@name``.

Nothing here raises on odd files: garbage attributes give default labels, and a
dataset that cannot be plotted says why in :attr:`DatasetMeta.reason`.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

__all__ = [
    "Axis",
    "DatasetMeta",
    "decode_attr",
    "describe_dataset",
    "read_attrs",
    "tree_nodes",
]

#: Longest string that is parsed as JSON / Python literal (longer ones are returned as is).
MAX_PARSED_CHARS = 100_000
#: Largest axis dataset whose values are read into :attr:`Axis.values`.
MAX_AXIS_VALUES = 1_000_000
#: Longest label or unit string kept (garbage attributes can be huge).
_MAX_LABEL_CHARS = 200
#: How many ancestor groups are searched for a PyMoDAQ ``NavAxes`` group.
_NAV_SEARCH_DEPTH = 6

_AXIS_NAME = re.compile(r"^Axis\d+$")
_CH_GROUP = re.compile(r"^CH\d+$")
_NP_SCALAR = re.compile(
    r"^(?:np|numpy)\.(float16|float32|float64|longdouble|int8|int16|int32|int64|"
    r"uint8|uint16|uint32|uint64|bool_|bool|str_|bytes_|complex64|complex128)\((.*)\)$",
    re.DOTALL,
)
_NP_ARRAY = re.compile(
    r"^(?:array|np\.array|numpy\.array)\((.*?)(?:,\s*dtype=([\w.]+))?\)$", re.DOTALL
)
_NUMBER_LIST = re.compile(r"^[\s\[\]\(\),0-9eE.+\-naifNAIF]*$")
_DATETIME = re.compile(r"^datetime\.(datetime|date|time)\(([\d,\s]*)\)$")
_PYMODAQ_STR = re.compile(r'^\{"module": "builtins", "type": "str", "data": "(.*)"\}$', re.DOTALL)
_NEEDS_PARSE = re.compile(r"[\\'\"\x00-\x1f]")
#: Cache of decoded JSON attribute strings (immutable results only).
_DECODED: dict[str, Any] = {}
_MISSING: Any = object()
_DECODED_MAX = 4096
_NAN_INF = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "+inf": math.inf}
_ALLOWED_DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}


# --------------------------------------------------------------------------- attribute decoding


def _clean_str(s: str) -> str:
    """Replace lone surrogates (undecodable bytes kept by h5py) with U+FFFD."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return s


def _literal(text: str) -> Any:
    """Evaluate a Python literal safely; raise ``ValueError`` if it is not one."""
    text = text.strip()
    if text in _NAN_INF:
        return _NAN_INF[text]
    if text in ("np.True_", "numpy.True_"):
        return True
    if text in ("np.False_", "numpy.False_"):
        return False
    m = _NP_SCALAR.match(text)
    if m:  # numpy >= 2 repr of a scalar: np.float64(1.5); the argument must be a literal
        kind, inner = m.groups()
        value = _literal(inner)
        if kind in ("str_", "bytes_"):
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if kind in ("bool_", "bool"):
            return bool(value)
        if not isinstance(value, int | float | complex) or isinstance(value, bool):
            raise ValueError("not a number")
        return np.dtype(kind).type(value).item()
    m = _NP_ARRAY.match(text)
    if m:
        return _literal_array(*m.groups())
    m = _DATETIME.match(text)
    if m:
        kind, args = m.groups()
        ints = [int(a) for a in args.split(",") if a.strip()]
        return getattr(_dt, kind)(*ints)
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _literal_array(body: str, dtype: str | None) -> np.ndarray:
    """Rebuild a numpy array from the text of its ``repr`` (numbers only)."""
    if "..." in body:  # numpy abbreviates long arrays: the values are lost
        raise ValueError("abbreviated array repr")
    try:
        values = ast.literal_eval(body)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if not _NUMBER_LIST.match(body):
            raise ValueError("not a numeric array") from None
        # nan / inf are names, not literals: JSON knows them as NaN / Infinity
        text = re.sub(r"\bnan\b", "NaN", body)
        text = re.sub(r"\binf\b", "Infinity", text)
        text = re.sub(r"(\d)\.(?!\d)", r"\1.0", text)  # numpy writes "1." where JSON wants "1.0"
        try:
            values = json.loads(text.replace("(", "[").replace(")", "]"))
        except ValueError:
            raise ValueError("not a numeric array") from None
    dt = dtype.split(".")[-1] if dtype else None
    if dt is not None and dt not in _ALLOWED_DTYPES:
        dt = None
    arr = np.asarray(values, dtype=dt)
    if arr.dtype.kind not in "biufc":
        raise ValueError("not a numeric array")
    return arr


def _decode_pymodaq(payload: Mapping[str, Any], raw: str) -> Any:
    """Decode the ``data`` of a PyMoDAQ JSON attribute, or return it as text."""
    data = payload.get("data")
    if not isinstance(data, str):
        return data if isinstance(data, int | float | bool | type(None)) else raw
    try:
        value = _literal(data)
    except Exception:  # not a literal (or an exploit): keep the text, never run it
        return data
    if isinstance(value, bytes):
        return _clean_str(value.decode("utf-8", "replace"))
    return value


def _decode_str(s: str) -> Any:
    if len(s) > MAX_PARSED_CHARS or not s.startswith("{") or '"data"' not in s:
        return _clean_str(s)
    cached = _DECODED.get(s, _MISSING)
    if cached is not _MISSING:
        return cached
    m = _PYMODAQ_STR.match(s)
    inner = m.group(1) if m else ""
    if len(inner) >= 2 and inner[0] == inner[-1] == "'" and not _NEEDS_PARSE.search(inner[1:-1]):
        value: Any = inner[1:-1]  # fast path: a plain quoted string, nothing to unescape
    else:
        try:
            payload = json.loads(s)
        except (ValueError, RecursionError):
            return _clean_str(s)
        if not (isinstance(payload, dict) and "type" in payload and "data" in payload):
            return _clean_str(s)
        value = _decode_pymodaq(payload, s)
    if isinstance(value, str):
        value = _clean_str(value)
    if isinstance(value, str | int | float | bool | type(None)):
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[s] = value
    return value


def decode_attr(value: Any) -> Any:
    """Decode one raw h5py attribute value into a plain Python value.

    Parameters
    ----------
    value : Any
        A value as returned by ``obj.attrs[name]``.

    Returns
    -------
    Any
        ``bytes`` become ``str`` (UTF-8, undecodable bytes replaced); numpy
        scalars become Python scalars; string arrays become lists of ``str``;
        numeric arrays stay arrays; PyMoDAQ JSON strings are decoded with
        :func:`ast.literal_eval` (and whitelisted numpy reprs). Anything that is
        not a literal, malformed, or longer than :data:`MAX_PARSED_CHARS` is
        returned as a string, unevaluated. Never raises.
    """
    try:
        if isinstance(value, str):
            return _decode_str(value)
        if isinstance(value, bytes | np.bytes_):
            return _decode_str(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, h5py.Empty):
            return None
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "SU" or _is_str_array(value):
                items = [decode_attr(v) for v in value.ravel()[:10_000]]
                return items[0] if value.ndim == 0 and items else items
            if value.ndim == 0:
                return decode_attr(value[()])
            return value
        if isinstance(value, np.generic):
            item = value.item()
            return decode_attr(item) if isinstance(item, bytes | str) else item
        return value
    except Exception:
        try:
            return str(value)
        except Exception:
            return None


def _is_str_array(value: np.ndarray) -> bool:
    return value.dtype.kind == "O" and all(isinstance(v, str | bytes) for v in value.ravel()[:100])


class _IdHolder:
    """Stands in for a high-level object so that h5py's AttributeManager can be used."""

    __slots__ = ("id",)

    def __init__(self, oid: Any) -> None:
        self.id = oid


_VLEN_UTF8 = h5py.h5t.py_create(h5py.string_dtype("utf-8"))


def _read_raw(oid: Any, name: bytes) -> Any:
    """Read one attribute through the low-level API (fast path for scalar strings)."""
    aid = h5py.h5a.open(oid, name)
    if aid.shape == ():
        arr = np.empty((), dtype=object)
        try:  # most label/unit attributes are scalar variable-length strings
            aid.read(arr, mtype=_VLEN_UTF8)
            return arr[()]
        except Exception:  # another type: let h5py work it out
            pass
    return h5py.AttributeManager(_IdHolder(oid))[name]


class _LazyAttrs:
    """Attributes of a low-level object, read and decoded on first lookup."""

    __slots__ = ("_count", "_oid", "_values")

    def __init__(self, oid: Any) -> None:
        self._oid = oid
        self._count: int | None = None
        self._values: dict[str, Any] = {}

    def __contains__(self, key: str) -> bool:
        if self._count is None:
            try:
                self._count = h5py.h5a.get_num_attrs(self._oid)
            except Exception:
                self._count = 0
        if not self._count:
            return False
        try:
            return bool(h5py.h5a.exists(self._oid, key.encode()))
        except Exception:
            return False

    def names(self) -> list[str]:
        """Names of all attributes."""
        found: list[bytes] = []
        with contextlib.suppress(Exception):
            h5py.h5a.iterate(self._oid, lambda name, *_: found.append(name))
        return [n.decode("utf-8", "replace") for n in found]

    def get(self, key: str, default: Any = None) -> Any:
        value = self._values.get(key, _MISSING)
        if value is _MISSING and key not in self._values:
            try:
                if key in self:
                    value = decode_attr(_read_raw(self._oid, key.encode()))
            except Exception:  # unreadable attribute: treated as absent
                value = _MISSING
            self._values[key] = value
        return default if value is _MISSING else value


def _read_some(attrs: h5py.AttributeManager, names: Iterable[str]) -> dict[str, Any]:
    """Decoded values of the attributes in `names` that exist and can be read."""
    out: dict[str, Any] = {}
    for name in names:
        try:
            if name in attrs:
                out[name] = decode_attr(attrs[name])
        except Exception:  # unreadable attribute (unsupported type, ...): skip it
            continue
    return out


def read_attrs(obj: h5py.HLObject) -> dict[str, Any]:
    """All attributes of `obj`, decoded with :func:`decode_attr`.

    Parameters
    ----------
    obj : h5py.HLObject
        A group, dataset or file.

    Returns
    -------
    dict
        Attribute name to decoded value. Attributes h5py cannot read are skipped.
    """
    try:
        names = list(obj.attrs)
    except Exception:
        return {}
    return _read_some(obj.attrs, names)


# --------------------------------------------------------------------------- metadata classes


@dataclass(frozen=True)
class Axis:
    """One axis of a dataset: what it is called, its units and its coordinates.

    Attributes
    ----------
    label, units : str
        Name and units of the axis ("" if unknown).
    values : numpy.ndarray or None
        Explicit coordinates read from an axis dataset (read-only), if known.
    offset, scaling : float
        Linear coordinates ``offset + scaling * index`` used without `values`.
    path : str
        Absolute path of the axis dataset it was read from ("" if none). Its
        `values` are not read when that dataset grows; follow it instead.
    """

    label: str = ""
    units: str = ""
    values: np.ndarray | None = field(default=None, compare=False, repr=False)
    offset: float = 0.0
    scaling: float = 1.0
    path: str = ""

    @property
    def title(self) -> str:
        """``"label (units)"``, or whichever of the two is known, or ``""``."""
        if self.label and self.units:
            return f"{self.label} ({self.units})"
        return self.label or self.units

    def coordinates(self, n: int) -> np.ndarray:
        """Float64 coordinates of the first `n` positions along the axis.

        Parameters
        ----------
        n : int
            Number of positions.

        Returns
        -------
        numpy.ndarray
            ``values[:n]`` when `values` has at least `n` entries, else
            ``offset + scaling * arange(n)``.
        """
        n = max(int(n), 0)
        if self.values is not None and len(self.values) >= n:
            return np.asarray(self.values[:n], dtype=np.float64)
        return self.offset + self.scaling * np.arange(n, dtype=np.float64)


@dataclass(frozen=True)
class DatasetMeta:
    """What a viewer needs to know to plot a dataset.

    Attributes
    ----------
    path, name : str
        Absolute path and last path component.
    shape : tuple of int
        Shape when described (``()`` for scalars and null dataspaces).
    dtype : str
        Human-readable element type: ``"float64"``, ``"str"``, ``"compound"``, ...
    label, units : str
        What the values are and their units.
    plottable : bool
        Whether the values can be plotted; `reason` says why not.
    reason : str
        Why the dataset is not plottable ("" if it is).
    growing : bool
        Rows are appended along axis 0 (``maxshape[0] is None``).
    prefilled : bool
        A pre-allocated PyMoDAQ scan array filled in place (not growing).
    nav_ndim : int
        Leading dimensions indexing acquisition points (time / scan steps).
    signal_ndim : int
        Dimensions of one acquisition point: 0 (a number), 1 (a trace), 2 (an
        image) or more. PyMoDAQ stores 0-D points of growing arrays as ``(N, 1)``;
        then ``nav_ndim + signal_ndim < len(shape)`` and the extra dimensions have
        length 1.
    axes : tuple of Axis
        One per signal dimension, in order (``(y, x)`` for images).
    nav_axes : tuple of Axis
        One per navigation dimension.
    """

    path: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    label: str
    units: str
    plottable: bool
    reason: str
    growing: bool
    prefilled: bool
    nav_ndim: int
    signal_ndim: int
    axes: tuple[Axis, ...]
    nav_axes: tuple[Axis, ...]

    @property
    def kind(self) -> str:
        """``"0d"``, ``"1d"``, ``"2d"``, ``"nd"``, or ``"none"`` if not plottable."""
        if not self.plottable:
            return "none"
        return {0: "0d", 1: "1d", 2: "2d"}.get(self.signal_ndim, "nd")

    @property
    def value_title(self) -> str:
        """``"label (units)"`` of the values."""
        return Axis(self.label, self.units).title


# --------------------------------------------------------------------------- helpers


def _text(value: Any) -> str:
    """A short label/unit string from a decoded attribute, or ""."""
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    return value[:_MAX_LABEL_CHARS]


def _number(value: Any, default: float) -> float:
    """A finite float from a decoded attribute, or `default`."""
    try:
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            return default
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return out if math.isfinite(out) else default


def _index(value: Any) -> int | None:
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _dim_count(value: Any) -> int | None:
    """Signal dimensions from a PyMoDAQ ``data_dimension`` ("Data1D", "1D", "ND", ...)."""
    text = _text(value).upper()
    m = re.fullmatch(r"(?:DATA)?([0-9])D", text)
    return int(m.group(1)) if m else None


def _nav_indexes(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, list | tuple):
        return None
    out = []
    for v in value:
        i = _index(v)
        if i is None or i < 0:
            return None
        out.append(i)
    return tuple(out)


def _names(value: Any) -> list[str]:
    """NeXus ``@axes``: a list of names, or one string separated by ``:`` or ``,``."""
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if isinstance(value, str):
        value = re.split(r"[:,]", value) if (":" in value or "," in value) else [value]
    if not isinstance(value, list | tuple):
        return []
    out = []
    for v in value:
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out.append(v.strip() if isinstance(v, str) else ".")
    return out


def _classify(dtype: np.dtype) -> tuple[str, bool, str]:
    """Human-readable dtype, whether it is plottable, and why not (cached)."""
    key = (dtype, str(dtype.metadata))
    found = _CLASSIFIED.get(key)
    if found is None:
        found = _CLASSIFIED[key] = _classify_uncached(dtype)
        if len(_CLASSIFIED) > 1024:
            _CLASSIFIED.clear()
    return found


_CLASSIFIED: dict[tuple[np.dtype, str], tuple[str, bool, str]] = {}


def _classify_uncached(dtype: np.dtype) -> tuple[str, bool, str]:
    if h5py.check_string_dtype(dtype) is not None:
        info = h5py.check_string_dtype(dtype)
        if info.length is None:
            return "str", False, "variable-length strings cannot be plotted"
        return "str", False, "strings cannot be plotted"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference", False, "object references cannot be plotted"
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is not None:
        return f"vlen {vlen}", False, "variable-length arrays cannot be plotted"
    enum = h5py.check_enum_dtype(dtype)
    if enum is not None:
        return f"enum ({dtype.name})", True, ""
    if dtype.subdtype is not None:
        return f"array {dtype}", False, "array-typed elements cannot be plotted"
    kind = dtype.kind
    if kind in "biuf":
        return dtype.name, True, ""
    if kind == "c":
        return dtype.name, False, "complex values: shown in the details pane only"
    if kind == "V":
        if dtype.names:
            return "compound", False, "compound (table) values cannot be plotted"
        return "opaque", False, "opaque values cannot be plotted"
    if kind in "Mm":
        return dtype.name, False, "date/time values cannot be plotted"
    if kind in "SU":
        return "str", False, "strings cannot be plotted"
    return str(dtype), False, f"{dtype} values cannot be plotted"


def _pick_label(
    attrs: Mapping[str, Any], parent: Mapping[str, Any], name: str, pymodaq: Any
) -> str:
    """Label from the dataset's attributes, the PyMoDAQ channel group, or the name.

    `pymodaq` is a bool, or a callable returning one (evaluated only if needed).
    """
    for key in ("long_name", "label", "name"):
        text = _text(attrs.get(key))
        if text:
            return text
    if pymodaq() if callable(pymodaq) else pymodaq:
        text = _text(parent.get("label")) or _text(parent.get("TITLE"))
        if text:
            return text
    return _text(attrs.get("TITLE")) or name


def _pick_units(attrs: Mapping[str, Any], parent: Mapping[str, Any], pymodaq: Any) -> str:
    text = _text(attrs.get("units")) or _text(attrs.get("unit"))
    if not text and (pymodaq() if callable(pymodaq) else pymodaq):
        text = _text(parent.get("units")) or _text(parent.get("unit"))
    return text


def _is_pymodaq(attrs: Mapping[str, Any], parent_name: str) -> bool:
    return "data_dimension" in attrs or "nav_indexes" in attrs or bool(_CH_GROUP.match(parent_name))


def _split(
    shape: tuple[int, ...], growing: bool, attrs: Mapping[str, Any]
) -> tuple[int, int, bool]:
    """``(nav_ndim, signal_ndim, pymodaq)`` from the shape and attributes."""
    ndim = len(shape)
    dims = _dim_count(attrs.get("data_dimension"))
    nav_idx = _nav_indexes(attrs.get("nav_indexes"))
    if nav_idx is not None and (dims is not None or "data_dimension" in attrs):
        nav = min(len(nav_idx), ndim)
        signal = ndim - nav
        if dims is not None and signal > dims and all(s == 1 for s in shape[nav : ndim - dims]):
            signal = dims  # PyMoDAQ stores 0-D points of growing arrays as (N, 1)
        return nav, signal, True
    if dims is not None:
        signal = min(dims, ndim)
        nav = ndim - signal
        if growing and nav > 1 and all(s == 1 for s in shape[1:nav]):
            nav = 1  # growing 0-D points stored as (N, 1), without nav_indexes
        return nav, signal, True
    if growing and ndim >= 1:
        return 1, ndim - 1, False
    return 0, ndim, False


def _default_axes(nav: int, signal: int, growing: bool, prefilled: bool) -> tuple[list, list]:
    nav_label = "scan step" if prefilled and not growing else "index"
    nav_axes = [Axis(label=nav_label if nav == 1 else f"{nav_label} {k}") for k in range(nav)]
    if signal == 1:
        axes = [Axis(label="index")]
    elif signal == 2:
        axes = [Axis(label="row"), Axis(label="column")]
    else:
        axes = [Axis(label=f"dim {nav + k}") for k in range(signal)]
    return nav_axes, axes


def _axis_from(ds: h5py.Dataset, pymodaq: bool) -> tuple[Axis, int | None]:
    """An :class:`Axis` read from an axis dataset, and its ``@index`` if any."""
    attrs = _LazyAttrs(ds.id)
    label = _text(attrs.get("long_name")) or _text(attrs.get("label"))
    if not label and pymodaq:
        label = _text(attrs.get("TITLE"))
    label = label or ds.name.rsplit("/", 1)[-1]
    units = _text(attrs.get("units")) or _text(attrs.get("unit"))
    values = None
    try:
        growing = bool(ds.maxshape) and ds.maxshape[0] is None
        if (
            not growing
            and ds.ndim == 1
            and 0 < ds.size <= MAX_AXIS_VALUES
            and ds.dtype.kind in "biuf"
        ):
            values = np.asarray(ds[()], dtype=np.float64)
            values.setflags(write=False)
    except Exception:
        values = None
    axis = Axis(
        label=label,
        units=units,
        values=values,
        offset=_number(attrs.get("offset"), 0.0),
        scaling=_number(attrs.get("scaling"), 1.0) or 1.0,
        path=ds.name or "",
    )
    return axis, _index(attrs.get("index"))


def _child_datasets(group: h5py.Group, pattern: re.Pattern[str]) -> list[h5py.Dataset]:
    out = []
    for key in sorted(group):
        if not pattern.match(key):
            continue
        try:
            obj = group.get(key)
        except Exception:
            continue
        if isinstance(obj, h5py.Dataset):
            out.append(obj)
    return out


def _place(slots: list[Axis | None], axis: Axis, candidates: Iterable[int | None]) -> None:
    """Put `axis` in the first free slot among `candidates`, else the first free slot."""
    for c in candidates:
        if c is not None and 0 <= c < len(slots) and slots[c] is None:
            slots[c] = axis
            return
    for k, s in enumerate(slots):
        if s is None:
            slots[k] = axis
            return


def _pymodaq_axes(
    ds: h5py.Dataset, parent: h5py.Group, nav: int, signal: int
) -> tuple[list[Axis | None], list[Axis | None]]:
    """Signal axes from sibling ``AxisNN`` datasets, navigation axes from ``NavAxes``."""
    sig: list[Axis | None] = [None] * signal
    nav_slots: list[Axis | None] = [None] * nav
    if signal:
        for axis_ds in _child_datasets(parent, _AXIS_NAME):
            if axis_ds.name == ds.name:
                continue
            axis, idx = _axis_from(axis_ds, True)
            # PyMoDAQ counts @index over the full array (nav dims first)
            _place(sig, axis, (None if idx is None else idx - nav, idx))
    if nav:
        group = parent
        for _ in range(_NAV_SEARCH_DEPTH):
            try:
                found = group.get("NavAxes")
            except Exception:
                found = None
            if isinstance(found, h5py.Group):
                for axis_ds in _child_datasets(found, _AXIS_NAME):
                    axis, idx = _axis_from(axis_ds, True)
                    _place(nav_slots, axis, (idx,))
                break
            if group.name in ("/", None):
                break
            group = group.parent
    return nav_slots, sig


def _nexus_axes(
    ds: h5py.Dataset, parent: h5py.Group, parent_attrs: _LazyAttrs, ndim: int
) -> list[Axis | None] | None:
    """Axes of all dimensions from NeXus ``@signal``/``@axes``, or None if not NeXus."""
    name = ds.name.rsplit("/", 1)[-1]
    signal = _text(parent_attrs.get("signal"))
    names: list[str] = []
    if signal == name:
        names = _names(parent_attrs.get("axes"))
    slots: list[Axis | None] = [None] * ndim
    if len(names) == ndim:
        for k, axis_name in enumerate(names):
            slots[k] = _nexus_axis(parent, axis_name)
    if signal == name:
        for key in parent_attrs.names():
            if not key.endswith("_indices"):
                continue
            idx = _index(parent_attrs.get(key))
            if idx is not None and 0 <= idx < ndim and slots[idx] is None:
                slots[idx] = _nexus_axis(parent, key[: -len("_indices")])
    if all(s is None for s in slots):
        return None
    return slots


def _nexus_axis(parent: h5py.Group, axis_name: str) -> Axis | None:
    if not axis_name or axis_name == "." or "/" in axis_name:
        return None
    try:
        obj = parent.get(axis_name)
    except Exception:
        return None
    if not isinstance(obj, h5py.Dataset):
        return None
    return _axis_from(obj, False)[0]


# --------------------------------------------------------------------------- describe


def _bad_meta(path: str, reason: str) -> DatasetMeta:
    name = path.rsplit("/", 1)[-1]
    return DatasetMeta(
        path, name, (), "unknown", name, "", False, reason, False, False, 0, 0, (), ()
    )


def describe_dataset(ds: h5py.Dataset) -> DatasetMeta:
    """Describe `ds`: label, units, plot kind, axes and how it is being written.

    Parameters
    ----------
    ds : h5py.Dataset
        An open dataset.

    Returns
    -------
    DatasetMeta
        Never raises: a dataset that cannot be read gets ``plottable=False``
        and the reason.
    """
    try:
        path = ds.name or ""
    except Exception:
        path = ""
    try:
        return _describe(ds, path)
    except Exception as exc:  # odd files must never break a viewer
        return _bad_meta(path, f"could not describe the dataset: {type(exc).__name__}: {exc}")


def _describe(ds: h5py.Dataset, path: str) -> DatasetMeta:
    name = path.rsplit("/", 1)[-1]
    raw_shape = ds.shape
    shape = tuple(int(s) for s in raw_shape) if raw_shape is not None else ()
    dtype_str, plottable, reason = _classify(ds.dtype)
    if raw_shape is None:
        plottable, reason = False, "null dataspace: the dataset holds no values"
    maxshape = ds.maxshape or ()
    growing = bool(maxshape) and maxshape[0] is None
    attrs = _LazyAttrs(ds.id)
    try:
        parent = ds.parent
        parent_attrs: Any = _LazyAttrs(parent.id)
        parent_name = (parent.name or "").rsplit("/", 1)[-1]
    except Exception:
        parent, parent_attrs, parent_name = None, {}, ""

    nav, signal, pymodaq = _split(shape, growing, attrs)
    pymodaq = pymodaq or _is_pymodaq(attrs, parent_name)
    prefilled = bool(_dim_count(attrs.get("data_dimension")) is not None or "nav_indexes" in attrs)
    prefilled = prefilled and not growing and nav >= 1
    nav_axes, axes = _default_axes(nav, signal, growing, prefilled)

    if parent is not None:
        try:
            nexus = _nexus_axes(ds, parent, parent_attrs, len(shape))
        except Exception:
            nexus = None
        if nexus is not None:
            for k in range(nav):
                nav_axes[k] = nexus[k] or nav_axes[k]
            for k in range(signal):
                if nav + k < len(nexus):
                    axes[k] = nexus[nav + k] or axes[k]
        elif pymodaq and not _AXIS_NAME.match(name) and attrs.get("data_type") != "axis":
            try:
                nav_found, sig_found = _pymodaq_axes(ds, parent, nav, signal)
            except Exception:
                nav_found, sig_found = [None] * nav, [None] * signal
            nav_axes = [a or d for a, d in zip(nav_found, nav_axes, strict=True)]
            axes = [a or d for a, d in zip(sig_found, axes, strict=True)]

    return DatasetMeta(
        path=path,
        name=name,
        shape=shape,
        dtype=dtype_str,
        label=_pick_label(attrs, parent_attrs, name, pymodaq),
        units=_pick_units(attrs, parent_attrs, pymodaq),
        plottable=plottable,
        reason=reason,
        growing=growing,
        prefilled=prefilled,
        nav_ndim=nav,
        signal_ndim=signal,
        axes=tuple(axes),
        nav_axes=tuple(nav_axes),
    )


# --------------------------------------------------------------------------- tree


def tree_nodes(group: h5py.Group) -> list[dict]:
    """A flat, JSON-serialisable list of the groups, datasets and links under `group`.

    Parameters
    ----------
    group : h5py.Group
        Where to start (a file or a group); it is the first node.

    Returns
    -------
    list of dict
        Depth-first, children in name order. Every node has ``path``, ``name``,
        ``parent`` and ``kind`` (``"group"``, ``"dataset"`` or ``"link"``).
        Datasets add ``shape``, ``dtype``, ``plottable``, ``reason``, ``label``,
        ``units`` and ``growing``; links (soft, external, or a second hard link to
        a group already listed) add the target in ``reason``. Links are not
        followed. Axis data is not read, so this costs a few tens of µs per node.
    """
    nodes: list[dict] = []
    try:
        root = group.name or "/"
        gid = group.id
    except Exception:
        return nodes
    parent = (root.rsplit("/", 1)[0] or "/") if root != "/" else ""
    name = root.rsplit("/", 1)[-1] if root != "/" else "/"
    nodes.append({"path": root, "name": name, "parent": parent, "kind": "group"})
    seen: dict[int, str] = {}
    with contextlib.suppress(Exception):
        seen[h5py.h5o.get_info(gid).addr] = root
    _walk(gid, root, nodes, seen)
    return nodes


def _walk(gid: Any, path: str, nodes: list[dict], seen: dict[int, str]) -> None:
    links: list[tuple[bytes, int, int]] = []

    def collect(name: bytes, info: Any) -> None:
        links.append((name, info.type, info.u))

    try:
        gid.links.iterate(collect, info=True)
    except Exception:
        return
    group_attrs = _LazyAttrs(gid)
    group_name = path.rsplit("/", 1)[-1]
    for raw_name, link_type, address in links:
        name = raw_name.decode("utf-8", "replace")
        child = f"{path}/{name}" if path != "/" else f"/{name}"
        base = {"path": child, "name": name, "parent": path}
        if link_type != h5py.h5l.TYPE_HARD:
            nodes.append({**base, "kind": "link", "reason": _link_target(gid, raw_name, link_type)})
            continue
        try:
            oid = h5py.h5o.open(gid, raw_name)
        except Exception as exc:
            nodes.append({**base, "kind": "link", "reason": f"cannot open: {exc}"})
            continue
        if isinstance(oid, h5py.h5g.GroupID):
            # a hard link's address identifies the group: list each group once (no cycles)
            if address in seen:
                nodes.append({**base, "kind": "link", "reason": f"hard link to {seen[address]}"})
                continue
            seen[address] = child
            nodes.append({**base, "kind": "group"})
            _walk(oid, child, nodes, seen)
        elif isinstance(oid, h5py.h5d.DatasetID):
            nodes.append({**base, **_dataset_summary(oid, name, group_attrs, group_name)})


def _link_target(gid: Any, name: bytes, link_type: int) -> str:
    try:
        target = gid.links.get_val(name)
    except Exception:
        return "link"
    if link_type == h5py.h5l.TYPE_SOFT:
        return f"soft link to {target.decode('utf-8', 'replace')}"
    if link_type == h5py.h5l.TYPE_EXTERNAL and isinstance(target, tuple) and len(target) == 2:
        fname, obj = (t.decode("utf-8", "replace") for t in target)
        return f"external link to {fname}:{obj}"
    return "user-defined link"


def _dataset_summary(
    oid: Any, name: str, group_attrs: Mapping[str, Any], group_name: str
) -> dict[str, Any]:
    """The dataset fields of a tree node, from the low-level id (no axis data read)."""
    out: dict[str, Any] = {"kind": "dataset"}
    try:
        space = oid.get_space()
        null = space.get_simple_extent_type() == h5py.h5s.NULL
        shape = () if null else tuple(int(s) for s in space.shape)
        maxshape = () if null else space.get_simple_extent_dims(True)
        dtype_str, plottable, reason = _classify(oid.dtype)
        if null:
            plottable, reason = False, "null dataspace: the dataset holds no values"
        attrs = _LazyAttrs(oid)

        def pymodaq() -> bool:
            return _is_pymodaq(attrs, group_name)

        out.update(
            shape=list(shape),
            dtype=dtype_str,
            plottable=plottable,
            reason=reason,
            label=_pick_label(attrs, group_attrs, name, pymodaq),
            units=_pick_units(attrs, group_attrs, pymodaq),
            growing=bool(maxshape) and maxshape[0] == h5py.h5s.UNLIMITED,
        )
    except Exception as exc:
        out.update(
            shape=[],
            dtype="unknown",
            plottable=False,
            reason=f"could not read the dataset: {type(exc).__name__}: {exc}",
            label=name,
            units="",
            growing=False,
        )
    return out
