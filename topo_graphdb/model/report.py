"""Writing an evaluation: ``report.json``, ``node_metrics.csv`` and PNG plots.

Plots (matplotlib, Agg backend, no display needed):

* ``tc_vs_performance.png``: per-node Precision@10 against each TC variant,
  with the mean per TC decile;
* ``performance_by_tc_bucket.png``: mean Precision/Recall/NDCG@10 per TC^Train
  and TC^Test bucket (K = 1);
* ``performance_by_degree_bucket.png``: the same per training-degree bucket.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report", "bucket_means", "json_ready", "TC_BUCKETS", "DEGREE_BUCKETS"]

TC_BUCKETS = (0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 1.0000001)
DEGREE_BUCKETS = (0, 1, 2, 3, 5, 9, 17, 33, 65, np.inf)
_METRICS = ("precision@10", "recall@10", "ndcg@10")


def bucket_means(values: np.ndarray, perf: np.ndarray, edges) -> list[dict[str, Any]]:
    """Mean of ``perf`` per half-open bucket ``[edges[i], edges[i+1])`` of ``values``.

    Only entries where both are finite count.

    >>> bucket_means(np.array([0.0, 0.5, 0.7]), np.array([1.0, 2.0, 4.0]), (0, 0.5, 1))
    [{'low': 0.0, 'high': 0.5, 'count': 1, 'mean': 1.0}, {'low': 0.5, 'high': 1.0, 'count': 2, 'mean': 3.0}]
    """
    ok = np.isfinite(values) & np.isfinite(perf)
    v, p = values[ok], perf[ok]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (v >= lo) & (v < hi)
        out.append({"low": float(lo), "high": float(hi), "count": int(m.sum()), "mean": float(p[m].mean()) if m.any() else float("nan")})
    return out


def _write_csv(table: dict[str, np.ndarray], path: Path) -> None:
    import pandas as pd  # noqa: PLC0415

    df = pd.DataFrame({k: np.asarray(v) for k, v in table.items()})
    if "rr" in df.columns:  # nodes with at least one test neighbour
        df = df[np.isfinite(df["rr"].to_numpy(dtype=float))]
    df.to_csv(path, index=False, float_format="%.6g")


def _plots(table: dict[str, np.ndarray], out: Path) -> list[str]:
    from ._figure import agg_figure  # noqa: PLC0415

    written = []
    perf = np.asarray(table["precision@10"], dtype=float)
    tc_names = sorted(k for k in table if k.startswith(("tc_", "atc_")))
    if tc_names:
        cols = min(3, len(tc_names))
        rows = int(np.ceil(len(tc_names) / cols))
        fig = agg_figure(4.2 * cols, 3.4 * rows)
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, name in zip(axes.ravel(), tc_names):
            v = np.asarray(table[name], dtype=float)
            ok = np.isfinite(v) & np.isfinite(perf)
            ax.scatter(v[ok], perf[ok], s=4, alpha=0.3, color="tab:blue")
            if ok.sum() >= 10:
                qs = np.unique(np.quantile(v[ok], np.linspace(0, 1, 11)))
                if qs.size >= 2:
                    qs[-1] += 1e-12
                    b = bucket_means(v, perf, qs)
                    ax.plot([(x["low"] + x["high"]) / 2 for x in b], [x["mean"] for x in b], "o-", color="tab:red", label="decile mean")
                    ax.legend(fontsize=7)
            ax.set_xlabel(name)
            ax.set_ylabel("Precision@10")
        for ax in axes.ravel()[len(tc_names) :]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / "tc_vs_performance.png", dpi=110)
        written.append("tc_vs_performance.png")

    def bars(key_names: list[str], edges, fname: str, xlabel: str) -> None:
        fig = agg_figure(5.2 * len(key_names), 3.6)
        axes = fig.subplots(1, len(key_names), squeeze=False)
        for ax, key in zip(axes.ravel(), key_names):
            v = np.asarray(table[key], dtype=float)
            width = 0.8 / len(_METRICS)
            labels = None
            for i, metric in enumerate(_METRICS):
                b = bucket_means(v, np.asarray(table[metric], dtype=float), edges)
                labels = [f"[{x['low']:g},{x['high']:g})\nn={x['count']}" for x in b]
                ax.bar(np.arange(len(b)) + i * width, [x["mean"] for x in b], width, label=metric)
            ax.set_xticks(np.arange(len(labels)) + width, labels, fontsize=6)
            ax.set_xlabel(f"{xlabel}: {key}")
            ax.set_ylabel("mean per-node metric")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        written.append(fname)

    tc_keys = [k for k in ("tc_train_k1", "tc_test_k1") if k in table]
    if tc_keys:
        bars(tc_keys, TC_BUCKETS, "performance_by_tc_bucket.png", "TC bucket")
    if "degree" in table:
        bars(["degree"], DEGREE_BUCKETS, "performance_by_degree_bucket.png", "degree bucket")
    return written


def write_report(report: dict[str, Any], table: dict[str, np.ndarray], output_dir: str | Path, *, plots: bool = True) -> Path:
    """Write ``report.json``, ``node_metrics.csv`` (nodes with a test neighbour)
    and, with ``plots``, the PNG plots into ``output_dir`` (created)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "precision@10" in table:
        key = "degree"
        if key in table:
            report.setdefault("buckets", {})["degree"] = json_ready(bucket_means(np.asarray(table[key], float), np.asarray(table["precision@10"], float), DEGREE_BUCKETS))
        for key in ("tc_train_k1", "tc_test_k1"):
            if key in table:
                report.setdefault("buckets", {})[key] = json_ready(bucket_means(np.asarray(table[key], float), np.asarray(table["precision@10"], float), TC_BUCKETS))
    _write_csv(table, out / "node_metrics.csv")
    report["files"] = ["report.json", "node_metrics.csv"] + (_plots(table, out) if plots else [])
    (out / "report.json").write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))
    return out


def json_ready(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays as Python values, NaN and inf as None, dict keys as str.

    >>> json_ready({1: np.array([0.5, np.nan]), "n": np.int64(3), "ok": np.bool_(True), "t": (np.float32(np.inf),)})
    {'1': [0.5, None], 'n': 3, 'ok': True, 't': [None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj
