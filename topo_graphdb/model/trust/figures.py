"""Figures of the trust check: reliability diagram and per-quintile precision (PNG, matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._figure import agg_figure
from .metrics import expected_calibration_error

__all__ = ["plot_reliability", "plot_lift"]


def plot_reliability(prob, y, path: str | Path, *, bins: int = 10, title: str | None = None) -> Path:
    """Reliability diagram (mean label per equal-width probability bin against the diagonal) over a histogram; PNG."""
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    t = np.asarray(y, dtype=np.float64).reshape(-1)
    b = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(b, minlength=bins)
    mean_p = np.divide(np.bincount(b, p, minlength=bins), count, out=np.full(bins, np.nan), where=count > 0)
    mean_y = np.divide(np.bincount(b, t, minlength=bins), count, out=np.full(bins, np.nan), where=count > 0)
    fig = agg_figure(4.8, 5.6)
    ax, hx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    ax.plot(mean_p, mean_y, "o-", color="tab:blue", label=f"ECE {expected_calibration_error(p, t, bins=bins):.3f}")
    ax.set_ylabel("share of real links")
    ax.set_title(title or "Reliability of link probabilities")
    ax.legend(fontsize=8)
    hx.bar((np.arange(bins) + 0.5) / bins, count, width=0.9 / bins, color="tab:grey")
    hx.set_yscale("log")
    hx.set_xlabel("predicted probability")
    hx.set_ylabel("links")
    return _save_figure(fig, path)


def plot_lift(quintiles: dict[str, Any], path: str | Path, *, ylabel: str = "mean Precision@k", title: str | None = None) -> Path:
    """Mean target per quintile (1 = lowest) of each node score; ``quintiles`` maps name to
    :func:`quintile_means` output or a list of 5 means. PNG."""
    fig = agg_figure(5.6, 3.8)
    ax = fig.subplots()
    for name, q in quintiles.items():
        means = np.asarray([np.nan if v is None else v for v in (q["mean"] if isinstance(q, dict) else q)], dtype=float)
        ax.plot(np.arange(1, means.size + 1), means, "o-", label=name)
    ax.set_xticks(range(1, 6))
    ax.set_xlabel("quintile of the node score (1 = lowest)")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Per-node precision by quintile")
    ax.legend(fontsize=7)
    return _save_figure(fig, path)


def _save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created)."""
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
