"""Companion metrics (degree, clustering, pair heuristics) against NetworkX and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.kernels import clustering_coefficient, degree, pair_heuristics, topological_concentration

nx = pytest.importorskip("networkx")


def as_networkx(edges: np.ndarray, n: int):
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((int(a), int(b)) for a, b in edges.T if a != b)
    return g


def random_graph(rng: np.random.Generator):
    n = int(rng.integers(3, 40))
    edges = rng.integers(0, n, (2, int(rng.integers(2, 160))))
    return np.concatenate([edges, [[0], [1]]], axis=1), n


def test_by_hand_on_a_triangle_with_a_tail():
    edges = np.array([[0, 0, 1, 2, 2], [1, 2, 2, 3, 3]])  # triangle 0-1-2, tail 2-3 (listed twice)
    assert degree(edges).tolist() == [2, 2, 3, 1]
    np.testing.assert_allclose(clustering_coefficient(edges), [1.0, 1.0, 1 / 3, 0.0])
    h = pair_heuristics(edges, np.array([[0, 3, 1], [3, 1, 0]]))
    # (0,3): common {2}; (3,1): common {2}; (1,0): common {2}; deg(2) = 3
    assert h["cn"].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(h["ra"], [1 / 3] * 3)
    np.testing.assert_allclose(h["aa"], [1 / math.log(3)] * 3)
    np.testing.assert_allclose(h["jaccard"], [1 / 2, 1 / 2, 1 / 3])  # unions {1,2}, {0,2}, {0,1,2}


def test_degree_and_clustering_match_networkx():
    rng = np.random.default_rng(21)
    for _ in range(25):
        edges, n = random_graph(rng)
        g = as_networkx(edges, n)
        assert degree(edges, num_nodes=n).tolist() == [g.degree(v) for v in range(n)]
        expected = nx.clustering(g)
        np.testing.assert_allclose(clustering_coefficient(edges, num_nodes=n), [expected[v] for v in range(n)], rtol=1e-12)


def test_clustering_equals_one_hop_train_tc_where_defined():
    rng = np.random.default_rng(22)
    edges, n = random_graph(rng)
    c = clustering_coefficient(edges, num_nodes=n)
    t = topological_concentration(edges, num_nodes=n, backend="cpu").tc
    ok = ~np.isnan(t)
    np.testing.assert_allclose(c[ok], t[ok], rtol=1e-12)
    assert (c[~ok] == 0).all()


def test_pair_heuristics_match_networkx():
    rng = np.random.default_rng(23)
    for _ in range(20):
        edges, n = random_graph(rng)
        g = as_networkx(edges, n)
        pairs = rng.integers(0, n, (2, 50))
        pairs = pairs[:, pairs[0] != pairs[1]]
        h = pair_heuristics(edges, pairs, num_nodes=n, batch_size=7)  # several batches
        plist = [tuple(map(int, p)) for p in pairs.T]
        cn = [len(list(nx.common_neighbors(g, u, v))) for u, v in plist]
        np.testing.assert_array_equal(h["cn"], cn)
        np.testing.assert_allclose(h["ra"], [s for _, _, s in nx.resource_allocation_index(g, plist)], rtol=1e-12)
        np.testing.assert_allclose(h["aa"], [s for _, _, s in nx.adamic_adar_index(g, plist)], rtol=1e-12)
        np.testing.assert_allclose(h["jaccard"], [s for _, _, s in nx.jaccard_coefficient(g, plist)], rtol=1e-12)


def test_self_pairs_are_nan_and_isolated_pairs_are_zero():
    edges = np.array([[0, 1], [1, 2]])
    h = pair_heuristics(edges, np.array([[1, 3], [1, 4]]), num_nodes=5)
    for name in ("cn", "aa", "ra", "jaccard"):
        assert math.isnan(h[name][0])
        assert h[name][1] == 0.0  # two isolated nodes: empty union gives 0 (as NetworkX)


def test_which_selects_outputs():
    h = pair_heuristics(np.array([[0, 1], [1, 2]]), np.array([[0], [2]]), which=("ra",))
    assert list(h) == ["ra"] and h["ra"].tolist() == [0.5]
    assert list(pair_heuristics(np.array([[0, 1], [1, 2]]), np.array([[0], [2]]), which="cn")) == ["cn"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"which": ("cn", "katz")}, "which must name some of cn, aa, ra, jaccard"),
        ({"which": ()}, "which must name some of"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1; got 0"),
    ],
)
def test_pair_heuristics_validation(kwargs, message):
    with pytest.raises(InputError, match=message):
        pair_heuristics(np.array([[0, 1], [1, 2]]), np.array([[0], [2]]), **kwargs)


def test_pairs_must_be_an_edge_array():
    with pytest.raises(InputError, match=r"pairs must be an edge array of shape \(2, P\); got None"):
        pair_heuristics(np.array([[0, 1], [1, 2]]), None)
    with pytest.raises(InputError, match=r"pairs must be an edge array of shape \(2, E\); got shape \(2,\)"):
        pair_heuristics(np.array([[0, 1], [1, 2]]), np.array([0, 2]))


def test_three_step_walks_equal_the_cube_of_the_adjacency():
    from topo_graphdb.kernels.metrics import PairHeuristics

    rng = np.random.default_rng(11)
    for _ in range(20):
        edges, n = random_graph(rng)  # self-loops and duplicates included: the simple graph counts
        a = np.zeros((n, n))
        keep = edges[0] != edges[1]
        a[edges[0][keep], edges[1][keep]] = a[edges[1][keep], edges[0][keep]] = 1.0
        cube = a @ a @ a
        pairs = rng.integers(0, n, (2, 50))
        got = PairHeuristics(edges, num_nodes=n).three_step_walks(pairs)
        np.testing.assert_array_equal(got, cube[pairs[0], pairs[1]])
    with pytest.raises(InputError, match="pairs must hold node indices below"):
        PairHeuristics(np.array([[0, 1], [1, 2]])).three_step_walks(np.array([[0], [9]]))


def test_three_step_walks_of_grouped_pairs_equal_the_merge_kernel_and_the_cube():
    """Pairs sharing an endpoint (a hub with many targets, the same pair both ways, a node with itself)
    go through one scatter per group: the counts equal the per-pair merge kernel and A^3."""
    from topo_graphdb.kernels._atc_cpu import three_paths
    from topo_graphdb.kernels.metrics import PairHeuristics

    rng = np.random.default_rng(5)
    n = 300
    hubs = rng.integers(0, n, 6)
    src = np.concatenate([rng.integers(0, n, 900), np.repeat(hubs, 60)])  # a power-law-ish graph: hubs linked often
    dst = np.concatenate([rng.integers(0, n, 900), rng.integers(0, n, 360)])
    ph = PairHeuristics(np.stack([src, dst]), num_nodes=n)
    a = np.zeros((n, n))
    keep = src != dst
    a[src[keep], dst[keep]] = a[dst[keep], src[keep]] = 1.0
    cube = a @ a @ a
    targets = rng.integers(0, n, (hubs.size, 40))
    pairs = np.concatenate([
        np.stack([np.repeat(hubs, 40), targets.reshape(-1)]),  # each hub with 40 targets
        np.stack([targets.reshape(-1), np.repeat(hubs, 40)]),  # the same pairs the other way round
        np.stack([hubs, hubs]),  # a node with itself
        rng.integers(0, n, (2, 200)),
    ], axis=1)  # fmt: skip
    got = ph.three_step_walks(pairs)
    np.testing.assert_array_equal(got, cube[pairs[0], pairs[1]])
    merged, _ = three_paths(ph.indptr, ph.indices, pairs[0].copy(), pairs[1].copy())
    np.testing.assert_array_equal(got, merged)
    assert ph.three_step_walks(np.zeros((2, 0), np.int64)).shape == (0,)
