"""Arrays from streamed values: growing buffers, number conversion, id lookup, edge columns, orientation.

Each record of an export becomes numpy arrays at once (ids mapped to dense
indices, appended to buffers that grow by doubling), so no Python object per
relationship outlives its record. :func:`orient` turns the collected pairs
into the oriented ``edge_index`` of the snapshot.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "Growing",
    "EdgeColumns",
    "to_float",
    "number",
    "integral",
    "records",
    "lookup",
    "node_id_array",
    "orient",
]


class Growing:
    """A numpy buffer that grows by doubling (amortised O(1) appends of chunks)."""

    def __init__(self, dtype: Any, capacity: int = 1024, width: int | None = None):
        self.dtype = dtype
        self.width = width
        shape = (max(capacity, 16),) if width is None else (max(capacity, 16), width)
        self.data = np.empty(shape, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        n = len(values)
        need = self.size + n
        if need > len(self.data):
            cap = max(need, 2 * len(self.data))
            new = np.empty((cap,) + self.data.shape[1:], dtype=self.dtype)
            new[: self.size] = self.data[: self.size]
            self.data = new
        self.data[self.size : need] = values
        self.size = need

    def array(self) -> np.ndarray:
        out = self.data[: self.size]
        return out.copy() if self.size < len(self.data) else out


def to_float(values: Sequence[Any], what: str) -> np.ndarray:
    """Numbers (None -> NaN) as float64; temporal values as epoch seconds."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            out[i] = number(v, what)
        return out


def number(v: Any, what: str) -> float:
    """One value as float: None -> NaN, numbers as they are, Neo4j temporal values as epoch seconds."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if hasattr(v, "to_native"):  # neo4j temporal types
        native = v.to_native()
        if isinstance(native, datetime):
            if native.tzinfo is None:
                native = native.replace(tzinfo=timezone.utc)
            return native.timestamp()
        if hasattr(native, "toordinal") and not hasattr(native, "hour"):  # date
            return float((native.toordinal() - 719163) * 86400)
        if hasattr(native, "total_seconds"):
            return native.total_seconds()
    raise InputError(f"{what} must be numeric (or a date/time); got {type(v).__name__} {v!r}")


def integral(values: np.ndarray) -> bool:
    """Whether every value is finite, whole and exactly representable (below 2**53) as a float."""
    finite = np.isfinite(values)
    return bool(finite.all() and np.all(values == np.round(values)) and (values.size == 0 or np.abs(values).max() < 2**53))



def records(result: Any, page: int) -> Iterator[Any]:
    """Records of ``result`` as they arrive (``page`` at a time from the driver's buffer)."""
    while True:
        batch = result.fetch(page)
        if not batch:
            return
        yield from batch


def lookup(index: dict[Any, int], keys: Sequence[Any]) -> np.ndarray:
    """Dense indices of ``keys`` (-1 for unknown ones) as int64.

    ``operator.itemgetter`` looks all keys up in C; only when a key is unknown
    (a dangling endpoint) the slower path with a default runs.
    """
    k = len(keys)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        found = operator.itemgetter(*keys)(index)
    except (KeyError, TypeError):
        return np.fromiter(map(index.get, keys, itertools.repeat(-1, k)), dtype=np.int64, count=k)
    return np.array(found if k > 1 else (found,), dtype=np.int64)


class EdgeColumns:
    """The relationship arrays of an export (src, dst, optional time and weight), filled in chunks."""

    def __init__(self, has_time: bool, has_weight: bool, capacity: int = 1024):
        self.src, self.dst = Growing(np.int64, capacity), Growing(np.int64, capacity)
        self.time = Growing(np.float64, capacity) if has_time else None
        self.weight = Growing(np.float64, capacity) if has_weight else None
        self.missing_time = self.missing_weight = 0

    def add(self, s: np.ndarray, t: np.ndarray, times: Sequence[Any] | None, weights: Sequence[Any] | None) -> int:
        """Append the pairs whose two ends are known (index >= 0), with their times and
        weights (a missing weight counts as 1); returns how many pairs were dropped."""
        keep = (s >= 0) & (t >= 0)
        bad = int(len(s) - np.count_nonzero(keep))
        self.src.extend(s[keep] if bad else s)
        self.dst.extend(t[keep] if bad else t)
        if self.time is not None:
            tv = to_float(times, "edge time")
            tv = tv[keep] if bad else tv
            self.missing_time += int(np.isnan(tv).sum())
            self.time.extend(tv)
        if self.weight is not None:
            wv = to_float(weights, "edge weight")
            wv = wv[keep] if bad else wv
            nan = np.isnan(wv)
            self.missing_weight += int(nan.sum())
            wv[nan] = 1.0
            self.weight.extend(wv)
        return bad

    def finish(self, collector: Any, info: dict[str, Any]) -> dict[str, Any]:
        """Hand the arrays to ``collector`` and add the missing-value counts to ``info``."""
        collector.src, collector.dst = self.src.array(), self.dst.array()
        collector.time = self.time.array() if self.time is not None else None
        collector.weight = self.weight.array() if self.weight is not None else None
        if self.time is not None:
            info["time_missing"] = self.missing_time
        if self.weight is not None:
            info["weight_missing_as_1"] = self.missing_weight
        return info



def node_id_array(ids: list[Any], what: str) -> np.ndarray:
    """``node_ids`` as int64 (all integers) or object (all strings); ``what`` names them in the error."""
    if not ids:
        return np.array([], dtype=object)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
        return np.array(ids, dtype=np.int64)
    if all(isinstance(v, str) for v in ids):
        return np.array(ids, dtype=object)
    kinds = sorted({type(v).__name__ for v in ids})
    raise InputError(f"{what} values must all be integers or all strings; found {', '.join(kinds)}")


def orient(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray | None, w: np.ndarray | None, n: int, orientation: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, int]]:
    """``(edge_index, edge_time, edge_weight, counts)`` of the pairs ``src -> dst`` in ``orientation``.

    ``natural``/``reverse`` keep every pair (flipped for ``reverse``);
    ``undirected`` keeps each ``(min, max)`` once, without self-loops, with the
    earliest time and the summed weight of its merged pairs. ``counts``:
    ``self_loops``, ``duplicates`` and ``dropped``.
    """
    loops = src == dst
    if orientation != "undirected":
        if orientation == "reverse":
            src, dst = dst, src
        ks = np.sort(src * np.int64(n) + dst)
        uniq = int(ks.size and 1 + np.count_nonzero(ks[1:] != ks[:-1]))
        del ks
        stats = {"self_loops": int(loops.sum()), "duplicates": int(src.size - uniq), "dropped": 0}
        return np.stack([src, dst]), t, w, stats
    keep = ~loops
    lo = np.minimum(src[keep], dst[keep])
    hi = np.maximum(src[keep], dst[keep])
    keys = lo * np.int64(n) + hi
    del lo, hi
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    del keys
    starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]])) if ks.size else np.zeros(0, np.int64)
    uniq = ks[starts]
    del ks
    edge_index = np.stack([uniq // n, uniq % n]) if uniq.size else np.zeros((2, 0), np.int64)
    et = ew = None
    if t is not None:
        et = np.fmin.reduceat(t[keep][order], starts) if starts.size else np.zeros(0)
    if w is not None:
        ew = np.add.reduceat(w[keep][order], starts) if starts.size else np.zeros(0)
    stats = {
        "self_loops": int(loops.sum()),
        "duplicates": int(keep.sum() - uniq.size),
        "dropped": int(loops.sum() + keep.sum() - uniq.size),
    }
    return edge_index, et, ew, stats

