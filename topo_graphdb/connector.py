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
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ._cypher import quote_identifier, render
from .connection import ConnectionSettings
from .db import Database, connect
from .errors import EmptyGraphError, InputError, SchemaError, WriteNotAllowed
from .ledger import LEDGER_LABEL, LOCK_LABEL
from .predicates import OPERATORS, Predicate, as_predicates, parse_predicate
from .snapshot import GraphSnapshot

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
]

Progress = Callable[[str, int, int], None]

#: Orientations of the exported edges.
ORIENTATIONS = ("natural", "reverse", "undirected")


# Labels and relationship types the tool writes itself; kept out of label-/type-free selections.
# The ledger's labels are defined in ``ledger``; ``writeback`` re-exports all three.
PREDICTED_LINK = "PREDICTED_LINK"

_CHUNK = 65_536


# --------------------------------------------------------------------------- selection
def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    out = tuple(value)
    for name in out:
        quote_identifier(name, what=what)
    if len(set(out)) != len(out):
        raise InputError(f"{what}s must not repeat; got {list(out)}")
    return out


@dataclass(frozen=True)
class GraphSpec:
    """Which part of the database to export, and which properties become arrays.

    Parameters
    ----------
    labels : node labels (any of them); all nodes if empty.
    rel_types : relationship types (any of them); all types if empty (except
        ``exclude_rel_types``).
    orientation : ``"natural"``, ``"reverse"`` or ``"undirected"`` (default).
    node_where, rel_where : predicates ``(property, operator, value)`` (all must
        hold); operators from :data:`OPERATORS`; strings such as
        ``"year >= 2010"`` are parsed with :func:`parse_predicate`
        (:mod:`topo_graphdb.predicates`).
    time_property : relationship property exported as ``edge_time`` (numeric).
    since : keep only relationships with ``time_property >= since``.
    weight_property : relationship property exported as ``edge_weight``
        (float; a missing value counts as 1.0).
    feature_properties : numeric node properties (scalars or equal-length
        lists) concatenated into ``x`` (float64; missing values are NaN).
    label_property : node property exported as ``y`` (integers as they are,
        other values as codes into ``meta["y_classes"]``; missing is -1).
    key_property : the user's unique node id property; ``node_ids`` then hold
        its values (else element ids).
    projection : escape hatch: the text of a read-only Cypher query returning
        columns ``source, target`` and optionally ``time``, ``weight`` (element
        ids, or key values when ``key_property`` is set). It runs in a read
        transaction; only ``orientation`` and ``key_property`` combine with it.
    exclude_rel_types, exclude_labels : the tool's own output, left out of
        type-free / label-free selections.

    >>> GraphSpec(labels="Paper", rel_types="CITES", node_where=["year >= 2010"]).node_where
    (Predicate(prop='year', op='>=', value=2010),)
    """

    labels: tuple[str, ...] = ()
    rel_types: tuple[str, ...] = ()
    orientation: str = "undirected"
    node_where: tuple[Predicate, ...] = ()
    rel_where: tuple[Predicate, ...] = ()
    time_property: str | None = None
    since: Any = None
    weight_property: str | None = None
    feature_properties: tuple[str, ...] = ()
    label_property: str | None = None
    key_property: str | None = None
    projection: str | None = None
    exclude_rel_types: tuple[str, ...] = (PREDICTED_LINK,)
    exclude_labels: tuple[str, ...] = (LEDGER_LABEL, LOCK_LABEL)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("labels", _as_tuple(self.labels, "label"))
        set_("rel_types", _as_tuple(self.rel_types, "relationship type"))
        set_("feature_properties", _as_tuple(self.feature_properties, "feature property"))
        set_("exclude_rel_types", _as_tuple(self.exclude_rel_types, "excluded relationship type"))
        set_("exclude_labels", _as_tuple(self.exclude_labels, "excluded label"))
        set_("node_where", as_predicates(self.node_where, "node_where"))
        set_("rel_where", as_predicates(self.rel_where, "rel_where"))
        if self.orientation not in ORIENTATIONS:
            raise InputError(f"orientation must be one of {', '.join(ORIENTATIONS)}; got {self.orientation!r}")
        for name in ("time_property", "weight_property", "label_property", "key_property"):
            value = getattr(self, name)
            if value is not None:
                quote_identifier(value, what=name.replace("_", " "))
        if self.since is not None:
            if self.time_property is None:
                raise InputError("since needs time_property (the relationship property it compares)")
            if isinstance(self.since, bool) or not isinstance(self.since, (int, float)) or (isinstance(self.since, float) and math.isnan(self.since)):
                raise InputError(f"since must be a number (same unit as the time property); got {self.since!r}")
        if self.projection is not None:
            if not str(self.projection).strip():
                raise InputError("the projection query is empty")
            other = [
                name
                for name in ("labels", "rel_types", "node_where", "rel_where", "feature_properties")
                if getattr(self, name)
            ] + [n for n in ("time_property", "since", "weight_property", "label_property") if getattr(self, n) is not None]
            if other:
                raise InputError(
                    f"a projection query cannot be combined with {', '.join(other)}",
                    hint="return source, target[, time, weight] from the query itself",
                )

    # ----------------------------------------------------------------- helpers
    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (predicates as text, the projection as its text)."""
        d = asdict(self)
        d["node_where"] = [str(p) for p in self.node_where]
        d["rel_where"] = [str(p) for p in self.rel_where]
        for k in ("labels", "rel_types", "feature_properties", "exclude_rel_types", "exclude_labels"):
            d[k] = list(d[k])
        return d

    @property
    def identity(self) -> dict[str, Any]:
        """How ``node_ids`` identify nodes: ``{"labels": [...], "key_property": ...}``."""
        return {"labels": list(self.labels), "key_property": self.key_property}


def spec_from_options(
    *,
    labels: Sequence[str] = (),
    rel_types: Sequence[str] = (),
    orientation: str = "undirected",
    where: Sequence[str] = (),
    rel_where: Sequence[str] = (),
    time_property: str | None = None,
    since: str | float | None = None,
    weight_property: str | None = None,
    feature_properties: Sequence[str] = (),
    label_property: str | None = None,
    key_property: str | None = None,
    projection_file: str | Path | None = None,
) -> GraphSpec:
    """A :class:`GraphSpec` from CLI-style options (predicates as strings, a projection file path)."""
    projection = None
    if projection_file is not None:
        p = Path(projection_file)
        try:
            projection = p.read_text("utf-8")
        except OSError as err:
            raise InputError(f"projection file cannot be read: {p} ({err.strerror})") from err
    if isinstance(since, str):
        try:
            since = json.loads(since)
        except json.JSONDecodeError as err:
            raise InputError(f"--since must be a number; got {since!r}") from err
    return GraphSpec(
        labels=tuple(labels),
        rel_types=tuple(rel_types),
        orientation=orientation,
        node_where=tuple(parse_predicate(w) for w in where),
        rel_where=tuple(parse_predicate(w) for w in rel_where),
        time_property=time_property or None,
        since=since,
        weight_property=weight_property or None,
        feature_properties=tuple(feature_properties),
        label_property=label_property or None,
        key_property=key_property or None,
        projection=projection,
    )


# --------------------------------------------------------------------------- query plan
@dataclass
class _Plan:
    nodes: str
    rels: str
    params: dict[str, Any]
    node_columns: list[str] = field(default_factory=list)
    rel_columns: list[str] = field(default_factory=list)


def _label_expr(labels: Sequence[str]) -> str:
    return ":" + "|".join(quote_identifier(x, what="label") for x in labels) if labels else ""


def _node_filter(spec: GraphSpec, var: str, params: dict[str, Any], present: set[str] | None) -> list[str]:
    conds = []
    if not spec.labels:
        excluded = [x for x in spec.exclude_labels if present is None or x in present]
        conds += [f"NOT {var}:{quote_identifier(x, what='label')}" for x in excluded]
    for i, p in enumerate(spec.node_where):
        name = f"np{i}"
        params[name] = p.param_value()
        conds.append(p.cypher(var, name))
    return conds


def _build_plan(spec: GraphSpec, present_labels: set[str] | None = None, present_types: set[str] | None = None) -> _Plan:
    """Query texts and parameters of an export. Excluded labels/types are tested only when
    the database has them (``present_*``; None: always), which avoids "unknown label" notices."""
    params: dict[str, Any] = {"missing": math.nan}
    q = lambda name, what: quote_identifier(name, what=what)  # noqa: E731
    key = q(spec.key_property, "key property") if spec.key_property else None
    labels = _label_expr(spec.labels)

    node_conds = _node_filter(spec, "n", params, present_labels)
    values = []
    if spec.label_property:
        values.append(f"n.{q(spec.label_property, 'label property')}")
    values += [f"n.{q(f, 'feature property')}" for f in spec.feature_properties]
    nodes = render(
        "export_nodes",
        labels=labels,
        node_filter=" AND ".join(node_conds) if node_conds else "true",
        node_keys=f", collect(n.{key}) AS keys" if key else "",
        node_values=f", collect([{', '.join(values)}]) AS vals" if values else "",
        node_columns=(", keys" if key else "") + (", vals" if values else ""),
    )

    source_conds = _node_filter(spec, "a", params, present_labels)
    rel_conds = _node_filter(spec, "b", {}, present_labels)
    excluded_types = [t for t in spec.exclude_rel_types if present_types is None or t in present_types]
    if not spec.rel_types and excluded_types:
        params["excluded_types"] = excluded_types
        rel_conds.append("NOT type(r) IN $excluded_types")
    for i, p in enumerate(spec.rel_where):
        name = f"rp{i}"
        params[name] = p.param_value()
        rel_conds.append(p.cypher("r", name))
    rel_values = []
    if spec.time_property:
        tp = q(spec.time_property, "time property")
        rel_values.append(("times", f"r.{tp}"))
        if spec.since is not None:
            params["since"] = spec.since
            rel_conds.append(f"r.{tp} >= $since")
    if spec.weight_property:
        rel_values.append(("weights", f"r.{q(spec.weight_property, 'weight property')}"))
    types = ":" + "|".join(q(t, "relationship type") for t in spec.rel_types) if spec.rel_types else ""
    rels = render(
        "export_rels",
        labels=labels,
        rel_types=types,
        source_filter=" AND ".join(source_conds) if source_conds else "true",
        rel_filter=" AND ".join(rel_conds) if rel_conds else "true",
        rel_collects="".join(f", collect(coalesce({expr}, $missing)) AS {name}" for name, expr in rel_values),
        rel_carry="".join(f", {name}" for name, _ in rel_values),
        rel_group="".join(f", collect({name}) AS {name}" for name, _ in rel_values),
        rel_columns="".join(f", {name}" for name, _ in rel_values),
    )
    return _Plan(nodes, rels, params, [c for c in ("y",) if spec.label_property] + [f"f{i}" for i in range(len(spec.feature_properties))], [n for n, _ in rel_values])


# --------------------------------------------------------------------------- buffers
class _Growing:
    """A numpy buffer that grows by doubling (amortised O(1) appends of chunks)."""

    def __init__(self, dtype: Any, capacity: int = 1024, width: int | None = None):
        self.dtype = dtype
        self.width = width
        shape = (max(capacity, 16),) if width is None else (max(capacity, 16), width)
        self.data = np.empty(shape, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        n = len(values)
        need = self.size + n
        if need > len(self.data):
            cap = max(need, 2 * len(self.data))
            new = np.empty((cap,) + self.data.shape[1:], dtype=self.dtype)
            new[: self.size] = self.data[: self.size]
            self.data = new
        self.data[self.size : need] = values
        self.size = need

    def array(self) -> np.ndarray:
        out = self.data[: self.size]
        return out.copy() if self.size < len(self.data) else out


def _to_float(values: Sequence[Any], what: str) -> np.ndarray:
    """Numbers (None -> NaN) as float64; temporal values as epoch seconds."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            out[i] = _number(v, what)
        return out


