"""Reach sets ``S_k(j)`` (nodes at most ``k`` hops from ``j``, k >= 2) and batches of sources whose sets fit in memory.

A set is stored as a list or, when it is large, as a dense 0/1 row of n bytes
(see :func:`reach_sets`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import deal_order, num_threads

__all__ = ["reach_sets", "reach_counts", "greedy_batches", "DENSE_SHARE"]

DENSE_SHARE = 1.0 / 16.0  # a reach set of at least this share of n is kept as a dense 0/1 row


@njit(cache=True, parallel=True)
def _reach(
    indptr: np.ndarray,
    indices: np.ndarray,
    nodes: np.ndarray,
    hops: int,
    order: np.ndarray,
    nthreads: int,
    rstart: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    fill: bool,
) -> np.ndarray:
    # Level by level from S_1(j) = N(j): S_{k+1}(j) = union of N(x) for x in S_k(j).
    # With fill, a level goes to its dense row (dslot >= 0) or to its slot of
    # ridx; the last level of a dense row needs no list, just byte stores.
    n = indptr.size - 1
    m = nodes.size
    counts = np.zeros((hops - 1, m), np.int64)
    for t in prange(nthreads):
        mark = np.full(n, -1, np.int64)
        cur = np.empty(n, indices.dtype)
        nxt = np.empty(n, indices.dtype)
        for idx in range(t, m, nthreads):
            jj = order[idx]
            j = nodes[jj]
            size = indptr[j + 1] - indptr[j]
            for s in range(size):
                cur[s] = indices[indptr[j] + s]
            for level in range(hops - 1):  # level 0 builds S_2
                row = dslot[level, jj] if fill else -1
                if row >= 0 and level == hops - 2:
                    line = dense[row]
                    for s in range(size):
                        x = cur[s]
                        for p in range(indptr[x], indptr[x + 1]):
                            line[indices[p]] = 1
                    break
                stamp = jj * hops + level
                new = 0
                for s in range(size):
                    x = cur[s]
                    for p in range(indptr[x], indptr[x + 1]):
                        y = indices[p]
                        if mark[y] != stamp:
                            mark[y] = stamp
                            nxt[new] = y
                            new += 1
                counts[level, jj] = new
                if row >= 0:
                    line = dense[row]
                    for s in range(new):
                        line[nxt[s]] = 1
                elif fill:
                    start = rstart[level, jj]
                    for s in range(new):
                        ridx[start + s] = nxt[s]
                cur, nxt = nxt, cur
                size = new
    return counts


def _no_table(hops: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.zeros((hops - 1, 1), np.int64),
        np.zeros(0, dtype),
        np.full((hops - 1, 1), -1, np.int64),
        np.zeros((0, 1), np.uint8),
    )


def reach_sets(
    indptr: np.ndarray,
    indices: np.ndarray,
    nodes: np.ndarray,
    hops: int,
    cost: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    max_bytes: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reach sets ``S_k(j)``, ``k = 2..hops``, of each node ``j = nodes[jj]``.

    ``capacity`` (shape (hops - 1, len(nodes))) bounds each set's size; exact
    sizes come from a counting pass when it is ``None``. A set is stored as a
    list, ``ridx[rstart[k-2, jj] : rstart[k-2, jj] + rcount[k-2, jj]]``
    (unsorted), or, when its capacity reaches ``DENSE_SHARE * n``, as a dense
    0/1 row of n bytes: adding a dense row to a counter vector is much faster
    than as many scattered lookups. Rows are chosen largest first while the
    whole table stays within ``max_bytes``.

    Returns
    -------
    (rstart, rcount, ridx, dslot, dense)
        ``dslot[k-2, jj]`` is the row of ``dense`` (uint8, shape (rows, n))
        holding ``S_k(nodes[jj])``, or -1.
    """
    nodes = np.asarray(nodes, np.int64)
    n = indptr.size - 1
    order = deal_order(cost if cost is not None else np.zeros(nodes.size))
    nt = num_threads()
    if capacity is None:
        capacity = _reach(indptr, indices, nodes, hops, order, nt, *_no_table(hops, indices.dtype), False)
    flat = np.ascontiguousarray(capacity, np.int64).ravel().copy()
    dslot = np.full(flat.size, -1, np.int64)
    big = np.flatnonzero(flat >= max(DENSE_SHARE * n, 1.0))
    big = big[np.argsort(-flat[big], kind="stable")]
    total = float(flat.sum()) * indices.itemsize + 16.0 * flat.size
    running = total + np.cumsum(n - flat[big] * float(indices.itemsize))  # table size after densifying each prefix
    over = np.flatnonzero(running > max_bytes)
    big = np.sort(big[: over[0] if over.size else big.size])
    dslot[big] = np.arange(big.size)
    flat[big] = 0
    rstart = (np.cumsum(flat) - flat).reshape(capacity.shape)
    ridx = np.empty(int(flat.sum()), indices.dtype)
    dense = np.zeros((big.size, n), np.uint8)
    dslot = dslot.reshape(capacity.shape)
    rcount = _reach(indptr, indices, nodes, hops, order, nt, rstart, ridx, dslot, dense, True)
    return rstart, rcount, ridx, dslot, dense


def reach_counts(
    indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray, hops: int, cost: np.ndarray | None = None
) -> np.ndarray:
    """Sizes ``|S_k(j)|`` for ``k = 2..hops`` of each node in ``nodes``; shape (hops - 1, len(nodes))."""
    nodes = np.asarray(nodes, np.int64)
    order = deal_order(cost if cost is not None else np.zeros(nodes.size))
    return _reach(indptr, indices, nodes, hops, order, num_threads(), *_no_table(hops, indices.dtype), False)



@njit(cache=True)
def greedy_batches(
    sources: np.ndarray, own: np.ndarray, ev_indptr: np.ndarray, ev_indices: np.ndarray, size: np.ndarray, cap: float
) -> np.ndarray:
    """Batch number of each source (in the given order) so that every batch fits ``cap``.

    A batch needs ``own[i]`` for each of its sources ``i`` plus ``size[j]`` once
    for each node ``j`` in the union of its sources' evaluation neighbours.
    Sources that alone exceed ``cap`` get ``-1``.
    """
    stamp = np.full(size.size, -1, np.int64)
    out = np.empty(sources.size, np.int64)
    batch = 0
    used = 0.0
    for s in range(sources.size):
        i = sources[s]
        need = own[i]
        for q in range(ev_indptr[i], ev_indptr[i + 1]):
            j = ev_indices[q]
            if stamp[j] != batch:
                need += size[j]
        if used > 0.0 and used + need > cap:
            batch += 1
            used = 0.0
            need = own[i]
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                need += size[ev_indices[q]]
        if need > cap:
            out[s] = -1
            continue
        for q in range(ev_indptr[i], ev_indptr[i + 1]):
            stamp[ev_indices[q]] = batch
        used += need
        out[s] = batch
    return out
