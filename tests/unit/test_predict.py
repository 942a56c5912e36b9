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


@pytest.mark.parametrize("n", [50, 2**58])  # one sort key, or the lexsort fallback when the key would overflow
def test_candidate_order_is_row_then_count_descending_then_column(n):
    from topo_graphdb.model.predict import _by_row_then_count

    rng = np.random.default_rng(5)
    r = np.sort(rng.integers(0, 20, 500))
    c = rng.integers(0, 50, 500)
    count = rng.integers(1, 6, 500)
    got_r, got_c = _by_row_then_count(r, c, count, n)
    want = sorted(zip(r.tolist(), (-count).tolist(), c.tolist()))
    assert list(zip(got_r.tolist(), got_c.tolist())) == [(a, b) for a, _, b in want]
