"""Pair Topological Concentration: the TC term of one link ``(i, j)``, for any node pair.

``TC_K(i, j) = I(i, j) / D(i)`` is what ``j`` would contribute to node ``i``'s
evaluation-variant TC if ``(i, j)`` were ``i``'s only evaluation edge: the
paper's TC^Test at the level of one link, computable for every predicted link.

Reference: Wang, Zhao, Zhao, Liu, Cheng, Shah, Derr, "A Topological Perspective
on Demystifying GNN-Based Link Prediction Performance", ICLR 2024
(arXiv 2310.04612).

Pairs are grouped by their source ``i``: the dense rows of ``A^1..A^K`` for
``i`` are built once per distinct source (one thread per source), and the
reach sets ``S_k(j)`` of the distinct targets once per batch of sources under
the memory budget (the machinery of exact node TC); ``K = 1`` is a
common-neighbour count per pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import BackendUnavailable, InputError
from ._beta import default_beta
from ._exact import make_plan, run_source_batches, train_graph, validate_settings
from ._runner import current_runner

__all__ = ["PairTCResult", "pair_topological_concentration", "pair_source_costs"]


@dataclass(frozen=True, eq=False)
class PairTCResult:
    """Pair TC of every given pair, with the settings that produced it.

    Attributes
    ----------
    tc : ndarray, shape (P,), float64
        ``TC_K(i, j)`` of each pair in the given order; NaN where undefined.
    tc_by_hops : ndarray, shape (K, P), float64
        ``tc_by_hops[h - 1]`` is ``TC_h(i, j)`` for ``h = 1..K`` (same
        ``beta``); the last row equals ``tc``.
    beta : float
        The decay used (the default ``1 / mean degree`` when none was given).
    hops : int
        ``K``.
    backend : str
        ``"cpu"``.
    timings : dict
        Seconds per phase: ``prepare`` (simple graph, CSR, walk totals, pair
        grouping), ``reach``, ``kernel``, ``total``; ``batches``.
    num_nodes : int
    distinct_pairs : int
        Distinct ordered pairs ``(i, j)`` with ``i != j`` and ``deg(i) > 0``
        (each is computed once, repeats copy it).
    """

    tc: np.ndarray
    tc_by_hops: np.ndarray
    beta: float
    hops: int
    backend: str
    timings: dict = field(default_factory=dict)
    num_nodes: int = 0
    distinct_pairs: int = 0

    @property
    def defined(self) -> np.ndarray:
        """Boolean mask of the pairs whose TC is defined (``i != j`` and ``deg(i) > 0``)."""
        return ~np.isnan(self.tc)


@dataclass(frozen=True, eq=False)
class _PairPrep:
    """A train graph with the distinct pairs grouped by source, in the shape the batch driver reads."""

    csr: object  # _csr.Csr of the train graph
    ev: object  # _csr.Csr: row i holds the targets j of the distinct pairs (i, j), sorted
    walks: np.ndarray  # (K, n)
    degree: np.ndarray
    ev_degree: np.ndarray
    active: np.ndarray  # sources with at least one pair and deg > 0
    graph_bytes: int
    inverse: np.ndarray  # (P,) position of each given pair among the distinct ones, -1 if undefined


def _prepare(train: object, pairs: object, num_nodes: int | None, hops: int) -> _PairPrep:
    from . import _csr  # noqa: PLC0415  (imports Numba)

    tr, pr, n = _csr.resolve_graph(train, pairs, num_nodes, eval_name="pairs")
    graph = train_graph(tr, n, hops)
    degree = graph.csr.degree
    src, dst = pr
    ok = (src != dst) & (degree[src] > 0)
    keys = src[ok] * np.int64(n) + dst[ok]  # sorted keys group the pairs by source, targets ascending
    distinct, where = np.unique(keys, return_inverse=True)
    inverse = np.full(src.size, -1, np.int64)
    inverse[ok] = where.reshape(-1)
    sources, targets = distinct // n, distinct % n
    counts = np.bincount(sources, minlength=n)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    ev = _csr.Csr(indptr, targets.astype(graph.csr.indices.dtype), n, int(distinct.size))
    csr = graph.csr
    graph_bytes = sum(a.nbytes for a in (csr.indptr, csr.indices, graph.walks, degree, indptr, ev.indices)) * 2
    return _PairPrep(csr, ev, graph.walks, degree, counts, counts > 0, graph_bytes, inverse)


def _cpu_parts(prep: _PairPrep, hops: int, budget: int, progress: bool) -> tuple[np.ndarray, dict]:
    """``parts[(k1-1)*K + k2-1, q] = sum_{v in S_k2(j)} (A^k1)[i, v]`` per distinct pair ``q``."""
    from . import _cpu  # noqa: PLC0415

    csr, ev = prep.csr, prep.ev
    parts = np.zeros((hops * hops, ev.num_edges), np.float64)
    if hops == 1:
        t0 = time.perf_counter()
        sources = np.repeat(np.arange(csr.num_nodes, dtype=np.int64), prep.ev_degree)
        parts[0], _ = _cpu.common_neighbour_scores(
            csr.indptr, csr.indices, sources, ev.indices.astype(np.int64), np.zeros((0, csr.num_nodes))
        )
        return parts, {"reach": 0.0, "kernel": time.perf_counter() - t0, "batches": 1}

    def kernel(sources, jlocal, reach, buffers, cost) -> None:
        _cpu.pair_hop_sums(
            csr.indptr, csr.indices, ev.indptr, ev.indices, sources, jlocal, reach, hops, buffers, parts, cost
        )

    timings = run_source_batches(
        prep, hops, budget, progress, "pair TC", "raise --memory-budget or use fewer hops", kernel
    )
    return parts, timings


def pair_topological_concentration(
    train: object,
    pairs: object,
    *,
    hops: int = 2,
    beta: float | None = None,
    num_nodes: int | None = None,
    backend: str = "cpu",
    memory_budget: int | str | None = None,
    progress: bool = False,
) -> PairTCResult:
    r"""Pair Topological Concentration ``TC_K(i, j)`` of node pairs.

    With ``W_k = A^k`` (walk counts of the simple undirected train graph),
    ``w_k(i) = sum_v W_k[i, v]`` and ``S_k(j) = {v : W_k[j, v] > 0}``::

        I(i, j)    = sum_{k1,k2=1..K} beta^(k1+k2-2) * sum_{v in S_k2(j)} W_k1[i, v]
        D(i)       = sum_{k1,k2=1..K} beta^(k1+k2-2) * w_k1(i)
        TC_K(i, j) = I(i, j) / D(i)

    the term ``j`` would contribute to node ``i``'s evaluation-variant TC if
    ``(i, j)`` were ``i``'s only evaluation edge (so, for any evaluation edge
    set, node TC is the mean of pair TC over ``i``'s evaluation neighbours).
    It is not symmetric. ``K = 1``: ``|N(i) ∩ N(j)| / deg(i)``.

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
        Training edges (dense node indices), read as undirected; self-loops
        and duplicates are removed.
    pairs : ndarray of shape (2, P)
        Ordered pairs ``(i, j) = (pairs[0, p], pairs[1, p])``; they need not
        be edges, repeats are computed once.
    hops : int, default 2
        ``K``, 1 to 4.
    beta : float, optional
        Decay ``> 0``; default :func:`~topo_graphdb.kernels.default_beta` of
        the train graph over ``num_nodes`` nodes.
    num_nodes : int, optional
        Default: the snapshot's size, else the largest index in ``train`` or
        ``pairs`` plus one.
    backend : {"cpu", "auto"}
        Both run on the CPU (Numba); ``"gpu"`` raises BackendUnavailable
        (no GPU implementation yet).
    memory_budget : int or str, optional
        Bytes (or a size like ``"8G"``) for the reach sets; default half the
        free memory. Work is batched to fit.
    progress : bool
        Show a progress bar on stderr for long runs.

    Returns
    -------
    PairTCResult
        ``tc`` (shape (P,)) and ``tc_by_hops`` (shape (K, P)), NaN where
        undefined: ``deg(i) = 0``, or ``i == j`` (a self-loop is never an
        evaluation edge, as for the pair heuristics). A target ``j`` that
        ``i``'s walks cannot reach gives 0.

    Raises
    ------
    InputError
        Bad shapes or indices, ``hops`` outside 1..4, ``beta <= 0``.
    EmptyGraphError
        The train graph has no edge.
    BackendUnavailable
        ``backend="gpu"``.
    BudgetExceeded
        The work cannot be split to fit ``memory_budget``.

    Examples
    --------
    A triangle 0-1-2 with a tail 2-3; ``K = 1`` gives ``|N(i) ∩ N(j)| / deg(i)``:

    >>> import numpy as np
    >>> train = np.array([[0, 0, 1, 2], [1, 2, 2, 3]])
    >>> r = pair_topological_concentration(train, np.array([[0, 3, 2, 1], [3, 0, 2, 0]]), hops=1)
    >>> r.tc.round(4).tolist()  # (0, 3): N(0) ∩ N(3) = {2}; (3, 0): {2} / deg 1; (2, 2) undefined
    [0.5, 1.0, nan, 0.5]
    """
    t_start = time.perf_counter()
    runner = current_runner()
    if runner is not None and backend != "gpu":  # a Dask cluster was chosen for this work
        return runner.pair_tc(train, pairs, hops=hops, beta=beta, num_nodes=num_nodes, memory_budget=memory_budget,
                              progress=progress)
    if backend == "gpu":
        raise BackendUnavailable(
            "pair TC has no GPU implementation; got backend='gpu'", hint="use backend='cpu' (or 'auto')"
        )
    hops, beta, budget, backend = validate_settings(hops, beta, memory_budget, "cpu" if backend == "auto" else backend)
    if pairs is None:
        raise InputError("pairs must be an edge array of shape (2, P); got None")
    from ._cpu import threads_for  # noqa: PLC0415

    t0 = time.perf_counter()
    with threads_for(hops * _num_columns(getattr(train, "edge_index", train)) + _num_columns(pairs)):
        prep = _prepare(train, pairs, num_nodes, hops)
        t1 = time.perf_counter()
        parts, timings = _cpu_parts(prep, hops, budget, progress)
    timings = {"prepare": t1 - t0, **timings}
    degree, walks, inverse, train_edges = prep.degree, prep.walks, prep.inverse, prep.csr.num_edges
    sources = np.repeat(np.arange(degree.size, dtype=np.int64), prep.ev_degree)
    if beta is None:
        beta = default_beta(train, num_nodes, num_edges=int(train_edges))
    by_hops = _assemble(parts, walks[:, sources], hops, beta)
    out = np.full((hops, inverse.size), np.nan)
    defined = inverse >= 0
    out[:, defined] = by_hops[:, inverse[defined]]
    timings["total"] = time.perf_counter() - t_start
    return PairTCResult(
        tc=out[-1].copy(),
        tc_by_hops=out,
        beta=beta,
        hops=hops,
        backend=backend,
        timings=timings,
        num_nodes=int(degree.size),
        distinct_pairs=int(parts.shape[1]),
    )


def pair_source_costs(train: object, pairs: object, *, hops: int = 2, num_nodes: int | None = None) -> np.ndarray:
    """Per-source bound on the CPU work of :func:`pair_topological_concentration`; NaN for a node with no pair to compute.

    Node ``i``'s entry bounds the work of all the given pairs ``(i, j)``, by
    the estimate the kernels balance their threads with
    (:func:`topo_graphdb.kernels._exact.make_plan`). Shape (n,), float64;
    arguments as for :func:`pair_topological_concentration`. Costs
    ``O(K · |E| + P log P)``: the CSR, the walk totals and the pair grouping.

    >>> cost = pair_source_costs(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]), np.array([[0, 3, 3], [3, 0, 1]]), hops=1)
    >>> bool(cost[3] > cost[0] > 0), bool(np.isnan(cost[1]))  # node 3 has two pairs, node 1 none
    (True, True)
    """
    hops = validate_settings(hops, None, 1, "cpu")[0]
    if pairs is None:
        raise InputError("pairs must be an edge array of shape (2, P); got None")
    prep = _prepare(train, pairs, num_nodes, hops)
    return np.where(prep.active, make_plan(prep, hops, "cpu").source_cost, np.nan)


def _num_columns(edges: object) -> int:
    shape = np.shape(edges) if edges is not None else ()
    return int(shape[-1]) if len(shape) == 2 else 0


def _assemble(parts: np.ndarray, source_walks: np.ndarray, hops: int, beta: float) -> np.ndarray:
    """``TC_h`` for ``h = 1..K`` (shape (K, Q)) from the hop-pair parts and the sources' walk totals (K, Q)."""
    weights = beta ** np.arange(hops, dtype=np.float64)  # beta^(k-1)
    parts = parts.reshape(hops, hops, -1)
    out = np.empty((hops, parts.shape[2]), np.float64)
    numerator = np.zeros(parts.shape[2], np.float64)
    walk_sum = np.zeros(parts.shape[2], np.float64)
    for h in range(hops):  # grow the K x K square by its new row and column
        for k in range(h):
            numerator += weights[h] * weights[k] * (parts[h, k] + parts[k, h])
        numerator += weights[h] * weights[h] * parts[h, h]
        walk_sum += weights[h] * source_walks[h]
        out[h] = numerator / (weights[: h + 1].sum() * walk_sum)
    return out
