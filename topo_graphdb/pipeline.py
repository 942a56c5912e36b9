"""``sync``: export -> TC / ATC -> train and predict -> write back -> record the run.

One function, :func:`run_sync`, composes the stages (:mod:`connector`,
:mod:`kernels`, :mod:`model`, :mod:`writeback`) under the run ledger and the
scope lock of :mod:`ledger`. It reports per-phase progress and timings and
returns a :class:`SyncReport`.

What a run writes on every node of the selection (property prefix ``topo_``
by default; a missing value removes the property):

* ``tc`` (exact TC, train variant, ``hops`` K), with ``tc_hops`` and ``tc_beta``;
* ``atc`` (approximate TC) with ``atc_hops``, when configured;
* ``expected_precision`` when prediction and ``predict.trust`` are on: the
  expected Precision@k of the node's predicted links, the sum of their
  probabilities over k;
* ``degree`` (in the analysed graph), ``run_id`` and ``updated_at``;
* ``predicted`` / ``predicted_scores`` node lists and
  ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at, probability, tc}]->(b)``:
  the top-k new links per node (the model's score, a logit), scored against
  every node on small graphs and against capped candidates (2-hop nodes with
  the most common neighbours, nearest embeddings) on larger ones;
  ``probability`` is calibrated on held-out links and ``tc`` is the pair's TC
  (:mod:`topo_graphdb.model.holdout`, with ``predict.trust``).

Trust
-----
With ``predict.trust`` (the default) a share ``trust_holdout`` of the edges
(the most recent ones when the selection has a timestamp) is held out while
the predictor trains; its top-k links among the known edges are labelled by
the held-out ones, a calibrator is fitted on half of the source nodes and
checked on the other half (AUC, Brier score, ECE, Spearman of expected
precision with the measured Precision@k beside degree and TC^Train, lift),
and the final links (predicted with every edge) get its probabilities. The
check's figures and report are stored on the run's ``TopoRun`` node
(``figure_reliability_png``, ``figure_lift_png``, ``trust_report``).

Incremental runs
----------------
With ``run.since = "last"`` (or a timestamp) and a relationship timestamp
property, a run re-scores only the nodes whose K-hop neighbourhood changed:
node ``i`` is affected when some new edge has *both* ends within K hops of
``i`` (in the current graph). TC(i) depends only on the edges among the
nodes within K hops of i, so every other node's TC is unchanged, and the
affected nodes are scored on the subgraph induced by the K-hop ball around
them, with ``beta`` pinned to the value of the last full run: the result
equals a full re-score with that beta. A run falls back to a full run when
there is no earlier successful full run with the same settings, when the
graph lost relationships since the last run (a watermark cannot see
deletions, so the ledger's edge count is compared with the number of edges
at or before the watermark), when an interrupted full run may have left
partial results, or every ``full_every`` runs. ATC is recomputed on the whole
graph (it is cheap) and written for the re-scored nodes; the link predictor is
retrained on the current graph and writes new predicted links and
expected precision for the re-scored nodes only (the others keep those of the
run that last re-scored them; ``full_every`` refreshes everything). A run
with nothing new re-scores, trains and writes nothing.

Drift monitor
-------------
For the nodes that gained relationships since the previous successful run,
the run compares their mean TC with the new relationships as evaluation edges
(TC^New, on the graph as of that run) with their mean TC^Train on that graph
(both with that run's beta, over the nodes where both are defined). The
ratio ``drift_ratio = mean TC^New / mean TC^Train`` below ``drift_threshold``
warns or (``drift_action = "fail"``) ends the run with
:class:`~topo_graphdb.errors.DriftAlert` (exit code 11) after everything was
written and recorded.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import resolve_backend
from .errors import InputError
from .kernels import default_beta
from .kernels.incremental import affected_nodes, drift_stats, tc_for_nodes
from .model.names import GNN_MODELS
from .snapshot import adjacency_matrix

__all__ = [
    "SyncReport",
    "run_sync",
    "check_drift",
    "plan_run",
    "RunPlan",
    "split_by_time",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def split_by_time(edge_time: np.ndarray | None, *, after: float, inclusive: bool = False) -> np.ndarray:
    """Mask of the edges newer than ``after`` (``>=`` with ``inclusive``); NaN times count as old."""
    if edge_time is None:
        raise InputError("incremental runs and the drift monitor need relationship times (selection.timestamp_property)")
    t = np.asarray(edge_time, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (t >= after) if inclusive else (t > after)


# =========================================================================== planning (pure)
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


# =========================================================================== report
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


# =========================================================================== orchestration
PhaseCallback = Callable[[str, str, float | None], None]  # (phase, "start" | "done", seconds)
MessageCallback = Callable[[str], None]


class _Clock:
    """Phases with timings; the runtime limit, the lock and the ledger's progress at each checkpoint."""

    def __init__(
        self,
        report: SyncReport,
        *,
        max_runtime: float,
        on_phase: PhaseCallback | None,
        on_progress: Progress | None,
    ):
        self.report = report
        self.t0 = time.monotonic()
        self.deadline = self.t0 + max_runtime if max_runtime > 0 else None
        self.max_runtime = max_runtime
        self.on_phase = on_phase
        self.on_progress = on_progress
        self.lock: Any = None
        self.ledger: Any = None
        self.current = ""
        self.expired = False

    def checkpoint(self) -> None:
        from .errors import RuntimeLimitReached  # noqa: PLC0415

        if self.expired or (self.deadline is not None and time.monotonic() >= self.deadline):
            self.expired = True
            raise RuntimeLimitReached(
                f"--max-runtime {self.max_runtime:g} s reached during phase {self.current or 'start'}; the run stopped cleanly",
                hint="the next run starts over (writes are idempotent); raise --max-runtime or schedule a longer window",
            )
        if self.lock is not None:
            self.lock.check()

    def progress(self, phase: str, done: int, total: int) -> None:
        self.checkpoint()
        if self.on_progress:
            self.on_progress(phase, done, total)

    def phase(self, name: str) -> _Phase:
        return _Phase(self, name)


