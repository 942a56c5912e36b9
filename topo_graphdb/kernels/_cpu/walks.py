"""Walk-count sums over reach sets (K >= 2): per evaluation edge of each source, and per node pair.

:func:`hop_pair_sums` gives ``sum_{j in N_ev(i)} sum_{v in S_k2(j)} (A^k1)[i, v]``
for each source ``i`` (exact TC); :func:`pair_hop_sums` gives
``sum_{v in S_k2(j)} (A^k1)[i, v]`` for each pair ``(i, j)`` (pair TC). Both
build the dense rows of ``A^1..A^K`` for one source at a time in a per-thread
workspace from :func:`walk_buffers`. The two share the inlined walk helpers,
which stay in this module: Numba's on-disk cache of a function is renewed
only when its own file changes, not when an inlined callee in another file does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .threads import chunk_bounds, num_threads

__all__ = ["hop_pair_sums", "pair_hop_sums", "walk_buffers", "walk_bytes_per_thread"]


@njit(cache=True, inline="always")
def _positions(t: int, nthreads: int, bounds: np.ndarray) -> np.ndarray:
    # positions of the chunks t, t + nthreads, ... (chunks are contiguous runs of sources)
    total = 0
    for c in range(t, bounds.size - 1, nthreads):
        total += bounds[c + 1] - bounds[c]
    out = np.empty(total, np.int64)
    k = 0
    for c in range(t, bounds.size - 1, nthreads):
        for idx in range(bounds[c], bounds[c + 1]):
            out[k] = idx
            k += 1
    return out


@njit(cache=True, inline="always")
def _walk_rows(
    indptr: np.ndarray, indices: np.ndarray, i: int, K: int, walks: np.ndarray, support: np.ndarray, size: np.ndarray
) -> None:
    # dense rows of A^1..A^K for i, pushing walk counts hop by hop:
    # walks[v*K + k-1] = (A^k)[i, v]; support[k-1, :size[k-1]] = nodes with (A^k)[i, v] > 0
    size[0] = 0
    for p in range(indptr[i], indptr[i + 1]):
        v = indices[p]
        walks[v * K] = 1
        support[0, size[0]] = v
        size[0] += 1
    for lev in range(K - 1):
        size[lev + 1] = 0
        for s in range(size[lev]):
            x = support[lev, s]
            c = walks[x * K + lev]
            for p in range(indptr[x], indptr[x + 1]):
                slot = indices[p] * K + lev + 1
                if walks[slot] == 0:
                    support[lev + 1, size[lev + 1]] = indices[p]
                    size[lev + 1] += 1
                walks[slot] += c


@njit(cache=True, inline="always")
def _clear_walk_rows(K: int, walks: np.ndarray, support: np.ndarray, size: np.ndarray) -> None:
    for lev in range(K):
        for s in range(size[lev]):
            walks[support[lev, s] * K + lev] = 0


@njit(cache=True, parallel=True)
def _hop_pair_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    hops: int,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    count_buffers: np.ndarray,
    parts: np.ndarray,
) -> None:
    K = hops
    n = indptr.size - 1
    nthreads = walk_buffers.shape[0]
    for t in prange(nthreads):
        walks = walk_buffers[t]  # walks[v*K + k-1] = (A^k)[i, v], zero between sources
        support = support_buffers[t]  # support[k-1, :size[k-1]] = nodes v with (A^k)[i, v] > 0
        counts = count_buffers[t]  # counts[k-2, v] = #{j in N_ev(i) with a dense S_k(j) containing v}
        size = np.zeros(K, np.int64)
        used = np.zeros(K, np.bool_)
        acc = np.zeros(K * K, np.float64)
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            _walk_rows(indptr, indices, i, K, walks, support, size)
            for r in range(K * K):
                acc[r] = 0.0
            for r in range(K):
                used[r] = False
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                j = ev_indices[q]
                jj = jlocal[j]
                for p in range(indptr[j], indptr[j + 1]):  # S_1(j) = N(j)
                    base = indices[p] * K
                    for k1 in range(K):
                        acc[k1 * K] += walks[base + k1]
                for k2 in range(1, K):
                    row = dslot[k2 - 1, jj]
                    if row >= 0:
                        line = dense[row]
                        cnt = counts[k2 - 1]
                        for v in range(n):
                            cnt[v] += line[v]
                        used[k2] = True
                    else:
                        lo = rstart[k2 - 1, jj]
                        for p in range(lo, lo + rcount[k2 - 1, jj]):
                            base = ridx[p] * K
                            for k1 in range(K):
                                acc[k1 * K + k2] += walks[base + k1]
            for k2 in range(1, K):
                if used[k2]:
                    cnt = counts[k2 - 1]
                    for k1 in range(K):
                        total = 0.0
                        for s in range(size[k1]):
                            v = support[k1, s]
                            total += walks[v * K + k1] * np.float64(cnt[v])
                        acc[k1 * K + k2] += total
                    cnt[:] = 0
            for r in range(K * K):
                parts[r, i] = acc[r]
            _clear_walk_rows(K, walks, support, size)


@njit(cache=True, parallel=True)
def _hop2_packed(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    count_buffers: np.ndarray,
    parts: np.ndarray,
) -> None:
    # Long: one fused per-source pass whose phases share the packed walk row, the sweep choice and the counters.
    # hops == 2 with both walk counts of a node packed in one int64:
    # walks[v] = A[i, v] + (A^2)[i, v] * 2^32. Summing packed words over a set
    # gives both sums at once (the low half stays below 2^32 because a set has
    # fewer than 2^32 nodes; the caller checks that A^2 row sums are below 2^31).
    n = indptr.size - 1
    nthreads = walk_buffers.shape[0]
    low = np.int64(0xFFFFFFFF)
    high = np.int64(1) << 32
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        cnt = count_buffers[t, 0]
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            walks2 = 0  # number of 2-walks from i
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] += 1
                walks2 += indptr[indices[p] + 1] - indptr[indices[p]]
            # many 2-walks: push without tracking the support, then sweep all n
            # nodes (branch-free, vectorised) instead of following a list
            sweep = walks2 * 16 >= n
            size2 = 0
            if sweep:
                for p in range(indptr[i], indptr[i + 1]):
                    x = indices[p]
                    for r in range(indptr[x], indptr[x + 1]):
                        walks[indices[r]] += high
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    x = indices[p]
                    for r in range(indptr[x], indptr[x + 1]):
                        y = indices[r]
                        if walks[y] < high:
                            support[size2] = y
                            size2 += 1
                        walks[y] += high
            p11 = np.int64(0)
            p21 = np.int64(0)
            p12 = np.int64(0)
            p22 = np.int64(0)
            used = False
            for q in range(ev_indptr[i], ev_indptr[i + 1]):
                j = ev_indices[q]
                acc = np.int64(0)
                for p in range(indptr[j], indptr[j + 1]):
                    acc += walks[indices[p]]
                p11 += acc & low
                p21 += acc >> 32
                jj = jlocal[j]
                row = dslot[0, jj]
                if row >= 0:
                    line = dense[row]
                    for v in range(n):
                        cnt[v] += line[v]
                    used = True
                else:
                    lo = rstart[0, jj]
                    acc = np.int64(0)
                    for p in range(lo, lo + rcount[0, jj]):
                        acc += walks[ridx[p]]
                    p12 += acc & low
                    p22 += acc >> 32
            if used:
                for p in range(indptr[i], indptr[i + 1]):
                    p12 += np.int64(cnt[indices[p]])
                if sweep:
                    for v in range(n):
                        p22 += (walks[v] >> 32) * np.int64(cnt[v])
                else:
                    for s in range(size2):
                        v = support[s]
                        p22 += (walks[v] >> 32) * np.int64(cnt[v])
                cnt[:] = 0
            parts[0, i] = p11
            parts[1, i] = p12
            parts[2, i] = p21
            parts[3, i] = p22
            if sweep:
                walks[:] = 0
            else:
                for p in range(indptr[i], indptr[i + 1]):
                    walks[indices[p]] = 0
                for s in range(size2):
                    walks[support[s]] = 0


def _packed(hops: int, num_edges: int) -> bool:
    return hops == 2 and num_edges < 2**30


def _count_dtype(max_ev_degree: int) -> type:
    return np.uint16 if max_ev_degree < 2**16 else np.uint32


def walk_buffers(
    num_nodes: int, num_edges: int, hops: int, max_degree: int, max_ev_degree: int, index_dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread workspace for :func:`hop_pair_sums`: walk rows, support lists, dense-row counters.

    For ``hops == 2`` both counts of a node share one int64 (requires fewer
    than 2**30 edges, so that ``A^2`` row sums stay below 2**31). Otherwise walk
    counts are stored as int32 when ``max_degree^(hops-1)`` (the largest
    possible entry of ``A^hops``) fits, else as float64 (exact below 2**53).
    Counters are uint16 unless an evaluation degree reaches 2**16.
    """
    nt = num_threads()
    counts = np.zeros((nt, hops - 1, num_nodes), _count_dtype(max_ev_degree))
    if _packed(hops, num_edges):
        return np.zeros((nt, num_nodes), np.int64), np.empty((nt, num_nodes), index_dtype), counts
    small = float(max_degree) ** max(hops - 1, 0) < 2**31 - 1
    walks = np.zeros((nt, num_nodes * hops), np.int32 if small else np.float64)
    support = np.empty((nt, hops, num_nodes), index_dtype)
    return walks, support, counts


