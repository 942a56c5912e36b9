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

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError
from ._beta import default_beta
from ._exact import MAX_HOPS, NodePrep, make_plan, prepare_nodes, run_source_batches, validate_settings
from ._runner import current_runner

__all__ = ["TCResult", "topological_concentration", "source_costs", "MAX_HOPS"]


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


# ----------------------------------------------------------------------------- CPU path
def _cpu_parts(prep: NodePrep, hops: int, budget: int, progress: bool) -> tuple[np.ndarray, dict]:
    from . import _cpu  # noqa: PLC0415

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

    def kernel(sources, jlocal, reach, buffers, cost) -> None:
        _cpu.hop_pair_sums(
            csr.indptr, csr.indices, ev.indptr, ev.indices, sources, jlocal, reach, hops, buffers, parts, cost
        )

    timings.update(
        run_source_batches(
            prep, hops, budget, progress, "exact TC",
            "raise --memory-budget, use fewer hops, or use the approximation (--approx)", kernel,
        )
    )
    return parts, timings


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
    nodes: object | None = None,
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
    nodes : array of int, optional
        Compute only these nodes (a block of a larger run): the others get
        NaN everywhere, the given ones the same values as without ``nodes``.
        The CPU kernels then do the work of these sources only.

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
    asked = backend
    hops, beta, budget, backend = validate_settings(hops, beta, memory_budget, backend)
    runner = current_runner()
    if runner is not None and asked != "gpu" and nodes is None:  # a Dask cluster was chosen for this work
        return runner.tc(train, eval, hops=hops, beta=beta, num_nodes=num_nodes, memory_budget=memory_budget,
                         progress=progress)
    if backend == "gpu":
        from . import _gpu  # noqa: PLC0415

        raw = _gpu.compute(train, eval, num_nodes, hops, budget, progress)  # every node: `nodes` only masks
        degree, ev_degree, walks, parts, variant = raw.degree, raw.ev_degree, raw.walks, raw.parts, raw.variant
        timings, train_edges, eval_edges = dict(raw.timings), raw.train_edges, raw.eval_edges
        selected = None if nodes is None else _selection(nodes, degree.size)
    else:
        from ._cpu import threads_for  # noqa: PLC0415

        with threads_for(hops * _num_columns(getattr(train, "edge_index", train)) + _num_columns(eval)):
            prep = prepare_nodes(train, eval, num_nodes, hops)
            selected = None if nodes is None else _selection(nodes, prep.degree.size)
            if selected is not None:  # the kernels visit the active sources only
                prep = replace(prep, active=prep.active & selected)
            parts, kernel_timings = _cpu_parts(prep, hops, budget, progress)
        degree, ev_degree, walks, variant = prep.degree, prep.ev_degree, prep.walks, prep.variant
        timings = {**prep.timings, **kernel_timings}
        train_edges, eval_edges = prep.csr.num_edges, prep.ev.num_edges
    n = degree.size
    if beta is None:
        beta = default_beta(train, num_nodes, num_edges=int(train_edges))
    tc, denominator, mean_parts = _assemble(parts, degree, ev_degree, walks, variant, hops, beta, selected)
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


def source_costs(train: object, eval: object | None = None, *, hops: int = 1, num_nodes: int | None = None) -> np.ndarray:
    """Per-node bound on the CPU work of :func:`topological_concentration`; NaN where TC is undefined (no work).

    The bound the kernels balance their threads and batches with
    (:func:`topo_graphdb.kernels._exact.make_plan`): row lookups of the
    hop-pair sums plus the edge visits that build the node's walk rows.
    Shape (n,), float64; arguments as for :func:`topological_concentration`.
    Costs ``O(K · |E|)``: the CSR and the walk totals, no kernel.

    >>> cost = source_costs(np.array([[0, 0, 1, 2], [1, 2, 2, 3]]), hops=2)
    >>> bool(cost[2] > cost[0] > 0), bool(np.isnan(cost[3]))  # node 2 is the hub; node 3's TC is undefined
    (True, True)
    """
    hops = validate_settings(hops, None, 1, "cpu")[0]
    prep = prepare_nodes(train, eval, num_nodes, hops)
    return np.where(prep.active, make_plan(prep, hops, "cpu").source_cost, np.nan)


def _selection(nodes: object, num_nodes: int) -> np.ndarray:
    """Boolean mask of ``nodes`` (validated: integers in 0..num_nodes-1)."""
    index = np.asarray(nodes)
    if index.ndim != 1 or (index.size and (not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= num_nodes)):
        raise InputError(f"nodes must be a 1-D array of node indices in 0..{num_nodes - 1}; got {_describe(index)}")
    mask = np.zeros(num_nodes, bool)
    mask[index] = True
    return mask


def _describe(index: np.ndarray) -> str:
    if index.ndim != 1 or not index.size or not np.issubdtype(index.dtype, np.number):
        return f"shape {index.shape}, dtype {index.dtype}"
    return f"values {index.min()}..{index.max()} ({index.dtype})"


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
    selected: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TC, ``D`` and mean hop-pair parts from the summed parts (shape (K*K, n)), NaN outside ``selected``."""
    active = (ev_degree > 0) & (degree >= (2 if variant == "train" else 1))
    if selected is not None:
        active &= selected
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
