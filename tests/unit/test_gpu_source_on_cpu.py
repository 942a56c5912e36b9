"""The CUDA source of the GPU kernels, compiled as C++ and run thread by thread on the CPU.

CI has no GPU; this keeps the kernels' logic (``topo_graphdb.kernels._gpu._SOURCE``)
and the array code around them under test anyway. A small header maps CUDA's
built-ins to C++ (the thread indices become globals that a loop sets, ``atomicAdd``
a plain addition); the array module is NumPy. ``hop_pair`` ends with a warp
shuffle reduction, which a sequential loop cannot run: there each lane adds its
own partial sum instead (the same total). The emulated kernels need a C++
compiler (``g++``); the size checks need nothing.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest
from graphs import power_law_edges

from topo_graphdb.errors import BackendUnavailable
from topo_graphdb.kernels import _gpu

_HEADER = r"""
#define __global__
#define __device__
#define __forceinline__ inline
struct dim3_t { long long x, y, z; };
static dim3_t blockIdx, blockDim, threadIdx;
static double atomicAdd(double* a, double b) { double old = *a; *a += b; return old; }
"""

_DRIVER = r"""
#define LOOP(body) blockDim.x = block; \
  for (long long g = 0; g < grid; ++g) { blockIdx.x = g; \
    for (long long t = 0; t < block; ++t) { threadIdx.x = t; body; } }
extern "C" {
void run_pair_common(long long grid, long long block, long long m, int team, const long long* a, const long long* b,
                     const long long* indptr, const int* indices, double weight, int credit, double* out)
{ LOOP(pair_common(m, team, a, b, indptr, indices, weight, credit, out)) }
void run_spmv(long long grid, long long block, long long n, const long long* indptr, const int* indices,
              const double* x, double* y)
{ LOOP(spmv(n, indptr, indices, x, y)) }
void run_hop_pair(long long grid, long long block, long long m, const long long* src, const long long* r_row,
                  const long long* s_row, const long long* r_ptr, const int* r_idx, const double* r_val,
                  const long long* s_ptr, const int* s_idx, double* out)
{ LOOP(hop_pair(m, src, r_row, s_row, r_ptr, r_idx, r_val, s_ptr, s_idx, out)) }
}
"""

_TYPES = {"int64": ctypes.c_longlong, "int32": ctypes.c_int, "float64": ctypes.c_double}
_ARGS = {  # (kind, dtype) per kernel argument, in order
    "pair_common": ["int64", "int32", "p64", "p64", "p64", "p32", "float64", "int32", "pf"],
    "spmv": ["int64", "p64", "p32", "pf", "pf"],
    "hop_pair": ["int64", "p64", "p64", "p64", "p64", "p32", "pf", "p64", "p32", "pf"],
}
_POINTEE = {"p64": np.int64, "p32": np.int32, "pf": np.float64}


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """``_gpu`` with NumPy as its array module and the kernels running on the CPU."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to compile the CUDA source as C++")
    source = _gpu._SOURCE
    reduction = "for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);"
    assert reduction in source and "if (lane == 0 && acc != 0.0)" in source
    source = source.replace(reduction, "").replace("if (lane == 0 && acc != 0.0)", "if (acc != 0.0)")
    folder = tmp_path_factory.mktemp("cuda_as_cpp")
    (folder / "kernels.cpp").write_text(_HEADER + source + _DRIVER)
    subprocess.run(
        ["g++", "-O1", "-std=c++14", "-shared", "-fPIC", "-o", str(folder / "kernels.so"), str(folder / "kernels.cpp")],
        check=True, capture_output=True,
    )
    lib = ctypes.CDLL(str(folder / "kernels.so"))

    def launcher(name):
        def launch(grid, block, args):
            assert len(args) == len(_ARGS[name])
            converted = [ctypes.c_longlong(int(grid[0])), ctypes.c_longlong(int(block[0]))]
            for value, kind in zip(args, _ARGS[name]):
                if kind in _POINTEE:
                    assert isinstance(value, np.ndarray) and value.dtype == _POINTEE[kind], (name, kind, value.dtype)
                    assert value.flags.c_contiguous
                    converted.append(value.ctypes.data_as(ctypes.c_void_p))
                else:
                    assert isinstance(value, np.generic) and value.dtype == np.dtype(kind), (name, kind, type(value))
                    converted.append(_TYPES[kind](value.item()))
            getattr(lib, f"run_{name}")(*converted)

        return launch

    saved = _gpu.array_module, _gpu._kernel
    _gpu.array_module = lambda backend: np
    _gpu._kernel = launcher
    yield _gpu
    _gpu.array_module, _gpu._kernel = saved


def test_adjacency_size_check_refuses_what_an_int32_row_pointer_cannot_hold():
    limit = (2**31 - 1) // 2  # undirected edges: both directions stored
    for hops in (2, 3, 4):
        _gpu.check_adjacency_size(limit, hops)  # the largest graph that fits
        with pytest.raises(BackendUnavailable, match=f"hops={hops} on the GPU handles at most 1,073,741,823 undirected edges") as info:
            _gpu.check_adjacency_size(limit + 1, hops)
        assert "1,073,741,824" in str(info.value) and "--backend cpu" in str(info.value)
        assert "\n" not in str(info.value) and info.value.exit_code == 7
    _gpu.check_adjacency_size(10**10, 1)  # K = 1: int64 row pointers, no such limit


