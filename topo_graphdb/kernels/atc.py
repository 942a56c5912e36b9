r"""Approximate Topological Concentration (ATC): this package's own estimator of TC.

Reference for TC and the idea of approximating it: Wang, Zhao, Zhao, Liu, Cheng,
Shah, Derr, "A Topological Perspective on Demystifying GNN-Based Link Prediction
Performance", ICLR 2024 (arXiv 2310.04612), section on ATC. The estimator here
is not the paper's: the ``(1, 1)`` hop-pair term is exact (sorted-list
intersections), the ``(1, 2)``/``(2, 1)`` terms are exact for pairs with a small
degree product, and the other terms are random-projection estimates against
min-hash-calibrated reach-set surrogates; every estimated term is clipped to the
range of the exact one, so ATC is biased (clipping buys a better ranking).
Cost: ``O(K·(d + sketch_size)·|E|)`` to propagate, ``O(K²·d·|E_eval|)`` for the
evaluation pairs, plus triangle counting for the exact terms; memory
``O(K·d·|V|)``. :func:`approximate_tc` states the formula and the exact costs.

The pipeline is written once against an array module: the CPU runs it with
NumPy and the Numba kernels of :mod:`._atc_cpu`, the GPU with CuPy and the
kernels of :mod:`._atc_gpu` (CuPy is imported only then). Random numbers come
from a counter-based hash of ``(seed, node, column)``, so both backends draw the
same projection for the same seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from ..backend import resolve_backend
from ..errors import InputError
from ._atc_gpu import gpu_ops
from ._atc_stages import MAX_HOPS, estimate_all, prepare_graph
from ._beta import default_beta
from ._runner import current_runner

__all__ = ["ATCResult", "approximate_tc"]


@dataclass(frozen=True, eq=False)
class ATCResult:
    """Approximate TC of every node, with the settings that produced it.

    Attributes
    ----------
    tc : ndarray, shape (n,), float64
        ATC in [0, 1]; NaN exactly where exact TC is undefined.
    beta : float
        The decay used (the default ``1 / mean degree`` when none was given).
    hops : int
        ``K``.
    dim : int
        Projection dimension ``d``.
    seed : int
        Seed of the projection and the sketches (same seed, same values).
    variant : str
        ``"train"`` (evaluation edges = train edges) or ``"eval"``.
    backend : str
        ``"cpu"`` or ``"gpu"``.
    timings : dict
        Seconds per phase: ``prepare`` (simple graph, CSR, walk totals),
        ``hop1`` (exact common neighbours), ``propagate`` (projections),
        ``sketch`` (reach-set sizes), ``pairs`` (per-pair dot products),
        ``paths`` (exact ``(1, 2)``/``(2, 1)`` terms of low-degree pairs), ``total``.
    exact_hop1 : bool
        Whether the ``(1, 1)`` hop pair (and the ``(1, 2)``/``(2, 1)`` pairs of
        low-degree node pairs) were computed exactly.
    sketch_size : int
        Min-hash values per node used for the reach-set sizes.
    denominator : ndarray, shape (n,), float64
        The exact ``D(i)``; NaN where TC is undefined.
    num_nodes, train_edges, eval_edges : int
        Nodes, and simple undirected edges of the train and evaluation graphs.
    """

    tc: np.ndarray
    beta: float
    hops: int
    dim: int
    seed: int
    variant: str
    backend: str
    timings: dict = field(default_factory=dict)
    exact_hop1: bool = True
    sketch_size: int = 64
    denominator: np.ndarray | None = None
    num_nodes: int = 0
    train_edges: int = 0
    eval_edges: int = 0

    @property
    def defined(self) -> np.ndarray:
        """Boolean mask of the nodes whose TC is defined."""
        return ~np.isnan(self.tc)


# ----------------------------------------------------------------------------- validation
def _int_in(name: str, value: object, low: int, high: int | None = None) -> int:
    ok = isinstance(value, Integral) and not isinstance(value, bool)
    if ok and int(value) >= low and (high is None or int(value) <= high):
        return int(value)
    allowed = f"{low}..{high}" if high is not None else f">= {low}"
    raise InputError(f"{name} must be an integer in {allowed}; got {value!r}")


def validate_atc(
    hops: object, beta: object, dim: object, seed: object, sketch_size: object, exact_hop1: object, backend: object
) -> tuple[int, float | None, int, int, int, bool, str]:
    hops = _int_in("hops", hops, 1, MAX_HOPS)
    dim = _int_in("dim", dim, 1, 1 << 16)
    seed = _int_in("seed", seed, 0, 2**63 - 1)
    sketch_size = _int_in("sketch_size", sketch_size, 8, 1 << 12)
    if beta is not None:
        if isinstance(beta, bool) or not isinstance(beta, Real) or not math.isfinite(float(beta)) or float(beta) <= 0:
            raise InputError(f"beta must be a finite number > 0; got {beta!r}")
        beta = float(beta)
    if not isinstance(exact_hop1, (bool, np.bool_)):
        raise InputError(f"exact_hop1 must be True or False; got {exact_hop1!r}")
    if not isinstance(backend, str):
        raise InputError(f"backend must be one of auto, cpu, gpu; got {backend!r}")
    return hops, beta, dim, seed, sketch_size, bool(exact_hop1), resolve_backend(backend)


# ----------------------------------------------------------------------------- random numbers
def approximate_tc(
    train: object,
    eval: object | None = None,
    *,
    hops: int = 2,
    beta: float | None = None,
    dim: int = 128,
    seed: int = 0,
    num_nodes: int | None = None,
    backend: str = "auto",
    exact_hop1: bool = True,
    sketch_size: int = 64,
) -> ATCResult:
    r"""Approximate Topological Concentration of every node (this package's estimator; biased, see 3.).

    Exact TC (see :func:`~topo_graphdb.kernels.tc.topological_concentration`)
    is, with ``W_k = A^k``, ``w_k = W_k·1``, ``S_k(j) = {v : W_k[j, v] > 0}``
    and ``b_k = beta^(k-1)``::

        TC_K(i) = mean_{j in N_ev(i)} sum_{k1,k2} b_k1 b_k2 T_k1k2(i, j) / D(i)
        T_k1k2(i, j) = sum_{v in S_k2(j)} W_k1[i, v]  =  < W_k1[i, :], 1_{S_k2(j)} >

    ATC keeps the exact denominator ``D(i)`` (walk totals ``A^k·1``) and
    replaces each overlap ``T_k1k2`` by an estimate ``T^_k1k2``:

    1. *Set surrogate.* With the non-backtracking walk matrices ``B_0 =
       diag(deg > 0)``, ``B_1 = A``, ``B_2 = A² - Deg``, ``B_{k+1} = A B_k -
       (Deg - I) B_{k-1}`` (walks that never step straight back), every walk
       of length ``k`` either does not backtrack or shortens by two steps to
       the same end, so ``S_k(j) = S_{k-2}(j) ∪ supp B_k[j, :]``. The
       indicator ``1_{S_k(j)}`` is replaced by the row ``j`` of::

           Ŝ_k = Ŝ_{k-2} + diag(rho_k) B_k,   Ŝ_0 = B_0,  Ŝ_1 = A,
           rho_k(j) = (s_k(j) - s_{k-2}(j)) / (B_k·1)(j)   (clipped to [0, 1])

       where ``s_k(j)`` estimates ``|S_k(j)|`` (exact for ``k <= 1``; for
       ``k >= 2`` min-hash sketches propagated hop by hop as
       ``min_{u in N(j)}``, ``sketch_size`` values per node, about
       ``1/sqrt(sketch_size)`` relative error, clipped to exact bounds). Row
       ``j`` of ``Ŝ_k`` has the mass ``s_k(j)`` of the set and equals
       ``1_{S_k(j)}`` when the non-backtracking walks from ``j`` end on
       distinct nodes outside ``S_{k-2}(j)`` (no short cycles through ``j``);
       ``Ŝ_1 = 1_{S_1}`` always.
    2. *Projection.* ``R`` (n × d) has independent entries ``±1/sqrt(d)``;
       ``X_k = A^k R`` and ``Y_k = Ŝ_k R`` come from the same recurrences
       (sparse products, ``O(K·d·|E|)``). Since ``E[R Rᵀ] = I``, the dot
       product ``tau_k1k2(i, j) = <X_k1[i], Y_k2[j]>`` is an unbiased
       estimate of ``sum_v W_k1[i, v] Ŝ_k2[j, v]``. To lower its variance,
       the coordinate ``v = i`` is left out of ``X_k1[i]`` where
       ``W_k1[i, i]`` is known (``deg(i)`` for ``k1 = 2``, twice the
       triangles at ``i`` for ``k1 = 3``) and ``v = j`` out of ``Y_k2[j]``
       where ``Ŝ_k2[j, j]`` is known (``k2 = 2, 3``), whenever the partner
       entry (``Ŝ_k2[j, i]`` resp. ``W_k1[i, j]``, from adjacency and
       ``|N(i) ∩ N(j)|``) is known too; those products are added back
       exactly. The expectation is unchanged.
    3. *Exact parts and range.* With ``exact_hop1``, ``T^_11 = |N(i) ∩
       N(j)|`` exactly (sorted-list intersections, triangle-counting cost),
       and for pairs with ``deg(i)·deg(j) <= 16·d`` (``<= d`` when ``j`` is a
       train neighbour of ``i``) also ``T^_21 = (A³)[i, j] = sum_{u in N(i)}
       |N(u) ∩ N(j)|`` and ``T^_12 = |N(i) ∩ S_2(j)| = #{u in N(i) : N(u) ∩
       N(j) ≠ ∅}``: at most that many lookups per pair, the order of the
       projection's own cost. If ``j`` is a train neighbour of ``i`` (every
       pair of the train variant), ``S_k2(j) ⊇ S_{k2-1}(i) ⊇ S_k1(i)``
       whenever ``k2 - k1`` is odd and positive, so ``T^_k1k2 = w_k1(i)``
       exactly. Every other estimate is clipped to ``[0, w_k1(i)]``, the range
       of the exact term.

    So ``ATC_K(i) = mean_{j in N_ev(i)} sum b_k1 b_k2 T^_k1k2(i, j) / D(i)``,
    in [0, 1]. Before clipping, its expectation over the projection is TC
    with ``1_{S_k2(j)}`` replaced by ``Ŝ_k2[j]`` in the estimated terms (for
    ``K = 1`` with ``exact_hop1`` it *is* exact TC). Clipping trades this
    unbiasedness for a much better ranking.

    Cost: at most ``2K - 2`` sparse-times-dense products of width ``d`` and
    ``K + 1`` min-propagations of width at most ``sketch_size`` (time
    ``O(K·(d + sketch_size)·|E|)``), ``K²`` dot products of length ``d`` per
    evaluation pair (``O(K²·d·|E_ev|)``), and with ``exact_hop1`` one
    sorted-list intersection per evaluation edge (and, for ``K >= 3`` in the
    evaluation variant, per train edge: triangle counting) plus at most
    ``16·d`` lookups per pair for step 3. Memory
    ``O(K·d·|V|)`` for the projections plus ``O(sketch_size·|V|)`` for the
    sketches, plus ``O(|E_ev|)`` for the evaluation pairs (processed in blocks).

    Parameters
    ----------
    train : ndarray of shape (2, E) or GraphSnapshot
        Training edges as dense integer node indices, read as undirected;
        self-loops and duplicate edges (either direction) are removed.
    eval : ndarray of shape (2, E') or GraphSnapshot, optional
        Evaluation edges on the same indices. ``None`` gives the train variant.
    hops : int, default 2
        ``K``, 1 to 4.
    beta : float, optional
        Decay ``> 0``; default ``1 / mean degree`` of the train graph over all
        ``num_nodes`` nodes.
    dim : int, default 128
        Projection dimension ``d`` (variance of each estimate ~ ``1/d``).
    seed : int, default 0
        Same seed, same values (on either backend, up to float32 rounding);
        another seed gives another draw.
    num_nodes : int, optional
        Default: the snapshot's size, else the largest index plus one.
    backend : {"auto", "cpu", "gpu"}
        ``"gpu"`` needs CuPy and a CUDA device (else BackendUnavailable).
    exact_hop1 : bool, default True
        Compute the ``(1, 1)`` term exactly, and the ``(1, 2)``/``(2, 1)``
        terms of low-degree pairs (step 3); ``False``: projections only.
    sketch_size : int, default 64
        Min-hash values per node for the reach-set sizes (8 to 4096).

    Returns
    -------
    ATCResult
        ``tc`` of shape (n,), NaN exactly where exact TC is undefined: no
        evaluation neighbour; in the train variant also ``deg(i) <= 1``;
        otherwise also ``deg(i) = 0``.

    Raises
    ------
    InputError
        Bad shapes or indices, ``hops`` outside 1..4, ``dim < 1``, ``beta <= 0``,
        a negative ``seed``, ``sketch_size < 8``, an unknown ``backend``.
    EmptyGraphError
        The train graph has no edge.
    BackendUnavailable
        ``backend="gpu"`` without CuPy or a CUDA device.

    Examples
    --------
    A triangle 0-1-2 with a tail 2-3; ``K = 1`` with the exact hop-1 term is
    the local clustering coefficient (node 3 has degree 1: undefined):

    >>> import numpy as np
    >>> edges = np.array([[0, 0, 1, 2], [1, 2, 2, 3]])
    >>> approximate_tc(edges, hops=1, backend="cpu").tc.round(4).tolist()
    [1.0, 1.0, 0.3333, nan]
    >>> r = approximate_tc(edges, hops=2, dim=64, seed=1, backend="cpu")
    >>> bool(np.all((r.tc[:3] >= 0) & (r.tc[:3] <= 1))), r.beta
    (True, 0.5)
    """
    t_start = time.perf_counter()
    runner = current_runner()
    if runner is not None and backend != "gpu":  # a Dask cluster was chosen for this work
        return runner.atc(train, eval, hops=hops, beta=beta, dim=dim, seed=seed, num_nodes=num_nodes,
                          exact_hop1=exact_hop1, sketch_size=sketch_size)
    hops, beta, dim, seed, sketch_size, exact_hop1, backend = validate_atc(
        hops, beta, dim, seed, sketch_size, exact_hop1, backend
    )
    prep = prepare_graph(train, eval, num_nodes, hops)
    if beta is None:
        beta = default_beta(train, num_nodes, num_edges=int(prep.degree.sum()) // 2)
    if backend == "gpu":
        ops = gpu_ops()
    else:
        from ._atc_cpu import CpuOps  # noqa: PLC0415

        ops = CpuOps()
    tc, denominator, timings = estimate_all(ops, prep, hops, beta, dim, seed, sketch_size, exact_hop1)
    timings = {"prepare": prep.seconds, **timings, "total": time.perf_counter() - t_start}
    return ATCResult(
        tc=tc,
        beta=beta,
        hops=hops,
        dim=dim,
        seed=seed,
        variant=prep.variant,
        backend=backend,
        timings=timings,
        exact_hop1=exact_hop1,
        sketch_size=sketch_size,
        denominator=denominator,
        num_nodes=prep.num_nodes,
        train_edges=prep.train_edges,
        eval_edges=prep.eval_edges,
    )
