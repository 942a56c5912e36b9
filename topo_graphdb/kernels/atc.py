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
from typing import Any

import numpy as np

from ..backend import resolve_backend
from ..errors import EmptyGraphError, InputError
from ..snapshot import GraphSnapshot
from ._atc_gpu import gpu_ops
from ._beta import default_beta
from ._runner import current_runner

__all__ = ["ATCResult", "approximate_tc"]

MAX_HOPS = 4
PAIR_BLOCK = 1 << 16  # evaluation pairs per block (bounds the (P, K, K) and (P, C, K, K) temporaries)
PAIR_BLOCKS_PER_TASK = 4  # on a Dask cluster: pair blocks per dot-product task (bounds its float32 partials)
_GPU_PAIR_BLOCK = 1 << 20  # the GPU's pair blocks: fewer, larger kernel launches
_PATH_BUDGET = 16  # exact (1, 2)/(2, 1) terms where deg(i) * deg(j) <= _PATH_BUDGET * dim
_PATH_BUDGET_TRAIN_EDGES = 1  # ... and deg(i) * deg(j) <= dim for train edges
_STREAM_PROJECTION = 0x5DEECE66D
_STREAM_SKETCH = 0x2545F4914F6CDD1D


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
def _splitmix64(xp: Any, x: Any) -> Any:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic; same bits on NumPy and CuPy)."""
    x = x + xp.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> xp.uint64(30))) * xp.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> xp.uint64(27))) * xp.uint64(0x94D049BB133111EB)
    return x ^ (x >> xp.uint64(31))


def _hash_block(xp: Any, num_nodes: int, words: int, seed: int, stream: int) -> Any:
    """``words`` independent 64-bit hashes per node: shape (n, words), uint64."""
    base = _splitmix64(xp, xp.asarray([seed], dtype=xp.uint64) ^ xp.uint64(stream))
    keys = xp.arange(num_nodes * words, dtype=xp.uint64) + base[0]
    return _splitmix64(xp, keys).reshape(num_nodes, words)


def _rademacher(xp: Any, num_nodes: int, dim: int, seed: int, columns: tuple[int, int] | None = None) -> Any:
    """``R`` of shape (n, d), float32, entries ``±1/sqrt(d)`` from the bits of the node hashes.

    ``columns=(start, stop)``: only those columns of the same ``R`` (shape (n, stop - start)),
    each entry bit for bit the one of the whole matrix.
    """
    start, stop = (0, dim) if columns is None else columns
    words = -(-dim // 64)
    first, last = start // 64, -(-stop // 64)
    base = _splitmix64(xp, xp.asarray([seed], dtype=xp.uint64) ^ xp.uint64(_STREAM_PROJECTION))
    keys = (xp.arange(num_nodes, dtype=xp.uint64)[:, None] * xp.uint64(words)
            + xp.arange(first, last, dtype=xp.uint64)[None, :] + base[0])  # the keys of _hash_block
    bits = _splitmix64(xp, keys)
    out = xp.empty((num_nodes, (last - first) * 64), dtype=xp.float32)
    shifts = xp.arange(64, dtype=xp.uint64)
    scale = 1.0 / math.sqrt(dim)
    for w in range(last - first):
        bit = (bits[:, w : w + 1] >> shifts[None, :]) & xp.uint64(1)
        out[:, w * 64 : (w + 1) * 64] = (1.0 - 2.0 * bit.astype(xp.float32)) * xp.float32(scale)
    return xp.ascontiguousarray(out[:, start - 64 * first : stop - 64 * first])


def _sketch_seeds(xp: Any, num_nodes: int, size: int, seed: int) -> Any:
    """Per-node uniform 32-bit hash values, shape (n, size), uint32 (min-hash of the set {v})."""
    words = -(-size // 2)
    h = _hash_block(xp, num_nodes, words, seed, _STREAM_SKETCH)
    low = (h & xp.uint64(0xFFFFFFFF)).astype(xp.uint32)
    high = (h >> xp.uint64(32)).astype(xp.uint32)
    return xp.ascontiguousarray(xp.stack([low, high], axis=2).reshape(num_nodes, 2 * words)[:, :size])


def _sketch_size_estimate(xp: Any, minima: Any) -> Any:
    """``(m - 1) / sum_t E_t`` with ``E_t = -log(1 - U_t)`` the exponential transform of the
    minimum hash ``U_t`` (uniform in (0, 1)) over the set: unbiased for the set size."""
    u = (minima.astype(xp.float64) + 0.5) / 4294967296.0
    return (minima.shape[1] - 1) / (-xp.log1p(-u)).sum(axis=1)


# ----------------------------------------------------------------------------- public API
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
    tc, denominator, timings = _estimate(ops, prep, hops, beta, dim, seed, sketch_size, exact_hop1)
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


# ----------------------------------------------------------------------------- preparation (host)
@dataclass(frozen=True, eq=False)
class PreparedGraph:
    num_nodes: int
    indptr: np.ndarray
    indices: np.ndarray
    degree: np.ndarray  # int64
    walks: np.ndarray  # (K, n) float64, w_k = A^k 1
    src: np.ndarray  # evaluation pairs (i, j), both directions, i active
    dst: np.ndarray
    edge_of: np.ndarray  # index into (lo, hi) of each pair's undirected evaluation edge
    lo: np.ndarray  # undirected evaluation edges with at least one active end
    hi: np.ndarray
    train_lo: np.ndarray  # canonical train edges
    train_hi: np.ndarray
    adjacent: np.ndarray  # bool per pair: j is a train neighbour of i
    active: np.ndarray
    ev_degree: np.ndarray
    variant: str
    train_edges: int
    eval_edges: int
    seconds: float


def _edges_of(edges: object) -> object:
    return edges.edge_index if isinstance(edges, GraphSnapshot) else edges


def prepare_graph(train: object, eval: object | None, num_nodes: int | None, hops: int) -> PreparedGraph:
    from . import _csr  # noqa: PLC0415  (imports Numba)

    t0 = time.perf_counter()
    tr, ev, n = _csr.resolve_graph(train, _edges_of(eval) if eval is not None else None, num_nodes)
    canon = _csr.canonical_edges(tr, n)
    if canon.shape[1] == 0:
        raise EmptyGraphError(
            "the train graph has no edges (after removing self-loops)", hint="pass at least one edge between two nodes"
        )
    csr = _csr.csr_from_canonical(canon, n)
    degree = csr.degree.astype(np.int64)
    walks = _csr.walk_totals(csr, hops)
    if ev is None:
        variant, ev_canon = "train", canon
        adjacent_edges = np.ones(canon.shape[1], bool)
    else:
        variant, ev_canon = "eval", _csr.canonical_edges(ev, n)
        train_keys = canon[0] * np.int64(n) + canon[1]  # sorted
        ev_keys = ev_canon[0] * np.int64(n) + ev_canon[1]
        at = np.minimum(np.searchsorted(train_keys, ev_keys), train_keys.size - 1)
        adjacent_edges = train_keys[at] == ev_keys
    ev_degree = np.bincount(ev_canon.reshape(-1), minlength=n).astype(np.int64)
    active = (ev_degree > 0) & (degree >= (2 if variant == "train" else 1))
    used = active[ev_canon[0]] | active[ev_canon[1]]
    lo, hi, adjacent_edges = ev_canon[0][used], ev_canon[1][used], adjacent_edges[used]
    src = np.concatenate([lo, hi])
    dst = np.concatenate([hi, lo])
    adjacent = np.concatenate([adjacent_edges, adjacent_edges])
    edge_of = np.concatenate([np.arange(lo.size), np.arange(lo.size)])
    keep = active[src]
    return PreparedGraph(
        num_nodes=n,
        indptr=csr.indptr,
        indices=csr.indices,
        degree=degree,
        walks=walks,
        src=src[keep],
        dst=dst[keep],
        adjacent=adjacent[keep],
        edge_of=edge_of[keep],
        lo=lo,
        hi=hi,
        train_lo=canon[0],
        train_hi=canon[1],
        active=active,
        ev_degree=ev_degree,
        variant=variant,
        train_edges=int(canon.shape[1]),
        eval_edges=int(ev_canon.shape[1]),
        seconds=time.perf_counter() - t0,
    )


def _identity_terms(hops: int) -> np.ndarray:
    """``(k1, k2)`` (0-based) with ``k2 - k1`` odd and positive: exact ``w_k1(i)`` for train neighbours."""
    k = np.arange(hops)
    diff = k[None, :] - k[:, None]
    return (diff > 0) & (diff % 2 == 1)


# ----------------------------------------------------------------------------- the estimator (any backend)
# The stages below are shared with the Dask version (:mod:`.distributed`), which runs them on
# column ranges of R and on runs of pair blocks: the same arithmetic on the same shapes, so the
# same numbers.
@dataclass(frozen=True, eq=False)
class RowSelection:
    """Which rows of ``xs`` / ``ys`` each hop pair uses (-1: not projected), and the known products added back."""

    x_sel: np.ndarray  # (K, K) int64
    y_sel: np.ndarray
    walk_back: list  # (a, b): + W_k1[i, i] * Ŝ_k2[j, i]
    set_back: list  # (a, b): + W_k1[i, j] * Ŝ_k2[j, j]

    @property
    def projected(self) -> bool:
        return bool((self.x_sel >= 0).any())


@dataclass(frozen=True, eq=False)
class SideArrays:
    """Host arrays every stage after the first needs: exact hop-1 counts, diagonals, set ratios."""

    t11: np.ndarray | None  # (P,) |N(i) ∩ N(j)| per pair, with exact_hop1
    walk_diag: dict  # k -> (n,) W_k[i, i] where known
    set_diag: dict  # k -> (n,) Ŝ_k[j, j] where known
    rho: dict  # k -> (n,) rho_k, k = 2..K


def triangle_edges(prep: PreparedGraph) -> tuple[np.ndarray, np.ndarray]:
    """The edges whose common-neighbour counts give the triangles per node (K >= 3)."""
    if prep.variant == "train":  # every edge with a triangle has an active end, so all are evaluation edges here
        return prep.lo, prep.hi
    return prep.train_lo, prep.train_hi


def side_arrays(prep: PreparedGraph, hops: int, exact_hop1: bool, common: np.ndarray | None,
          train_common: np.ndarray | None, rho: dict) -> SideArrays:
    """The side arrays from the per-edge common neighbours (of the evaluation edges, and of the
    triangle edges when they differ) and the set ratios."""
    n = prep.num_nodes
    t11 = tri = None
    if exact_hop1:
        t11 = common[prep.edge_of]
        if hops >= 3:
            lo, hi = triangle_edges(prep)
            per_edge = common if prep.variant == "train" else train_common
            tri = 0.5 * (np.bincount(lo, per_edge, minlength=n) + np.bincount(hi, per_edge, minlength=n))
    has = (prep.degree > 0).astype(np.float64)
    walk_diag = {2: prep.degree.astype(np.float64)}
    set_diag = {2: has}  # B_3[j, j] = 2 triangles(j)
    if tri is not None:
        walk_diag[3] = 2.0 * tri
        set_diag[3] = rho[3] * 2.0 * tri
    keep = range(1, hops + 1)
    return SideArrays(t11=t11, walk_diag={k: v for k, v in walk_diag.items() if k in keep},
                 set_diag={k: v for k, v in set_diag.items() if k in keep}, rho=rho)


def select_rows(hops: int, exact_hop1: bool, all_adjacent: bool, side: SideArrays) -> RowSelection:
    """Rows of xs (``A^k R``, then the deflated ``X_k``) and ys (``Ŝ_k R``, then deflated) per hop pair:
    the coordinates v = i (walk side) and v = j (set side) are left out where their products with the
    partner entry are known, and added back."""
    x_row = {k: k - 1 for k in range(1, hops + 1)}
    x_deflated = {k: hops + slot for slot, k in enumerate(side.walk_diag)}
    y_deflated = {k: hops + slot for slot, k in enumerate(side.set_diag)}
    needed = np.ones((hops, hops), bool)
    if exact_hop1:
        needed[0, 0] = False
    if all_adjacent:
        needed &= ~_identity_terms(hops)
    walk_known = {1} | ({2} if exact_hop1 else set())  # W_k[i, j] known per pair
    set_known = {1} | ({2} if exact_hop1 else set())  # Ŝ_k[j, i] known per pair
    x_sel = np.full((hops, hops), -1, np.int64)
    y_sel = np.full((hops, hops), -1, np.int64)
    walk_back, set_back = [], []
    for a, b in zip(*np.nonzero(needed)):
        k1, k2 = int(a) + 1, int(b) + 1
        x_sel[a, b], y_sel[a, b] = x_row[k1], x_row[k2]
        if k1 in x_deflated and k2 in set_known:
            x_sel[a, b] = x_deflated[k1]
            walk_back.append((int(a), int(b)))
        if k2 in y_deflated and k1 in walk_known:
            y_sel[a, b] = y_deflated[k2]
            set_back.append((int(a), int(b)))
    return RowSelection(x_sel=x_sel, y_sel=y_sel, walk_back=walk_back, set_back=set_back)


def set_ratios(ops: Any, graph: Any, prep: PreparedGraph, hops: int, seed: int, sketch_size: int) -> dict:
    """``rho_k = (s_k - s_{k-2}) / (B_k·1)`` clipped to [0, 1], k = 2..K (host float64)."""
    if hops < 2:
        return {}
    deg_h = prep.degree.astype(np.float64)
    nb_tot = [(deg_h > 0).astype(np.float64), deg_h, prep.walks[1] - deg_h]  # B_k·1, exact
    for k in range(3, hops + 1):
        nb_tot.append(_host_spmv(prep, nb_tot[k - 1]) - (deg_h - 1.0) * nb_tot[k - 2])
    sizes = _reach_sizes(ops, graph, prep, hops, seed, sketch_size)
    rho = {}
    for k in range(2, hops + 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(nb_tot[k] > 0, (sizes[k] - sizes[k - 2]) / nb_tot[k], 0.0)
        rho[k] = np.clip(ratio, 0.0, 1.0)
    return rho


def project_columns(ops: Any, graph: Any, prep: PreparedGraph, hops: int, dim: int, seed: int, side: SideArrays,
             columns: tuple[int, int]) -> tuple[Any, Any]:
    """The columns ``columns`` of the walk side ``xs`` (``A^k R``, k = 1..K, then ``X_k - W_k[i, i] R[i]``)
    and the set side ``ys`` (``Ŝ_k R``, then ``Y_k - Ŝ_k[j, j] R[j]``); each column is computed on its
    own, so a column range holds the same numbers as the whole matrix."""
    xp = ops.xp
    n = prep.num_nodes
    deg_h = prep.degree.astype(np.float64)
    deg = ops.asarray(deg_h, xp.float32)[:, None]
    r = _rademacher(xp, n, dim, seed, columns)
    width = columns[1] - columns[0]
    xs = xp.empty((hops + len(side.walk_diag), n, width), dtype=xp.float32)
    ops.spmm(graph, r, xs[0])
    for k in range(1, hops):
        ops.spmm(graph, xs[k - 1], xs[k])
    nb = [ops.asarray((deg_h > 0).astype(np.float64), xp.float32)[:, None] * r, xs[0]]  # B_k R
    for k in range(2, hops + 1):
        if k == 2:
            nb.append(xs[1] - deg * r)
        else:
            step = ops.spmm(graph, nb[k - 1])
            step -= (deg - 1.0) * nb[k - 2]
            nb.append(step)
    for slot, (k, diag) in enumerate(side.walk_diag.items(), start=hops):
        xs[slot] = xs[k - 1] - ops.asarray(diag, xp.float32)[:, None] * r
    ys = xp.empty((hops + len(side.set_diag), n, width), dtype=xp.float32)
    ys[0] = xs[0]
    for k in range(2, hops + 1):
        below = ys[k - 3] if k >= 3 else nb[0]
        ys[k - 1] = below + ops.asarray(side.rho[k], xp.float32)[:, None] * nb[k]
    for slot, (k, diag) in enumerate(side.set_diag.items(), start=hops):
        ys[slot] = ys[k - 1] - ops.asarray(diag, xp.float32)[:, None] * r
    return xs, ys


def pair_blocks(num_pairs: int, size: int | None = None) -> list[slice]:
    """The evaluation pairs in blocks of ``size`` (default :data:`PAIR_BLOCK`: the unit of every
    per-pair step on the CPU, in one process and on a Dask cluster alike)."""
    size = PAIR_BLOCK if size is None else size
    return [slice(s, min(s + size, num_pairs)) for s in range(0, num_pairs, size)]


@dataclass(frozen=True, eq=False)
class PairContext:
    """The per-pair and per-node arrays of the pair steps, on the backend's device (converted once)."""

    src: Any
    dst: Any
    adjacent: Any  # float64 0/1
    t11: Any | None
    rho2: Any | None
    walk_diag: dict
    set_diag: dict
    walks: Any  # (K, n) w_k
    weights: Any  # (K,) beta^(k-1)