class _Phase:
    def __init__(self, clock: _Clock, name: str):
        self.clock = clock
        self.name = name

    def __enter__(self) -> _Phase:
        c = self.clock
        c.current = self.name
        c.checkpoint()
        if c.ledger is not None:
            c.ledger.update(c.report.run_id, {"phase": self.name})
        if c.on_phase:
            c.on_phase(self.name, "start", None)
        self.t = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        dt = time.perf_counter() - self.t
        c = self.clock
        c.report.timings[self.name] = c.report.timings.get(self.name, 0.0) + dt
        if exc_type is None and c.on_phase:
            c.on_phase(self.name, "done", dt)


class _Alarm:
    """A hard stop shortly after the runtime limit, for phases without checkpoints (main thread only)."""

    def __init__(self, clock: _Clock):
        self.clock = clock
        self.armed = False

    def __enter__(self) -> _Alarm:
        import signal  # noqa: PLC0415
        import threading  # noqa: PLC0415

        if self.clock.deadline is None or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
            return self
        grace = min(60.0, max(5.0, 0.05 * self.clock.max_runtime))

        def ring(signum: int, frame: Any) -> None:
            self.clock.expired = True
            self.clock.checkpoint()

        self.previous = signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.clock.deadline - time.monotonic() + grace))
        self.armed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            import signal  # noqa: PLC0415

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


class _SigtermAsInterrupt:
    """SIGTERM (Kubernetes, systemd, Airflow) ends the run like Ctrl-C: ledger marked, lock released."""

    def __enter__(self) -> _SigtermAsInterrupt:
        import signal  # noqa: PLC0415
        import threading  # noqa: PLC0415

        self.armed = threading.current_thread() is threading.main_thread()
        if self.armed:

            def stop(signum: int, frame: Any) -> None:
                raise KeyboardInterrupt("terminated (SIGTERM)")

            self.previous = signal.signal(signal.SIGTERM, stop)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            import signal  # noqa: PLC0415

            signal.signal(signal.SIGTERM, self.previous)