def walk_bytes_per_thread(
    num_nodes: int, num_edges: int, hops: int, max_degree: int, max_ev_degree: int, index_bytes: int
) -> int:
    """Bytes of one thread's workspace from :func:`walk_buffers`."""
    counters = (hops - 1) * num_nodes * np.dtype(_count_dtype(max_ev_degree)).itemsize
    if _packed(hops, num_edges):
        return num_nodes * (8 + index_bytes) + counters
    small = float(max_degree) ** max(hops - 1, 0) < 2**31 - 1
    return num_nodes * hops * ((4 if small else 8) + index_bytes) + counters


def hop_pair_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    ev_indptr: np.ndarray,
    ev_indices: np.ndarray,
    sources: np.ndarray,
    jlocal: np.ndarray,
    reach: tuple,
    hops: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
    parts: np.ndarray,
    cost: np.ndarray | None = None,
) -> None:
    """Fill ``parts[(k1-1)*K + (k2-1), i] = sum_{j in N_ev(i)} sum_{v in S_k2(j)} (A^k1)[i, v]``.

    Only the columns ``i`` in ``sources`` are written. The sources are cut
    into contiguous runs of similar ``cost`` (per node, shape (n,)) that are
    dealt round-robin to the threads: neighbouring ids often share
    neighbours, so keeping runs together reuses cached reach rows. ``jlocal[j]`` is the position of
    ``j`` in the ``reach`` table from :func:`reach_sets`; ``buffers`` come from
    :func:`walk_buffers` and must be zero on entry (they are left zero).

    Per source ``i``: dense rows of ``A^1..A^K`` for ``i``; for each
    evaluation neighbour ``j`` and each ``k2``, either one lookup per node of
    ``S_k2(j)`` or, for a dense row, a vectorised add into a counter vector
    that is then dotted with the walk rows once per source.
    """
    rstart, rcount, ridx, dslot, dense = reach
    walks, support, counts = buffers
    sources = np.asarray(sources, np.int64)
    bounds = chunk_bounds(cost[sources] if cost is not None else np.ones(sources.size), 8 * walks.shape[0])
    if walks.ndim == 2 and walks.shape[1] == parts.shape[1] and hops == 2:
        _hop2_packed(
            indptr, indices, ev_indptr, ev_indices, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense,
            walks, support, counts, parts,
        )
        return
    _hop_pair_sums(
        indptr, indices, ev_indptr, ev_indices, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense, hops,
        walks, support, counts, parts,
    )


