"""The orchestration of one sync run: the ledger entry and the lock around the phases, in order.

:func:`run_sync` connects, takes the scope lock, opens the run's ledger entry
and runs :func:`_work`, whose steps are the phases ``export``, ``plan``,
``score``, ``drift``, ``train``/``trust``/``predict`` and ``write``; the ledger
records how the run ended, and the lock is released whatever happened.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from ..backend import resolve_backend
from ..errors import InputError, interruption
from ..kernels import default_beta
from ..kernels.distributed import compute_scheduled
from ..kernels.incremental import affected_nodes, drift_stats, tc_for_nodes
from ..kernels.tc import topological_concentration
from ..progress import Message, Progress
from .clock import Alarm, Clock, PhaseCallback, SigtermAsInterrupt
from .phases import (
    EXHAUSTIVE_NODES,
    atc_scores,
    calibrate_links,
    ensure_indexes,
    link_activity,
    memory_budget,
    top_links,
    train_predictor,
    undirected_with_time,
    with_edges,
)
from .plan import RunPlan, plan_run, split_by_time
from .report import SyncReport, json_dumps, ledger_result, one_line

__all__ = ["run_sync", "software_versions"]

log = logging.getLogger(__name__)


def run_sync(
    conn: Any,
    config: Any,
    *,
    dry_run: bool = False,
    on_phase: PhaseCallback | None = None,
    on_progress: Progress | None = None,
    on_message: Message | None = None,
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
    from ..config import SyncConfig  # noqa: PLC0415
    from ..connection import translate_errors  # noqa: PLC0415
    from ..db import Database  # noqa: PLC0415
    from ..ledger import Ledger, ensure_ledger_schema, new_run_id  # noqa: PLC0415

    if not isinstance(config, SyncConfig):
        raise InputError(f"config must be a SyncConfig; got {type(config).__name__}")
    cfg = config
    say = on_message or (lambda text: log.info("%s", text))
    report = SyncReport(run_id=new_run_id(), dry_run=dry_run, scope=cfg.scope(conn.database), hops=cfg.score.hops)
    clock = Clock(report, max_runtime=cfg.run.max_runtime, on_phase=on_phase, on_progress=on_progress)
    spec = cfg.graph_spec()  # validates the selection before anything runs
    resolve_backend(cfg.run.backend)  # a GPU that is not there fails now, not after the export

    with SigtermAsInterrupt(), Alarm(clock):
        with clock.phase("connect"):
            db = Database(conn)
        try:
            with translate_errors(conn):
                versions = software_versions(db)
                if dry_run:
                    _work(_Run(conn, cfg, spec, report, clock, Ledger(db, report.scope), dry_run=True, say=say))
                    report.status = "succeeded"
                    return report
                ensure_ledger_schema(db)
                run = _Run(conn, cfg, spec, report, clock, Ledger(db, report.scope), dry_run=False, say=say)
                lock = _acquire_lock(db, run)
                try:
                    _recorded_work(run, lock, versions)
                finally:
                    lock.release()
                if cfg.run.keep_runs:
                    _retention(run)
        finally:
            db.close()
    return report


def software_versions(db: Any) -> dict[str, str]:
    """The versions a run records: this package, Python, numpy, torch, PyG, CuPy (when loaded), Neo4j."""
    from ..ledger import neo4j_versions  # noqa: PLC0415

    out = {"topo_graphdb": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "torch_geometric", "cupy"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__version__", None):
            out[name] = str(mod.__version__)
    out.update(neo4j_versions(db))  # neo4j_server, neo4j_edition, neo4j_driver
    return out


@dataclass
class _Run:
    """What every step of one run shares."""

    conn: Any
    cfg: Any
    spec: Any
    report: SyncReport
    clock: Clock
    ledger: Any
    dry_run: bool
    say: Message


@dataclass(frozen=True)
class _Graph:
    """The exported snapshot and its simple undirected edges with, per edge, the earliest time."""

    snapshot: Any
    edges: np.ndarray
    edge_time: np.ndarray | None

    @property
    def n(self) -> int:
        return self.snapshot.num_nodes


# --------------------------------------------------------------------------- lock and ledger
def _acquire_lock(db: Any, run: _Run) -> Any:
    """Phase ``lock``: the scope lock (waiting for it with ``run.wait``, never past the runtime limit)."""
    from ..ledger import SyncLock  # noqa: PLC0415

    cfg, clock, report = run.cfg, run.clock, run.report
    with clock.phase("lock"):
        lock = SyncLock(db, report.scope, run_id=report.run_id, ttl=cfg.run.lock_ttl)
        lock.acquire(
            wait=cfg.run.wait,
            timeout=min(cfg.run.wait_timeout, clock.deadline - time.monotonic()) if clock.deadline else cfg.run.wait_timeout,
            on_wait=lambda reason: run.say(f"waiting for the lock: {reason}"),
        )
    clock.lock = lock
    return lock


def _recorded_work(run: _Run, lock: Any, versions: dict[str, str]) -> None:
    """Mark abandoned runs failed, open this run's ledger entry, do the work and record how it ended."""
    cfg, report, ledger = run.cfg, run.report, run.ledger
    reason = "abandoned: its process stopped before the run finished"
    if lock.taken_over:
        reason = f"abandoned: {lock.taken_over['reason']}"
    report.recovered = ledger.fail_stale(report.run_id, reason)
    for rid in report.recovered:
        run.say(f"marked run {rid} failed ({reason})")
    ledger.start(
        report.run_id,
        {
            "database": run.conn.database,
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
    run.clock.ledger = ledger
    try:
        _work(run)
        with run.clock.phase("record"):
            report.status = "succeeded"
            ledger.finish(report.run_id, "succeeded", ledger_result(report))
    except BaseException as err:
        _record_failure(run, interruption(err) or err)
        raise


def _record_failure(run: _Run, err: BaseException) -> None:
    """Record the run as failed with the error and the phase it stopped in (best effort)."""
    report = run.report
    report.status = "failed"
    report.error = one_line(err)
    run.clock.lock = None  # record the failure even when the lock was lost
    try:
        run.ledger.finish(report.run_id, "failed", {**ledger_result(report), "error": report.error, "phase": run.clock.current})
    except Exception as inner:  # noqa: BLE001  (the next run marks it failed)
        log.warning("could not record the failure in the ledger: %s", one_line(inner))


def _retention(run: _Run) -> None:
    """``run.keep_runs``: delete the scope's older ledger entries and their predicted links."""
    from ..ledger import clean  # noqa: PLC0415

    cfg, report = run.cfg, run.report
    kept = clean(run.conn, keep_runs=cfg.run.keep_runs, scope=report.scope, rel_type=cfg.write.relationship_type)
    if kept.runs_deleted:
        run.say(f"retention: removed {kept.runs_deleted} old ledger entries and {kept.links_deleted} of their links")


def _has_ledger(ledger: Any) -> bool:
    """Whether the ledger can be read (a dry run on a database the tool never wrote to has none)."""
    try:
        ledger.recent(limit=1)
    except Exception:  # noqa: BLE001
        return False
    return True


# --------------------------------------------------------------------------- the work of one run
def _work(run: _Run) -> None:
    """The phases of one run, export to write (the lock and the ledger entry are the caller's)."""
    cfg = run.cfg
    score_on = cfg.run.only in ("all", "score")
    predict_on = cfg.predict.enabled and cfg.run.only in ("all", "predict")
    budget = memory_budget(cfg)

    graph = _export(run)
    history, plan, targets = _plan(run, graph, score_on=score_on)
    nothing_new = plan.mode == "incremental" and targets.size == 0
    links, applied = None, {}
    with compute_scheduled(cfg.compute.scheduler):  # TC, ATC and pair TC on Dask when set
        columns, beta, tc = _score(run, graph, plan, targets, score_on=score_on and not nothing_new, budget=budget)
        _drift(run, graph, history, budget=budget)
        if predict_on and not nothing_new:
            links, applied, expected_precision = _train_and_predict(run, graph, plan, targets, beta, tc)
            columns.update(expected_precision)
    if nothing_new:
        run.say("nothing changed since the last run: nothing to re-score")
        return
    _write(run, graph, targets, columns, links, applied)


def _export(run: _Run) -> _Graph:
    """Phase ``export``: the selection's snapshot, its undirected edges, the watermark (newest edge time)."""
    from ..connector import export_graph  # noqa: PLC0415

    cfg, report = run.cfg, run.report
    with run.clock.phase("export"):
        snapshot = export_graph(run.conn, run.spec, progress=run.clock.progress)
        edges, edge_time = undirected_with_time(snapshot)
        info = snapshot.meta.get("report", {})
        report.nodes = snapshot.num_nodes
        report.edges = int(edges.shape[1])
        report.relationships = int(info.get("relationships_read", info.get("relationships", edges.shape[1])) or 0)
        if edge_time is not None:
            finite = np.asarray(edge_time, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            report.watermark = float(finite.max()) if finite.size else None
        elif cfg.selection.timestamp_property:
            report.warnings.append(f"no relationship carries {cfg.selection.timestamp_property!r}: no watermark, no drift")
    return _Graph(snapshot, edges, edge_time)


def _plan(run: _Run, graph: _Graph, *, score_on: bool) -> tuple[list[dict[str, Any]], RunPlan, np.ndarray]:
    """Phase ``plan``: the ledger history, full or incremental (:func:`plan_run`) and the nodes to re-score."""
    from ..config import parse_since  # noqa: PLC0415

    cfg, report, ledger = run.cfg, run.report, run.ledger
    with run.clock.phase("plan"):
        history = ledger.recent(limit=500, exclude=report.run_id) if not run.dry_run or _has_ledger(ledger) else []
        plan = plan_run(
            since=parse_since(cfg.run.since),
            full_every=cfg.run.full_every,
            params_hash=cfg.params_hash(),
            history=history,
            edge_time=graph.edge_time,
            num_nodes=graph.n,
            num_edges=report.edges,
        )
        report.mode, report.mode_reason = plan.mode, plan.reason
        run.say(f"{plan.mode} run: {plan.reason}")
        if ledger is not None and not run.dry_run:
            ledger.update(report.run_id, {"mode": plan.mode, "mode_reason": plan.reason})
        reach = max(cfg.score.hops, cfg.atc_hops if cfg.score.atc and score_on else 0)
        if plan.mode == "incremental":
            new_mask = split_by_time(graph.edge_time, after=plan.since, inclusive=plan.inclusive)
            targets = np.flatnonzero(affected_nodes(graph.edges, graph.edges[:, new_mask], graph.n, hops=reach))
            report.metrics["new_edges"] = int(new_mask.sum())
        else:
            targets = np.arange(graph.n)
        report.rescored = int(targets.size)
    return history, plan, targets


def _score(
    run: _Run, graph: _Graph, plan: RunPlan, targets: np.ndarray, *, score_on: bool, budget: int | None
) -> tuple[dict[str, np.ndarray], float, np.ndarray | None]:
    """Phase ``score``: beta, then TC, ATC and degree of the re-scored nodes (with ``score_on``).

    Returns the node columns to write, beta and TC (None when not computed).
    """
    cfg, report, edges, n = run.cfg, run.report, graph.edges, graph.n
    hops = cfg.score.hops
    columns: dict[str, np.ndarray] = {}
    tc = None
    with run.clock.phase("score"):
        degree = np.bincount(edges.reshape(-1), minlength=n).astype(np.int64)
        if plan.mode == "incremental":
            beta = plan.beta
        else:
            beta = cfg.score.beta if cfg.score.beta is not None else default_beta(edges, n)
        report.beta = float(beta)
        if score_on and cfg.score.tc:
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
        run.clock.checkpoint()
        if score_on and cfg.score.atc:
            columns.update(_atc_columns(run, graph, targets, beta, tc))
        if score_on:
            columns["degree"] = degree[targets]
    return columns, beta, tc


def _atc_columns(run: _Run, graph: _Graph, targets: np.ndarray, beta: float, tc: np.ndarray | None) -> dict[str, np.ndarray]:
    """ATC of the re-scored nodes (computed on the whole graph) and its Spearman correlation with TC."""
    cfg, report = run.cfg, run.report
    atc_full = atc_scores(graph.edges, graph.n, cfg, beta)
    if atc_full is None:
        report.warnings.append("ATC is not available in this installation; topo_atc not written")
        return {}
    atc = atc_full[targets]
    ok = ~np.isnan(atc)
    report.metrics["atc_mean"] = float(np.nanmean(atc)) if ok.any() else None
    if tc is not None and (ok & ~np.isnan(tc)).sum() > 2:
        from scipy.stats import spearmanr  # noqa: PLC0415

        both = ok & ~np.isnan(tc)
        report.metrics["atc_tc_spearman"] = float(spearmanr(atc[both], tc[both]).statistic)
    return {"atc": atc, "atc_hops": np.full(targets.size, cfg.atc_hops, np.int64)}


def _drift(run: _Run, graph: _Graph, history: list[dict[str, Any]], *, budget: int | None) -> None:
    """Phase ``drift`` (relationship times and an earlier successful run): mean TC^New / TC^Train of the new edges."""
    cfg, report = run.cfg, run.report
    base = next((r for r in history if r.get("status") == "succeeded" and r.get("watermark") is not None and r.get("beta")), None)
    if graph.edge_time is None or base is None:
        return
    with run.clock.phase("drift"):
        new_mask = split_by_time(graph.edge_time, after=float(base["watermark"]))
        report.drift = drift_stats(
            graph.edges[:, ~new_mask], graph.edges[:, new_mask], graph.n, hops=cfg.score.hops, beta=float(base["beta"]),
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


def _train_and_predict(
    run: _Run, graph: _Graph, plan: RunPlan, targets: np.ndarray, beta: float, tc: np.ndarray | None
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Phases ``train``, ``trust`` (with ``predict.trust``) and ``predict``.

    Returns the re-scored nodes' top-k links ``(src, dst, score)``, the calibrated
    link properties (``probability``, ``tc``; empty without a calibration) and the
    ``expected_precision`` node column (empty without a calibration).
    """
    cfg, report, clock, edges, n = run.cfg, run.report, run.clock, graph.edges, graph.n
    applied: dict[str, np.ndarray] = {}
    columns: dict[str, np.ndarray] = {}
    with clock.phase("train"):
        predictor, split, model_info = train_predictor(graph.snapshot, edges, graph.edge_time, n, cfg)
        report.metrics.update(model_info)
    calibration = None
    events = None if graph.edge_time is None else (edges, graph.edge_time)
    if cfg.predict.trust:
        with clock.phase("trust"):
            calibration = calibrate_links(predictor, split, n, cfg, float(beta), clock, report,
                                          reuse=model_info["model_cache"] != "off", events=events)
    with clock.phase("predict"):
        predictor = with_edges(predictor, edges, n, cfg)  # trained on part of the edges, predicts with all
        links = top_links(predictor, edges, n, targets, cfg, clock)
        report.metrics["links_predicted"] = int(links[0].size)
        report.metrics["predict_method"] = "exhaustive" if n <= EXHAUSTIVE_NODES else "candidates"
        if calibration is not None:
            from ..model.holdout import apply  # noqa: PLC0415

            full_tc = {f"tc_train_k{cfg.score.hops}": tc} if tc is not None and plan.mode == "full" else None
            applied = apply(calibration, *links, edges, n, backend=cfg.run.backend, known_tc=full_tc,
                            activity=link_activity(calibration, events, n))
            ep = applied.pop("expected_precision")[targets]
            columns["expected_precision"] = ep
            if np.isfinite(ep).any():
                report.metrics["expected_precision_mean"] = float(np.nanmean(ep))
            if applied["probability"].size:
                report.metrics["probability_mean"] = float(applied["probability"].mean())
    return links, applied, columns


def _write(
    run: _Run,
    graph: _Graph,
    targets: np.ndarray,
    columns: dict[str, np.ndarray],
    links: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    applied: dict[str, np.ndarray],
) -> None:
    """Phase ``write``: node columns and predicted links (a dry run: what would be written), then the indexes."""
    cfg, report, clock, dry_run = run.cfg, run.report, run.clock, run.dry_run
    with clock.phase("write"):
        from ..writeback import write_node_properties, write_predicted_links  # noqa: PLC0415

        if not dry_run:
            run.ledger.update(report.run_id, {"wrote": True})
        ids = graph.snapshot.node_ids[targets]
        common = dict(spec=run.spec, prefix=cfg.write.prefix, run_id=report.run_id, batch_size=cfg.write.batch_size,
                      rate_limit=cfg.write.rate_limit or None, dry_run=dry_run)
        if columns:
            wr = write_node_properties(run.conn, ids, columns, progress=clock.progress, **common)
            report.written.update({"nodes": wr.matched, "nodes_missing": wr.missing, "properties": len(wr.properties), "via": wr.via})
            if dry_run:
                report.written["node_sample"] = wr.sample
                report.written["node_properties"] = ", ".join(wr.properties)
        if links is not None:
            src, dst, scores = links
            lr = write_predicted_links(
                run.conn, graph.snapshot, src, dst, scores, model=cfg.predict.model, rel_type=cfg.write.relationship_type,
                top_k=cfg.predict.top_k, min_score=cfg.predict.min_score, progress=clock.progress,
                link_properties=applied or None, **common,
            )
            report.written.update({"links": lr.relationships, "links_replaced": lr.deleted, "link_sources": lr.matched, "links_via": lr.via})
            if dry_run:
                report.written["link_sample"] = lr.sample
        clock.checkpoint()
        if not dry_run:
            ensure_indexes(run.conn, cfg)
