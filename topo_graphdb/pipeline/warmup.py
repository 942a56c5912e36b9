"""Compile the CPU kernels before a first run: ``python -m topo_graphdb.pipeline.warmup``.

Numba compiles each kernel on its first call and keeps the machine code in its
on-disk cache (``__pycache__`` beside the module, or ``NUMBA_CACHE_DIR``);
later processes load it in milliseconds. Without this step a first ``sync``
compiles about twenty kernels inside its phases. ``make install`` and the
Docker image run it once.

It runs the compute phases of a sync with the default settings (TC, ATC, a
one-epoch GCN, the held-out link calibration, the capped candidate links) on a
small random graph with node features, so the kernels are compiled for the
argument types a sync uses. No database, no model cache; nothing is written
but Numba's cache.
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np

from ..snapshot import simple_undirected

__all__ = ["warm_up"]


def _graph(num_nodes: int, seed: int) -> np.ndarray:
    """Undirected edges ``(2, E)`` (``u < v``) of a ring with random chords: every node has a degree >= 2."""
    rng = np.random.default_rng(seed)
    ring = np.stack([np.arange(num_nodes), (np.arange(num_nodes) + 1) % num_nodes])
    chords = rng.integers(0, num_nodes, size=(2, 3 * num_nodes))
    return simple_undirected(np.concatenate([ring, chords], axis=1), num_nodes)[0]


def warm_up() -> float:
    """Run the sync's compute phases once on a small graph; returns the seconds it took."""
    from ..config import load_config  # noqa: PLC0415
    from ..kernels import default_beta  # noqa: PLC0415
    from ..kernels.tc import topological_concentration  # noqa: PLC0415
    from .clock import Clock  # noqa: PLC0415
    from .phases import EXHAUSTIVE_NODES, atc_scores, calibrate_links, top_links, train_predictor, with_edges  # noqa: PLC0415
    from .report import SyncReport  # noqa: PLC0415

    t0 = time.perf_counter()
    n = EXHAUSTIVE_NODES + 100  # above it, the sync scores capped candidates (the kernels that need compiling)
    edges = _graph(n, seed=0)
    features = (np.random.default_rng(1).random((n, 32)) < 0.1).astype(np.float32)
    cfg = load_config(None, overrides={"selection.labels": ["Node"], "predict.epochs": 1, "compute.model_cache": False})
    report = SyncReport(run_id="warm-up", dry_run=True, scope="warm-up", hops=cfg.score.hops)
    clock = Clock(report, max_runtime=0.0, on_phase=None, on_progress=None)
    beta = default_beta(edges, n)
    topological_concentration(edges, hops=cfg.score.hops, beta=beta, num_nodes=n, backend="cpu")
    atc_scores(edges, n, cfg, beta)
    predictor, split, _ = train_predictor(SimpleNamespace(x=features), edges, None, n, cfg)
    calibrate_links(predictor, split, n, cfg, beta, clock, report)
    top_links(with_edges(predictor, edges, n, cfg), edges, n, np.arange(n), cfg, clock)
    return time.perf_counter() - t0


def main() -> int:
    seconds = warm_up()
    print(f"topo-graphdb: CPU kernels compiled and cached ({seconds:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
