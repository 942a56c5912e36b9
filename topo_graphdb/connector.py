"""Neo4j in: graph selection (:class:`GraphSpec`) and export to a :class:`GraphSnapshot`.

A selection names node labels, relationship types, an orientation, property
predicates and the properties that become arrays (time, weight, features,
node labels, node key). :func:`export_graph` reads the selected nodes and
relationships and returns an immutable :class:`~topo_graphdb.snapshot.GraphSnapshot`.

Selection semantics
-------------------
* Nodes: every node carrying *any* of ``labels`` (all nodes if none) that
  satisfies *all* node predicates. With no labels, the tool's own bookkeeping
  nodes (labels ``TopoRun`` and ``TopoLock``) are left out.
* Relationships: every relationship of *any* of ``rel_types`` (all types if
  none, except the tool's own output type ``PREDICTED_LINK``) whose two end
  nodes are both selected and that satisfies all relationship predicates
  (and ``time >= since`` when ``since`` is set).
* Orientation: ``natural`` keeps stored directions, ``reverse`` flips them;
  both keep parallel relationships and self-loops (counted in the report).
  ``undirected`` (the default) stores each node pair once as ``(min, max)``
  and drops self-loops and duplicates (a->b and b->a are one pair); the
  report counts what was dropped. For merged pairs the time is the earliest
  one and the weight is the sum (the convention of PyG's ``coalesce``).

Consistency
-----------
Both passes (nodes, then relationships) run in one read transaction. Neo4j
isolates transactions at *read committed*, so a writer may still commit
between the two passes: a relationship whose end node was not seen in the
node pass is dropped and counted as ``dangling`` in the report, so the
snapshot is always internally consistent (every edge joins two exported
nodes).

Node identity
-------------
``node_ids[i]`` is node ``i``'s ``key_property`` value when one is named
(the user's unique id; recommended), otherwise its ``elementId``. Internal
``id()`` values are never used. See :mod:`topo_graphdb.writeback` for what
this means when writing results back.

Throughput
----------
Per-record costs dominate streaming from Neo4j (on the server and in the
driver), so each record carries a group of nodes (``group_size``, default
1,000): the node pass sends their ids (and feature/label values), the
relationship pass, for each source node of the group, the list of its
selected targets (and times, weights). Only scalars travel (element id
strings or keys, numbers), never node objects. Each record becomes numpy
arrays at once (ids mapped to dense indices through the dict built by the
node pass, appended to growing int64 buffers), so no Python object per
relationship outlives its record. The server keeps a reference to each
selected node for the length of the transaction (tens of bytes per node).
A projection query streams one row per relationship instead.

Modules
-------
The selection is :mod:`topo_graphdb.graphspec`; the query texts and the schema
check :mod:`topo_graphdb._export_plan`; the grouped passes
:mod:`topo_graphdb._export_stream`; the projection path
:mod:`topo_graphdb._export_projection`; array building and orientation
:mod:`topo_graphdb._export_arrays`. This module composes them.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ._export_arrays import integral, node_id_array, orient
from ._export_plan import build_plan, check_schema, estimates
from ._export_projection import read_projection
from ._export_stream import Collector
from .connection import ConnectionSettings
from .db import Database, connect
from .errors import EmptyGraphError, InputError
from .graphspec import ORIENTATIONS, PREDICTED_LINK, GraphSpec, describe_selection, spec_from_options
from .ledger import LEDGER_LABEL, LOCK_LABEL
from .predicates import OPERATORS, Predicate, parse_predicate
from .progress import Progress
from .snapshot import GraphSnapshot
from .writeproc import EXPORT_PROCEDURES, server_has

__all__ = [
    "OPERATORS",
    "ORIENTATIONS",
    "Predicate",
    "GraphSpec",
    "parse_predicate",
    "spec_from_options",
    "export_graph",
    "check_schema",
    "check_names",
    "PREDICTED_LINK",
    "LEDGER_LABEL",
    "LOCK_LABEL",
]


def export_graph(
    conn: ConnectionSettings | Database,
    spec: GraphSpec,
    *,
    progress: Progress | None = None,
    fetch_size: int = 1_000_000,
    group_size: int = 1_000,
    use_procedures: bool = True,
) -> GraphSnapshot:
    """Export the selection ``spec`` from Neo4j as a :class:`GraphSnapshot`.

    Parameters
    ----------
    conn : connection settings (see :func:`topo_graphdb.connection.settings_from`), or an open
        :class:`~topo_graphdb.db.Database`.
    spec : the selection (see :class:`GraphSpec` and the module docstring).
    progress : optional callback ``(phase, done, total)`` with phases
        ``"nodes"`` and ``"relationships"``; ``total`` is an upper-bound
        estimate from the counts store until the final call of each phase.
    fetch_size : about this many nodes (with their relationships) per network
        page (1..1,000,000); a projection query's rows per page. The driver
        reads a page only as fast as the records are consumed, so a large
        page costs no memory here; it lets the server stream while the
        client converts (fewer round trips).
    group_size : nodes per record (1..100,000). Records carrying a group of
        nodes and, per source node, the lists of its relationships stream
        many times faster than one record per relationship (per-record costs
        dominate on both sides). The server holds a reference to every
        selected node during the transaction (some tens of bytes each).
    use_procedures : read the relationships through the server's
        ``topo.export.relationships`` procedure when it has it (the local
        server's plugin jar) and the selection has no node or relationship
        predicates, times or weights: their ends come as packed positions
        in the node list instead of one element id each, and without label
        or feature properties the procedure's node list (and keys) replaces
        the node pass. The snapshot holds the same nodes, values and
        relationships either way (its order may differ);
        ``meta["report"]["relationships_via"]`` says which way was taken.

    Returns
    -------
    GraphSnapshot
        ``node_ids`` (n,), ``edge_index`` (2, E) int64, ``edge_time`` (E,) and
        ``edge_weight`` (E,) when asked for, ``x`` (n, f) float64, ``y`` (n,)
        int64, and ``meta`` with the selection, identity and export report
        (counts of self-loops, duplicates, dangling relationships, missing
        values; seconds per phase).

    Raises
    ------
    SchemaError : an unknown label, relationship type or property key (the
        message lists what exists).
    EmptyGraphError : the selection holds no node or no relationship.
    WriteNotAllowed : a projection query tried to write.
    Neo4jUnavailable, AuthError : see :func:`topo_graphdb.connection.translate_errors`.
    """
    if not isinstance(spec, GraphSpec):
        raise InputError(f"spec must be a GraphSpec; got {type(spec).__name__}")
    for name, value, top in (("fetch_size", fetch_size, 1_000_000), ("group_size", group_size, 100_000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InputError(f"{name} must be an integer in 1..{top}; got {value!r}")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    with connect(conn) as db:
        settings = db.settings
        procedure = use_procedures and not spec.projection and server_has(db, EXPORT_PROCEDURES)
        col, x, y, info = db.read(
            lambda tx: _read_selection(tx, spec, timings, progress, group_size, procedure),
            fetch_size=fetch_size if spec.projection else max(1, fetch_size // group_size),
        )
    _check_not_empty(col, spec)
    t2 = time.perf_counter()
    node_ids, edge_index, et, ew, stats = _arrays(col, spec)
    timings["arrays"] = time.perf_counter() - t2
    meta = _snapshot_meta(settings, spec, len(node_ids), int(edge_index.shape[1]), {**info, **stats}, timings, t_start)
    if progress:
        progress("relationships", int(info.get("relationships_read", 0)), int(info.get("relationships_read", 0)))
    return GraphSnapshot(node_ids, edge_index, edge_time=et, edge_weight=ew, x=x, y=y, meta=meta)


def _read_selection(
    tx: Any, spec: GraphSpec, timings: dict[str, float], progress: Progress | None, group_size: int, procedure: bool = False
) -> tuple[Collector, Any, Any, dict[str, Any]]:
    """Both passes (or the export procedure alone) in one read transaction: ``(collector, x, y, info)``;
    seconds per pass into ``timings``."""
    t0 = time.perf_counter()
    if spec.projection:
        col = Collector(spec, None, progress, group_size)
        info = read_projection(tx, col, spec.projection)
        timings["relationships"] = time.perf_counter() - t0
        return col, None, None, info
    plan = build_plan(spec, *check_schema(tx, spec))
    col = Collector(spec, plan, progress, group_size)
    node_total, rel_total = estimates(tx, spec)
    procedure = procedure and plan.procedure is not None
    if procedure and not (spec.label_property or spec.feature_properties):
        # the procedure sends the nodes' element ids (and keys) too: no node pass
        info = col.read_rels(tx, rel_total, procedure=True)
        timings["relationships"] = time.perf_counter() - t0
        return col, None, None, info  # no node: _check_not_empty
    x, y, info = col.read_nodes(tx, node_total)
    timings["nodes"] = time.perf_counter() - t0
    if not col.ids:
        raise _no_nodes(spec)  # before the relationship pass
    t1 = time.perf_counter()
    info.update(col.read_rels(tx, rel_total, procedure=procedure))
    timings["relationships"] = time.perf_counter() - t1
    return col, x, y, info


def _no_nodes(spec: GraphSpec) -> EmptyGraphError:
    hint = None if spec.projection else "check labels and --where predicates"
    return EmptyGraphError(f"the selection holds no nodes ({describe_selection(spec)})", hint=hint)


def _check_not_empty(col: Collector, spec: GraphSpec) -> None:
    if not col.ids:
        raise _no_nodes(spec)
    if col.src.size == 0:
        raise EmptyGraphError(
            f"the selection holds {len(col.ids):,} nodes but no relationships ({describe_selection(spec)})",
            hint="check --rel-type, --rel-where and --since",
        )


def _arrays(col: Collector, spec: GraphSpec) -> tuple[np.ndarray, np.ndarray, Any, Any, dict[str, int]]:
    """``node_ids``, oriented ``edge_index``, ``edge_time`` (int64 when integral), ``edge_weight`` and the
    orientation's counts; the collector's edge buffers are released."""
    node_ids = node_id_array(col.keys if spec.key_property and not spec.projection else col.ids,
                             "key property" if spec.key_property else "node id")
    time_arr = col.time
    if time_arr is not None and integral(time_arr):
        time_arr = time_arr.astype(np.int64)
    edge_index, et, ew, stats = orient(col.src, col.dst, time_arr, col.weight, len(node_ids), spec.orientation)
    if et is not None and et.dtype != np.int64 and integral(et):
        et = et.astype(np.int64)
    del col.src, col.dst
    return node_ids, edge_index, et, ew, stats


def check_names(conn: ConnectionSettings | Database, spec: GraphSpec) -> None:
    """Raise :class:`SchemaError` unless the database knows every label, type and property ``spec`` names.

    The check :func:`export_graph` makes, for commands that only write (one
    read transaction; the message lists what exists). ``conn`` : settings or an open database.
    """
    with connect(conn) as db:
        db.read(lambda tx: check_schema(tx, spec))


def _snapshot_meta(
    settings: ConnectionSettings,
    spec: GraphSpec,
    nodes: int,
    edges: int,
    counts: dict[str, Any],
    timings: dict[str, float],
    t_start: float,
) -> dict[str, Any]:
    """The snapshot's ``meta``: source, selection, identity and the export report (``counts``, seconds per phase)."""
    meta: dict[str, Any] = {
        "source": "neo4j",
        "uri": settings.uri,
        "database": settings.database,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "selection": spec.describe(),
        "identity": {"labels": list(spec.labels), "key_property": spec.key_property, "id_kind": "key" if spec.key_property else "elementId"},
        "orientation": spec.orientation,
        "report": {
            "nodes": nodes,
            "edges": edges,
            **counts,
            "seconds": {k: round(v, 4) for k, v in {**timings, "total": time.perf_counter() - t_start}.items()},
        },
    }
    if "y_classes" in counts:
        meta["y_classes"] = counts["y_classes"]
    return meta
