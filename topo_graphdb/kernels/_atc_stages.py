"""The stages of ATC (:func:`topo_graphdb.kernels.atc.approximate_tc`), written once against an
array module: host preparation of the graph, the seeded counter-based random numbers, the reach-set
ratios, the projections, the pair values and the concentration. :mod:`.atc` runs them in one
process; :mod:`.distributed` runs them as tasks on a Dask cluster.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import EmptyGraphError
from ..snapshot import GraphSnapshot

MAX_HOPS = 4
PAIR_BLOCK = 1 << 16  # evaluation pairs per block (bounds the (P, K, K) and (P, C, K, K) temporaries)
PAIR_BLOCKS_PER_TASK = 4  # on a Dask cluster: pair blocks per dot-product task (bounds its float32 partials)
_GPU_PAIR_BLOCK = 1 << 20  # the GPU's pair blocks: fewer, larger kernel launches
_PATH_BUDGET = 16  # exact (1, 2)/(2, 1) terms where deg(i) * deg(j) <= _PATH_BUDGET * dim
_PATH_BUDGET_TRAIN_EDGES = 1  # ... and deg(i) * deg(j) <= dim for train edges
_STREAM_PROJECTION = 0x5DEECE66D
_STREAM_SKETCH = 0x2545F4914F6CDD1D
SKETCH_CHUNK = 16  # sketch columns per partial sum of a set size estimate (the partials are added in column order)


# ----------------------------------------------------------------------------- seeded random numbers
def _splitmix64(xp: Any, x: Any) -> Any:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic; same bits on NumPy and CuPy)."""
    x = x + xp.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> xp.uint64(30))) * xp.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> xp.uint64(27))) * xp.uint64(0x94D049BB133111EB)
    return x ^ (x >> xp.uint64(31))


def _hash_words(xp: Any, num_nodes: int, words: int, first: int, last: int, seed: int, stream: int) -> Any:
    """Words ``first..last-1`` of ``words`` independent 64-bit hashes per node, shape (n, last - first),
    uint64: word ``w`` of node ``v`` is ``splitmix64(v·words + w + splitmix64(seed ^ stream))``."""
    base = _splitmix64(xp, xp.asarray([seed], dtype=xp.uint64) ^ xp.uint64(stream))
    keys = (xp.arange(num_nodes, dtype=xp.uint64)[:, None] * xp.uint64(words)
            + xp.arange(first, last, dtype=xp.uint64)[None, :] + base[0])
    return _splitmix64(xp, keys)