# ----------------------------------------------------------------------------- pairs, K >= 2
@njit(cache=True, parallel=True)
def _pair_hop_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    hops: int,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    out: np.ndarray,
) -> None:
    # As _hop_pair_sums, but one column of out per pair q (the pairs of source
    # i are q in p_indptr[i]:p_indptr[i+1]); a dense reach row is dotted with
    # i's walk rows over their supports.
    K = hops
    nthreads = walk_buffers.shape[0]
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        size = np.zeros(K, np.int64)
        acc = np.zeros(K * K, np.float64)
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            _walk_rows(indptr, indices, i, K, walks, support, size)
            for q in range(p_indptr[i], p_indptr[i + 1]):
                j = p_targets[q]
                jj = jlocal[j]
                for r in range(K * K):
                    acc[r] = 0.0
                for p in range(indptr[j], indptr[j + 1]):  # S_1(j) = N(j)
                    base = indices[p] * K
                    for k1 in range(K):
                        acc[k1 * K] += walks[base + k1]
                for k2 in range(1, K):
                    row = dslot[k2 - 1, jj]
                    if row >= 0:
                        line = dense[row]
                        for k1 in range(K):
                            total = 0.0
                            for s in range(size[k1]):
                                v = support[k1, s]
                                total += walks[v * K + k1] * np.float64(line[v])
                            acc[k1 * K + k2] += total
                    else:
                        lo = rstart[k2 - 1, jj]
                        for p in range(lo, lo + rcount[k2 - 1, jj]):
                            base = ridx[p] * K
                            for k1 in range(K):
                                acc[k1 * K + k2] += walks[base + k1]
                for r in range(K * K):
                    out[r, q] = acc[r]
            _clear_walk_rows(K, walks, support, size)


