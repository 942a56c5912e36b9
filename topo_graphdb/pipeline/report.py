"""What a sync run reports: :class:`SyncReport`, its ledger record and the drift check."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import DriftAlert

__all__ = ["SyncReport", "check_drift", "json_dumps", "ledger_result", "one_line"]


@dataclass
class SyncReport:
    """What a sync did (``as_dict`` is the ``--json`` summary)."""

    run_id: str
    status: str = "running"
    mode: str = "full"
    mode_reason: str = ""
    dry_run: bool = False
    scope: str = ""
    nodes: int = 0
    edges: int = 0
    relationships: int = 0
    rescored: int = 0
    beta: float | None = None
    hops: int = 0
    watermark: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    recovered: list[str] = field(default_factory=list)
    trust: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        d["figures"] = {name: f"{len(png):,} bytes of PNG (TopoRun.figure_{name}_png)" for name, png in self.figures.items()}
        return d

    def summary(self) -> str:
        """A few lines for people."""
        lines = [
            f"run {self.run_id}: {self.status}{' (dry run)' if self.dry_run else ''}, {self.mode} ({self.mode_reason})",
            f"graph: {self.nodes:,} nodes, {self.edges:,} edges; re-scored {self.rescored:,} nodes"
            + (f"; TC hops={self.hops} beta={self.beta:.6g}" if self.beta else ""),
        ]
        m = self.metrics
        if m:
            lines.append("metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in m.items()))
        if self.drift:
            lines.append("drift: " + ", ".join(f"{k.removeprefix('drift_')}={_fmt(v)}" for k, v in self.drift.items()))
        if self.written:
            lines.append("written: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.written.items()))
        if self.timings:
            lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.timings.items()))
        lines += [f"warning: {w}" for w in self.warnings]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def json_dumps(value: Any) -> str:
    """``value`` as JSON with sorted keys (how the ledger stores settings and reports)."""
    return json.dumps(value, sort_keys=True, default=str)


def one_line(err: BaseException) -> str:
    """The error as one line of at most 2,000 characters (an interrupt says so)."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, KeyboardInterrupt):
        text = f"interrupted ({text})" if str(err) else "interrupted"
    return " ".join(text.split())[:2000]


def ledger_result(report: SyncReport) -> dict[str, Any]:
    """The report as the properties of the run's ledger entry."""
    return {
        "mode": report.mode,
        "mode_reason": report.mode_reason,
        "nodes": report.nodes,
        "edges": report.edges,
        "relationships": report.relationships,
        "rescored": report.rescored,
        "beta": report.beta,
        "watermark": report.watermark,
        **report.metrics,
        **report.drift,
        **{f"written_{k}": v for k, v in report.written.items()},
        "seconds": {k: round(v, 3) for k, v in report.timings.items()},
        "warnings": list(report.warnings) or None,
        "trust_report": json_dumps(report.trust) if report.trust else None,
        **{f"figure_{name}_png": png for name, png in report.figures.items()},
    }


def check_drift(report: SyncReport, config: Any) -> None:
    """Raise :class:`~topo_graphdb.errors.DriftAlert` when the run's drift crossed a ``fail`` threshold."""
    if report.drift.get("drift_alert") and config.run.drift_action == "fail":
        raise DriftAlert(
            f"new relationships are much less concentrated than the existing ones: mean TC^New / TC^Train = "
            f"{report.drift['drift_ratio']:.3f} < threshold {config.run.drift_threshold:g} "
            f"over {report.drift['drift_nodes_compared']:,} nodes (run {report.run_id}, recorded)",
            hint="look at the drift history with `topo-graphdb drift`; retrain or review the new data",
        )
