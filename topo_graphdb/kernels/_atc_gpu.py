"""Array-module kernels of :mod:`topo_graphdb.kernels.atc`: CuPy on the GPU.

Written once against an array module ``xp`` (CuPy, or NumPy for checking them
on a CPU) and its sparse module (``cupyx.scipy.sparse`` / ``scipy.sparse``);
they compute the same numbers as the Numba kernels of
:mod:`topo_graphdb.kernels._atc_cpu`. CuPy is imported only by :func:`gpu_ops`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["ArrayOps", "gpu_ops", "numpy_ops"]

_CHUNK = 1 << 22  # elements per temporary block (pairs x K x d, or expanded adjacency entries)


class ArrayOps:
    """The kernels ATC needs, on the arrays of ``xp``.

    Parameters
    ----------
    xp : module
        ``cupy`` or ``numpy``.
    sparse : module
        ``cupyx.scipy.sparse`` or ``scipy.sparse``.
    scatter_min : callable
        ``scatter_min(a, rows, values)``: ``a[rows] = minimum(a[rows], values)``
        with repeated rows combined (``cupyx.scatter_min`` / ``numpy.minimum.at``).
    name : str
        ``"gpu"`` or ``"cpu"``.
    """

    def __init__(self, xp: ModuleType, sparse: ModuleType, scatter_min: Callable[..., Any], name: str):
        self.xp = xp
        self.sparse = sparse
        self.scatter_min = scatter_min
        self.name = name

    # ------------------------------------------------------------------ transfers
    def asarray(self, a: np.ndarray, dtype: Any = None) -> Any:
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a: Any) -> np.ndarray:
        return a.get() if hasattr(a, "get") else np.asarray(a)

    # ------------------------------------------------------------------ graph
    def adjacency(self, indptr: np.ndarray, indices: np.ndarray, num_nodes: int) -> Any:
        """The 0/1 adjacency (float32 CSR) and the row of every stored entry."""
        xp = self.xp
        ip = xp.asarray(indptr, dtype=xp.int32 if indices.size < 2**31 else xp.int64)
        ix = xp.asarray(indices, dtype=xp.int32)
        data = xp.ones(indices.size, dtype=xp.float32)
        a = self.sparse.csr_matrix((data, ix, ip), shape=(num_nodes, num_nodes))
        return _Graph(a, xp.asarray(indptr, dtype=xp.int64), ix.astype(xp.int64), num_nodes)

    def spmm(self, graph: _Graph, x: Any, out: Any = None) -> Any:
        """``A @ x`` (written into ``out`` when given)."""
        if out is None:
            return graph.matrix @ x
        out[...] = graph.matrix @ x
        return out

    def propagate_min(self, graph: _Graph, m: Any) -> Any:
        """``out[r] = min over neighbours u of r of m[u]`` element-wise (uint32; empty row: all ones)."""
        xp = self.xp
        out = xp.full(m.shape, 0xFFFFFFFF, dtype=xp.uint32)
        rows = graph.rows()
        step = max(1, _CHUNK // max(1, m.shape[1]))
        for s in range(0, int(graph.indices.size), step):
            self.scatter_min(out, rows[s : s + step], m[graph.indices[s : s + step]])
        return out

    def common_neighbours(self, graph: _Graph, a: Any, b: Any) -> Any:
        """``|N(a[e]) ∩ N(b[e])|`` per pair, float64: each neighbour of the lower-degree
        endpoint is looked up (binary search) among the sorted keys ``row * n + col``."""
        xp = self.xp
        n = graph.num_nodes
        indptr, indices = graph.indptr, graph.indices
        deg = indptr[1:] - indptr[:-1]
        swap = deg[a] > deg[b]
        lo = xp.where(swap, b, a)
        hi = xp.where(swap, a, b)
        keys = graph.keys()
        out = xp.zeros(int(a.size), dtype=xp.float64)
        counts = deg[lo]
        ends = xp.cumsum(counts)
        total = int(ends[-1]) if int(a.size) else 0
        start = 0
        while start < total:
            stop = min(total, start + _CHUNK)
            pos = xp.arange(start, stop, dtype=xp.int64)
            pair = xp.searchsorted(ends, pos, side="right")
            first = ends[pair] - counts[pair]
            u = indices[indptr[lo[pair]] + (pos - first)]
            query = hi[pair] * n + u
            at = xp.minimum(xp.searchsorted(keys, query), keys.size - 1)
            found = (keys[at] == query).astype(xp.float64)
            out += xp.bincount(pair, weights=found, minlength=int(a.size))
            start = stop
        return out

    def three_paths(self, graph: _Graph, a: Any, b: Any) -> tuple[Any, Any]:
        """For each pair: ``sum_{u in N(a)} |N(u) ∩ N(b)|`` and ``#{u in N(a) : N(u) ∩ N(b) non-empty}``
        (float64), from the pairs ``(u, b)`` expanded over ``u in N(a)``, in blocks."""
        xp = self.xp
        indptr, indices = graph.indptr, graph.indices
        walks = xp.zeros(int(a.size), dtype=xp.float64)
        hits = xp.zeros(int(a.size), dtype=xp.float64)
        if int(a.size) == 0:
            return walks, hits
        counts = indptr[a + 1] - indptr[a]
        ends = xp.cumsum(counts)
        total = int(ends[-1])
        start = 0
        while start < total:
            stop = min(total, start + _CHUNK)
            pos = xp.arange(start, stop, dtype=xp.int64)
            pair = xp.searchsorted(ends, pos, side="right")
            u = indices[indptr[a[pair]] + (pos - (ends[pair] - counts[pair]))]
            common = self.common_neighbours(graph, u, b[pair])
            walks += xp.bincount(pair, weights=common, minlength=int(a.size))
            hits += xp.bincount(pair, weights=(common > 0).astype(xp.float64), minlength=int(a.size))
            start = stop
        return walks, hits

    def pair_dots(self, xs: Any, ys: Any, src: Any, dst: Any, x_sel: np.ndarray, y_sel: np.ndarray) -> Any:
        """``out[e, a, b] = <xs[x_sel[a, b], src[e]], ys[y_sel[a, b], dst[e]]>``; 0 where ``x_sel[a, b] < 0``.

        ``xs``, ``ys``: shape (rows, n, d); ``x_sel``, ``y_sel``: shape (K, K). Returns (E, K, K), float64.
        """
        xp = self.xp
        hops, d = x_sel.shape[0], xs.shape[2]
        out = xp.zeros((int(src.size), hops, hops), dtype=xp.float64)
        terms = [(a, b, int(x_sel[a, b]), int(y_sel[a, b])) for a, b in zip(*np.nonzero(x_sel >= 0))]
        step = max(1, _CHUNK // max(1, xs.shape[0] * d))
        for s in range(0, int(src.size), step):
            xi = xs[:, src[s : s + step]]  # (rows, c, d)
            yj = ys[:, dst[s : s + step]]
            for a, b, xa, yb in terms:
                out[s : s + step, a, b] = (xi[xa] * yj[yb]).sum(axis=1, dtype=xp.float32)
        return out

class _Graph:
    """The adjacency on the device, with lazily built helpers."""

    def __init__(self, matrix: Any, indptr: Any, indices: Any, num_nodes: int):
        self.matrix = matrix
        self.indptr = indptr
        self.indices = indices
        self.num_nodes = num_nodes
        self._rows = None
        self._keys = None

    def rows(self) -> Any:
        """Row of every stored entry (int64)."""
        if self._rows is None:
            xp = _module_of(self.indptr)
            pos = xp.arange(int(self.indices.size), dtype=xp.int64)
            self._rows = xp.searchsorted(self.indptr[1:], pos, side="right")
        return self._rows

    def keys(self) -> Any:
        """Sorted ``row * n + col`` of every stored entry (int64)."""
        if self._keys is None:
            self._keys = self.rows() * self.num_nodes + self.indices
        return self._keys


def _module_of(a: Any) -> ModuleType:
    if type(a).__module__.startswith("cupy"):
        import cupy  # noqa: PLC0415

        return cupy
    return np


def gpu_ops() -> ArrayOps:
    """The kernels on CuPy (after :func:`topo_graphdb.backend.resolve_backend` chose ``"gpu"``)."""
    import cupy  # noqa: PLC0415
    import cupyx  # noqa: PLC0415
    import cupyx.scipy.sparse as sparse  # noqa: PLC0415

    return ArrayOps(cupy, sparse, cupyx.scatter_min, "gpu")


def numpy_ops() -> ArrayOps:
    """The same kernels on NumPy/SciPy (to check the GPU code path on a CPU)."""
    import scipy.sparse as sparse  # noqa: PLC0415

    return ArrayOps(np, sparse, np.minimum.at, "cpu")
