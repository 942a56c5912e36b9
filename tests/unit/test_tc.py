"""Exact TC: fast kernels against the naive oracle, hand-computed graphs, identities, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from graphs import DATASETS

from topo_graphdb.backend import gpu_available
from topo_graphdb.errors import BackendUnavailable, BudgetExceeded, EmptyGraphError, InputError
from topo_graphdb.kernels import estimate_tc, topological_concentration
from topo_graphdb.kernels._cpu import reach as cpu_reach
from topo_graphdb.kernels.oracle import naive_tc
from topo_graphdb.snapshot import GraphSnapshot


def tc(train, eval=None, **kw):
    kw.setdefault("backend", "cpu")
    return topological_concentration(train, eval, **kw)


def assert_same(fast: np.ndarray, slow: np.ndarray, rtol: float = 1e-9) -> None:
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    ok = ~np.isnan(slow)
    np.testing.assert_allclose(fast[ok], slow[ok], rtol=rtol, atol=0)


def random_case(rng: np.random.Generator, with_eval: bool):
    n = int(rng.integers(2, 26))
    train = rng.integers(0, n, (2, int(rng.integers(1, 70))))  # loops and duplicates included on purpose
    train = np.concatenate([train, [[0], [1]]], axis=1)  # at least one edge
    ev = rng.integers(0, n, (2, int(rng.integers(0, 30)))) if with_eval else None
    return train, ev, n


# ----------------------------------------------------------------------------- oracle agreement
@pytest.mark.parametrize("dense_share", [1.0 / 16.0, 0.3, 2.0], ids=["dense-rows", "mixed", "sparse-only"])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_matches_oracle_on_random_graphs(monkeypatch, dense_share, hops):
    # dense_share decides which reach sets become dense rows: all, some, none
    monkeypatch.setattr(cpu_reach, "DENSE_SHARE", dense_share)
    rng = np.random.default_rng(1000 * hops + int(100 * dense_share))
    for case in range(60):
        train, ev, n = random_case(rng, with_eval=bool(case % 2))
        fast = tc(train, ev, hops=hops, num_nodes=n)
        slow = naive_tc(train, ev, hops=hops, num_nodes=n)
        assert_same(fast.tc, slow)
        assert fast.variant == ("train" if ev is None else "eval")


def test_matches_oracle_for_four_hops():
    rng = np.random.default_rng(4)
    for case in range(12):
        train, ev, n = random_case(rng, with_eval=bool(case % 2))
        beta = float(rng.uniform(0.1, 2.0))
        assert_same(tc(train, ev, hops=4, beta=beta, num_nodes=n).tc, naive_tc(train, ev, hops=4, beta=beta, num_nodes=n))


def test_oracle_without_the_reach_cache_gives_the_same_values():
    rng = np.random.default_rng(11)
    train, ev = rng.integers(0, 25, (2, 80)), rng.integers(0, 25, (2, 30))
    for eval_edges in (None, ev):
        cached = naive_tc(train, eval_edges, hops=3, num_nodes=25)
        literal = naive_tc(train, eval_edges, hops=3, num_nodes=25, cache_reach=False)
        np.testing.assert_array_equal(cached, literal)
        assert np.isfinite(cached).sum() > 10


def test_matches_oracle_on_a_denser_graph_with_hubs():
    rng = np.random.default_rng(7)
    n = 120
    hubs = rng.integers(0, 5, 300)
    train = np.stack([hubs, rng.integers(0, n, 300)])
    train = np.concatenate([train, rng.integers(0, n, (2, 200))], axis=1)
    ev = rng.integers(0, n, (2, 150))
    for hops in (2, 3):
        assert_same(tc(train, hops=hops).tc, naive_tc(train, hops=hops))
        assert_same(tc(train, ev, hops=hops).tc, naive_tc(train, ev, hops=hops))


@pytest.mark.parametrize("hops", [1, 2])
def test_matches_oracle_on_cora(hops):
    edges = np.loadtxt(DATASETS / "cora" / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64).T
    assert_same(tc(edges, hops=hops).tc, naive_tc(edges, hops=hops))


def test_batched_run_under_a_small_budget_matches():
    from topo_graphdb.kernels._exact import make_plan, prepare_nodes

    rng = np.random.default_rng(11)
    train = rng.integers(0, 60, (2, 400))
    full = tc(train, hops=3)
    assert full.batches == 1
    fixed = make_plan(prepare_nodes(train, None, None, 3), 3, "cpu").fixed_bytes
    with pytest.raises(BudgetExceeded, match="memory budget"):
        tc(train, hops=3, memory_budget=fixed + 10)  # not even one source's reach sets fit
    with pytest.raises(BudgetExceeded, match="memory budget"):
        tc(train, hops=3, memory_budget=1000)  # not even the graph fits
    batched = []
    for extra in (2000 * 1.5**k for k in range(12)):
        try:
            r = tc(train, hops=3, memory_budget=int(fixed + extra))
        except BudgetExceeded:
            continue
        assert_same(r.tc, full.tc, rtol=1e-12)
        batched.append(r.batches)
    assert max(batched) > 1 and min(batched) == 1


@pytest.mark.parametrize("hops", [2, 3])
def test_blocks_with_shared_reach_sets_match_and_build_them_once(hops):
    from topo_graphdb.kernels._exact import ReachCache, reusing_reach

    rng = np.random.default_rng(20 + hops)
    train, ev = rng.integers(0, 80, (2, 500)), rng.integers(0, 83, (2, 90))
    for eval_edges in (None, ev):
        full = tc(train, eval_edges, hops=hops)
        cache = ReachCache()
        got = np.full(full.tc.shape, np.nan)
        with reusing_reach(cache):
            for block in np.array_split(np.arange(full.tc.size), 5):
                r = tc(train, eval_edges, hops=hops, nodes=block)
                got[block] = r.tc[block]
                assert r.batches == 1
        assert_same(got, full.tc, rtol=0)  # integer walk counts: the same sums in any order
        assert cache.builds == 1  # the reach sets of every node, built for the first block only
        assert cache.preparations == 1  # and the CSR and walk totals of the same edge arrays
        other = tc(rng.integers(0, 80, (2, 300)), hops=hops)  # outside the block: nothing shared
        assert other.batches == 1 and cache.builds == 1 and cache.preparations == 1
        with reusing_reach(cache):  # equal edges in another array: prepared again, the same values
            again = tc(train.copy(), eval_edges, hops=hops, nodes=np.arange(full.tc.size))
        assert cache.preparations == 2 and cache.builds == 1
        assert_same(again.tc, full.tc, rtol=0)


def test_shared_reach_sets_that_do_not_fit_fall_back_to_batches():
    from topo_graphdb.kernels._exact import ReachCache, make_plan, prepare_nodes, reusing_reach

    rng = np.random.default_rng(11)
    train = rng.integers(0, 60, (2, 400))
    full = tc(train, hops=3)
    plan = make_plan(prepare_nodes(train, None, None, 3), 3, "cpu")
    budget = int(plan.fixed_bytes + plan.node_bytes.sum() / 3)  # a third of every node's reach sets
    cache = ReachCache()
    with reusing_reach(cache):
        r = tc(train, hops=3, memory_budget=budget)
    assert r.batches > 1 and cache.builds == 0  # each batch built its own targets' reach sets
    assert_same(r.tc, full.tc, rtol=1e-12)


def test_the_reach_cache_keeps_one_graph():
    from topo_graphdb.kernels._csr import csr_from_canonical
    from topo_graphdb.kernels._exact import ReachCache

    a = csr_from_canonical(np.array([[0, 1], [1, 2]]), 3)
    b = csr_from_canonical(np.array([[0], [2]]), 3)

    cache, built = ReachCache(), []
    for csr, hops in ((a, 2), (a, 2), (a, 3), (b, 3), (a, 2)):
        assert cache.table(csr, hops, lambda k=hops: built.append(k) or ("table", k)) == ("table", hops)
    assert built == [2, 3, 3, 2] and cache.builds == 4


# ----------------------------------------------------------------------------- hand-computed graphs
def test_path_graph_by_hand():
    path = np.array([[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(np.isnan(tc(path).tc), [True, False, False, True])
    assert tc(path).tc[1] == 0.0  # no triangles
    # hops=2, beta=1/2, node 1: W1 = {0:1, 2:1}, W2 = {1:2, 3:1}; D = (1+b)(2+3b) - 1 = 4.25
    # j=0: S1={1}, S2={0,2}: I = 0 + b*2 + b*2 + 0 = 2;  j=2: S1={1,3}, S2={0,2}: I = 0 + b*2 + b*3 + 0 = 2.5
    r = tc(path, hops=2, beta=0.5)
    assert r.tc[1] == pytest.approx((2 / 4.25 + 2.5 / 4.25) / 2, rel=1e-12)
    assert r.tc[2] == pytest.approx(9 / 17, rel=1e-12)
    assert np.isnan(r.tc[0]) and np.isnan(r.tc[3])


def test_star_graph_by_hand():
    star = np.array([[0, 0, 0], [1, 2, 3]])
    r1 = tc(star)
    assert r1.tc[0] == 0.0 and np.isnan(r1.tc[1:]).all()
    # center: W1 = {1,2,3}, W2 = {0:3}; D = 1.5 * (3 + 1.5) - 1 = 5.75
    # each leaf j: S1={0}, S2={1,2,3}: I = 0 + b*3 + b*3 + 0 = 3
    assert tc(star, hops=2, beta=0.5).tc[0] == pytest.approx(3 / 5.75, rel=1e-12)


def test_triangle_and_clique_by_hand():
    triangle = np.array([[0, 1, 2], [1, 2, 0]])
    np.testing.assert_array_equal(tc(triangle).tc, [1.0, 1.0, 1.0])
    # node 0: W1 = {1,2}, W2 = {0:2, 1:1, 2:1}; D = 1.5 * (2 + 2) - 1 = 5
    # j=1: S1={0,2}, S2={0,1,2}: I = 1 + b*2 + b*3 + b^2*4 = 4.5
    np.testing.assert_allclose(tc(triangle, hops=2, beta=0.5).tc, [0.9, 0.9, 0.9], rtol=1e-12)
    k4 = np.array([[0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3]])
    np.testing.assert_array_equal(tc(k4).tc, [1.0] * 4)


def test_isolated_node_is_undefined_and_counts_for_beta():
    triangle = np.array([[0, 1, 2], [1, 2, 0]])
    r = tc(triangle, num_nodes=4, hops=2)
    assert np.isnan(r.tc[3]) and not np.isnan(r.tc[:3]).any()
    assert r.beta == pytest.approx(4 / 6)  # 1 / mean degree, node 3 included
    assert tc(triangle, hops=2).beta == pytest.approx(3 / 6)


def test_eval_variant_by_hand():
    train = np.array([[0, 1], [1, 2]])  # path 0-1-2
    ev = np.array([[0], [2]])
    np.testing.assert_array_equal(tc(train, ev).tc[[0, 2]], [1.0, 1.0])
    assert np.isnan(tc(train, ev).tc[1])  # no evaluation neighbour
    # node 0: W1 = {1:1}, W2 = {0:1, 2:1}; D = (1+b)(1+2b) = 3 (no train correction)
    # j=2: S1={1}, S2={0,2}: I = 1 + 0 + 0 + b^2*2 = 1.5
    np.testing.assert_allclose(tc(train, ev, hops=2, beta=0.5).tc[[0, 2]], [0.5, 0.5], rtol=1e-12)


def test_eval_node_without_train_edges_is_undefined():
    train = np.array([[0, 1], [1, 2]])
    ev = np.array([[0, 3], [3, 1]])
    r = tc(train, ev, hops=2)
    assert np.isnan(r.tc[3])  # degree 0 in the train graph
    assert r.tc[0] == 0.0  # 3 has no train neighbours: nothing overlaps
    assert r.num_nodes == 4


# ----------------------------------------------------------------------------- identities
def test_one_hop_train_variant_is_the_clustering_coefficient():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(3, 40))
        train = rng.integers(0, n, (2, int(rng.integers(3, 150))))
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from((int(a), int(b)) for a, b in train.T if a != b)
        clustering = nx.clustering(g)
        r = tc(train, num_nodes=n)
        for node in range(n):
            if g.degree(node) >= 2:
                assert r.tc[node] == pytest.approx(clustering[node], rel=1e-12, abs=1e-15)
            else:
                assert math.isnan(r.tc[node])


def test_one_hop_eval_variant_is_the_neighbour_overlap_share():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(3, 30))
        train = rng.integers(0, n, (2, int(rng.integers(3, 80))))
        ev = rng.integers(0, n, (2, int(rng.integers(1, 40))))
        adj = {v: set() for v in range(n)}
        nev = {v: set() for v in range(n)}
        for a, b in train.T.tolist():
            if a != b:
                adj[a].add(b), adj[b].add(a)
        for a, b in ev.T.tolist():
            if a != b:
                nev[a].add(b), nev[b].add(a)
        r = tc(train, ev, num_nodes=n)
        for i in range(n):
            if not nev[i] or not adj[i]:
                assert math.isnan(r.tc[i])
            else:
                expected = np.mean([len(adj[i] & adj[j]) / len(adj[i]) for j in nev[i]])
                assert r.tc[i] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_parts_and_denominator_rebuild_tc():
    rng = np.random.default_rng(8)
    train = rng.integers(0, 30, (2, 120))
    r = tc(train, hops=3, beta=0.7)
    weights = 0.7 ** np.arange(3)
    rebuilt = np.einsum("a,b,abn->n", weights, weights, r.parts) / r.denominator
    assert_same(rebuilt, r.tc, rtol=1e-12)
    assert r.parts.shape == (3, 3, r.num_nodes)


def test_train_and_eval_variants_share_the_default_beta():
    rng = np.random.default_rng(9)
    train = rng.integers(0, 40, (2, 150))
    ev = rng.integers(0, 40, (2, 30))
    a, b = tc(train, hops=2, num_nodes=40), tc(train, ev, hops=2, num_nodes=40)
    assert a.beta == b.beta
    deg = np.zeros(40)
    for x, y in {(min(p, q), max(p, q)) for p, q in train.T.tolist() if p != q}:
        deg[x] += 1
        deg[y] += 1
    assert a.beta == pytest.approx(1 / deg.mean(), rel=1e-15)


def test_self_loops_duplicates_and_direction_are_ignored():
    base = np.array([[0, 0, 1, 2, 3], [1, 2, 2, 3, 4]])
    noisy = np.concatenate([base, base[::-1], np.array([[1, 3], [1, 3]])], axis=1)
    ev = np.array([[0, 4, 4], [4, 0, 4]])
    assert_same(tc(noisy, ev, hops=2).tc, tc(base, ev[:, :1], hops=2).tc, rtol=0)
    assert tc(noisy).train_edges == 5


def test_snapshot_input_matches_array_input():
    snap = GraphSnapshot.from_edges(np.array([10, 10, 20]), np.array([20, 30, 30]), nodes=np.array([40]))
    r = tc(snap, hops=2)
    assert r.num_nodes == 4 and np.isnan(r.tc[3])
    assert_same(r.tc, tc(snap.edge_index, hops=2, num_nodes=4).tc, rtol=0)


def test_progress_bar_run_gives_the_same_result():
    rng = np.random.default_rng(12)
    train = rng.integers(0, 50, (2, 300))
    assert_same(tc(train, hops=2, progress=True).tc, tc(train, hops=2).tc, rtol=0)


def test_estimate_reports_a_fitting_run():
    rng = np.random.default_rng(13)
    train = rng.integers(0, 50, (2, 300))
    est = estimate_tc(train, hops=2, backend="cpu", memory_budget=2**30)
    assert est.fits and est.batches_bound == 1 and est.train_edges == tc(train).train_edges
    assert est.lookup_bound > 0 and "fits the budget" in est.summary()
    assert not estimate_tc(train, hops=3, backend="cpu", memory_budget=1000).fits


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hops": 0}, "hops must be an integer in 1..4; got 0"),
        ({"hops": 5}, "hops must be an integer in 1..4; got 5"),
        ({"hops": 1.5}, "hops must be an integer"),
        ({"hops": True}, "hops must be an integer"),
        ({"beta": 0.0}, "beta must be a finite number > 0; got 0.0"),
        ({"beta": -1}, "beta must be"),
        ({"beta": float("nan")}, "beta must be"),
        ({"memory_budget": 0}, "memory_budget must be a number of bytes > 0; got 0"),
        ({"memory_budget": "lots"}, "memory budget must be a size like 512M"),
        ({"backend": "tpu"}, "backend must be one of auto, cpu, gpu"),
        ({"num_nodes": 2}, "num_nodes must exceed every node index"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        topological_concentration(np.array([[0, 1], [1, 2]]), **{"backend": "cpu", **kwargs})


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (np.array([[0, 1, 2]]), r"train must be an edge array of shape \(2, E\)"),
        (np.array([[0.0, 1.0], [1.0, 2.0]]), "train must hold integer node indices"),
        (np.array([[0, -1], [1, 2]]), "train must hold node indices >= 0"),
    ],
)
def test_invalid_edge_arrays(train, message):
    with pytest.raises(InputError, match=message):
        tc(train)


def test_invalid_eval_array_is_named():
    with pytest.raises(InputError, match="eval must be an edge array"):
        tc(np.array([[0, 1], [1, 2]]), np.array([1, 2]))


def test_graph_without_edges_is_an_error():
    with pytest.raises(EmptyGraphError):
        tc(np.array([[0, 1], [0, 1]]))  # self-loops only
    with pytest.raises(EmptyGraphError):
        tc(np.zeros((2, 0), np.int64), num_nodes=3)


@pytest.mark.skipif(gpu_available(), reason="a GPU is available here")
def test_gpu_backend_without_a_gpu_is_a_clear_error():
    with pytest.raises(BackendUnavailable, match="--backend gpu is not usable"):
        topological_concentration(np.array([[0, 1], [1, 2]]), backend="gpu")