def pair_context(ops: Any, prep: PreparedGraph, side: SideArrays, hops: int, beta: float) -> PairContext:
    """:class:`PairContext` of ``prep`` and ``side`` on ``ops``'s device."""
    return PairContext(
        src=ops.asarray(prep.src), dst=ops.asarray(prep.dst), adjacent=ops.asarray(prep.adjacent).astype(ops.xp.float64),
        t11=None if side.t11 is None else ops.asarray(side.t11),
        rho2=ops.asarray(side.rho[2]) if 2 in side.rho else None,
        walk_diag={k: ops.asarray(v) for k, v in side.walk_diag.items()},
        set_diag={k: ops.asarray(v) for k, v in side.set_diag.items()},
        walks=ops.asarray(prep.walks), weights=ops.asarray(beta ** np.arange(hops, dtype=np.float64)),
    )


def pair_values(ops: Any, graph: Any, prep: PreparedGraph, ctx: PairContext, hops: int, dim: int, exact_hop1: bool,
                sel: RowSelection, terms: Any, block: slice) -> tuple[Any, float]:
    """``sum_{k1,k2} b_k1 b_k2 T^_k1k2(i, j)`` for the pairs of ``block``, from their projected dot
    products ``terms`` (P, K, K): known products added back, exact terms, identities, clipping.
    Also the seconds spent on the exact (1, 2)/(2, 1) terms."""
    xp = ops.xp
    i, j, adj = ctx.src[block], ctx.dst[block], ctx.adjacent[block]
    known = {"walk": {1: adj}, "set": {1: adj}}
    if exact_hop1:
        t11 = ctx.t11[block]
        known["walk"][2] = t11  # W_2[i, j]
        if hops >= 2:
            known["set"][2] = ctx.rho2[j] * t11  # Ŝ_2[j, i] = rho_2(j) B_2[j, i]
    for a, b in sel.walk_back:
        terms[:, a, b] += ctx.walk_diag[a + 1][i] * known["set"][b + 1]
    for a, b in sel.set_back:
        terms[:, a, b] += known["walk"][a + 1] * ctx.set_diag[b + 1][j]
    if exact_hop1:
        terms[:, 0, 0] = t11
    t0 = time.perf_counter()
    if exact_hop1 and hops >= 2:
        # exact (1, 2) and (2, 1) for pairs with deg(i) * deg(j) <= budget * d (at most that many
        # sorted-list lookups per pair, the order of the projection's own cost)
        src, dst = prep.src[block], prep.dst[block]
        budget = np.where(prep.adjacent[block], _PATH_BUDGET_TRAIN_EDGES, _PATH_BUDGET) * dim
        cheap = (prep.degree[src] * prep.degree[dst] <= budget) & (prep.degree[dst] > 0)
        pick = np.flatnonzero(cheap)
        if pick.size:
            at = ops.asarray(pick)
            walks3, hits = ops.three_paths(graph, i[at], j[at])
            terms[at, 1, 0] = walks3  # (A^3)[i, j] = sum_{v in N(j)} W_2[i, v]
            terms[at, 0, 1] = hits  # |N(i) ∩ S_2(j)|
    paths = time.perf_counter() - t0
    # exact identities for train neighbours, range clipping, weights
    upper = ctx.walks[:, i].T  # (P, K): w_k1(i)
    identity = _identity_terms(hops)
    for a, b in zip(*np.nonzero(identity)):
        terms[:, a, b] = xp.where(adj > 0, upper[:, a], terms[:, a, b])
    terms = xp.clip(terms, 0.0, upper[:, :, None])
    return xp.einsum("pab,a,b->p", terms, ctx.weights, ctx.weights), paths


