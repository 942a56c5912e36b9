"""Neo4j out: write results back as node properties and predicted links, safely and idempotently.

Three writers, all batched ``UNWIND`` write transactions:

* :func:`write_node_properties` sets one property per column (``topo_<name>``
  by default) plus ``topo_run_id`` and ``topo_updated_at`` on each node.
  A missing value (NaN or None) *removes* the property instead of writing 0.
* :func:`write_predicted_links` writes
  ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at}]->(b)`` and
  the node lists ``topo_predicted`` / ``topo_predicted_scores`` on ``a``.
* :func:`cleanup_predicted_links` removes links (and node lists) of earlier
  runs that a run did not replace.

The batches run through :class:`~topo_graphdb.batches.BatchRunner`; links are
ranked by :mod:`topo_graphdb.linkrank`; :mod:`topo_graphdb.writecsv` writes from
CSV files (the CLI). When the server has the ``topo.write`` procedures, a batch
of the first two writers is one call of them with the same effect
(:mod:`topo_graphdb.writeproc`).

Node identity
-------------
Results are matched to nodes by the identity the export used:

* **Key property** (``key_property``, recommended): the node is matched on
  ``(n:Label {key: value})``. This is exact as long as the key is unique
  (create a uniqueness constraint), survives restarts, dumps and reloads,
  and uses the constraint's index.
* **Element id** (no key property): the node is matched with
  ``elementId(n) = id AND n:Label``. Element ids are only guaranteed within
  one transaction, and Neo4j reuses the ids of deleted nodes. Between the
  export and the write a node may be deleted and its id given to a new node:
  the label check stops a write to a node of another kind, but a new node
  *with the same label* would receive the old node's values. Nodes that no
  longer match are not written; the report counts them and shows a few ids.
  Use element ids only for short export-to-write windows on databases that
  are not deleting nodes meanwhile; otherwise pass a key property. With no
  label at all (a projection export) only the element id is checked.

Idempotency and failures
------------------------
Every batch is a complete, idempotent statement: ``SET`` of given values,
``MERGE`` of links on their two end nodes (so a re-run never duplicates a
link) and deletion of what the run replaces. Re-running the same write after
a crash (of this process or of the server) leaves the same final state as an
uninterrupted run, apart from run ids and timestamps. Each batch is a
managed transaction of :class:`~topo_graphdb.db.Database`: transient errors,
and a server that goes away between or during batches (a restart), are
retried by the driver on a new connection until ``reconnect_timeout`` seconds
have passed. An unknown commit outcome is simply retried, which is safe
because batches are idempotent.

Runs and replacement
--------------------
Each write carries a ``run_id``. With ``replace_previous=True`` (default), each
batch replaces, in the same transaction, the outgoing ``PREDICTED_LINK``
relationships of its source nodes: links to nodes this run does not predict
are deleted (whatever run wrote them), links to nodes it predicts again are
taken over (updated in place: new score, rank, model, run id, timestamp) and
the others are created. So after the batch a source node holds exactly this
run's predictions, never a mix: the later run wins and the earlier run's
links of that node are gone. Source nodes that a run does not cover keep
their earlier links until :func:`cleanup_predicted_links` is called with
``keep_run_id``. Node properties follow the same rule: the later write's
values win; properties it does not name are left alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ._cypher import load_query, quote_identifier, render
from .batches import BatchRunner, check_batch, check_workers, spans
from .connection import ConnectionSettings
from .db import Database, connect
from .errors import InputError
from .graphspec import PREDICTED_LINK, GraphSpec
from .identity import NodeIdentity, node_id_list, resolve_identity
from .ledger import LEDGER_LABEL, LOCK_LABEL, check_run_id, new_run_id
from .linkrank import link_columns, link_maps, link_spans, rank_links, source_rows
from .progress import Progress
from .snapshot import GraphSnapshot
from .writeproc import has_write_procedures, link_procedure_batches, node_procedure_batches, procedures_can_store, procedures_serve

__all__ = [
    "PREDICTED_LINK",
    "LEDGER_LABEL",
    "LOCK_LABEL",
    "NodeIdentity",
    "WriteReport",
    "new_run_id",
    "write_node_properties",
    "write_predicted_links",
    "cleanup_predicted_links",
]

log = logging.getLogger(__name__)


_SAMPLE_IDS = 5


# --------------------------------------------------------------------------- report
@dataclass
class WriteReport:
    """What a write did (or, with ``dry_run``, would do)."""

    kind: str
    run_id: str
    dry_run: bool
    identity: dict[str, Any]
    properties: list[str]
    rows: int = 0
    matched: int = 0
    missing: int = 0
    missing_sample: list[Any] = field(default_factory=list)
    removed: int = 0
    relationships: int = 0
    missing_targets: int = 0
    deleted: int = 0
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0
    sample: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    via: str = "cypher"  # how the batches were sent: "cypher" statements or the topo.write "procedures"

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["seconds"] = round(self.seconds, 4)
        return d

    def summary(self) -> str:
        """One paragraph for people."""
        verb = "would write" if self.dry_run else "wrote"
        if self.kind == "node_properties":
            text = f"{verb} {', '.join(self.properties)} on {self.matched:,} of {self.rows:,} nodes"
            if self.removed:
                text += f" ({self.removed:,} missing values remove the property)"
        elif self.kind == "predicted_links":
            text = f"{verb} {self.relationships:,} predicted links from {self.matched:,} of {self.rows:,} source nodes"
            if self.deleted:
                text += f"; deleted {self.deleted:,} links no longer predicted"
            if self.missing_targets:
                text += f"; {self.missing_targets:,} target nodes not found"
        else:
            text = f"{'would delete' if self.dry_run else 'deleted'} {self.deleted:,} links and cleared {self.matched:,} node lists"
        if self.missing:
            text += f"; {self.missing:,} nodes no longer match (e.g. {', '.join(map(str, self.missing_sample))})"
        text += f" [run {self.run_id}, {self.batches} batches, {self.seconds:.1f} s, via {self.via}]"
        return text


# --------------------------------------------------------------------------- shared steps
def _names(prefix: str, identity: NodeIdentity) -> dict[str, str]:
    if not isinstance(prefix, str):
        raise InputError(f"prefix must be a string; got {prefix!r}")
    names = {
        "run_id": prefix + "run_id",
        "updated_at": prefix + "updated_at",
        "predicted": prefix + "predicted",
        "predicted_scores": prefix + "predicted_scores",
    }
    for name in names.values():
        quote_identifier(name, what="property name")
    if identity.key_property in names.values():
        raise InputError(f"prefix {prefix!r} would overwrite the key property {identity.key_property!r}")
    return names


def _add_missing(report: WriteReport, out: dict[str, Any]) -> None:
    report.missing += int(out["missing"])
    room = _SAMPLE_IDS - len(report.missing_sample)
    if room > 0:
        report.missing_sample.extend(out["missing_sample"][:room])


# --------------------------------------------------------------------------- node properties
def _column_values(name: str, values: Any, n: int) -> tuple[list[Any], int]:
    """A column as Python values (NaN/None -> None) and the number of missing values."""
    arr = np.asarray(values)
    if arr.shape[:1] != (n,) or arr.ndim > 2:
        raise InputError(f"column {name!r} must have shape ({n},) or ({n}, d); got {arr.shape}")
    if arr.dtype.kind in "fc":
        if arr.dtype.kind == "c":
            raise InputError(f"column {name!r} is complex; write real numbers")
        miss = np.isnan(arr) if arr.ndim == 1 else np.isnan(arr).all(axis=1)
        out = arr.tolist()
        for i in np.flatnonzero(miss):
            out[i] = None
        return out, int(miss.sum())
    if arr.dtype.kind in "iub":
        return arr.tolist(), 0
    if arr.dtype.kind in "OUS":
        out = []
        missing = 0
        for v in arr.tolist():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
                missing += 1
            elif isinstance(v, np.generic):
                out.append(v.item())
            else:
                out.append(v)
        return out, missing
    raise InputError(f"column {name!r} has unsupported dtype {arr.dtype}; use numbers, booleans or strings")


def _send(
    conn: ConnectionSettings | Database,
    report: WriteReport,
    *,
    check: tuple[str, Iterable[dict[str, Any]]],
    write: Callable[[Database], tuple[str, Iterable[tuple[dict[str, Any], int]]]],
    on_done: Callable[[dict[str, Any], int], None],
    reconnect_timeout: float,
    rate_limit: float | None,
    workers: int,
) -> None:
    """Run the batches of a write, or with ``report.dry_run`` only the read that counts its matches.

    ``check`` is the dry run's query and its parameter maps; ``write(db)`` gives the write's
    query and its ``(params, rows)`` batches for the open database (the ``topo.write``
    procedures when it has them, see :mod:`topo_graphdb.writeproc`); ``on_done(result, rows)``
    after each written batch. Sets
    the report's ``batches`` (dry run), ``missing``, ``retries`` and ``seconds``.
    """
    t0 = time.perf_counter()
    try:
        with connect(conn) as db:
            runner = BatchRunner(db, reconnect_timeout=reconnect_timeout, rate_limit=rate_limit, workers=workers)
            retries_before = db.retries
            try:
                if report.dry_run:
                    query, checks = check
                    for params in checks:
                        _add_missing(report, runner.read(query, params))
                        report.batches += 1
                else:
                    runner.write_all(*write(db), on_done)
            finally:
                report.retries = db.retries - retries_before
    finally:
        report.seconds = time.perf_counter() - t0


# --------------------------------------------------------------------------- node properties
def _property_columns(
    ids: list[Any], columns: Mapping[str, Any], prefix: str, names: dict[str, str], identity: NodeIdentity
) -> tuple[list[str], list[list[Any]], int]:
    """Property names, one list of values per property, and the count of missing values."""
    n = len(ids)
    if not isinstance(columns, Mapping) or not columns:
        raise InputError("columns must be a non-empty mapping {name: array}")
    props: list[str] = []
    values: list[list[Any]] = []
    removed = 0
    for name, col in columns.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"column names must be non-empty strings; got {name!r}")
        full = prefix + name
        quote_identifier(full, what="property name")
        if full in names.values() or full == identity.key_property:
            raise InputError(f"column {name!r} would overwrite the reserved property {full!r}")
        vals, miss = _column_values(name, col, n)
        props.append(full)
        values.append(vals)
        removed += miss
    if len(set(props)) != len(props):
        raise InputError(f"column names repeat: {props}")
    return props, values, removed


def _assignments(props: list[str], names: dict[str, str]) -> str:
    """One map update (``+=``; a null value removes the key): cheaper than one SET per property."""
    return "n += {" + ", ".join(
        [f"{quote_identifier(p, what='property name')}: row[{i + 1}]" for i, p in enumerate(props)]
        + [f"{quote_identifier(names['run_id'])}: $run_id", f"{quote_identifier(names['updated_at'])}: $now"]
    ) + "}"


def write_node_properties(
    conn: ConnectionSettings | Database,
    target: GraphSnapshot | Sequence[Any] | np.ndarray,
    columns: Mapping[str, Any],
    *,
    spec: GraphSpec | None = None,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    prefix: str = "topo_",
    run_id: str | None = None,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    dry_run: bool = False,
    reconnect_timeout: float = 300.0,
    progress: Progress | None = None,
    workers: int = 2,
    use_procedures: bool = True,
) -> WriteReport:
    """Write ``columns`` as node properties ``prefix + name`` on the nodes ``target`` names.

    Parameters
    ----------
    conn : connection settings, or an open :class:`~topo_graphdb.db.Database`.
    target : a :class:`GraphSnapshot` (its ``node_ids`` and ``meta["identity"]``)
        or a sequence of node ids (key values or element ids).
    columns : ``{name: array}``; each array has shape (n,) or (n, d) (a list
        property per node). Numbers, booleans and strings are written as they
        are; NaN or None *removes* the property.
    spec, labels, key_property : how ids find nodes (see the module docstring);
        explicit arguments win over ``spec``, which wins over the snapshot's meta.
    prefix : prepended to every property name written (default ``topo_``).
    run_id : stored as ``<prefix>run_id`` (default: a fresh id); a timestamp is
        stored as ``<prefix>updated_at``.
    batch_size : nodes per write transaction (1..100,000; 10,000 stays well
        under the server's transaction memory limit).
    rate_limit : at most this many rows per second (None: as fast as possible).
    dry_run : report what would be written (counts, names, one sample row,
        how many ids match) and write nothing.
    reconnect_timeout : seconds to keep retrying a batch while the server is away.
    progress : callback ``(phase, done, total)`` with phase ``"write"``.
    workers : batches written at once (1..16), each in its own transaction on
        disjoint nodes; 2 keeps the server busy while the client packs the next batch.
    use_procedures : send each batch as a call of the ``topo.write`` procedures when the
        server has them and nodes are found by element id (default); False always sends
        the Cypher statement. Both write the same values.

    Returns
    -------
    WriteReport
        ``rows`` sent, ``matched`` nodes, ``missing`` (ids that no longer
        match, with ``missing_sample``), ``removed`` (missing values), batches,
        retries and seconds.
    """
    check_batch(batch_size, rate_limit, reconnect_timeout)
    check_workers(workers)
    run_id = check_run_id(run_id)
    identity = resolve_identity(target, spec, labels, key_property)
    names = _names(prefix, identity)
    ids = node_id_list(target)
    n = len(ids)
    props, values, removed = _property_columns(ids, columns, prefix, names, identity)
    report = WriteReport(
        kind="node_properties",
        run_id=run_id,
        dry_run=dry_run,
        identity=identity.describe(),
        properties=props + [names["run_id"], names["updated_at"]],
        rows=n,
        removed=removed,
        sample=({"id": ids[0], **{p: v[0] for p, v in zip(props, values)}} if n else None),
    )
    if not identity.labels:
        report.notes.append("no label guard: nodes are matched by element id only")
    now = datetime.now(timezone.utc)
    done = 0

    def on_done(out: dict[str, Any], count: int) -> None:
        nonlocal done
        _add_missing(report, out)
        report.batches += 1
        done += count
        if progress:
            progress("write", done, n)

    check = render("write_match_nodes", match_node=identity.match("n", "id"))
    stamp = {names["run_id"]: run_id, names["updated_at"]: now}

    def write(db: Database) -> tuple[str, Iterable[tuple[dict[str, Any], int]]]:
        if use_procedures and procedures_serve(identity) and procedures_can_store(columns.values()) and has_write_procedures(db):
            report.via = "procedures"
            batches = node_procedure_batches(ids, props, values, stamp, identity, spans(n, batch_size), _SAMPLE_IDS)
            return load_query("write_node_properties_procedure"), batches
        text = render("write_node_properties", match_node=identity.match("n", "row[0]"), assignments=_assignments(props, names))
        rows = [list(r) for r in zip(ids, *values)] if n else []
        return text, (({"rows": rows[start:stop], "run_id": run_id, "now": now, "sample_size": _SAMPLE_IDS}, stop - start)
                      for start, stop in spans(n, batch_size))

    _send(
        conn,
        report,
        check=(check, ({"ids": ids[start:stop], "sample_size": _SAMPLE_IDS} for start, stop in spans(n, batch_size))),
        write=write,
        on_done=on_done,
        reconnect_timeout=reconnect_timeout,
        rate_limit=rate_limit,
        workers=workers,
    )
    report.matched = n - report.missing
    return report


# --------------------------------------------------------------------------- predicted links
def _check_link_options(model: str, top_k: int | None, min_score: float | None) -> None:
    if not isinstance(model, str) or not model.strip():
        raise InputError(f"model must be a non-empty name; got {model!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InputError(f"top_k must be a positive integer (or None); got {top_k!r}")
    if min_score is not None and not (isinstance(min_score, (int, float)) and math.isfinite(min_score)):
        raise InputError(f"min_score must be a finite number (or None); got {min_score!r}")


def _link_arrays(n: int, src_idx: Any, dst_idx: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``src``, ``dst`` (int64 indices into the ``n`` node ids) and ``scores`` (float64), checked."""
    src = np.asarray(src_idx)
    dst = np.asarray(dst_idx)
    sc = np.asarray(scores, dtype=np.float64)
    if not (src.shape == dst.shape == sc.shape) or src.ndim != 1:
        raise InputError(f"src_idx, dst_idx and scores must be 1-D of one length; got {src.shape}, {dst.shape}, {sc.shape}")
    for name, arr in (("src_idx", src), ("dst_idx", dst)):
        if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= n):
            raise InputError(f"{name} must hold integer indices in 0..{n - 1}; got dtype {arr.dtype}, range {arr.min()}..{arr.max()}")
    return src.astype(np.int64), dst.astype(np.int64), sc


