"""Running top-k of many rows fed block by block (best first; ties: lower column)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import num_threads

__all__ = ["RowTopK"]


@njit(cache=True, inline="always")
def _worse(v1: float, c1: int, v2: float, c2: int) -> bool:
    # Entry 1 ranks below entry 2: a smaller value, or an equal value at a larger column.
    return v1 < v2 or (v1 == v2 and c1 > c2)


@njit(cache=True)
def _sift_down(vals: np.ndarray, cols: np.ndarray, i: int, size: int) -> None:
    # Heap of a row's kept entries with the worst on top.
    while True:
        worst = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and _worse(vals[child], cols[child], vals[worst], cols[worst]):
                worst = child
        if worst == i:
            return
        vals[i], vals[worst] = vals[worst], vals[i]
        cols[i], cols[worst] = cols[worst], cols[i]
        i = worst


@njit(cache=True, inline="always")
def _offer(vals: np.ndarray, cols: np.ndarray, size: np.ndarray, h: int, v: float, c: int) -> None:
    # Entry (v, c) for row h: kept while the row has room, else it replaces the worst kept if better.
    k = vals.shape[1]
    if not v > -np.inf:  # -inf (excluded) and NaN are never kept
        return
    if size[h] < k:
        vals[h, size[h]] = v
        cols[h, size[h]] = c
        size[h] += 1
        if size[h] == k:
            for i in range(k // 2 - 1, -1, -1):
                _sift_down(vals[h], cols[h], i, k)
    elif _worse(vals[h, 0], cols[h, 0], v, c):
        vals[h, 0] = v
        cols[h, 0] = c
        _sift_down(vals[h], cols[h], 0, k)


@njit(cache=True, parallel=True)
def _push(block: np.ndarray, heap_row: np.ndarray, col_ids: np.ndarray, vals: np.ndarray, cols: np.ndarray, size: np.ndarray) -> None:
    k = vals.shape[1]
    for a in prange(block.shape[0]):
        h = heap_row[a]
        row_vals = vals[h]
        row_cols = cols[h]
        first = 0
        while size[h] < k and first < block.shape[1]:  # filling the heap
            _offer(vals, cols, size, h, np.float64(block[a, first]), col_ids[first])
            first += 1
        for j in range(first, block.shape[1]):  # full: one comparison with the worst kept for most entries
            v = np.float64(block[a, j])
            if _worse(row_vals[0], row_cols[0], v, col_ids[j]):
                row_vals[0] = v
                row_cols[0] = col_ids[j]
                _sift_down(row_vals, row_cols, 0, k)


@njit(cache=True)
def _push_pairs(row: np.ndarray, col: np.ndarray, value: np.ndarray, vals: np.ndarray, cols: np.ndarray, size: np.ndarray) -> None:
    for e in range(row.size):
        _offer(vals, cols, size, row[e], np.float64(value[e]), col[e])


@njit(cache=True, parallel=True)
def _push_common(indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray, nthreads: int,
                 vals: np.ndarray, cols: np.ndarray, size: np.ndarray) -> None:
    # Row i counts the walks sources[i] -> u -> w in a per-thread array, then offers every w that
    # is neither the source nor one of its neighbours, valued by its count (common neighbours).
    n = indptr.size - 1
    for t in prange(nthreads):
        count = np.zeros(n, np.int64)
        touched = np.empty(n, np.int64)
        for i in range(t, sources.size, nthreads):
            s = sources[i]
            m = 0
            for p in range(indptr[s], indptr[s + 1]):
                u = indices[p]
                for q in range(indptr[u], indptr[u + 1]):
                    w = indices[q]
                    if count[w] == 0:
                        touched[m] = w
                        m += 1
                    count[w] += 1
            count[s] = 0
            for p in range(indptr[s], indptr[s + 1]):
                count[indices[p]] = 0
            for j in range(m):
                w = touched[j]
                if count[w] > 0:
                    _offer(vals, cols, size, i, np.float64(count[w]), w)
                count[w] = 0


@njit(cache=True, parallel=True)
def _sort_rows(vals: np.ndarray, cols: np.ndarray, size: np.ndarray) -> None:
    # Heapsort of each row's kept entries: the worst goes to the end each time, so the row ends best first.
    for r in prange(vals.shape[0]):
        m = size[r]
        for i in range(m // 2 - 1, -1, -1):
            _sift_down(vals[r], cols[r], i, m)
        for last in range(m - 1, 0, -1):
            vals[r, 0], vals[r, last] = vals[r, last], vals[r, 0]
            cols[r, 0], cols[r, last] = cols[r, last], cols[r, 0]
            _sift_down(vals[r], cols[r], 0, last)


class RowTopK:
    """The ``k`` best ``(value, column)`` entries of each of ``rows`` rows, seen block by block.

    :meth:`push` feeds a dense block whose rows belong to some of the heaps and whose columns
    carry their own ids (in any order), :meth:`push_pairs` single ``(row, column, value)``
    entries, :meth:`push_common` the 2-hop nodes of sources counted by common neighbours; :meth:`result` gives each row's entries sorted by
    ``(-value, column)``: the same as sorting all entries ever pushed to that row and keeping
    ``k``. ``-inf`` and NaN entries are never kept. A heap of ``k`` per row (Numba, rows in
    parallel): ``O(1)`` per entry that does not enter, ``O(log k)`` per entry that does.
    """

    def __init__(self, rows: int, k: int):
        self.k = int(k)
        self.vals = np.full((rows, self.k), -np.inf)
        self.cols = np.zeros((rows, self.k), dtype=np.int64)
        self.size = np.zeros(rows, dtype=np.int64)

    def push(self, block: np.ndarray, heap_row: np.ndarray, col_ids: np.ndarray) -> None:
        """Offer ``block[a, j]`` as column ``col_ids[j]`` of row ``heap_row[a]`` (rows distinct)."""
        if self.k and block.size:
            _push(np.ascontiguousarray(block), np.asarray(heap_row, np.int64), np.asarray(col_ids, np.int64),
                  self.vals, self.cols, self.size)

    def push_pairs(self, row: np.ndarray, col: np.ndarray, value: np.ndarray) -> None:
        """Offer each ``value[e]`` as column ``col[e]`` of row ``row[e]`` (any order, one thread)."""
        if self.k and np.size(row):
            _push_pairs(np.asarray(row, np.int64), np.asarray(col, np.int64), np.asarray(value, np.float64),
                        self.vals, self.cols, self.size)

    def push_common(self, indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray) -> None:
        """Offer, to row ``i``, every node ``w`` two hops from ``sources[i]`` in the CSR graph
        (``indptr``, ``indices``), neither the source nor one of its neighbours, valued by its
        number of common neighbours with the source (sources in parallel, one count array of
        ``n`` per thread)."""
        if self.k and np.size(sources):
            _push_common(indptr, indices, np.asarray(sources, np.int64), num_threads(), self.vals, self.cols, self.size)

    def threshold(self) -> np.ndarray:
        """Per row, the worst kept value once ``k`` are kept (an entry must beat it), else -inf."""
        if not self.k:
            return np.full(self.size.size, np.inf)
        return np.where(self.size == self.k, self.vals[:, 0], -np.inf)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Values (float64) and columns (int64), shape ``(rows, k)``, best first; rows with fewer
        than ``k`` entries end in ``-inf`` (column 0)."""
        vals, cols = self.vals.copy(), self.cols.copy()
        _sort_rows(vals, cols, self.size)
        return vals, cols

    def kept(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The kept entries as flat ``(row, column, value)`` arrays: by row, each row best first."""
        vals, cols = self.result()
        ok = np.isfinite(vals)
        return np.nonzero(ok)[0], cols[ok], vals[ok]
