"""Planning a sync run (pure): full or incremental, and which edges are new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["RunPlan", "plan_run", "split_by_time"]


def split_by_time(edge_time: np.ndarray | None, *, after: float, inclusive: bool = False) -> np.ndarray:
    """Mask of the edges newer than ``after`` (``>=`` with ``inclusive``); NaN times count as old."""
    if edge_time is None:
        raise InputError("incremental runs and the drift monitor need relationship times (selection.timestamp_property)")
    t = np.asarray(edge_time, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (t >= after) if inclusive else (t > after)


@dataclass(frozen=True)
class RunPlan:
    """Full or incremental, and why; the base run and the pinned beta of an incremental run."""

    mode: str  # "full" | "incremental"
    reason: str
    base: dict[str, Any] | None = None  # the newest successful run with the same settings
    beta: float | None = None  # pinned beta (incremental)
    since: float | None = None  # new edges: time > since (or >= with inclusive)
    inclusive: bool = False


def plan_run(
    *,
    since: str | float,
    full_every: int,
    params_hash: str,
    history: list[dict[str, Any]],
    edge_time: np.ndarray | None,
    num_nodes: int,
    num_edges: int,
) -> RunPlan:
    """Decide between a full and an incremental run from the ledger history.

    Parameters
    ----------
    since : ``""`` (full), ``"last"`` (the base run's watermark) or a timestamp.
    full_every : force a full run after ``full_every - 1`` incremental runs (0: never).
    params_hash : this run's settings hash; only runs with the same one count.
    history : earlier runs of the scope, newest first (ledger dicts).
    edge_time : the current export's time per (undirected) edge.
    num_nodes, num_edges : the current export's counts.
    """
    if since == "":
        return RunPlan("full", "full run requested (no --since)")
    same = [r for r in history if r.get("params_hash") == params_hash]
    ok = [r for r in same if r.get("status") == "succeeded"]
    base_full = next((r for r in ok if r.get("mode") == "full"), None)
    if base_full is None or base_full.get("beta") is None:
        return RunPlan("full", "no earlier successful full run with these settings")
    base = ok[0]
    newer = [r for r in same if str(r.get("started_at", "")) > str(base_full.get("started_at", ""))]
    incremental_done = sum(1 for r in newer if r.get("status") == "succeeded" and r.get("mode") == "incremental")
    if full_every and incremental_done >= full_every - 1:
        return RunPlan("full", f"full run every {full_every} runs ({incremental_done} incremental since the last full)")
    after_base = [r for r in history if str(r.get("started_at", "")) > str(base.get("started_at", ""))]
    if any(r.get("status") == "failed" and r.get("mode") == "full" and r.get("wrote") for r in after_base):
        return RunPlan("full", "an interrupted full run may have left partial results")
    if edge_time is None:
        return RunPlan("full", "the export has no relationship times")
    if since == "last":
        watermark = base.get("watermark")
        if watermark is None:
            return RunPlan("full", "the last run recorded no watermark")
        old = ~split_by_time(edge_time, after=float(watermark))
        if num_nodes < int(base.get("nodes") or 0) or int(old.sum()) != int(base.get("edges") or -1):
            return RunPlan(
                "full",
                f"the graph changed in a way a watermark cannot see: {int(old.sum()):,} edges at or before the "
                f"watermark now, {int(base.get('edges') or 0):,} at the last run; nodes {num_nodes:,} vs "
                f"{int(base.get('nodes') or 0):,}",
                base=base,
            )
        return RunPlan("incremental", f"edges after watermark {watermark}", base=base, beta=float(base_full["beta"]), since=float(watermark))
    return RunPlan("incremental", f"edges since {since}", base=base, beta=float(base_full["beta"]), since=float(since), inclusive=True)
