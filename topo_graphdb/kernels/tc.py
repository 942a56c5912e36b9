"""Exact Topological Concentration (TC) of every node, CPU (Numba) or GPU (CuPy).

Reference: Wang, Zhao, Zhao, Liu, Cheng, Shah, Derr, "A Topological Perspective
on Demystifying GNN-Based Link Prediction Performance", ICLR 2024
(arXiv 2310.04612).

Never materialises ``A^k`` for the whole graph: for ``K = 1`` it intersects
adjacency rows per evaluation edge; for ``K >= 2`` it walks the source nodes
``i`` one at a time per thread, keeping dense rows of ``A^1..A^K`` for ``i``
only, and reads the reach sets ``S_k(j)`` of i's evaluation neighbours from a
table built per batch of sources under the memory budget (large reach sets
as dense 0/1 rows that are added into a counter vector, small ones as lists
looked up one node at a time). All sums are sums of integer walk counts.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from ..errors import BudgetExceeded, EmptyGraphError, InputError
from ._beta import default_beta

__all__ = ["TCResult", "topological_concentration", "MAX_HOPS"]

MAX_HOPS = 4
_BUDGET_SHARE = 0.5  # default budget: this share of the free memory of the backend


@dataclass(frozen=True, eq=False)
class TCResult:
    """Exact TC of every node, with the settings that produced it.

    Attributes
    ----------
    tc : ndarray, shape (n,), float64
        ``TC_K(i)``; NaN where undefined.
    beta : float
        The decay used (the default ``1 / mean degree`` when none was given).
    hops : int
        ``K``.
    variant : str
        ``"train"`` (evaluation edges = train edges) or ``"eval"``.
    backend : str
        ``"cpu"`` or ``"gpu"``.
    timings : dict
        Seconds per phase: ``prepare`` (simple graph and CSR), ``walk_totals``,
        ``reach`` (reach-set tables), ``kernel`` (intersections / hop-pair
        sums), ``total``.
    denominator : ndarray, shape (n,), float64
        ``D(i)``; NaN where TC is undefined.
    parts : ndarray, shape (K, K, n), float64
        ``parts[k1-1, k2-1, i] = mean_{j in N_ev(i)} sum_{v in S_k2(j)} (A^k1)[i, v]``
        (the unweighted hop-pair overlaps), NaN where TC is undefined, so that
        ``tc = sum_{k1,k2} beta^(k1+k2-2) * parts[k1-1, k2-1] / denominator``.
    num_nodes, train_edges, eval_edges : int
        Nodes, and simple undirected edges of the train and evaluation graphs.
    batches : int
        Batches of source nodes the memory budget required (1: all at once).
    """

    tc: np.ndarray
    beta: float
    hops: int
    variant: str
    backend: str
    timings: dict = field(default_factory=dict)
    denominator: np.ndarray | None = None
    parts: np.ndarray | None = None
    num_nodes: int = 0
    train_edges: int = 0
    eval_edges: int = 0
    batches: int = 1

    @property
    def defined(self) -> np.ndarray:
        """Boolean mask of the nodes whose TC is defined."""
        return ~np.isnan(self.tc)


# ----------------------------------------------------------------------------- validation
def _validate(hops: object, beta: object, memory_budget: object, backend: object) -> tuple[int, float | None, int, str]:
    from ..backend import free_memory_bytes, resolve_backend  # noqa: PLC0415

    if isinstance(hops, bool) or not isinstance(hops, (int, np.integer)) or not 1 <= int(hops) <= MAX_HOPS:
        raise InputError(f"hops must be an integer in 1..{MAX_HOPS}; got {hops!r}")
    if beta is not None:
        if isinstance(beta, bool) or not isinstance(beta, Real) or not math.isfinite(float(beta)) or float(beta) <= 0:
            raise InputError(f"beta must be a finite number > 0; got {beta!r}")
        beta = float(beta)
    if memory_budget is not None:
        if isinstance(memory_budget, str):
            from .estimate import parse_size  # noqa: PLC0415

            memory_budget = parse_size(memory_budget)
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, Real) or not float(memory_budget) > 0:
            raise InputError(f"memory_budget must be a number of bytes > 0; got {memory_budget!r}")
    if not isinstance(backend, str):
        raise InputError(f"backend must be one of auto, cpu, gpu; got {backend!r}")
    backend = resolve_backend(backend)
    if memory_budget is None:
        memory_budget = _BUDGET_SHARE * free_memory_bytes(backend)
    return int(hops), beta, int(memory_budget), backend


# ----------------------------------------------------------------------------- preparation
@dataclass(frozen=True, eq=False)
class _Prepared:
    csr: object  # _csr.Csr of the train graph
    ev: object  # _csr.Csr of the evaluation graph (the train CSR in the train variant)
    ev_canon: np.ndarray  # (2, M') canonical evaluation edges
    degree: np.ndarray
    ev_degree: np.ndarray
    walks: np.ndarray  # (K, n)
    variant: str
    active: np.ndarray  # nodes whose TC is defined
    graph_bytes: int
    timings: dict


def _prepare(train: object, eval: object | None, num_nodes: int | None, hops: int) -> _Prepared:
    from . import _csr  # noqa: PLC0415  (imports Numba)

    t0 = time.perf_counter()
    tr, ev, n = _csr.resolve_graph(train, eval, num_nodes)
    canon = _csr.canonical_edges(tr, n)
    if canon.shape[1] == 0:
        raise EmptyGraphError(
            "the train graph has no edges (after removing self-loops)", hint="pass at least one edge between two nodes"
        )
    csr = _csr.csr_from_canonical(canon, n)
    if ev is None:
        variant, ev_csr, ev_canon = "train", csr, canon
    else:
        variant = "eval"
        ev_canon = _csr.canonical_edges(ev, n)
        ev_csr = _csr.csr_from_canonical(ev_canon, n)
    t1 = time.perf_counter()
    degree = csr.degree
    ev_degree = ev_csr.degree
    walks = _csr.walk_totals(csr, hops)
    t2 = time.perf_counter()
    active = (ev_degree > 0) & (degree >= (2 if variant == "train" else 1))
    graph_bytes = sum(a.nbytes for a in (csr.indptr, csr.indices, walks, degree)) * 2  # + eval CSR / temporaries
    return _Prepared(
        csr, ev_csr, ev_canon, degree, ev_degree, walks, variant, active, graph_bytes,
        {"prepare": t1 - t0, "walk_totals": t2 - t1},
    )


def _neighbours_of(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated neighbour lists of ``rows`` (with repeats)."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return indices[offsets + np.arange(total)].astype(np.int64)


def _unique_nodes(nodes: np.ndarray, num_nodes: int) -> np.ndarray:
    """Sorted distinct entries of ``nodes`` (all in 0..num_nodes-1), via a mask (faster than np.unique)."""
    mask = np.zeros(num_nodes, bool)
    mask[nodes] = True
    return np.flatnonzero(mask)


# ----------------------------------------------------------------------------- CPU path
def _cpu_parts(prep: _Prepared, hops: int, budget: int, progress: bool) -> tuple[np.ndarray, dict]:
    from . import _cpu  # noqa: PLC0415
    from .estimate import format_size, make_plan  # noqa: PLC0415

    csr, ev = prep.csr, prep.ev
    n = csr.num_nodes
    parts = np.zeros((hops * hops, n), np.float64)
    timings = {"reach": 0.0, "kernel": 0.0, "batches": 1}
    if hops == 1:
        t0 = time.perf_counter()
        lo, hi = prep.ev_canon
        keep = prep.active[lo] | prep.active[hi]
        lo, hi = lo[keep], hi[keep]
        cn, _ = _cpu.common_neighbour_scores(csr.indptr, csr.indices, lo, hi, np.zeros((0, n)))
        parts[0] = np.bincount(lo, cn, minlength=n) + np.bincount(hi, cn, minlength=n)
        timings["kernel"] = time.perf_counter() - t0
        return parts, timings

    plan = make_plan(prep, hops, "cpu")
    room = budget - plan.fixed_bytes
    if room <= 0:
        raise BudgetExceeded(
            f"exact TC with hops={hops} needs at least {format_size(plan.fixed_bytes)} for the graph and "
            f"{_cpu.num_threads()} thread buffers; the memory budget is {format_size(budget)}",
            hint="raise --memory-budget, use fewer hops, or use the approximation (--approx)",
        )
    sources = np.flatnonzero(prep.active)
    needed = _unique_nodes(_neighbours_of(ev.indptr, ev.indices, sources), n)
    capacity = np.minimum(prep.walks[1:], float(n)).astype(np.int64)  # |S_k(j)| <= min(n, w_k(j))
    if plan.node_bytes[needed].sum() <= room:
        batches = [sources]
    else:  # size the reach tables exactly, then batch the sources to fit
        t0 = time.perf_counter()
        counts = _cpu.reach_counts(csr.indptr, csr.indices, needed, hops, plan.reach_bound[needed])
        timings["reach"] += time.perf_counter() - t0
        capacity[:, needed] = counts
        size = np.zeros(n, np.float64)
        size[needed] = counts.sum(axis=0) * csr.indices.itemsize + 16.0 * (hops - 1)
        batch_of = _cpu.greedy_batches(sources, plan.own_bytes, ev.indptr, ev.indices, size, float(room))
        if sources.size and batch_of.min() < 0:
            worst = sources[batch_of < 0][0]
            raise BudgetExceeded(
                f"exact TC with hops={hops}: the reach sets of node {worst}'s evaluation neighbours alone exceed "
                f"the memory budget {format_size(budget)}",
                hint="raise --memory-budget, use fewer hops, or use the approximation (--approx)",
            )
        batches = np.split(sources, np.flatnonzero(np.diff(batch_of)) + 1)

    timings["batches"] = len(batches)
    total_cost = float(plan.source_cost[sources].sum())
    bar = _progress_bar(progress and total_cost > 5e7, total_cost, f"exact TC (hops={hops})")
    jlocal = np.full(n, -1, np.int64)
    buffers = _cpu.walk_buffers(
        n, csr.num_edges, hops, int(prep.degree.max()), int(prep.ev_degree.max()), csr.indices.dtype
    )
    try:
        for batch in batches:
            t0 = time.perf_counter()
            targets = _unique_nodes(_neighbours_of(ev.indptr, ev.indices, batch), n)
            jlocal[targets] = np.arange(targets.size)
            reach = _cpu.reach_sets(
                csr.indptr, csr.indices, targets, hops, plan.reach_bound[targets], capacity[:, targets], room
            )
            t1 = time.perf_counter()
            timings["reach"] += t1 - t0
            for piece in _slices(batch, plan.source_cost, 64 if bar is not None else 1):
                _cpu.hop_pair_sums(
                    csr.indptr, csr.indices, ev.indptr, ev.indices, piece, jlocal, reach, hops, buffers, parts,
                    plan.source_cost,
                )
                if bar is not None:
                    bar.update(float(plan.source_cost[piece].sum()))
            timings["kernel"] += time.perf_counter() - t1
            jlocal[targets] = -1
            del reach
    finally:
        if bar is not None:
            bar.close()
    return parts, timings


def _slices(sources: np.ndarray, cost: np.ndarray, pieces: int) -> list[np.ndarray]:
    """Split sources into about ``pieces`` contiguous runs of similar total cost (for progress updates)."""
    from ._cpu import chunk_bounds  # noqa: PLC0415

    if pieces <= 1 or sources.size <= pieces:
        return [sources]
    bounds = chunk_bounds(cost[sources], pieces)
    return [sources[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _progress_bar(enabled: bool, total: float, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=desc, unit="op", unit_scale=True, file=sys.stderr, leave=False)


# ----------------------------------------------------------------------------- public API
def topological_concentration(
    train: object,
    eval: object | None = None,
    *,
    hops: int = 1,
    beta: float | None = None,
    num_nodes: int | None = None,
    backend: str = "auto",
    memory_budget: int | None = None,
    progress: bool = False,
) -> TCResult:
    r"""Exact Topological Concentration of every node.

    With ``W_k = A^k`` (walk counts of the simple undirected train graph),
    ``w_k(i) = sum_v W_k[i, v]`` and ``S_k(j) = {v : W_k[j, v] > 0}`` (nodes
    reached from ``j`` by a walk of *exactly* ``k`` steps)::

        I(i, j) = sum_{k1,k2=1..K} beta^(k1+k2-2) * sum_{v in S_k2(j)} W_k1[i, v]
        D(i)    = sum_{k1,k2=1..K} beta^(k1+k2-2) * (w_k1(i) - c(k1, k2))
        TC_K(i) = mean_{j in N_ev(i)} I(i, j) / D(i)

    where ``c(1, 1) = 1`` in the train variant and ``c = 0`` otherwise. Node
    i's side counts walks (with multiplicity), the neighbour j's side is a set.
    For ``K = 1`` the train variant is the local clustering coefficient and
    the evaluation variant is ``mean_j |N(i) ∩ N(j)| / deg(i)``.

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
        Training edges as dense integer node indices, read as undirected;
        self-loops and duplicate edges (either direction) are removed.
        A :class:`~topo_graphdb.snapshot.GraphSnapshot` contributes its
        ``edge_index`` and ``num_nodes``.
    eval : ndarray of shape (2, E'), optional
        Evaluation edges on the same indices (held-out or new edges), treated
        like ``train``. ``None`` gives the train variant (``E_ev = E_tr``).
    hops : int, default 1
        ``K``, 1 to 4.
    beta : float, optional
        Decay ``> 0``; default ``1 / mean degree`` of the train graph over all
        ``num_nodes`` nodes (zero-degree nodes included), so both variants of
        one graph share it.
    num_nodes : int, optional
        Default: the snapshot's size, else the largest index in either edge
        array plus one.
    backend : {"auto", "cpu", "gpu"}
        ``"gpu"`` needs CuPy and a CUDA device (else BackendUnavailable).
    memory_budget : int or str, optional
        Bytes (or a size like ``"8G"``) the computation may use; default half
        the free memory of the backend. Work is batched to fit; BudgetExceeded
        when even one batch cannot fit.
    progress : bool
        Show a progress bar on stderr for long runs.

    Returns
    -------
    TCResult
        ``tc`` of shape (n,), NaN where undefined: no evaluation neighbour;
        in the train variant also ``deg(i) <= 1``; otherwise also ``deg(i) = 0``.

    Raises
    ------
    InputError
        Bad shapes, indices, ``hops`` outside 1..4, ``beta <= 0``, ``memory_budget <= 0``.
    EmptyGraphError
        The train graph has no edge.
    BackendUnavailable
        ``backend="gpu"`` without CuPy or a CUDA device.
    BudgetExceeded
        The work cannot be split to fit ``memory_budget``.

    Examples
    --------
    A triangle 0-1-2 with a tail 2-3 (``K = 1``, train variant: clustering
    coefficients; node 3 has degree 1, undefined):

    >>> import numpy as np
    >>> r = topological_concentration(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]), backend="cpu")
    >>> r.tc.round(4).tolist()
    [1.0, 1.0, 0.3333, nan]
    >>> r.beta  # 1 / mean degree = 4 nodes / 8 endpoint slots
    0.5
    """
    t_start = time.perf_counter()
    hops, beta, budget, backend = _validate(hops, beta, memory_budget, backend)
    if backend == "gpu":
        from . import _gpu  # noqa: PLC0415

        raw = _gpu.compute(train, eval, num_nodes, hops, budget, progress)
        degree, ev_degree, walks, parts, variant = raw.degree, raw.ev_degree, raw.walks, raw.parts, raw.variant
        timings, train_edges, eval_edges = dict(raw.timings), raw.train_edges, raw.eval_edges
    else:
        from ._cpu import threads_for  # noqa: PLC0415

        with threads_for(hops * _num_columns(getattr(train, "edge_index", train)) + _num_columns(eval)):
            prep = _prepare(train, eval, num_nodes, hops)
            parts, kernel_timings = _cpu_parts(prep, hops, budget, progress)
        degree, ev_degree, walks, variant = prep.degree, prep.ev_degree, prep.walks, prep.variant
        timings = {**prep.timings, **kernel_timings}
        train_edges, eval_edges = prep.csr.num_edges, prep.ev.num_edges
    n = degree.size
    if beta is None:
        beta = default_beta(train, num_nodes, num_edges=int(train_edges))
    tc, denominator, mean_parts = _assemble(parts, degree, ev_degree, walks, variant, hops, beta)
    batches = int(timings.pop("batches", 1))
    timings["total"] = time.perf_counter() - t_start
    return TCResult(
        tc=tc,
        beta=beta,
        hops=hops,
        variant=variant,
        backend=backend,
        timings=timings,
        denominator=denominator,
        parts=mean_parts,
        num_nodes=int(n),
        train_edges=int(train_edges),
        eval_edges=int(eval_edges),
        batches=batches,
    )


def _num_columns(edges: object) -> int:
    shape = np.shape(edges) if edges is not None else ()
    return int(shape[-1]) if len(shape) == 2 else 0


def _assemble(
    parts: np.ndarray,
    degree: np.ndarray,
    ev_degree: np.ndarray,
    walks: np.ndarray,
    variant: str,
    hops: int,
    beta: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TC, ``D`` and mean hop-pair parts from the summed parts (shape (K*K, n))."""
    active = (ev_degree > 0) & (degree >= (2 if variant == "train" else 1))
    weights = beta ** np.arange(hops, dtype=np.float64)  # beta^(k-1)
    denominator = weights.sum() * (weights @ walks) - (1.0 if variant == "train" else 0.0)
    numerator = np.zeros(degree.size, np.float64)
    for k1 in range(hops):
        for k2 in range(hops):
            numerator += weights[k1] * weights[k2] * parts[k1 * hops + k2]
    tc = np.full(degree.size, np.nan)
    counts = ev_degree[active].astype(np.float64)
    tc[active] = numerator[active] / (counts * denominator[active])
    mean_parts = np.full((hops, hops, degree.size), np.nan)
    mean_parts[:, :, active] = parts.reshape(hops, hops, -1)[:, :, active] / counts
    denominator = np.where(active, denominator, np.nan)
    return tc, denominator, mean_parts
