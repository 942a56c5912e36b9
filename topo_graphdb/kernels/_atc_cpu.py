"""Numba kernels of the CPU path of :mod:`topo_graphdb.kernels.atc`.

Each kernel has an array-module twin in :mod:`topo_graphdb.kernels._atc_gpu`
(used with CuPy on the GPU); both compute the same numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "COLUMN_CHUNK", "CpuOps", "spmm", "common_neighbours", "three_paths", "propagate_min", "pair_dots",
    "pair_dot_chunks", "sum_chunks",
]


@njit(cache=True, parallel=True)
def _spmm(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    d = x.shape[1]
    for r in prange(indptr.size - 1):
        for t in range(d):
            out[r, t] = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            u = indices[p]
            for t in range(d):
                out[r, t] += x[u, t]


def spmm(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``A @ x`` for the 0/1 adjacency ``A`` in CSR form; ``x`` of shape (n, d), written into ``out``."""
    if out is None:
        out = np.empty_like(x)
    _spmm(indptr, indices, x, out)
    return out


@njit(cache=True)
def _lower_bound(indices: np.ndarray, lo: int, hi: int, value: int) -> int:
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _intersect(indices: np.ndarray, p: int, p_end: int, q: int, q_end: int) -> int:
    """Size of the intersection of two sorted runs ``indices[p:p_end]`` and ``indices[q:q_end]``."""
    if p_end - p > q_end - q:
        p, p_end, q, q_end = q, q_end, p, p_end
    count = 0
    if 16 * (p_end - p) < q_end - q:  # skewed: binary search the short run's entries in the long one
        while p < p_end and q < q_end:
            q = _lower_bound(indices, q, q_end, indices[p])
            if q < q_end and indices[q] == indices[p]:
                count += 1
                q += 1
            p += 1
    else:
        while p < p_end and q < q_end:
            u = indices[p]
            v = indices[q]
            if u == v:
                count += 1
                p += 1
                q += 1
            elif u < v:
                p += 1
            else:
                q += 1
    return count