def rademacher(xp: Any, num_nodes: int, dim: int, seed: int, columns: tuple[int, int] | None = None) -> Any:
    """``R`` of shape (n, d), float32, entries ``±1/sqrt(d)`` from the bits of the node hashes.

    ``columns=(start, stop)``: only those columns of the same ``R`` (shape (n, stop - start)),
    each entry bit for bit the one of the whole matrix.
    """
    start, stop = (0, dim) if columns is None else columns
    words = -(-dim // 64)
    first, last = start // 64, -(-stop // 64)
    bits = _hash_words(xp, num_nodes, words, first, last, seed, _STREAM_PROJECTION)
    out = xp.empty((num_nodes, (last - first) * 64), dtype=xp.float32)
    shifts = xp.arange(64, dtype=xp.uint64)
    scale = 1.0 / math.sqrt(dim)
    for w in range(last - first):
        bit = (bits[:, w : w + 1] >> shifts[None, :]) & xp.uint64(1)
        out[:, w * 64 : (w + 1) * 64] = (1.0 - 2.0 * bit.astype(xp.float32)) * xp.float32(scale)
    return xp.ascontiguousarray(out[:, start - 64 * first : stop - 64 * first])


def sketch_seeds(xp: Any, num_nodes: int, size: int, seed: int, columns: tuple[int, int] | None = None) -> Any:
    """Per-node uniform 32-bit hash values, shape (n, size), uint32 (min-hash of the set {v}).

    ``columns=(start, stop)``: only those columns of the same matrix, bit for bit.
    """
    start, stop = (0, size) if columns is None else columns
    words = -(-size // 2)
    first, last = start // 2, -(-stop // 2)
    h = _hash_words(xp, num_nodes, words, first, last, seed, _STREAM_SKETCH)
    low = (h & xp.uint64(0xFFFFFFFF)).astype(xp.uint32)
    high = (h >> xp.uint64(32)).astype(xp.uint32)
    pairs = xp.stack([low, high], axis=2).reshape(num_nodes, 2 * (last - first))
    return xp.ascontiguousarray(pairs[:, start - 2 * first : stop - 2 * first])


def sketch_partial_sums(xp: Any, minima: Any) -> list:
    """``sum_t E_t`` over each run of ``SKETCH_CHUNK`` columns of ``minima`` (one float64 (n,) array per
    run), ``E_t = -log(1 - U_t)`` the exponential transform of the minimum hash ``U_t`` (uniform in
    (0, 1)). A run's sum depends on its own columns only, so a column range cut at multiples of
    ``SKETCH_CHUNK`` gives the partials of the whole sketch bit for bit."""
    e = -xp.log1p(-((minima.astype(xp.float64) + 0.5) / 4294967296.0))
    return [xp.ascontiguousarray(e[:, c : c + SKETCH_CHUNK]).sum(axis=1) for c in range(0, e.shape[1], SKETCH_CHUNK)]


def size_from_partial_sums(partials: list, size: int) -> Any:
    """``(m - 1) / sum_t E_t`` (m = ``size`` sketch columns), the partials added in column order:
    unbiased for the set size."""
    total = partials[0].copy()
    for part in partials[1:]:
        total += part
    return (size - 1) / total


def sketch_size_estimate(xp: Any, minima: Any) -> Any:
    """The set size estimate of each row of ``minima`` (:func:`size_from_partial_sums`)."""
    return size_from_partial_sums(sketch_partial_sums(xp, minima), minima.shape[1])


def column_ranges(width: int, chunk: int, parts: int) -> list[tuple[int, int]]:
    """``width`` columns cut into at most ``parts`` contiguous ranges at multiples of ``chunk``.

    >>> column_ranges(70, 16, 2)
    [(0, 48), (48, 70)]
    """
    chunks = np.array_split(np.arange(-(-width // chunk)), max(1, min(parts, -(-width // chunk))))
    return [(int(c[0]) * chunk, min(int(c[-1] + 1) * chunk, width)) for c in chunks]


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


def set_ratios(ops: Any, graph: Any, prep: PreparedGraph, hops: int, seed: int, sketch_size: int,
               sums: list[list[np.ndarray]] | None = None) -> dict:
    """``rho_k = (s_k - s_{k-2}) / (B_k·1)`` clipped to [0, 1], k = 2..K (host float64).

    ``sums``: the sketches' partial sums of all columns in column order (:func:`reach_sketch_sums`),
    when they were computed elsewhere; by default computed here.
    """
    if hops < 2:
        return {}
    if sums is None:
        sums = reach_sketch_sums(ops, graph, prep, hops, seed, sketch_size)
    deg_h = prep.degree.astype(np.float64)
    nb_tot = [(deg_h > 0).astype(np.float64), deg_h, prep.walks[1] - deg_h]  # B_k·1, exact
    for k in range(3, hops + 1):
        nb_tot.append(_host_spmv(prep, nb_tot[k - 1]) - (deg_h - 1.0) * nb_tot[k - 2])
    sizes = _reach_sizes(ops, graph, prep, hops, sketch_size, sums)
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
    r = rademacher(xp, n, dim, seed, columns)
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


def estimate_all(
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


def reach_sketch_sums(ops: Any, graph: Any, prep: PreparedGraph, hops: int, seed: int, sketch_size: int,
                      columns: tuple[int, int] | None = None) -> list[list[np.ndarray]]:
    """Per k = 2..K, the host partial sums (:func:`sketch_partial_sums`) of the columns ``columns``
    (default: all) of the min-hash sketches of the reach sets ``S_k(j)``, propagated hop by hop as
    ``min_{u in N(j)}``."""
    xp = ops.xp
    minima = ops.propagate_min(graph, sketch_seeds(xp, prep.num_nodes, sketch_size, seed, columns))  # S_1
    sums = []
    for _ in range(2, hops + 1):
        minima = ops.propagate_min(graph, minima)
        sums.append([ops.to_host(part) for part in sketch_partial_sums(xp, minima)])
    return sums


def _reach_sizes(ops: Any, graph: Any, prep: PreparedGraph, hops: int, sketch_size: int,
                 sums: list[list[np.ndarray]]) -> list[np.ndarray]:
    """``s_k(j)`` ≈ ``|S_k(j)|`` for k = 0..K (host float64): exact for k <= 1, from the min-hash
    sketches' partial sums for k >= 2, clipped to exact bounds (``|S_{k-2}| <= |S_k| <= min(n, w_k)``,
    and ``|S_2(j)| >= max_{u in N(j)} deg(u)``)."""
    n = prep.num_nodes
    deg = prep.degree.astype(np.float64)
    has = (prep.degree > 0).astype(np.float64)
    sizes = [has, deg]
    # max neighbour degree, via the same min-propagation on 2^32 - 1 - deg
    flipped = ops.asarray((0xFFFFFFFF - prep.degree).astype(np.uint32)[:, None])
    max_nbr_deg = 0xFFFFFFFF - ops.to_host(ops.propagate_min(graph, flipped))[:, 0].astype(np.float64)
    for k in range(2, hops + 1):
        est = size_from_partial_sums(sums[k - 2], sketch_size)
        low = sizes[k - 2].copy()
        if k == 2:
            low = np.maximum(low, np.where(deg > 0, max_nbr_deg, 0.0))
        high = np.minimum(float(n), prep.walks[k - 1])
        sizes.append(np.where(deg > 0, np.clip(est, low, np.maximum(low, high)), 0.0))
    return sizes
