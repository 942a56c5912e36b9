"""Pair TC: the Numba kernels against the naive oracle, hand-computed graphs, identities with node TC, validation."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb.errors import BackendUnavailable, BudgetExceeded, EmptyGraphError, InputError
from topo_graphdb.kernels import default_beta, pair_topological_concentration, topological_concentration
from topo_graphdb.kernels._cpu import reach as cpu_reach
from topo_graphdb.kernels.oracle import naive_pair_tc
from topo_graphdb.snapshot import GraphSnapshot

PATH = np.array([[0, 1, 2], [1, 2, 3]])  # 0-1-2-3
STAR = np.array([[0, 0, 0], [1, 2, 3]])  # centre 0
TRIANGLE = np.array([[0, 1, 2], [1, 2, 0]])


def ptc(train, pairs, **kw):
    return pair_topological_concentration(train, pairs, **kw)


def assert_same(fast: np.ndarray, slow: np.ndarray, rtol: float = 1e-9) -> None:
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    ok = ~np.isnan(slow)
    np.testing.assert_allclose(fast[ok], slow[ok], rtol=rtol, atol=1e-15)


def random_case(rng: np.random.Generator):
    n = int(rng.integers(3, 26))
    train = rng.integers(0, n - 1, (2, int(rng.integers(1, 70))))  # loops, duplicates; node n-1 isolated
    train = np.concatenate([train, [[0], [1]]], axis=1)
    pairs = rng.integers(0, n, (2, int(rng.integers(0, 40))))  # self-pairs, repeats, isolated ends
    return train, pairs, n


# ----------------------------------------------------------------------------- oracle agreement
@pytest.mark.parametrize("dense_share", [1.0 / 16.0, 2.0], ids=["dense-rows", "sparse-only"])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_matches_oracle_on_random_graphs(monkeypatch, dense_share, hops):
    # dense_share decides whether large reach sets become dense 0/1 rows (both kernel branches)
    monkeypatch.setattr(cpu_reach, "DENSE_SHARE", dense_share)
    rng = np.random.default_rng(100 * hops + int(10 * dense_share))
    for _ in range(40):
        train, pairs, n = random_case(rng)
        beta = None if rng.random() < 0.5 else float(rng.uniform(0.1, 2.0))
        fast = ptc(train, pairs, hops=hops, beta=beta, num_nodes=n)
        assert_same(fast.tc, naive_pair_tc(train, pairs, hops=hops, beta=beta, num_nodes=n))
        assert fast.tc_by_hops.shape == (hops, pairs.shape[1])
        for h in range(1, hops):
            assert_same(fast.tc_by_hops[h - 1], naive_pair_tc(train, pairs, hops=h, beta=fast.beta, num_nodes=n))
        np.testing.assert_array_equal(fast.tc_by_hops[-1], fast.tc)


def test_matches_oracle_for_four_hops():
    rng = np.random.default_rng(4)
    for _ in range(10):
        train, pairs, n = random_case(rng)
        assert_same(ptc(train, pairs, hops=4, beta=0.3, num_nodes=n).tc, naive_pair_tc(train, pairs, hops=4, beta=0.3, num_nodes=n))


def test_batched_run_under_a_small_budget_matches():
    rng = np.random.default_rng(7)
    train = rng.integers(0, 60, (2, 400))
    pairs = rng.integers(0, 60, (2, 500))
    full = ptc(train, pairs, hops=3)
    assert full.timings["batches"] == 1
    results = []
    for budget in (int(1e4 * 1.1**k) for k in range(40)):
        try:
            r = ptc(train, pairs, hops=3, memory_budget=budget)
        except BudgetExceeded as err:
            assert "memory budget" in str(err) and "\n" not in str(err)
            continue
        assert_same(r.tc, full.tc, rtol=1e-12)
        results.append(r.timings["batches"])
    assert max(results) > 1 and min(results) == 1


# ----------------------------------------------------------------------------- hand-computed values
def test_path_by_hand():
    # beta 0.5. Pair (0, 2): W1[0] = {1}, W2[0] = {0: 1, 2: 1}; S1(2) = {1, 3}, S2(2) = {0, 2}.
    # I = 1 + 0.5 * 0 + 0.5 * 0 + 0.25 * 2 = 1.5; D = (1 + 0.5) * (1 + 0.5 * 2) = 3.
    r = ptc(PATH, np.array([[0, 1, 0, 3], [2, 3, 3, 0]]), hops=2, beta=0.5)
    np.testing.assert_allclose(r.tc_by_hops[0], [1.0, 0.5, 0.0, 0.0])  # |N(i) ∩ N(j)| / deg(i)
    # (1, 3): W1[1] = {0, 2}, W2[1] = {1: 2, 3: 1}; S1(3) = {2}, S2(3) = {1, 3}:
    # I = 1 + 0.5 * 0 + 0.5 * 0 + 0.25 * 3 = 1.75; D = 1.5 * (2 + 0.5 * 3) = 5.25
    # (0, 3): S1(3) = {2}, S2(3) = {1, 3}: I = 0 + 0.5 * W1[0, 1] + 0.5 * W2[0, 2] + 0 = 1; D = 3
    # (3, 0): the mirror image of (0, 3)
    np.testing.assert_allclose(r.tc, [0.5, 1.75 / 5.25, 1 / 3, 1 / 3])


def test_star_by_hand():
    # leaf-leaf (1, 2): W1[1] = {0}, W2[1] = {1, 2, 3}; S1(2) = {0}, S2(2) = {1, 2, 3}:
    # I = 1 + 0 + 0 + 0.25 * 3 = 1.75, D = 1.5 * (1 + 1.5) = 3.75.
    # centre-leaf (0, 1): W1[0] = {1, 2, 3}, W2[0] = {0: 3}; S1(1) = {0}, S2(1) = {1, 2, 3}:
    # I = 0 + 0.5 * 3 + 0.5 * 3 + 0 = 3, D = 1.5 * (3 + 1.5) = 6.75.
    r = ptc(STAR, np.array([[1, 0, 1], [2, 1, 0]]), hops=2, beta=0.5)
    np.testing.assert_allclose(r.tc_by_hops[0], [1.0, 0.0, 0.0])
    # leaf-centre (1, 0): W1[1] = {0}, W2[1] = {1, 2, 3}; S1(0) = {1, 2, 3}, S2(0) = {0}: I = 0 + 0.5 + 0.5 * 3 + 0 = 2
    np.testing.assert_allclose(r.tc, [1.75 / 3.75, 3 / 6.75, 2 / 3.75])


def test_triangle_with_isolated_node_by_hand():
    # (0, 1): W1[0] = {1, 2}, W2[0] = {0: 2, 1: 1, 2: 1}; S1(1) = {0, 2}, S2(1) = {0, 1, 2}:
    # I = 1 + 0.5 * 2 + 0.5 * 3 + 0.25 * 4 = 4.5, D = 1.5 * (2 + 0.5 * 4) = 6.
    # (0, 3): node 3 is isolated, unreachable: 0. (3, 0): deg(3) = 0, undefined. (1, 1): undefined.
    r = ptc(TRIANGLE, np.array([[0, 0, 3, 1], [1, 3, 0, 1]]), hops=2, beta=0.5, num_nodes=4)
    assert_same(r.tc, np.array([0.75, 0.0, np.nan, np.nan]))
    assert_same(r.tc_by_hops[0], np.array([0.5, 0.0, np.nan, np.nan]))
    assert r.defined.tolist() == [True, True, False, False]
    assert r.distinct_pairs == 2 and r.num_nodes == 4


# ----------------------------------------------------------------------------- identities with node TC
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_equals_node_tc_when_each_node_has_one_evaluation_edge(hops):
    rng = np.random.default_rng(hops)
    for _ in range(10):
        n = 2 * int(rng.integers(2, 20))
        train = rng.integers(0, n, (2, int(rng.integers(n, 4 * n))))
        ev = rng.permutation(n).reshape(2, -1)  # a perfect matching: one evaluation edge per node
        node = topological_concentration(train, ev, hops=hops, num_nodes=n, backend="cpu")
        pairs = np.concatenate([ev, ev[::-1]], axis=1)
        pair = ptc(train, pairs, hops=hops, num_nodes=n)
        assert pair.beta == node.beta
        assert_same(pair.tc, node.tc[pairs[0]], rtol=1e-12)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_node_tc_is_the_mean_over_evaluation_neighbours(hops):
    rng = np.random.default_rng(10 + hops)
    n = 40
    train = rng.integers(0, n, (2, 120))
    ev = rng.integers(0, n, (2, 60))
    node = topological_concentration(train, ev, hops=hops, num_nodes=n, backend="cpu")
    lo, hi = np.minimum(*ev), np.maximum(*ev)
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    pairs = np.stack([np.concatenate([keys // n, keys % n]), np.concatenate([keys % n, keys // n])])
    pair = ptc(train, pairs, hops=hops, num_nodes=n)
    means = np.full(n, np.nan)
    for i in np.unique(pairs[0]):
        means[i] = pair.tc[pairs[0] == i].mean()
    assert_same(means, node.tc, rtol=1e-12)


# ----------------------------------------------------------------------------- API details
def test_default_beta_snapshot_and_empty_pairs():
    snap = GraphSnapshot.from_edges(np.array(["a", "b", "c"]), np.array(["b", "c", "d"]))
    r = ptc(snap, np.array([[0], [2]]), hops=1)
    assert r.beta == default_beta(snap) and r.tc.tolist() == [1.0]
    empty = ptc(PATH, np.zeros((2, 0), np.int64), hops=3)
    assert empty.tc.shape == (0,) and empty.tc_by_hops.shape == (3, 0) and empty.distinct_pairs == 0
    repeated = ptc(PATH, np.array([[0, 0, 0], [2, 2, 3]]), hops=2)
    assert repeated.distinct_pairs == 2 and repeated.tc[0] == repeated.tc[1]
    assert ptc(PATH, PATH, hops=2, backend="auto").backend == "cpu"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"hops": 0}, InputError, "hops must be an integer in 1..4; got 0"),
        ({"hops": 5}, InputError, "hops must be an integer in 1..4; got 5"),
        ({"hops": 2.0}, InputError, "hops must be an integer"),
        ({"beta": -1.0}, InputError, "beta must be a finite number > 0; got -1.0"),
        ({"beta": float("nan")}, InputError, "beta must be a finite number > 0"),
        ({"num_nodes": 3}, InputError, "num_nodes must exceed every node index"),
        ({"backend": "tpu"}, InputError, "backend must be one of"),
        ({"backend": "gpu"}, BackendUnavailable, "pair TC has no GPU implementation"),
        ({"memory_budget": 0}, InputError, "memory_budget must be a number of bytes > 0"),
        ({"pairs": None}, InputError, "pairs must be an edge array of shape (2, P); got None"),
        ({"pairs": np.zeros((3, 2), np.int64)}, InputError, "pairs must be an edge array of shape (2, E)"),
        ({"pairs": np.array([[0.5], [1.0]])}, InputError, "pairs must hold integer node indices"),
        ({"pairs": np.array([[0], [-1]])}, InputError, "pairs must hold node indices >= 0; got -1"),
        ({"train": np.array([[1, 2], [1, 2]])}, EmptyGraphError, "the train graph has no edges"),
    ],
)
def test_bad_input_is_one_line(kwargs, error, message):
    args = {"train": PATH, "pairs": np.array([[0], [2]])}
    args.update({k: kwargs.pop(k) for k in ("train", "pairs") if k in kwargs})
    with pytest.raises(error) as caught:
        ptc(args["train"], args["pairs"], **kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)