def test_exact_tc_on_the_gpu_checks_the_size_before_building_anything(monkeypatch):
    """The check sits in ``compute`` before the device CSR is built (NumPy stands in for CuPy;
    the limit is lowered so that a small graph trips it)."""
    monkeypatch.setattr(_gpu, "array_module", lambda backend: np)
    monkeypatch.setattr(_gpu, "_MAX_NNZ", 9)
    class Built(Exception):
        pass

    def build(*args):
        raise Built

    monkeypatch.setattr(_gpu, "build_csr_gpu", build)
    edges = np.array([[0, 0, 1, 1, 2], [1, 2, 2, 3, 3]])  # 5 undirected edges: 10 entries > 9
    with pytest.raises(BackendUnavailable, match="handles at most 4 undirected edges"):
        _gpu.compute(edges, None, 4, 2, 2**30, False)
    monkeypatch.setattr(_gpu, "_MAX_NNZ", 10)
    with pytest.raises(Built):  # 10 entries fit: it goes on to build the CSR
        _gpu.compute(edges, None, 4, 2, 2**30, False)


def _random_graph(rng, n, m):
    return power_law_edges(n, m, rng, exponent=0.9)


def _sets(lo, hi, n):
    adj = [set() for _ in range(n)]
    for a, b in zip(lo.tolist(), hi.tolist()):
        adj[a].add(b)
        adj[b].add(a)
    return adj


def test_common_neighbours_and_triangles_equal_naive_sums(emulated, monkeypatch):
    rng = np.random.default_rng(0)
    for _case in range(150):
        n = int(rng.integers(3, 50))
        lo, hi = emulated._canonical_gpu(np, _random_graph(rng, n, int(rng.integers(1, 300))), n)
        if lo.size == 0:
            continue
        monkeypatch.setattr(emulated, "_HEAVY", int(rng.integers(0, 6)))  # both thread and warp teams
        adj = _sets(lo, hi, n)
        want = np.zeros(n)
        for a, b in zip(lo.tolist(), hi.tolist()):
            want[a] += len(adj[a] & adj[b])
            want[b] += len(adj[a] & adj[b])
        csr = emulated.build_csr_gpu(lo, hi, n)
        np.testing.assert_array_equal(emulated.cn_per_node(csr, lo, hi), want)
        np.testing.assert_array_equal(emulated.triangles_per_node(csr), want)
        oriented, u, v = emulated.orient_by_degree(csr)
        deg = np.diff(csr.indptr)
        assert oriented.num_edges == lo.size
        assert np.all((deg[u] < deg[v]) | ((deg[u] == deg[v]) & (u < v)))


def test_csr_and_walk_counts(emulated):
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    n = 40
    raw = _random_graph(rng, n, 200)
    lo, hi = emulated._canonical_gpu(np, raw, n)
    keep = raw[0] != raw[1]
    assert set(zip(lo.tolist(), hi.tolist())) == set(zip(np.minimum(*raw)[keep].tolist(), np.maximum(*raw)[keep].tolist()))
    csr = emulated.build_csr_gpu(lo, hi, n)
    a = sp.csr_matrix((np.ones(2 * lo.size), (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n))
    np.testing.assert_array_equal(csr.indptr, a.indptr)
    np.testing.assert_array_equal(csr.indices, a.indices)
    x = rng.random(n)
    y = np.zeros(n)
    emulated._kernel("spmv")(emulated._grid(n), (emulated._BLOCK,), (np.int64(n), csr.indptr, csr.indices, x, y))
    np.testing.assert_allclose(y, a @ x, rtol=1e-12)


def test_hop_pair_sums_walk_values_over_reach_supports(emulated):
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    n = 30
    lo, hi = emulated._canonical_gpu(np, _random_graph(rng, n, 120), n)
    a = sp.csr_matrix((np.ones(2 * lo.size), (np.r_[lo, hi], np.r_[hi, lo])), shape=(n, n))
    walks = (a @ a).tocsr()  # R: walk counts of length 2, rows = every node
    walks.sort_indices()
    support = ((a @ a @ a) > 0).astype(np.float64).tocsr()  # S: reach sets of length 3
    support.sort_indices()
    pair_src = rng.integers(0, n, 200).astype(np.int64)
    pair_j = rng.integers(0, n, 200).astype(np.int64)
    out = np.zeros(n)
    emulated._kernel("hop_pair")(
        emulated._grid(32 * pair_src.size), (emulated._BLOCK,),
        (np.int64(pair_src.size), pair_src, pair_src, pair_j, walks.indptr.astype(np.int64), walks.indices.astype(np.int32),
         walks.data.astype(np.float64), support.indptr.astype(np.int64), support.indices.astype(np.int32), out),
    )
    want = np.zeros(n)
    dense_w, dense_s = walks.toarray(), support.toarray() > 0
    for i, j in zip(pair_src.tolist(), pair_j.tolist()):
        want[i] += dense_w[i][dense_s[j]].sum()
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert want.sum() > 0