def _versions(db: Any) -> dict[str, str]:
    import platform  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415
    from .ledger import neo4j_versions  # noqa: PLC0415

    out = {"topo_graphdb": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "torch_geometric", "cupy"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__version__", None):
            out[name] = str(mod.__version__)
    out.update(neo4j_versions(db))  # neo4j_server, neo4j_edition, neo4j_driver
    return out


def _undirected_with_time(snapshot: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The snapshot's simple undirected edges (canonical) and, per edge, the earliest time."""
    if snapshot.meta.get("orientation", "undirected") == "undirected":
        return snapshot.edge_index, snapshot.edge_time
    edges, _ = snapshot.undirected()
    if snapshot.edge_time is None:
        return edges, None
    n = snapshot.num_nodes
    src, dst = snapshot.edge_index
    keep = src != dst
    keys = np.minimum(src, dst)[keep] * np.int64(n) + np.maximum(src, dst)[keep]
    t = np.asarray(snapshot.edge_time, dtype=np.float64)[keep]
    order = np.lexsort((t, keys))
    keys, t = keys[order], t[order]
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    return edges, t[first]


def run_sync(
    conn: Any,
    config: Any,
    *,
    dry_run: bool = False,
    on_phase: PhaseCallback | None = None,
    on_progress: Progress | None = None,
    on_message: MessageCallback | None = None,
) -> SyncReport:
    """Run one sync: export, score, train and predict, write back, record.

    Parameters
    ----------
    conn : :class:`~topo_graphdb.connection.ConnectionSettings`
    config : :class:`~topo_graphdb.config.SyncConfig`
    dry_run : compute everything, write nothing (no ledger entry, no lock);
        the report's ``written`` says what would be written.
    on_phase : callback ``(phase, "start" | "done", seconds)``; phases are
        ``connect, lock, export, plan, score, drift, train, trust, predict, write, record``
        (``drift`` only with relationship times and an earlier run; ``train`` to ``predict`` only
        when prediction is on).
    on_progress : callback ``(step, done, total)`` inside phases.
    on_message : callback for notes (mode chosen, recovered runs, warnings).

    Returns
    -------
    SyncReport
        ``status`` is ``succeeded``; a drift alert with ``drift_action = "fail"``
        is left to the caller (:func:`check_drift`), after the run was recorded.

    Raises
    ------
    LockHeld : another sync runs on the same database and selection.
    RuntimeLimitReached : ``run.max_runtime`` passed (the run is recorded as failed).
    InputError, SchemaError, EmptyGraphError, Neo4jUnavailable, AuthError, ... :
        as raised by the stages; a run that had started is recorded as failed
        with the message, and its lock released.
    """
    from .config import SyncConfig  # noqa: PLC0415
    from .connection import translate_errors  # noqa: PLC0415
    from .db import Database  # noqa: PLC0415
    from .ledger import Ledger, SyncLock, ensure_ledger_schema, new_run_id  # noqa: PLC0415

    if not isinstance(config, SyncConfig):
        raise InputError(f"config must be a SyncConfig; got {type(config).__name__}")
    cfg = config
    say = on_message or (lambda text: log.info("%s", text))
    report = SyncReport(run_id=new_run_id(), dry_run=dry_run, scope=cfg.scope(conn.database), hops=cfg.score.hops)
    clock = _Clock(report, max_runtime=cfg.run.max_runtime, on_phase=on_phase, on_progress=on_progress)
    spec = cfg.graph_spec()  # validates the selection before anything runs
    resolve_backend(cfg.run.backend)  # a GPU that is not there fails now, not after the export

    with _SigtermAsInterrupt(), _Alarm(clock):
        with clock.phase("connect"):
            db = Database(conn)
        try:
            with translate_errors(conn):
                versions = _versions(db)
                if dry_run:
                    ledger = Ledger(db, report.scope)
                    _work(conn, cfg, spec, report, clock, ledger, dry_run=True, say=say)
                    report.status = "succeeded"
                    return report
                ensure_ledger_schema(db)
                ledger = Ledger(db, report.scope)
                with clock.phase("lock"):
                    lock = SyncLock(db, report.scope, run_id=report.run_id, ttl=cfg.run.lock_ttl)
                    lock.acquire(
                        wait=cfg.run.wait,
                        timeout=min(cfg.run.wait_timeout, clock.deadline - time.monotonic()) if clock.deadline else cfg.run.wait_timeout,
                        on_wait=lambda reason: say(f"waiting for the lock: {reason}"),
                    )
                clock.lock = lock
                try:
                    reason = "abandoned: its process stopped before the run finished"
                    if lock.taken_over:
                        reason = f"abandoned: {lock.taken_over['reason']}"
                    report.recovered = ledger.fail_stale(report.run_id, reason)
                    for rid in report.recovered:
                        say(f"marked run {rid} failed ({reason})")
                    ledger.start(
                        report.run_id,
                        {
                            "database": conn.database,
                            "selection": json_dumps(cfg.as_dict()["selection"]),
                            "params": json_dumps(cfg.result_params()),
                            "params_hash": cfg.params_hash(),
                            "only": cfg.run.only,
                            "hops": cfg.score.hops,
                            "mode": "full",
                            "host": lock.me.host,
                            "pid": lock.me.pid,
                            "version": versions,
                        },
                    )
                    clock.ledger = ledger
                    try:
                        _work(conn, cfg, spec, report, clock, ledger, dry_run=False, say=say)
                        with clock.phase("record"):
                            report.status = "succeeded"
                            ledger.finish(report.run_id, "succeeded", _ledger_result(report))
                    except BaseException as err:
                        report.status = "failed"
                        report.error = _one_line(err)
                        clock.lock = None  # record the failure even when the lock was lost
                        try:
                            ledger.finish(report.run_id, "failed", {**_ledger_result(report), "error": report.error, "phase": clock.current})
                        except Exception as inner:  # noqa: BLE001  (the next run marks it failed)
                            log.warning("could not record the failure in the ledger: %s", _one_line(inner))
                        raise
                finally:
                    lock.release()
                if cfg.run.keep_runs:
                    from .ledger import clean  # noqa: PLC0415

                    kept = clean(conn, keep_runs=cfg.run.keep_runs, scope=report.scope, rel_type=cfg.write.relationship_type)
                    if kept.runs_deleted:
                        say(f"retention: removed {kept.runs_deleted} old ledger entries and {kept.links_deleted} of their links")
        finally:
            db.close()
    return report


def json_dumps(value: Any) -> str:
    import json  # noqa: PLC0415

    return json.dumps(value, sort_keys=True, default=str)


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, KeyboardInterrupt):
        text = f"interrupted ({text})" if str(err) else "interrupted"
    return " ".join(text.split())[:2000]


def _ledger_result(report: SyncReport) -> dict[str, Any]:
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
    from .errors import DriftAlert  # noqa: PLC0415

    if report.drift.get("drift_alert") and config.run.drift_action == "fail":
        raise DriftAlert(
            f"new relationships are much less concentrated than the existing ones: mean TC^New / TC^Train = "
            f"{report.drift['drift_ratio']:.3f} < threshold {config.run.drift_threshold:g} "
            f"over {report.drift['drift_nodes_compared']:,} nodes (run {report.run_id}, recorded)",
            hint="look at the drift history with `topo-graphdb drift`; retrain or review the new data",
        )


# --------------------------------------------------------------------------- the work of one run
def _work(conn: Any, cfg: Any, spec: Any, report: SyncReport, clock: _Clock, ledger: Any, *, dry_run: bool, say: MessageCallback) -> None:
    from .connector import export_graph  # noqa: PLC0415
    from .kernels.tc import topological_concentration  # noqa: PLC0415

    score_on = cfg.run.only in ("all", "score")
    predict_on = cfg.predict.enabled and cfg.run.only in ("all", "predict")
    budget = _budget(cfg)

    # ---------------------------------------------------------------- export
    with clock.phase("export"):
        snapshot = export_graph(conn, spec, progress=clock.progress)
        edges, edge_time = _undirected_with_time(snapshot)
        n = snapshot.num_nodes
        info = snapshot.meta.get("report", {})
        report.nodes = n
        report.edges = int(edges.shape[1])
        report.relationships = int(info.get("relationships_read", info.get("relationships", edges.shape[1])) or 0)
        if edge_time is not None:
            finite = np.asarray(edge_time, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            report.watermark = float(finite.max()) if finite.size else None
        elif cfg.selection.timestamp_property:
            report.warnings.append(f"no relationship carries {cfg.selection.timestamp_property!r}: no watermark, no drift")

    # ------------------------------------------------------------------ plan
    with clock.phase("plan"):
        from .config import parse_since  # noqa: PLC0415

        history = ledger.recent(limit=500, exclude=report.run_id) if not dry_run or _has_ledger(ledger) else []
        plan = plan_run(
            since=parse_since(cfg.run.since),
            full_every=cfg.run.full_every,
            params_hash=cfg.params_hash(),
            history=history,
            edge_time=edge_time,
            num_nodes=n,
            num_edges=report.edges,
        )
        report.mode, report.mode_reason = plan.mode, plan.reason
        say(f"{plan.mode} run: {plan.reason}")
        if ledger is not None and not dry_run:
            ledger.update(report.run_id, {"mode": plan.mode, "mode_reason": plan.reason})
        hops = cfg.score.hops
        reach = max(hops, cfg.atc_hops if cfg.score.atc and score_on else 0)
        if plan.mode == "incremental":
            new_mask = split_by_time(edge_time, after=plan.since, inclusive=plan.inclusive)
            targets = np.flatnonzero(affected_nodes(edges, edges[:, new_mask], n, hops=reach))
            report.metrics["new_edges"] = int(new_mask.sum())
        else:
            targets = np.arange(n)
        report.rescored = int(targets.size)

    columns: dict[str, np.ndarray] = {}
    nothing_new = plan.mode == "incremental" and targets.size == 0
    # ----------------------------------------------------------------- score
    with clock.phase("score"):
        degree = np.bincount(edges.reshape(-1), minlength=n).astype(np.int64)
        if plan.mode == "incremental":
            beta = plan.beta
        else:
            beta = cfg.score.beta if cfg.score.beta is not None else default_beta(edges, n)
        report.beta = float(beta)
        tc = atc = None
        if score_on and cfg.score.tc and not nothing_new:
            if plan.mode == "full":
                tc = topological_concentration(
                    edges, hops=hops, beta=beta, num_nodes=n, backend=cfg.run.backend, memory_budget=budget
                ).tc
            else:
                tc = tc_for_nodes(edges, targets, n, hops=hops, beta=beta, backend=cfg.run.backend, memory_budget=budget)
            columns.update(tc=tc, tc_hops=np.full(targets.size, hops, np.int64), tc_beta=np.full(targets.size, float(beta)))
            defined = ~np.isnan(tc)
            report.metrics.update(
                tc_defined=int(defined.sum()),
                tc_mean=float(np.nanmean(tc)) if defined.any() else None,
                tc_median=float(np.nanmedian(tc)) if defined.any() else None,
            )
        clock.checkpoint()
        if score_on and cfg.score.atc and not nothing_new:
            atc_full = _atc(edges, n, cfg, beta)
            if atc_full is None:
                report.warnings.append("ATC is not available in this installation; topo_atc not written")
            else:
                atc = atc_full[targets]
                columns.update(atc=atc, atc_hops=np.full(targets.size, cfg.atc_hops, np.int64))
                ok = ~np.isnan(atc)
                report.metrics["atc_mean"] = float(np.nanmean(atc)) if ok.any() else None
                if tc is not None and (ok & ~np.isnan(tc)).sum() > 2:
                    from scipy.stats import spearmanr  # noqa: PLC0415

                    both = ok & ~np.isnan(tc)
                    report.metrics["atc_tc_spearman"] = float(spearmanr(atc[both], tc[both]).statistic)
        if score_on and not nothing_new:
            columns["degree"] = degree[targets]

    # ----------------------------------------------------------------- drift
    base = next((r for r in history if r.get("status") == "succeeded" and r.get("watermark") is not None and r.get("beta")), None)
    if edge_time is not None and base is not None:
        with clock.phase("drift"):
            new_mask = split_by_time(edge_time, after=float(base["watermark"]))
            report.drift = drift_stats(
                edges[:, ~new_mask], edges[:, new_mask], n, hops=hops, beta=float(base["beta"]),
                backend=cfg.run.backend, memory_budget=budget,
            )
            report.drift["drift_since_run"] = base["run_id"]
            ratio = report.drift.get("drift_ratio")
            if cfg.run.drift_threshold and ratio is not None and ratio < cfg.run.drift_threshold:
                report.drift["drift_alert"] = True
                report.warnings.append(
                    f"drift: mean TC^New / TC^Train = {ratio:.3f} is below the threshold {cfg.run.drift_threshold:g}"
                )
            else:
                report.drift["drift_alert"] = False

    # ---------------------------------------------- train, trust, predict
    links = None
    applied: dict[str, np.ndarray] = {}
    if predict_on and not nothing_new:
        with clock.phase("train"):
            predictor, split, model_info = _train(snapshot, edges, edge_time, n, cfg)
            report.metrics.update(model_info)
        calibration = None
        if cfg.predict.trust:
            with clock.phase("trust"):
                calibration = _calibrate(predictor, split, n, cfg, float(beta), clock, report)
        with clock.phase("predict"):
            predictor = _with_edges(predictor, edges, n, cfg)  # trained on part of the edges, predicts with all
            links = _predict(predictor, edges, n, targets, cfg, clock)
            report.metrics["links_predicted"] = int(links[0].size)
            report.metrics["predict_method"] = "exhaustive" if n <= EXHAUSTIVE_NODES else "candidates"
            if calibration is not None:
                from .model.holdout import apply  # noqa: PLC0415

                full_tc = {f"tc_train_k{hops}": tc} if tc is not None and plan.mode == "full" else None
                applied = apply(calibration, *links, edges, n, backend=cfg.run.backend, known_tc=full_tc)
                ep = applied.pop("expected_precision")[targets]
                columns["expected_precision"] = ep
                if np.isfinite(ep).any():
                    report.metrics["expected_precision_mean"] = float(np.nanmean(ep))
                if applied["probability"].size:
                    report.metrics["probability_mean"] = float(applied["probability"].mean())

    # ----------------------------------------------------------------- write
    if nothing_new:
        say("nothing changed since the last run: nothing to re-score")
        return
    with clock.phase("write"):
        from .writeback import write_node_properties, write_predicted_links  # noqa: PLC0415

        if not dry_run:
            ledger.update(report.run_id, {"wrote": True})
        ids = snapshot.node_ids[targets]
        common = dict(spec=spec, prefix=cfg.write.prefix, run_id=report.run_id, batch_size=cfg.write.batch_size,
                      rate_limit=cfg.write.rate_limit or None, dry_run=dry_run)
        if columns:
            wr = write_node_properties(conn, ids, columns, progress=clock.progress, **common)
            report.written.update({"nodes": wr.matched, "nodes_missing": wr.missing, "properties": len(wr.properties)})
            if dry_run:
                report.written["node_sample"] = wr.sample
                report.written["node_properties"] = ", ".join(wr.properties)
        if links is not None:
            src, dst, scores = links
            lr = write_predicted_links(
                conn, snapshot, src, dst, scores, model=cfg.predict.model, rel_type=cfg.write.relationship_type,
                top_k=cfg.predict.top_k, min_score=cfg.predict.min_score, progress=clock.progress,
                link_properties=applied or None, **common,
            )
            report.written.update({"links": lr.relationships, "links_replaced": lr.deleted, "link_sources": lr.matched})
            if dry_run:
                report.written["link_sample"] = lr.sample
        clock.checkpoint()
        if not dry_run:
            _ensure_indexes(conn, cfg)


def _has_ledger(ledger: Any) -> bool:
    """Whether the ledger can be read (a dry run on a database the tool never wrote to has none)."""
    try:
        ledger.recent(limit=1)
    except Exception:  # noqa: BLE001
        return False
    return True


def _budget(cfg: Any) -> int | None:
    from .config import parse_memory  # noqa: PLC0415

    return parse_memory(cfg.score.memory_budget) if cfg.score.memory_budget else None


def _ensure_indexes(conn: Any, cfg: Any) -> None:
    """Range indexes on the written TC properties for each selected label (idempotent)."""
    from ._cypher import quote_identifier, render  # noqa: PLC0415
    from .db import Database  # noqa: PLC0415

    with Database(conn, verify=False) as db:
        for label in cfg.selection.labels:
            for prop in ("tc", "atc", "expected_precision"):
                name = f"topo_{label}_{cfg.write.prefix}{prop}"
                db.run(
                    render(
                        "sync_index_node_property",
                        index=quote_identifier(name, what="index name"),
                        label=quote_identifier(label, what="label"),
                        prop=quote_identifier(cfg.write.prefix + prop, what="property name"),
                    )
                )
        db.run(
            render(
                "sync_index_link_run",
                index=quote_identifier(f"topo_{cfg.write.relationship_type}_run_id", what="index name"),
                rel_type=quote_identifier(cfg.write.relationship_type, what="relationship type"),
            )
        )


# --------------------------------------------------------------------------- stage adapters
def _atc(edges: np.ndarray, n: int, cfg: Any, beta: float) -> np.ndarray | None:
    """ATC of every node (NaN where undefined); None when the ATC kernel is not available."""
    try:
        from .kernels.atc import approximate_tc  # noqa: PLC0415
    except ImportError:
        return None
    res = approximate_tc(
        edges, hops=cfg.atc_hops, beta=beta, dim=cfg.score.atc_dim, seed=cfg.score.seed, num_nodes=n, backend=cfg.run.backend
    )
    return np.asarray(res.tc, dtype=np.float64)


def _features(snapshot: Any) -> Any:
    x = snapshot.x
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():  # nodes without the property: zeros (the model then leans on structure)
        x = np.nan_to_num(x, nan=0.0)
    return x


def _train(snapshot: Any, edges: np.ndarray, edge_time: np.ndarray | None, n: int, cfg: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Fit the link predictor on a seeded split of the current graph.

    10% of the edges are the validation part of early stopping; with
    ``predict.trust`` another ``trust_holdout`` share is held out for the
    calibration (the most recent edges when the selection has a timestamp,
    else a random share): ``split.test_pos``.
    """
    from .model.evaluate import make_predictor  # noqa: PLC0415
    from .model.splits import random_split, temporal_split  # noqa: PLC0415

    holdout = float(cfg.predict.trust_holdout) if cfg.predict.trust else 0.0
    x = _features(snapshot)
    if holdout and edge_time is not None and np.isfinite(np.asarray(edge_time, dtype=np.float64)).all():
        split = temporal_split(edges, edge_time, n, valid_fraction=VALID_FRACTION, test_fraction=holdout, seed=cfg.score.seed, x=x)
    else:
        split = random_split(edges, n, valid_fraction=VALID_FRACTION, test_fraction=holdout, seed=cfg.score.seed, x=x)
    settings: dict[str, Any] = {}
    if cfg.predict.model in GNN_MODELS:
        settings = {"hidden": cfg.predict.hidden, "epochs": cfg.predict.epochs, "seed": cfg.score.seed,
                    "device": cfg.predict.device, "progress": False, "batch_size": cfg.predict.batch_size or None}
    predictor = make_predictor(cfg.predict.model, **settings).fit(split)
    info = {
        "model": cfg.predict.model,
        "model_best_epoch": int(getattr(predictor, "best_epoch_", 0)),
        "model_fit_seconds": float(getattr(predictor, "fit_seconds_", 0.0)),
    }
    for key, value in getattr(predictor, "best_valid_", {}).items():
        info[f"model_valid_{key.replace('@', '_at_')}"] = float(value)
    return predictor, split, info


#: share of the edges that early stopping validates on
VALID_FRACTION = 0.1


def _calibrate(predictor: Any, split: Any, n: int, cfg: Any, beta: float, clock: _Clock, report: SyncReport) -> Any:
    """Fit the link calibrator on the held-out edges (:func:`topo_graphdb.model.holdout.calibrate`).

    The predictor sees the known edges (training and validation parts); each
    sampled source's top-k links are labelled by the held-out part. Returns
    None (with a warning) when too few links are labelled to fit anything.
    """
    from .model.holdout import calibrate, sample_sources  # noqa: PLC0415

    known = np.concatenate([split.train_pos, split.valid_pos], axis=1)
    if split.test_pos.shape[1] < 10:
        report.warnings.append("fewer than 10 held-out edges: no link probability or expected precision written")
        return None
    seen = _with_edges(predictor, known, n, cfg)
    sources = sample_sources(n, cfg.score.seed)

    def predict(batch: np.ndarray) -> dict[str, np.ndarray]:
        src, dst, score = _predict(seen, known, n, batch, cfg, clock, phase="trust")
        return {"src": src, "dst": dst, "score": score}

    result = calibrate(
        predict, known, split.test_pos, n, sources=sources, k=cfg.predict.top_k, hops=cfg.score.hops, beta=beta,
        seed=cfg.score.seed, node_properties=_known_properties(known, n, cfg, beta), backend=cfg.run.backend,
    )
    m = result.metrics
    nodes = m.get("nodes", {})
    spearman = nodes.get("spearman", {})
    report.metrics.update(
        trust_holdout=float(cfg.predict.trust_holdout),
        trust_split=split.meta.get("kind"),
        trust_heldout_edges=int(split.test_pos.shape[1]),
        trust_link_auc=m.get("link_auc"),
        trust_link_ap=m.get("link_ap"),
        trust_brier=m.get("brier"),
        trust_ece=m.get("ece"),
        trust_auc_within_top_k=(m.get("auc_within_top_k") or {}).get("pooled"),
        trust_nodes=nodes.get("evaluated"),
        trust_calibrator=m.get("calibrator", {}).get("model"),
        **{f"trust_spearman_{name}": value for name, value in spearman.items()},
        **{f"trust_lift_{name}": value for name, value in nodes.get("lift", {}).items()},
    )  # fmt: skip
    report.trust = m
    report.figures = dict(result.figures)
    return result


def _known_properties(known: np.ndarray, n: int, cfg: Any, beta: float) -> dict[str, np.ndarray]:
    """TC^Train with K = 3 of the known graph (when ``score.hops`` is 3 and at most 50,000 nodes), reported
    beside expected precision (K = 1, 2 are always reported: :func:`topo_graphdb.model.holdout.calibrate`)."""
    from .kernels.tc import topological_concentration  # noqa: PLC0415

    if cfg.score.hops < 3 or n > 50_000:
        return {}
    res = topological_concentration(known, hops=3, beta=beta, num_nodes=n, backend=cfg.run.backend, memory_budget=_budget(cfg))
    return {"tc_train_k3": np.asarray(res.tc, dtype=np.float64)}


def _with_edges(predictor: Any, edges: np.ndarray, n: int, cfg: Any) -> Any:
    """The fitted predictor scoring with ``edges`` as its graph (heuristics: refit, nothing is learned)."""
    if hasattr(predictor, "use_edges"):
        return predictor.use_edges(edges)
    from .model.evaluate import make_predictor  # noqa: PLC0415
    from .model.splits import random_split  # noqa: PLC0415

    full = random_split(edges, n, valid_fraction=0.0, test_fraction=0.0, seed=cfg.score.seed)
    return make_predictor(cfg.predict.model).fit(full)


#: Graphs up to this many nodes score every pair; larger ones use capped candidates. On Cora the
#: capped candidates keep 99.95% of the exhaustive top-10 links at 1/15 of the cost (ca-grqc: 99.7%).
EXHAUSTIVE_NODES = 2000


def _predict(
    predictor: Any, edges: np.ndarray, n: int, sources: np.ndarray, cfg: Any, clock: _Clock, *, phase: str = "predict"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k new links of each source (existing neighbours and the node itself excluded).

    Exhaustive scoring up to :data:`EXHAUSTIVE_NODES` nodes; beyond, each
    source is scored against capped candidates
    (:func:`topo_graphdb.model.predict.capped_candidates`).
    Sources go in chunks so that the runtime limit and progress are checked
    between them.
    """
    from .model.predict import capped_candidates, predict_links  # noqa: PLC0415

    known = adjacency_matrix(edges, n)
    chunk = max(256, min(8192, int(2e7 // max(n, 1))))
    parts = []
    for start in range(0, sources.size, chunk):
        batch = sources[start : start + chunk]
        if n <= EXHAUSTIVE_NODES:
            out = predict_links(predictor, nodes=batch, top_k=cfg.predict.top_k, exclude=known, method="exhaustive")
            parts.append((out["src"], out["dst"], out["score"]))
        else:
            parts.append(capped_candidates(predictor, known, batch, top_k=cfg.predict.top_k))
        clock.progress(phase, min(start + chunk, sources.size), sources.size)
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]
