"""The warm-up that compiles the CPU kernels before a first sync (topo_graphdb.pipeline.warmup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from topo_graphdb.kernels import _atc_cpu, _csr
from topo_graphdb.kernels._cpu import common, reach, select, walks
from topo_graphdb.pipeline.warmup import _graph

# The kernels a first sync with the default settings compiles (Numba's cache log of the Cora demo).
SYNC_KERNELS = [
    common._common_grouped, common._walks_grouped, reach._reach,
    select._push, select._push_common, select._push_pairs, select._sort_rows,
    walks._hop2_packed, walks._pair_hop2_packed,
    _atc_cpu._common, _atc_cpu._pair_dot_chunks, _atc_cpu._paths, _atc_cpu._propagate_min, _atc_cpu._spmm,
    _csr._fill_csr, _csr.spmv,
]  # fmt: skip


def _not_run() -> list[str]:
    return [f"{k.py_func.__module__}.{k.py_func.__qualname__}" for k in SYNC_KERNELS if not k.signatures]


def test_the_warm_up_runs_every_kernel_of_a_sync():
    # in a fresh process: the kernels that ran there have a signature (compiled, or loaded from the cache)
    code = "import test_warmup as t; from topo_graphdb.pipeline.warmup import warm_up; print(t._not_run()); warm_up(); print(t._not_run())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    before, after = out.stdout.strip().splitlines()[-2:]
    assert before != "[]"  # nothing had run yet
    assert after == "[]"


def test_the_warm_up_graph_is_simple_and_has_no_isolated_node():
    edges = _graph(50, seed=3)
    assert (edges[0] < edges[1]).all() and np.unique(edges[0] * 50 + edges[1]).size == edges.shape[1]
    assert np.bincount(edges.ravel(), minlength=50).min() >= 2