def _node_sets(names: dict[str, str], node_lists: bool) -> str:
    """The map update of a source node: its lists of predicted nodes and scores (optional), run id, time."""
    stamp = f"{quote_identifier(names['run_id'])}: $run_id, {quote_identifier(names['updated_at'])}: $now"
    if not node_lists:
        return "a += {" + stamp + "}"
    return "a += {" + (
        f"{quote_identifier(names['predicted'])}: CASE WHEN size(got) = 0 THEN null ELSE got END, "
        f"{quote_identifier(names['predicted_scores'])}: CASE WHEN size(got) = 0 THEN null ELSE got_scores END, "
        + stamp
    ) + "}"


def write_predicted_links(
    conn: ConnectionSettings | Database,
    node_ids: GraphSnapshot | Sequence[Any] | np.ndarray,
    src_idx: Any,
    dst_idx: Any,
    scores: Any,
    *,
    model: str,
    run_id: str | None = None,
    rel_type: str = PREDICTED_LINK,
    top_k: int | None = None,
    min_score: float | None = None,
    replace_previous: bool = True,
    spec: GraphSpec | None = None,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    prefix: str = "topo_",
    node_lists: bool = True,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    dry_run: bool = False,
    reconnect_timeout: float = 300.0,
    progress: Progress | None = None,
    workers: int = 1,
    link_properties: dict[str, Any] | None = None,
    use_procedures: bool = True,
) -> WriteReport:
    """Write predicted links ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at}]->(b)``.

    Parameters
    ----------
    conn : connection settings, or an open :class:`~topo_graphdb.db.Database`.
    node_ids : a :class:`GraphSnapshot` or the node id array that ``src_idx``
        and ``dst_idx`` index into.
    src_idx, dst_idx : int arrays of shape (m,): dense indices of the pairs.
    scores : float array (m,); higher is more likely. Non-finite scores and
        self-links are dropped; a pair given twice keeps its best score.
    model : model name stored on each link.
    run_id : run id (default: a fresh one).
    rel_type : relationship type (default ``PREDICTED_LINK``).
    top_k : keep at most this many links per source node (best first).
    min_score : drop links scoring below this.
    replace_previous : per batch and in the same transaction, delete the
        source nodes' links of this type to nodes this run does not predict
        and take over the others, so that each source holds exactly this
        run's links; see the module docstring.
    spec, labels, key_property : node identity (see :func:`write_node_properties`).
    prefix : prefix of the node list properties ``predicted``,
        ``predicted_scores`` (ids of the predicted nodes, best first, and
        their scores), ``run_id`` and ``updated_at``.
    node_lists : write those node list properties (default True).
    batch_size : links per write transaction (all links of one source node
        stay in one batch).
    rate_limit, dry_run, reconnect_timeout, progress : as in
        :func:`write_node_properties`; the rate counts links.
    workers : batches written at once (default 1). Creating a relationship
        locks both end nodes, so concurrent batches sharing targets wait on
        each other (a detected deadlock is retried); more than 1 pays off only
        when the batches' targets rarely overlap.
    link_properties : dict of name -> float array (m,), optional
        More properties of each link, aligned with ``src_idx`` (e.g.
        ``probability``, ``tc``); NaN is written as no property.
    use_procedures : as in :func:`write_node_properties`.

    Returns
    -------
    WriteReport
        ``rows`` = source nodes, ``matched`` = those found, ``relationships``
        written, ``deleted`` (links removed), ``missing_targets``.
    """
    # Long on purpose: one straight sequence (check, rank, build rows, report, render, send); the steps are helpers.
    check_batch(batch_size, rate_limit, reconnect_timeout)
    check_workers(workers)
    run_id = check_run_id(run_id)
    _check_link_options(model, top_k, min_score)
    identity = resolve_identity(node_ids, spec, labels, key_property)
    names = _names(prefix, identity)
    ids = node_id_list(node_ids)
    src, dst, sc = _link_arrays(len(ids), src_idx, dst_idx, scores)
    extra = link_columns(link_properties, src.size)
    sources, s, d, scr, pos, stats = rank_links(len(ids), src, dst, sc, top_k, min_score)
    counts = (np.searchsorted(s, sources, side="right") - np.searchsorted(s, sources, side="left")).tolist()
    report = WriteReport(
        kind="predicted_links",
        run_id=run_id,
        dry_run=dry_run,
        identity=identity.describe(),
        properties=(["score", "rank", "model", "run_id", "created_at", *extra] + ([names["predicted"], names["predicted_scores"]] if node_lists else [])),
        rows=len(counts),
        relationships=0,
        sample=({"source": ids[sources[0]], "targets": [ids[j] for j in d[: min(3, counts[0])].tolist()],  # the first source's links lead
                 "scores": scr[: min(3, counts[0])].tolist(), "rel_type": rel_type} if counts else None),
        notes=[f"{k}: {v}" for k, v in stats.items() if v and k != "input"],
    )
    if not identity.labels:
        report.notes.append("no label guard: nodes are matched by element id only")
    bounds = link_spans(counts, batch_size)
    total_links = int(s.size)
    now = datetime.now(timezone.utc)
    done = 0

    def on_done(out: dict[str, Any], links: int) -> None:
        nonlocal done
        _add_missing(report, out)
        report.relationships += int(out["written"])
        report.deleted += int(out["deleted"])
        report.missing_targets += int(out["missing_targets"])
        report.batches += 1
        done += links
        if progress:
            progress("links", done, total_links)

    check = render("write_match_nodes", match_node=identity.match("n", "id"))
    rel = quote_identifier(rel_type, what="relationship type")

    def write(db: Database) -> tuple[str, Iterable[tuple[dict[str, Any], int]]]:
        if use_procedures and procedures_serve(identity) and has_write_procedures(db):
            report.via = "procedures"
            fixed = {
                "rel_type": rel_type, "replace": bool(replace_previous), "common": {"model": model, "run_id": run_id, "created_at": now},
                "labels": list(identity.labels), "key": identity.key_property,
                "node_names": [names["predicted"], names["predicted_scores"]] if node_lists else [],
                "stamp": {names["run_id"]: run_id, names["updated_at"]: now}, "sample_size": _SAMPLE_IDS,
            }  # fmt: skip
            return load_query("write_predicted_links_procedure"), link_procedure_batches(ids, sources, counts, d, scr, extra, pos, bounds, fixed)
        text = render(
            "write_predicted_links",
            match_source=identity.match("a", "row[0]"),
            match_target=identity.match("b", "row[1][i]"),
            target_id=identity.id_of("x"),
            rel_type=rel,
            node_sets=_node_sets(names, node_lists),
        )
        rows = source_rows(ids, sources, s, d, scr, link_maps(extra, pos))
        common = {"run_id": run_id, "model": model, "now": now, "replace": bool(replace_previous), "sample_size": _SAMPLE_IDS}
        return text, (({"rows": rows[b:e], **common}, sum(counts[b:e])) for b, e in bounds)

    _send(
        conn,
        report,
        check=(check, ({"ids": [ids[a] for a in sources[b:e].tolist()], "sample_size": _SAMPLE_IDS} for b, e in bounds)),
        write=write,
        on_done=on_done,
        reconnect_timeout=reconnect_timeout,
        rate_limit=rate_limit,
        workers=workers,
    )
    if dry_run:
        report.relationships = total_links
    report.matched = len(counts) - report.missing
    return report