@njit(cache=True, parallel=True)
def _pair_hop2_packed(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    bounds: np.ndarray,
    jlocal: np.ndarray,
    rstart: np.ndarray,
    rcount: np.ndarray,
    ridx: np.ndarray,
    dslot: np.ndarray,
    dense: np.ndarray,
    walk_buffers: np.ndarray,
    support_buffers: np.ndarray,
    out: np.ndarray,
) -> None:
    # hops == 2, both walk counts of a node packed in one int64 as in _hop2_packed.
    nthreads = walk_buffers.shape[0]
    low = np.int64(0xFFFFFFFF)
    high = np.int64(1) << 32
    for t in prange(nthreads):
        walks = walk_buffers[t]
        support = support_buffers[t]
        for idx in _positions(t, nthreads, bounds):
            i = sources[idx]
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] += 1
            size2 = 0
            for p in range(indptr[i], indptr[i + 1]):
                x = indices[p]
                for r in range(indptr[x], indptr[x + 1]):
                    y = indices[r]
                    if walks[y] < high:
                        support[size2] = y
                        size2 += 1
                    walks[y] += high
            for q in range(p_indptr[i], p_indptr[i + 1]):
                j = p_targets[q]
                acc = np.int64(0)
                for p in range(indptr[j], indptr[j + 1]):
                    acc += walks[indices[p]]
                out[0, q] = acc & low
                out[2, q] = acc >> 32
                row = dslot[0, jlocal[j]]
                if row >= 0:
                    line = dense[row]
                    p12 = np.int64(0)
                    for p in range(indptr[i], indptr[i + 1]):
                        p12 += np.int64(line[indices[p]])
                    p22 = np.int64(0)
                    for s in range(size2):
                        v = support[s]
                        p22 += (walks[v] >> 32) * np.int64(line[v])
                    out[1, q] = p12
                    out[3, q] = p22
                else:
                    lo = rstart[0, jlocal[j]]
                    acc = np.int64(0)
                    for p in range(lo, lo + rcount[0, jlocal[j]]):
                        acc += walks[ridx[p]]
                    out[1, q] = acc & low
                    out[3, q] = acc >> 32
            for p in range(indptr[i], indptr[i + 1]):
                walks[indices[p]] = 0
            for s in range(size2):
                walks[support[s]] = 0


def pair_hop_sums(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_indptr: np.ndarray,
    p_targets: np.ndarray,
    sources: np.ndarray,
    jlocal: np.ndarray,
    reach: tuple,
    hops: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: np.ndarray,
    cost: np.ndarray | None = None,
) -> None:
    """Fill ``out[(k1-1)*K + (k2-1), q] = sum_{v in S_k2(j)} (A^k1)[i, v]`` for every pair ``q = (i, j)``.

    The pairs of source ``i`` are ``q`` in ``p_indptr[i]:p_indptr[i+1]`` with
    targets ``p_targets[q]``; only the pairs of ``sources`` are written.
    ``jlocal``, ``reach``, ``buffers`` and ``cost`` as for
    :func:`hop_pair_sums`. Per source: dense rows of ``A^1..A^K`` for ``i``
    once; per pair one lookup per node of ``S_k2(j)``, or, where ``S_k2(j)``
    is a dense 0/1 row, one per node of the supports of i's walk rows.
    """
    rstart, rcount, ridx, dslot, dense = reach
    walks, support, _counts = buffers
    sources = np.asarray(sources, np.int64)
    bounds = chunk_bounds(cost[sources] if cost is not None else np.ones(sources.size), 8 * walks.shape[0])
    if hops == 2 and walks.ndim == 2 and walks.shape[1] == indptr.size - 1:
        _pair_hop2_packed(
            indptr, indices, p_indptr, p_targets, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense,
            walks, support, out,
        )
        return
    _pair_hop_sums(
        indptr, indices, p_indptr, p_targets, sources, bounds, jlocal, rstart, rcount, ridx, dslot, dense, hops,
        walks, support, out,
    )

