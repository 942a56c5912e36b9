"""Incremental TC: the nodes a change affects, TC of a node subset, drift (against naive definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from graphs import simple, uniform_edges

from topo_graphdb.errors import InputError
from topo_graphdb.kernels.incremental import affected_nodes, drift_stats, tc_for_nodes
from topo_graphdb.kernels.oracle import naive_tc


def random_graph(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return simple(uniform_edges(n, m, rng), n)


def naive_distances(edges: np.ndarray, n: int, source: int) -> dict[int, int]:
    adj: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in edges.T.tolist():
        adj[a].add(b)
        adj[b].add(a)
    dist = {source: 0}
    frontier = [source]
    while frontier:
        nxt = []
        for u in frontier:
            for v in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist


def naive_affected(edges: np.ndarray, new: np.ndarray, n: int, hops: int) -> set[int]:
    """Straight from the definition: i with both ends of a new edge within `hops` of i."""
    out = set()
    for a, b in new.T.tolist():
        da = naive_distances(edges, n, a)
        db = naive_distances(edges, n, b)
        out |= {i for i in range(n) if da.get(i, 99) <= hops and db.get(i, 99) <= hops}
    return out


def test_affected_nodes_on_a_path():
    path = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    new = np.array([[4], [5]])
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=1)).tolist() == [4, 5]
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=2)).tolist() == [3, 4, 5]
    assert np.flatnonzero(affected_nodes(path, new, 6, hops=3)).tolist() == [2, 3, 4, 5]
    # a triangle closed by the new edge: the common neighbour is affected at K = 1
    tri = np.array([[0, 1, 0], [1, 2, 2]])
    assert np.flatnonzero(affected_nodes(tri, np.array([[0], [2]]), 4, hops=1)).tolist() == [0, 1, 2]
    assert not affected_nodes(path, np.zeros((2, 0), np.int64), 6, hops=2).any()
    with pytest.raises(InputError, match="hops must be an integer >= 1"):
        affected_nodes(path, new, 6, hops=0)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_affected_nodes_match_naive_definition_and_cover_every_change(hops):
    rng = np.random.default_rng(hops)
    for _ in range(15):
        n = int(rng.integers(8, 40))
        edges = random_graph(rng, n, int(rng.integers(n, 3 * n)))
        pick = rng.choice(edges.shape[1], size=min(3, edges.shape[1]), replace=False)
        new = edges[:, pick]
        old = np.delete(edges, pick, axis=1)
        got = affected_nodes(edges, new, n, hops=hops, batch=2)
        assert set(np.flatnonzero(got).tolist()) == naive_affected(edges, new, n, hops)
        beta = float(rng.uniform(0.2, 1.0))
        before = naive_tc(old, hops=hops, beta=beta, num_nodes=n)
        after = naive_tc(edges, hops=hops, beta=beta, num_nodes=n)
        changed = ~(np.isclose(before, after, rtol=1e-12, atol=0) | (np.isnan(before) & np.isnan(after)))
        assert not (changed & ~got).any()


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_tc_for_nodes_equals_a_whole_graph_run(hops):
    from topo_graphdb.kernels.tc import topological_concentration

    rng = np.random.default_rng(10 + hops)
    for _ in range(10):
        n = int(rng.integers(20, 80))
        edges = random_graph(rng, n, int(rng.integers(n, 3 * n)))
        beta = float(rng.uniform(0.1, 1.0))
        nodes = np.sort(rng.choice(n, size=5, replace=False))
        full = topological_concentration(edges, hops=hops, beta=beta, num_nodes=n, backend="cpu").tc
        part = tc_for_nodes(edges, nodes, n, hops=hops, beta=beta, backend="cpu", full_share=1.01)
        np.testing.assert_array_equal(part, full[nodes])  # bit for bit, NaN where undefined
        np.testing.assert_allclose(part, naive_tc(edges, hops=hops, beta=beta, num_nodes=n)[nodes], rtol=1e-12)


def test_drift_stats_against_the_naive_definition():
    rng = np.random.default_rng(5)
    n = 30
    edges = random_graph(rng, n, 70)
    new = edges[:, -6:]
    old = edges[:, :-6]
    beta = 0.4
    got = drift_stats(old, new, n, hops=2, beta=beta, backend="cpu")
    gained = np.unique(new)
    tc_new = naive_tc(old, new, hops=2, beta=beta, num_nodes=n)[gained]
    tc_train = naive_tc(old, hops=2, beta=beta, num_nodes=n)[gained]
    both = ~np.isnan(tc_new) & ~np.isnan(tc_train)
    assert got["drift_new_edges"] == 6
    assert got["drift_nodes"] == gained.size
    assert got["drift_nodes_compared"] == int(both.sum()) > 0
    assert got["drift_tc_new"] == pytest.approx(tc_new[both].mean(), rel=1e-12)
    assert got["drift_tc_train"] == pytest.approx(tc_train[both].mean(), rel=1e-12)
    assert got["drift_ratio"] == pytest.approx(tc_new[both].mean() / tc_train[both].mean(), rel=1e-12)
    empty = drift_stats(old, np.zeros((2, 0), np.int64), n, hops=2, beta=beta, backend="cpu")
    assert empty["drift_new_edges"] == 0 and empty["drift_ratio"] is None


@pytest.mark.gpu
def test_tc_for_nodes_and_drift_on_the_gpu_match_the_cpu():
    from topo_graphdb.backend import gpu_available

    if not gpu_available():
        pytest.skip("needs CuPy and a CUDA device")
    rng = np.random.default_rng(99)
    n = 200
    edges = random_graph(rng, n, 800)
    nodes = np.sort(rng.choice(n, size=20, replace=False))
    for hops in (1, 2):
        cpu = tc_for_nodes(edges, nodes, n, hops=hops, beta=0.3, backend="cpu", full_share=1.01)
        gpu = tc_for_nodes(edges, nodes, n, hops=hops, beta=0.3, backend="gpu", full_share=1.01)
        np.testing.assert_allclose(gpu, cpu, rtol=1e-12)
    a = drift_stats(edges[:, :-30], edges[:, -30:], n, hops=2, beta=0.3, backend="cpu")
    b = drift_stats(edges[:, :-30], edges[:, -30:], n, hops=2, beta=0.3, backend="gpu")
    assert b["drift_nodes_compared"] == a["drift_nodes_compared"]
    assert b["drift_ratio"] == pytest.approx(a["drift_ratio"], rel=1e-12)