def cleanup_predicted_links(
    conn: ConnectionSettings | Database,
    *,
    keep_run_id: str,
    rel_type: str = PREDICTED_LINK,
    model: str | None = None,
    prefix: str = "topo_",
    batch_size: int = 10_000,
    dry_run: bool = False,
) -> WriteReport:
    """Delete ``rel_type`` links whose ``run_id`` is not ``keep_run_id`` (optionally only of ``model``),
    and clear the node lists ``<prefix>predicted[_scores]`` of nodes left without a link of that run.

    Runs as ``CALL {...} IN TRANSACTIONS`` (batches of ``batch_size``); an
    interrupted cleanup is finished by running it again.
    """
    check_batch(batch_size, None, 0)
    if not isinstance(keep_run_id, str) or not keep_run_id:
        raise InputError(f"keep_run_id must be a non-empty run id; got {keep_run_id!r}")
    names = _names(prefix, NodeIdentity())
    q = {
        "rel_type": quote_identifier(rel_type, what="relationship type"),
        "predicted": quote_identifier(names["predicted"]),
        "predicted_scores": quote_identifier(names["predicted_scores"]),
    }
    params = {"keep": keep_run_id, "model": model, "batch": batch_size}
    report = WriteReport(
        kind="cleanup", run_id=keep_run_id, dry_run=dry_run, identity={}, properties=[names["predicted"], names["predicted_scores"]]
    )
    t0 = time.perf_counter()
    try:
        with connect(conn) as db:
            if dry_run:
                [rec] = db.run(render("write_cleanup_count", **q), params).records
                report.deleted, report.matched = int(rec["links"]), int(rec["nodes"])
            else:
                [rec] = db.run(render("write_cleanup_links", **q), params).records
                report.deleted = int(rec["deleted"] or 0)
                [rec] = db.run(render("write_cleanup_lists", **q), params).records
                report.matched = int(rec["cleared"] or 0)
            report.batches = 1
    finally:
        report.seconds = time.perf_counter() - t0
    return report
