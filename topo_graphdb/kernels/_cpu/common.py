"""Common neighbours of node pairs (1 hop): counts and weighted sums over the shared neighbours; 3-step walks between pairs."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import deal_order, num_threads

__all__ = ["common_neighbour_scores", "three_walk_counts"]


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


@njit(cache=True, parallel=True)
def _walks_grouped(
    indptr: np.ndarray,
    indices: np.ndarray,
    small: np.ndarray,
    pair_order: np.ndarray,
    group_start: np.ndarray,
    group_node: np.ndarray,
    group_order: np.ndarray,
    nthreads: int,
    out: np.ndarray,
) -> None:
    # The pairs of group g share their larger-degree endpoint b = group_node[g]:
    # count[w] = (A^2)[b, w] is scattered once from b's 2-hop walks, then each
    # pair's smaller endpoint a sums count over its neighbours: (A^3)[a, b].
    n = indptr.size - 1
    num_groups = group_node.size
    for t in prange(nthreads):
        count = np.zeros(n, np.int32)
        for idx in range(t, num_groups, nthreads):
            g = group_order[idx]
            b = group_node[g]
            for p in range(indptr[b], indptr[b + 1]):
                x = indices[p]
                for s in range(indptr[x], indptr[x + 1]):
                    count[indices[s]] += 1
            for r in range(group_start[g], group_start[g + 1]):
                pair = pair_order[r]
                a = small[pair]
                total = 0
                for s in range(indptr[a], indptr[a + 1]):
                    total += count[indices[s]]
                out[pair] = total
            for p in range(indptr[b], indptr[b + 1]):
                x = indices[p]
                for s in range(indptr[x], indptr[x + 1]):
                    count[indices[s]] = 0


def _groups(indptr: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs grouped by their larger-degree endpoint: (degrees, smaller endpoints, pair order,
    group starts, group nodes, heads of the groups in the pair order)."""
    deg = np.diff(indptr)
    swap = deg[u] < deg[v]
    big = np.where(swap, v, u)
    small = np.where(swap, u, v)
    pair_order = np.argsort(big, kind="stable")
    sorted_big = big[pair_order]
    heads = np.concatenate(([0], np.flatnonzero(sorted_big[1:] != sorted_big[:-1]) + 1))
    group_start = np.append(heads, u.size).astype(np.int64)
    return deg, small, pair_order, group_start, sorted_big[heads], heads


def three_walk_counts(indptr: np.ndarray, indices: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(A^3)[u[p], v[p]] = sum_{w in N(u)} |N(w) ∩ N(v)|``, the 3-step walks of each pair; float64 (exact counts).

    Pairs are grouped by their larger-degree endpoint ``b``, whose 2-step walk
    counts ``(A^2)[b, :]`` are scattered once per group into a per-thread
    array of ``n`` int32; each pair then costs the smaller endpoint's degree
    (a merge per neighbour would cost ``deg(u) * deg(v)`` on top).
    """
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    out = np.zeros(u.size, np.float64)
    if u.size == 0:
        return out
    deg, small, pair_order, group_start, group_node, heads = _groups(indptr, u, v)
    row = np.repeat(np.arange(deg.size), deg)
    two_hop = np.bincount(row, weights=deg[indices].astype(np.float64), minlength=deg.size)  # scatter cost per node
    cost = 2 * two_hop[group_node] + np.add.reduceat(deg[small[pair_order]], heads)
    _walks_grouped(indptr, indices, small, pair_order, group_start, group_node, deal_order(cost), num_threads(), out)
    return out


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
    deg, small, pair_order, group_start, group_node, heads = _groups(indptr, u, v)
    cost = deg[group_node] + np.add.reduceat(deg[small[pair_order]], heads)
    _common_grouped(
        indptr, indices, small, pair_order, group_start, group_node, deal_order(cost),
        np.ascontiguousarray(weights, np.float64), num_threads(), cn, sums,
    )
    return cn, sums

