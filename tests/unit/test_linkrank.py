"""Ranking predicted links per source against a naive oracle."""

from __future__ import annotations

import itertools

import numpy as np

from topo_graphdb.linkrank import rank_links


def _naive_rank(src, dst, scores, top_k, min_score):
    best = {}
    for a, b, s in zip(src, dst, scores):
        if a == b or not np.isfinite(s) or (min_score is not None and s < min_score):
            continue
        if (a, b) not in best or s > best[(a, b)]:
            best[(a, b)] = s
    per = {}
    for (a, b), s in best.items():
        per.setdefault(a, []).append((-s, b))
    out = []
    for a in sorted(per):
        items = sorted(per[a])[: top_k if top_k else None]
        out += [(a, b, -ns) for ns, b in items]
    return out


def test_rank_links_matches_naive_oracle():
    rng = np.random.default_rng(1)
    for top_k, min_score in itertools.product([None, 1, 3], [None, 0.3]):
        for _ in range(10):
            n, m = 7, 40
            src = rng.integers(0, n, m)
            dst = rng.integers(0, n, m)
            sc = np.round(rng.random(m), 1)  # ties on purpose
            sc[rng.integers(0, m)] = np.nan
            sources, s, d, scr, _, stats = rank_links(n, src, dst, sc, top_k, min_score)
            assert list(zip(s.tolist(), d.tolist(), scr.tolist())) == _naive_rank(src, dst, sc, top_k, min_score)
            assert sources.tolist() == sorted(set(src[np.isfinite(sc)].tolist()))
