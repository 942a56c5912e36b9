"""Exact TC on the GPU equals the CPU result on the same inputs (needs CuPy and a CUDA device)."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb.backend import gpu_available

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device"),
]


def both(train, ev=None, **kw):
    from topo_graphdb.kernels import topological_concentration

    gpu = topological_concentration(train, ev, backend="gpu", **kw)
    cpu = topological_concentration(train, ev, backend="cpu", **kw)
    assert gpu.backend == "gpu" and cpu.backend == "cpu"
    return gpu, cpu


def assert_same(gpu, cpu, rtol=1e-9):
    np.testing.assert_array_equal(np.isnan(gpu.tc), np.isnan(cpu.tc))
    ok = ~np.isnan(cpu.tc)
    np.testing.assert_allclose(gpu.tc[ok], cpu.tc[ok], rtol=rtol, atol=0)
    assert gpu.beta == cpu.beta and gpu.train_edges == cpu.train_edges and gpu.eval_edges == cpu.eval_edges


def power_law_edges(rng, n, m, exponent=2.2):
    weights = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / (exponent - 1.0))
    cdf = np.cumsum(weights) / weights.sum()
    return np.searchsorted(cdf, rng.random((2, m))).astype(np.int64)


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_random_small_graphs(hops):
    rng = np.random.default_rng(hops)
    for case in range(20):
        n = int(rng.integers(3, 40))
        train = np.concatenate([rng.integers(0, n, (2, int(rng.integers(1, 120)))), [[0], [1]]], axis=1)
        ev = rng.integers(0, n, (2, int(rng.integers(1, 40)))) if case % 2 else None
        assert_same(*both(train, ev, hops=hops, num_nodes=n))


def test_four_hops():
    rng = np.random.default_rng(4)
    train = rng.integers(0, 30, (2, 90))
    assert_same(*both(train, hops=4, beta=0.3))
    assert_same(*both(train, rng.integers(0, 30, (2, 20)), hops=4))


@pytest.mark.parametrize("hops", [1, 2])
def test_power_law_graph(hops):
    rng = np.random.default_rng(10 + hops)
    train = power_law_edges(rng, 3000, 30000)
    ev = power_law_edges(rng, 3000, 3000)
    assert_same(*both(train, hops=hops))
    assert_same(*both(train, ev, hops=hops))


def test_batched_gpu_run_under_a_small_budget():
    from topo_graphdb.errors import BudgetExceeded
    from topo_graphdb.kernels import topological_concentration

    rng = np.random.default_rng(5)
    train = power_law_edges(rng, 400, 3000)
    cpu = topological_concentration(train, hops=3, backend="cpu")
    batches = []
    for budget in (2**16 * 2**k for k in range(14)):
        try:
            gpu = topological_concentration(train, hops=3, backend="gpu", memory_budget=budget)
        except BudgetExceeded:
            continue
        assert_same(gpu, cpu)
        batches.append(gpu.batches)
    assert batches and max(batches) > 1


def test_batches_split_when_a_sparse_product_is_too_large(monkeypatch):
    """With a cap on multiplications per sparse product that every single source
    fits but the whole graph does not, batches are halved until they fit."""
    import scipy.sparse as sp

    from topo_graphdb.kernels import _gpu, topological_concentration
    from topo_graphdb.snapshot import simple_undirected

    rng = np.random.default_rng(6)
    n = 500
    edges = simple_undirected(power_law_edges(rng, n, 1500), n)[0]
    a = sp.coo_matrix((np.ones(edges.shape[1]), (edges[0], edges[1])), shape=(n, n))
    a = (a + a.T).tocsr()
    deg = np.asarray(a.sum(axis=1)).ravel()
    f2 = a @ deg  # multiplications to get a node's A^2 row from its A row
    f3 = ((a @ a) != 0).astype(np.float64) @ deg  # ... its A^3 row from its A^2 support
    single = max(float((a @ f3).max()), float(f3.max()), float((a @ f2).max()))  # one source alone
    assert single < f3.sum()  # the whole graph in one batch does not fit
    cpu = topological_concentration(edges, hops=3, backend="cpu", num_nodes=n)
    monkeypatch.setattr(_gpu, "_MAX_FLOPS", int(single))
    gpu = topological_concentration(edges, hops=3, backend="gpu", num_nodes=n)
    assert_same(gpu, cpu)
    assert gpu.timings["splits"] > 0 and gpu.batches > 1


def test_train_variant_one_hop_counts_triangles():
    """The degree-oriented triangle count equals the per-edge common-neighbour sum."""
    import cupy

    from topo_graphdb.kernels import _gpu

    rng = np.random.default_rng(7)
    n = 2000
    lo, hi = _gpu._canonical_gpu(cupy, power_law_edges(rng, n, 40000, exponent=2.05), n)
    csr = _gpu.build_csr_gpu(lo, hi, n)
    np.testing.assert_array_equal(_gpu.triangles_per_node(csr).get(), _gpu.cn_per_node(csr, lo, hi).get())
    oriented, u, v = _gpu.orient_by_degree(csr)
    assert oriented.num_edges == csr.num_edges and int(cupy.count_nonzero(u == v)) == 0
