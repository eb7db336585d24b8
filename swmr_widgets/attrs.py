"""Decoding of HDF5 attributes into plain Python values, without ever running them.

h5py returns attributes as ``bytes``, numpy scalars, string arrays or
:class:`h5py.Empty`; PyMoDAQ stores most of its attributes as JSON strings such
as ``{"module": "builtins", "type": "str", "data": "'nm'"}`` whose ``data`` is
the Python ``repr`` of the value. :func:`decode_attr` turns all of these into
plain values: the ``repr`` is read with :func:`ast.literal_eval` (plus a few
whitelisted numpy and ``datetime`` forms such as ``np.float64(1.5)``), never
with ``eval``, and anything else is kept as text.

:func:`read_attrs` decodes every attribute of an object; ``_LazyAttrs`` reads and
decodes one attribute at a time, on first lookup, through the low-level API.
The helpers at the end turn decoded values into what a viewer shows: short
label and unit strings, finite numbers and indices (with a default for
garbage), and a dataset's label and units from the plain attributes
(``@long_name`` / ``@label`` / ``@name``, ``@units`` / ``@unit``) or from its
PyMoDAQ channel group. Nothing here raises on odd files.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import h5py
import numpy as np

__all__ = ["MAX_PARSED_CHARS", "decode_attr", "read_attrs"]

#: Longest string that is parsed as JSON / Python literal (longer ones are returned as is).
MAX_PARSED_CHARS = 100_000
#: Longest label or unit string kept (garbage attributes can be huge).
_MAX_LABEL_CHARS = 200
#: Name of a PyMoDAQ channel group (``CH00``), whose attributes label its datasets.
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


#: Attributes whose read failed, as ``(file number, object address, name)``: a damaged
#: variable-length string can make HDF5 allocate and clear gigabytes for seconds on
#: every read, so each is tried once per process.
_FAILED: set[tuple[int, int, bytes]] = set()


def _attr_key(oid: Any, name: bytes) -> tuple[int, int, bytes] | None:
    try:
        return (oid.fileno, h5py.h5o.get_info(oid).addr, name)
    except Exception:
        return None


def _read_raw(oid: Any, name: bytes) -> Any:
    """Read one attribute through the low-level API (fast path for scalar strings).

    Raises
    ------
    OSError
        Also, at once, for an attribute whose read failed before in this process.
    """
    if _FAILED and _attr_key(oid, name) in _FAILED:
        raise OSError(f"attribute {name!r} could not be read before (damaged)")
    try:
        return _read_uncached(oid, name)
    except Exception:
        key = _attr_key(oid, name)
        if key is not None:
            _FAILED.add(key)
        raise


def _read_uncached(oid: Any, name: bytes) -> Any:
    aid = h5py.h5a.open(oid, name)
    if aid.shape == () and _is_vlen_string(aid):
        # most label/unit attributes are scalar variable-length strings. A failed read
        # is not retried: after a damaged string, HDF5 (2.0) can loop for ever rereading it
        arr = np.empty((), dtype=object)
        aid.read(arr, mtype=_VLEN_UTF8)
        return arr[()]
    return h5py.AttributeManager(_IdHolder(oid))[name]


def _is_vlen_string(aid: Any) -> bool:
    try:
        tid = aid.get_type()
        return isinstance(tid, h5py.h5t.TypeStringID) and bool(tid.is_variable_str())
    except Exception:
        return False


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


def _read_some(obj: h5py.HLObject, names: Iterable[str]) -> dict[str, Any]:
    """Decoded values of the attributes of `obj` in `names` that exist and can be read."""
    out: dict[str, Any] = {}
    attrs = obj.attrs
    for name in names:
        try:
            if name in attrs:
                out[name] = decode_attr(_read_raw(obj.id, name.encode()))
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
    return _read_some(obj, names)


# --------------------------------------------------------------------------- decoded values


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


# --------------------------------------------------------------------------- labels and units


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
