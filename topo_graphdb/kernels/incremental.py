"""TC for chosen nodes, the nodes a graph change affects, and the drift statistic.

Pure functions over undirected edge arrays, used by incremental sync runs:

* :func:`affected_nodes`: the nodes whose K-hop ball gained an edge (only
  their TC_K can change);
* :func:`tc_for_nodes`: exact TC^Train of some nodes, computed on the
  subgraph induced by their K-hop ball;
* :func:`drift_stats`: the paper's topological distribution shift
  (mean TC^New vs mean TC^Train) of the nodes that gained edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..snapshot import adjacency_matrix
from .tc import topological_concentration

__all__ = ["affected_nodes", "tc_for_nodes", "drift_stats"]


def _ball(adj, seeds: np.ndarray, hops: int) -> np.ndarray:
    """Boolean mask of the nodes within ``hops`` of any seed (seeds included)."""
    mask = np.zeros(adj.shape[0], bool)
    mask[seeds] = True
    frontier = mask.copy()
    for _ in range(hops):
        if not frontier.any():
            break
        reached = adj[frontier].indices  # neighbours of the frontier
        new = np.zeros_like(mask)
        new[reached] = True
        new &= ~mask
        mask |= new
        frontier = new
    return mask


def affected_nodes(edges: np.ndarray, new_edges: np.ndarray, num_nodes: int, *, hops: int, batch: int = 256) -> np.ndarray:
    """Nodes whose K-hop neighbourhood contains a new edge (both of its ends).

    Node ``i`` is affected when some new edge ``(a, b)`` has
    ``dist(i, a) <= K`` and ``dist(i, b) <= K`` in the graph ``edges``
    (which must already contain the new edges). These are exactly the nodes
    whose induced K-hop ball gained an edge; TC_K of every other node is
    unchanged.

    Parameters
    ----------
    edges : ndarray (2, M) int64
        The current graph (undirected, any order), new edges included.
    new_edges : ndarray (2, m) int64
        The edges added since the previous run.
    num_nodes : int
    hops : int
        K >= 1.
    batch : int
        New edges handled per sparse product (bounds memory).

    Returns
    -------
    ndarray (num_nodes,) bool

    Examples
    --------
    A path 0-1-2-3-4 that gained edge 3-4: with K = 1 the ends 3 and 4 are
    affected; with K = 2 also node 2 (within 2 hops of both 3 and 4), but not
    node 1 (3 hops from node 4).

    >>> e = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    >>> np.flatnonzero(affected_nodes(e, np.array([[3], [4]]), 5, hops=1)).tolist()
    [3, 4]
    >>> np.flatnonzero(affected_nodes(e, np.array([[3], [4]]), 5, hops=2)).tolist()
    [2, 3, 4]
    """
    import scipy.sparse as sp  # noqa: PLC0415

    if isinstance(hops, bool) or not isinstance(hops, (int, np.integer)) or hops < 1:
        raise InputError(f"hops must be an integer >= 1; got {hops!r}")
    new = np.asarray(new_edges, dtype=np.int64).reshape(2, -1)
    new = new[:, new[0] != new[1]]
    out = np.zeros(num_nodes, bool)
    if new.shape[1] == 0:
        return out
    step = (adjacency_matrix(edges, num_nodes) + sp.identity(num_nodes, dtype=np.int8, format="csr")).tocsr()
    step.data[:] = 1
    for start in range(0, new.shape[1], batch):
        chunk = new[:, start : start + batch]
        ends, inv = np.unique(chunk.reshape(-1), return_inverse=True)
        # reach[:, c] = nodes within K hops of ends[c]
        reach = sp.csr_matrix(
            (np.ones(ends.size, np.int8), (ends, np.arange(ends.size))), shape=(num_nodes, ends.size)
        )
        for _ in range(hops):
            reach = step @ reach
            reach.data[:] = 1
        reach = reach.tocsc()
        ia, ib = inv.reshape(2, -1)
        both = reach[:, ia].multiply(reach[:, ib])
        out |= np.asarray(both.getnnz(axis=1) > 0).reshape(-1)
    return out


def tc_for_nodes(
    edges: np.ndarray,
    nodes: np.ndarray,
    num_nodes: int,
    *,
    hops: int,
    beta: float,
    backend: str = "auto",
    memory_budget: int | None = None,
    full_share: float = 0.6,
) -> np.ndarray:
    """Exact TC^Train of ``nodes`` only, on the subgraph induced by their K-hop ball.

    TC_K(i) depends only on the edges among the nodes within K hops of i, so
    it is the same on that induced subgraph as on the whole graph (``beta``
    must be given: the subgraph's mean degree is not the graph's). The
    subgraph keeps the node indices (nodes outside the ball become isolated
    and cost nothing), so the kernel's arithmetic per node is the same as in a
    whole-graph run. When the ball covers more than
    ``full_share`` of the nodes, the whole graph is used.

    Returns
    -------
    ndarray (len(nodes),) float64, NaN where undefined.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    if nodes.size == 0:
        return np.zeros(0)
    e = np.asarray(edges, dtype=np.int64)
    adj = adjacency_matrix(e, num_nodes)
    ball = _ball(adj, nodes, hops)
    if ball.sum() > full_share * num_nodes:
        res = topological_concentration(e, hops=hops, beta=beta, num_nodes=num_nodes, backend=backend, memory_budget=memory_budget)
        return res.tc[nodes]
    inside = ball[e[0]] & ball[e[1]]
    sub = e[:, inside]
    if sub.shape[1] == 0:
        return np.full(nodes.size, np.nan)
    # Same node indices (nodes outside the ball are isolated, hence skipped by the kernel): the
    # per-node arithmetic is then identical to a whole-graph run, bit for bit.
    res = topological_concentration(sub, hops=hops, beta=beta, num_nodes=num_nodes, backend=backend, memory_budget=memory_budget)
    return res.tc[nodes]


