"""Common neighbours of node pairs (1 hop): counts and weighted sums over the shared neighbours."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import deal_order, num_threads

__all__ = ["common_neighbour_scores"]


@njit(cache=True, parallel=True)
def _common_grouped(
    indptr: np.ndarray,
    indices: np.ndarray,
    small: np.ndarray,
    pair_order: np.ndarray,
    group_start: np.ndarray,
    group_node: np.ndarray,
    group_order: np.ndarray,
    weights: np.ndarray,
    nthreads: int,
    cn: np.ndarray,
    sums: np.ndarray,
) -> None:
    # The pairs pair_order[group_start[g]:group_start[g+1]] share their
    # larger-degree endpoint group_node[g]: mark its neighbours once, then scan
    # the smaller endpoint's row of every pair of the group.
    n = indptr.size - 1
    q = weights.shape[0]
    num_groups = group_node.size
    for t in prange(nthreads):
        mark = np.zeros(n, np.uint8)
        for idx in range(t, num_groups, nthreads):
            g = group_order[idx]
            b = group_node[g]
            for p in range(indptr[b], indptr[b + 1]):
                mark[indices[p]] = 1
            for r in range(group_start[g], group_start[g + 1]):
                pair = pair_order[r]
                a = small[pair]
                count = 0
                for s in range(indptr[a], indptr[a + 1]):
                    w = indices[s]
                    if mark[w]:
                        count += 1
                        for z in range(q):
                            sums[z, pair] += weights[z, w]
                cn[pair] = count
            for p in range(indptr[b], indptr[b + 1]):
                mark[indices[p]] = 0


def common_neighbour_scores(
    indptr: np.ndarray, indices: np.ndarray, u: np.ndarray, v: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Common-neighbour count of each pair ``(u[p], v[p])`` and weighted sums over the common neighbours.

    Parameters
    ----------
    indptr, indices : symmetric CSR
    u, v : ndarray, shape (P,), int64
    weights : ndarray, shape (q, n), float64
        ``sums[r, p] = sum_{w in N(u[p]) ∩ N(v[p])} weights[r, w]`` (``q`` may be 0).

    Returns
    -------
    cn : ndarray, shape (P,), float64
    sums : ndarray, shape (q, P), float64

    Pairs are grouped by their larger-degree endpoint, whose neighbours are
    marked once per group; each pair then costs ``min(deg(u), deg(v))``.
    """
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    num_pairs = u.size
    cn = np.zeros(num_pairs, np.float64)
    sums = np.zeros((weights.shape[0], num_pairs), np.float64)
    if num_pairs == 0:
        return cn, sums
    deg = np.diff(indptr)
    swap = deg[u] < deg[v]
    big = np.where(swap, v, u)
    small = np.where(swap, u, v)
    pair_order = np.argsort(big, kind="stable")
    sorted_big = big[pair_order]
    heads = np.concatenate(([0], np.flatnonzero(sorted_big[1:] != sorted_big[:-1]) + 1))
    group_start = np.append(heads, num_pairs).astype(np.int64)
    group_node = sorted_big[heads]
    cost = deg[group_node] + np.add.reduceat(deg[small[pair_order]], heads)
    _common_grouped(
        indptr, indices, small, pair_order, group_start, group_node, deal_order(cost),
        np.ascontiguousarray(weights, np.float64), num_threads(), cn, sums,
    )
    return cn, sums

