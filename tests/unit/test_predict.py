"""Top-k prediction with capped candidates: equal to exhaustive when the caps cover every node; candidate order."""

from __future__ import annotations

import numpy as np
import pytest
from graphs import simple, uniform_edges


def test_capped_candidates_equal_exhaustive_top_k_when_the_caps_cover_every_node():
    from topo_graphdb.model.evaluate import make_predictor
    from topo_graphdb.model.predict import capped_candidates, predict_links
    from topo_graphdb.model.splits import random_split
    from topo_graphdb.snapshot import adjacency_matrix

    rng = np.random.default_rng(3)
    n = 120
    edges = simple(uniform_edges(n, 400, rng), n)
    split = random_split(edges, n, valid_fraction=0.1, test_fraction=0.0, seed=0)
    model = make_predictor("gcn", hidden=16, epochs=2, seed=0, device="cpu", progress=False).fit(split).use_edges(edges)
    known = adjacency_matrix(edges, n)
    sources = np.arange(0, n, 3)
    exh = predict_links(model, nodes=sources, top_k=5, exclude=known, method="exhaustive")
    s, d, v = capped_candidates(model, known, sources, top_k=5, two_hop=n, neighbours=n - 1, batch=7)
    assert set(zip(s.tolist(), d.tolist())) == set(zip(exh["src"].tolist(), exh["dst"].tolist()))
    np.testing.assert_allclose(np.sort(v), np.sort(exh["score"]), rtol=1e-5)
    assert not any(known[a, b] or a == b for a, b in zip(s, d))
    # tight caps: every source still gets top_k links, all of them candidates
    s, d, v = capped_candidates(model, known, sources, top_k=5, two_hop=3, neighbours=4)
    assert np.bincount(s, minlength=n)[sources].max() <= 5 and not any(known[a, b] or a == b for a, b in zip(s, d))


def _naive_top(vals: np.ndarray, k: int) -> list[list[tuple[float, int]]]:
    """Each row sorted by (-value, column), -inf and NaN dropped, first k."""
    out = []
    for row in vals:
        kept = sorted((-float(v), j) for j, v in enumerate(row) if v > -np.inf)
        out.append([(-v, j) for v, j in kept[:k]])
    return out


def test_running_top_k_of_rows_fed_in_blocks_equals_sorting_each_row():
    from topo_graphdb.kernels._cpu.select import RowTopK

    rng = np.random.default_rng(7)
    rows, n, k = 9, 300, 12
    vals = rng.integers(-5, 6, (rows, n)).astype(np.float32)  # many ties: the lower column must win
    vals[rng.random((rows, n)) < 0.1] = -np.inf
    vals[rng.random((rows, n)) < 0.05] = np.nan
    vals[3, 5:] = -np.inf  # a row with fewer than k entries
    top = RowTopK(rows, k)
    cols = rng.permutation(n)  # columns arrive in any order, in blocks of any width, to some rows each time
    start = 0
    while start < n:
        stop = min(n, start + int(rng.integers(1, 60)))
        some = np.sort(rng.choice(rows, int(rng.integers(1, rows + 1)), replace=False))
        top.push(vals[np.ix_(some, cols[start:stop])], some, cols[start:stop])
        rest = np.setdiff1d(np.arange(rows), some)  # the rows left out get the block later
        top.push(vals[np.ix_(rest, cols[start:stop])], rest, cols[start:stop])
        start = stop
    got_v, got_c = top.result()
    for r, want in enumerate(_naive_top(vals, k)):
        assert [(float(v), int(c)) for v, c in zip(got_v[r], got_c[r]) if v > -np.inf] == want
        assert np.isneginf(got_v[r, len(want):]).all()
    assert got_v.dtype == np.float64 and got_c.dtype == np.int64
    assert np.array_equal(top.threshold() > -np.inf, np.array([len(w) == k for w in _naive_top(vals, k)]))