def _number(v: Any, what: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if hasattr(v, "to_native"):  # neo4j temporal types
        native = v.to_native()
        if isinstance(native, datetime):
            if native.tzinfo is None:
                native = native.replace(tzinfo=timezone.utc)
            return native.timestamp()
        if hasattr(native, "toordinal") and not hasattr(native, "hour"):  # date
            return float((native.toordinal() - 719163) * 86400)
        if hasattr(native, "total_seconds"):
            return native.total_seconds()
    raise InputError(f"{what} must be numeric (or a date/time); got {type(v).__name__} {v!r}")


def _integral(values: np.ndarray) -> bool:
    finite = np.isfinite(values)
    return bool(finite.all() and np.all(values == np.round(values)) and (values.size == 0 or np.abs(values).max() < 2**53))


# --------------------------------------------------------------------------- export
def check_schema(tx: Any, spec: GraphSpec) -> tuple[set[str], set[str]]:
    """Raise :class:`SchemaError` for unknown names; return the labels and types in use."""
    rec = tx.run(render("export_schema")).single()
    labels, types, keys = set(rec["labels"]), set(rec["types"]), set(rec["keys"])

    def listing(names: set[str]) -> str:
        shown = sorted(names)
        return ", ".join(shown[:30]) + (" ..." if len(shown) > 30 else "") if shown else "(none)"

    unknown = [x for x in spec.labels if x not in labels]
    if unknown:
        raise SchemaError(f"unknown label(s) {', '.join(map(repr, unknown))}; the database has: {listing(labels)}")
    unknown = [x for x in spec.rel_types if x not in types]
    if unknown:
        raise SchemaError(
            f"unknown relationship type(s) {', '.join(map(repr, unknown))}; the database has: {listing(types)}"
        )
    named = [
        p
        for p in (spec.time_property, spec.weight_property, spec.label_property, spec.key_property, *spec.feature_properties)
        if p is not None
    ]
    unknown = [p for p in named if p not in keys]
    if unknown:
        raise SchemaError(f"unknown property key(s) {', '.join(map(repr, unknown))}; the database has: {listing(keys)}")
    return labels, types


def check_names(conn: ConnectionSettings | Database, spec: GraphSpec) -> None:
    """Raise :class:`SchemaError` unless the database knows every label, type and property ``spec`` names.

    The check :func:`export_graph` makes, for commands that only write (one
    read transaction; the message lists what exists). ``conn`` : settings or an open database.
    """
    with connect(conn) as db:
        db.read(lambda tx: check_schema(tx, spec))


def _estimates(tx: Any, spec: GraphSpec) -> tuple[int, int]:
    """Upper bounds of the node and relationship counts (counts store; O(1) each)."""
    node_total = 0
    for label in spec.labels or [None]:
        text = render("export_count_nodes", labels=_label_expr([label]) if label else "")
        node_total += tx.run(text).single()["n"]
    rel_total = 0
    for rtype in spec.rel_types or [None]:
        text = render("export_count_rels", rel_types=(":" + quote_identifier(rtype, what="relationship type")) if rtype else "")
        rel_total += tx.run(text).single()["n"]
    return int(node_total), int(rel_total)


def _records(result: Any, page: int) -> Iterator[Any]:
    """Records of ``result`` as they arrive (``page`` at a time from the driver's buffer)."""
    while True:
        batch = result.fetch(page)
        if not batch:
            return
        yield from batch


def _lookup(index: dict[Any, int], keys: Sequence[Any]) -> np.ndarray:
    """Dense indices of ``keys`` (-1 for unknown ones) as int64.

    ``operator.itemgetter`` looks all keys up in C; only when a key is unknown
    (a dangling endpoint) the slower path with a default runs.
    """
    k = len(keys)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        found = operator.itemgetter(*keys)(index)
    except (KeyError, TypeError):
        return np.fromiter(map(index.get, keys, itertools.repeat(-1, k)), dtype=np.int64, count=k)
    return np.array(found if k > 1 else (found,), dtype=np.int64)


class _EdgeColumns:
    """The relationship arrays of an export (src, dst, optional time and weight), filled in chunks."""

    def __init__(self, has_time: bool, has_weight: bool, capacity: int = 1024):
        self.src, self.dst = _Growing(np.int64, capacity), _Growing(np.int64, capacity)
        self.time = _Growing(np.float64, capacity) if has_time else None
        self.weight = _Growing(np.float64, capacity) if has_weight else None
        self.missing_time = self.missing_weight = 0

    def add(self, s: np.ndarray, t: np.ndarray, times: Sequence[Any] | None, weights: Sequence[Any] | None) -> int:
        """Append the pairs whose two ends are known (index >= 0), with their times and
        weights (a missing weight counts as 1); returns how many pairs were dropped."""
        keep = (s >= 0) & (t >= 0)
        bad = int(len(s) - np.count_nonzero(keep))
        self.src.extend(s[keep] if bad else s)
        self.dst.extend(t[keep] if bad else t)
        if self.time is not None:
            tv = _to_float(times, "edge time")
            tv = tv[keep] if bad else tv
            self.missing_time += int(np.isnan(tv).sum())
            self.time.extend(tv)
        if self.weight is not None:
            wv = _to_float(weights, "edge weight")
            wv = wv[keep] if bad else wv
            nan = np.isnan(wv)
            self.missing_weight += int(nan.sum())
            wv[nan] = 1.0
            self.weight.extend(wv)
        return bad

    def finish(self, collector: Any, info: dict[str, Any]) -> dict[str, Any]:
        """Hand the arrays to ``collector`` and add the missing-value counts to ``info``."""
        collector.src, collector.dst = self.src.array(), self.dst.array()
        collector.time = self.time.array() if self.time is not None else None
        collector.weight = self.weight.array() if self.weight is not None else None
        if self.time is not None:
            info["time_missing"] = self.missing_time
        if self.weight is not None:
            info["weight_missing_as_1"] = self.missing_weight
        return info


class _Collector:
    """Builds the snapshot arrays from streamed records (one instance per transaction attempt).

    Node pass: records of ``ids`` (a group of element ids), ``count``, and
    optionally ``keys`` and ``vals`` (per node ``[y, f0, f1, ...]``); the dict
    ``index`` maps element id -> dense index. Relationship pass: records of
    ``sources`` and per-source lists ``targets`` (element ids; ``times``,
    ``weights``); each record becomes int64/float64 arrays at once.
    """

    def __init__(self, spec: GraphSpec, plan: _Plan | None, progress: Progress | None, group_size: int):
        self.spec, self.plan, self.progress, self.group_size = spec, plan, progress, group_size
        self.index: dict[Any, int] = {}  # element id (or projection id) -> dense index
        self.ids: list[Any] = []  # element ids (or projection ids) in dense order
        self.keys: list[Any] = []  # key property values in dense order (key_property only)

    # nodes --------------------------------------------------------------
    def read_nodes(self, tx: Any, total: int) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
        spec, plan = self.spec, self.plan
        assert plan is not None
        result = tx.run(plan.nodes, {**plan.params, "group_size": self.group_size})
        index, ids, keys = self.index, self.ids, self.keys
        y_raw: list[Any] = []
        feat_cols: list[list[Any]] = [[] for _ in spec.feature_properties]
        has_vals = bool(spec.label_property or spec.feature_properties)
        has_keys = spec.key_property is not None
        seen_keys: set[Any] = set()
        for rec in _records(result, 1):
            part, count = rec[0], rec[1]
            start = len(ids)
            index.update(zip(part, range(start, start + len(part))))
            ids.extend(part)
            if has_keys:
                part_keys = rec[2]
                if len(part_keys) != count:
                    raise InputError(
                        f"{count - len(part_keys)} selected node(s) lack the key property {spec.key_property!r}",
                        hint=f"select only nodes that have it (--where \"{spec.key_property} IS NOT NULL\") or export without it",
                    )
                seen_keys.update(part_keys)
                keys.extend(part_keys)
                if len(seen_keys) != len(keys):
                    seen: set[Any] = set()
                    dup = next(v for v in keys if v in seen or seen.add(v))  # type: ignore[func-returns-value]
                    raise InputError(
                        f"key property {spec.key_property!r} is not unique: value {dup!r} appears more than once",
                        hint="create a uniqueness constraint, or export without --key-property (element ids)",
                    )
            if has_vals:
                vals = rec[3 if has_keys else 2]
                cols = list(zip(*vals)) if vals else [()] * (bool(spec.label_property) + len(spec.feature_properties))
                pos = 0
                if spec.label_property:
                    y_raw.extend(cols[0])
                    pos = 1
                for j in range(len(spec.feature_properties)):
                    feat_cols[j].extend(cols[pos + j])
            if self.progress:
                self.progress("nodes", len(ids), max(total, len(ids)))
        info: dict[str, Any] = {}
        y = self._labels(y_raw, info) if spec.label_property else None
        x = self._features(feat_cols, info) if spec.feature_properties else None
        return x, y, info

    def _labels(self, raw: list[Any], info: dict[str, Any]) -> np.ndarray:
        present = [v for v in raw if v is not None]
        info["y_missing"] = len(raw) - len(present)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            return np.array([-1 if v is None else v for v in raw], dtype=np.int64)
        classes = sorted({str(v) for v in present})
        code = {c: i for i, c in enumerate(classes)}
        info["y_classes"] = classes
        return np.array([-1 if v is None else code[str(v)] for v in raw], dtype=np.int64)

    def _features(self, cols: list[list[Any]], info: dict[str, Any]) -> np.ndarray:
        n = len(self.ids)
        blocks, missing = [], 0
        for name, values in zip(self.spec.feature_properties, cols):
            width = None
            for v in values:
                if v is not None:
                    width = len(v) if isinstance(v, (list, tuple)) else 0
                    break
            if width is None:  # property absent on every selected node
                blocks.append(np.full((n, 1), np.nan))
                missing += n
                continue
            if width == 0:
                blocks.append(_to_float(values, f"feature property {name!r}").reshape(n, 1))
                missing += sum(v is None for v in values)
                continue
            block = np.full((n, width), np.nan)
            for i, v in enumerate(values):
                if v is None:
                    missing += 1
                    continue
                if not isinstance(v, (list, tuple)) or len(v) != width:
                    raise InputError(
                        f"feature property {name!r} must hold lists of one length ({width}) or scalars; "
                        f"node {self.ids[i]!r} has {v!r:.60}"
                    )
                block[i] = _to_float(v, f"feature property {name!r}")
            blocks.append(block)
        info["x_missing"] = int(missing)
        info["x_columns"] = [
            {"property": name, "width": int(b.shape[1])} for name, b in zip(self.spec.feature_properties, blocks)
        ]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))

    # relationships ------------------------------------------------------
    def read_rels(self, tx: Any, total: int) -> dict[str, Any]:
        """Stream the grouped relationship pass into src/dst (and time/weight) buffers."""
        plan = self.plan
        assert plan is not None
        result = tx.run(plan.rels, {**plan.params, "group_size": self.group_size})
        has_time = "times" in plan.rel_columns
        has_weight = "weights" in plan.rel_columns
        edges = _EdgeColumns(has_time, has_weight, max(total, 1024))
        index = self.index
        chain = itertools.chain.from_iterable
        read = dangling = 0
        for rec in _records(result, 1):
            sources, targets = rec[0], rec[1]
            k = len(sources)
            lengths = np.fromiter(map(len, targets), dtype=np.int64, count=k)
            read += int(lengths.sum())
            dangling += edges.add(
                np.repeat(_lookup(index, sources), lengths),
                _lookup(index, list(chain(targets))),
                list(chain(rec[2])) if has_time else None,
                list(chain(rec[2 + has_time])) if has_weight else None,
            )
            if self.progress:
                self.progress("relationships", read, max(total, read))
        return edges.finish(self, {"relationships_read": read, "dangling": dangling})

    def read_projection(self, tx: Any, text: str) -> dict[str, Any]:
        """Stream a user projection (one row per relationship); nodes are the endpoints, in order of appearance."""
        result = tx.run(text)
        keys = list(result.keys())
        if len(keys) < 2 or keys[0] != "source" or keys[1] != "target":
            raise InputError(f"the projection query must return columns source, target[, time, weight]; got {', '.join(keys) or 'none'}")
        extra = [k for k in keys[2:] if k not in ("time", "weight")]
        if extra:
            raise InputError(f"the projection query returns unexpected column(s) {', '.join(extra)}; allowed: source, target, time, weight")
        t_col = keys.index("time") if "time" in keys else -1
        w_col = keys.index("weight") if "weight" in keys else -1
        edges = _EdgeColumns(t_col >= 0, w_col >= 0)
        read = null_ids = 0
        while True:
            page = result.fetch(_CHUNK)
            if not page:
                break
            cols = list(zip(*page))
            del page
            read += len(cols[0])
            null_ids += edges.add(
                self._grow(cols[0]),
                self._grow(cols[1]),
                cols[t_col] if t_col >= 0 else None,
                cols[w_col] if w_col >= 0 else None,
            )
            if self.progress:
                self.progress("relationships", read, read)
        return edges.finish(self, {"relationships_read": read, "dangling": 0, "null_endpoints": null_ids})

    def _grow(self, values: Sequence[Any]) -> np.ndarray:
        index, ids = self.index, self.ids
        out = np.fromiter(map(index.get, values, itertools.repeat(-1, len(values))), dtype=np.int64, count=len(values))
        for i in np.flatnonzero(out < 0).tolist():
            v = values[i]
            if v is None:
                continue
            j = index.get(v)
            if j is None:
                j = index[v] = len(ids)
                ids.append(v)
            out[i] = j
        return out


