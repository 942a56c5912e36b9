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