def test_running_top_k_of_single_entries_in_any_order_equals_sorting_each_row():
    from topo_graphdb.kernels._cpu.select import RowTopK

    rng = np.random.default_rng(8)
    rows, n, k = 7, 120, 9
    vals = np.full((rows, n), -np.inf)
    r, c = np.nonzero(rng.random((rows, n)) < 0.4)
    vals[r, c] = rng.integers(0, 4, r.size)  # counts: ties everywhere
    vals[6] = -np.inf
    vals[6, [3, 90]] = [1.0, 2.0]  # a row with 2 entries
    r, c = np.nonzero(vals > -np.inf)
    order = rng.permutation(r.size)
    top = RowTopK(rows, k)
    top.push_pairs(r[order], c[order], vals[r, c][order].astype(np.int64))
    got_v, got_c = top.result()
    for i, want in enumerate(_naive_top(vals, k)):
        assert [(float(v), int(x)) for v, x in zip(got_v[i], got_c[i]) if v > -np.inf] == want
    assert got_v[6, :2].tolist() == [2.0, 1.0] and got_c[6, :2].tolist() == [90, 3] and np.isneginf(got_v[6, 2:]).all()
    row, col, value = top.kept()  # the same entries, flat
    ok = np.isfinite(got_v)
    assert row.tolist() == np.nonzero(ok)[0].tolist() and col.tolist() == got_c[ok].tolist() and value.tolist() == got_v[ok].tolist()


@pytest.mark.parametrize("first_block", [3, 1024])
def test_nearest_by_inner_product_is_exact_with_the_norm_bound(monkeypatch, first_block):
    import scipy.sparse as sp
    import torch

    from topo_graphdb.kernels._cpu import select
    from topo_graphdb.model import predict

    rng = np.random.default_rng(11)
    n, d, k = 400, 6, 7
    # small integers times powers of two: the float32 inner products are exact, ties happen, norms vary a lot
    emb = (rng.integers(-3, 4, (n, d)) * 2.0 ** rng.integers(0, 5, (n, 1))).astype(np.float32)
    emb[17] = 0.0  # a zero vector: its inner products are all 0, ties everywhere
    rows = np.array([0, 17, 5, 399, 123, 250])
    excluded = sp.random(rows.size, n, density=0.2, random_state=3, format="lil")
    excluded[2, :] = 0
    excluded[2, np.flatnonzero(np.arange(n) != 9)] = 1  # only node 9 is left for row 2 (and it is not the source)
    excluded = excluded.tocsr()
    monkeypatch.setattr(predict, "_FIRST_BLOCK", first_block)
    pushed = []
    push = select.RowTopK.push
    monkeypatch.setattr(select.RowTopK, "push", lambda self, block, *a: pushed.append(block.size) or push(self, block, *a))
    by_norm = predict._by_norm(emb)
    got_v, got_c = predict._nearest(by_norm, torch.from_numpy(by_norm["emb"]), rows, excluded, k).result()
    dense = emb.astype(np.float64) @ emb.T.astype(np.float64)
    ex = excluded.toarray() > 0
    for i, r in enumerate(rows):
        want = sorted((-dense[r, j], j) for j in range(n) if j != r and not ex[i, j])[:k]
        got = [(float(v), int(c)) for v, c in zip(got_v[i], got_c[i]) if v > -np.inf]
        assert got == [(-v, j) for v, j in want], r
    if first_block == 3:  # blocks of 3, 6, 12, ...: sources stop early, so far fewer than rows x n products
        assert sum(pushed) < 0.75 * rows.size * n  # (the zero vector and row 2 never stop)


def test_two_hop_nodes_by_common_neighbours_equal_counting_by_hand():
    from topo_graphdb.kernels._cpu.select import RowTopK
    from topo_graphdb.snapshot import adjacency_matrix

    rng = np.random.default_rng(12)
    n = 60
    edges = simple(uniform_edges(n, 200, rng), n)
    edges = np.concatenate([edges, [[5], [5]]], axis=1)  # a self-loop: node 5 is its own neighbour
    a = adjacency_matrix(edges, n, np.float32).tocsr()
    dense = a.toarray() > 0
    sources = np.array([5, 0, 17, 59, 33])
    k = 6
    top = RowTopK(sources.size, k)
    top.push_common(a.indptr, a.indices, sources)
    got_v, got_c = top.result()
    for i, s in enumerate(sources):
        counts = {w: int(sum(dense[s, u] and dense[u, w] for u in range(n))) for w in range(n) if w != s and not dense[s, w]}
        want = sorted((-c, w) for w, c in counts.items() if c > 0)[:k]
        assert [(float(v), int(w)) for v, w in zip(got_v[i], got_c[i]) if v > -np.inf] == [(-c, w) for c, w in want]