def _node_id_array(ids: list[Any], what: str) -> np.ndarray:
    if not ids:
        return np.array([], dtype=object)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
        return np.array(ids, dtype=np.int64)
    if all(isinstance(v, str) for v in ids):
        return np.array(ids, dtype=object)
    kinds = sorted({type(v).__name__ for v in ids})
    raise InputError(f"{what} values must all be integers or all strings; found {', '.join(kinds)}")


def _orient(
    src: np.ndarray, dst: np.ndarray, t: np.ndarray | None, w: np.ndarray | None, n: int, orientation: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, int]]:
    loops = src == dst
    if orientation != "undirected":
        if orientation == "reverse":
            src, dst = dst, src
        ks = np.sort(src * np.int64(n) + dst)
        uniq = int(ks.size and 1 + np.count_nonzero(ks[1:] != ks[:-1]))
        del ks
        stats = {"self_loops": int(loops.sum()), "duplicates": int(src.size - uniq), "dropped": 0}
        return np.stack([src, dst]), t, w, stats
    keep = ~loops
    lo = np.minimum(src[keep], dst[keep])
    hi = np.maximum(src[keep], dst[keep])
    keys = lo * np.int64(n) + hi
    del lo, hi
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    del keys
    starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]])) if ks.size else np.zeros(0, np.int64)
    uniq = ks[starts]
    del ks
    edge_index = np.stack([uniq // n, uniq % n]) if uniq.size else np.zeros((2, 0), np.int64)
    et = ew = None
    if t is not None:
        et = np.fmin.reduceat(t[keep][order], starts) if starts.size else np.zeros(0)
    if w is not None:
        ew = np.add.reduceat(w[keep][order], starts) if starts.size else np.zeros(0)
    stats = {
        "self_loops": int(loops.sum()),
        "duplicates": int(keep.sum() - uniq.size),
        "dropped": int(loops.sum() + keep.sum() - uniq.size),
    }
    return edge_index, et, ew, stats


def export_graph(
    conn: ConnectionSettings | Database,
    spec: GraphSpec,
    *,
    progress: Progress | None = None,
    fetch_size: int = 1_000_000,
    group_size: int = 1_000,
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
        col, x, y, info = db.read(
            lambda tx: _read_selection(tx, spec, timings, progress, group_size),
            fetch_size=fetch_size if spec.projection else max(1, fetch_size // group_size),
        )
    _check_not_empty(col, spec)
    t2 = time.perf_counter()
    node_ids, edge_index, et, ew, stats = _arrays(col, spec)
    timings["arrays"] = time.perf_counter() - t2
    meta: dict[str, Any] = {
        "source": "neo4j",
        "uri": settings.uri,
        "database": settings.database,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "selection": spec.describe(),
        "identity": {"labels": list(spec.labels), "key_property": spec.key_property, "id_kind": "key" if spec.key_property else "elementId"},
        "orientation": spec.orientation,
        "report": {
            "nodes": len(node_ids),
            "edges": int(edge_index.shape[1]),
            **info,
            **stats,
            "seconds": {k: round(v, 4) for k, v in {**timings, "total": time.perf_counter() - t_start}.items()},
        },
    }
    if "y_classes" in info:
        meta["y_classes"] = info["y_classes"]
    if progress:
        progress("relationships", int(info.get("relationships_read", 0)), int(info.get("relationships_read", 0)))
    return GraphSnapshot(node_ids, edge_index, edge_time=et, edge_weight=ew, x=x, y=y, meta=meta)


def _read_selection(
    tx: Any, spec: GraphSpec, timings: dict[str, float], progress: Progress | None, group_size: int
) -> tuple[_Collector, Any, Any, dict[str, Any]]:
    """Both passes in one read transaction: ``(collector, x, y, info)``; seconds per pass into ``timings``."""
    t0 = time.perf_counter()
    if spec.projection:
        col = _Collector(spec, None, progress, group_size)
        info = _read_projection(tx, col, spec.projection)
        timings["relationships"] = time.perf_counter() - t0
        return col, None, None, info
    plan = _build_plan(spec, *check_schema(tx, spec))
    col = _Collector(spec, plan, progress, group_size)
    node_total, rel_total = _estimates(tx, spec)
    x, y, info = col.read_nodes(tx, node_total)
    timings["nodes"] = time.perf_counter() - t0
    if not col.ids:
        raise EmptyGraphError(
            f"the selection holds no nodes ({_describe_selection(spec)})", hint="check labels and --where predicates"
        )
    t1 = time.perf_counter()
    info.update(col.read_rels(tx, rel_total))
    timings["relationships"] = time.perf_counter() - t1
    return col, x, y, info


def _check_not_empty(col: _Collector, spec: GraphSpec) -> None:
    if not col.ids:
        raise EmptyGraphError(f"the selection holds no nodes ({_describe_selection(spec)})")
    if col.src.size == 0:
        raise EmptyGraphError(
            f"the selection holds {len(col.ids):,} nodes but no relationships ({_describe_selection(spec)})",
            hint="check --rel-type, --rel-where and --since",
        )


def _arrays(col: _Collector, spec: GraphSpec) -> tuple[np.ndarray, np.ndarray, Any, Any, dict[str, int]]:
    """``node_ids``, oriented ``edge_index``, ``edge_time`` (int64 when integral), ``edge_weight`` and the
    orientation's counts; the collector's edge buffers are released."""
    node_ids = _node_id_array(col.keys if spec.key_property and not spec.projection else col.ids,
                              "key property" if spec.key_property else "node id")
    time_arr = col.time
    if time_arr is not None and _integral(time_arr):
        time_arr = time_arr.astype(np.int64)
    edge_index, et, ew, stats = _orient(col.src, col.dst, time_arr, col.weight, len(node_ids), spec.orientation)
    if et is not None and et.dtype != np.int64 and _integral(et):
        et = et.astype(np.int64)
    del col.src, col.dst
    return node_ids, edge_index, et, ew, stats


def _read_projection(tx: Any, col: _Collector, projection: str) -> dict[str, Any]:
    """The projection query's rows into ``col``; what the server refuses becomes our error."""
    from neo4j.exceptions import ClientError  # noqa: PLC0415

    try:
        return dict(col.read_projection(tx, projection))
    except ClientError as err:
        code = err.code or ""
        if "AccessMode" in code or "WriteOnReadOnly" in code:
            raise WriteNotAllowed(
                "the projection query tried to write; it runs in a read transaction",
                hint="the projection must only MATCH and RETURN source, target[, time, weight]",
            ) from err
        if "Statement" in code:
            msg = (err.message or str(err)).strip().splitlines()[0]
            raise InputError(f"the projection query failed: {msg}") from err
        raise


def _describe_selection(spec: GraphSpec) -> str:
    if spec.projection:
        return "projection query"
    parts = [
        "labels " + (", ".join(spec.labels) if spec.labels else "(all)"),
        "types " + (", ".join(spec.rel_types) if spec.rel_types else "(all)"),
    ]
    if spec.node_where:
        parts.append("where " + " AND ".join(map(str, spec.node_where)))
    if spec.rel_where:
        parts.append("rel-where " + " AND ".join(map(str, spec.rel_where)))
    if spec.since is not None:
        parts.append(f"since {spec.since}")
    return "; ".join(parts)