def drift_stats(
    old_edges: np.ndarray,
    new_edges: np.ndarray,
    num_nodes: int,
    *,
    hops: int,
    beta: float,
    backend: str = "auto",
    memory_budget: int | None = None,
) -> dict[str, Any]:
    """The paper's topological distribution shift for the nodes that gained edges.

    ``TC^New``: TC on the old graph with the new edges as evaluation edges;
    ``TC^Train``: TC (train variant) on the old graph. Both means are taken
    over the nodes that gained an edge and have both values defined.

    Returns
    -------
    dict with ``drift_new_edges``, ``drift_nodes`` (nodes that gained edges),
    ``drift_nodes_compared``, ``drift_tc_new``, ``drift_tc_train`` and
    ``drift_ratio`` (``None`` where nothing can be compared).
    """
    new = np.asarray(new_edges, dtype=np.int64).reshape(2, -1)
    new = new[:, new[0] != new[1]]
    gained = np.unique(new.reshape(-1))
    out: dict[str, Any] = {
        "drift_new_edges": int(new.shape[1]),
        "drift_nodes": int(gained.size),
        "drift_nodes_compared": 0,
        "drift_tc_new": None,
        "drift_tc_train": None,
        "drift_ratio": None,
    }
    old = np.asarray(old_edges, dtype=np.int64).reshape(2, -1)
    if gained.size == 0 or old.shape[1] == 0:
        return out
    tc_new = topological_concentration(
        old, new, hops=hops, beta=beta, num_nodes=num_nodes, backend=backend, memory_budget=memory_budget
    ).tc[gained]
    tc_train = tc_for_nodes(old, gained, num_nodes, hops=hops, beta=beta, backend=backend, memory_budget=memory_budget)
    both = ~np.isnan(tc_new) & ~np.isnan(tc_train)
    out["drift_nodes_compared"] = int(both.sum())
    if both.any():
        out["drift_tc_new"] = float(tc_new[both].mean())
        out["drift_tc_train"] = float(tc_train[both].mean())
        if out["drift_tc_train"] > 0:
            out["drift_ratio"] = out["drift_tc_new"] / out["drift_tc_train"]
    return out
