"""A deliberately naive Topological Concentration, written straight from the definition.

Python dicts of sets and walk-count dicts, one node pair at a time, as in the
paper's reference code. It is slow (about a minute and more for ``hops=2`` on a
graph with 10^5 edges) and exists to check the fast kernels of
:mod:`topo_graphdb.kernels.tc` and as the set-based baseline of the benchmark.

Definition (``shared`` TC definition; Wang et al., ICLR 2024, arXiv 2310.04612)::

    I(i, j) = sum_{k1, k2 = 1..K} beta^(k1+k2-2) * sum_{v in S_k2(j)} W_k1[i, v]
    D(i)    = sum_{k1, k2 = 1..K} beta^(k1+k2-2) * (w_k1(i) - c(k1, k2))
    TC_K(i) = mean_{j in N_ev(i)} I(i, j) / D(i)

with ``W_k = A^k`` (walk counts), ``w_k(i) = sum_v W_k[i, v]``, ``S_k(j)`` the
nodes reached from ``j`` by a walk of exactly ``k`` steps, and ``c = 1`` only in
the train variant for ``k1 = k2 = 1``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["naive_tc", "naive_beta", "naive_pair_tc"]


def _adjacency(edges: np.ndarray, num_nodes: int) -> list[set[int]]:
    adj: list[set[int]] = [set() for _ in range(num_nodes)]
    for a, b in zip(np.asarray(edges[0]).tolist(), np.asarray(edges[1]).tolist()):
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    return adj


def _walk_rows(adj: list[set[int]], i: int, hops: int) -> list[dict[int, int]]:
    """``rows[k-1][v]`` = number of walks of length k from i to v (only non-zero entries)."""
    rows = [{v: 1 for v in adj[i]}]
    for _ in range(1, hops):
        nxt: dict[int, int] = {}
        for u, count in rows[-1].items():
            for v in adj[u]:
                nxt[v] = nxt.get(v, 0) + count
        rows.append(nxt)
    return rows


def _reach_sets(adj: list[set[int]], j: int, hops: int) -> list[set[int]]:
    """``sets[k-1]`` = nodes reached from j by a walk of exactly k steps."""
    sets = [set(adj[j])]
    for _ in range(1, hops):
        sets.append({v for u in sets[-1] for v in adj[u]})
    return sets


def naive_beta(train: np.ndarray, num_nodes: int) -> float:
    """``1 / mean degree`` over all ``num_nodes`` nodes of the simple undirected train graph."""
    adj = _adjacency(train, num_nodes)
    return num_nodes / sum(len(s) for s in adj)


def naive_tc(
    train: np.ndarray,
    eval: np.ndarray | None = None,
    *,
    hops: int = 1,
    beta: float | None = None,
    num_nodes: int | None = None,
    cache_reach: bool = True,
) -> np.ndarray:
    """Exact TC per node, computed the slow obvious way; NaN where undefined.

    Parameters
    ----------
    train, eval : ndarray, shape (2, E)
        Training edges and (optionally) evaluation edges, dense node indices,
        read as undirected; self-loops and duplicates are ignored.
    hops : int
        ``K >= 1``.
    beta : float, optional
        Decay; default ``1 / mean degree`` over all ``num_nodes`` nodes.
    num_nodes : int, optional
        Default: largest index in either edge array plus one.
    cache_reach : bool
        Keep each neighbour's reach sets once computed (default). ``False``
        recomputes them for every pair ``(i, j)``, literally as the formula
        reads (the slower baseline of the benchmark).

    Returns
    -------
    ndarray, shape (num_nodes,), float64

    >>> naive_tc(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]))  # triangle 0-1-2 with a tail 2-3
    array([1.        , 1.        , 0.33333333,        nan])
    """
    train = np.asarray(train)
    if num_nodes is None:
        parts = [train.max()] + ([np.asarray(eval).max()] if eval is not None and np.size(eval) else [])
        num_nodes = int(max(parts)) + 1
    adj = _adjacency(train, num_nodes)
    is_train = eval is None
    ev_adj = adj if is_train else _adjacency(np.asarray(eval), num_nodes)
    if beta is None:
        beta = num_nodes / sum(len(s) for s in adj)
    reach_cache: dict[int, list[set[int]]] = {}
    out = np.full(num_nodes, np.nan)
    for i in range(num_nodes):
        deg = len(adj[i])
        if not ev_adj[i] or deg == 0 or (is_train and deg <= 1):
            continue
        rows = _walk_rows(adj, i, hops)
        denominator = 0.0
        for k1 in range(1, hops + 1):
            walks = sum(rows[k1 - 1].values())
            for k2 in range(1, hops + 1):
                c = 1 if (is_train and k1 == 1 and k2 == 1) else 0
                denominator += beta ** (k1 + k2 - 2) * (walks - c)
        ratios = []
        for j in ev_adj[i]:
            if not cache_reach:
                sets = _reach_sets(adj, j, hops)
            elif j in reach_cache:
                sets = reach_cache[j]
            else:
                sets = reach_cache[j] = _reach_sets(adj, j, hops)
            numerator = 0.0
            for k1 in range(1, hops + 1):
                for k2 in range(1, hops + 1):
                    overlap = sum(rows[k1 - 1].get(v, 0) for v in sets[k2 - 1])
                    numerator += beta ** (k1 + k2 - 2) * overlap
            ratios.append(numerator / denominator)
        out[i] = math.fsum(ratios) / len(ratios)
    return out


def naive_pair_tc(
    train: np.ndarray, pairs: np.ndarray, *, hops: int = 2, beta: float | None = None, num_nodes: int | None = None
) -> np.ndarray:
    """Pair TC ``TC_K(i, j) = I(i, j) / D(i)`` per pair from dense matrix powers; NaN where undefined.

    ``W_k = A^k`` as dense integer matrices, ``S_k(j)`` the non-zeros of row
    ``j`` of ``W_k``, ``D(i)`` the evaluation-variant denominator (no ``c``
    term). Undefined: ``deg(i) = 0`` or ``i == j``. Dense, so only for small
    graphs. Returns shape (P,), float64.

    >>> naive_pair_tc(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]), np.array([[0, 3], [3, 0]]), hops=1)
    array([0.5, 1. ])
    """
    train = np.asarray(train)
    pairs = np.asarray(pairs)
    if num_nodes is None:
        num_nodes = int(max(train.max(), pairs.max() if pairs.size else 0)) + 1
    adj = np.zeros((num_nodes, num_nodes), np.int64)
    for a, b in zip(train[0].tolist(), train[1].tolist()):
        if a != b:
            adj[a, b] = adj[b, a] = 1
    if beta is None:
        beta = num_nodes / adj.sum()
    powers = [adj]
    for _ in range(1, hops):
        powers.append(powers[-1] @ adj)
    out = np.full(pairs.shape[1], np.nan)
    for p, (i, j) in enumerate(zip(pairs[0].tolist(), pairs[1].tolist())):
        if i == j or adj[i].sum() == 0:
            continue
        numerator = denominator = 0.0
        for k1 in range(1, hops + 1):
            for k2 in range(1, hops + 1):
                weight = beta ** (k1 + k2 - 2)
                reach = powers[k2 - 1][j] > 0
                numerator += weight * powers[k1 - 1][i][reach].sum()
                denominator += weight * powers[k1 - 1][i].sum()
        out[p] = numerator / denominator
    return out