@njit(cache=True, parallel=True)
def _common(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for e in prange(a.size):
        out[e] = _intersect(indices, indptr[a[e]], indptr[a[e] + 1], indptr[b[e]], indptr[b[e] + 1])


@njit(cache=True, parallel=True)
def _paths(
    indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray, walks: np.ndarray, hits: np.ndarray
) -> None:
    for e in prange(a.size):
        q, q_end = indptr[b[e]], indptr[b[e] + 1]
        total = 0
        touched = 0
        for p in range(indptr[a[e]], indptr[a[e] + 1]):
            u = indices[p]
            c = _intersect(indices, indptr[u], indptr[u + 1], q, q_end)
            total += c
            if c > 0:
                touched += 1
        walks[e] = total
        hits[e] = touched


def three_paths(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pair: ``sum_{u in N(a)} |N(u) ∩ N(b)|`` (= ``(A^3)[a, b]``) and
    ``#{u in N(a) : N(u) ∩ N(b) non-empty}`` (= ``|N(a) ∩ S_2(b)|``); float64."""
    walks = np.empty(a.size, np.float64)
    hits = np.empty(a.size, np.float64)
    _paths(indptr, indices, a, b, walks, hits)
    return walks, hits


def common_neighbours(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|N(a[e]) ∩ N(b[e])|`` for each pair ``e`` (sorted CSR rows merged); float64."""
    out = np.empty(a.size, np.float64)
    _common(indptr, indices, a, b, out)
    return out


@njit(cache=True, parallel=True)
def _propagate_min(indptr: np.ndarray, indices: np.ndarray, m: np.ndarray, out: np.ndarray) -> None:
    width = m.shape[1]
    for r in prange(indptr.size - 1):
        for t in range(width):
            out[r, t] = np.uint32(0xFFFFFFFF)
        for p in range(indptr[r], indptr[r + 1]):
            u = indices[p]
            for t in range(width):
                if m[u, t] < out[r, t]:
                    out[r, t] = m[u, t]


def propagate_min(indptr: np.ndarray, indices: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``out[r] = min over neighbours u of r of m[u]`` (element-wise, uint32; empty row: all ones)."""
    out = np.empty_like(m)
    _propagate_min(indptr, indices, m, out)
    return out


COLUMN_CHUNK = 16  # columns per float32 partial dot product; the partials are summed in float64


@njit(cache=True, parallel=True, fastmath=True)
def _pair_dot_chunks(
    xs: np.ndarray, ys: np.ndarray, src: np.ndarray, dst: np.ndarray, x_sel: np.ndarray, y_sel: np.ndarray,
    width: int, out: np.ndarray,
) -> None:
    hops = x_sel.shape[0]
    d = xs.shape[2]
    for e in prange(src.size):
        i = src[e]
        j = dst[e]
        for c in range(out.shape[1]):
            t0 = c * width
            t1 = min(t0 + width, d)
            for a in range(hops):
                for b in range(hops):
                    xa = x_sel[a, b]
                    yb = y_sel[a, b]
                    acc = np.float32(0.0)
                    if xa >= 0:
                        for t in range(t0, t1):
                            acc += xs[xa, i, t] * ys[yb, j, t]
                    out[e, c, a, b] = acc


def pair_dot_chunks(
    xs: np.ndarray, ys: np.ndarray, src: np.ndarray, dst: np.ndarray, x_sel: np.ndarray, y_sel: np.ndarray
) -> np.ndarray:
    """``out[e, c, a, b]``: the float32 dot product of ``xs[x_sel[a, b], src[e]]`` and
    ``ys[y_sel[a, b], dst[e]]`` over the columns ``c·16 .. c·16 + 15`` (:data:`COLUMN_CHUNK`); 0 where
    ``x_sel[a, b] < 0``. Columns split at multiples of 16 give the same partials as the whole rows.

    ``xs``, ``ys``: shape (rows, n, d), float32; ``x_sel``, ``y_sel``: shape (K, K), int64.
    Returns shape (E, ceil(d / 16), K, K), float32.
    """
    hops = x_sel.shape[0]
    out = np.empty((src.size, -(-xs.shape[2] // COLUMN_CHUNK), hops, hops), np.float32)
    _pair_dot_chunks(xs, ys, src, dst, np.ascontiguousarray(x_sel), np.ascontiguousarray(y_sel), COLUMN_CHUNK, out)
    return out


def sum_chunks(parts: list[np.ndarray]) -> np.ndarray:
    """The float64 sum of the partials of :func:`pair_dot_chunks` over their column chunks, in order
    (``parts``: arrays of shape (E, C_g, K, K) for consecutive column ranges). Returns (E, K, K)."""
    total = np.zeros((parts[0].shape[0], *parts[0].shape[2:]), np.float64)
    for part in parts:
        for c in range(part.shape[1]):
            total += part[:, c]
    return total


def pair_dots(
    xs: np.ndarray, ys: np.ndarray, src: np.ndarray, dst: np.ndarray, x_sel: np.ndarray, y_sel: np.ndarray
) -> np.ndarray:
    """``out[e, a, b] = <xs[x_sel[a, b], src[e]], ys[y_sel[a, b], dst[e]]>``; 0 where ``x_sel[a, b] < 0``.

    Float32 partials over column chunks of 16, summed in float64 (:func:`pair_dot_chunks`,
    :func:`sum_chunks`). ``xs``, ``ys``: shape (rows, n, d), float32; ``x_sel``, ``y_sel``: shape
    (K, K), int64. Returns shape (E, K, K), float64.
    """
    return sum_chunks([pair_dot_chunks(xs, ys, src, dst, x_sel, y_sel)])

class _HostGraph:
    def __init__(self, indptr: np.ndarray, indices: np.ndarray, num_nodes: int):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices)
        self.num_nodes = num_nodes


class CpuOps:
    """The kernels ATC needs, on NumPy arrays (same interface as ``_atc_gpu.ArrayOps``)."""

    xp = np
    name = "cpu"

    def asarray(self, a: np.ndarray, dtype: object = None) -> np.ndarray:
        return np.asarray(a, dtype=dtype)

    def to_host(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a)

    def adjacency(self, indptr: np.ndarray, indices: np.ndarray, num_nodes: int) -> _HostGraph:
        return _HostGraph(indptr, indices, num_nodes)

    def spmm(self, graph: _HostGraph, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return spmm(graph.indptr, graph.indices, np.ascontiguousarray(x), out)

    def propagate_min(self, graph: _HostGraph, m: np.ndarray) -> np.ndarray:
        return propagate_min(graph.indptr, graph.indices, m)

    def common_neighbours(self, graph: _HostGraph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return common_neighbours(graph.indptr, graph.indices, a, b)

    def three_paths(self, graph: _HostGraph, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return three_paths(graph.indptr, graph.indices, a, b)

    def pair_dots(
        self, xs: np.ndarray, ys: np.ndarray, src: np.ndarray, dst: np.ndarray, x_sel: np.ndarray, y_sel: np.ndarray
    ) -> np.ndarray:
        return pair_dots(xs, ys, src, dst, x_sel, y_sel)