def concentration(prep: PreparedGraph, hops: int, beta: float, numerator: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``numerator(i) / (|N_ev(i)| D(i))`` on the active nodes (NaN elsewhere), and ``D``."""
    w = beta ** np.arange(hops, dtype=np.float64)
    denominator = w.sum() * (w @ prep.walks) - (1.0 if prep.variant == "train" else 0.0)
    tc = np.full(prep.num_nodes, np.nan)
    act = prep.active
    tc[act] = numerator[act] / (prep.ev_degree[act] * denominator[act])
    return tc, np.where(act, denominator, np.nan)


def _estimate(
    ops: Any, prep: PreparedGraph, hops: int, beta: float, dim: int, seed: int, sketch_size: int, exact_hop1: bool
) -> tuple[np.ndarray, np.ndarray, dict]:
    xp = ops.xp
    n = prep.num_nodes
    timings: dict[str, float] = {}
    graph = ops.adjacency(prep.indptr, prep.indices, n)

    # exact hop 1: |N(i) ∩ N(j)| once per evaluation edge (and per train edge for K >= 3, eval variant)
    t0 = time.perf_counter()
    common = train_common = None
    if exact_hop1:
        common = ops.to_host(ops.common_neighbours(graph, ops.asarray(prep.lo), ops.asarray(prep.hi)))
        if hops >= 3 and prep.variant == "eval":
            lo, hi = triangle_edges(prep)
            train_common = ops.to_host(ops.common_neighbours(graph, ops.asarray(lo), ops.asarray(hi)))
    timings["hop1"] = time.perf_counter() - t0

    # set side ratios from reach-set sizes, then both projections
    t0 = time.perf_counter()
    side = side_arrays(prep, hops, exact_hop1, common, train_common, set_ratios(ops, graph, prep, hops, seed, sketch_size))
    timings["sketch"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sel = select_rows(hops, exact_hop1, bool(prep.adjacent.all()), side)
    xs, ys = project_columns(ops, graph, prep, hops, dim, seed, side, (0, dim))
    timings["propagate"] = time.perf_counter() - t0

    numerator = xp.zeros(n, dtype=xp.float64)
    timings["pairs"] = timings["paths"] = 0.0
    ctx = pair_context(ops, prep, side, hops, beta)
    for block in pair_blocks(int(prep.src.size), PAIR_BLOCK if ops.name == "cpu" else _GPU_PAIR_BLOCK):
        t0 = time.perf_counter()
        i, j = ctx.src[block], ctx.dst[block]
        terms = ops.pair_dots(xs, ys, i, j, sel.x_sel, sel.y_sel)  # (P, K, K)
        values, paths = pair_values(ops, graph, prep, ctx, hops, dim, exact_hop1, sel, terms, block)
        numerator += xp.bincount(i, weights=values, minlength=n)
        timings["pairs"] += time.perf_counter() - t0 - paths
        timings["paths"] += paths
    del xs, ys
    tc, denominator = concentration(prep, hops, beta, ops.to_host(numerator))
    return tc, denominator, timings


def _host_spmv(prep: PreparedGraph, x: np.ndarray) -> np.ndarray:
    """``A @ x`` for a vector, on the host (float64)."""
    from ._atc_cpu import spmm  # noqa: PLC0415

    return spmm(prep.indptr, prep.indices, np.ascontiguousarray(x[:, None]))[:, 0]


def _reach_sizes(ops: Any, graph: Any, prep: PreparedGraph, hops: int, seed: int, sketch_size: int) -> list[np.ndarray]:
    """``s_k(j)`` ≈ ``|S_k(j)|`` for k = 0..K (host float64): exact for k <= 1, min-hash sketches
    for k >= 2, clipped to exact bounds (``|S_{k-2}| <= |S_k| <= min(n, w_k)``, and
    ``|S_2(j)| >= max_{u in N(j)} deg(u)``)."""
    xp = ops.xp
    n = prep.num_nodes
    deg = prep.degree.astype(np.float64)
    has = (prep.degree > 0).astype(np.float64)
    sizes = [has, deg]
    minima = _sketch_seeds(xp, n, sketch_size, seed)
    minima = ops.propagate_min(graph, minima)  # S_1
    # max neighbour degree, via the same min-propagation on 2^32 - 1 - deg
    flipped = ops.asarray((0xFFFFFFFF - prep.degree).astype(np.uint32)[:, None])
    max_nbr_deg = 0xFFFFFFFF - ops.to_host(ops.propagate_min(graph, flipped))[:, 0].astype(np.float64)
    for k in range(2, hops + 1):
        minima = ops.propagate_min(graph, minima)
        est = ops.to_host(_sketch_size_estimate(xp, minima))
        low = sizes[k - 2].copy()
        if k == 2:
            low = np.maximum(low, np.where(deg > 0, max_nbr_deg, 0.0))
        high = np.minimum(float(n), prep.walks[k - 1])
        sizes.append(np.where(deg > 0, np.clip(est, low, np.maximum(low, high)), 0.0))
    return sizes
