"""ATC on the GPU (CuPy) gives the CPU's values for the same seed.

Both backends draw the same projection and sketches (counter-based hashes), so
they differ only by float32 rounding in the sparse products and dot products.
"""

from __future__ import annotations

import numpy as np
import pytest
from graphs import DATASETS

from topo_graphdb.backend import gpu_available

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device"),
]



def _cora() -> tuple[np.ndarray, int]:
    from topo_graphdb.snapshot import simple_undirected

    raw = np.loadtxt(DATASETS / "cora" / "edges.csv", delimiter=",", skiprows=1, dtype=np.int64, usecols=(0, 1))
    ids, inverse = np.unique(raw.reshape(-1), return_inverse=True)
    return simple_undirected(inverse.reshape(-1, 2).T, ids.size)[0], int(ids.size)


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("exact_hop1", [True, False])
def test_gpu_matches_cpu(hops, exact_hop1):
    from topo_graphdb.kernels.atc import approximate_tc

    edges, n = _cora()
    rng = np.random.default_rng(0)
    held = rng.random(edges.shape[1]) < 0.15
    for train, ev in ((edges, None), (edges[:, ~held], edges[:, held])):
        kwargs = dict(hops=hops, dim=64, seed=3, num_nodes=n, exact_hop1=exact_hop1)
        cpu = approximate_tc(train, ev, backend="cpu", **kwargs)
        gpu = approximate_tc(train, ev, backend="gpu", **kwargs)
        assert gpu.backend == "gpu" and gpu.beta == cpu.beta
        np.testing.assert_array_equal(np.isnan(gpu.tc), np.isnan(cpu.tc))
        np.testing.assert_allclose(gpu.tc, cpu.tc, rtol=1e-4, atol=1e-6)


def test_gpu_kernels_match_numba():
    import cupy

    from topo_graphdb.kernels import _atc_cpu, _atc_gpu, _atc_stages, _csr

    edges, n = _cora()
    csr = _csr.csr_from_canonical(edges, n)
    cpu, gpu = _atc_cpu.CpuOps(), _atc_gpu.gpu_ops()
    g_cpu = cpu.adjacency(csr.indptr, csr.indices, n)
    g_gpu = gpu.adjacency(csr.indptr, csr.indices, n)
    np.testing.assert_array_equal(_atc_stages.rademacher(cupy, n, 100, 9).get(), _atc_stages.rademacher(np, n, 100, 9))
    seeds = _atc_stages.sketch_seeds(np, n, 32, 9)
    np.testing.assert_array_equal(_atc_stages.sketch_seeds(cupy, n, 32, 9).get(), seeds)
    np.testing.assert_array_equal(
        gpu.propagate_min(g_gpu, cupy.asarray(seeds)).get(), cpu.propagate_min(g_cpu, seeds)
    )
    a, b = edges
    np.testing.assert_array_equal(
        gpu.common_neighbours(g_gpu, cupy.asarray(a), cupy.asarray(b)).get(), cpu.common_neighbours(g_cpu, a, b)
    )
