"""CuPy implementation of exact TC: raw CUDA kernels over sorted CSR, float64 throughout.

Imported only for ``backend="gpu"`` (after :func:`topo_graphdb.backend.resolve_backend`
has checked CuPy and a device). Same results as the CPU kernels: every sum
is a sum of integer walk counts, exact in float64 below 2**53.

- ``K = 1``: per evaluation edge, the two sorted adjacency rows are
  intersected (walk the shorter, binary-search the longer; a thread per light
  pair, a warp per heavy one) and the common-neighbour count is added to both
  endpoints. In the train variant that sum is twice the node's triangle count,
  so the edges are first oriented by degree and each triangle is found once.
- ``K >= 2``: per batch of source nodes, rows of ``A^k`` for the sources
  (values) and for their evaluation neighbours (supports, i.e. reach sets) are
  built with cuSPARSE sparse products (``cupyx.scipy.sparse``); one warp per
  (pair, k1, k2) then intersects the two sorted rows and adds the walk counts.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from ..backend import array_module
from ..errors import BackendUnavailable, BudgetExceeded, EmptyGraphError, InputError
from ..units import format_size

__all__ = [
    "compute", "GpuRaw", "build_csr_gpu", "check_adjacency_size", "cn_per_node", "orient_by_degree", "triangles_per_node",
]

_SOURCE = r"""
extern "C" {

// First position in [left, right) of the sorted idx whose value is >= v (right if none).
__device__ __forceinline__ long long lower_bound(const int* idx, long long left, long long right, const int v)
{
    while (left < right) {
        const long long mid = (left + right) >> 1;
        if (idx[mid] < v) left = mid + 1; else right = mid;
    }
    return left;
}

// Common neighbours of node pairs (a_of[e], b_of[e]) over sorted adjacency rows,
// one team of `team` consecutive threads per pair (team divides 32). The team's
// lanes stride over the shorter row and binary-search the longer one (each lane's
// neighbours increase, so its search starts where its last one ended). Every
// common neighbour w adds `weight` to out[a] and out[b], and to out[w] too when
// credit_common is set.
__global__ void pair_common(const long long num_pairs, const int team,
                            const long long* a_of, const long long* b_of,
                            const long long* indptr, const int* indices,
                            const double weight, const int credit_common, double* out)
{
    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long e = t / team;
    const int lane = (int)(t - e * team);
    if (e >= num_pairs) return;
    const long long a = a_of[e];
    const long long b = b_of[e];
    long long s0 = indptr[a], s1 = indptr[a + 1];
    long long l0 = indptr[b], l1 = indptr[b + 1];
    if (s1 - s0 > l1 - l0) {
        const long long t0 = s0, t1 = s1;
        s0 = l0; s1 = l1; l0 = t0; l1 = t1;
    }
    long long count = 0;
    long long base = l0;
    for (long long s = s0 + lane; s < s1 && base < l1; s += team) {
        const int w = indices[s];
        const long long left = lower_bound(indices, base, l1, w);
        base = left;
        if (left < l1 && indices[left] == w) {
            ++count;
            ++base;
            if (credit_common) atomicAdd(out + w, weight);
        }
    }
    if (count > 0) {
        atomicAdd(out + a, weight * (double)count);
        atomicAdd(out + b, weight * (double)count);
    }
}

// y = A x for a CSR matrix with int64 row pointers.
__global__ void spmv(const long long n, const long long* indptr, const int* indices,
                     const double* x, double* y)
{
    const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double acc = 0.0;
    for (long long p = indptr[r]; p < indptr[r + 1]; ++p) acc += x[indices[p]];
    y[r] = acc;
}

// One warp per pair: out[pair_src[p]] += sum over v in row s_row[p] of S
// (a sorted support) of the value R[r_row[p], v] (R sorted, with values).
// The warp strides over the shorter row and binary-searches the longer one.
__global__ void hop_pair(const long long num_pairs, const long long* pair_src,
                         const long long* r_row, const long long* s_row,
                         const long long* r_ptr, const int* r_idx, const double* r_val,
                         const long long* s_ptr, const int* s_idx, double* out)
{
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (warp >= num_pairs) return;  // uniform within a warp (blockDim is a multiple of 32)
    const long long ra = r_ptr[r_row[warp]], rb = r_ptr[r_row[warp] + 1];
    const long long sa = s_ptr[s_row[warp]], sb = s_ptr[s_row[warp] + 1];
    double acc = 0.0;
    if (rb - ra <= sb - sa) {
        for (long long p = ra + lane; p < rb; p += 32) {
            const int v = r_idx[p];
            const long long left = lower_bound(s_idx, sa, sb, v);
            if (left < sb && s_idx[left] == v) acc += r_val[p];
        }
    } else {
        for (long long p = sa + lane; p < sb; p += 32) {
            const int v = s_idx[p];
            const long long left = lower_bound(r_idx, ra, rb, v);
            if (left < rb && r_idx[left] == v) acc += r_val[left];
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);
    if (lane == 0 && acc != 0.0) atomicAdd(out + pair_src[warp], acc);
}

}
"""

_BLOCK = 256
_HEAVY = 64  # pairs whose shorter row is longer than this get a warp each
_ENTRY_BYTES = 36.0  # a sparse entry: int32 index + float64 value, times 3 for the product workspace
_MAX_NNZ = 2**31 - 1  # cuSPARSE matrices use int32 row pointers
_MAX_FLOPS = 2**31 - 1  # multiplications in one sparse product (bounds its entries and workspace)


def check_adjacency_size(num_edges: int, hops: int) -> None:
    """Refuse a graph whose adjacency cuSPARSE cannot hold (``K >= 2`` builds it).

    The ``K >= 2`` path multiplies with the whole ``n x n`` adjacency, both directions of
    every simple undirected edge (``2 * num_edges`` entries) behind an int32 row
    pointer: above ``(2**31 - 1) // 2`` edges the pointer would wrap around silently.
    ``K = 1`` runs its own kernels over int64 row pointers and has no such limit.

    Raises
    ------
    BackendUnavailable
        ``hops >= 2`` and ``2 * num_edges > 2**31 - 1``.
    """
    if hops >= 2 and 2 * int(num_edges) > _MAX_NNZ:
        raise BackendUnavailable(
            f"exact TC with hops={hops} on the GPU handles at most {_MAX_NNZ // 2:,} undirected edges "
            f"(cuSPARSE row pointers are 32-bit); the train graph has {int(num_edges):,}",
            hint="use --backend cpu, or hops=1",
        )


@functools.lru_cache(maxsize=1)
def _module():
    cp = array_module("gpu")
    return cp.RawModule(code=_SOURCE, options=("--std=c++14",))


def _kernel(name: str):
    return _module().get_function(name)


def _grid(threads: int) -> tuple[int]:
    return (max(1, math.ceil(threads / _BLOCK)),)


def _sync(cp) -> None:
    cp.cuda.get_current_stream().synchronize()


@dataclass(frozen=True, eq=False)
class DeviceCsr:
    """A symmetric CSR on the device: int64 row pointers, sorted int32 columns."""

    indptr: object
    indices: object
    num_nodes: int
    num_edges: int


def _canonical_gpu(cp, edges: np.ndarray, num_nodes: int):
    """Canonical undirected simple edges on the device: (lo, hi), lo < hi, unique, sorted."""
    e = cp.asarray(edges, dtype=cp.int64)
    src, dst = e[0], e[1]
    keep = src != dst
    lo = cp.minimum(src[keep], dst[keep])
    hi = cp.maximum(src[keep], dst[keep])
    del e, src, dst, keep
    keys = cp.sort(lo * num_nodes + hi)
    del lo, hi
    if keys.size:
        first = cp.ones(keys.size, dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        keys = keys[first]
    return keys // num_nodes, keys % num_nodes


def build_csr_gpu(lo, hi, num_nodes: int) -> DeviceCsr:
    """Sorted symmetric CSR on the device from canonical edges (device arrays)."""
    cp = array_module("gpu")
    keys = cp.sort(cp.concatenate([lo * num_nodes + hi, hi * num_nodes + lo]))
    rows = keys // num_nodes
    indices = (keys % num_nodes).astype(cp.int32)
    del keys
    indptr = cp.zeros(num_nodes + 1, dtype=cp.int64)
    indptr[1:] = cp.cumsum(cp.bincount(rows, minlength=num_nodes))
    return DeviceCsr(indptr, indices, int(num_nodes), int(lo.size))


def _pair_common(csr: DeviceCsr, a, b, out, weight: float, credit_common: bool) -> None:
    """Launch ``pair_common`` on the pairs ``(a[e], b[e])``: a thread per light pair,
    a warp per heavy one (shorter row above ``_HEAVY``), so that hubs do not stall warps."""
    cp = array_module("gpu")
    if int(a.size) == 0:
        return
    deg = csr.indptr[1:] - csr.indptr[:-1]
    heavy = cp.minimum(deg[a], deg[b]) > _HEAVY
    kernel = _kernel("pair_common")
    for chosen, team in ((~heavy, 1), (heavy, 32)):
        aa, bb = cp.ascontiguousarray(a[chosen]), cp.ascontiguousarray(b[chosen])
        m = int(aa.size)
        if m:
            kernel(
                _grid(team * m),
                (_BLOCK,),
                (np.int64(m), np.int32(team), aa, bb, csr.indptr, csr.indices, np.float64(weight),
                 np.int32(credit_common), out),
            )


def cn_per_node(csr: DeviceCsr, lo, hi):
    """``out[i] = sum over evaluation edges (i, j) of |N(i) ∩ N(j)|`` (device float64, shape (n,))."""
    cp = array_module("gpu")
    out = cp.zeros(csr.num_nodes, dtype=cp.float64)
    _pair_common(csr, lo, hi, out, 1.0, False)
    return out


def orient_by_degree(csr: DeviceCsr) -> tuple[DeviceCsr, object, object]:
    """Each undirected edge once, from the endpoint lower in the order (degree, id).

    Returns the oriented CSR (rows sorted) and its edges ``(u, v)``. Every
    out-degree is at most ``sqrt(2 |E|)``, which bounds the work of
    :func:`triangles_per_node` on power-law graphs.
    """
    cp = array_module("gpu")
    n = csr.num_nodes
    deg = csr.indptr[1:] - csr.indptr[:-1]
    rows = cp.searchsorted(csr.indptr[1:], cp.arange(int(csr.indices.size), dtype=cp.int64), side="right")
    cols = csr.indices.astype(cp.int64)
    du, dv = deg[rows], deg[cols]
    keep = (du < dv) | ((du == dv) & (rows < cols))
    del du, dv
    u, v = rows[keep], cols[keep]
    indptr = cp.zeros(n + 1, dtype=cp.int64)
    indptr[1:] = cp.cumsum(cp.bincount(u, minlength=n))
    return DeviceCsr(indptr, csr.indices[keep], n, int(u.size)), u, v


def triangles_per_node(csr: DeviceCsr):
    """``out[i] = sum over edges (i, j) of |N(i) ∩ N(j)| = 2 · triangles(i)`` (device float64).

    Each triangle ``u < v < w`` (in the order of :func:`orient_by_degree`) is
    found once, on the oriented edge ``(u, v)``, and adds 2 to each corner: the
    1-hop part of the train variant without intersecting whole hub rows.
    """
    cp = array_module("gpu")
    oriented, u, v = orient_by_degree(csr)
    out = cp.zeros(csr.num_nodes, dtype=cp.float64)
    _pair_common(oriented, u, v, out, 2.0, True)
    return out


@dataclass(frozen=True, eq=False)
class GpuRaw:
    """Host copies of what :func:`topo_graphdb.kernels.tc._assemble` needs."""

    degree: np.ndarray
    ev_degree: np.ndarray
    walks: np.ndarray
    parts: np.ndarray
    variant: str
    timings: dict
    train_edges: int
    eval_edges: int


def compute(train: object, eval: object | None, num_nodes: int | None, hops: int, budget: int, progress: bool) -> GpuRaw:
    """Summed hop-pair parts of exact TC on the GPU (see the module docstring)."""
    from ._csr import resolve_graph  # noqa: PLC0415

    cp = array_module("gpu")
    t0 = time.perf_counter()
    tr, ev, n = resolve_graph(train, eval, num_nodes)
    if n >= 2**31 - 1:
        raise InputError(f"the GPU backend handles fewer than 2**31 - 1 nodes; got {n}", hint="use --backend cpu")
    lo, hi = _canonical_gpu(cp, tr, n)
    if lo.size == 0:
        raise EmptyGraphError(
            "the train graph has no edges (after removing self-loops)", hint="pass at least one edge between two nodes"
        )
    check_adjacency_size(int(lo.size), hops)
    csr = build_csr_gpu(lo, hi, n)
    if ev is None:
        variant, ev_csr, ev_lo, ev_hi = "train", csr, lo, hi
    else:
        variant = "eval"
        ev_lo, ev_hi = _canonical_gpu(cp, ev, n)
        ev_csr = build_csr_gpu(ev_lo, ev_hi, n)
    _sync(cp)
    t1 = time.perf_counter()
    degree = cp.diff(csr.indptr).astype(cp.float64)
    walks = cp.empty((hops, n), dtype=cp.float64)
    walks[0] = degree
    for k in range(1, hops):
        _kernel("spmv")(_grid(n), (_BLOCK,), (np.int64(n), csr.indptr, csr.indices, walks[k - 1], walks[k]))
    _sync(cp)
    t2 = time.perf_counter()
    degree_h = cp.diff(csr.indptr).get()
    ev_degree_h = cp.diff(ev_csr.indptr).get()
    walks_h = walks.get()
    active_h = (ev_degree_h > 0) & (degree_h >= (2 if variant == "train" else 1))
    timings = {"prepare": t1 - t0, "walk_totals": t2 - t1, "reach": 0.0, "kernel": 0.0}
    if hops == 1:
        t3 = time.perf_counter()
        if variant == "train":  # every node of degree >= 2 is active; the others have no triangles
            parts = triangles_per_node(csr)[None, :]
        else:
            active = cp.asarray(active_h)
            keep = active[ev_lo] | active[ev_hi]
            parts = cn_per_node(csr, ev_lo[keep], ev_hi[keep])[None, :]
        _sync(cp)
        timings["kernel"] = time.perf_counter() - t3
        parts_h = parts.get()
    else:
        parts_h = _multi_hop(cp, csr, ev_csr, walks_h, degree_h, active_h, hops, budget, progress, timings)
    return GpuRaw(degree_h, ev_degree_h, walks_h, parts_h, variant, timings, csr.num_edges, ev_csr.num_edges)


def _sparse_rows(cp, csr: DeviceCsr, rows):
    """The rows ``rows`` (device int64) of the 0/1 adjacency as a cupyx CSR matrix (float64, sorted)."""
    import cupyx.scipy.sparse as sparse  # noqa: PLC0415

    starts = csr.indptr[rows]
    counts = csr.indptr[rows + 1] - starts
    indptr = cp.zeros(rows.size + 1, dtype=cp.int64)
    indptr[1:] = cp.cumsum(counts)
    total = int(indptr[-1])
    if total > _MAX_NNZ:
        raise _BatchTooLarge(f"a batch of adjacency rows has {total} entries, more than cuSPARSE allows")
    position = cp.arange(total, dtype=cp.int64)
    row_of = cp.searchsorted(indptr, position, side="right") - 1
    indices = csr.indices[starts[row_of] + position - indptr[row_of]]
    data = cp.ones(total, dtype=cp.float64)
    return sparse.csr_matrix((data, indices, indptr.astype(cp.int32)), shape=(int(rows.size), csr.num_nodes))


def _sorted_product(left, right):
    """``left @ right`` with sorted column indices (for binary search)."""
    cp = array_module("gpu")
    degree = right.indptr[1:] - right.indptr[:-1]
    flops = int(cp.sum(degree[left.indices], dtype=cp.int64)) if int(left.nnz) else 0
    if flops > _MAX_FLOPS:  # cuSPARSE's workspace grows with the products; its counts are 32-bit
        raise _BatchTooLarge(f"a sparse product of {flops} multiplications is too large for one cuSPARSE call")
    out = left @ right
    out.has_sorted_indices = False  # do not trust the flag: force a sort
    out.sort_indices()
    return out


def _multi_hop(cp, csr, ev_csr, walks_h, degree_h, active_h, hops, budget, progress, timings) -> np.ndarray:
    import cupyx.scipy.sparse as sparse  # noqa: PLC0415

    from . import _cpu  # noqa: PLC0415  (batch planning helpers, host side)
    from ._csr import Csr  # noqa: PLC0415
    from ._exact import make_plan, progress_bar  # noqa: PLC0415

    n = csr.num_nodes
    ev_host = Csr(ev_csr.indptr.get(), ev_csr.indices.get(), n, ev_csr.num_edges)
    graph_bytes = int(csr.indptr.nbytes + csr.indices.nbytes * 4 + ev_csr.indices.nbytes + 8 * n * (hops + 4))
    host = _HostPrep(Csr(csr.indptr.get(), np.zeros(0, np.int32), n, csr.num_edges), ev_host, walks_h, degree_h, graph_bytes)
    plan = make_plan(host, hops, "gpu")
    room = min(float(budget - plan.fixed_bytes), _MAX_NNZ * 12.0)
    sources = np.flatnonzero(active_h)
    own = plan.own_bytes + 24.0 * np.diff(ev_host.indptr)  # walk rows + pair arrays
    batch_of = _cpu.greedy_batches(sources, own, ev_host.indptr, ev_host.indices, plan.node_bytes, room)
    if room <= 0 or (sources.size and batch_of.min() < 0):
        raise BudgetExceeded(
            f"exact TC with hops={hops} on the GPU does not fit the memory budget {format_size(budget)}",
            hint="raise --memory-budget, use fewer hops, or use the approximation (--approx)",
        )
    batches = np.split(sources, np.flatnonzero(np.diff(batch_of)) + 1) if sources.size else []
    adjacency = sparse.csr_matrix(
        (cp.ones(csr.indices.size, dtype=cp.float64), csr.indices, csr.indptr.astype(cp.int32)), shape=(n, n)
    )
    parts = cp.zeros((hops * hops, n), dtype=cp.float64)
    too_big = _resource_errors(cp)
    pending = batches[::-1]
    timings["splits"] = 0
    bar = progress_bar(progress and len(batches) > 1, len(batches), f"exact TC on GPU (hops={hops})")
    try:
        while pending:
            batch = pending.pop()
            try:
                rows = _batch_rows(cp, csr, adjacency, ev_host, batch, hops, timings)
            except too_big:
                # The plan bounds sizes, not cuSPARSE's workspace: halve the batch and go on.
                cp.get_default_memory_pool().free_all_blocks()
                if batch.size == 1:
                    raise BudgetExceeded(
                        f"exact TC with hops={hops} on the GPU: node {int(batch[0])} alone exceeds the device's resources",
                        hint="use --backend cpu, fewer hops, or the approximation (--approx)",
                    ) from None
                half = batch.size // 2
                pending += [batch[half:], batch[:half]]
                timings["splits"] += 1
                if bar is not None:
                    bar.total += 1
                continue
            t1 = time.perf_counter()
            _hop_pairs(cp, csr, rows, hops, parts)
            _sync(cp)
            timings["kernel"] += time.perf_counter() - t1
            del rows
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    timings["batches"] = len(batches) + timings["splits"]
    return parts.get()


def _resource_errors(cp) -> tuple[type[BaseException], ...]:
    """Errors that mean "this batch is too large for the device" (then it is split)."""
    errors: list[type[BaseException]] = [cp.cuda.memory.OutOfMemoryError, _BatchTooLarge]
    try:
        from cupy_backends.cuda.libs.cusparse import CuSparseError  # noqa: PLC0415

        errors.append(CuSparseError)
    except ImportError:  # pragma: no cover - older CuPy layouts
        pass
    return tuple(errors)


class _BatchTooLarge(Exception):
    """A sparse product of a batch would exceed cuSPARSE's 32-bit entry count."""


@dataclass(eq=False)
class _BatchRows:
    """Everything ``hop_pair`` reads for one batch; built before any launch, so a
    batch that fails here has added nothing to the result."""

    num_pairs: int
    pair_src: object
    pair_r: object
    pair_j: object
    pair_jj: object
    walk: list  # (indptr int64, indices int32, values float64) of A^(k+1) rows of the sources
    reach: list  # (indptr int64, indices int32) of A^(k+1) supports of the targets, k >= 1


def _batch_rows(cp, csr, adjacency, ev_host, batch: np.ndarray, hops: int, timings: dict) -> _BatchRows:
    from ._exact import neighbours_of  # noqa: PLC0415

    t0 = time.perf_counter()
    counts = np.diff(ev_host.indptr)[batch]
    pair_j = neighbours_of(ev_host.indptr, ev_host.indices, batch)
    targets, pair_jj = np.unique(pair_j, return_inverse=True)
    walk, reach = [], []
    level = _sparse_rows(cp, csr, cp.asarray(batch))
    walk.append((level.indptr.astype(cp.int64), level.indices.astype(cp.int32), level.data.astype(cp.float64)))
    for _ in range(1, hops):
        level = _sorted_product(level, adjacency)
        walk.append((level.indptr.astype(cp.int64), level.indices.astype(cp.int32), level.data.astype(cp.float64)))
    level = _sparse_rows(cp, csr, cp.asarray(targets))
    for _ in range(1, hops):
        level = _sorted_product(level, adjacency)
        reach.append((level.indptr.astype(cp.int64), level.indices.astype(cp.int32)))
    del level
    rows = _BatchRows(
        num_pairs=int(pair_j.size),
        pair_src=cp.asarray(np.repeat(batch, counts)),
        pair_r=cp.asarray(np.repeat(np.arange(batch.size, dtype=np.int64), counts)),
        pair_j=cp.asarray(pair_j),
        pair_jj=cp.asarray(pair_jj.reshape(-1).astype(np.int64)),
        walk=walk,
        reach=reach,
    )
    _sync(cp)
    timings["reach"] += time.perf_counter() - t0
    return rows


def _hop_pairs(cp, csr, rows: _BatchRows, hops: int, parts) -> None:
    """``parts[k1 * hops + k2][i] += sum over pairs (i, j) of the A^(k1+1)[i] values on the A^(k2+1) support of j``."""
    hop_pair = _kernel("hop_pair")
    for k1 in range(hops):
        r_ptr, r_idx, r_val = rows.walk[k1]
        for k2 in range(hops):
            if k2 == 0:
                s_ptr, s_idx, s_row = csr.indptr, csr.indices, rows.pair_j
            else:
                (s_ptr, s_idx), s_row = rows.reach[k2 - 1], rows.pair_jj
            hop_pair(
                _grid(32 * rows.num_pairs),
                (_BLOCK,),
                (np.int64(rows.num_pairs), rows.pair_src, rows.pair_r, s_row, r_ptr, r_idx, r_val, s_ptr, s_idx,
                 parts[k1 * hops + k2]),
            )


@dataclass(frozen=True, eq=False)
class _HostPrep:
    """The host-side fields :func:`topo_graphdb.kernels._exact.make_plan` reads."""

    csr: object
    ev: object
    walks: np.ndarray
    degree: np.ndarray
    graph_bytes: int
