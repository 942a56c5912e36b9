"""Graphs shared by the tests: seeded random edge lists and the bundled datasets' folder.

Edge lists are ``(2, m)`` int64 arrays of node ids ``0..n-1``; unless
``simple`` is asked for they may hold self-loops and duplicates, which the
kernels must clean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the datasets bundled with the package (Cora, Citeseer, reptile, ...; provenance beside each)
DATASETS = Path(__file__).resolve().parents[1] / "topo_graphdb" / "datasets"


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def uniform_edges(n: int, m: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``m`` endpoints pairs drawn uniformly from ``0..n-1`` (loops and duplicates possible)."""
    return _rng(seed).integers(0, n, size=(2, m))


def power_law_edges(n: int, m: int, seed: int | np.random.Generator = 0, *, exponent: float = 0.8) -> np.ndarray:
    """``m`` pairs whose endpoints are node ``i`` with probability proportional to ``(i + 1) ** -exponent`` (a few hubs)."""
    p = 1.0 / np.arange(1, n + 1) ** exponent
    return _rng(seed).choice(n, size=(2, m), p=p / p.sum())


def simple(edges: np.ndarray, n: int) -> np.ndarray:
    """The undirected simple graph of ``edges``: no loops, each pair once as ``(min, max)``, sorted."""
    e = np.asarray(edges, dtype=np.int64)
    e = e[:, e[0] != e[1]]
    keys = np.unique(np.minimum(*e) * n + np.maximum(*e))
    return np.stack([keys // n, keys % n])


def write_reptile_split(directory: Path, seed: int = 0):
    """Write the bundled reptile graph's seeded random split as ``train.csv``, ``valid.csv``
    and ``test.csv`` (original ids) into ``directory``; returns ``(edges table, ids, split)``."""
    import pandas as pd  # noqa: PLC0415  (only the CLI tests need it)

    from topo_graphdb.model.splits import random_split  # noqa: PLC0415

    df = pd.read_csv(DATASETS / "reptile" / "edges.csv")
    ids = np.unique(np.r_[df.src, df.dst])
    e = np.stack([np.searchsorted(ids, df.src), np.searchsorted(ids, df.dst)])
    s = random_split(e, ids.size, seed=seed)
    for part in ("train", "valid", "test"):
        p = getattr(s, f"{part}_pos")
        pd.DataFrame({"src": ids[p[0]], "dst": ids[p[1]]}).to_csv(directory / f"{part}.csv", index=False)
    return df, ids, s
